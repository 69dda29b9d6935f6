"""Training a cell: one `ganzoo train` run, or the seeds of a seed-batched block as one
ensemble, turned into the result record that `results.jsonl` keeps. A failing cell never
raises: its reason is recorded."""

from __future__ import annotations

import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import torch

from ganzoo.bench.suite import Cell
from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError
from ganzoo.runs.resultsdir import ResultsDir
from ganzoo.runs.rundir import RunDir
from ganzoo.training.loop import train, train_ensemble
from ganzoo.training.opening import open_dataset
from ganzoo.training.resolve import resolve


def _record_of(cell: Cell) -> dict:
    """What a cell's line in results.jsonl says about the cell itself."""
    record = {
        "cell": cell.id,
        "block": cell.block,
        "arch": cell.arch,
        "loss": cell.loss,
        "data": cell.data,
        "seed": cell.seed,
        "run_dir": ResultsDir.run_dir_of(cell.id),
        "protocol_sha": cell.protocol_sha,
    }
    if cell.trial is not None:
        record["trial"] = cell.trial
    if cell.best_of is not None:
        record["best_of"] = cell.best_of
    if cell.seed_batched:
        record["seed_batched"] = True
    return record


def run_cell(cell: Cell, run_dir: Path, threads: int | None = None) -> dict:
    """Train one cell (resuming its checkpoint if a previous attempt stopped) and return
    its result record. Never raises for a failing cell: the reason is recorded."""
    return run_cells([cell], run_dir.parent, threads)[0]


def work_units(cells: list[Cell]) -> list[list[Cell]]:
    """What one worker trains at once: a cell, or the seeds of a seed-batched block's
    architecture x loss x data set (x trial) together."""
    units: dict[str, list[Cell]] = {}
    for cell in cells:
        key = cell.experiment if cell.seed_batched else cell.id
        units.setdefault(key, []).append(cell)
    return list(units.values())


def run_cells(cells: list[Cell], runs: Path, threads: int | None = None) -> list[dict]:
    """Train a work unit (one cell, or the seeds of a seed-batched ensemble) into runs/CELL,
    resuming checkpoints, and return a result record per cell. Never raises for a failing
    cell: the reason is recorded (an ensemble's failure, in each of its cells' records)."""

    if threads:
        torch.set_num_threads(threads)
    records = [_record_of(cell) for cell in cells]
    started = time.perf_counter()

    def ended(status: str, exc: BaseException | None = None, reason: str | None = None, **fields) -> list[dict]:
        if exc is not None:
            fields.update(reason=reason or str(exc), error=type(exc).__name__)
        return [
            {
                **record,
                "status": status,
                **fields,
                "wall_seconds": round(time.perf_counter() - started, 2),
                "finished": now(),
            }
            for record in records
        ]

    try:
        cfgs = [TrainConfig(arch=c.arch, loss=c.loss, data=c.data, seed=c.seed, **c.train) for c in cells]
        for record, cfg in zip(records, cfgs):
            record["setting"] = setting_of(cfg)
        if cells[0].optional:
            open_dataset(cfgs[0])  # data that cannot be had makes the cell skipped, not failed
    except GanzooError as exc:
        return ended("skipped" if cells[0].optional else "failed", exc)
    dirs = [Path(runs) / c.id for c in cells]
    try:
        if len(cells) == 1 and not cells[0].seed_batched:
            summaries = [train(cfgs[0], dirs[0], resume=RunDir(dirs[0]).has_checkpoint(), progress=False)]
        else:
            summaries = train_ensemble(cfgs, dirs)
    except KeyboardInterrupt:
        raise
    except GanzooError as exc:  # bad configuration, divergence (NaN), missing data
        return ended("failed", exc)
    except Exception as exc:  # a bug in ganzoo or a plugin: keep where it happened
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return ended("failed", exc, f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})")
    wall = round(time.perf_counter() - started, 2)
    return [
        {
            **record,
            "status": "ok",
            "steps": summary["steps"],
            "final": summary["metrics"],
            "throughput": summary["throughput"],
            "train_seconds": summary["train_seconds"],
            "provenance": summary.get("provenance"),
            "wall_seconds": wall,
            "finished": now(),
        }
        for record, summary in zip(records, summaries)
    ]


def setting_of(cfg) -> dict:
    """What defines a cell's experiment besides its architecture, loss, data and seed (options,
    optimiser, schedule, unrolling...), resolved: the report keeps cells that differ here apart."""
    resolved = resolve(cfg)
    identity = resolved.identity()
    for key in ("arch", "loss", "data", "seed"):
        identity.pop(key)
    return {**identity, "steps": resolved.steps}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def died_record(cell: Cell, reason: str | None = None) -> dict:
    return {
        **_record_of(cell),
        "status": "failed",
        "error": "WorkerDied",
        "finished": now(),
        "reason": reason
        or "its worker process died while training it, beside other cells and again on its "
        "own: a crash below Python (a segfault, the out-of-memory killer, os._exit), not an "
        "exception. Its last checkpoint is kept; --retry-failed tries it again.",
    }
