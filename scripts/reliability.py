"""Count what ganzoo survives, and write docs/reliability.md from the count.

    .venv/bin/python scripts/reliability.py            # runs the tests, prints the figures
    .venv/bin/python scripts/reliability.py --write    # ... and rewrites docs/reliability.md

It runs the corpus of bad inputs (tests/test_bad_inputs.py, cases in
tests/data/bad_inputs.toml), the fault-injection tests (tests/test_faults.py, and the
crash, signal and damage tests of test_train.py and test_safety.py) and the property tests,
then reports how many were tried and how many were handled. Nothing is typed in: every
figure is a test that ran on this machine just now.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "bad_inputs.toml"
#: Tests that inject a fault and check that nothing is lost, by file and name pattern.
FAULTS = {
    "tests/test_faults.py": r".",
    "tests/test_train.py": r"crash|ctrl_c|damaged|nan_stops|resume_never|killed_writer",
    "tests/test_safety.py": r".",
    "tests/test_metrics.py": r"cached_under_the_weights_hash",
    "tests/test_plugins.py": r"faulty",
}
PROPERTIES = "tests/test_properties.py"


def corpus_sections() -> dict[str, str]:
    """Case id -> the corpus section it is listed under (`# --- names ---`)."""
    section, sections = "other", {}
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        header = re.match(r"#\s*---\s*(.+?)\s*-{3,}", line)
        if header:
            section = header.group(1)
        found = re.match(r'id\s*=\s*"([^"]+)"', line)
        if found:
            sections[found.group(1)] = section
    return sections


def run_pytest(targets: list[str]) -> list[dict]:
    """Run pytest on `targets`; one dict per test case: file, name, outcome."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-n",
                "auto",
                "-p",
                "no:cacheprovider",
                f"--junitxml={report}",
                *targets,
            ],
            cwd=REPO,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        cases = []
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped":
                    outcome = "skipped"
            cases.append({"file": case.get("classname", ""), "name": case.get("name", ""), "outcome": outcome})
        return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite docs/reliability.md")
    args = parser.parse_args()

    cases = run_pytest([*FAULTS, "tests/test_bad_inputs.py", PROPERTIES])
    sections = corpus_sections()
    bad = [c for c in cases if c["name"].startswith("test_bad_input_is_a_clear_error")]
    by_section: dict[str, list[int]] = {}
    for case in bad:
        case_id = re.search(r"\[(.+)\]$", case["name"]).group(1)
        handled = by_section.setdefault(sections.get(case_id, "other"), [0, 0])
        handled[0] += 1
        handled[1] += case["outcome"] == "passed"
    patterns = {Path(path).stem: pattern for path, pattern in FAULTS.items()}

    def module(case: dict) -> str:  # junit's classname is "tests.test_train"
        return case["file"].rsplit(".", 1)[-1]

    faults = [c for c in cases if module(c) in patterns and re.search(patterns[module(c)], c["name"])]
    properties = [c for c in cases if module(c) == Path(PROPERTIES).stem]

    def count(items):
        return sum(c["outcome"] == "passed" for c in items), sum(c["outcome"] != "skipped" for c in items)

    handled, tried = count(bad)
    survived, injected = count(faults)
    held, checked = count(properties)
    lines = [
        f"Bad inputs: {handled} of {tried} handled (exit 2, one paragraph naming the problem and the fix, "
        "no traceback, no file changed).",
        f"Faults: {survived} of {injected} fault-injection tests passed (nothing lost, nothing run).",
        f"Properties: {held} of {checked} hold on every input hypothesis drew.",
    ]
    print("\n".join(lines))
    failed = [c for c in bad + faults + properties if c["outcome"] == "failed"]
    for case in failed:
        print(f"  not handled: {case['file']}::{case['name']}")
    if args.write:
        write_page(lines, by_section, faults, properties)
        print(f"wrote {REPO / 'docs' / 'reliability.md'}")
    return 1 if failed else 0


def write_page(lines: list[str], by_section: dict, faults: list[dict], properties: list[dict]) -> None:
    text = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    start, end = "<!-- figures: start -->", "<!-- figures: end -->"
    table = ["| corpus section | cases | handled |", "|---|---:|---:|"]
    table += [f"| {section} | {tried} | {handled} |" for section, (tried, handled) in by_section.items()]
    fault_rows = ["| fault test | result |", "|---|---|"]
    fault_rows += [f"| `{c['file'].rsplit('.', 1)[-1]}::{c['name']}` | {c['outcome']} |" for c in faults]
    property_rows = [f"- `{c['name']}`: {c['outcome']}" for c in properties]
    stamp = (
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d} with `python scripts/reliability.py --write` "
        f"on {platform.system()} {platform.machine()}, Python {platform.python_version()}."
    )
    block = "\n".join(
        [
            start,
            "",
            *[f"- {line}" for line in lines],
            "",
            stamp,
            "",
            *table,
            "",
            *fault_rows,
            "",
            "Properties (hypothesis):",
            "",
            *property_rows,
            "",
            end,
        ]
    )
    text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    (REPO / "docs" / "reliability.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
