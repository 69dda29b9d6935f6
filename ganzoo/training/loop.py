"""The training loop: one function that reads top to bottom.

It follows the algorithm of Goodfellow et al. 2014 (and the theory notes):
repeat { n_d discriminator steps with G fixed; one generator step with D fixed }
(or, with `update = "simultaneous"`, both players' steps from one batch, as PacGAN's code).
Losses and regularisers are small objects the loop calls. Everything that
decides the future of a run (weights, optimiser moments, EMA, every random
generator, the data position) is in the checkpoint, so a resumed run ends in
the same state, bit for bit on CPU, as one that never stopped.
"""

from __future__ import annotations

import copy
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from ganzoo.core.config import TrainConfig
from ganzoo.core.data import batch_problem
from ganzoo.core.lifecycle import RunContext
from ganzoo.core.regularization import penalties
from ganzoo.core.settings import jsonable
from ganzoo.errors import GanzooError, NonFiniteLossError
from ganzoo.evaluation.extractors import check_given_weights
from ganzoo.evaluation.plan import evaluate, plan_evaluation
from ganzoo.plugin.api import (
    architecture_entry,
    create_architecture,
    create_augmentation,
    create_loss,
    create_optimizer,
    dataset_entry,
    named_regularizers,
)
from ganzoo.plugin.manager import blame, has_implementations, lifecycle, origin, run_provenance
from ganzoo.runs.rundir import RunDir
from ganzoo.training.clock import TrainingClock
from ganzoo.training.distributed import (
    Ranks,
    check_in_step,
    cross_replica_batch_norm,
    ranks_from_environment,
    start,
    stop,
    synchronised,
)
from ganzoo.training.flops import StepFlops
from ganzoo.training.opening import open_dataset, open_reference
from ganzoo.training.resolve import eval_settings, pick_device, resolve
from ganzoo.training.schedules import Schedules
from ganzoo.training.unrolled import unrolled_discriminator
from ganzoo.util.environment import environment


