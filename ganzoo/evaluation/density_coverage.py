"""Density and coverage (Naeem, Oh, Uh, Choi & Yoo 2020, "Reliable Fidelity and Diversity
Metrics for Generative Models"), on feature vectors.

Each real feature r_i gets the ball B(r_i, NND_k(r_i)) whose radius is the distance to its
k-th nearest *other* real feature. Then, over M generated features f_j,

    density  = 1/(k M) * sum_j #{i : f_j in B(r_i, NND_k(r_i))}
    coverage = 1/N     * #{i : some f_j in B(r_i, NND_k(r_i))}

"In" is a strict `<`, as in the authors' code (clovaai/generative-evaluation-prdc). When
the generated and real features come from one distribution, E[density] = 1 and
E[coverage] = 1 - prod_{i=1..k} (N - i) / (N + M - i) (their Lemmas 1 and 2); the tests
check both. Density can exceed 1 (samples crowding dense real regions); coverage cannot.
"""

from __future__ import annotations

import math

import torch

NEAREST_K = 5  # the paper's k
NUM_SAMPLES = 10_000  # the paper's real and generated sample counts


def _pairwise(a: torch.Tensor, b: torch.Tensor, chunk: int, reduce) -> torch.Tensor:
    """`reduce(distances)` over rows of a, a chunk of rows at a time: the full N x M matrix
    of 10,000 x 10,000 float64 distances would take 800 MB."""
    return torch.cat([reduce(torch.cdist(a[i : i + chunk], b)) for i in range(0, len(a), chunk)])


def _as_rows(features: torch.Tensor) -> torch.Tensor:
    return features.detach().to("cpu", torch.float64).flatten(1)


def real_radii(real: torch.Tensor, k: int = NEAREST_K, chunk: int = 1024) -> torch.Tensor:
    """Each real feature's ball radius: the distance to its k-th nearest other real feature.
    They depend on the real features alone, so a run computes them once."""
    real = _as_rows(real)
    if len(real) <= k:
        raise ValueError(f"density/coverage with k = {k} needs more than {k} real samples, got {len(real)}")
    # The (k+1)-th smallest distance from a real point to the real points: itself is the first.
    return _pairwise(real, real, chunk, lambda d: d.topk(k + 1, dim=1, largest=False).values[:, k])


def density_coverage(
    real: torch.Tensor,
    generated: torch.Tensor,
    k: int = NEAREST_K,
    chunk: int = 1024,
    radii: torch.Tensor | None = None,
) -> dict:
    """`radii`: `real_radii(real, k)`, when the caller kept them."""
    real, generated = _as_rows(real), _as_rows(generated)
    radii = real_radii(real, k, chunk) if radii is None else radii
    inside = _pairwise(generated, real, chunk, lambda d: (d < radii).sum(dim=1))  # per generated sample
    nearest_generated = _pairwise(real, generated, chunk, lambda d: d.min(dim=1).values)
    return {
        "density": float(inside.sum()) / (k * len(generated)),
        "coverage": float((nearest_generated < radii).double().mean()),
        "k": k,
    }


def expected_coverage(num_real: int, num_generated: int, k: int = NEAREST_K) -> float:
    """E[coverage] when generated and real features share one distribution (Lemma 2)."""
    return 1.0 - math.prod((num_real - i) / (num_real + num_generated - i) for i in range(1, k + 1))
