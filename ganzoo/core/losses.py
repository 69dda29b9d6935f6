"""The loss interface: the two players' objectives, computed from discriminator logits.

Conventions: `real_logits` = D(x) for data, `fake_logits` = D(G(z)); for the
probabilistic losses D(x) = sigmoid(logit). Each method returns the quantity its
player *minimises*. ganzoo's own losses are in `ganzoo.zoo.losses`.
"""

from __future__ import annotations

import torch


class Loss:
    """Base class. Subclasses define the two players' objectives."""

    name = ""
    #: Extra terms added to D's loss (e.g. WGAN-GP's gradient penalty).
    regularizers: tuple = ()
    #: Relativistic losses compare fakes with reals in G's step too.
    generator_needs_real = False

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def after_discriminator_step(self, discriminator) -> None:
        """Called after each optimiser step of D (weight clipping lives here)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
