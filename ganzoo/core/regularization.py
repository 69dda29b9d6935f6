"""The regulariser interface: how the training step calls the regularisers a run names.

A regulariser is called as ``reg(discriminator, real, fake, labels)`` and returns its
weighted penalty, which the step adds to D's loss; `TrainConfig.regularizer` names one, or
several joined by commas (R3GAN's ``r1,r2``). ganzoo's own are in `ganzoo.zoo.regularizers`.
"""

from __future__ import annotations

import torch


def regularizer_names(spec: str | None) -> list[str]:
    """'r1,r2' -> ['r1', 'r2']; None or '' -> []."""
    return [name.strip() for name in (spec or "").split(",") if name.strip()]


def penalties(regularizers, discriminator, real, fake, labels, fake_labels) -> torch.Tensor | float:
    """The sum of the regularisers' penalties. One that sets `takes_fake_labels` is also
    handed the fakes' labels (a plugin's regulariser need not know the keyword)."""
    total = 0.0
    for reg in regularizers:
        extra = {"fake_labels": fake_labels} if getattr(reg, "takes_fake_labels", False) else {}
        total = total + reg(discriminator, real, fake, labels, **extra)
    return total
