"""Mode coverage on a known mixture, by the VEEGAN / PacGAN protocol.

Each generated sample is assigned to its nearest mode; it is *high quality*
when it lies within `threshold` standard deviations of that mode's centre; a
mode is *covered* when it holds at least one high-quality sample. The KL
divergence is that of the histogram of high-quality samples over modes from
the uniform distribution (0 when every mode gets the same share).
"""

from __future__ import annotations

import math

import torch

NUM_SAMPLES = 2500  # VEEGAN and PacGAN evaluate 2,500 samples
THRESHOLD_STDS = 3.0


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float,
                  threshold_stds: float = THRESHOLD_STDS) -> dict:
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
    if total:
        p = counts[counts > 0].double() / total
        kl = float((p * (p * num_modes).log()).sum())
    else:
        kl = None  # undefined: no sample lands near any mode
    return {
        "modes_covered": int((counts > 0).sum()),
        "num_modes": num_modes,
        "high_quality_pct": 100.0 * total / max(len(samples), 1),
        "kl_uniform": kl,
        "max_kl_uniform": math.log(num_modes),
    }


def protocol(num_samples: int, threshold_stds: float = THRESHOLD_STDS) -> dict:
    return {
        "metric": "mode-coverage",
        "num_samples": num_samples,
        "assignment": "nearest mode centre (Euclidean)",
        "high_quality": f"within {threshold_stds:g} std of the nearest centre",
        "covered": "at least one high-quality sample",
        "kl": "KL(histogram of high-quality samples over modes || uniform), nats",
        "reference": "VEEGAN (Srivastava et al. 2017), PacGAN (Lin et al. 2018)",
    }