def train(config: TrainConfig | None, out_dir, *, resume: bool = False, progress: bool = True) -> dict:
    """Train one run into `out_dir`; returns a summary (final metrics, timings).

    With `resume=True`, continue the run saved in `out_dir` from its latest
    checkpoint. `config` may be None (the saved one is used); if given, it must
    describe the same experiment and may change only `steps`, the intervals
    and the device. One process at a time trains a run directory (a lock on it).
    Under torchrun, the N processes train one run together (see distributed.py).
    """
    run = RunDir(out_dir)
    ranks = ranks_from_environment()
    try:
        return _train(config, run, resume, progress, ranks)
    except (GanzooError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a plugin's own bug is named, with its traceback kept as the cause
        failure = blame(exc, "while training")
        if failure is None:
            raise
        raise failure from exc
    finally:
        if ranks.main:
            run.unlock()
        stop(ranks)


def _train(config: TrainConfig | None, run: RunDir, resume: bool, progress: bool, ranks: Ranks) -> dict:
    checkpoint = None
    if resume:
        if run.path.is_dir() and ranks.main:
            run.lock()
        saved_config = run.read_config()
        run.check_installed(("architecture", "loss", "dataset", "regularizer", "augmentation"), saved_config)
        saved = TrainConfig.from_dict(saved_config["train"])
        cfg = saved if config is None else resolve(config)
        _check_same_experiment(saved, cfg, run.path)
        if ranks.main:
            run.remove_stale_temporaries()
        checkpoint = run.load_checkpoint()
        done = int(checkpoint["step"])
        if cfg.steps < done:
            raise GanzooError(
                f"{run} has already trained {done} steps; --steps {cfg.steps} would shorten it, and a run "
                f"cannot be untrained. Resume with --steps {done} or more, or sample and evaluate it as it is.")
        finished = run.read_summary()
        if cfg.steps == done and finished is not None and done == saved.steps:
            return finished  # nothing to do, nothing rewritten
    elif run.checkpoint_path.exists():
        raise GanzooError(f"{run} already holds a run. Continue it with --resume, or choose a new --out.")
    else:
        cfg = resolve(config)
    # Every rank has passed the checks above before the group forms, and so before rank 0 writes.
    device = start(ranks, pick_device(cfg.device), cfg.batch_size)

    # --- build everything from names; the seed fixes the initial weights -------------
    dataset = open_dataset(cfg)
    t = build_training(cfg, dataset, device, ranks)
    G, ema = t.G, t.ema

    # Locate what the metrics need (extractor weights, classifier) before anything is written.
    check_given_weights(cfg.inception_weights)
    plan = plan_evaluation(dataset, eval_settings(cfg), lambda split: open_reference(cfg, dataset, split))

    start_step = 0
    if checkpoint is not None:
        start_step = restore_training_state(t, checkpoint)
    used = run_provenance(cfg, plan.metrics)
    if ranks.main:  # rank 0 alone writes
        if checkpoint is not None:
            run.drop_records_after(start_step)
        run.path.mkdir(parents=True, exist_ok=True)
        run.lock()
        config = {"train": cfg.to_dict(), "architecture": jsonable(t.arch_config), "data": dataset.describe(),
                  "environment": environment(device), "provenance": used}
        if ranks.active:
            config["distributed"] = ranks.describe()
        run.write_config(config)
    # What plugins observing the run see (lifecycle hooks; TensorBoard logging is one of them).
    context = RunContext(config=cfg, out_dir=run.path, start_step=start_step, training=t, main=ranks.main)
    lifecycle("ganzoo_run_started", run=context)
    observe_steps = has_implementations("ganzoo_after_step")

    def run_evaluation(step: int) -> list[dict]:
        if not ranks.main:
            ranks.barrier()  # wait for rank 0's evaluation
            return []
        picture = run.sample_picture(step)
        records = evaluate(ema if ema is not None else G, dataset, step, picture, seed=cfg.seed,
                           generator_kind="ema" if ema is not None else "raw", plan=plan)
        for record in records:
            run.append_metrics(record)
        lifecycle("ganzoo_after_evaluation", run=context, step=step, records=records, picture=picture)
        ranks.barrier()
        return records

    def save_checkpoint(step: int) -> None:
        check_in_step(ranks, {"G": G, "D": t.D}, step)
        state = training_state(t, step)
        if ranks.active:  # what each rank draws alone
            state["ranks"] = ranks.gather(_own_random_state(t))
        if ranks.main:
            run.save_checkpoint(state)
            lifecycle("ganzoo_after_checkpoint", run=context, step=step, path=run.checkpoint_path)

    if start_step == 0:
        save_checkpoint(0)  # so even a run that diverges at once has a good checkpoint
        last_eval = run_evaluation(0)
    else:
        last_eval = []
    last_checkpoint_step = last_good_step = start_step

    # --- the loop -------------------------------------------------------------------
    G.train()
    t.D.train()
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)  # checked without a sync per step
    d_loss_sum = g_loss_sum = torch.zeros((), device=device)
    previous_log = run.read_train_log()  # a resumed run keeps counting its time
    clock = TrainingClock(previous_log[-1]["train_seconds"] if previous_log else 0.0)
    flops = StepFlops(cfg.reg_every)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    bar = tqdm(total=cfg.steps, initial=start_step, disable=not progress or not ranks.main, unit="step",
               dynamic_ncols=True, mininterval=0.5, desc=f"{cfg.arch}/{cfg.loss}/{cfg.data}")
    with _stop_on_interrupt() as interrupted:
        for step in range(start_step, cfg.steps):
            set_learning_rates(t, step)
            scheduled = t.schedules.apply(step) if t.schedules is not None else {}
            t.step = step
            with flops.around_step(warming_up=not clock.warmed_up):
                d_loss, g_loss = train_step(t)

            # Bookkeeping at intervals; `done` generator steps are complete.
            done = step + 1
            nonfinite |= ~(torch.isfinite(d_loss) & torch.isfinite(g_loss))
            d_loss_sum, g_loss_sum = d_loss_sum + d_loss, g_loss_sum + g_loss
            clock.count_step()
            bar.update(1)
            if observe_steps:
                lifecycle("ganzoo_after_step", run=context, step=done)
            at_end = done == cfg.steps
            log_now = done % cfg.log_every == 0 or at_end
            eval_now = done % cfg.eval_every == 0 or at_end
            checkpoint_now = done % cfg.checkpoint_every == 0 or at_end
            stopping = ranks.any(interrupted.is_set())  # every rank stops at the same step
            if not (log_now or eval_now or checkpoint_now or stopping):
                continue
            if ranks.any(nonfinite.item()):  # .item() waits for the device: the window's time below is complete
                bar.close()
                raise NonFiniteLossError(
                    f"Training diverged: a loss became NaN or infinite between step {last_good_step} and "
                    f"step {done} (d_loss={d_loss.item():.4g}, g_loss={g_loss.item():.4g}). The run "
                    f"stopped; the last good checkpoint is {run.checkpoint_path} (step {last_checkpoint_step}). "
                    "Lower the learning rates (--g-lr/--d-lr), try another --loss, or add --reg r1."
                )
            clock.close_window()  # training time only: evaluation and checkpoints run outside the windows
            if log_now or checkpoint_now or stopping:
                steps_logged, speed = clock.take_log_interval()
                mean_d, mean_g = (ranks.mean(torch.stack([d_loss_sum, g_loss_sum])) / steps_logged).tolist()
                record = {"step": done, "d_loss": mean_d, "g_loss": mean_g, "steps_per_second": speed,
                          "train_seconds": round(clock.train_seconds, 3)}
                if scheduled:  # the values this step trained with
                    record["scheduled"] = scheduled
                if getattr(t.augment, "adaptive", False):
                    record["augment_p"] = t.augment.p
                if ranks.main:
                    run.append_train_log(record)
                bar.set_postfix(d_loss=f"{mean_d:.3f}", g_loss=f"{mean_g:.3f}", refresh=False)
                lifecycle("ganzoo_after_log", run=context, record=record)
                d_loss_sum = g_loss_sum = torch.zeros((), device=device)
            if eval_now:
                last_eval = run_evaluation(done)
            stopping = ranks.any(interrupted.is_set())  # Ctrl-C may arrive during the evaluation
            if checkpoint_now or stopping:
                save_checkpoint(done)
                last_checkpoint_step = done
            last_good_step = done
            clock.open_window()
            if stopping:
                bar.close()
                raise KeyboardInterrupt(
                    f"interrupted at step {done}; checkpoint saved. Continue with: "
                    f"ganzoo train --out {run} --resume"
                )
    bar.close()
    summary = {"out_dir": str(run), "steps": cfg.steps, "train_seconds": round(clock.train_seconds, 3),
               "throughput": flops.add_to(clock.throughput(cfg, device), device),
               "metrics": {r["metric"]: r["results"] for r in last_eval}, "provenance": used}
    if ranks.main:
        run.write_summary(summary)
    lifecycle("ganzoo_run_finished", run=context, summary=summary)
    return summary


