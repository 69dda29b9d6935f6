"""Hyper-parameter schedules: a setting as a function of the images G has been trained on.

R3GAN (Huang et al. 2024) ramps its learning rate, Adam's beta2, the R1/R2 weight gamma
and the augmentation probability from one value to another over the first 20 million
images (CIFAR-10), by a half cosine, then holds them. A schedule here is written

    KEY=SHAPE:FROM:TO:OVER     e.g. --schedule g_lr=cosine:2e-4:5e-5:2e7

SHAPE is `cosine` (R3GAN's: FROM + (TO - FROM) * (1 - cos(pi * t)) / 2) or `linear`,
with t = min(images / OVER, 1): the value moves from FROM to TO over OVER images and
then stays at TO. Images are G's: the step times the batch size (StyleGAN's kimg).

KEY names what moves: `g_lr`, `d_lr`, `lr` (both), `beta1`, `beta2` (both optimisers),
`ema_half_life` (in images: the EMA of G decays by 0.5 ** (batch / half-life) per step,
R3GAN's ramp from 0 to 5 million; the run needs an EMA, --ema-decay > 0, which the schedule
then overrides), `REGULARISER.OPTION` (`r1.gamma`), `regularizer.OPTION` (every regulariser
with that option: R3GAN's one gamma for R1 and R2), or `augment.OPTION` (`augment.p`). Each value
is a pure function of the step, so a resumed run follows the schedule exactly; the
training log records the values at every log step.

The loop knows nothing of schedules: they are a built-in user of the run's lifecycle hooks
(`ganzoo_before_step` sets the values, `ganzoo_log_values` reports them), as a plugin's
own schedule would be. `build_training` builds them, so a bad key fails before a run starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ganzoo.core.lifecycle import RunContext
from ganzoo.errors import GanzooError, did_you_mean
from ganzoo.plugin.hookspecs import hookimpl

SHAPES = ("cosine", "linear")
OPTIMIZER_KEYS = ("g_lr", "d_lr", "lr", "beta1", "beta2")
EMA_KEY = "ema_half_life"


@dataclass(frozen=True)
class Schedule:
    key: str
    shape: str
    start: float
    end: float
    over: float  # images

    def value(self, images: float) -> float:
        t = min(images / self.over, 1.0)
        if self.shape == "cosine":
            t = (1 - math.cos(math.pi * t)) / 2
        return self.start + (self.end - self.start) * t


def parse_schedule(key: str, text) -> Schedule:
    """`cosine:2e-4:5e-5:2e7` -> Schedule; a clear error for anything else."""
    parts = str(text).split(":")
    example = "e.g. cosine:2e-4:5e-5:2e7 (from 2e-4 to 5e-5 over 20 million images)"
    if len(parts) != 4 or parts[0] not in SHAPES:
        raise GanzooError(
            f"The schedule {key}={text!r} is not SHAPE:FROM:TO:OVER with SHAPE one of {', '.join(SHAPES)}; {example}."
        )
    try:
        start, end, over = (float(part) for part in parts[1:])
    except ValueError:
        raise GanzooError(f"The schedule {key}={text!r} has a value that is not a number; {example}.") from None
    if not (over > 0 and math.isfinite(start) and math.isfinite(end) and math.isfinite(over)):
        raise GanzooError(f"The schedule {key}={text!r} needs finite values and OVER > 0 images; {example}.")
    return Schedule(key, parts[0], start, end, over)


def _settable(option: str, value) -> bool:
    """A number an object takes as an option (not a flag, not its private state)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not option.startswith("_")


