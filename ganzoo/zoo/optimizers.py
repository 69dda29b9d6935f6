"""Optimisers by name: what `--optimizer` (or a loss's or architecture's training
defaults) picks for both players. ganzoo's own register through the
`ganzoo_register_optimizers` hook, like a plugin's.

A factory is called as ``factory(params, lr=..., betas=...)`` and returns a
`torch.optim.Optimizer`; `betas` is the run's pair, which optimisers without momentum
terms ignore. The Unrolled GAN unrolls D's optimiser step itself and supports Adam and
RMSprop only; it says so for any other.
"""

from __future__ import annotations

import torch

from ganzoo.plugin.hookspecs import hookimpl


def adam(params, lr: float, betas: tuple[float, float] = (0.5, 0.999)) -> torch.optim.Optimizer:
    # The fused kernel updates every tensor in one call; PyTorch's default on the CPU is a
    # Python loop of ~10 small ops per tensor, a fifth of a small GAN's step.
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def rmsprop(params, lr: float, betas: tuple[float, float] = (0.5, 0.999)) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=lr)  # WGAN's optimiser: no momentum, so no betas


@hookimpl
def ganzoo_register_optimizers(register):
    register("adam", adam, description="Adam with the run's betas (fused kernel)", paper="Kingma & Ba 2015")
    register("rmsprop", rmsprop, description="RMSprop, no momentum (WGAN's)", paper="Tieleman & Hinton 2012")
