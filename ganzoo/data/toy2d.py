"""2D mixtures of Gaussians from the mode-collapse literature.

`ring8`: 8 modes on a circle of radius 2, sigma 0.02 (Unrolled GAN, VEEGAN).
`grid25`: 25 modes at {-4,-2,0,2,4}^2, sigma 0.05 (VEEGAN, PacGAN).
Both are infinite: every batch is a fresh draw, from a generator whose state is
checkpointed.
"""

from __future__ import annotations

import math

import torch

from ..hookspecs import hookimpl
from . import Dataset, SampledBatches


class GaussianMixture2D(Dataset):
    """Equal-weight isotropic Gaussians at `centers` (K x 2), each with std `std`."""

    sample_shape = (2,)

    def __init__(self, name: str, centers: torch.Tensor, std: float, labelled: bool = False):
        if std <= 0:
            from ..errors import GanzooError

            raise GanzooError(f"Data set '{name}': std must be positive, got {std}.")
        self.name = name
        self.centers = centers.to(torch.float32)
        self.std = float(std)
        # Labelled: each point's label is its mode, for class-conditional models.
        self.num_classes = self.num_modes if labelled else 0

    @property
    def num_modes(self) -> int:
        return self.centers.shape[0]

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


def ring(num_modes: int = 8, radius: float = 2.0, std: float = 0.02, labelled: bool = False) -> GaussianMixture2D:
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    centers = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture2D("ring8", centers, std, labelled)


def grid(num_per_side: int = 5, spacing: float = 2.0, std: float = 0.05, labelled: bool = False) -> GaussianMixture2D:
    coords = (torch.arange(num_per_side, dtype=torch.float64) - (num_per_side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    centers = torch.stack([xs.flatten(), ys.flatten()], dim=1)
    return GaussianMixture2D("grid25", centers, std, labelled)


@hookimpl
def ganzoo_register_datasets(register):
    register("ring8", ring, description="8 Gaussians on a circle of radius 2, sigma 0.02")
    register("grid25", grid, description="25 Gaussians on a 5x5 grid with spacing 2, sigma 0.05")
