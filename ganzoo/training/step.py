"""One training step, written once: for a run, a torchrun rank and a seed-batched ensemble.

Goodfellow et al.'s algorithm: n_d discriminator updates with G fixed, then one generator
update with D fixed; or, simultaneously (PacGAN's and ALI's code), both players' gradients
from one batch at the current weights; with G judged by D as it is, or as it would be after
k more steps (the Unrolled GAN). Which of these a run takes is data, an `UpdateRule` read
from its configuration. What the step is handed, `Players`, is the one thing that differs:
`training.players.Training` for one run (or one rank of it), `training.ensemble.Ensemble`
for N seeds as one stacked model, whose losses come back one per seed (shape (N,)).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ganzoo.training.resolve import Resolved
from ganzoo.training.unrolled import unrolled_discriminator


@dataclass(frozen=True)
class UpdateRule:
    """How one step updates the two players."""

    d_steps: int = 1  # D updates per G update (n_d)
    simultaneous: bool = False  # both updates from one batch, each gradient at the current weights
    lookahead: int = 0  # G is judged by D after this many unrolled steps (0: D as it is)

    @classmethod
    def of(cls, cfg: Resolved) -> UpdateRule:
        return cls(d_steps=cfg.n_d, simultaneous=cfg.update == "simultaneous", lookahead=cfg.unroll_steps)


class Players(Protocol):
    """What the step reads and moves: G, D, their optimisers and the run's random streams."""

    cfg: Resolved
    G: Any  # a Generator, or N of them stacked (ensemble.Stacked)
    D: Any
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    loss: Any  # a core.losses.Loss
    precision: Any  # training.precision.Precision: the forward passes' autocast, each update's backward and step
    regularizers: Any  # every D penalty (the loss's own and --reg's): the unrolled steps take them all
    step: int  # the generator step being trained (0-based)

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def fake_batch(self, for_gradients: bool) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def seen(self, images: torch.Tensor) -> torch.Tensor: ...

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor: ...

    def discriminator_fixed(self) -> AbstractContextManager[Callable]:
        """D as G's update sees it, `judge(x, labels)`: gradients reach G through it, none are
        kept for D's weights."""
        ...

    def discriminator_loss(self, real_logits, fake_logits, real, fake, labels, fake_labels, d_step: int): ...

    def generator_loss(self, fake_logits, real_logits): ...

    def step_ema(self) -> None: ...


#: Called after each D update with D's logits (detached) on the real batch it saw (ADA's controller is one).
RealsObserver = Callable[[torch.Tensor], None]


def train_step(p: Players, rule: UpdateRule | None = None, observe: RealsObserver | None = None):
    """One step of `rule` (by default the one `p.cfg` names) for `p`. Returns the last D loss
    and the G loss, still on the device (reading them would wait for it)."""
    rule = rule or UpdateRule.of(p.cfg)
    if rule.simultaneous:
        return _simultaneous_step(p, observe)
    # 1) n_d discriminator updates, G fixed.
    for i in range(rule.d_steps):
        real, labels = p.real_batch()
        with torch.no_grad():
            fake, fake_labels = p.fake_batch(for_gradients=False)
        real, fake = p.seen(real), p.seen(fake)  # R1 and R2 too judge what D sees (as in StyleGAN2-ADA)
        real_logits = p.discriminate(real, labels)
        d_loss = p.discriminator_loss(
            real_logits,
            p.discriminate(fake, fake_labels),
            real,
            fake,
            labels,
            fake_labels,
            d_step=p.step * rule.d_steps + i,
        )
        _update(p, p.d_opt, d_loss)
        p.loss.after_discriminator_step(p.D)  # WGAN's clipping
        if observe is not None:
            observe(real_logits.detach())  # ADA's controller; what it sets applies from the next seen()

    # 2) one generator update, D fixed (no gradients kept for D's weights). Unrolled GAN: G is
    #    judged by D as it would be after `lookahead` more steps (D itself does not change).
    with p.discriminator_fixed() as judge:
        fake, fake_labels = p.fake_batch(for_gradients=True)
        fake = p.seen(fake)
        if rule.lookahead:
            judge = unrolled_discriminator(
                p.D, p.d_opt, p.loss, p.regularizers, real, labels, fake, fake_labels, rule.lookahead
            )
        needs_real = p.loss.generator_needs_real
        g_loss = p.generator_loss(judge(fake, fake_labels), judge(real, labels) if needs_real else None)
        _update(p, p.g_opt, g_loss)
    p.step_ema()
    return d_loss.detach(), g_loss.detach()


def _simultaneous_step(p: Players, observe: RealsObserver | None):
    """Both players from one batch and one forward pass of G and D: D's gradient of its loss and
    G's gradient of its loss, both at the current weights; then both optimiser steps. It costs
    about 0.8 of an alternating step (one G forward and one D pass on generated samples fewer),
    and G's batch-norm statistics move once per step, as in PacGAN's and ALI's code."""
    real, labels = p.real_batch()
    fake, fake_labels = p.fake_batch(for_gradients=True)
    fake, real = p.seen(fake), p.seen(real)
    real_logits = p.discriminate(real, labels)
    fake_logits = p.discriminate(fake, fake_labels)
    d_loss = p.discriminator_loss(real_logits, fake_logits, real, fake.detach(), labels, fake_labels, d_step=p.step)
    needs_real = p.loss.generator_needs_real
    g_loss = p.generator_loss(fake_logits, real_logits if needs_real else None)
    p.d_opt.zero_grad(set_to_none=True)
    p.g_opt.zero_grad(set_to_none=True)
    # `inputs`: each loss reaches only its own player's weights (D's loss never moves G, and
    # G's backward through D computes no gradients for D's weights).
    p.precision.backward(_total(d_loss), p.d_opt, inputs=list(p.D.parameters()), retain_graph=True)
    p.precision.backward(_total(g_loss), p.g_opt, inputs=list(p.G.parameters()))
    p.precision.step(p.d_opt)
    p.precision.step(p.g_opt)
    p.loss.after_discriminator_step(p.D)
    if observe is not None:
        observe(real_logits.detach())
    p.step_ema()
    return d_loss.detach(), g_loss.detach()


def _total(loss: torch.Tensor) -> torch.Tensor:
    """The loss backward starts from: an ensemble's per-seed losses summed (each seed's
    gradient is then its own loss's), a run's own as it is."""
    return loss.sum() if loss.dim() else loss


def _update(p: Players, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    p.precision.backward(_total(loss), optimizer)
    p.precision.step(optimizer)


def set_learning_rates(p, step: int) -> None:
    """The learning rates for generator step `step` (0-based), a function of the step alone,
    so a resumed run follows the same schedule. linear-decay: base * (1 - step / steps), the
    schedule of SNGAN's and WGAN-GP's ResNet experiments."""
    if p.cfg.lr_schedule == "constant":
        return
    scale = 1.0 - step / p.cfg.steps
    for optimizer, base in ((p.g_opt, p.cfg.g_lr), (p.d_opt, p.cfg.d_lr)):
        for group in optimizer.param_groups:
            group["lr"] = base * scale
