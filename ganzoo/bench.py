"""`ganzoo bench`: train a matrix of cells under one protocol and collect the results.

A suite (TOML, or YAML when PyYAML is installed) is a list of blocks; each block
names architectures (shell wildcards, so a newly installed plugin joins in),
losses, data sets and seeds, a step budget, an evaluation schedule and the
metrics. Every combination is a *cell*: one `ganzoo train` run.

The results folder holds:

- `bench.json`: the suite (its text and hash), the hardware, versions, jobs;
- `results.jsonl`: one line per finished, failed or skipped cell, appended with
  a single write each, so a crash never leaves half a line;
- `runs/CELL/`: each cell's run directory (checkpoints, metrics, samples).

Running the same command again skips recorded cells and resumes an interrupted
one from its checkpoint. A failing cell (exception, NaN, plugin error) is
recorded with its reason, and the suite goes on.

Each record carries the hash of its cell's whole training configuration
(`protocol_sha`). When the suite file changes (a block added, one block's options
tuned), the cells whose configuration is unchanged keep their results and only the
others run; a changed cell's old run directory is moved to `runs-superseded/`, never
mixed with the new one. So one folder never holds two protocols for one cell.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import GanzooError, did_you_mean
from .files import append_jsonl, atomic_write_json, read_jsonl
from .resolve import resolve
from .rundir import RunDir
from .search import apply_draws, best_trial, parse_search

SUITES_DIR = Path(__file__).parent / "suites"
BLOCK_KEYS = {
    "name", "architectures", "losses", "data", "seeds", "steps", "eval_every", "log_every", "metrics",
    "eval_samples", "eval_real_samples", "batch_size", "arch_options", "loss_options", "data_options",
    "train", "optional", "search", "seed_batched", "run_first", "tuning_seeds",
}
SUITE_KEYS = {"name", "description", "block"}
RESULTS = "results.jsonl"
IN_FLIGHT = ".in-flight"  # one file per busy worker process, naming its cell
#: TrainConfig fields that change how a run is executed or logged, not what it measures.
NOT_PROTOCOL = {"device", "data_root", "data_on_device", "channels_last", "tensorboard", "checkpoint_every",
                "log_every"}


@dataclass
class Cell:
    block: str
    arch: str
    loss: str
    data: str
    seed: int
    train: dict  # TrainConfig fields
    optional: bool = False
    trial: dict | None = None  # a search block's trial: {"index": k, "draws": {option: value}}
    best_of: dict | None = None  # a re-run of a search's best trial: {"block", "trial", "score", "by"}
    seed_batched: bool = False  # trained with the block's other seeds as one ensemble (ensemble.py)

    @property
    def id(self) -> str:
        block = self.block if self.trial is None else f"{self.block}-trial{self.trial['index']:03d}"
        return f"{block}--{self.arch}--{self.loss}--{self.data}--seed{self.seed}"

    @property
    def protocol_sha(self) -> str:
        """Hash of everything that decides this cell's results (not the device or log intervals)."""
        fields = {k: v for k, v in self.train.items() if k not in NOT_PROTOCOL}
        fields.update(arch=self.arch, loss=self.loss, data=self.data, seed=self.seed)
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()[:16]


