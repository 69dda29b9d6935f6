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
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def land(source: Path, dest: Path) -> list[str]:
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
    for name in ("results.jsonl", "bench.json"):
        shutil.copy2(source / name, dest / name)
    return landed


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cells = land(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{len(cells)} finished cell(s) in {sys.argv[2]}")
