"""Training a discriminator (or a WGAN critic) against a frozen generator distribution.

The lab's discriminators are ganzoo's own: the registered `mlp` architecture's D,
trained with a registered loss (`minimax`'s D loss is the cross-entropy of the notes,
-log D(x) - log(1 - D(G(z)))), including the loss's regularisers (WGAN-GP's gradient
penalty). Every batch is a fresh draw, so the data are the distributions themselves,
not a finite sample: what D converges to is the population optimum. The learning rate
decays to zero on a cosine so that D settles instead of jittering around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F

from ganzoo.core.regularization import penalties
from ganzoo.plugin.api import create_architecture, create_loss

#: draws n samples of shape (n, 1) from a generator of random numbers
Sampler = Callable[[int, torch.Generator], torch.Tensor]


def sampler_of(source) -> Sampler:
    """A Density1D's or a Generator's samples, without gradients."""
    if hasattr(source, "sample_latent"):

        def draw(n, rng):
            with torch.no_grad():
                return source(source.sample_latent(n, generator=rng))

        return draw
    return source.sample


def new_discriminator(seed: int, hidden: int = 64, layers: int = 2) -> torch.nn.Module:
    torch.manual_seed(seed)
    _, discriminator, _ = create_architecture(
        "mlp", data_shape=(1,), latent_dim=1, d_hidden=hidden, d_layers=layers, g_hidden=1, g_layers=1
    )
    # Start flat (D = 1/2, critic = 0 everywhere) so the data, not the random initial
    # slope, pick the sign of D's slope. In 1D a critic under WGAN-GP's two-sided penalty
    # cannot flip a wrong initial sign: its slope would pass through 0, which costs the
    # penalty weight (10) and is more than the 2 * W1 it would gain for nearby densities.
    head = cast(torch.nn.Linear, discriminator.head)  # the mlp discriminator's output layer
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return discriminator


def fit(
    discriminator,
    real: Sampler,
    fake: Sampler,
    *,
    loss: str = "minimax",
    steps: int = 1000,
    batch_size: int = 512,
    lr: float = 2e-3,
    seed: int = 0,
) -> list[float]:
    """Train `discriminator` on fresh batches for `steps` Adam steps; returns its loss every step."""
    objective = create_loss(loss)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    rng = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(steps):
        x, g = real(batch_size, rng), fake(batch_size, rng)
        d_loss = objective.discriminator_loss(discriminator(x), discriminator(g))
        d_loss = d_loss + penalties(objective.regularizers, discriminator, x, g, None, None)
        optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        optimizer.step()
        schedule.step()
        objective.after_discriminator_step(discriminator)
        history.append(float(d_loss.detach()))
    return history


@torch.no_grad()
def value(discriminator, real: Sampler, fake: Sampler, n: int = 200_000, seed: int = 12345) -> float:
    """Monte Carlo V(G, D) = E_data[log D(x)] + E_G[log(1 - D(x))] on fresh samples (nats)."""
    rng = torch.Generator().manual_seed(seed)
    return float(-F.softplus(-discriminator(real(n, rng))).mean() - F.softplus(discriminator(fake(n, rng))).mean())


@torch.no_grad()
def critic_gap(critic, real: Sampler, fake: Sampler, n: int = 200_000, seed: int = 12345) -> float:
    """E_data[f(x)] - E_G[f(x)]: a 1-Lipschitz critic's estimate of the Wasserstein-1 distance."""
    rng = torch.Generator().manual_seed(seed)
    return float(critic(real(n, rng)).mean() - critic(fake(n, rng)).mean())


@torch.no_grad()
def probability(discriminator, x: torch.Tensor) -> torch.Tensor:
    """D(x) = sigmoid(logit) at float64 points x, as float64."""
    return torch.sigmoid(discriminator(x.to(torch.float32).unsqueeze(1)).to(torch.float64))
