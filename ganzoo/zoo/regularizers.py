"""Discriminator regularisers: small objects added to D's loss.

Each is called as ``reg(discriminator, real, fake, labels)`` and returns the
weighted penalty. They compose with any loss and with each other
(`TrainConfig.regularizer`: one name, or several joined by commas, e.g. R3GAN's
``r1,r2``). The built-ins register through the `ganzoo_register_regularizers`
hook, like a plugin's.
"""

from __future__ import annotations

import torch

from ganzoo.plugin.hookspecs import hookimpl


def _input_gradient(discriminator, x: torch.Tensor, labels) -> torch.Tensor:
    """d D(x) / dx per sample, flattened, kept in the graph for a second backward."""
    x = x.detach().requires_grad_(True)
    logits = discriminator(x, labels)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.flatten(1)


def _zero_centred_penalty(discriminator, x: torch.Tensor, labels, gamma: float) -> torch.Tensor:
    """gamma/2 * E||grad D(x)||^2: R1 on the reals, R2 on the fakes."""
    return 0.5 * gamma * _input_gradient(discriminator, x, labels).pow(2).sum(dim=1).mean()


class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017): weight * E[(||grad D(x_hat)|| - 1)^2] on
    random interpolates x_hat between real and fake samples."""

    name = "gradient-penalty"

    def __init__(self, weight: float = 10.0, target: float = 1.0):
        self.weight, self.target = float(weight), float(target)

    def __call__(self, discriminator, real, fake, labels=None) -> torch.Tensor:
        eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype)
        x_hat = eps * real.detach() + (1 - eps) * fake.detach()
        norms = _input_gradient(discriminator, x_hat, labels).norm(2, dim=1)
        return self.weight * ((norms - self.target) ** 2).mean()


class R1Penalty:
    """R1 (Mescheder et al. 2018): gamma/2 * E_real[||grad D(x)||^2]."""

    name = "r1"

    def __init__(self, gamma: float = 10.0):
        self.gamma = float(gamma)

    def __call__(self, discriminator, real, fake, labels=None) -> torch.Tensor:
        return _zero_centred_penalty(discriminator, real, labels, self.gamma)


class R2Penalty:
    """R2 (Mescheder et al. 2018; with R1, R3GAN's pair, Huang et al. 2024):
    gamma/2 * E_fake[||grad D(x)||^2]. R1 alone keeps D flat on the data; R2 also on the
    fakes, which R3GAN needs for its convergence proof with the relativistic pairing loss."""

    name = "r2"
    takes_fake_labels = True  # a conditional D judges each fake with the class it was made for

    def __init__(self, gamma: float = 10.0):
        self.gamma = float(gamma)

    def __call__(self, discriminator, real, fake, labels=None, fake_labels=None) -> torch.Tensor:
        return _zero_centred_penalty(discriminator, fake, fake_labels, self.gamma)


@hookimpl
def ganzoo_register_regularizers(register):
    register("r1", R1Penalty, description="gamma/2 * E||grad D(real)||^2", paper="Mescheder et al. 2018")
    register(
        "r2",
        R2Penalty,
        description="gamma/2 * E||grad D(fake)||^2; r1,r2 is R3GAN's pair",
        paper="Mescheder et al. 2018; Huang et al. 2024",
    )
    register(
        "gradient-penalty",
        GradientPenalty,
        description="(||grad D(interpolate)|| - 1)^2, WGAN-GP's",
        paper="Gulrajani et al. 2017",
    )
