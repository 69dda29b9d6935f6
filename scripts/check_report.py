#!/usr/bin/env python3
"""Open a ganzoo HTML report in a real headless browser (Debian's chromium), check that
every figure loaded, and save a screenshot to look at.

    python scripts/check_report.py results/quick/report.html [--screenshot shot.png]

Exit status 0 when every image loaded, 1 when some did not, 2 when no browser is found.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def run_browser(browser: str, args: list[str], profile: str) -> subprocess.CompletedProcess:
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--virtual-time-budget=10000"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


def check(html: Path, screenshot: Path | None = None, width: int = 1280, height: int = 2400) -> tuple[int, int]:
    """(images loaded, images on the page), as the page's own script counted them after load."""
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no chromium found; on Debian: apt-get install chromium")
    url = html.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        dom = run_browser(browser, ["--dump-dom", url], profile)
        if screenshot is not None:
            run_browser(browser, [f"--screenshot={screenshot.resolve()}", f"--window-size={width},{height}", url],
                        profile)
    found = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    if not found:
        raise RuntimeError(f"the page did not finish loading in {browser}:\n{dom.stderr[-2000:]}")
    return int(found.group(1)), int(found.group(2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    try:
        loaded, total = check(args.html, args.screenshot)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{args.html}: {loaded}/{total} images loaded" + (f"; screenshot {args.screenshot}" if args.screenshot else ""))
    return 0 if loaded == total and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
