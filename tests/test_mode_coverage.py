"""The VEEGAN/PacGAN mode-coverage protocol on samples whose answer is known."""

import math

import pytest
import torch

import ganzoo
from ganzoo.evaluation.mode_coverage import mode_coverage


@pytest.mark.parametrize("name,modes", [("ring8", 8), ("grid25", 25)])
def test_real_data_covers_every_mode(name, modes):
    data = ganzoo.create_dataset(name)
    samples, _ = data.sample(2500, torch.Generator().manual_seed(0))
    result = mode_coverage(samples, data.centers, data.std)
    assert result["modes_covered"] == result["num_modes"] == modes
    # P(r <= 3 sigma) for a 2D isotropic Gaussian is 1 - exp(-9/2) = 98.89%.
    assert result["high_quality_pct"] == pytest.approx(100 * (1 - math.exp(-4.5)), abs=0.6)
    assert result["reverse_kl"] < 0.02


def test_collapsed_generator_covers_one_mode():
    data = ganzoo.create_dataset("ring8")
    samples = data.centers[3].repeat(2500, 1) + 0.01 * torch.randn(2500, 2)
    result = mode_coverage(samples, data.centers, data.std)
    assert result["modes_covered"] == 1
    assert result["reverse_kl"] == pytest.approx(math.log(8))


def test_samples_between_modes_are_low_quality():
    data = ganzoo.create_dataset("grid25")
    samples = torch.full((100, 2), 1.0)  # halfway between grid points
    result = mode_coverage(samples, data.centers, data.std)
    assert result == {**result, "modes_covered": 0, "high_quality_pct": 0.0, "reverse_kl": None}


def test_dataset_parameters_are_overridable():
    data = ganzoo.create_dataset("ring8", num_modes=4, radius=1.0, std=0.1)
    assert data.centers.shape == (4, 2) and data.std == 0.1
    assert torch.allclose(data.centers.norm(dim=1), torch.ones(4))
    grid = ganzoo.create_dataset("grid25")
    assert sorted(set(grid.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
