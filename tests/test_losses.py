"""Each loss against its formula on hand-computed logits, and the saturation claim."""

import math

import pytest
import torch

import ganzoo
from ganzoo.core.regularization import penalties
from ganzoo.plugin.api import named_regularizers
from ganzoo.zoo.regularizers import GradientPenalty, R1Penalty, R2Penalty

REAL = torch.tensor([2.0, -1.0])  # D(x) logits
FAKE = torch.tensor([0.5, -3.0])  # D(G(z)) logits


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def mean(values):
    return sum(values) / len(values)


# Expected values written out from each paper's formula, with D = sigmoid(logit).
BCE_D = mean([-math.log(sigmoid(r)) for r in REAL.tolist()]) + mean([-math.log(1 - sigmoid(f)) for f in FAKE.tolist()])
EXPECTED = {
    "minimax": (BCE_D, mean([math.log(1 - sigmoid(f)) for f in FAKE.tolist()])),
    "non-saturating": (BCE_D, mean([-math.log(sigmoid(f)) for f in FAKE.tolist()])),
    "wasserstein": (mean(FAKE.tolist()) - mean(REAL.tolist()), -mean(FAKE.tolist())),
    "wgan-gp": (mean(FAKE.tolist()) - mean(REAL.tolist()), -mean(FAKE.tolist())),
    "hinge": (
        mean([max(0, 1 - r) for r in REAL.tolist()]) + mean([max(0, 1 + f) for f in FAKE.tolist()]),
        -mean(FAKE.tolist()),
    ),
    "least-squares": (
        0.5 * mean([(r - 1) ** 2 for r in REAL.tolist()]) + 0.5 * mean([f**2 for f in FAKE.tolist()]),
        0.5 * mean([(f - 1) ** 2 for f in FAKE.tolist()]),
    ),
    # RpGAN pairs the i-th real with the i-th fake: -log sigmoid(D(x_i) - D(G(z_i))).
    "rpgan": (
        mean([-math.log(sigmoid(r - f)) for r, f in zip(REAL.tolist(), FAKE.tolist())]),
        mean([-math.log(sigmoid(f - r)) for r, f in zip(REAL.tolist(), FAKE.tolist())]),
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_matches_formula(name):
    loss = ganzoo.create_loss(name)
    d_expected, g_expected = EXPECTED[name]
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert loss.generator_loss(FAKE, REAL).item() == pytest.approx(g_expected, rel=1e-6)


def test_every_core_loss_is_checked():
    core = [
        n for n in ganzoo.list_losses() if ganzoo.plugin.manager.registry("loss").get(n).plugin == "ganzoo.zoo.losses"
    ]
    assert sorted(core) == sorted(EXPECTED)


def generator_gradient(name, logit):
    fake_logit = torch.tensor([logit], requires_grad=True)
    ganzoo.create_loss(name).generator_loss(fake_logit).backward()
    return fake_logit.grad.item()


def test_minimax_generator_gradient_vanishes_when_d_rejects_fakes():
    # D(G(z)) = sigmoid(-20) ~ 2e-9: d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0.
    assert abs(generator_gradient("minimax", -20.0)) < 1e-8
    # ...while the non-saturating gradient d/dl -log sigmoid(l) = sigmoid(l) - 1 -> -1.
    assert generator_gradient("non-saturating", -20.0) == pytest.approx(-1.0, abs=1e-6)
    # Where D is fooled, it is the other way round.
    assert generator_gradient("minimax", 20.0) == pytest.approx(-1.0, abs=1e-6)
    assert abs(generator_gradient("non-saturating", 20.0)) < 1e-8


def test_minimax_is_not_bce_against_ones():
    # The mistake in other zoos: BCE(D(G(z)), 1) is the non-saturating loss.
    bce_ones = torch.nn.functional.binary_cross_entropy_with_logits(FAKE, torch.ones(2))
    assert ganzoo.create_loss("non-saturating").generator_loss(FAKE).item() == pytest.approx(bce_ones.item())
    assert ganzoo.create_loss("minimax").generator_loss(FAKE).item() != pytest.approx(bce_ones.item())


def test_stable_for_extreme_logits():
    big = torch.tensor([-1e4, 1e4])
    for name in EXPECTED:
        loss = ganzoo.create_loss(name)
        assert torch.isfinite(loss.discriminator_loss(big, big))
        assert torch.isfinite(loss.generator_loss(big, big))


class Linear(torch.nn.Module):
    """D(x) = w . x: its input gradient is w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w))

    def forward(self, x, labels=None):
        return x @ self.w


def test_gradient_penalty_on_linear_critic():
    D = Linear([3.0, 4.0])  # ||grad|| = 5 at every interpolate
    penalty = GradientPenalty(weight=10.0)(D, torch.randn(8, 2), torch.randn(8, 2))
    assert penalty.item() == pytest.approx(10 * (5 - 1) ** 2)
    penalty.backward()  # differentiable w.r.t. D's weights (double backward)
    assert D.w.grad is not None and torch.isfinite(D.w.grad).all()


def test_wgan_gp_includes_the_penalty():
    loss = ganzoo.create_loss("wgan-gp", gp_weight=2.0)
    (reg,) = loss.regularizers
    assert reg(Linear([0.6, 0.8]), torch.randn(4, 2), torch.randn(4, 2)).item() == pytest.approx(0.0, abs=1e-10)
    assert reg.weight == 2.0


def test_r1_on_linear_discriminator():
    D = Linear([3.0, 4.0])
    assert R1Penalty(gamma=2.0)(D, torch.randn(8, 2), None).item() == pytest.approx(0.5 * 2.0 * 25)
    assert ganzoo.create_regularizer("r1", gamma=1.0).gamma == 1.0


def test_rpgan_pairs_each_real_with_one_fake():
    """Unlike the plain GAN's, its value changes when the fakes are paired differently."""
    loss = ganzoo.create_loss("rpgan")
    assert loss.generator_needs_real
    assert loss.discriminator_loss(REAL, FAKE).item() != pytest.approx(
        loss.discriminator_loss(REAL, FAKE.flip(0)).item()
    )
    assert loss.discriminator_loss(REAL, REAL).item() == pytest.approx(math.log(2))  # indistinguishable pairs


class Squared(torch.nn.Module):
    """D(x) = c * ||x||^2 / 2, c the label when there is one: its input gradient is c x."""

    def forward(self, x, labels=None):
        c = 1.0 if labels is None else labels.float()
        return c * x.pow(2).sum(1) / 2


def test_r2_penalises_the_gradient_at_the_fakes_and_r1_at_the_reals():
    real, fake = torch.full((4, 2), 1.0), torch.full((4, 2), 3.0)
    assert R1Penalty(gamma=2.0)(Squared(), real, fake).item() == pytest.approx(0.5 * 2.0 * 2)  # ||x||^2 = 2
    assert R2Penalty(gamma=2.0)(Squared(), real, fake).item() == pytest.approx(0.5 * 2.0 * 18)  # ||x||^2 = 18
    # A conditional D judges the fakes with their own labels (here 2), the reals with theirs (1).
    real_labels, fake_labels = torch.ones(4, dtype=torch.long), torch.full((4,), 2)
    both = penalties(
        named_regularizers("r1,r2", {"gamma": 2.0}).values(), Squared(), real, fake, real_labels, fake_labels
    )
    assert both.item() == pytest.approx(0.5 * 2.0 * 2 + 0.5 * 2.0 * 18 * 4)


def test_several_regularisers_share_or_split_their_options():
    r1, r2 = named_regularizers("r1, r2", {"gamma": 0.05}).values()  # R3GAN: one gamma for both
    assert (type(r1), type(r2), r1.gamma, r2.gamma) == (R1Penalty, R2Penalty, 0.05, 0.05)
    r1, r2 = named_regularizers("r1,r2", {"gamma": 1.0, "r2.gamma": 3.0}).values()
    assert (r1.gamma, r2.gamma) == (1.0, 3.0)
    assert named_regularizers(None, {}) == {}
    with pytest.raises(ganzoo.GanzooError, match="option 'weight'.*r1: gamma; r2: gamma"):
        named_regularizers("r1,r2", {"weight": 1.0})
    with pytest.raises(ganzoo.GanzooError, match="'gradient-penalty.weight' is for 'gradient-penalty'.*r1, r2"):
        named_regularizers("r1,r2", {"gradient-penalty.weight": 1.0})
    with pytest.raises(ganzoo.GanzooError, match="name one twice"):
        named_regularizers("r1,r1", {})
    with pytest.raises(ganzoo.GanzooError, match="r2"):  # an unknown name lists the close ones
        named_regularizers("r1,r3", {})


def test_wasserstein_clips_critic_weights():
    loss = ganzoo.create_loss("wasserstein", clip=0.05)
    D = torch.nn.Linear(2, 1)
    with torch.no_grad():
        D.weight.fill_(3.0)
    loss.after_discriminator_step(D)
    assert D.weight.abs().max().item() == pytest.approx(0.05)


def test_loss_options_are_checked():
    with pytest.raises(ganzoo.GanzooError, match="has no option 'clipp'. Did you mean 'clip' for 'clipp'.*clip=0.01"):
        ganzoo.create_loss("wasserstein", clipp=0.1)
    with pytest.raises(ganzoo.GanzooError, match="expects a number"):
        ganzoo.create_loss("wasserstein", clip="big")