@dataclass
class Suite:
    name: str
    description: str
    text: str
    blocks: list[dict] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def builtin_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def load_suite(name_or_path: str) -> Suite:
    """A built-in suite by name (`quick`, `standard`) or a suite file."""
    path = Path(name_or_path)
    if not path.is_file():
        if name_or_path in builtin_suites():
            path = SUITES_DIR / f"{name_or_path}.toml"
        else:
            raise GanzooError(f"No suite '{name_or_path}': it is neither a file nor a built-in suite "
                              f"({', '.join(builtin_suites())}). Pass a .toml or .yaml suite file.")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise GanzooError(f"{path} is YAML, which needs PyYAML: pip install pyyaml "
                                  "(or write the suite in TOML).") from None
            raw = yaml.safe_load(text)
        else:
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib
            raw = tomllib.loads(text)
    except GanzooError:
        raise
    except Exception as exc:
        raise GanzooError(f"{path} is not a valid suite file: {exc}") from None
    if not isinstance(raw, dict) or not raw.get("block"):
        raise GanzooError(f"{path} names no [[block]] of cells. See ganzoo/suites/quick.toml for the format.")
    unknown = sorted(set(raw) - SUITE_KEYS)
    if unknown:
        raise GanzooError(f"{path}: unknown top-level key(s) {', '.join(unknown)}.{did_you_mean(unknown, SUITE_KEYS)} "
                          f"Allowed: {', '.join(sorted(SUITE_KEYS))}; options of cells go inside a [[block]].")
    if not isinstance(raw["block"], list) or not all(isinstance(b, dict) for b in raw["block"]):
        raise GanzooError(f"{path}: 'block' must be a list of tables ([[block]] in TOML).")
    for i, block in enumerate(raw["block"]):
        unknown = sorted(set(block) - BLOCK_KEYS)
        if unknown:
            raise GanzooError(f"{path}, block {i + 1}: unknown key(s) {', '.join(unknown)}."
                              f"{did_you_mean(unknown, BLOCK_KEYS)} Allowed: {', '.join(sorted(BLOCK_KEYS))}.")
        for key in ("architectures", "losses", "data", "seeds"):
            if not isinstance(block.get(key), list) or not block[key]:
                raise GanzooError(f"{path}, block {i + 1}: '{key}' must be a non-empty list.")
        for key in ("optional", "seed_batched", "run_first"):  # a string "false" would read as true
            if not isinstance(block.get(key, False), bool):
                raise GanzooError(f"{path}, block {i + 1}: '{key}' must be true or false (without quotes), "
                                  f"not {block[key]!r}.")
        _check_held_out(f"{path}, block {i + 1}", block)
        if "search" in block:
            block["search"] = parse_search(f"{path}, block {i + 1}", block["search"])
            overlap = sorted(set(block["search"].best_seeds) & set(block["seeds"]))
            if overlap:
                raise GanzooError(f"{path}, block {i + 1}: the search's best_seeds {overlap} also train its trials "
                                  "(seeds), so the best trial would be reported on seeds that chose it. Give "
                                  "best_seeds that no trial uses.")
    return Suite(raw.get("name", path.stem), raw.get("description", ""), text, raw["block"])


def _match(patterns: list[str], names: list[str], kind: str) -> list[str]:
    """Names matching any pattern, in pattern order. Wildcards skip tiny `.test` variants
    unless the pattern asks for them; a plain name must exist."""
    from .errors import UnknownNameError

    out = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            found = [n for n in names if fnmatch.fnmatchcase(n, pattern)
                     and (".test" in pattern or not n.endswith(".test"))]
            if not found:
                raise GanzooError(f"The {kind} pattern '{pattern}' matches nothing. Registered: "
                                  f"{', '.join(n for n in names if not n.endswith('.test'))}. Fix the suite file.")
        elif pattern in names:
            found = [pattern]
        else:
            raise UnknownNameError(kind, pattern, names, hint="Fix the suite file.")
        out += [n for n in found if n not in out]
    return out


def _check_held_out(where: str, block: dict) -> None:
    """`tuning_seeds`: the seeds whose runs chose this block's configuration (pilots, a grid of
    trials). A tuned configuration is reported only on seeds that took no part in choosing it."""
    if "tuning_seeds" not in block:
        return
    tuning = block["tuning_seeds"]
    if not isinstance(tuning, list) or not tuning or not all(isinstance(x, int) and not isinstance(x, bool)
                                                             for x in tuning):
        raise GanzooError(f"{where}: 'tuning_seeds' must be a non-empty list of whole numbers (the seeds whose "
                          f"runs chose this configuration), not {tuning!r}.")
    overlap = sorted(set(tuning) & set(block["seeds"]))
    if overlap:
        raise GanzooError(f"{where}: seeds {overlap} chose this configuration (tuning_seeds), so they cannot "
                          "report it: a tuned configuration is reported on held-out seeds. Give 'seeds' that "
                          "are not in 'tuning_seeds'.")


def block_name(index: int, block: dict) -> str:
    return block.get("name", f"block{index + 1}")


