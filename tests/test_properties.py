"""Properties that hold for every input, checked on inputs hypothesis draws (and shrinks to
the smallest counterexample when one fails): each loss is its paper's formula, FID is a
distance, and mode coverage does not depend on the order of the samples."""

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ganzoo
from ganzoo.evaluation.frechet import feature_statistics, fid_from_features, frechet_distance
from ganzoo.evaluation.mode_coverage import mode_coverage

FAST = settings(max_examples=60, deadline=None)

logits = st.lists(st.floats(-30, 30, allow_nan=False), min_size=1, max_size=16)


def log_sigmoid(v: float) -> float:  # log D for a logit, without overflow at either end
    return -math.log1p(math.exp(-v)) if v >= 0 else v - math.log1p(math.exp(v))


def mean(values) -> float:
    return math.fsum(values) / len(values)


def bce_discriminator(real, fake) -> float:  # -E log D(x) - E log(1 - D(G(z))); log(1 - D) = log D(-l)
    return -mean([log_sigmoid(r) for r in real]) - mean([log_sigmoid(-f) for f in fake])


FORMULAS = {  # name -> (D's loss, G's loss), as each paper writes them
    "minimax": (bce_discriminator, lambda real, fake: mean([log_sigmoid(-f) for f in fake])),
    "non-saturating": (bce_discriminator, lambda real, fake: -mean([log_sigmoid(f) for f in fake])),
    "wasserstein": (lambda real, fake: mean(fake) - mean(real), lambda real, fake: -mean(fake)),
    "wgan-gp": (lambda real, fake: mean(fake) - mean(real), lambda real, fake: -mean(fake)),
    "hinge": (
        lambda real, fake: mean([max(0.0, 1 - r) for r in real]) + mean([max(0.0, 1 + f) for f in fake]),
        lambda real, fake: -mean(fake),
    ),
    "least-squares": (
        lambda real, fake: 0.5 * mean([(r - 1) ** 2 for r in real]) + 0.5 * mean([f * f for f in fake]),
        lambda real, fake: 0.5 * mean([(f - 1) ** 2 for f in fake]),
    ),
}


@FAST
@given(name=st.sampled_from(sorted(FORMULAS)), real=logits, fake=logits)
def test_every_loss_is_its_formula_on_any_logits(name, real, fake):
    loss = ganzoo.create_loss(name)
    d_formula, g_formula = FORMULAS[name]
    real_t, fake_t = torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64)
    d_loss, g_loss = loss.discriminator_loss(real_t, fake_t).item(), loss.generator_loss(fake_t, real_t).item()
    assert math.isfinite(d_loss) and math.isfinite(g_loss)
    assert math.isclose(d_loss, d_formula(real, fake), rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(g_loss, g_formula(real, fake), rel_tol=1e-9, abs_tol=1e-9)


features = arrays(
    np.float64, st.tuples(st.integers(4, 24), st.integers(1, 5)), elements=st.floats(-10, 10, allow_nan=False, width=64)
)


@FAST
@given(a=features, b=features)
def test_fid_is_symmetric_non_negative_and_zero_for_equal_statistics(a, b):
    b = b[:, : a.shape[1]] if b.shape[1] >= a.shape[1] else np.resize(b, (b.shape[0], a.shape[1]))
    ab, ba = fid_from_features(a, b), fid_from_features(b, a)
    scale = 1.0 + np.abs(a).max() ** 2 + np.abs(b).max() ** 2
    assert math.isclose(ab, ba, rel_tol=1e-6, abs_tol=1e-6 * scale)
    assert ab >= -1e-6 * scale
    mu, sigma = feature_statistics(a)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) <= 1e-6 * scale


centres = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]])


@FAST
@given(
    points=arrays(
        np.float64, st.tuples(st.integers(1, 200), st.just(2)), elements=st.floats(-3, 3, allow_nan=False, width=64)
    ),
    seed=st.integers(0, 2**31 - 1),
)
def test_mode_coverage_ignores_the_order_of_samples(points, seed):
    samples = torch.from_numpy(points)
    shuffled = samples[torch.randperm(len(samples), generator=torch.Generator().manual_seed(seed))]
    a, b = mode_coverage(samples, centres, std=0.2), mode_coverage(shuffled, centres, std=0.2)
    assert a["modes_covered"] == b["modes_covered"] and a["high_quality_pct"] == b["high_quality_pct"]
    assert (a["reverse_kl"] is None) == (b["reverse_kl"] is None)
    if a["reverse_kl"] is not None:
        assert math.isclose(a["reverse_kl"], b["reverse_kl"], rel_tol=1e-12, abs_tol=1e-12)
        assert 0 <= a["reverse_kl"] <= a["max_reverse_kl"] + 1e-12
