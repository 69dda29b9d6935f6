"""Copy a bench results folder's small files into a folder to commit (docs/results/NAME).

    python scripts/publish_results.py results/reproduce-2d docs/results/reproduce-2d

Kept: bench.json, results.jsonl, and per run its config.json, train_log.jsonl,
metrics.jsonl and final sample picture: all that `ganzoo report` reads, so the report
can be rebuilt from the published folder (`ganzoo report docs/results/NAME`).
Left out: checkpoints and the intermediate sample pictures. Copying the folder back
into a results folder lets `ganzoo bench` skip the published cells and run the rest.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

RUN_FILES = ("config.json", "train_log.jsonl", "metrics.jsonl")


def publish(results: Path, target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("bench.json", "results.jsonl"):
        shutil.copy2(results / name, target / name)
    copied = 0
    for line in (results / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["status"] != "ok":
            continue
        source, run = results / record["run_dir"], target / record["run_dir"]
        (run / "samples").mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            shutil.copy2(source / name, run / name)
        final = source / "samples" / f"step-{record['steps']:08d}.png"
        if final.is_file():
            shutil.copy2(final, run / "samples" / final.name)
        copied += 1
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    print(f"published {publish(args.results, args.target)} finished runs to {args.target}")


if __name__ == "__main__":
    main()
