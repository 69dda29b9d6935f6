"""The independent Fréchet distance on cases with a closed form."""

import numpy as np
import pytest

from ganzoo.evaluation.frechet import feature_statistics, fid_from_features, frechet_distance


def test_identical_gaussians_are_at_distance_zero():
    sigma = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma) == pytest.approx(0.0, abs=1e-9)


def test_shifted_means_add_the_squared_distance():
    assert frechet_distance(np.zeros(3), np.eye(3), np.array([1.0, 2.0, 2.0]), np.eye(3)) == pytest.approx(9.0)


def test_diagonal_covariances():
    # For commuting covariances: sum over dimensions of (sqrt(a) - sqrt(b))^2.
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b)) == pytest.approx(expected)


def test_from_samples_converges_to_the_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, size=(200_000, 2))
    y = rng.normal(1.0, 2.0, size=(200_000, 2))
    # ||mu||^2 = 2, and per dimension (1 - 2)^2 = 1: FID = 4.
    assert fid_from_features(x, y) == pytest.approx(4.0, rel=0.02)
    mu, sigma = feature_statistics(x)
    assert mu.shape == (2,) and sigma.shape == (2, 2)
