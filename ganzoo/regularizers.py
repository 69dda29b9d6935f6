"""Discriminator regularisers: small objects added to D's loss.

Each is called as ``reg(discriminator, real, fake, labels)`` and returns the
weighted penalty. They compose with any loss (`TrainConfig.regularizer`). The
built-ins register through the `ganzoo_register_regularizers` hook, like a plugin's.
"""

from __future__ import annotations

import torch

from .errors import GanzooError
from .hookspecs import hookimpl
from .registry import check_options


def _input_gradient(discriminator, x: torch.Tensor, labels) -> torch.Tensor:
    """d D(x) / dx per sample, flattened, kept in the graph for a second backward."""
    x = x.detach().requires_grad_(True)
    logits = discriminator(x, labels)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.flatten(1)


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
        grad = _input_gradient(discriminator, real, labels)
        return 0.5 * self.gamma * grad.pow(2).sum(dim=1).mean()


@hookimpl
def ganzoo_register_regularizers(register):
    register("r1", R1Penalty, description="gamma/2 * E||grad D(real)||^2", paper="Mescheder et al. 2018")
    register("gradient-penalty", GradientPenalty, description="(||grad D(interpolate)|| - 1)^2, WGAN-GP's",
             paper="Gulrajani et al. 2017")


def create_regularizer(name: str, **options):
    """A regulariser by name, with its options checked (`--reg r1 --reg-opt gamma=1`)."""
    from .plugins import call_factory, origin, registry

    entry = registry("regularizer").get(name)
    regularizer = call_factory(entry, **check_options(entry, options))
    if not callable(regularizer):
        raise GanzooError(f"Regulariser '{name}' from {origin(entry)} is not callable as "
                          "reg(discriminator, real, fake, labels); fix the plugin's factory.")
    return regularizer
