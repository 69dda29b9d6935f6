"""The Fréchet distance between two Gaussians fitted to features, in NumPy/SciPy.

Written independently of torch-fidelity so that its FID can be checked against
a second computation from the same features (Heusel et al. 2017):

    FID = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (rows are samples), in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need a 2D array of at least 2 samples, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1 S2, which are
    real and >= 0 for two covariances and the same for S2 S1. Computed that way (as torchmetrics
    does) the distance is symmetric and never negative, singular covariances included (ReLU
    features that are always 0): the reference code's sqrtm needs an eps added to both
    covariances there, which makes the result depend on the order of the arguments."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    eigenvalues = linalg.eigvals(sigma1 @ sigma2)
    # Rounding leaves tiny imaginary parts and tiny negative values; in exact arithmetic there are none.
    trace_covmean = np.sqrt(np.clip(eigenvalues.real, 0.0, None)).sum()
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_covmean)


def fid_from_features(features1, features2) -> float:
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))
