"""Copy the finished cells of a study running elsewhere (a worktree at a fixed commit, see
docs/benchmarks.md) into its committed results folder, so that they can be committed as
they land while the study goes on:

    python scripts/land_cells.py /work/study/results/reproduce-2d-long docs/results/reproduce-2d-long

It copies results.jsonl and bench.json as they are, and the run directory of every cell
whose latest record is finished (ok, failed or skipped), without its checkpoints (a run's
numbers, logs and samples are what the report reads; checkpoints are tens of megabytes and
only serve resuming). A cell still training is left out: its record is not written yet.
Retired runs (runs-superseded/) stay where they are; git keeps the old ones. Then run
`ganzoo report DEST` to regenerate the report.

A second bench process may train other cells of the same suite into a folder of its own
(`--out results/NAME-grid --data 'grid*'`), so that two cells run at once without two
writers on one results.jsonl. Land it with `--merge`, after the main folder:

    python scripts/land_cells.py --merge /work/study/results/reproduce-2d-long-grid docs/results/reproduce-2d-long

which appends its finished cells' records to DEST's results.jsonl (a cell's last record is
its result, as in the bench) and keeps DEST's bench.json. Landing the main folder again overwrites
DEST's results.jsonl, so merge the second folder again after it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def land(source: Path, dest: Path, merge: bool = False) -> list[str]:
    records = {}
    for line in (source / "results.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            records[record["cell"]] = record
    landed = []
    for cell, record in records.items():
        run = source / record["run_dir"]
        if not run.is_dir():
            continue
        target = dest / record["run_dir"]
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(run, target, ignore=shutil.ignore_patterns("checkpoints", "*.pt", ".in-flight"))
        landed.append(cell)
    if not merge:
        for name in ("results.jsonl", "bench.json"):
            shutil.copy2(source / name, dest / name)
        return landed
    # Appended, as the bench appends: a cell's last record is its result, and earlier ones (a
    # retired protocol's) stay as its history. A record landed before is not repeated.
    added = [records[cell] for cell in landed]
    kept = [
        line
        for line in (dest / "results.jsonl").read_text().splitlines()
        if line.strip() and json.loads(line) not in added
    ]
    text = "\n".join([*kept, *(json.dumps(record, sort_keys=True) for record in added)]) + "\n"
    temporary = dest / "results.jsonl.tmp"
    temporary.write_text(text)
    temporary.replace(dest / "results.jsonl")  # atomic: a crash leaves the old file or the new
    return landed


if __name__ == "__main__":
    arguments = sys.argv[1:]
    merge = arguments[:1] == ["--merge"]
    arguments = arguments[1:] if merge else arguments
    if len(arguments) != 2:
        sys.exit(__doc__)
    cells = land(Path(arguments[0]), Path(arguments[1]), merge=merge)
    print(f"{len(cells)} finished cell(s) {'merged into' if merge else 'in'} {arguments[1]}")
