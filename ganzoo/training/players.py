"""One run's players: G, D, their optimisers, its data and random streams, built from names.

`build_training` makes them from a resolved configuration, checking each plugin where it is
first used (the architecture's output shapes, the data set's first batch); `Training` hands
them to the step (`training.step.Players`). Under torchrun each rank holds one, whose
batches are its rows of the run's (see distributed.py).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import torch

from ganzoo.core.data import batch_problem
from ganzoo.core.models import Discriminator, Generator
from ganzoo.core.regularization import penalties
from ganzoo.errors import GanzooError
from ganzoo.plugin.api import (
    architecture_entry,
    create_architecture,
    create_augmentation,
    create_loss,
    create_optimizer,
    dataset_entry,
    named_regularizers,
)
from ganzoo.plugin.manager import origin
from ganzoo.training.compiling import check_compiler, compiled
from ganzoo.training.distributed import Ranks, cross_replica_batch_norm, synchronised
from ganzoo.training.precision import Precision, as_fp32
from ganzoo.training.resolve import Resolved
from ganzoo.training.schedules import Schedules


@dataclass
class Training:
    """Everything one training step touches, for one run (`training.step.Players`)."""

    cfg: Resolved
    device: torch.device
    G: Generator
    D: torch.nn.Module  # a Discriminator (the theory module's own D is a plain module)
    arch_config: dict
    loss: Any
    regularizers: list
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    ema: torch.nn.Module | None
    batches: Any  # a BatchSource (core.data), checked on its first batch
    latent_rng: torch.Generator
    chosen_regularizers: list = field(default_factory=list)  # --reg's: lazy with --reg-every
    step: int = 0  # the generator step being trained (0-based); the loop sets it
    augment: Any = None  # augment(images, rng): what D sees of every image (DiffAugment)
    augment_rng: torch.Generator | None = None
    schedules: Schedules | None = None  # applied by their lifecycle hook (schedules.py)
    ema_decay: float | None = None  # the EMA's decay this step: cfg.ema_decay, unless a schedule moves it
    ranks: Ranks = field(default_factory=Ranks)
    G_sync: Any = None  # G as the step calls it for gradients: under torchrun, DDP averaging
    D_sync: Any = None  # them (DistributedDataParallel); G and D themselves in a single process
    G_fixed: Any = None  # G as D's update calls it, without gradients: G itself (compiled with --compile)
    D_fixed: Any = None  # D as G's update calls it: D itself (compiled with --compile)
    precision: Precision | None = None  # the forward passes' autocast, fp16's scalers (fp32 unless set)

    def __post_init__(self):
        self.G_sync = self.G if self.G_sync is None else self.G_sync
        self.D_sync = self.D if self.D_sync is None else self.D_sync
        self.G_fixed = self.G if self.G_fixed is None else self.G_fixed
        self.D_fixed = self.D if self.D_fixed is None else self.D_fixed
        self.ema_decay = self.cfg.ema_decay if self.ema_decay is None else self.ema_decay
        if self.precision is None:
            self.precision = Precision("fp32", self.device)
        # --compile compiles G and D at the first step: compilation, not a step's FLOPs (and the
        # counter's dispatch mode would make TorchDynamo skip compiling there).
        self.traces_first_step = bool(self.cfg.compile)

    # --- what the loop reads of its players, alike for a run and an ensemble (ensemble.py) ----
    traces_first_step = False  # a first step that compiles or traces (--compile; an ensemble's, ensemble.py)

    @property
    def members(self) -> list[Training]:
        """The runs these players train: this one."""
        return [self]

    def per_member(self, values: torch.Tensor) -> list[torch.Tensor]:
        return [values]

    def describe(self) -> dict:
        """What config.json records beside the run's own configuration."""
        return {"distributed": self.ranks.describe()} if self.ranks.active else {}

    def log_fields(self) -> dict:
        return {}

    def describe_throughput(self, throughput: dict) -> dict:
        if not self.cfg.compile:
            return throughput
        pairs = (("generator", self.G_fixed, self.G), ("discriminator", self.D_fixed, self.D))
        compiled = [name for name, call, plain in pairs if call is not plain]
        return {**throughput, "compiled": compiled}  # a spectrally normalised network stays eager

    def sync_members(self) -> None:
        """Nothing to do: a run's own models are the ones that train."""

    def load_members(self) -> None:
        """Nothing to do: a run's own models are the ones restored."""

    # --- what the step reads and moves (training.step.Players) -------------------------------
    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        real, labels = self.batches.next()
        return real, labels if self.G.num_classes else None  # unconditional models ignore labels

    def fake_batch(self, for_gradients: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Generated samples and their labels, from the run's latent stream; under torchrun this
        rank's rows of what is drawn for the whole batch. `for_gradients`: through G_sync (DDP)."""
        G, local, n = self.G, self.ranks.local, self.cfg.batch_size
        labels = local(G.sample_labels(n, self.device, self.latent_rng))
        latents = local(G.sample_latent(n, self.device, self.latent_rng))
        generator = self.G_sync if for_gradients else self.G_fixed
        with self.precision.autocast():  # type: ignore[union-attr]  # set in __post_init__
            return as_fp32(generator(latents, labels)), labels

    def seen(self, images: torch.Tensor) -> torch.Tensor:
        """Images as D sees them: augmented when the run augments, else as they are."""
        return images if self.augment is None else self.augment(images, self.augment_rng)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        with self.precision.autocast():  # type: ignore[union-attr]  # set in __post_init__
            return as_fp32(self.D_sync(x, labels))

    def _judge(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        with self.precision.autocast():  # type: ignore[union-attr]
            return as_fp32(self.D_fixed(x, labels))

    @contextmanager
    def discriminator_fixed(self) -> Iterator:
        self.D.requires_grad_(False)  # D itself, not D_sync: DDP has no D gradients to average here
        try:
            yield self._judge
        finally:
            self.D.requires_grad_(True)

    def discriminator_loss(self, real_logits, fake_logits, real, fake, labels, fake_labels, d_step: int):
        """D's loss and its penalties: the loss's own (WGAN-GP's) at every D step; the chosen
        regularisers (--reg) lazily, every reg_every-th D step of the run, weighted to match."""
        d_loss = self.loss.discriminator_loss(real_logits, fake_logits)
        d_loss = d_loss + penalties(self.loss.regularizers, self.D, real, fake, labels, fake_labels)
        if d_step % self.cfg.reg_every == 0:
            d_loss = d_loss + self.cfg.reg_every * penalties(
                self.chosen_regularizers, self.D, real, fake, labels, fake_labels
            )
        return d_loss

    def generator_loss(self, fake_logits, real_logits):
        """G's loss, plus the architecture's own penalty (BigGAN's orthogonal, StyleGAN2's path length)."""
        g_loss = self.loss.generator_loss(fake_logits, real_logits)
        own = self.G.penalty(self.step, self.cfg.batch_size, self.latent_rng)
        return g_loss if own is None else g_loss + own

    def step_ema(self) -> None:
        if self.ema is not None:
            assert self.ema_decay is not None, "set from the config in __post_init__"
            _update_ema(self.ema, self.G, self.ema_decay)


def build_training(cfg: Resolved, dataset, device: torch.device, ranks: Ranks | None = None) -> Training:
    """Models, loss, optimisers and random generators from names; the seed fixes the weights."""
    ranks = ranks or Ranks()
    if ranks.active and cfg.update == "simultaneous":
        raise GanzooError(
            "update simultaneous does not run under torchrun yet: DistributedDataParallel averages "
            "gradients in backward passes that reach all of a model's weights, and this step's "
            "pass through D reaches only G's. Use --update alternating with torchrun."
        )
    torch.manual_seed(cfg.seed)
    G, D, arch_config = create_architecture(cfg.arch, **_architecture_overrides(cfg, dataset))
    if ranks.active:  # batch statistics of the whole batch, as one process would have them
        G, D = cast(Generator, cross_replica_batch_norm(G)), cast(Discriminator, cross_replica_batch_norm(D))
    if ranks.rank:  # noise inside the models: each rank its own (rank 0 as a single process)
        torch.manual_seed(ranks.own_seed(cfg.seed))
    G, D = G.to(device), D.to(device)
    channels_last = cfg.channels_last and len(dataset.sample_shape) == 3  # images only
    if channels_last:  # the same weights, stored NHWC: oneDNN's and cuDNN's fast convolutions
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    check_output_shapes(cfg.arch, G, D, arch_config, device)
    if cfg.batch_size % arch_config["pack"]:
        raise GanzooError(
            f"batch-size {cfg.batch_size} is not a multiple of pack={arch_config['pack']} (PacGAN); choose one that is."
        )
    if cfg.data_on_device:
        dataset.to(device)
    loss = create_loss(cfg.loss, **cfg.loss_options)
    chosen = named_regularizers(cfg.regularizer, cfg.regularizer_options)
    regularizers = [*loss.regularizers, *chosen.values()]  # all of them, for the unrolled D steps
    augment = create_augmentation(cfg.augment, **cfg.augment_options) if cfg.augment else None
    if getattr(augment, "needs_images", False) and len(dataset.sample_shape) != 3:
        raise GanzooError(
            f"The augmentation '{cfg.augment}' transforms images; '{cfg.data}' holds samples of "
            f"shape {tuple(dataset.sample_shape)}. Drop --augment for this data set."
        )
    check_first_batch(dataset, cfg, device)
    batches: Any = dataset.batches(cfg.batch_size, device, seed=cfg.seed + 1)
    if ranks.active:
        batches = _RankSlice(batches, ranks)
    if channels_last:
        batches = _ChannelsLast(batches)
    g_opt = create_optimizer(cfg.optimizer, G.parameters(), cfg.g_lr, cfg.betas)
    d_opt = create_optimizer(cfg.optimizer, D.parameters(), cfg.d_lr, cfg.betas)
    G_sync, D_sync = synchronised(G, ranks, device), synchronised(D, ranks, device)
    G_fixed, D_fixed = G, D
    if cfg.compile:
        check_compiler(device)
        G_sync, D_sync = compiled(G_sync, device, plain=G), compiled(D_sync, device, plain=D)
        G_fixed, D_fixed = compiled(G, device), compiled(D, device)
    schedules = None
    if cfg.schedules:
        with_loss = {getattr(reg, "name", "") or f"loss-{i}": reg for i, reg in enumerate(loss.regularizers)}
        schedules = Schedules(
            cfg.schedules,
            g_opt=g_opt,
            d_opt=d_opt,
            regularizers={**with_loss, **chosen},
            augment=augment,
            batch_size=cfg.batch_size,
            lr_schedule=cfg.lr_schedule,
            has_ema=cfg.ema_decay > 0,
        )
    return Training(
        cfg=cfg,
        device=device,
        G=G,
        D=D,
        arch_config=arch_config,
        G_sync=G_sync,
        D_sync=D_sync,
        G_fixed=G_fixed,
        D_fixed=D_fixed,
        precision=Precision(cfg.precision, device, (g_opt, d_opt)),
        ranks=ranks,
        loss=loss,
        regularizers=regularizers,
        chosen_regularizers=list(chosen.values()),
        g_opt=g_opt,
        d_opt=d_opt,
        ema=copy.deepcopy(G).eval().requires_grad_(False) if cfg.ema_decay > 0 else None,
        batches=batches,
        latent_rng=torch.Generator(device).manual_seed(cfg.seed + 2),
        augment=augment,
        augment_rng=(
            torch.Generator(device).manual_seed(ranks.own_seed(cfg.seed + 3)) if augment is not None else None
        ),
        schedules=schedules,
    )


def check_first_batch(dataset, cfg: Resolved, device: torch.device) -> None:
    """The run's first batch, drawn from a stream of its own and checked against what the data
    set declares (shape, dtype, labels) before anything is trained or written, so that a
    plugin's mistake is named instead of surfacing as a shape error deep in D. The run's own
    stream is untouched: it draws the same batch again."""
    owner = f"The data set '{cfg.data}' from {origin(dataset_entry(cfg.data))}"
    try:
        batch = dataset.batches(cfg.batch_size, device, seed=cfg.seed + 1).next()
    except GanzooError as exc:
        raise GanzooError(f"{owner}: {exc}") from None
    problem = (
        f"is {type(batch).__name__}, not a pair (samples, labels)"
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2)
        else batch_problem(dataset, *batch)
    )
    if problem is not None:
        raise GanzooError(
            f"{owner}: its first batch {problem}. Fix the data set's batches() or its declaration "
            "(docs/plugins.md, data sets)."
        )


class _RankSlice:
    """Draws the run's batches whole and hands out this rank's rows (see distributed.py)."""

    def __init__(self, batches, ranks: Ranks):
        self.inner, self.ranks = batches, ranks

    def next(self):
        samples, labels = self.inner.next()
        return self.ranks.local(samples), self.ranks.local(labels)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


class _ChannelsLast:
    """Hands out a batch source's images in channels-last memory, to match the models."""

    def __init__(self, batches):
        self.inner = batches

    def next(self):
        images, labels = self.inner.next()
        return images.contiguous(memory_format=torch.channels_last), labels

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


def check_output_shapes(arch: str, G, D, arch_config: dict, device: torch.device) -> None:
    """Run G and D once on a tiny batch, before training: a plugin whose outputs have the wrong
    shape fails here, by name, instead of broadcasting silently into a wrong loss (a D that
    returns (N, 1) logits) or crashing mid-run. Weights, buffers and random state are kept."""

    pack = arch_config["pack"]
    n = 2 * pack
    where = f"Architecture '{arch}' from {origin(architecture_entry(arch))}"
    modes = (G.training, D.training)
    G.eval()  # no batch-norm statistics are updated, no spectral-norm iteration runs
    D.eval()
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            labels = G.sample_labels(n, device)
            try:
                x = G(G.sample_latent(n, device), labels)
            except Exception as exc:
                raise GanzooError(
                    f"{where}: its generator fails on a batch of {n}: {type(exc).__name__}: {exc}. "
                    "Fix the plugin's generator."
                ) from None
            wanted = (n, *tuple(arch_config["data_shape"]))
            if not isinstance(x, torch.Tensor) or tuple(x.shape) != wanted:
                got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise GanzooError(
                    f"{where}: its generator returned {got} for {n} samples, but the data are "
                    f"{wanted}. Fix the plugin's generator (its output_shape is "
                    f"{tuple(G.output_shape)})."
                )
            try:
                logits = D(x, labels)
            except Exception as exc:
                raise GanzooError(
                    f"{where}: its discriminator fails on a batch of {n} generated samples: "
                    f"{type(exc).__name__}: {exc}. Fix the plugin's discriminator."
                ) from None
            if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (n // pack,):
                got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                raise GanzooError(
                    f"{where}: its discriminator returned {got} for {n // pack} inputs; ganzoo needs "
                    f"one logit per input, shape ({n // pack},) (a (N, 1) output would broadcast "
                    "into a wrong loss). Flatten it in the plugin's forward, e.g. "
                    "`return self.net(x).flatten()`."
                )
    finally:
        G.train(modes[0])
        D.train(modes[1])


def _architecture_overrides(cfg: Resolved, dataset) -> dict:
    """Shape from the data; classes from the data for class-conditional architectures."""
    overrides = {"data_shape": dataset.sample_shape}
    conditional = architecture_entry(cfg.arch).defaults.get("num_classes", 0) > 0
    asked = cfg.arch_options.get("num_classes")
    if asked == 0:
        overrides["num_classes"] = 0
    elif conditional or asked:
        if not dataset.num_classes:
            raise GanzooError(
                f"Architecture '{cfg.arch}' is class-conditional, but data set '{cfg.data}' "
                "has no labels. Choose a labelled data set (e.g. mnist)."
            )
        if asked not in (None, dataset.num_classes):
            raise GanzooError(
                f"num_classes={asked} does not match data set '{cfg.data}', which has "
                f"{dataset.num_classes} classes. Leave num_classes out."
            )
        overrides["num_classes"] = dataset.num_classes
    return {**cfg.arch_options, **overrides}


@torch.no_grad()
def _update_ema(ema, model, decay: float) -> None:
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in model.parameters()], 1 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), model.buffers()):
        ema_buffer.copy_(buffer)  # batch-norm statistics are copied, not averaged
