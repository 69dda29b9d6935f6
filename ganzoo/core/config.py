"""The training configuration: plain data, each field declared once.

Each field's declaration (`setting`) is the one source of what ganzoo knows about it: its
type and the words an error uses for it, its `ganzoo train` flag, whether it is a suite key
(every field but the four that name a cell is), whether it defines the experiment
(`identity`: a resumed run may not change it), whether it changes what a run measures
(`protocol`: a bench cell's configuration hash covers it), its allowed values, and its
`fallback`.

A field left unset (None) is filled when the configuration is resolved
(`ganzoo.training.resolve.resolve`), in order of precedence, from: the user's value > the
loss's registered training defaults > the architecture's > the field's fallback. Any field
but `arch`, `loss`, `data` and `seed` may be defaulted so; a plugin that defaults a field
that does not exist is refused when it registers (`ganzoo.plugin.manager`). The resolved
configuration is what a run directory stores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ganzoo.core.settings import (
    COUNT_OR_NONE,
    NAME_OR_NONE,
    OPTIONS,
    PATH_OR_NONE,
    RATE_OR_NONE,
    SWITCH_OR_NONE,
    accepts_value,
    jsonable,
    setting,
)
from ganzoo.errors import GanzooError

LR_SCHEDULES = ("constant", "linear-decay")
UPDATES = ("alternating", "simultaneous")
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Everything a run is trained from. A None is filled when the config is resolved
    (`ganzoo.training.resolve`): from the loss's paper, then the architecture's, then the field's fallback."""

    # arch, loss and data: a recipe's when unset, else their fallbacks (resolve.py).
    arch: str | None = setting(
        None,
        fallback="mlp",
        kind=NAME_OR_NONE,
        identity=True,
        help="architecture name (default: the recipe's, else mlp)",
    )
    loss: str | None = setting(
        None,
        fallback="non-saturating",
        kind=NAME_OR_NONE,
        identity=True,
        help="loss name (default: the recipe's, else non-saturating)",
    )
    data: str | None = setting(
        None,
        fallback="ring8",
        kind=NAME_OR_NONE,
        identity=True,
        help="data set name (default: the recipe's, else ring8)",
    )
    recipe: str | None = setting(
        None,
        kind=NAME_OR_NONE,
        identity=True,
        metavar="NAME",
        help="train a paper's whole configuration (`ganzoo list recipes`); the flags given beside it win over it",
    )
    arch_options: dict = setting(
        factory=dict,
        kind=OPTIONS,
        identity=True,
        cli="options",
        flag="--arch-opt",
        help="override an architecture option, e.g. g_hidden=256 (repeatable)",
    )
    loss_options: dict = setting(
        factory=dict,
        kind=OPTIONS,
        identity=True,
        cli="options",
        flag="--loss-opt",
        help="override a loss option (repeatable)",
    )
    data_options: dict = setting(
        factory=dict,
        kind=OPTIONS,
        identity=True,
        cli="options",
        flag="--data-opt",
        help="override a data set option, e.g. std=0.1 for ring8",
    )
    regularizer: str | None = setting(
        None,
        accepts=(str, None),
        words="a name or None",
        identity=True,
        flag="--reg",
        metavar="NAME",
        help="extra D regularisers: a name, e.g. r1, or several joined by commas, "
        "e.g. r1,r2 (R3GAN's pair; `ganzoo list regularizers`)",
    )
    regularizer_options: dict = setting(
        factory=dict,
        kind=OPTIONS,
        identity=True,
        cli="options",
        flag="--reg-opt",
        help="e.g. gamma=1: to every regulariser with a gamma; r2.gamma=1: to r2 only",
    )
    reg_every: int | None = setting(
        None,
        fallback=1,
        kind=COUNT_OR_NONE,
        identity=True,
        argument="positive",
        metavar="K",
        help="lazy regularisation (StyleGAN2): the --reg penalties at every K-th D "
        "step only, weighted by K (1: every step)",
    )
    augment: str | None = setting(
        None,
        accepts=(str, None),
        words="a name or None",
        identity=True,
        flag="--augment",
        metavar="NAME",
        help="augment every image D sees, real and fake, differentiably, "
        "e.g. diffaugment (`ganzoo list augmentations`)",
    )
    augment_options: dict = setting(
        factory=dict,
        kind=OPTIONS,
        identity=True,
        cli="options",
        flag="--augment-opt",
        help="e.g. policy=translation,cutout for diffaugment",
    )
    schedules: dict = setting(
        factory=dict,
        kind=OPTIONS,
        identity=True,
        cli="options",
        flag="--schedule",
        help="a setting as a function of images seen, "
        "KEY=SHAPE:FROM:TO:OVER, e.g. g_lr=cosine:2e-4:5e-5:2e7 "
        "(repeatable; see ganzoo/training/schedules.py)",
    )
    steps: int | None = setting(
        None,
        fallback=10_000,
        kind=COUNT_OR_NONE,
        argument="positive",
        help="generator steps",
    )
    batch_size: int | None = setting(
        None,
        fallback=64,
        kind=COUNT_OR_NONE,
        identity=True,
        argument="positive",
        help="samples per batch (of each kind, real and generated)",
    )
    n_d: int | None = setting(
        None,
        fallback=1,
        kind=COUNT_OR_NONE,
        identity=True,
        argument="positive",
        help="discriminator steps per generator step",
    )
    optimizer: str | None = setting(
        None,
        fallback="adam",
        accepts=(str, None),
        words="a name or None",
        identity=True,
        metavar="NAME",
        help="adam or rmsprop, or a plugin's (`ganzoo list optimizers`)",
    )
    g_lr: float | None = setting(
        None,
        fallback=2e-4,
        kind=RATE_OR_NONE,
        identity=True,
        argument="float",
        help="G's learning rate",
    )
    d_lr: float | None = setting(
        None,
        fallback=2e-4,
        kind=RATE_OR_NONE,
        identity=True,
        argument="float",
        help="D's learning rate",
    )
    betas: tuple[float, float] | None = setting(
        None,
        fallback=(0.5, 0.999),
        accepts=("pair", None),
        words="two numbers, like (0.5, 0.999), or None",
        identity=True,
        cli="pair",
        metavar=("BETA1", "BETA2"),
        help="Adam's betas",
    )
    ema_decay: float | None = setting(
        None,
        fallback=0.0,
        kind=RATE_OR_NONE,
        identity=True,
        argument="float",
        help="EMA of G's weights, e.g. 0.999 (0: off)",
    )
    # Unrolled GAN (Metz et al. 2017): G's loss looks k D steps ahead.
    unroll_steps: int | None = setting(
        None,
        fallback=0,
        kind=COUNT_OR_NONE,
        identity=True,
        argument="whole",
        metavar="K",
        help="Unrolled GAN (Metz et al. 2017): G's loss uses D after K more differentiable optimiser steps (0: off)",
    )
    # How the players' steps interleave. simultaneous: PacGAN's and ALI's code, and many TF1 codes.
    update: str | None = setting(
        None,
        fallback="alternating",
        kind=NAME_OR_NONE,
        identity=True,
        choices=UPDATES,
        help="alternating (default): n_d D steps, then a G step on its own batch "
        "(Goodfellow et al.'s algorithm); simultaneous: one batch, one G forward, and D's and "
        "G's gradients both taken at the current weights, then both steps (PacGAN's code)",
    )
    lr_schedule: str | None = setting(
        None,
        fallback="constant",
        kind=NAME_OR_NONE,
        identity=True,
        choices=LR_SCHEDULES,
        help="constant (default), or linear-decay: both learning rates fall linearly to 0 at --steps",
    )
    precision: str | None = setting(
        None,
        fallback="fp32",
        kind=NAME_OR_NONE,
        identity=True,
        choices=PRECISIONS,
        help="the forward passes' arithmetic: fp32 (default); bf16 or fp16 under autocast, "
        "with losses, penalties, optimiser state and metrics in fp32 (fp16: CUDA only, with "
        "loss scaling; see docs/benchmarks.md)",
    )
    seed: int = setting(
        0,
        accepts=(int,),
        words="a whole number",
        identity=True,
        argument="whole",
        help="fixes the initial weights, the batches and the latent vectors",
    )
    device: str | None = setting(
        None,
        fallback="auto",
        protocol=False,
        accepts=(str, None),
        words="a device name: auto, cpu, cuda or cuda:N",
        help="auto (default), cpu, cuda, cuda:N",
    )
    data_root: str | None = setting(
        None,
        protocol=False,
        kind=PATH_OR_NONE,
        help="folder holding local data sets, e.g. ../shared/data "
        "(default $GANZOO_DATA_ROOT, else ~/.cache/ganzoo/data)",
    )
    data_on_device: bool | None = setting(
        None,
        fallback=False,
        protocol=False,
        kind=SWITCH_OR_NONE,
        cli="switch",
        help="keep the whole data set on the GPU (fast training when it fits)",
    )
    channels_last: bool | None = setting(
        None,
        fallback=False,
        protocol=False,
        kind=SWITCH_OR_NONE,
        cli="on-off",
        help="image models and batches in channels-last memory: the same model, "
        "faster convolutions where the architecture's step gains from it "
        "(default: the architecture's choice, see docs/architectures.md)",
    )
    compile: bool | None = setting(
        None,
        fallback=False,
        protocol=False,
        kind=SWITCH_OR_NONE,
        cli="switch",
        help="run G's and D's forward passes through torch.compile (CUDA graphs on a GPU); "
        "the first steps compile, the speed leaves them out",
    )
    log_every: int | None = setting(
        None,
        fallback=100,
        protocol=False,
        kind=COUNT_OR_NONE,
        argument="positive",
        help="steps between log lines (default 100)",
    )
    eval_every: int | None = setting(
        None,
        kind=COUNT_OR_NONE,
        argument="positive",
        help="steps between evaluations (default: 5 over the run)",
    )
    eval_metrics: list[str] | None = setting(
        None,
        accepts=("names", None),
        words="a list of metric names or None",
        cli="names",
        metavar="M1,M2",
        help="comma-separated metric names (`ganzoo list metrics`; default: "
        "those cheap enough for every evaluation, mode-coverage on data "
        "with known modes; none on images)",
    )
    eval_samples: int | None = setting(
        None,
        kind=COUNT_OR_NONE,
        argument="positive",
        metavar="N",
        help="generated samples per metric (default: each metric's standard count, e.g. 10,000 for FID)",
    )
    eval_real_samples: int | None = setting(
        None,
        kind=COUNT_OR_NONE,
        argument="positive",
        metavar="N",
        help="real images FID & co. compare with (default: the split, at most 50,000)",
    )
    eval_real_split: str | None = setting(
        None,
        fallback="train",
        kind=NAME_OR_NONE,
        choices=("train", "test"),
        help="real split to compare with (default train)",
    )
    eval_batch_norm: str | None = setting(
        None,
        fallback="running",
        kind=NAME_OR_NONE,
        choices=("running", "batch"),
        help="G's batch norm when sampling for metrics: running statistics (default), "
        "or the statistics of each sampling batch of batch-size / pack latents, "
        "as PacGAN's Stacked MNIST sampler does",
    )
    eval_images: str | None = setting(
        None,
        fallback="uint8",
        kind=NAME_OR_NONE,
        choices=("uint8", "float"),
        help="what classifier metrics read: generated images quantised to uint8 as real "
        "ones are (default), or G's float output, as PacGAN's Stacked MNIST code does",
    )
    extractor: str | None = setting(
        None,
        fallback="auto",
        kind=NAME_OR_NONE,
        help="FID features: auto (default: the data's digit classifier, else "
        "inception-v3-compat), inception-v3-compat, dinov2-vit-l-14, "
        "ganzoo-mnist-classifier, ganzoo-fashion-mnist-classifier",
    )
    inception_weights: str | None = setting(
        None,
        kind=PATH_OR_NONE,
        metavar="PATH",
        help="local InceptionV3 weights (default $GANZOO_INCEPTION_WEIGHTS, torch's hub cache, else a download)",
    )
    checkpoint_every: int | None = setting(
        None,
        protocol=False,
        kind=COUNT_OR_NONE,
        argument="positive",
        help="steps between checkpoints (default: at each evaluation)",
    )
    tensorboard: bool | None = setting(
        None,
        fallback=False,
        protocol=False,
        kind=SWITCH_OR_NONE,
        cli="switch",
        help="also log losses, metrics and samples to OUT/tensorboard (pip install 'pyganzoo[tensorboard]')",
    )

    def __post_init__(self):
        for field_ in dataclasses.fields(self):
            value = getattr(self, field_.name)
            kinds, wanted = field_.metadata["accepts"], field_.metadata["words"]
            if value is None and None in kinds:
                continue
            if not any(accepts_value(value, kind) for kind in kinds if kind is not None):
                raise GanzooError(
                    f"TrainConfig({field_.name}={value!r}): {field_.name} must be {wanted}, "
                    f"not a {type(value).__name__}."
                )
        if self.betas is not None:
            self.betas = tuple(self.betas)

    def identity(self) -> dict:
        """The fields that define the experiment: a resumed run must not change them."""
        return {k: jsonable(getattr(self, k)) for k in IDENTITY_FIELDS}

    def to_dict(self) -> dict:
        return jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """A saved (resolved) configuration read back. A field the file lacks was written before
        the field existed: it takes the field's fallback, the value every run had then (not
        None, which would leave it unset for a resumed run or `ganzoo eval`)."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {k: v for k, v in FALLBACKS.items() if k not in data}
        return cls(**missing, **{k: v for k, v in data.items() if k in names})


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
IDENTITY_FIELDS = tuple(name for name, f in FIELDS.items() if f.metadata["identity"])
#: The fields that name a bench cell (and a run): given by the user or a suite, never defaulted.
CELL_FIELDS = ("arch", "loss", "data", "seed")
#: How a run executes or logs, not what it measures: left out of a bench cell's configuration hash.
NOT_PROTOCOL = frozenset(name for name, f in FIELDS.items() if not f.metadata["protocol"])
#: What an unset field becomes when no loss or architecture sets it.
FALLBACKS = {name: f.metadata["fallback"] for name, f in FIELDS.items() if f.metadata["fallback"] is not None}