class Schedules:
    """The run's schedules, bound to its optimisers, regularisers and augmentation."""

    def __init__(
        self,
        specs: dict,
        *,
        g_opt,
        d_opt,
        regularizers: dict,
        augment,
        batch_size: int,
        lr_schedule: str = "constant",
        has_ema: bool = False,
    ):
        self.items = [parse_schedule(key, text) for key, text in specs.items()]
        self.g_opt, self.d_opt, self.regularizers, self.augment = g_opt, d_opt, regularizers, augment
        self.batch_size, self.has_ema = batch_size, has_ema
        self.ema_decay: float | None = None  # what ema_half_life sets, for the run's EMA
        for schedule in self.items:
            self._check(schedule.key, lr_schedule)

    def _targets(self, key: str) -> list:
        """The objects whose attribute `key` moves, with that attribute's name."""
        owner, _, option = key.rpartition(".")
        if owner == "augment":
            if option == "p" and getattr(self.augment, "adaptive", False):
                raise GanzooError(
                    "The schedule for augment.p and ADA's controller (ada_target) both set p; keep one of them."
                )
            return [(self.augment, option)] if self.augment is not None and hasattr(self.augment, option) else []
        if owner == "regularizer":
            return [(reg, option) for reg in self.regularizers.values() if hasattr(reg, option)]
        if owner in self.regularizers:
            reg = self.regularizers[owner]
            return [(reg, option)] if hasattr(reg, option) else []
        return []

    def _check(self, key: str, lr_schedule: str) -> None:
        if key == EMA_KEY:
            if not self.has_ema:
                raise GanzooError(
                    "The schedule for ema_half_life moves an EMA of G, and this run keeps none; add "
                    "--ema-decay 0.999 (the schedule then sets the decay at every step)."
                )
            return
        if key in OPTIMIZER_KEYS:
            if key.endswith("lr") and lr_schedule != "constant":
                raise GanzooError(
                    f"The schedule for {key} and --lr-schedule {lr_schedule} both set the learning "
                    "rate; keep one of them."
                )
            return
        if not self._targets(key):
            regs = [
                f"{name}.{option}"
                for name, reg in self.regularizers.items()
                for option, value in vars(reg).items()
                if _settable(option, value)
            ]
            augments = (
                [f"augment.{option}" for option, value in vars(self.augment).items() if _settable(option, value)]
                if self.augment is not None
                else []
            )
            settable = [*OPTIMIZER_KEYS, *([EMA_KEY] if self.has_ema else []), *regs]
            listed = ", ".join([*settable, *(["regularizer.OPTION"] if regs else []), *augments])
            hint = did_you_mean([key], [*settable, *augments])
            raise GanzooError(
                f"Nothing in this run has the setting '{key}' to schedule.{hint} Schedulable here: {listed}."
            )

    def apply(self, step: int) -> dict:
        """Set every scheduled value for generator step `step` (0-based); returns them."""
        images = step * self.batch_size
        values = {}
        for schedule in self.items:
            value = values[schedule.key] = schedule.value(images)
            key = schedule.key
            if key == EMA_KEY:
                self.ema_decay = 0.5 ** (self.batch_size / max(value, 1e-8))
            elif key in OPTIMIZER_KEYS:
                optimizers = {"g_lr": [self.g_opt], "d_lr": [self.d_opt]}.get(key, [self.g_opt, self.d_opt])
                for optimizer in optimizers:
                    for group in optimizer.param_groups:
                        if key.endswith("lr"):
                            group["lr"] = value
                        else:
                            betas = list(group["betas"])
                            betas[0 if key == "beta1" else 1] = value
                            group["betas"] = tuple(betas)
            else:
                for target, option in self._targets(key):
                    setattr(target, option, value)
        return values


KEY = "schedules"  # the values of the step being trained, in RunContext.state


@hookimpl
def ganzoo_before_step(run: RunContext, step: int) -> None:
    training: Any = run.training  # training.players.Training, which this module cannot import (it builds them)
    schedules = getattr(training, "schedules", None)
    if schedules is not None:
        run.state[KEY] = schedules.apply(step)
        if schedules.ema_decay is not None:
            training.ema_decay = schedules.ema_decay


@hookimpl
def ganzoo_log_values(run: RunContext, step: int) -> dict | None:
    return {"scheduled": run.state[KEY]} if run.state.get(KEY) else None  # the values this step trained with
