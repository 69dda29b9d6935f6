"""Training configuration and how its defaults are resolved.

A field left as None is filled, in order of precedence, from: the user's
value > the loss's paper defaults > the architecture's paper defaults >
`GLOBAL_DEFAULTS`. The resolved configuration is what a run directory stores.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import GanzooError

GLOBAL_DEFAULTS = {
    "steps": 10_000,
    "batch_size": 64,
    "n_d": 1,
    "optimizer": "adam",
    "g_lr": 2e-4,
    "d_lr": 2e-4,
    "betas": (0.5, 0.999),
    "ema_decay": 0.0,
}
OPTIMIZERS = ("adam", "rmsprop")

# Fields that define the experiment: a resumed run must not change them.
IDENTITY_FIELDS = (
    "arch", "loss", "data", "arch_options", "loss_options", "data_options", "regularizer",
    "regularizer_options", "batch_size", "n_d", "optimizer", "g_lr", "d_lr", "betas",
    "ema_decay", "seed", "unroll_steps", "lr_schedule",
)
LR_SCHEDULES = ("constant", "linear-decay")


@dataclass
class TrainConfig:
    arch: str = "mlp"
    loss: str = "non-saturating"
    data: str = "ring8"
    arch_options: dict = field(default_factory=dict)
    loss_options: dict = field(default_factory=dict)
    data_options: dict = field(default_factory=dict)
    regularizer: str | None = None
    regularizer_options: dict = field(default_factory=dict)
    steps: int | None = None
    batch_size: int | None = None
    n_d: int | None = None
    optimizer: str | None = None
    g_lr: float | None = None
    d_lr: float | None = None
    betas: tuple[float, float] | None = None
    ema_decay: float | None = None
    unroll_steps: int = 0  # Unrolled GAN (Metz et al. 2017): G's loss looks k D steps ahead
    lr_schedule: str = "constant"  # or "linear-decay": both learning rates fall linearly to 0 by `steps`
    seed: int = 0
    device: str = "auto"
    data_root: str | None = None  # where local data sets are; not part of the experiment
    data_on_device: bool = False  # keep the whole data set on the GPU (fast when it fits)
    channels_last: bool = False  # image models and batches in NHWC memory: faster convolutions, same model
    log_every: int = 100
    eval_every: int | None = None  # None: 5 evaluations over the run
    eval_metrics: list[str] | None = None  # None: mode coverage on 2D data, none (sample grids only) on images
    eval_samples: int | None = None  # generated samples per metric; None: each metric's standard count
    eval_real_samples: int | None = None  # real images for FID & co.; None: the split, at most 50,000
    eval_real_split: str = "train"
    extractor: str = "auto"  # FID feature extractor: auto, inception-v3-compat, ganzoo-mnist-classifier...
    inception_weights: str | None = None  # a local InceptionV3 weights file
    checkpoint_every: int | None = None  # None: at each evaluation
    tensorboard: bool = False  # also log to OUT/tensorboard (needs the tensorboard package)

    def __post_init__(self):
        for field_ in dataclasses.fields(self):
            value = getattr(self, field_.name)
            kinds, wanted = FIELD_TYPES[field_.name]
            if value is None and None in kinds:
                continue
            if not any(_is(value, kind) for kind in kinds if kind is not None):
                raise GanzooError(f"TrainConfig({field_.name}={value!r}): {field_.name} must be {wanted}, "
                                  f"not a {type(value).__name__}.")
        if self.betas is not None:
            self.betas = tuple(self.betas)

    def resolved(self) -> TrainConfig:
        """A copy with every None filled from the loss, architecture and global defaults."""
        from .api import architecture_entry, loss_entry

        layers = [GLOBAL_DEFAULTS, architecture_entry(self.arch).train_defaults,
                  loss_entry(self.loss).train_defaults]
        values = dataclasses.asdict(self)
        for key in GLOBAL_DEFAULTS:
            if values[key] is None:
                for layer in layers:
                    if key in layer:
                        values[key] = layer[key]
        cfg = TrainConfig(**values)
        if cfg.eval_every is None:
            cfg.eval_every = max(1, cfg.steps // 5)
        if cfg.checkpoint_every is None:
            cfg.checkpoint_every = cfg.eval_every
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise GanzooError(message)

        for name in ("steps", "batch_size", "n_d", "log_every", "eval_every", "checkpoint_every",
                     "eval_samples", "eval_real_samples"):
            value = getattr(self, name)
            need((value is None and name.startswith("eval_")) or (isinstance(value, int) and value > 0),
                 f"{name.replace('_', '-')} must be a positive whole number, got {value!r}.")
        need(self.eval_real_split in ("train", "test"),
             f"eval-real-split must be train or test, got {self.eval_real_split!r}.")
        need(self.lr_schedule in LR_SCHEDULES,
             f"Unknown lr-schedule '{self.lr_schedule}'. Choose one of: {', '.join(LR_SCHEDULES)}.")
        need(self.optimizer in OPTIMIZERS,
             f"Unknown optimizer '{self.optimizer}'. Choose one of: {', '.join(OPTIMIZERS)}.")
        for name in ("g_lr", "d_lr"):
            value = getattr(self, name)
            need(isinstance(value, (int, float)) and 0 < value < 1,
                 f"{name.replace('_', '-')} must be a learning rate in (0, 1), got {value!r}.")
        need(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
             f"betas must be two numbers in [0, 1), got {self.betas!r}.")
        need(0 <= self.ema_decay < 1, f"ema-decay must be in [0, 1) (0 turns EMA off), got {self.ema_decay!r}.")
        need(isinstance(self.unroll_steps, int) and not isinstance(self.unroll_steps, bool)
             and self.unroll_steps >= 0,
             f"unroll-steps must be a whole number >= 0 (0: no unrolling), got {self.unroll_steps!r}.")
        need(isinstance(self.seed, int) and self.seed >= 0, f"seed must be a whole number >= 0, got {self.seed!r}.")
        need(self.regularizer is not None or not self.regularizer_options,
             f"regularizer options {self.regularizer_options} were given without a regulariser; add --reg NAME "
             "(r1 or gradient-penalty), or drop --reg-opt.")
        from .metrics.extractors import extractor_names

        need(self.extractor == "auto" or self.extractor in extractor_names(),
             f"Unknown feature extractor '{self.extractor}'. Choose auto or one of: {', '.join(extractor_names())}.")
        need(self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda", "mps"),
             f"Unknown device '{self.device}'. Use auto, cpu, cuda or cuda:N.")

    def eval_settings(self):
        from .evaluation import EvalSettings

        return EvalSettings(metrics=self.eval_metrics, num_samples=self.eval_samples,
                            real_samples=self.eval_real_samples, real_split=self.eval_real_split,
                            extractor=self.extractor, inception_weights=self.inception_weights,
                            data_root=self.data_root or "")

    def identity(self) -> dict:
        return {k: _jsonable(getattr(self, k)) for k in IDENTITY_FIELDS}

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _is(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "pair":
        return isinstance(value, (list, tuple)) and len(value) == 2 and all(_is(v, float) for v in value)
    if kind == "names":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


#: What each TrainConfig field accepts (None where None means "the default"), in words for errors.
FIELD_TYPES = {
    **{name: ((str,), "a name (a string)") for name in ("arch", "loss", "data", "lr_schedule", "eval_real_split",
                                                       "extractor")},
    "device": ((str,), "a device name: auto, cpu, cuda or cuda:N"),
    **{name: ((dict,), "a dict of options ({} for none)") for name in ("arch_options", "loss_options",
                                                                        "data_options", "regularizer_options")},
    **{name: ((str, None), "a name or None") for name in ("regularizer", "optimizer")},
    **{name: ((str, Path, None), "a path or None") for name in ("data_root", "inception_weights")},
    **{name: ((int, None), "a whole number or None") for name in ("steps", "batch_size", "n_d", "eval_every",
                                                                   "eval_samples", "eval_real_samples",
                                                                   "checkpoint_every")},
    **{name: ((int,), "a whole number") for name in ("unroll_steps", "seed", "log_every")},
    **{name: ((float, None), "a number or None") for name in ("g_lr", "d_lr", "ema_decay")},
    "betas": (("pair", None), "two numbers, like (0.5, 0.999), or None"),
    "eval_metrics": (("names", None), "a list of metric names or None"),
    **{name: ((bool,), "True or False") for name in ("data_on_device", "channels_last", "tensorboard")},
}


def _jsonable(value):
    """Round-trip through JSON so tuples and lists compare equal."""
    return json.loads(json.dumps(value))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanzooError(f"--device {name} was asked for, but PyTorch sees no CUDA GPU here. "
                          "Use --device cpu, or --device auto to pick what is available.")
    return device


def read_run_config(run_dir) -> dict:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise GanzooError(f"{run_dir} is not a ganzoo run directory (no config.json). "
                          "Pass the --out folder of a `ganzoo train` run.")
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GanzooError(f"{path} is not valid JSON ({exc}). Restore it or train again.") from None
    missing = [key for key in ("train", "architecture", "data")
               if not isinstance(saved, dict) or not isinstance(saved.get(key), dict)]
    if not missing and "name" not in saved["architecture"]:
        missing = ["architecture.name"]
    if missing:
        raise GanzooError(f"{path} lacks {', '.join(repr(k) for k in missing)}: it was edited, or written by "
                          "another tool. Restore it from a backup, or train the run again into a new --out.")
    return saved
