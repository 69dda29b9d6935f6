"""Experiment 5: saturation. The minimax generator loss log(1 - D(G(z))) stops teaching G
when D confidently rejects its samples; the non-saturating -log D(G(z)) does not.

With D(x) = sigmoid(l(x)), the two losses' derivatives with respect to the logit are
d/dl log(1 - sigmoid(l)) = -D and d/dl [-log sigmoid(l)] = -(1 - D). Both point the
same way, but as D(G(z)) -> 0 the minimax one vanishes and the non-saturating one
tends to 1. G starts far from the data (its output bias moved to -5) and D is trained
against it, growing confident; we measure the gradient reaching G's weights under each
loss. Then both losses train from that same start. G's optimiser matters: SGD follows
the gradient's size, Adam divides it out per weight, so both are run.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import cast

import torch

from ganzoo.core.config import TrainConfig
from ganzoo.plugin.api import create_architecture, create_loss
from ganzoo.theory import discriminators
from ganzoo.training.players import Training
from ganzoo.training.resolve import resolve
from ganzoo.training.step import train_step
from ganzoo.util.plots import save_figure
from ganzoo.zoo.datasets.toy1d import GaussianMixture1D

NAME = "saturation"
TITLE = "Saturation: minimax against non-saturating"
LOSSES = ("minimax", "non-saturating")


@dataclass
class Settings:
    start_offset: float = -5.0  # G's initial output bias: its samples start around here
    d_checkpoints: tuple = (0, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # D steps against the frozen G
    pretrain_d_steps: int = 200  # D steps before the training curves start
    train_steps: int = 1000
    batch_size: int = 256
    sgd_lr: float = 0.01
    adam_lr: float = 1e-3
    track_every: int = 50
    seed: int = 0
    confident: float = 0.01  # "D confident": mean D(G(z)) below this
    max_ratio: float = 0.02  # minimax / non-saturating gradient norm when D is confident
    stuck: float = 0.05  # minimax under SGD moves W1 by less than this fraction
    escaped: float = 0.5  # non-saturating under SGD cuts W1 by more than this fraction


def gradient_norm(G, D, loss, z) -> float:
    """||d loss / d theta_G|| for a batch of latents, D fixed."""
    G.zero_grad(set_to_none=True)
    D.requires_grad_(False)
    loss.generator_loss(D(G(z))).backward()
    D.requires_grad_(True)
    return math.sqrt(sum(float(p.grad.pow(2).sum()) for p in G.parameters()))


def w1_to(data, G, n: int = 20_000, seed: int = 99) -> float:
    """Wasserstein-1 between G's samples and the data's: mean gap between sorted samples."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fake = G(G.sample_latent(n, generator=rng)).flatten().to(torch.float64).sort().values
    return float((fake - data.draw(n, rng).sort().values).abs().mean())


def run(settings: Settings, figures) -> dict:
    data = GaussianMixture1D()
    torch.manual_seed(settings.seed)
    G, _, _ = create_architecture("mlp", data_shape=(1,), latent_dim=4, g_hidden=64)
    # torch types a submodule attribute as Tensor | Module: the mlp generator's `net` ends in its output layer
    output = cast(torch.nn.Linear, cast(torch.nn.Sequential, G.net)[-1])
    with torch.no_grad():
        output.bias.fill_(settings.start_offset)
    D = discriminators.new_discriminator(settings.seed)
    losses = {name: create_loss(name) for name in LOSSES}
    z = G.sample_latent(8192, generator=torch.Generator().manual_seed(settings.seed + 7))

    # (a) gradient norms as D grows confident against the frozen G
    optimizer = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    rng = torch.Generator().manual_seed(settings.seed + 1)
    generated = discriminators.sampler_of(G)
    sweep, start = [], None
    for step in range(max(settings.d_checkpoints) + 1):
        if step in settings.d_checkpoints:
            with torch.no_grad():
                d_fake = torch.sigmoid(D(G(z)))
            sweep.append(
                {
                    "d_steps": step,
                    "mean_d_fake": float(d_fake.mean()),
                    **{name: gradient_norm(G, D, loss, z) for name, loss in losses.items()},
                }
            )
        if step == settings.pretrain_d_steps:
            start = copy.deepcopy(D.state_dict())
        d_loss = losses["minimax"].discriminator_loss(
            D(data.sample(settings.batch_size, rng)), D(generated(settings.batch_size, rng))
        )
        optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        optimizer.step()
    confident = [s for s in sweep if s["mean_d_fake"] < settings.confident]
    ratio = max((s["minimax"] / s["non-saturating"] for s in confident), default=float("nan"))

    # (b) both losses trained from the same G and the same pre-trained D
    assert start is not None, "pretrain_d_steps must not exceed the last of d_checkpoints"
    D.load_state_dict(start)
    curves = {}
    for optimizer_name in ("sgd", "adam"):
        for name in LOSSES:
            curves[(optimizer_name, name)] = _train_from(G, D, data, name, optimizer_name, settings, z)
    w1_start = curves[("sgd", "minimax")][0]["w1"]

    def moved(key):  # fraction of the initial W1 removed by the end
        return 1 - curves[key][-1]["w1"] / w1_start

    passed = (
        bool(confident)
        and ratio < settings.max_ratio
        and moved(("sgd", "minimax")) < settings.stuck
        and moved(("sgd", "non-saturating")) > settings.escaped
    )

    _figure(figures / f"{NAME}.png", sweep, curves, settings)
    rows = [
        [
            f"{s['d_steps']}",
            f"{s['mean_d_fake']:.2e}",
            f"{s['minimax']:.3e}",
            f"{s['non-saturating']:.3e}",
            f"{s['minimax'] / s['non-saturating']:.2e}" if s["non-saturating"] > 0 else "–",
        ]
        for s in sweep
    ]
    end = {f"{o}/{n}": {"w1_end": c[-1]["w1"], "mean_d_fake_end": c[-1]["mean_d_fake"]} for (o, n), c in curves.items()}
    return {
        "claim": (
            f"When D is confident (mean D(G(z)) < {settings.confident}), the minimax loss's gradient on G's "
            f"weights is under {settings.max_ratio:.0%} of the non-saturating loss's. From the same start with "
            f"SGD, minimax removes less than {settings.stuck:.0%} of the W1 distance to the data in "
            f"{settings.train_steps} steps while non-saturating removes more than {settings.escaped:.0%}."
        ),
        "passed": passed,
        "measured": {
            "max_ratio_when_confident": ratio,
            "w1_start": w1_start,
            "fraction_of_w1_removed": {f"{o}/{n}": moved((o, n)) for (o, n) in curves},
            "end": end,
            "sweep": sweep,
        },
        "summary": (
            f"With D confident, ‖∇ minimax‖/‖∇ non-saturating‖ ≤ {ratio:.1e}. Trained from W1 = {w1_start:.2f} "
            f"with SGD: minimax ends at W1 = {curves[('sgd', 'minimax')][-1]['w1']:.2f}, non-saturating at "
            f"{curves[('sgd', 'non-saturating')][-1]['w1']:.2f}. With Adam both escape "
            f"(W1 {curves[('adam', 'minimax')][-1]['w1']:.2f} and "
            f"{curves[('adam', 'non-saturating')][-1]['w1']:.2f}): Adam divides each weight's step by the "
            "running size of its gradient, so a uniformly small gradient still moves G. Saturation is a "
            "statement about the gradient, which optimisers like Adam partly undo."
        ),
        "table": (["D steps", "mean D(G(z))", "‖∇θ‖ minimax", "‖∇θ‖ non-saturating", "ratio"], rows),
        "figures": [
            (
                f"{NAME}.png",
                "Left: the gradient norm reaching G's weights against D's mean output on "
                "generated samples (D pre-trained for more and more steps against the frozen G). Middle and "
                "right: W1(P_g, P_data) over training from the same start, with SGD and with Adam.",
            )
        ],
        "settings_note": (
            f"G and D: ganzoo's `mlp` (64 units × 2); G's output bias starts at {settings.start_offset}; "
            f"D pre-trained {settings.pretrain_d_steps} steps (Adam 1e-3); then ganzoo's train_step, "
            f"batch {settings.batch_size}, D Adam 1e-3, G SGD {settings.sgd_lr} or Adam {settings.adam_lr}."
        ),
    }