@dataclass
class Training:
    """Everything one training step touches."""

    cfg: TrainConfig
    device: torch.device
    G: torch.nn.Module
    D: torch.nn.Module
    arch_config: dict
    loss: object
    regularizers: list
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    ema: torch.nn.Module | None
    batches: object
    latent_rng: torch.Generator
    chosen_regularizers: list = field(default_factory=list)  # --reg's: lazy with --reg-every
    step: int = 0  # the generator step being trained (0-based); the loop sets it
    augment: object | None = None  # augment(images, rng): what D sees of every image (DiffAugment)
    augment_rng: torch.Generator | None = None
    schedules: Schedules | None = None
    ranks: Ranks = field(default_factory=Ranks)
    G_sync: torch.nn.Module | None = None  # G as the step calls it for gradients: under torchrun, DDP
    D_sync: torch.nn.Module | None = None  # averaging them; G and D themselves in a single process

    def __post_init__(self):
        self.G_sync = self.G if self.G_sync is None else self.G_sync
        self.D_sync = self.D if self.D_sync is None else self.D_sync

    def seen(self, images: torch.Tensor) -> torch.Tensor:
        """Images as D sees them: augmented when the run augments, else as they are."""
        return images if self.augment is None else self.augment(images, self.augment_rng)


def build_training(cfg: TrainConfig, dataset, device: torch.device, ranks: Ranks | None = None) -> Training:
    """Models, loss, optimisers and random generators from names; the seed fixes the weights."""
    ranks = ranks or Ranks()
    if ranks.active and cfg.update == "simultaneous":
        raise GanzooError("update simultaneous does not run under torchrun yet: DistributedDataParallel averages "
                          "gradients in backward passes that reach all of a model's weights, and this step's "
                          "pass through D reaches only G's. Use --update alternating with torchrun.")
    torch.manual_seed(cfg.seed)
    G, D, arch_config = create_architecture(cfg.arch, **_architecture_overrides(cfg, dataset))
    if ranks.active:  # batch statistics of the whole batch, as one process would have them
        G, D = cross_replica_batch_norm(G), cross_replica_batch_norm(D)
    if ranks.rank:  # noise inside the models: each rank its own (rank 0 as a single process)
        torch.manual_seed(ranks.own_seed(cfg.seed))
    G, D = G.to(device), D.to(device)
    channels_last = cfg.channels_last and len(dataset.sample_shape) == 3  # images only
    if channels_last:  # the same weights, stored NHWC: oneDNN's and cuDNN's fast convolutions
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    check_output_shapes(cfg.arch, G, D, arch_config, device)
    if cfg.batch_size % arch_config["pack"]:
        raise GanzooError(f"batch-size {cfg.batch_size} is not a multiple of pack={arch_config['pack']} "
                          "(PacGAN); choose one that is.")
    if cfg.data_on_device:
        dataset.to(device)
    loss = create_loss(cfg.loss, **cfg.loss_options)
    chosen = named_regularizers(cfg.regularizer, cfg.regularizer_options)
    regularizers = [*loss.regularizers, *chosen.values()]  # all of them, for the unrolled D steps
    augment = create_augmentation(cfg.augment, **cfg.augment_options) if cfg.augment else None
    if getattr(augment, "needs_images", False) and len(dataset.sample_shape) != 3:
        raise GanzooError(f"The augmentation '{cfg.augment}' transforms images; '{cfg.data}' holds samples of "
                          f"shape {tuple(dataset.sample_shape)}. Drop --augment for this data set.")
    batches = _FirstBatchChecked(dataset.batches(cfg.batch_size, device, seed=cfg.seed + 1), dataset,
                                 f"The data set '{cfg.data}' from {origin(dataset_entry(cfg.data))}")
    if ranks.active:
        batches = _RankSlice(batches, ranks)
    if channels_last:
        batches = _ChannelsLast(batches)
    g_opt = create_optimizer(cfg.optimizer, G.parameters(), cfg.g_lr, cfg.betas)
    d_opt = create_optimizer(cfg.optimizer, D.parameters(), cfg.d_lr, cfg.betas)
    schedules = None
    if cfg.schedules:
        with_loss = {getattr(reg, "name", "") or f"loss-{i}": reg for i, reg in enumerate(loss.regularizers)}
        schedules = Schedules(cfg.schedules, g_opt=g_opt, d_opt=d_opt, regularizers={**with_loss, **chosen},
                              augment=augment, batch_size=cfg.batch_size, lr_schedule=cfg.lr_schedule,
                              has_ema=cfg.ema_decay > 0)
    return Training(
        cfg=cfg, device=device, G=G, D=D, arch_config=arch_config,
        G_sync=synchronised(G, ranks, device), D_sync=synchronised(D, ranks, device), ranks=ranks,
        loss=loss, regularizers=regularizers,
        chosen_regularizers=list(chosen.values()),
        g_opt=g_opt, d_opt=d_opt,
        ema=copy.deepcopy(G).eval().requires_grad_(False) if cfg.ema_decay > 0 else None,
        batches=batches,
        latent_rng=torch.Generator(device).manual_seed(cfg.seed + 2),
        augment=augment,
        augment_rng=(torch.Generator(device).manual_seed(ranks.own_seed(cfg.seed + 3))
                     if augment is not None else None),
        schedules=schedules,
    )


