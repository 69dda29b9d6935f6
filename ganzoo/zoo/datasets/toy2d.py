"""2D mixtures of Gaussians from the mode-collapse literature.

`ring8`: 8 modes on a circle of radius 2, sigma 0.02 (Unrolled GAN, VEEGAN).
`ring8-pacgan`: 8 modes on the unit circle, sigma 0.01 (PacGAN's code:
  synthetic_data_experiments/2DRing_GAN&PacGAN/config.py).
`grid25`: 25 modes at {-4,-2,0,2,4}^2, sigma 0.05 (VEEGAN, PacGAN).
Every variant is also reachable by option (`--data-opt radius=1 --data-opt std=0.01`).
All are infinite: every batch is a fresh draw, from a generator whose state is
checkpointed.

The ring's angles are k * 2*pi / K for k = 0..K-1. A widely copied bug,
`linspace(0, 2*pi, 8)`, includes both ends of the circle and so has 7 distinct
modes; the tests check that every centre is distinct.
"""

from __future__ import annotations

import math

import torch

from ganzoo.core.data import Dataset, SampledBatches
from ganzoo.errors import GanzooError
from ganzoo.plugin.hookspecs import hookimpl


class GaussianMixture2D(Dataset):
    """Equal-weight isotropic Gaussians at `centers` (K x 2), each with std `std`."""

    sample_shape = (2,)
    offers = frozenset({"modes"})  # centers, std, mode_weights

    def __init__(self, name: str, centers: torch.Tensor, std: float, labelled: bool = False):
        if std <= 0:
            raise GanzooError(f"Data set '{name}': std must be positive, got {std}.")
        if centers.shape[0] < 1:
            raise GanzooError(f"Data set '{name}' needs at least one mode, got {centers.shape[0]}.")
        self.name = name
        self.centers = centers.to(torch.float32)
        self.std = float(std)
        # Labelled: each point's label is its mode, for class-conditional models.
        self.num_classes = self.num_modes if labelled else 0

    @property
    def num_modes(self) -> int:
        return self.centers.shape[0]

    @property
    def mode_weights(self) -> torch.Tensor:
        """The true distribution over modes (equal weights), which reverse KL compares with."""
        return torch.full((self.num_modes,), 1.0 / self.num_modes, dtype=torch.float64)

    def sample(self, n: int, generator: torch.Generator | None = None):
        """`n` points and the index of the mode each came from."""
        modes = torch.randint(self.num_modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator) * self.std
        return self.centers[modes] + noise, modes

    def batches(self, batch_size, device, seed):
        def draw(n, rng):  # labels are the modes, for class-conditional models only
            x, modes = self.sample(n, rng)
            return x, modes if self.num_classes else None

        return SampledBatches(draw, batch_size, device, seed)

    def describe(self):
        return {**self.describe_short(), "centers": self.centers.tolist()}

    def describe_short(self):
        return {**super().describe(), "num_modes": self.num_modes, "std": self.std}


def ring_centers(num_modes: int, radius: float) -> torch.Tensor:
    """K centres evenly spaced on a circle, the first at angle 0 (never linspace(0, 2*pi, K))."""
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def _ring_factory(name: str, radius: float, std: float):
    def ring(num_modes: int = 8, radius: float = radius, std: float = std, labelled: bool = False) -> GaussianMixture2D:

        if radius <= 0 or num_modes < 1:
            raise GanzooError(
                f"Data set '{name}' needs num_modes >= 1 and a positive radius, "
                f"got num_modes={num_modes}, radius={radius}."
            )
        return GaussianMixture2D(name, ring_centers(num_modes, radius), std, labelled)

    return ring


ring = _ring_factory("ring8", radius=2.0, std=0.02)
ring_pacgan = _ring_factory("ring8-pacgan", radius=1.0, std=0.01)


def grid(num_per_side: int = 5, spacing: float = 2.0, std: float = 0.05, labelled: bool = False) -> GaussianMixture2D:
    if spacing <= 0 or num_per_side < 1:
        raise GanzooError(
            f"Data set 'grid25' needs num_per_side >= 1 and a positive spacing, "
            f"got num_per_side={num_per_side}, spacing={spacing}."
        )
    coords = (torch.arange(num_per_side, dtype=torch.float64) - (num_per_side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    centers = torch.stack([xs.flatten(), ys.flatten()], dim=1)
    return GaussianMixture2D("grid25", centers, std, labelled)


@hookimpl
def ganzoo_register_datasets(register):
    register("ring8", ring, description="8 Gaussians on a circle of radius 2, sigma 0.02 (VEEGAN, Unrolled GAN)")
    register("ring8-pacgan", ring_pacgan, description="8 Gaussians on the unit circle, sigma 0.01 (PacGAN)")
    register("grid25", grid, description="25 Gaussians on a 5x5 grid with spacing 2, sigma 0.05 (VEEGAN, PacGAN)")
