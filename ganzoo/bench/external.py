"""`ganzoo eval --samples PATH --data NAME --name LABEL --out FOLDER`: samples made elsewhere,
evaluated under ganzoo's protocol and kept in a results folder the report and `ganzoo
compare` read like a suite's.

Each evaluation is one entry of that folder: the architecture column holds the label, the
loss column `external`, the seed which of the model's runs the samples come from (`--seed`,
default 0), so several runs of one model give a mean and an interval like a suite's seeds.
Its record carries the samples' provenance (file, SHA-256, count, format, label, description,
resize) beside the results; its run directory (`runs/ENTRY/`) holds config.json (the data set
and the evaluation settings), metrics.jsonl (each line with the metric's protocol and the
samples' provenance) and a picture of the samples. The entry has no training configuration:
the report's protocol guard, which compares what a cell recorded with a paper's protocol,
finds its training fields "not recorded", so an external entry is never set beside a paper's
number as if it were ganzoo's.
"""

from __future__ import annotations

import hashlib
import json
import os

import torch

from ganzoo.bench.cells import now
from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError
from ganzoo.evaluation.external import SampleBank, read_samples
from ganzoo.evaluation.plan import evaluate, plan_evaluation
from ganzoo.plugin.manager import registry
from ganzoo.runs.resultsdir import EXTERNAL_SUITE as SUITE_NAME
from ganzoo.runs.resultsdir import ResultsDir, completed, read_bench_meta
from ganzoo.runs.rundir import RunDir
from ganzoo.training.opening import open_dataset, open_reference
from ganzoo.training.resolve import eval_settings, pick_device
from ganzoo.util.environment import environment
from ganzoo.util.files import atomic_write_json

LOSS_COLUMN = "external"  # what the report's loss column says of an external entry


def evaluate_samples(
    samples_path,
    out,
    *,
    cfg: TrainConfig,
    label: str,
    description: str = "",
    seed: int = 0,
    resize: str | None = None,
    key: str | None = None,
    float_range: str = "-1,1",
    allow_fewer: bool = False,
    device: str = "auto",
) -> dict:
    """Evaluate the samples in `samples_path` as `cfg.data`'s, into the results folder `out`;
    returns the entry's record. Nothing is written unless every check passes."""
    _check_label(label)
    folder = ResultsDir(out)
    suite = read_bench_meta(out)["suite"]["name"] if folder.bench_json.exists() else SUITE_NAME
    if suite != SUITE_NAME:
        raise GanzooError(
            f"{out} holds the results of suite '{suite}'. External entries go into "
            f"a folder of their own (--out elsewhere); `ganzoo report {out} --external FOLDER` sets them beside it."
        )
    cell = f"external--{label}--{cfg.data}--seed{seed}"
    if folder.run_dir(cell).exists():
        raise GanzooError(
            f"{out} already holds the entry {cell}. Give these samples another --seed (another run of the model) or "
            f"--name, or delete {folder.run_dir(cell)} and its line in {folder.results} to measure it again."
        )
    dataset = open_dataset(cfg)
    external = read_samples(
        samples_path, dataset, label=label, description=description, resize=resize, key=key, float_range=float_range
    )
    _check_new_samples(folder, external.provenance["sha256"])
    settings = eval_settings(cfg)
    plan = plan_evaluation(dataset, settings, lambda split: open_reference(cfg, dataset, split), for_training=False)
    count = external.provenance["count"]
    asked = {name: settings.num_samples or metric.num_samples for name, metric in plan.instances.items()}
    short = {name: wanted for name, wanted in asked.items() if count < wanted}
    if short and not allow_fewer:
        raise GanzooError(
            f"--samples {samples_path} holds {count:,} samples, fewer than "
            + ", ".join(f"{name}'s {wanted:,}" for name, wanted in short.items())
            + ". A metric on fewer samples is biased (FID rises as the count falls) and not comparable with one on "
            "the standard count: pass more samples, or --allow-fewer to measure on these (recorded with each result)."
        )
    settings.max_samples = count
    counts = {name: settings.count_for(metric) for name, metric in plan.instances.items()}
    below = sorted(name for name, metric in plan.instances.items() if counts[name] < metric.num_samples)
    run = RunDir(folder.run_dir(cell))
    bank = SampleBank(external.samples, pick_device(device))
    records = evaluate(bank, dataset, 0, run.sample_picture(0), seed=seed, generator_kind="external", plan=plan)
    # Counts below a metric's standard one, whether --eval-samples or the file set them.
    provenance = {**external.provenance, "counts": counts, "fewer_than_standard": below}
    for record in records:
        record["source"] = "ganzoo eval --samples"
        protocol = record["protocol"]
        protocol.pop("sample_seed", None)  # no latent draw: the samples are the file's, in order
        protocol.update(samples=provenance, precision="fp32", device=str(bank.device))
        if isinstance(protocol.get("generated"), dict):  # torch-fidelity's metrics say how they sampled
            protocol["generated"].pop("seed", None)
            protocol["generated"]["latent"] = "samples made elsewhere, the first N in the order given"
        run.append_metrics(record)
    run.write_config(
        {
            "external": provenance,
            "data": dataset.describe(),
            "evaluation": {k: v for k, v in cfg.to_dict().items() if k.startswith("eval_") or k in EVAL_KEYS},
            "environment": environment(bank.device),
        }
    )
    sha = hashlib.sha256(json.dumps(provenance, sort_keys=True).encode()).hexdigest()[:16]
    entry = {
        "cell": cell,
        "block": SUITE_NAME,
        "arch": label,
        "loss": LOSS_COLUMN,
        "data": cfg.data,
        "seed": seed,
        "status": "ok",
        "finished": now(),
        "final": {r["metric"]: r["results"] for r in records},
        "run_dir": ResultsDir.run_dir_of(cell),
        "external": provenance,
        "protocol_sha": sha,
        "steps": 0,
    }
    _write_meta(folder, cell, sha, bank.device)
    folder.append(entry)
    return entry


