"""Bench results read back: the latest record of each cell, grouped into rows by data
set and configuration, with the statistics and labels the report and `compare` print."""

from __future__ import annotations

import functools
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from ganzoo.core.config import FALLBACKS
from ganzoo.errors import GanzooError
from ganzoo.evaluation.mode_coverage import reverse_kl_of
from ganzoo.evaluation.plan import registered_metrics
from ganzoo.runs.resultsdir import ResultsDir, completed, read_bench_meta
from ganzoo.runs.rundir import RunDir


class TableColumn(NamedTuple):
    """A column of a report's tables: the metric, and its `Column` (key, label, decimals, better)."""

    metric: str
    key: str
    label: str
    decimals: int
    better: int


def table_columns() -> list[TableColumn]:
    """Table columns as each registered metric declares them (a plugin's too), then throughput."""
    return [
        TableColumn(name, *column) for name, metric in registered_metrics().items() for column in metric.columns
    ] + [
        TableColumn("throughput", "images_per_s", "img/s", 0, 1),
        TableColumn("throughput", "gflops_per_s", "GFLOP/s", 2, 1),
        TableColumn("throughput", "mfu_pct", "MFU %", 1, 1),
    ]


def curve_specs() -> list[tuple[str, str, str]]:
    """Curves over training steps: (metric, result key, axis label). The first curve of a
    metric keeps the plain file name (figures/DATA-METRIC.png)."""

    return [(name, *curve) for name, metric in registered_metrics().items() for curve in metric.curves]


def load(results_dir) -> tuple[dict, list[dict]]:
    results_dir = Path(results_dir)
    meta_path = ResultsDir(results_dir).bench_json
    if not meta_path.is_file():
        raise GanzooError(
            f"{results_dir} holds no bench results (no bench.json). Pass the --out folder of a `ganzoo bench` run."
        )

    meta = read_bench_meta(results_dir)
    latest = completed(results_dir)
    for r in latest.values():  # records from before ganzoo named it reverse_kl call it kl_uniform
        coverage = r.get("final", {}).get("mode-coverage")
        if coverage is not None and "reverse_kl" not in coverage:
            coverage["reverse_kl"] = reverse_kl_of(coverage)
    if "cells" in meta:  # the suite's cells as of its last run: blocks removed since are not reported
        # In the suite's order, not the order the cells finished in: a suite run in parts
        # (--blocks) or resumed reports its rows as the suite lists them.
        latest = {cell: latest[cell] for cell in meta["cells"] if cell in latest}
    current = meta.get("cell_protocols", {})
    # A cell whose suite block changed since it ran (its record's hash differs): its run was
    # retired and it waits to run again, so its old numbers are not the suite's.
    latest = {
        cell: r for cell, r in latest.items() if cell not in current or r.get("protocol_sha") in (None, current[cell])
    }
    return meta, list(latest.values())


def value(record: dict, metric: str, key: str):
    source = record.get("throughput", {}) if metric == "throughput" else record.get("final", {}).get(metric, {})
    v = source.get(key)
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def stats(values: list) -> dict:
    """Mean, sample standard deviation (n - 1) and count of the values that exist."""
    xs = [v for v in values if v is not None]
    n = len(xs)
    if not n:
        return {"n": 0, "mean": None, "std": None}
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return {"n": n, "mean": mean, "std": std}


def grouped(records: list[dict]) -> dict[str, dict[tuple[str, str, str], list[dict]]]:
    """data set -> (architecture, loss, setting) -> records of its seeds, in first-seen order.
    The setting (options, optimiser, schedule; see `bench.setting_of`) keeps two blocks that
    train the same architecture and loss differently (pack=2 against none) in separate rows."""
    out: dict = defaultdict(lambda: defaultdict(list))
    for r in records:
        out[r["data"]][(r["arch"], r["loss"], json.dumps(_canonical(r.get("setting", {})), sort_keys=True))].append(r)
    return out


def _canonical(setting: dict) -> dict:
    """The setting without options at TrainConfig's own defaults (unroll_steps=0...), so records
    written before an option existed group with those written after."""
    defaults = _config_defaults()
    return {k: v for k, v in setting.items() if v is not None and v != {} and (k not in defaults or v != defaults[k])}


#: Settings a paper sets (the architectures' and losses' training defaults do): a row is labelled
#: with them even at their fallback, as rows that differ in batch or rate must show it.
PAPER_SETTINGS = ("steps", "batch_size", "n_d", "optimizer", "g_lr", "d_lr", "betas", "ema_decay", "channels_last")


@functools.cache
def _config_defaults() -> dict:
    """The values a row's label leaves out: each other setting at its fallback (unroll_steps=0,
    update=alternating...), which a run holds whenever nobody set it."""
    return {name: value for name, value in FALLBACKS.items() if name not in PAPER_SETTINGS}


def _flatten(setting: dict) -> dict:
    """{"arch_options": {"pack": 2}, "g_lr": 1e-4} -> {"pack": 2, "g_lr": 1e-4}."""
    flat = {}
    for key, v in setting.items():
        if isinstance(v, dict):
            flat.update({(k if k not in setting else f"{key}.{k}"): x for k, x in v.items()})
        else:
            flat[key] = v
    return flat


def setting_labels(keys) -> dict:
    """For the (architecture, loss, setting) keys of one table: the options in which each row
    differs from the others, as `pack=2, batch_size=200` (empty when nothing differs)."""
    flat = {key: _flatten(json.loads(key[2])) for key in keys}
    names = sorted({n for f in flat.values() for n in f})
    differing = [n for n in names if len({json.dumps(f.get(n), sort_keys=True) for f in flat.values()}) > 1]
    return {
        key: ", ".join(f"{n}={_short(f[n])}" for n in differing if n in f and f[n] not in (None, 0, {}, []))
        for key, f in flat.items()
    }


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "(" + ", ".join(_short(x) for x in v) + ")"
    return str(v)


def shown_decimals(x: float, decimals: int) -> int:
    """`decimals`, or enough for two significant digits where `decimals` would print a non-zero
    value as 0 (the MFU of a small GAN on an H100 is 0.04%, which "0.0" would hide)."""
    if x and abs(x) < 0.5 * 10**-decimals:
        return 1 - math.floor(math.log10(abs(x)))
    return decimals


def fmt_stats(s: dict, decimals: int, seeds: int) -> str:
    if s["mean"] is None:
        return "–"
    decimals = shown_decimals(s["mean"], decimals)
    text = f"{s['mean']:,.{decimals}f}"
    if s["std"] is not None:
        text += f" ± {s['std']:,.{decimals}f}"
    if s["n"] < seeds:
        text += f" (n={s['n']})"
    return text


def row_names(groups) -> dict:
    """A short name for each row: architecture / loss, and the options that set it apart."""
    labels = setting_labels(groups)
    return {key: f"{key[0]} / {key[1]}" + (f" ({labels[key]})" if labels[key] else "") for key in groups}


def metric_series(run_dir: Path, metric: str, key: str) -> list[tuple[int, float, float]]:
    """(step, training seconds at that step, value) from a cell's logs."""
    run = RunDir(run_dir)
    times = {0: 0.0}
    for line in run.read_train_log():
        times[line["step"]] = line["train_seconds"]
    out = []
    for record in run.read_metrics():
        v = record.get("results", {}).get(key)
        if record.get("metric") == metric and isinstance(v, (int, float)) and record["step"] in times:
            out.append((record["step"], times[record["step"]], float(v)))
    return sorted({s: (s, t, v) for s, t, v in out}.values())  # the latest record per step