def expand(suite: Suite, overrides: dict, results: dict[str, dict] | None = None) -> list[Cell]:
    """Every cell of the suite, with the CLI's overrides (device, data root...) applied. With
    the results so far (`completed`), also the re-runs of finished searches' best trials."""
    from . import api
    from .config import TrainConfig

    cells = []
    for i, block in enumerate(suite.blocks):
        name = block_name(i, block)
        archs = _match(block["architectures"], api.list_architectures(), "architecture")
        losses = _match(block["losses"], api.list_losses(), "loss")
        datasets = _match(block["data"], api.list_datasets(), "dataset")
        train = {k: block[k] for k in ("steps", "eval_every", "log_every", "eval_samples", "eval_real_samples",
                                       "batch_size", "arch_options", "loss_options", "data_options") if k in block}
        if "metrics" in block:
            train["eval_metrics"] = list(block["metrics"])
        train.update(block.get("train", {}))
        where = f"Suite '{suite.name}', block '{name}'"
        search = block.get("search")
        trials = [(None, train)] if search is None else [
            ({"index": k, "draws": draws}, apply_draws(where, train, draws))
            for k, draws in ((k, search.draw(name, k)) for k in range(search.trials))]
        fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"arch", "loss", "data", "seed"}
        for trial, options in trials:
            options = {**options, **overrides}
            unknown = sorted(set(options) - fields)
            if unknown:
                raise GanzooError(f"{where}: unknown training option(s) {', '.join(unknown)}. "
                                  "See `ganzoo train --help` for the options.")
            for data in datasets:
                for arch in archs:
                    for loss in losses:
                        for seed in block["seeds"]:
                            cells.append(Cell(name, arch, loss, data, int(seed), dict(options),
                                              bool(block.get("optional", False)), trial,
                                              seed_batched=bool(block.get("seed_batched", False))))
        if search is not None and search.best_seeds and results is not None:
            cells += _best_reruns(where, name, search, [c for c in cells if c.block == name], results)
    _refuse_repeated_cells(suite, cells)
    return cells


def _best_reruns(where: str, name: str, search, trial_cells: list[Cell], results: dict[str, dict]) -> list[Cell]:
    """The best trial of each architecture x loss x data set of a search block, trained again
    with its `best_seeds`, once every trial cell of that combination has a record that holds."""
    out = []
    combos = dict.fromkeys((c.arch, c.loss, c.data) for c in trial_cells)
    for arch, loss, data in combos:
        cells = [c for c in trial_cells if (c.arch, c.loss, c.data) == (arch, loss, data)]
        records = [results.get(c.id) for c in cells]
        if any(r is None or r.get("protocol_sha") != c.protocol_sha or r["status"] == "skipped"
               for r, c in zip(records, cells)):
            continue  # the search is not finished
        best = best_trial(where, search, records)
        if best is None:
            continue
        index, score, by = best
        source = next(c for c in cells if c.trial["index"] == index)
        for seed in search.best_seeds:
            out.append(Cell(f"{name}-best", arch, loss, data, int(seed), dict(source.train), source.optional,
                            best_of={"block": name, "trial": index, "draws": source.trial["draws"], "score": score,
                                     "by": by}, seed_batched=source.seed_batched))
    return out


def _awaited_reruns(suite: Suite, cells: list[Cell]) -> int:
    """How many best-trial re-runs the suite will add to `cells` once its unfinished searches finish."""
    best_seeds = {block_name(i, b): b["search"].best_seeds for i, b in enumerate(suite.blocks) if b.get("search")}
    listed = {(c.block, c.arch, c.loss, c.data) for c in cells if c.best_of is not None}
    searched = {(c.block, c.arch, c.loss, c.data) for c in cells if c.trial is not None}
    return sum(len(best_seeds[block]) for block, arch, loss, data in searched
               if (f"{block}-best", arch, loss, data) not in listed)


