"""Mode coverage on a known mixture, by the VEEGAN / PacGAN protocol.

Each generated sample is assigned to its nearest mode; it is *high quality*
when it lies within `threshold` standard deviations of that mode's centre; a
mode is *covered* when it holds at least one high-quality sample.

*Reverse KL* is KL(p_gen || p_true), where p_gen is the histogram of the
high-quality samples over modes (normalised over those samples) and p_true the
mixture's weights. This is PacGAN's "reverse KL": its code
(pacgan/extensions.py, MetricLogger) stores the entropy H of that histogram,
and for equal weights KL(p_gen || uniform) = log K - H. It is 0 when every mode
gets the same share and log K when all samples sit in one mode; "reverse"
because the forward KL(p_true || p_gen) is infinite once a mode is missed.
"""

from __future__ import annotations

import math

import torch

NUM_SAMPLES = 2500  # VEEGAN and PacGAN evaluate 2,500 samples
THRESHOLD_STDS = 3.0


def mode_coverage(
    samples: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    threshold_stds: float = THRESHOLD_STDS,
    weights: torch.Tensor | None = None,
) -> dict:
    """`weights`: the true probability of each mode (default: equal)."""
    samples = samples.detach().to("cpu", torch.float64)
    centers = centers.to(torch.float64)
    if not torch.isfinite(samples).all():
        raise ValueError("mode_coverage got non-finite samples")
    distances = torch.cdist(samples, centers)
    nearest_distance, nearest = distances.min(dim=1)
    high_quality = nearest_distance <= threshold_stds * std
    num_modes = centers.shape[0]
    counts = torch.bincount(nearest[high_quality], minlength=num_modes)
    total = int(counts.sum())
    q = (
        torch.full((num_modes,), 1.0 / num_modes, dtype=torch.float64)
        if weights is None
        else weights.to(torch.float64) / weights.sum()
    )
    if total:
        hit = counts > 0
        p = counts[hit].double() / total
        kl = float((p * (p / q[hit]).log()).sum())
    else:
        kl = None  # undefined: no sample lands near any mode
    return {
        "modes_covered": int((counts > 0).sum()),
        "num_modes": num_modes,
        "high_quality_pct": 100.0 * total / max(len(samples), 1),
        "reverse_kl": kl,
        "max_reverse_kl": float(-q.min().log()) if num_modes else math.nan,
    }


def protocol(num_samples: int, threshold_stds: float = THRESHOLD_STDS) -> dict:
    return {
        "metric": "mode-coverage",
        "num_samples": num_samples,
        "assignment": "nearest mode centre (Euclidean)",
        "high_quality": f"within {threshold_stds:g} std of the nearest centre",
        "covered": "at least one high-quality sample",
        "reverse_kl": "KL(histogram of high-quality samples over modes || true mode weights), nats "
        "(PacGAN's reverse KL: log K - entropy of that histogram)",
        "reference": "VEEGAN (Srivastava et al. 2017), PacGAN (Lin et al. 2018)",
    }


def reverse_kl_of(results: dict):
    """The reverse KL of a mode-coverage result; records written before ganzoo named it
    `reverse_kl` call the same number `kl_uniform` (equal mode weights)."""
    return results.get("reverse_kl", results.get("kl_uniform"))
