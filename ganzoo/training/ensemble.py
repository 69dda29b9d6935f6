"""Seed-batched training: N seeds of one configuration trained in one process, as one model.

A small GAN (the 2D networks) spends its step on per-operation overhead on a CPU and on
kernel launches on a GPU, not on arithmetic. Stacking the N seeds' weights
(`torch.func.stack_module_state`) and running the networks under `torch.vmap` makes each
operation one batched operation for all seeds, so N seeds cost far less than N runs
(benchmarks/test_ensemble_speed.py).

Each seed trains exactly as its own run would, in the same order:
- its weights start from its own seed (each seed's models are built as `ganzoo train`
  builds them, then stacked), and it draws its own data and latents from its own streams;
- its losses are computed on its own logits and summed over the seeds, so each seed's
  gradient is its own run's; Adam works element by element, so one Adam over the stacked
  weights is N Adams;
- batch norm keeps per-seed statistics: the buffers are stacked with the weights.
The seeds differ from separate runs only in floating-point summation order (and in noise
drawn inside the models from torch's global generator, shared here: none of the 2D nets
draws any).

Each seed gets its own run directory, written as `ganzoo train` writes one (config, logs,
metrics, checkpoints in the same format, summary), so `ganzoo sample` and the reports read
it as any run, and an interrupted ensemble resumes from its seeds' checkpoints.

Not supported, refused by name: D penalties (the loss's own, as WGAN-GP's, or --reg),
unrolled D, augmentation, setting schedules, G's own penalty (StyleGAN2, BigGAN), spectral
norm (SNGAN, BigGAN).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch.func import functional_call, stack_module_state
from torch.fx.experimental.proxy_tensor import make_fx

from ganzoo.core.config import TrainConfig
from ganzoo.core.lifecycle import RunContext
from ganzoo.core.models import Generator
from ganzoo.core.settings import jsonable
from ganzoo.errors import GanzooError, NonFiniteLossError
from ganzoo.evaluation.plan import evaluate, plan_evaluation
from ganzoo.plugin.manager import has_implementations, lifecycle, run_provenance
from ganzoo.runs.rundir import RunDir
from ganzoo.training.loop import (
    _check_same_experiment,
    build_training,
    restore_training_state,
    set_learning_rates,
    training_state,
)
from ganzoo.training.opening import open_dataset, open_reference
from ganzoo.training.resolve import eval_settings, pick_device, resolve
from ganzoo.util.environment import environment


class Stacked:
    """N copies of one network, their weights and buffers stacked on a leading seed axis,
    called as one: inputs and outputs carry the seed axis first.

    The networks run under `torch.vmap` through `functional_call`. Both wrappers cost host
    time at every call, which is most of a small network's step (on a GPU all of it), so each
    kind of call (input shapes, conditional or not) is traced once with `make_fx` into a
    graph of the batched operations themselves, which later calls run directly. Autograd
    records the graph's operations as it would the network's; batch norm's running
    statistics are updated in place as under vmap. A network that cannot be traced (one
    whose forward depends on its data's values) runs under vmap at every call."""

    def __init__(self, models: list[torch.nn.Module]):
        self.params, self.buffers = stack_module_state(models)  # params: new leaves, one per tensor
        shape = copy.deepcopy(models[0]).to("meta")  # the module's code, without storage

        def one(p, b, x, labels):
            return functional_call(shape, (p, b), (x, labels))

        # Built once: vmap's wrapper is cheap, but this is called five times a step.
        self._calls = {conditional: torch.vmap(one, in_dims=(0, 0, 0, 0 if conditional else None),
                                               randomness="different") for conditional in (False, True)}
        self._graphs: dict = {}  # call signature -> traced graph, or None where tracing failed

    def __call__(self, x, labels=None, params=None):
        params = self.params if params is None else params
        vmapped = self._calls[labels is not None]
        key = (tuple(x.shape), x.dtype, x.device, None if labels is None else tuple(labels.shape))
        if key not in self._graphs:
            self._graphs[key] = self._trace(vmapped, params, x, labels)
        graph = self._graphs[key]
        return (vmapped if graph is None else graph)(params, self.buffers, x, labels)

    def _trace(self, vmapped, params, x, labels):
        """The vmapped call as a graph of aten operations, traced on fake tensors (so tracing
        neither computes nor updates the running statistics), or None if it cannot be traced."""
        try:
            return make_fx(vmapped, tracing_mode="fake")(params, self.buffers, x, labels)
        except Exception:  # noqa: BLE001 (data-dependent control flow, an op without a fake kernel...)
            return None

    def detached(self) -> dict:
        return {k: v.detach() for k, v in self.params.items()}

    def parameters(self):
        return list(self.params.values())

    def write_to(self, model: torch.nn.Module, seed_index: int) -> None:
        """Seed `seed_index`'s weights and buffers into a plain module."""
        model.load_state_dict({k: v[seed_index] for k, v in {**self.params, **self.buffers}.items()}, strict=False)

    def read_from(self, models: list[torch.nn.Module]) -> None:
        """Take every seed's weights and buffers back from plain modules (a resumed run)."""
        with torch.no_grad():
            for name, stacked in {**self.params, **self.buffers}.items():
                stacked.copy_(torch.stack([m.state_dict()[name] for m in models]))


def _spectrally_normed(model: torch.nn.Module) -> bool:
    """Whether any layer has spectral norm, as a parametrisation or as the older hook."""
    for module in model.modules():
        if hasattr(module, "weight_orig"):  # torch.nn.utils.spectral_norm
            return True
        for chain in getattr(module, "parametrizations", {}).values():
            if any(type(p).__name__ == "_SpectralNorm" for p in chain):
                return True
    return False


def check_supported(cfg: TrainConfig, t) -> None:
    reasons = []
    if t.regularizers:
        reasons.append("D penalties (the loss's own or --reg)")
    if cfg.unroll_steps:
        reasons.append("unrolled D steps")
    if cfg.update != "alternating":
        reasons.append(f"the {cfg.update} update")
    if t.augment is not None:
        reasons.append("augmentation")
    if cfg.schedules:
        reasons.append("setting schedules")
    if type(t.G).penalty is not Generator.penalty:
        reasons.append("a generator penalty of the architecture's own")
    if _spectrally_normed(t.G) or _spectrally_normed(t.D):
        reasons.append("spectral norm (its power iteration updates a vector in place, which vmap cannot batch)")
    if reasons:
        raise GanzooError(f"Seed-batched training cannot train {cfg.arch} with {cfg.loss}: it does not support "
                          f"{', '.join(reasons)}. Train these seeds as separate runs (drop seed_batched from the "
                          "block).")


def _unstack_optimizer(stacked: torch.optim.Optimizer, plain: torch.optim.Optimizer, i: int) -> None:
    """Seed i's share of a stacked optimizer's state, into that seed's plain optimizer."""
    state = stacked.state_dict()
    own = plain.state_dict()
    own["state"] = {key: {k: v[i].clone() if torch.is_tensor(v) and v.dim() > 0 else v for k, v in s.items()}
                    for key, s in state["state"].items()}
    for group, stacked_group in zip(own["param_groups"], state["param_groups"]):
        group.update({k: v for k, v in stacked_group.items() if k != "params"})
    plain.load_state_dict(own)


def _stack_optimizer(stacked: torch.optim.Optimizer, plains: list[torch.optim.Optimizer]) -> None:
    states = [p.state_dict() for p in plains]
    merged = stacked.state_dict()
    merged["state"] = {key: {k: torch.stack([s["state"][key][k] for s in states]) if torch.is_tensor(v) and
                             v.dim() > 0 else v for k, v in first.items()}
                       for key, first in states[0]["state"].items()}
    stacked.load_state_dict(merged)


@dataclass
class Ensemble:
    """Everything one seed-batched step touches: the seeds' own Training objects (their
    models serve as each seed's plain view, for evaluation and checkpoints), the stacked
    networks and their optimisers."""

    cfg: TrainConfig
    seeds: list  # loop.Training, one per seed
    G: Stacked
    D: Stacked
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    ema: dict | None  # stacked EMA weights of G

    def draw(self, kind: str):
        """Every seed's latents (kind "sample_latent") or labels from its own generator, stacked."""
        drawn = [getattr(t.G, kind)(self.cfg.batch_size, t.device, t.latent_rng) for t in self.seeds]
        return None if drawn[0] is None else torch.stack(drawn)

    def real_batch(self):
        batches = [t.batches.next() for t in self.seeds]
        labels = torch.stack([b[1] for b in batches]) if self.seeds[0].G.num_classes else None
        return torch.stack([b[0] for b in batches]), labels


def build_ensemble(cfgs: list[TrainConfig], dataset, device: torch.device) -> Ensemble:
    """Each seed built as its own run builds it (weights, data stream, latent generator), then stacked."""
    seeds = [build_training(c, dataset, device) for c in cfgs]
    check_supported(cfgs[0], seeds[0])
    G, D = Stacked([t.G for t in seeds]), Stacked([t.D for t in seeds])
    first = seeds[0]
    return Ensemble(cfg=cfgs[0], seeds=seeds, G=G, D=D,
                    g_opt=type(first.g_opt)(G.parameters(), **first.g_opt.defaults),
                    d_opt=type(first.d_opt)(D.parameters(), **first.d_opt.defaults),
                    ema=copy.deepcopy(G.detached()) if cfgs[0].ema_decay > 0 else None)


def ensemble_step(e: Ensemble) -> tuple[torch.Tensor, torch.Tensor]:
    """loop.train_step for every seed at once, drawing in the same order; returns each seed's
    last D loss and G loss (shape N), on the device."""
    cfg, G, D, loss = e.cfg, e.G, e.D, e.seeds[0].loss
    for _ in range(cfg.n_d):
        real, labels = e.real_batch()
        fake_labels = e.draw("sample_labels")
        with torch.no_grad():
            fake = G(e.draw("sample_latent"), fake_labels)
        d_losses = torch.vmap(loss.discriminator_loss)(D(real, labels), D(fake, fake_labels))
        e.d_opt.zero_grad(set_to_none=True)
        d_losses.sum().backward()  # each seed's gradient is its own loss's
        e.d_opt.step()
        with torch.no_grad():
            loss.after_discriminator_step(D)  # weight clipping works element by element
    fake_labels = e.draw("sample_labels")
    judge = D.detached()  # D fixed: gradients reach G through it, none are kept for D
    fake_logits = D(G(e.draw("sample_latent"), fake_labels), fake_labels, params=judge)
    if loss.generator_needs_real:
        g_losses = torch.vmap(loss.generator_loss)(fake_logits, D(real, labels, params=judge))
    else:
        g_losses = torch.vmap(loss.generator_loss)(fake_logits)
    e.g_opt.zero_grad(set_to_none=True)
    g_losses.sum().backward()
    e.g_opt.step()
    if e.ema is not None:
        with torch.no_grad():
            torch._foreach_lerp_(list(e.ema.values()), [p.detach() for p in G.params.values()], 1 - cfg.ema_decay)
    return d_losses.detach(), g_losses.detach()


def train_ensemble(configs: list[TrainConfig], out_dirs: list) -> list[dict]:
    """Train configurations that differ only in their seed as one seed-batched model, into
    one run directory each; returns their summaries, as `loop.train` would return each."""
    cfgs = [resolve(c) for c in configs]
    base = cfgs[0].identity() | {"seed": None}
    if any(c.identity() | {"seed": None} != base for c in cfgs) or len({c.seed for c in cfgs}) != len(cfgs):
        raise GanzooError("A seed-batched ensemble trains one configuration with several seeds; these "
                          "configurations differ in more than their seed, or repeat a seed.")
    runs = [RunDir(d) for d in out_dirs]
    try:
        return _train_ensemble(cfgs, runs)
    finally:
        for run in runs:
            run.unlock()


def _train_ensemble(cfgs: list[TrainConfig], runs: list[RunDir]) -> list[dict]:
    cfg, n = cfgs[0], len(cfgs)
    device = pick_device(cfg.device)
    dataset = open_dataset(cfg)
    e = build_ensemble(cfgs, dataset, device)
    seeds, G, D = e.seeds, e.G, e.D
    plan = plan_evaluation(dataset, eval_settings(cfg), lambda split: open_reference(cfg, dataset, split))
    start_step = 0
    saved = [run.has_checkpoint() for run in runs]
    if any(saved) and not all(saved):
        raise GanzooError(f"Of the ensemble's run directories only some hold a checkpoint ("
                          f"{', '.join(str(r) for r, s in zip(runs, saved) if s)}): they were not written by one "
                          "ensemble. Train these seeds into new folders.")
    if all(saved):
        for c, run in zip(cfgs, runs):
            run.lock()
            _check_same_experiment(TrainConfig.from_dict(run.read_config()["train"]), c, run.path)
        steps = {restore_training_state(t, run.load_checkpoint()) for t, run in zip(seeds, runs)}
        if len(steps) != 1:
            raise GanzooError(f"The seeds' checkpoints are at different steps ({sorted(steps)}): they were not "
                              "written by one ensemble. Train them as separate runs, or into new folders.")
        start_step = steps.pop()
        finished = [run.read_summary() for run in runs]
        if start_step == cfg.steps and all(finished):
            return finished  # nothing to do, nothing rewritten
        for run in runs:
            run.drop_records_after(start_step)
    if all(saved):  # the seeds' restored state into the stacked networks and optimisers
        G.read_from([t.G for t in seeds])
        D.read_from([t.D for t in seeds])
        _stack_optimizer(e.g_opt, [t.g_opt for t in seeds])
        _stack_optimizer(e.d_opt, [t.d_opt for t in seeds])
        if e.ema is not None:
            e.ema = {k: v.detach() for k, v in stack_module_state([t.ema for t in seeds])[0].items()}
    used = run_provenance(cfg, plan.metrics)
    for c, t, run in zip(cfgs, seeds, runs):  # written as `ganzoo train` writes a run, with the ensemble named
        run.path.mkdir(parents=True, exist_ok=True)
        run.lock()
        run.write_config({"train": c.to_dict(), "architecture": jsonable(t.arch_config), "data": dataset.describe(),
                          "environment": environment(device), "provenance": used,
                          "ensemble": {"seeds": [x.seed for x in cfgs], "method": "torch.func.vmap"}})
    # Each seed is a run to the lifecycle hooks (trackers, TensorBoard), as under `ganzoo train`.
    # Its `training` holds that seed's own models, up to date at each log line, evaluation and
    # checkpoint (the stacked networks train in between).
    contexts = [RunContext(config=c, out_dir=run.path, start_step=start_step, training=t)
                for c, t, run in zip(cfgs, seeds, runs)]
    for context in contexts:
        lifecycle("ganzoo_run_started", run=context)
    observe_steps = has_implementations("ganzoo_after_step")

    def unstack(step: int) -> None:
        """The stacked state into each seed's plain models and optimisers (for evaluation and checkpoints)."""
        for i, t in enumerate(seeds):
            G.write_to(t.G, i)
            D.write_to(t.D, i)
            _unstack_optimizer(e.g_opt, t.g_opt, i)
            _unstack_optimizer(e.d_opt, t.d_opt, i)
            if e.ema is not None:
                t.ema.load_state_dict({**{k: v[i] for k, v in e.ema.items()},
                                       **{k: v[i] for k, v in G.buffers.items()}}, strict=False)

    def evaluate_all(step: int) -> list[list[dict]]:
        out = []
        for c, t, run, context in zip(cfgs, seeds, runs, contexts):
            records = evaluate(t.ema if t.ema is not None else t.G, dataset, step, run.sample_picture(step),
                               seed=c.seed, generator_kind="ema" if t.ema is not None else "raw", plan=plan)
            for record in records:
                run.append_metrics(record)
            lifecycle("ganzoo_after_evaluation", run=context, step=step, records=records,
                      picture=run.sample_picture(step))
            out.append(records)
        return out

    def checkpoint(step: int) -> None:
        for t, run, context in zip(seeds, runs, contexts):
            run.save_checkpoint(training_state(t, step))
            lifecycle("ganzoo_after_checkpoint", run=context, step=step, path=run.checkpoint_path)

    if start_step == 0:
        unstack(0)
        checkpoint(0)
        last_eval = evaluate_all(0)
    else:
        last_eval = [[] for _ in seeds]

    d_sum = g_sum = torch.zeros(n, device=device)
    previous_log = runs[0].read_train_log()  # a resumed run keeps counting its time
    train_seconds = previous_log[-1]["train_seconds"] if previous_log else 0.0
    timed = 0.0  # since the last log line
    logged_from = start_step
    for step in range(start_step, cfg.steps):
        set_learning_rates(e, step)  # reads cfg, g_opt and d_opt, which the ensemble has as a Training does
        started = time.perf_counter()
        d_losses, g_losses = ensemble_step(e)
        d_sum, g_sum = d_sum + d_losses, g_sum + g_losses
        timed += time.perf_counter() - started

        done = step + 1
        if observe_steps:
            for context in contexts:
                lifecycle("ganzoo_after_step", run=context, step=done)
        at_end = done == cfg.steps
        log_now, eval_now = done % cfg.log_every == 0 or at_end, done % cfg.eval_every == 0 or at_end
        checkpoint_now = done % cfg.checkpoint_every == 0 or at_end
        if not (log_now or eval_now or checkpoint_now):
            continue
        if not (torch.isfinite(d_sum).all() and torch.isfinite(g_sum).all()):
            bad = [c.seed for c, d, g in zip(cfgs, d_sum, g_sum) if not (d.isfinite() and g.isfinite())]
            raise NonFiniteLossError(f"Training diverged: a loss of seed(s) {bad} became NaN or infinite before "
                                     f"step {done}. The ensemble stopped; its seeds' last checkpoints are kept. "
                                     "Lower the learning rates, or train the seeds as separate runs.")
        if log_now or checkpoint_now:
            count = done - logged_from
            train_seconds += timed
            for run, context, d, g in zip(runs, contexts, (d_sum / count).tolist(), (g_sum / count).tolist()):
                record = {"step": done, "d_loss": d, "g_loss": g, "steps_per_second": count / timed,
                          "train_seconds": round(train_seconds, 3), "ensemble_size": n}
                run.append_train_log(record)
                lifecycle("ganzoo_after_log", run=context, record=record)
            d_sum = g_sum = torch.zeros(n, device=device)
            logged_from, timed = done, 0.0
        unstack(done)
        if eval_now:
            last_eval = evaluate_all(done)
        if checkpoint_now:
            checkpoint(done)

    # Each seed trained cfg.steps steps in train_seconds, beside the others: its own rate is the
    # ensemble's step rate; the ensemble's images per second are N times a seed's.
    rate = cfg.steps / train_seconds if train_seconds else None
    summaries = []
    for c, run, records in zip(cfgs, runs, last_eval):
        summary = {"out_dir": str(run), "steps": c.steps, "train_seconds": round(train_seconds, 3),
                   "throughput": {"device": str(device), "batch_size": c.batch_size, "n_d": c.n_d,
                                  "ensemble_size": n, "steps_per_s": rate,
                                  "images_per_s": rate * c.batch_size if rate else None,
                                  "ensemble_images_per_s": rate * c.batch_size * n if rate else None},
                   "metrics": {r["metric"]: r["results"] for r in records}, "provenance": used}
        run.write_summary(summary)
        summaries.append(summary)
    for context, summary in zip(contexts, summaries):
        lifecycle("ganzoo_run_finished", run=context, summary=summary)
    return summaries
