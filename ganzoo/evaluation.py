"""Evaluation during and after training: what to measure depends on the data.

Each evaluation samples from the generator (the EMA copy when EMA is on) with
a generator of its own, seeded from the run's seed, so evaluating never changes
the course of training and every evaluation sees the same latent vectors.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .data.toy2d import GaussianMixture2D
from .metrics import mode_coverage as mc
from .plots import sample_grid, scatter_2d

EVAL_SEED_OFFSET = 7_777_777


def evaluate(generator, dataset, step: int, out_dir, *, seed: int, num_samples: int,
             generator_kind: str) -> list[dict]:
    """Compute the data set's metrics at `step` and save its picture; one record per metric."""
    device = generator.device
    rng = torch.Generator(device).manual_seed(seed + EVAL_SEED_OFFSET)
    picture = Path(out_dir) / "samples" / f"step-{step:08d}.png"
    records = []
    if isinstance(dataset, GaussianMixture2D):
        started = time.perf_counter()
        samples = generator.sample(num_samples, generator=rng)
        results = mc.mode_coverage(samples, dataset.centers, dataset.std)
        records.append({
            "metric": "mode-coverage", "step": step, "results": results,
            "protocol": {**mc.protocol(num_samples), "data": dataset.describe_short(),
                         "generator": generator_kind, "sample_seed": seed + EVAL_SEED_OFFSET},
            "seconds": round(time.perf_counter() - started, 4),
        })
        title = (f"{dataset.name}, step {step}: {results['modes_covered']}/{results['num_modes']} modes, "
                 f"{results['high_quality_pct']:.1f}% high quality")
        scatter_2d(samples, dataset.centers, dataset.std, picture, title)
    elif len(dataset.sample_shape) == 3:
        sample_grid(generator, picture, rng)
    return records