def _train_from(G0, D0, data, loss_name, optimizer_name, settings, z) -> list[dict]:
    G, D = copy.deepcopy(G0), copy.deepcopy(D0)
    g_opt = (
        torch.optim.SGD(G.parameters(), lr=settings.sgd_lr)
        if optimizer_name == "sgd"
        else torch.optim.Adam(G.parameters(), lr=settings.adam_lr, betas=(0.5, 0.999))
    )
    t = Training(
        cfg=resolve(TrainConfig(loss=loss_name, batch_size=settings.batch_size, n_d=1, ema_decay=0.0)),
        device=torch.device("cpu"),
        G=G,
        D=D,
        arch_config={},
        loss=create_loss(loss_name),
        regularizers=[],
        g_opt=g_opt,
        d_opt=torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999)),
        ema=None,
        batches=data.batches(settings.batch_size, "cpu", seed=settings.seed + 5),
        latent_rng=torch.Generator().manual_seed(settings.seed + 6),
    )
    curve = []
    for step in range(settings.train_steps + 1):
        if step % settings.track_every == 0:
            with torch.no_grad():
                mean_d_fake = float(torch.sigmoid(D(G(z))).mean())
            curve.append({"step": step, "w1": w1_to(data, G), "mean_d_fake": mean_d_fake})
        if step < settings.train_steps:
            train_step(t)
    return curve


def _figure(path, sweep, curves, settings) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    ax = axes[0]
    d_fake = [s["mean_d_fake"] for s in sweep[1:]]  # step 0: D is flat, both gradients are 0
    ax.loglog(d_fake, [s["minimax"] for s in sweep[1:]], "o-", color="tab:red", label="minimax  log(1 − D(G(z)))")
    ax.loglog(
        d_fake, [s["non-saturating"] for s in sweep[1:]], "s-", color="tab:blue", label="non-saturating  −log D(G(z))"
    )
    ax.set_xlabel("mean D(G(z))  (← D more confident)")
    ax.set_ylabel("‖∇θ_G loss‖")
    ax.invert_xaxis()
    ax.axvline(settings.confident, color="0.6", ls=":", lw=1)
    ax.set_title("gradient reaching G as D grows confident", fontsize=10)
    ax.legend(fontsize=8)
    for ax, optimizer_name in zip(axes[1:], ("sgd", "adam")):
        for name, color in zip(LOSSES, ("tab:red", "tab:blue")):
            curve = curves[(optimizer_name, name)]
            ax.plot([c["step"] for c in curve], [c["w1"] for c in curve], color=color, label=name)
        lr = settings.sgd_lr if optimizer_name == "sgd" else settings.adam_lr
        label = {"sgd": "SGD", "adam": "Adam"}[optimizer_name]
        ax.set_title(f"same start, G trained with {label} (lr {lr:g})", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("W1(P_g, P_data)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