def _refuse_repeated_cells(suite: Suite, cells: list[Cell]) -> None:
    """Two cells with one id would train one run directory twice (at once, with --jobs)."""
    blocks_of: dict[str, list[str]] = {}
    for cell in cells:
        blocks_of.setdefault(cell.id, []).append(cell.block)
    repeated = {cell_id: blocks for cell_id, blocks in blocks_of.items() if len(blocks) > 1}
    if repeated:
        named = "; ".join(f"{cell_id} (blocks {', '.join(blocks)})" for cell_id, blocks in list(repeated.items())[:5])
        more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        raise GanzooError(
            f"Suite '{suite.name}' names {len(repeated)} cell(s) more than once: {named}{more}. Each cell "
            "(block, architecture, loss, data, seed) trains its own run directory; remove the repeated "
            "seeds, or give the blocks different names.")


def select_blocks(suite: Suite, patterns: list[str]) -> set[str]:
    """The names of the suite's blocks that `patterns` (names, or wildcards as `pacgan*`) pick."""
    names = [block_name(i, b) for i, b in enumerate(suite.blocks)]
    return _pick(patterns, names, f"Suite '{suite.name}' has no block", "blocks", "--blocks", "block")


def select_data(suite: Suite, patterns: list[str]) -> set[str]:
    """The data sets the suite trains that `patterns` (names, or wildcards as `ring*`) pick."""
    names = list(dict.fromkeys(c.data for c in expand(suite, {})))
    return _pick(patterns, names, f"Suite '{suite.name}' trains no data set", "data sets", "--data", "data set")


def _pick(patterns: list[str], names: list[str], missing: str, plural: str, flag: str, one: str) -> set[str]:
    import difflib

    chosen = set()
    for pattern in patterns:
        found = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not found:
            close = difflib.get_close_matches(pattern, names, n=3, cutoff=0.5)
            raise GanzooError(f"{missing} '{pattern}'." + (f" Did you mean: {', '.join(close)}?" if close else "")
                              + f" Its {plural}: {', '.join(names)}. Fix {flag} (names or wildcards, "
                              f"comma-separated), or leave it out to run every {one}.")
        chosen.update(found)
    return chosen


@dataclass(frozen=True)
class Part:
    """The part of a suite one run trains: some blocks, some data sets (None: all)."""

    blocks: set[str] | None = None
    data: set[str] | None = None

    def holds(self, cell: Cell) -> bool:
        # A search's best-trial re-runs (block NAME-best) belong to the search's block NAME.
        in_blocks = self.blocks is None or cell.block in self.blocks or (
            cell.best_of is not None and cell.block.removesuffix("-best") in self.blocks)
        return in_blocks and (self.data is None or cell.data in self.data)

    def others(self) -> str:
        return " or ".join(kind for kind, chosen in (("blocks", self.blocks), ("data sets", self.data))
                           if chosen is not None)


def _record_of(cell: Cell) -> dict:
    """What a cell's line in results.jsonl says about the cell itself."""
    record = {"cell": cell.id, "block": cell.block, "arch": cell.arch, "loss": cell.loss, "data": cell.data,
              "seed": cell.seed, "run_dir": str(Path("runs") / cell.id), "protocol_sha": cell.protocol_sha}
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
        key = cell.id.rsplit("--seed", 1)[0] if cell.seed_batched else cell.id
        units.setdefault(key, []).append(cell)
    return list(units.values())


def run_cells(cells: list[Cell], runs: Path, threads: int | None = None) -> list[dict]:
    """Train a work unit (one cell, or the seeds of a seed-batched ensemble) into runs/CELL,
    resuming checkpoints, and return a result record per cell. Never raises for a failing
    cell: the reason is recorded (an ensemble's failure, in each of its cells' records)."""
    import torch

    from .config import TrainConfig
    from .data.opening import open_dataset
    from .ensemble import train_ensemble
    from .loop import train

    if threads:
        torch.set_num_threads(threads)
    records = [_record_of(cell) for cell in cells]
    started = time.perf_counter()

    def ended(status: str, exc: BaseException | None = None, reason: str | None = None, **fields) -> list[dict]:
        if exc is not None:
            fields.update(reason=reason or str(exc), error=type(exc).__name__)
        return [{**record, "status": status, **fields, "wall_seconds": round(time.perf_counter() - started, 2),
                 "finished": _now()} for record in records]

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
    return [{**record, "status": "ok", "steps": summary["steps"], "final": summary["metrics"],
             "throughput": summary["throughput"], "train_seconds": summary["train_seconds"],
             "provenance": summary.get("provenance"), "wall_seconds": wall, "finished": _now()}
            for record, summary in zip(records, summaries)]