class _FirstBatchChecked:
    """Checks the first batch a data set hands out against what it declares (shape, dtype,
    labels), so that a plugin's mistake is named instead of surfacing as a shape error deep
    in D; then gets out of the way (its `next` becomes the source's own)."""

    def __init__(self, batches, dataset, owner: str):
        self.inner, self.dataset, self.owner = batches, dataset, owner

    def next(self):
        samples, labels = self.inner.next()
        problem = batch_problem(self.dataset, samples, labels)
        if problem is not None:
            raise GanzooError(f"{self.owner}: its first batch {problem}. Fix the data set's batches() or its "
                              "declaration (docs/plugins.md, data sets).")
        self.next = self.inner.next  # type: ignore[method-assign]  # checked once: no cost per step after
        return samples, labels

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


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
                raise GanzooError(f"{where}: its generator fails on a batch of {n}: {type(exc).__name__}: {exc}. "
                                  "Fix the plugin's generator.") from None
            wanted = (n, *tuple(arch_config["data_shape"]))
            if not isinstance(x, torch.Tensor) or tuple(x.shape) != wanted:
                got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise GanzooError(f"{where}: its generator returned {got} for {n} samples, but the data are "
                                  f"{wanted}. Fix the plugin's generator (its output_shape is "
                                  f"{tuple(G.output_shape)}).")
            try:
                logits = D(x, labels)
            except Exception as exc:
                raise GanzooError(f"{where}: its discriminator fails on a batch of {n} generated samples: "
                                  f"{type(exc).__name__}: {exc}. Fix the plugin's discriminator.") from None
            if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (n // pack,):
                got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                raise GanzooError(f"{where}: its discriminator returned {got} for {n // pack} inputs; ganzoo needs "
                                  f"one logit per input, shape ({n // pack},) (a (N, 1) output would broadcast "
                                  "into a wrong loss). Flatten it in the plugin's forward, e.g. "
                                  "`return self.net(x).flatten()`.")
    finally:
        G.train(modes[0])
        D.train(modes[1])


def set_learning_rates(t: Training, step: int) -> None:
    """The learning rates for generator step `step` (0-based), a function of the step alone,
    so a resumed run follows the same schedule. linear-decay: base * (1 - step / steps), the
    schedule of SNGAN's and WGAN-GP's ResNet experiments."""
    if t.cfg.lr_schedule == "constant":
        return
    scale = 1.0 - step / t.cfg.steps
    for optimizer, base in ((t.g_opt, t.cfg.g_lr), (t.d_opt, t.cfg.d_lr)):
        for group in optimizer.param_groups:
            group["lr"] = base * scale


def train_step(t: Training) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of Goodfellow et al.'s algorithm: n_d D steps, then one G step. Returns the
    last D loss and the G loss, still on the device (reading them would wait for it)."""
    cfg, G, D, loss = t.cfg, t.G, t.D, t.loss
    if cfg.update == "simultaneous":
        return simultaneous_step(t)
    local = t.ranks.local  # under torchrun, this rank's rows of what is drawn for the whole batch
    # 1) n_d discriminator steps, G fixed.
    for i in range(cfg.n_d):
        real, labels = t.batches.next()
        labels = labels if G.num_classes else None  # unconditional models ignore labels
        fake_labels = local(G.sample_labels(cfg.batch_size, t.device, t.latent_rng))
        with torch.no_grad():
            fake = G(local(G.sample_latent(cfg.batch_size, t.device, t.latent_rng)), fake_labels)
        real, fake = t.seen(real), t.seen(fake)  # R1 and R2 too judge what D sees (as in StyleGAN2-ADA)
        real_logits = t.D_sync(real, labels)
        if t.augment is not None and hasattr(t.augment, "observe"):  # ADA: p follows D's overfitting
            t.augment.observe(real_logits)
        d_loss = _discriminator_loss(t, real_logits, t.D_sync(fake, fake_labels), real, fake, labels, fake_labels,
                                     d_step=t.step * cfg.n_d + i)
        t.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        t.d_opt.step()
        loss.after_discriminator_step(D)

    # 2) one generator step, D fixed (no gradients for D's weights). Unrolled GAN: G is judged
    #    by D as it would be after `unroll_steps` more steps (D itself does not change).
    D.requires_grad_(False)  # and D itself, not D_sync: DDP has no D gradients to average here
    fake_labels = local(G.sample_labels(cfg.batch_size, t.device, t.latent_rng))
    fake = t.seen(t.G_sync(local(G.sample_latent(cfg.batch_size, t.device, t.latent_rng)), fake_labels))
    judge = D
    if cfg.unroll_steps:
        judge = unrolled_discriminator(D, t.d_opt, loss, t.regularizers, real, labels, fake, fake_labels,
                                       cfg.unroll_steps)
    fake_logits = judge(fake, fake_labels)
    g_loss = _generator_loss(t, fake_logits, judge(real, labels) if loss.generator_needs_real else None)
    t.g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    t.g_opt.step()
    D.requires_grad_(True)
    _step_ema(t)
    return d_loss.detach(), g_loss.detach()


def simultaneous_step(t: Training) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the simultaneous algorithm (PacGAN's and ALI's code): one batch and one
    forward pass of G and D; D's gradient of its loss and G's gradient of its loss, both at
    the current weights; then both optimiser steps. Same returns as `train_step`. It costs
    about 0.8 of an alternating step (one G forward and one D pass on generated samples
    fewer), and G's batch-norm statistics move once per step, as in those codes."""
    cfg, G, D, loss = t.cfg, t.G, t.D, t.loss
    real, labels = t.batches.next()
    labels = labels if G.num_classes else None
    fake_labels = G.sample_labels(cfg.batch_size, t.device, t.latent_rng)
    fake = t.seen(G(G.sample_latent(cfg.batch_size, t.device, t.latent_rng), fake_labels))
    real = t.seen(real)
    real_logits = D(real, labels)
    if t.augment is not None and hasattr(t.augment, "observe"):
        t.augment.observe(real_logits)
    fake_logits = D(fake, fake_labels)
    d_loss = _discriminator_loss(t, real_logits, fake_logits, real, fake.detach(), labels, fake_labels, d_step=t.step)
    g_loss = _generator_loss(t, fake_logits, real_logits if loss.generator_needs_real else None)
    t.d_opt.zero_grad(set_to_none=True)
    t.g_opt.zero_grad(set_to_none=True)
    # `inputs`: each loss reaches only its own player's weights (D's loss never moves G, and
    # G's backward through D computes no gradients for D's weights).
    d_loss.backward(inputs=list(D.parameters()), retain_graph=True)
    g_loss.backward(inputs=list(G.parameters()))
    t.d_opt.step()
    t.g_opt.step()
    loss.after_discriminator_step(D)
    _step_ema(t)
    return d_loss.detach(), g_loss.detach()


def _discriminator_loss(t: Training, real_logits, fake_logits, real, fake, labels, fake_labels, d_step: int):
    """D's loss and its penalties: the loss's own (WGAN-GP's) at every D step; the chosen
    regularisers (--reg) lazily, every reg_every-th D step of the run, weighted to match."""
    d_loss = t.loss.discriminator_loss(real_logits, fake_logits)
    d_loss = d_loss + penalties(t.loss.regularizers, t.D, real, fake, labels, fake_labels)
    if d_step % t.cfg.reg_every == 0:
        d_loss = d_loss + t.cfg.reg_every * penalties(t.chosen_regularizers, t.D, real, fake, labels, fake_labels)
    return d_loss


def _generator_loss(t: Training, fake_logits, real_logits):
    """G's loss, plus the architecture's own penalty (BigGAN's orthogonal, StyleGAN2's path length)."""
    g_loss = t.loss.generator_loss(fake_logits, real_logits)
    own = t.G.penalty(t.step, t.cfg.batch_size, t.latent_rng)
    return g_loss if own is None else g_loss + own


def _architecture_overrides(cfg: TrainConfig, dataset) -> dict:
    """Shape from the data; classes from the data for class-conditional architectures."""
    overrides = {"data_shape": dataset.sample_shape}
    conditional = architecture_entry(cfg.arch).defaults.get("num_classes", 0) > 0
    asked = cfg.arch_options.get("num_classes")
    if asked == 0:
        overrides["num_classes"] = 0
    elif conditional or asked:
        if not dataset.num_classes:
            raise GanzooError(f"Architecture '{cfg.arch}' is class-conditional, but data set '{cfg.data}' "
                              "has no labels. Choose a labelled data set (e.g. mnist).")
        if asked not in (None, dataset.num_classes):
            raise GanzooError(f"num_classes={asked} does not match data set '{cfg.data}', which has "
                              f"{dataset.num_classes} classes. Leave num_classes out.")
        overrides["num_classes"] = dataset.num_classes
    return {**cfg.arch_options, **overrides}


def _step_ema(t: Training) -> None:
    if t.ema is not None:
        scheduled = t.schedules.ema_decay if t.schedules is not None else None
        _update_ema(t.ema, t.G, t.cfg.ema_decay if scheduled is None else scheduled)


@torch.no_grad()
def _update_ema(ema, model, decay: float) -> None:
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in model.parameters()], 1 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), model.buffers()):
        ema_buffer.copy_(buffer)  # batch-norm statistics are copied, not averaged


