"""Adversarial losses, computed from discriminator logits.

Conventions: `real_logits` = D(x) for data, `fake_logits` = D(G(z)); for the
probabilistic losses D(x) = sigmoid(logit). Each method returns the quantity its
player *minimises*. All are registered by name through the plugin hook below,
the same way a plugin registers its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganzoo.core.losses import Loss
from ganzoo.plugin.hookspecs import hookimpl
from ganzoo.zoo.regularizers import GradientPenalty


def _bce_discriminator_loss(real_logits, fake_logits):
    # -log D(x) - log(1 - D(G(z))), with log sigmoid(l) = -softplus(-l)
    # and log(1 - sigmoid(l)) = -softplus(l): exact and stable for any logit.
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


class MinimaxLoss(Loss):
    """Goodfellow et al. 2014 as written: G minimises log(1 - D(G(z))).

    Not binary cross-entropy against "real" labels: that is the non-saturating
    loss. This one saturates: its gradient vanishes as D(G(z)) -> 0.
    """

    name = "minimax"

    def discriminator_loss(self, real_logits, fake_logits):
        return _bce_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits, real_logits=None):
        return (-F.softplus(fake_logits)).mean()  # = mean log(1 - sigmoid(l))


class NonSaturatingLoss(Loss):
    """Goodfellow et al. 2014, the practical variant: G minimises -log D(G(z))."""

    name = "non-saturating"

    def discriminator_loss(self, real_logits, fake_logits):
        return _bce_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits, real_logits=None):
        return F.softplus(-fake_logits).mean()  # = mean -log sigmoid(l)


class WassersteinLoss(Loss):
    """WGAN (Arjovsky et al. 2017): critic maximises E[D(x)] - E[D(G(z))], its
    weights clipped to [-clip, clip] after every step."""

    name = "wasserstein"

    def __init__(self, clip: float = 0.01):
        self.clip = clip

    def discriminator_loss(self, real_logits, fake_logits):
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits, real_logits=None):
        return -fake_logits.mean()

    @torch.no_grad()
    def after_discriminator_step(self, discriminator):
        if self.clip > 0:
            for p in discriminator.parameters():
                p.clamp_(-self.clip, self.clip)


class WassersteinGPLoss(WassersteinLoss):
    """WGAN-GP (Gulrajani et al. 2017): the Wasserstein loss with a gradient
    penalty on interpolates instead of weight clipping."""

    name = "wgan-gp"

    def __init__(self, gp_weight: float = 10.0):
        super().__init__(clip=0.0)
        self.regularizers = (GradientPenalty(weight=gp_weight),)


class HingeLoss(Loss):
    """Hinge loss (Lim & Ye 2017; SNGAN, BigGAN): D minimises
    E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; G minimises -E[D(G(z))]."""

    name = "hinge"

    def discriminator_loss(self, real_logits, fake_logits):
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def generator_loss(self, fake_logits, real_logits=None):
        return -fake_logits.mean()


class LeastSquaresLoss(Loss):
    """LSGAN (Mao et al. 2017) with a=0, b=c=1: D minimises
    1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]; G minimises 1/2 E[(D(G(z)) - 1)^2]."""

    name = "least-squares"

    def discriminator_loss(self, real_logits, fake_logits):
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()

    def generator_loss(self, fake_logits, real_logits=None):
        return 0.5 * ((fake_logits - 1) ** 2).mean()


class RelativisticPairingLoss(Loss):
    """RpGAN (Jolicoeur-Martineau 2019's relativistic GAN, as R3GAN names and uses it, Huang
    et al. 2024): each real sample is paired with a fake one, and D is asked how much more
    real the real one looks, softplus(-(D(x) - D(G(z)))); G the reverse. Pairing takes away
    the plain GAN's bad local minima, where G drops modes (Sun et al. 2020); R3GAN adds R1
    and R2 (`--reg r1,r2`) so that training also converges locally."""

    generator_needs_real = True

    def discriminator_loss(self, real_logits, fake_logits):
        return F.softplus(fake_logits - real_logits).mean()

    def generator_loss(self, fake_logits, real_logits=None):
        return F.softplus(real_logits - fake_logits).mean()


@hookimpl
def ganzoo_register_losses(register):
    register(
        "minimax", MinimaxLoss, description="G minimises log(1 - D(G(z))) (saturating)", paper="Goodfellow et al. 2014"
    )
    register(
        "non-saturating", NonSaturatingLoss, description="G minimises -log D(G(z))", paper="Goodfellow et al. 2014"
    )
    # The WGAN papers' own optimiser settings: these override an architecture's.
    register(
        "wasserstein",
        WassersteinLoss,
        train_defaults={"n_d": 5, "optimizer": "rmsprop", "g_lr": 5e-5, "d_lr": 5e-5},
        description="critic with weight clipping",
        paper="Arjovsky et al. 2017",
    )
    register(
        "wgan-gp",
        WassersteinGPLoss,
        train_defaults={"n_d": 5, "g_lr": 1e-4, "d_lr": 1e-4, "betas": (0.0, 0.9)},
        description="critic with gradient penalty on interpolates",
        paper="Gulrajani et al. 2017",
    )
    register("hinge", HingeLoss, description="hinge loss", paper="Lim & Ye 2017; Miyato et al. 2018")
    register("least-squares", LeastSquaresLoss, description="LSGAN, a=0 b=c=1", paper="Mao et al. 2017")
    register(
        "rpgan",
        RelativisticPairingLoss,
        description="relativistic pairing: softplus(D(fake) - D(real)), R3GAN's loss (with --reg r1,r2)",
        paper="Jolicoeur-Martineau 2019; Huang et al. 2024",
    )