def setting_of(cfg) -> dict:
    """What defines a cell's experiment besides its architecture, loss, data and seed (options,
    optimiser, schedule, unrolling...), resolved: the report keeps cells that differ here apart."""
    resolved = resolve(cfg)
    identity = resolved.identity()
    for key in ("arch", "loss", "data", "seed"):
        identity.pop(key)
    return {**identity, "steps": resolved.steps}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_stopping = False  # in a worker: a stop signal has reached it
_bench_died = False  # in a worker: the parent-death signal has reached it (`_parent_died`)


def _worker_cell(args):
    """Run a cell in a worker process. Once a stop signal has interrupted one cell, the worker
    starts no other: the pool hands each worker its next cell before the current one ends,
    and that cell cannot be cancelled from the bench any more. A worker whose bench has died
    exits, where it would otherwise wait for work forever."""
    global _stopping
    cells, runs, threads = args
    if _stopping:
        raise KeyboardInterrupt
    marker = Path(runs).parent / IN_FLIGHT / str(os.getpid())  # read if this worker dies
    marker.write_text("\n".join(c.id for c in cells))
    try:
        return run_cells(cells, runs, threads)
    except KeyboardInterrupt:
        _stopping = True
        if _bench_died or _orphaned():
            os._exit(130)  # the checkpoint is written; nobody is left to hear the result
        raise
    finally:
        marker.unlink(missing_ok=True)


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


