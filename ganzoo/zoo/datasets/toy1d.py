"""1D densities with known pdf and cdf, for the theory lab and small experiments.

`mixture1d`: a Gaussian mixture (default: the bimodal 0.5 N(-1, 0.5^2) + 0.5 N(1.5, 0.4^2)).
`uniform1d`: the uniform density on [low, high].

Unlike image data, these densities can be evaluated, so a GAN trained on them can be
compared with what the theory predicts: D*(x) = p_data / (p_data + p_g), the
Jensen-Shannon divergence, the Wasserstein-1 distance. Densities and integrals are in
float64; samples are float32 of shape (n, 1), like any other batch.
"""

from __future__ import annotations

import math

import torch

from ganzoo.core.data import Dataset, SampledBatches
from ganzoo.errors import GanzooError
from ganzoo.plugin.hookspecs import hookimpl


class Density1D(Dataset):
    """A 1D distribution that can be sampled and evaluated."""

    sample_shape = (1,)
    offers = frozenset({"density"})  # pdf, span

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def draw(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n` samples, float64, shape (n,)."""
        raise NotImplementedError

    def span(self) -> tuple[float, float]:
        """An interval holding all but a negligible (< 1e-12) share of the mass."""
        raise NotImplementedError

    def shifted(self, delta: float) -> Density1D:
        """The same density moved right by `delta`."""
        raise NotImplementedError

    def mean(self) -> float:
        raise NotImplementedError

    def std(self) -> float:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(n, generator).to(torch.float32).unsqueeze(1)

    def batches(self, batch_size, device, seed):
        return SampledBatches(lambda n, rng: (self.sample(n, rng), None), batch_size, device, seed)


class GaussianMixture1D(Density1D):
    def __init__(self, weights=(0.5, 0.5), means=(-1.0, 1.5), stds=(0.5, 0.4), name: str = "mixture1d"):
        weights, means, stds = (torch.as_tensor(v, dtype=torch.float64).flatten() for v in (weights, means, stds))
        if not (len(weights) == len(means) == len(stds)) or len(weights) == 0:
            raise GanzooError(
                f"Data set '{name}': weights, means and stds must be lists of the same non-zero "
                f"length, got {len(weights)}, {len(means)} and {len(stds)}."
            )
        if (weights <= 0).any() or (stds <= 0).any():
            raise GanzooError(f"Data set '{name}': weights and stds must be positive.")
        self.name = name
        self.weights, self.means, self.stds = weights / weights.sum(), means, stds

    def pdf(self, x):
        z = (x.to(torch.float64).unsqueeze(-1) - self.means) / self.stds
        return (self.weights * torch.exp(-0.5 * z**2) / (self.stds * math.sqrt(2 * math.pi))).sum(-1)

    def cdf(self, x):
        z = (x.to(torch.float64).unsqueeze(-1) - self.means) / self.stds
        return (self.weights * 0.5 * torch.erfc(-z / math.sqrt(2))).sum(-1)

    def draw(self, n, generator=None):
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, generator=generator, dtype=torch.float64)
        return self.means[component] + self.stds[component] * noise

    def span(self):
        # 7.5 standard deviations leave < 1e-13 of a Gaussian's mass outside.
        return float((self.means - 7.5 * self.stds).min()), float((self.means + 7.5 * self.stds).max())

    def shifted(self, delta):
        return GaussianMixture1D(self.weights, self.means + delta, self.stds, self.name)

    def mean(self):
        return float((self.weights * self.means).sum())

    def std(self):
        second = (self.weights * (self.stds**2 + self.means**2)).sum()
        return float((second - self.mean() ** 2).sqrt())

    def describe(self):
        return {
            **super().describe(),
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "stds": self.stds.tolist(),
        }


class Uniform1D(Density1D):
    def __init__(self, low: float = 0.0, high: float = 1.0, name: str = "uniform1d"):
        if not high > low:
            raise GanzooError(f"Data set '{name}': high must be greater than low, got low={low}, high={high}.")
        self.name, self.low, self.high = name, float(low), float(high)

    def pdf(self, x):
        x = x.to(torch.float64)
        inside = (x >= self.low) & (x <= self.high)
        return inside.to(torch.float64) / (self.high - self.low)

    def cdf(self, x):
        return ((x.to(torch.float64) - self.low) / (self.high - self.low)).clamp(0, 1)

    def draw(self, n, generator=None):
        return self.low + (self.high - self.low) * torch.rand(n, generator=generator, dtype=torch.float64)

    def span(self):
        return self.low, self.high

    def shifted(self, delta):
        return Uniform1D(self.low + delta, self.high + delta, self.name)

    def mean(self):
        return (self.low + self.high) / 2

    def std(self):
        return (self.high - self.low) / math.sqrt(12)

    def describe(self):
        return {**super().describe(), "low": self.low, "high": self.high}


def mixture1d(weights=(0.5, 0.5), means=(-1.0, 1.5), stds=(0.5, 0.4)) -> GaussianMixture1D:
    return GaussianMixture1D(weights, means, stds)


def uniform1d(low: float = 0.0, high: float = 1.0) -> Uniform1D:
    return Uniform1D(low, high)


@hookimpl
def ganzoo_register_datasets(register):
    register(
        "mixture1d",
        mixture1d,
        description="1D Gaussian mixture with known density (default 0.5 N(-1, 0.5^2) + 0.5 N(1.5, 0.4^2))",
    )
    register("uniform1d", uniform1d, description="uniform density on [low, high] (default [0, 1])")
