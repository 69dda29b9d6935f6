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

An `Ensemble` is the step's `Players` (training/step.py) for all seeds at once, and the loop
(training/loop.py) drives it as it drives one run: each seed gets its own run directory,
written as `ganzoo train` writes one (config, logs, metrics, checkpoints in the same format,
summary), so `ganzoo sample` and the reports read it as any run, and an interrupted ensemble
resumes from its seeds' checkpoints.

Not supported, refused by name: D penalties (the loss's own, as WGAN-GP's, or --reg),
unrolled D, augmentation, setting schedules, G's own penalty (StyleGAN2, BigGAN), spectral
norm (SNGAN, BigGAN), torchrun.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch.func import functional_call, stack_module_state
from torch.fx.experimental.proxy_tensor import make_fx

from ganzoo.core.models import Generator
from ganzoo.errors import GanzooError
from ganzoo.training.compiling import spectrally_normed
from ganzoo.training.players import Training, build_training
from ganzoo.training.precision import Precision, as_fp32
from ganzoo.training.resolve import Resolved


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
        self._calls = {
            conditional: torch.vmap(one, in_dims=(0, 0, 0, 0 if conditional else None), randomness="different")
            for conditional in (False, True)
        }
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


def check_supported(cfg: Resolved, t) -> None:
    reasons = []
    if t.regularizers:
        reasons.append("D penalties (the loss's own or --reg)")
    if cfg.unroll_steps:
        reasons.append("unrolled D steps")
    if t.augment is not None:
        reasons.append("augmentation")
    if cfg.schedules:
        reasons.append("setting schedules")
    if cfg.precision == "fp16":
        reasons.append("fp16 (one loss scale for all seeds would skip every seed's step when one overflows; use bf16)")
    if cfg.compile:
        reasons.append("--compile (the ensemble traces its stacked networks into graphs of its own)")
    if type(t.G).penalty is not Generator.penalty:
        reasons.append("a generator penalty of the architecture's own")
    if spectrally_normed(t.G) or spectrally_normed(t.D):
        reasons.append("spectral norm (its power iteration updates a vector in place, which vmap cannot batch)")
    if reasons:
        raise GanzooError(
            f"Seed-batched training cannot train {cfg.arch} with {cfg.loss}: it does not support "
            f"{', '.join(reasons)}. Train these seeds as separate runs (drop seed_batched from the "
            "block)."
        )


def _unstack_optimizer(stacked: torch.optim.Optimizer, plain: torch.optim.Optimizer, i: int) -> None:
    """Seed i's share of a stacked optimizer's state, into that seed's plain optimizer."""
    state = stacked.state_dict()
    own = plain.state_dict()
    own["state"] = {
        key: {k: v[i].clone() if torch.is_tensor(v) and v.dim() > 0 else v for k, v in s.items()}
        for key, s in state["state"].items()
    }
    for group, stacked_group in zip(own["param_groups"], state["param_groups"]):
        group.update({k: v for k, v in stacked_group.items() if k != "params"})
    plain.load_state_dict(own)


def _stack_optimizer(stacked: torch.optim.Optimizer, plains: list[torch.optim.Optimizer]) -> None:
    states = [p.state_dict() for p in plains]
    merged = stacked.state_dict()
    merged["state"] = {
        key: {
            k: torch.stack([s["state"][key][k] for s in states]) if torch.is_tensor(v) and v.dim() > 0 else v
            for k, v in first.items()
        }
        for key, first in states[0]["state"].items()
    }
    stacked.load_state_dict(merged)