EVAL_KEYS = ("data", "data_options", "extractor", "inception_weights")


def _check_label(label: str) -> None:
    if not label or not all(c.isalnum() or c in "-_." for c in label):
        raise GanzooError(
            f"--name {label!r}: name the samples' model with letters, digits, '-', '_' or '.', e.g. "
            "--name stylegan2-ada-official; it labels the entry's row in reports."
        )
    if label in registry("architecture").entries:
        raise GanzooError(
            f"--name {label!r} is a ganzoo architecture's name, and an external entry's row would read like "
            f"ganzoo's own cells of it. Name the model that made the samples, e.g. --name {label}-official."
        )


def _check_new_samples(folder: ResultsDir, sha256: str) -> None:
    """The same file twice would count as two runs of the model: a seed-to-seed spread of 0."""
    if not folder.results.exists():
        return
    for record in completed(folder.path).values():
        if record.get("external", {}).get("sha256") == sha256:
            raise GanzooError(
                f"These samples (SHA-256 {sha256[:16]}...) are already the entry {record['cell']}: the same samples "
                "under another --seed would count as another run of the model and shrink its interval. Give each "
                "--seed the samples of its own run."
            )


def _write_meta(folder: ResultsDir, cell: str, sha: str, device: torch.device) -> None:
    meta = read_bench_meta(folder.path) if folder.bench_json.exists() else None
    cells = list(dict.fromkeys([*(meta or {}).get("cells", []), cell]))
    atomic_write_json(
        folder.bench_json,
        {
            "suite": {
                "name": SUITE_NAME,
                "description": "samples made elsewhere, evaluated under ganzoo's protocol (`ganzoo eval --samples`)",
                "sha256": "",
                "text": "",
            },
            "overrides": {},
            "jobs": 1,
            "threads_per_job": torch.get_num_threads(),
            "environment": environment(device),
            "cpu_count": os.cpu_count() or 1,
            "updated": now(),
            "history": [],
            "cells": cells,
            "cell_protocols": {**(meta or {}).get("cell_protocols", {}), cell: sha},
        },
    )
