"""A results folder: the one place that knows what `ganzoo bench` keeps in it.

- `bench.json`: the suite (its text and hash), the hardware, versions, jobs, and each
  cell's configuration hash;
- `results.jsonl`: one line per finished, failed or skipped cell;
- `runs/CELL/`: each cell's run directory (`ganzoo.runs.rundir.RunDir`);
- `runs-superseded/`: the run directories of cells retired when their configuration changed;
- `.in-flight/`: one file per busy worker process, naming its cell.
"""

from __future__ import annotations

import json
from pathlib import Path

from ganzoo.errors import GanzooError
from ganzoo.util.files import read_jsonl

RESULTS = "results.jsonl"


IN_FLIGHT = ".in-flight"  # one file per busy worker process, naming its cell


#: What every line of results.jsonl holds, whatever happened to its cell.
RECORD_KEYS = ("cell", "arch", "loss", "data", "seed", "status")


STATUSES = ("ok", "failed", "skipped")


def completed(out_dir: Path) -> dict[str, dict]:
    """The latest record of each cell in `results.jsonl`; a line that is not a cell's record
    (edited by hand, written by another tool) is a user error naming the line."""
    path = Path(out_dir) / RESULTS
    latest = {}
    for number, record in enumerate(read_jsonl(path), 1):
        missing = [k for k in RECORD_KEYS if not isinstance(record, dict) or k not in record]
        if missing or record["status"] not in STATUSES:
            problem = (f"lacks {', '.join(repr(k) for k in missing)}" if missing
                       else f"has status {record['status']!r}, not one of {', '.join(STATUSES)}")
            raise GanzooError(
                f"Record {number} of {path} {problem}: the file was edited or written by another tool. "
                "Restore it from a backup, or delete that line (its cell then runs again).")
        latest[record["cell"]] = record
    return latest


def read_bench_meta(out_dir) -> dict:
    """bench.json of a results folder; a damaged one is a user error."""
    path = Path(out_dir) / "bench.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("suite"), dict) or "name" not in meta["suite"]:
            raise ValueError("no suite name")
    except (ValueError, UnicodeDecodeError) as exc:
        raise GanzooError(
            f"{path} is damaged ({exc}). It records which suite and settings produced the results: restore "
            "it from a backup, or run `ganzoo bench` with that suite and --out again to rewrite it "
            "(recorded cells are kept).") from None
    return meta