@dataclass
class Ensemble:
    """Everything one seed-batched step touches (`training.step.Players`): the seeds' own
    Training objects (their models serve as each seed's plain view, for evaluation and
    checkpoints), the stacked networks and their optimisers. Losses come back per seed."""

    cfg: Resolved
    members: list[Training]  # one per seed, in the ensemble's order
    G: Any  # Stacked
    D: Any  # Stacked
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    ema: dict | None  # stacked EMA weights of G
    loss: Any
    precision: Precision  # the forward passes' autocast (fp16 is refused: check_supported)
    regularizers: tuple = ()  # refused (check_supported)
    step: int = 0
    traces_first_step = True  # Stacked traces each kind of call on its first use: not a step's FLOPs

    # --- what the loop reads (as of a run's Training, players.py) -----------------------------
    def per_member(self, values: torch.Tensor) -> list[torch.Tensor]:
        """Each seed's share of a tensor with the seed axis first (losses, logits)."""
        return list(values.unbind(0))

    def describe(self) -> dict:
        """What config.json records of the ensemble, beside each seed's own configuration."""
        return {"ensemble": {"seeds": [t.cfg.seed for t in self.members], "method": "torch.func.vmap"}}

    def log_fields(self) -> dict:
        return {"ensemble_size": len(self.members)}

    def describe_throughput(self, throughput: dict) -> dict:
        """Each seed trained every step beside the others: its own rate is the ensemble's step
        rate; the ensemble's images per second are N times a seed's."""
        images = throughput.get("images_per_s")
        return {
            **throughput,
            "ensemble_size": len(self.members),
            "ensemble_images_per_s": images * len(self.members) if images else None,
        }

    # --- what the step reads and moves (training.step.Players) -------------------------------
    def draw(self, kind: str):
        """Every seed's latents (kind "sample_latent") or labels from its own generator, stacked."""
        drawn = [getattr(t.G, kind)(self.cfg.batch_size, t.device, t.latent_rng) for t in self.members]
        return None if drawn[0] is None else torch.stack(drawn)

    def real_batch(self):
        batches = [t.batches.next() for t in self.members]
        labels = torch.stack([b[1] for b in batches]) if self.members[0].G.num_classes else None
        return torch.stack([b[0] for b in batches]), labels

    def fake_batch(self, for_gradients: bool):
        labels, latents = self.draw("sample_labels"), self.draw("sample_latent")
        with self.precision.autocast():
            return as_fp32(self.G(latents, labels)), labels

    def seen(self, images: torch.Tensor) -> torch.Tensor:
        return images  # augmentation is refused

    def discriminate(self, x, labels, params=None):
        with self.precision.autocast():
            return as_fp32(self.D(x, labels, params=params))

    @contextmanager
    def discriminator_fixed(self) -> Iterator:
        yield partial(self.discriminate, params=self.D.detached())  # gradients reach G through it, none kept for D

    def discriminator_loss(self, real_logits, fake_logits, real, fake, labels, fake_labels, d_step: int):
        return torch.vmap(self.loss.discriminator_loss)(real_logits, fake_logits)

    def generator_loss(self, fake_logits, real_logits):
        if real_logits is None:
            return torch.vmap(self.loss.generator_loss)(fake_logits)
        return torch.vmap(self.loss.generator_loss)(fake_logits, real_logits)

    def step_ema(self) -> None:
        if self.ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(
                    list(self.ema.values()), [p.detach() for p in self.G.params.values()], 1 - self.cfg.ema_decay
                )

    def sync_members(self) -> None:
        """The stacked state into each seed's plain models and optimisers (for evaluation,
        checkpoints and the lifecycle hooks)."""
        for i, t in enumerate(self.members):
            self.G.write_to(t.G, i)
            self.D.write_to(t.D, i)
            _unstack_optimizer(self.g_opt, t.g_opt, i)
            _unstack_optimizer(self.d_opt, t.d_opt, i)
            if self.ema is not None and t.ema is not None:  # every seed keeps an EMA when the ensemble does
                t.ema.load_state_dict(
                    {
                        **{k: v[i] for k, v in self.ema.items()},
                        **{k: v[i] for k, v in self.G.buffers.items()},
                    },
                    strict=False,
                )

    def load_members(self) -> None:
        """The seeds' restored state (a resumed run) into the stacked networks and optimisers."""
        self.G.read_from([t.G for t in self.members])
        self.D.read_from([t.D for t in self.members])
        _stack_optimizer(self.g_opt, [t.g_opt for t in self.members])
        _stack_optimizer(self.d_opt, [t.d_opt for t in self.members])
        if self.ema is not None:
            emas = [t.ema for t in self.members if t.ema is not None]
            self.ema = {k: v.detach() for k, v in stack_module_state(emas)[0].items()}


def build_ensemble(cfgs: list[Resolved], dataset, device: torch.device) -> Ensemble:
    """Each seed built as its own run builds it (weights, data stream, latent generator), then stacked."""
    members = [build_training(c, dataset, device) for c in cfgs]
    check_supported(cfgs[0], members[0])
    G, D = Stacked([t.G for t in members]), Stacked([t.D for t in members])
    first = members[0]
    g_opt = type(first.g_opt)(G.parameters(), **first.g_opt.defaults)
    d_opt = type(first.d_opt)(D.parameters(), **first.d_opt.defaults)
    return Ensemble(
        cfg=cfgs[0],
        members=members,
        G=G,
        D=D,
        loss=first.loss,
        g_opt=g_opt,
        d_opt=d_opt,
        precision=Precision(cfgs[0].precision, device, (g_opt, d_opt)),
        ema=copy.deepcopy(G.detached()) if cfgs[0].ema_decay > 0 else None,
    )
