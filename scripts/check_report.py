#!/usr/bin/env python3
"""Open a ganzoo HTML report in a real headless browser (Debian's chromium), check that
every figure loaded and that no table is cut off in a 1280-pixel-wide window, and save a
screenshot to look at.

    python scripts/check_report.py results/quick/report.html [--screenshot shot.png]

Exit status 0 when every image loaded and every table fits, 1 otherwise, 2 when no
browser is found.
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
    base = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


def inspect(html: Path, screenshot: Path | None = None, width: int = 1280, height: int = 2400) -> dict:
    """What the page's own script measured after load, in a window `width` pixels wide:
    images loaded and on the page, and tables wider than their box (cut off on the right)."""
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no chromium found; on Debian: apt-get install chromium")
    url = html.resolve().as_uri()
    window = f"--window-size={width},{height}"
    with tempfile.TemporaryDirectory() as profile:
        dom = run_browser(browser, [window, "--dump-dom", url], profile)
        if screenshot is not None:
            run_browser(browser, [f"--screenshot={screenshot.resolve()}", window, url], profile)
    found = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    if not found:
        raise RuntimeError(f"the page did not finish loading in {browser}:\n{dom.stderr[-2000:]}")
    cut = re.search(r'data-tables-cut="(\d+)"', dom.stdout)
    return {"loaded": int(found.group(1)), "images": int(found.group(2)), "tables_cut": int(cut.group(1)) if cut else 0}


def check(html: Path, screenshot: Path | None = None) -> tuple[int, int]:
    """(images loaded, images on the page)."""
    seen = inspect(html, screenshot)
    return seen["loaded"], seen["images"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    try:
        seen = inspect(args.html, args.screenshot)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"{args.html}: {seen['loaded']}/{seen['images']} images loaded, {seen['tables_cut']} table(s) cut off "
        "at 1280 px" + (f"; screenshot {args.screenshot}" if args.screenshot else "")
    )
    return 0 if seen["loaded"] == seen["images"] > 0 and not seen["tables_cut"] else 1


if __name__ == "__main__":
    sys.exit(main())