def training_state(t: Training, step: int) -> dict:
    """Everything that decides the rest of the run after `step` steps: what a checkpoint holds."""
    return {
        "step": step, "generator": t.G.state_dict(), "discriminator": t.D.state_dict(),
        "g_opt": t.g_opt.state_dict(), "d_opt": t.d_opt.state_dict(),
        "ema": t.ema.state_dict() if t.ema is not None else None,
        "batches": t.batches.state_dict(), "latent_rng": t.latent_rng.get_state(),
        "augment_rng": t.augment_rng.get_state() if t.augment_rng is not None else None,
        "augment_state": t.augment.state_dict() if hasattr(t.augment, "state_dict") else None,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(t.device) if t.device.type == "cuda" else None,
        "config": t.cfg.to_dict(),
    }


def restore_training_state(t: Training, checkpoint: dict) -> int:
    """Put a checkpoint's state back; returns its step."""
    try:
        t.G.load_state_dict(checkpoint["generator"])
        t.D.load_state_dict(checkpoint["discriminator"])
        t.g_opt.load_state_dict(checkpoint["g_opt"])
        t.d_opt.load_state_dict(checkpoint["d_opt"])
        if t.ema is not None:
            t.ema.load_state_dict(checkpoint["ema"])
        t.batches.load_state_dict(checkpoint["batches"])
        t.latent_rng.set_state(checkpoint["latent_rng"])
        if t.augment_rng is not None:
            t.augment_rng.set_state(checkpoint["augment_rng"])
        if hasattr(t.augment, "load_state_dict") and checkpoint.get("augment_state") is not None:
            t.augment.load_state_dict(checkpoint["augment_state"])
        torch.set_rng_state(checkpoint["torch_rng"])
        if checkpoint.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(checkpoint["cuda_rng"], t.G.device)
        if t.ranks.active:
            _restore_own_random_state(t, checkpoint.get("ranks"), int(checkpoint["step"]))
        return int(checkpoint["step"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise GanzooError(
            f"The checkpoint does not match this run's models ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0]}). It was written by another configuration or version; "
            "train into a new --out instead of resuming."
        ) from None


def _own_random_state(t: Training) -> dict:
    return {"torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(t.device) if t.device.type == "cuda" else None,
            "augment_rng": t.augment_rng.get_state() if t.augment_rng is not None else None}


def _restore_own_random_state(t: Training, saved: list | None, step: int) -> None:
    """This rank's generators as the checkpoint left them; a run resumed on another number of
    processes seeds them afresh from (seed, rank, step)."""
    if saved is not None and len(saved) == t.ranks.world:
        mine = saved[t.ranks.rank]
        torch.set_rng_state(mine["torch_rng"])
        if mine["cuda_rng"] is not None:
            torch.cuda.set_rng_state(mine["cuda_rng"], t.device)
        if t.augment_rng is not None and mine["augment_rng"] is not None:
            t.augment_rng.set_state(mine["augment_rng"])
        return
    seed = t.ranks.own_seed(t.cfg.seed) + step
    torch.manual_seed(seed)
    if t.augment_rng is not None:
        t.augment_rng.manual_seed(seed + 3)


def _check_same_experiment(saved: TrainConfig, asked: TrainConfig, out_dir) -> None:
    """A resumed run may change its length and intervals, not what it trains."""
    if saved.lr_schedule != "constant" and asked.steps != saved.steps:
        raise GanzooError(
            f"{out_dir} follows lr-schedule {saved.lr_schedule} over {saved.steps} steps; changing the number "
            f"of steps ({asked.steps}) would change its learning rates. Resume without --steps, or train into "
            "a new --out.")
    saved_identity, asked_identity = saved.identity(), asked.identity()
    for key, saved_value in saved_identity.items():
        if asked_identity[key] != saved_value:
            raise GanzooError(
                f"{out_dir} was trained with {key}={saved_value!r}, but this asks for "
                f"{asked_identity[key]!r}. Drop that option to resume, or train into a new --out."
            )


#: Ctrl-C, and what Slurm, Kubernetes and Ray send before they kill a job.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_on_interrupt():
    """First Ctrl-C or SIGTERM: finish the current step, checkpoint, stop. Second: stop at once."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
