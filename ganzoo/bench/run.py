"""`ganzoo bench`: train a suite's cells under one protocol and collect the results.

The results folder (`ganzoo.runs.resultsdir`) holds `bench.json` (the suite, its text
and hash, the hardware, versions, jobs), `results.jsonl` (one line per finished, failed
or skipped cell, appended with a single write each, so a crash never leaves half a line)
and `runs/CELL/` (each cell's run directory).

Running the same command again skips recorded cells and resumes an interrupted one from
its checkpoint. A failing cell (exception, NaN, plugin error) is recorded with its reason,
and the suite goes on. A cell whose configuration changed since it was recorded is
retired: its old run directory moves to `runs-superseded/`, never mixed with the new one,
so one folder never holds two protocols for one cell.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch

from ganzoo.bench.cells import died_record, now, work_units
from ganzoo.bench.pool import run_locally
from ganzoo.bench.ray_cells import RETRIES_AFTER_A_DEATH, cluster_has_gpus, run_on_ray, start_ray
from ganzoo.bench.suite import Cell, Part, Suite, _awaited_reruns, block_name, expand, select_blocks, select_data
from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError
from ganzoo.runs.resultsdir import ResultsDir, completed, read_bench_meta
from ganzoo.runs.rundir import RunDir
from ganzoo.training.precision import precision_problem
from ganzoo.training.resolve import pick_device, resolve
from ganzoo.util.environment import environment
from ganzoo.util.files import atomic_write_json


class Executor(Protocol):
    """Runs work units (a cell, or a seed-batched ensemble's cells) from a results folder,
    calling `finish(record)` for each cell as it ends: `pool.run_locally`, `ray_cells.run_on_ray`."""

    def __call__(
        self, units: list[list[Cell]], out_dir: Path, *, threads: int | None, finish: Callable[[dict], None]
    ) -> None: ...


def prepare(
    suite: Suite, out_dir, *, overrides: dict | None = None, jobs: int = 1, retry_failed: bool = False
) -> tuple[list[Cell], int | None, list[Cell]]:
    """Write `bench.json` and return the cells still to run, the torch threads each job gets
    and all the suite's cells. Refuses a folder holding results of another version of the suite."""

    out_dir = Path(out_dir)
    overrides = overrides or {}
    folder = ResultsDir(out_dir)
    meta_path = folder.bench_json
    done = completed(out_dir)
    cells = expand(suite, overrides, done)
    history = []
    previous = None
    if meta_path.exists():
        try:
            previous = read_bench_meta(out_dir)
        except GanzooError:  # rewritten below from the suite; every cell's record carries its hash
            previous = None
    if previous is not None:
        history = previous.get("history", [])
        if previous["suite"].get("sha256") != suite.sha256:
            if previous["suite"]["name"] != suite.name or any("protocol_sha" not in r for r in done.values()):
                raise GanzooError(
                    f"{out_dir} holds results of another version of suite '{previous['suite']['name']}', "
                    "recorded without the per-cell configuration hash that would tell which of them still "
                    "hold. Mixing them would mix protocols: pass a new --out, or restore that suite file."
                )
            history.append({"sha256": previous["suite"]["sha256"], "updated": previous.get("updated")})
    if meta_path.exists():
        done = _retire_changed_cells(out_dir, cells, done)
    device = pick_device(overrides.get("device", "auto"))
    for cell in cells:  # before anything is written: every cell would fail the same way
        problem = precision_problem(cell.train.get("precision") or "fp32", device)
        if problem is not None:
            raise GanzooError(f"Suite '{suite.name}', block '{cell.block}': {problem}")
    cores = os.cpu_count() or 1
    threads = max(1, cores // jobs) if jobs > 1 else None

    atomic_write_json(
        meta_path,
        {
            "suite": {"name": suite.name, "description": suite.description, "sha256": suite.sha256, "text": suite.text},
            "overrides": overrides,
            "jobs": jobs,
            "threads_per_job": threads or torch.get_num_threads(),
            "environment": environment(device),
            "cpu_count": cores,
            "updated": now(),
            "history": history,
            "cells": [c.id for c in cells],  # the report leaves out records of cells no longer in the suite
            # ... and records of a cell whose configuration has changed since (retired, not yet re-run)
            "cell_protocols": {c.id: c.protocol_sha for c in cells},
        },
    )
    todo = [
        c
        for c in cells
        if c.id not in done or done[c.id]["status"] == "skipped" or (retry_failed and done[c.id]["status"] == "failed")
    ]
    return todo, threads, cells


def _retire_changed_cells(out_dir: Path, cells: list[Cell], done: dict[str, dict]) -> dict[str, dict]:
    """Records whose cell now has another configuration no longer count; their run directories
    move to `runs-superseded/` so that the new run starts clean (and nothing is deleted)."""
    folder = ResultsDir(out_dir)

    def retire(cell_id: str, tag: str) -> None:
        old_dir = folder.run_dir(cell_id)
        if old_dir.exists():
            target = folder.superseded / f"{cell_id}--{tag}-{time.time_ns()}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(old_dir), str(target))

    kept = {}
    for cell in cells:
        record = done.get(cell.id)
        if record is not None:
            if record.get("protocol_sha") == cell.protocol_sha:
                kept[cell.id] = record
            else:
                retire(cell.id, record.get("protocol_sha", "old"))
        elif RunDir(folder.run_dir(cell.id)).config_path.is_file():
            # An interrupted attempt: resume it only if it trains the same experiment.
            try:
                saved = RunDir(folder.run_dir(cell.id)).train_config().identity()
                now = resolve(
                    TrainConfig(arch=cell.arch, loss=cell.loss, data=cell.data, seed=cell.seed, **cell.train)
                ).identity()
            except GanzooError:
                continue  # the cell itself will report what is wrong
            if saved != now:
                retire(cell.id, "interrupted")
    return kept


def run_suite(
    suite: Suite,
    out_dir,
    *,
    overrides: dict | None = None,
    jobs: int = 1,
    retry_failed: bool = False,
    echo=print,
    executor: str = "local",
    ray_address: str | None = None,
    blocks: list[str] | None = None,
    data: list[str] | None = None,
) -> list[dict]:
    """Run every cell not yet recorded in `out_dir`; returns the new records. `executor`:
    "local" (worker processes here) or "ray" (Ray tasks; see ray_cells.py). `blocks`, `data`:
    run only the cells of these blocks, or of these data sets (names or wildcards); the others'
    records stay as they are, and a later run without them trains what they still lack."""
    out_dir = Path(out_dir)
    chosen = (
        Part(select_blocks(suite, blocks) if blocks else None, select_data(suite, data) if data else None)
        if blocks or data
        else None
    )
    if executor == "ray":
        ray = start_ray(ray_address)
        try:
            return _run_suite(suite, out_dir, overrides, jobs, retry_failed, echo, ray, chosen)
        finally:
            ray.shutdown()
    return _run_suite(suite, out_dir, overrides, jobs, retry_failed, echo, None, chosen)


def _run_suite(
    suite: Suite, out_dir: Path, overrides, jobs: int, retry_failed: bool, echo, ray, part: Part | None = None
) -> list[dict]:
    records: list[dict] = []
    ran: set[str] = set()  # the ids of the cells run
    # Long cells first (a block's `run_first`), so that short ones fill the cores at the end
    # instead of one long cell running alone; reports keep the suite's order whatever ran first.
    first = {block_name(i, block) for i, block in enumerate(suite.blocks) if block.get("run_first")}
    started = time.perf_counter()
    where = "as Ray tasks" if ray is not None else f"{jobs} at a time"
    while True:  # a second pass runs what finished cells made known: searches' best trials again
        todo, threads, cells = prepare(suite, out_dir, overrides=overrides, jobs=jobs, retry_failed=retry_failed)
        todo = [c for c in todo if c.id not in ran]
        left = 0
        if part is not None:
            left = sum(not part.holds(c) for c in todo)
            todo = [c for c in todo if part.holds(c)]
        if ran and not todo:
            break
        todo.sort(key=lambda cell: cell.block not in first)  # stable: the suite's order otherwise
        waiting = _awaited_reruns(suite, cells)
        early = list(dict.fromkeys(c.block for c in todo if c.block in first))
        echo(
            f"suite '{suite.name}': {len(cells)} cells, {len(cells) - len(todo) - len(ran) - left} already "
            f"recorded, {len(todo)} to run ({where}) -> {out_dir}"
            + (f"; {left} cells of other {part.others()} left for later" if part is not None else "")
            + (f"; {waiting} re-run(s) of best trials wait for their searches" if waiting else "")
            + (f"; {', '.join(early)} first (run_first)" if early else "")
        )
        records += _run_cells(todo, out_dir, jobs, threads, echo, ray, (overrides or {}).get("device", "auto"))
        ran |= {c.id for c in todo}
        if not todo:
            break
    echo(f"ran {len(ran)} cells in {time.perf_counter() - started:.0f} s")
    return records


def _run_cells(
    todo: list[Cell], out_dir: Path, jobs: int, threads: int | None, echo, ray=None, device: str = "auto"
) -> list[dict]:
    """Run the cells with an executor, `executor(units, out_dir, threads=..., finish=...)`: worker
    processes here (`pool.run_locally`) or Ray tasks (`ray_cells.run_on_ray`). Each calls
    `finish(record)` once per cell, as it ends; here that appends the record and says so."""
    records = []
    number = iter(range(1, len(todo) + 1))

    def finish(record: dict) -> None:
        ResultsDir(out_dir).append(record)
        records.append(record)
        echo(
            f"[{next(number):>{len(str(len(todo)))}}/{len(todo)}] {record['status']:<7} "
            f"{record['arch']}/{record['loss']}/{record['data']}/seed{record['seed']}  {_brief(record)}"
        )

    units = work_units(todo)  # a cell, or the cells of a seed-batched ensemble
    if ray is not None:
        gpu = device.startswith("cuda") or (device == "auto" and cluster_has_gpus(ray))
        reason = (
            f"its Ray worker died while training it, {RETRIES_AFTER_A_DEATH + 1} times: a crash below Python "
            "(a segfault, the out-of-memory killer, a lost node), not an exception. Its last checkpoint is "
            "kept; --retry-failed tries it again."
        )
        executor: Executor = functools.partial(run_on_ray, ray, gpu=gpu, died=lambda cell: died_record(cell, reason))
    else:
        executor = functools.partial(run_locally, jobs=jobs)
    executor(units, out_dir, threads=threads, finish=finish)
    return records


def failed_cells(out_dir, suite: Suite, overrides: dict | None = None) -> list[dict]:
    """The records of the suite's cells whose latest attempt failed."""
    done = completed(Path(out_dir))
    ids = {c.id for c in expand(suite, overrides or {}, done)}
    return [r for cell_id, r in done.items() if cell_id in ids and r["status"] == "failed"]


def _brief(record: dict) -> str:
    if record["status"] != "ok":
        return record["reason"].split(". ")[0][:160]
    final = record.get("final", {})
    parts = []
    if "mode-coverage" in final:
        mc = final["mode-coverage"]
        parts.append(f"{mc['modes_covered']}/{mc['num_modes']} modes, {mc['high_quality_pct']:.1f}% HQ")
    if "fid" in final:
        parts.append(f"FID {final['fid']['fid']:.2f}")
    if "stacked-mnist-modes" in final:
        parts.append(f"{final['stacked-mnist-modes']['modes_covered']}/1000 modes")
    rate = record.get("throughput", {}).get("images_per_s")
    if rate:
        parts.append(f"{rate:,.0f} img/s")
    return ", ".join(parts) + f"  ({record['wall_seconds']:.1f} s)"
