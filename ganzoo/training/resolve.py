"""From a TrainConfig as given to the one a run trains with: defaults filled from the
registered entries' papers, every value checked, the device picked."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, cast

import torch

from ganzoo.core.config import FALLBACKS, FIELDS, TrainConfig
from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.evaluation.extractors import extractor_names
from ganzoo.evaluation.plan import EvalSettings
from ganzoo.plugin.api import architecture_entry, loss_entry, recipe_entry
from ganzoo.plugin.manager import registry

if TYPE_CHECKING:

    class Resolved(TrainConfig):
        """A TrainConfig as `resolve` returns it, for the type checker: every setting the
        training reads is filled (at run time it is a TrainConfig)."""

        arch: str
        loss: str
        data: str
        reg_every: int
        steps: int
        batch_size: int
        n_d: int
        optimizer: str
        g_lr: float
        d_lr: float
        betas: tuple[float, float]
        ema_decay: float
        unroll_steps: int
        update: str
        lr_schedule: str
        precision: str
        device: str
        data_on_device: bool
        channels_last: bool
        compile: bool
        log_every: int
        eval_every: int
        checkpoint_every: int
        tensorboard: bool
        extractor: str
        eval_real_split: str
else:
    Resolved = TrainConfig


def resolved(cfg: TrainConfig) -> Resolved:
    """A config already resolved (one read back from a run's config.json), typed as such."""
    return cast("Resolved", cfg)


def resolve(config: TrainConfig) -> Resolved:
    """A copy with every unset (None) field filled: from the recipe, then the loss's training
    defaults, then the architecture's, then the field's fallback. Option tables (arch_options,
    schedules...) merge in the same order, the user's keys over all (`--arch-opt pack=3` beside
    a recipe's pack=2 and bn_groups=2 keeps the latter). Then the intervals from the length,
    and every value checked."""
    values = dataclasses.asdict(config)
    recipe = recipe_entry(config.recipe).defaults if config.recipe else {}
    for key in ("arch", "loss", "data"):  # the layers below depend on these
        if values[key] is None:
            values[key] = recipe.get(key, FALLBACKS[key])
    layers = [
        recipe,
        loss_entry(values["loss"]).train_defaults,
        architecture_entry(values["arch"]).train_defaults,
        FALLBACKS,
    ]
    for key, value in values.items():
        if isinstance(value, dict):  # option tables merge, the higher layer's keys over the lower's
            values[key] = {k: v for layer in reversed(layers[:3]) for k, v in layer.get(key, {}).items()} | value
        elif value is None:
            values[key] = next((layer[key] for layer in layers if layer.get(key) is not None), None)
    cfg = TrainConfig(**values)
    if cfg.eval_every is None:
        assert cfg.steps is not None, "steps has a fallback (core.config), so it is filled above"
        cfg.eval_every = max(1, cfg.steps // 5)
    if cfg.checkpoint_every is None:
        cfg.checkpoint_every = cfg.eval_every
    validate(cfg)
    return resolved(cfg)


def validate(cfg: TrainConfig) -> None:
    """Values a resolved config must have; a one-paragraph error for the first that is wrong."""

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise GanzooError(message)

    for name in (
        "steps",
        "batch_size",
        "n_d",
        "reg_every",
        "log_every",
        "eval_every",
        "checkpoint_every",
        "eval_samples",
        "eval_real_samples",
    ):
        value = getattr(cfg, name)
        need(
            (value is None and name.startswith("eval_")) or (isinstance(value, int) and value > 0),
            f"{name.replace('_', '-')} must be a positive whole number, got {value!r}.",
        )
    for name, field_ in FIELDS.items():  # the values a field declares (config.py's `choices`)
        choices = field_.metadata["choices"]
        value = getattr(cfg, name)
        need(
            choices is None or value in choices,
            f"Unknown {name.replace('_', '-')} '{value}'. Choose one of: {', '.join(choices or ())}.",
        )

    optimizers = registry("optimizer").entries
    assert cfg.optimizer is not None, "a resolved config names its optimizer (its fallback at least)"
    if cfg.optimizer not in optimizers:
        raise UnknownNameError(
            "optimizer",
            cfg.optimizer,
            optimizers,
            hint="Choose one with --optimizer; `ganzoo list optimizers` shows them with their plugins.",
        )
    for name in ("g_lr", "d_lr"):
        value = getattr(cfg, name)
        need(
            isinstance(value, (int, float)) and 0 < value < 1,
            f"{name.replace('_', '-')} must be a learning rate in (0, 1), got {value!r}.",
        )
    assert cfg.betas is not None and cfg.ema_decay is not None, "a resolved config has them (their fallbacks at least)"
    need(
        len(cfg.betas) == 2 and all(0 <= b < 1 for b in cfg.betas),
        f"betas must be two numbers in [0, 1), got {cfg.betas!r}.",
    )
    need(0 <= cfg.ema_decay < 1, f"ema-decay must be in [0, 1) (0 turns EMA off), got {cfg.ema_decay!r}.")
    need(
        isinstance(cfg.unroll_steps, int) and not isinstance(cfg.unroll_steps, bool) and cfg.unroll_steps >= 0,
        f"unroll-steps must be a whole number >= 0 (0: no unrolling), got {cfg.unroll_steps!r}.",
    )
    simultaneous = cfg.update == "simultaneous"
    need(
        not simultaneous or cfg.n_d == 1,
        f"update simultaneous takes one D step per G step, from the same batch; n-d is {cfg.n_d}. Drop --n-d "
        "(or set it to 1), or use --update alternating.",
    )
    need(
        not simultaneous or not cfg.unroll_steps,
        "update simultaneous and unroll-steps do not go together: the Unrolled GAN's G step looks ahead of a D "
        "that has not stepped yet. Use --update alternating with --unroll-steps.",
    )
    need(isinstance(cfg.seed, int) and cfg.seed >= 0, f"seed must be a whole number >= 0, got {cfg.seed!r}.")
    need(
        cfg.regularizer is not None or not cfg.regularizer_options,
        f"regularizer options {cfg.regularizer_options} were given without a regulariser; add --reg NAME "
        "(`ganzoo list regularizers`), or drop --reg-opt.",
    )
    need(
        cfg.augment is not None or not cfg.augment_options,
        f"augmentation options {cfg.augment_options} were given without an augmentation; add --augment NAME "
        "(`ganzoo list augmentations`), or drop --augment-opt.",
    )

    need(
        cfg.extractor == "auto" or cfg.extractor in extractor_names(),
        f"Unknown feature extractor '{cfg.extractor}'. Choose auto or one of: {', '.join(extractor_names())}.",
    )
    assert cfg.device is not None, "a resolved config names its device (auto at least)"
    need(
        cfg.device == "auto" or cfg.device.split(":")[0] in ("cpu", "cuda", "mps"),
        f"Unknown device '{cfg.device}'. Use auto, cpu, cuda or cuda:N.",
    )


def eval_settings(cfg: TrainConfig):
    """What the run's evaluations measure, and on how many samples."""

    pack = cfg.arch_options.get("pack", 1) if isinstance(cfg.arch_options, dict) else 1
    return EvalSettings(
        metrics=cfg.eval_metrics,
        num_samples=cfg.eval_samples,
        real_samples=cfg.eval_real_samples,
        # Set on a resolved config, the run's; an unresolved one's None passes through as it always has.
        real_split=cfg.eval_real_split,  # type: ignore[arg-type]
        extractor=cfg.extractor,  # type: ignore[arg-type]
        inception_weights=cfg.inception_weights,
        data_root=cfg.data_root or "",
        sampler_batch=(
            cfg.batch_size // max(1, int(pack)) if cfg.eval_batch_norm == "batch" and cfg.batch_size else None
        ),
        float_images=cfg.eval_images == "float",
    )


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanzooError(
            f"--device {name} was asked for, but PyTorch sees no CUDA GPU here. "
            "Use --device cpu, or --device auto to pick what is available."
        )
    return device
