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
from ganzoo.util.files import append_jsonl, read_jsonl

RESULTS = "results.jsonl"
BENCH_JSON = "bench.json"
RUNS = "runs"
SUPERSEDED = "runs-superseded"
IN_FLIGHT = ".in-flight"  # one file per busy worker process, naming its cell
EXTERNAL_SUITE = "external"  # the suite name of a folder of `ganzoo eval --samples` entries


class ResultsDir:
    """A results folder, as `RunDir` is a run directory: its files by name, read and appended
    here only."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.bench_json = self.path / BENCH_JSON
        self.results = self.path / RESULTS
        self.runs = self.path / RUNS
        self.superseded = self.path / SUPERSEDED
        self.in_flight = self.path / IN_FLIGHT

    @staticmethod
    def run_dir_of(cell_id: str) -> str:
        """A cell's run directory relative to the folder, as its record names it."""
        return f"{RUNS}/{cell_id}"

    def run_dir(self, cell_id: str) -> Path:
        return self.runs / cell_id

    def completed(self) -> dict[str, dict]:
        return completed(self.path)

    def meta(self) -> dict:
        return read_bench_meta(self.path)

    def append(self, record: dict) -> None:
        append_jsonl(self.results, record)


#: What every line of results.jsonl holds, whatever happened to its cell.
RECORD_KEYS = ("cell", "arch", "loss", "data", "seed", "status")


STATUSES = ("ok", "failed", "skipped")


def completed(out_dir: Path) -> dict[str, dict]:
    """The latest record of each cell in `results.jsonl`; a line that is not a cell's record
    (edited by hand, written by another tool) is a user error naming the line."""
    path = Path(out_dir) / RESULTS
    latest: dict[str, dict] = {}
    for number, record in enumerate(read_jsonl(path), 1):
        missing = [k for k in RECORD_KEYS if not isinstance(record, dict) or k not in record]
        if missing or record["status"] not in STATUSES:
            problem = (
                f"lacks {', '.join(repr(k) for k in missing)}"
                if missing
                else f"has status {record['status']!r}, not one of {', '.join(STATUSES)}"
            )
            raise GanzooError(
                f"Record {number} of {path} {problem}: the file was edited or written by another tool. "
                "Restore it from a backup, or delete that line (its cell then runs again)."
            )
        latest[record["cell"]] = record
    return latest


def read_bench_meta(out_dir) -> dict:
    """bench.json of a results folder; a damaged one is a user error."""
    path = Path(out_dir) / BENCH_JSON
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("suite"), dict) or "name" not in meta["suite"]:
            raise ValueError("no suite name")
    except (ValueError, UnicodeDecodeError) as exc:
        raise GanzooError(
            f"{path} is damaged ({exc}). It records which suite and settings produced the results: restore "
            "it from a backup, or run `ganzoo bench` with that suite and --out again to rewrite it "
            "(recorded cells are kept)."
        ) from None
    return meta


def is_external(record: dict) -> bool:
    """An entry of samples made elsewhere (`ganzoo eval --samples`), not a trained cell."""
    return "external" in record


def external_records(folders: list) -> list[dict]:
    """The entries of external results folders, each naming its run directory absolutely, to
    set beside a suite's cells (`ganzoo report --external`)."""
    out = []
    for folder in folders:
        folder = Path(folder)
        if not ResultsDir(folder).bench_json.exists() or read_bench_meta(folder)["suite"]["name"] != EXTERNAL_SUITE:
            raise GanzooError(
                f"--external {folder} is not a folder of external entries: make one with `ganzoo eval --samples "
                f"PATH --data NAME --name LABEL --out {folder}`."
            )
        for record in completed(folder).values():
            out.append({**record, "run_dir": str((folder / record["run_dir"]).resolve())})
    return out