def prepare(suite: Suite, out_dir, *, overrides: dict | None = None, jobs: int = 1,
            retry_failed: bool = False) -> tuple[list[Cell], int | None, list[Cell]]:
    """Write `bench.json` and return the cells still to run, the torch threads each job gets
    and all the suite's cells. Refuses a folder holding results of another version of the suite."""
    from .environment import environment
    from .resolve import pick_device

    out_dir = Path(out_dir)
    overrides = overrides or {}
    meta_path = out_dir / "bench.json"
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
                    "hold. Mixing them would mix protocols: pass a new --out, or restore that suite file.")
            history.append({"sha256": previous["suite"]["sha256"], "updated": previous.get("updated")})
    if meta_path.exists():
        done = _retire_changed_cells(out_dir, cells, done)
    device = pick_device(overrides.get("device", "auto"))
    cores = os.cpu_count() or 1
    threads = max(1, cores // jobs) if jobs > 1 else None
    import torch  # one job runs with torch's own thread count (OMP_NUM_THREADS, else every core)

    atomic_write_json(meta_path, {
        "suite": {"name": suite.name, "description": suite.description, "sha256": suite.sha256, "text": suite.text},
        "overrides": overrides, "jobs": jobs, "threads_per_job": threads or torch.get_num_threads(),
        "environment": environment(device), "cpu_count": cores, "updated": _now(), "history": history,
        "cells": [c.id for c in cells],  # the report leaves out records of cells no longer in the suite
        # ... and records of a cell whose configuration has changed since (retired, not yet re-run)
        "cell_protocols": {c.id: c.protocol_sha for c in cells},
    })
    todo = [c for c in cells if c.id not in done or done[c.id]["status"] == "skipped"
            or (retry_failed and done[c.id]["status"] == "failed")]
    return todo, threads, cells


def _retire_changed_cells(out_dir: Path, cells: list[Cell], done: dict[str, dict]) -> dict[str, dict]:
    """Records whose cell now has another configuration no longer count; their run directories
    move to `runs-superseded/` so that the new run starts clean (and nothing is deleted)."""
    from .config import TrainConfig

    def retire(cell_id: str, tag: str) -> None:
        old_dir = out_dir / "runs" / cell_id
        if old_dir.exists():
            target = out_dir / "runs-superseded" / f"{cell_id}--{tag}-{time.time_ns()}"
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
        elif RunDir(out_dir / "runs" / cell.id).config_path.is_file():
            # An interrupted attempt: resume it only if it trains the same experiment.
            try:
                saved = RunDir(out_dir / "runs" / cell.id).train_config().identity()
                now = resolve(TrainConfig(arch=cell.arch, loss=cell.loss, data=cell.data, seed=cell.seed,
                                          **cell.train)).identity()
            except GanzooError:
                continue  # the cell itself will report what is wrong
            if saved != now:
                retire(cell.id, "interrupted")
    return kept


def run_suite(suite: Suite, out_dir, *, overrides: dict | None = None, jobs: int = 1,
              retry_failed: bool = False, echo=print, executor: str = "local",
              ray_address: str | None = None, blocks: list[str] | None = None,
              data: list[str] | None = None) -> list[dict]:
    """Run every cell not yet recorded in `out_dir`; returns the new records. `executor`:
    "local" (worker processes here) or "ray" (Ray tasks; see ray_cells.py). `blocks`, `data`:
    run only the cells of these blocks, or of these data sets (names or wildcards); the others'
    records stay as they are, and a later run without them trains what they still lack."""
    out_dir = Path(out_dir)
    chosen = (Part(select_blocks(suite, blocks) if blocks else None, select_data(suite, data) if data else None)
              if blocks or data else None)
    if executor == "ray":
        from .ray_cells import start_ray

        ray = start_ray(ray_address)
        try:
            return _run_suite(suite, out_dir, overrides, jobs, retry_failed, echo, ray, chosen)
        finally:
            ray.shutdown()
    return _run_suite(suite, out_dir, overrides, jobs, retry_failed, echo, None, chosen)


def _run_suite(suite: Suite, out_dir: Path, overrides, jobs: int, retry_failed: bool, echo, ray,
               part: Part | None = None) -> list[dict]:
    records, ran = [], set()
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
        echo(f"suite '{suite.name}': {len(cells)} cells, {len(cells) - len(todo) - len(ran) - left} already "
             f"recorded, {len(todo)} to run ({where}) -> {out_dir}"
             + (f"; {left} cells of other {part.others()} left for later" if part is not None else "")
             + (f"; {waiting} re-run(s) of best trials wait for their searches" if waiting else "")
             + (f"; {', '.join(early)} first (run_first)" if early else ""))
        records += _run_cells(todo, out_dir, jobs, threads, echo, ray, (overrides or {}).get("device", "auto"))
        ran |= {c.id for c in todo}
        if not todo:
            break
    echo(f"ran {len(ran)} cells in {time.perf_counter() - started:.0f} s")
    return records


def _run_cells(todo: list[Cell], out_dir: Path, jobs: int, threads: int | None, echo, ray=None,
               device: str = "auto") -> list[dict]:
    """Run the cells: in this process for one job, else in `jobs` long-lived worker processes
    (each imports torch and the plugins once, then trains cell after cell). A cell that kills
    its worker (a segfault, the out-of-memory killer, os._exit) fails alone: the pool is
    rebuilt, the cells that were in flight when it broke are each run again on their own
    (resuming their checkpoints), and the one whose lone worker dies too is recorded as failed."""
    records = []
    number = iter(range(1, len(todo) + 1))

    def finish(record: dict) -> None:
        append_jsonl(out_dir / RESULTS, record)
        records.append(record)
        echo(f"[{next(number):>{len(str(len(todo)))}}/{len(todo)}] {record['status']:<7} "
             f"{record['arch']}/{record['loss']}/{record['data']}/seed{record['seed']}  {_brief(record)}")

    if ray is not None:
        from .ray_cells import RETRIES_AFTER_A_DEATH, cluster_has_gpus, run_on_ray

        gpu = device.startswith("cuda") or (device == "auto" and cluster_has_gpus(ray))
        reason = (f"its Ray worker died while training it, {RETRIES_AFTER_A_DEATH + 1} times: a crash below Python "
                  "(a segfault, the out-of-memory killer, a lost node), not an exception. Its last checkpoint is "
                  "kept; --retry-failed tries it again.")
        run_on_ray(ray, work_units(todo), out_dir, threads=threads, gpu=gpu, finish=finish,
                   died=lambda cell: _worker_died(cell, reason))
        return records
    if jobs <= 1:
        for unit in work_units(todo):
            for record in run_cells(unit, out_dir / "runs"):
                finish(record)
        return records
    queue, alone = work_units(todo), []  # units: a cell, or a seed-batched ensemble's cells
    while queue or alone:
        if alone:  # suspected of killing a worker: on its own, so a crash names its cell
            batch, workers = [alone.pop(0)], 1
        else:
            batch, workers, queue = queue, min(jobs, len(queue)), []
        # Fewer units than jobs: the threads of the workers not started go to the others (a lone
        # 5-seed ensemble of PacGAN's networks trains 1.4x faster on 2 threads than on 1). Not
        # at a long queue's end: a unit's threads are set when it starts.
        shared = max(1, threads * jobs // workers) if threads else None
        broken = _run_pool(batch, out_dir, workers, shared, finish)
        if broken is None:
            continue
        in_flight, not_started = broken
        if workers == 1:
            for cell in batch[0]:
                finish(_worker_died(cell))
        elif in_flight:
            alone += in_flight
            queue = not_started + queue
        else:  # no cell named itself: a worker died between cells; try each alone, so none loops forever
            alone += not_started
    return records


def _run_pool(batch: list[list[Cell]], out_dir: Path, workers: int, threads: int | None, finish):
    """Run `batch`'s work units in a pool of `workers` processes. None when it finished; after a
    worker died, (the units that were in flight, the units not started)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    markers = out_dir / IN_FLIGHT
    shutil.rmtree(markers, ignore_errors=True)
    markers.mkdir(parents=True)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=stop_with_parent) as pool, _forward_sigterm(pool):
        futures = {pool.submit(_worker_cell, (unit, out_dir / "runs", threads)): unit for unit in batch}
        finished = set()
        try:
            for future in as_completed(futures):
                try:
                    records = future.result()
                except BrokenProcessPool:
                    running = {line for m in markers.iterdir() for line in m.read_text().splitlines()}
                    left = [unit for f, unit in futures.items() if f not in finished]
                    return ([u for u in left if u[0].id in running], [u for u in left if u[0].id not in running])
                finished.add(future)
                for record in records:
                    finish(record)
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise
    shutil.rmtree(markers, ignore_errors=True)
    return None


def _worker_died(cell: Cell, reason: str | None = None) -> dict:
    return {**_record_of(cell), "status": "failed", "error": "WorkerDied", "finished": _now(),
            "reason": reason or "its worker process died while training it, beside other cells and again on its "
                      "own: a crash below Python (a segfault, the out-of-memory killer, os._exit), not an "
                      "exception. Its last checkpoint is kept; --retry-failed tries it again."}


#: What the kernel sends a worker when its bench dies. Not SIGTERM itself: the kernel sends it
#: again each time one of the dead bench's threads exits (the child is handed from thread to
#: thread), and a second SIGTERM means "stop at once", before the checkpoint.
PARENT_DIED = signal.SIGUSR1


def stop_with_parent() -> None:
    """In a worker: when the bench dies, even by SIGKILL, receive one SIGTERM, so the running
    cell checkpoints and stops instead of training on unseen (and racing a re-run of the
    bench), and the worker then exits (`_worker_cell`).
    Linux only (prctl); elsewhere the run-directory lock keeps a re-run from colliding."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        signal.signal(PARENT_DIED, _parent_died)
        with contextlib.suppress(OSError, AttributeError):
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, PARENT_DIED)
        if _orphaned():  # the bench died before prctl took hold
            _parent_died(PARENT_DIED, None)


def _orphaned() -> bool:
    """In a worker: whether its parent is no longer the bench that started it."""
    bench = multiprocessing.parent_process()
    return bench is not None and os.getppid() != bench.pid


def _parent_died(signum, frame) -> None:
    """Once: a repeat can arrive before SIG_IGN takes hold and run this handler again, nested
    within itself. The first of the bench's threads has exited; others may live a moment
    longer, so the worker's parent may still be the bench when the cell has stopped."""
    global _bench_died
    if not _bench_died:
        _bench_died = True
        signal.signal(signum, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def _forward_sigterm(pool):
    """SIGTERM (a scheduler stopping the job) reaches the bench alone, not its workers: pass it
    on, so that each running cell finishes its step and checkpoints, and stop like Ctrl-C
    (which the terminal sends to every process of the group by itself)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGTERM)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
