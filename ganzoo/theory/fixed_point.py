"""Experiment 4: the fixed point of the game, P_g = P_data, D = 1/2, V = -log 4.

A full 1D GAN (ganzoo's `mlp` G and D, the `minimax` loss, ganzoo's `train_step`)
learns the bimodal mixture. Its learning rates decay to zero on a cosine so that it
settles instead of circling the equilibrium. We follow JSD(P_data || P_g) (P_g from
a histogram of generated samples), V with the GAN's own D, and how far D is from 1/2
where the data are; at the end a fresh D, trained to convergence against the final G,
measures what is left: V(G, D*) = -log 4 + 2 JSD.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganzoo.core.config import TrainConfig
from ganzoo.plugin.api import create_architecture, create_loss
from ganzoo.theory import discriminators, numerics
from ganzoo.training.players import Training
from ganzoo.training.resolve import resolve
from ganzoo.training.step import train_step
from ganzoo.util.plots import save_figure
from ganzoo.zoo.datasets.toy1d import GaussianMixture1D

NAME = "fixed-point"
TITLE = "The fixed point: D → 1/2, V → −log 4"


@dataclass
class Settings:
    steps: int = 2500
    batch_size: int = 512
    lr: float = 1e-3
    d_lr: float = 1e-3
    n_d: int = 2  # D steps per G step: keeps D near D* for the current G
    latent_dim: int = 4
    hidden: int = 64
    loss: str = "minimax"
    track_every: int = 100
    snapshots: tuple = (0, 300, 1000)  # plus the last step
    fresh_d_steps: int = 1000
    seed: int = 0
    tolerance_value: float = 0.02  # nats from -log 4
    tolerance_flat: float = 0.03  # E_data |D - 1/2|


def build(settings: Settings, data) -> Training:
    torch.manual_seed(settings.seed)
    G, _, _ = create_architecture(
        "mlp", data_shape=(1,), latent_dim=settings.latent_dim, g_hidden=settings.hidden, d_hidden=settings.hidden
    )
    D = discriminators.new_discriminator(settings.seed, hidden=settings.hidden)
    betas = (0.5, 0.999)
    return Training(
        cfg=resolve(TrainConfig(loss=settings.loss, batch_size=settings.batch_size, n_d=settings.n_d, ema_decay=0.0)),
        device=torch.device("cpu"),
        G=G,
        D=D,
        arch_config={},
        loss=create_loss(settings.loss),
        regularizers=[],
        g_opt=torch.optim.Adam(G.parameters(), settings.lr, betas=betas),
        d_opt=torch.optim.Adam(D.parameters(), settings.d_lr, betas=betas),
        ema=None,
        batches=data.batches(settings.batch_size, "cpu", seed=settings.seed + 1),
        latent_rng=torch.Generator().manual_seed(settings.seed + 2),
    )


def run(settings: Settings, figures) -> dict:
    data = GaussianMixture1D()
    t = build(settings, data)
    schedules = [torch.optim.lr_scheduler.CosineAnnealingLR(o, settings.steps) for o in (t.g_opt, t.d_opt)]
    grid = numerics.grid_for(data, h=1e-3, margin=3.0)
    x, p = grid.x, data.pdf(grid.x)
    weight = p / grid.integrate(p)
    generated = discriminators.sampler_of(t.G)
    rng = torch.Generator().manual_seed(settings.seed + 3)
    floor = numerics.jsd(p, numerics.histogram_density(data.draw(400_000, rng), grid, 20), grid)

    def measure(step: int) -> dict:
        p_g = numerics.histogram_density(generated(400_000, rng), grid, 20)
        d_x = discriminators.probability(t.D, x)
        return {
            "step": step,
            "jsd": numerics.jsd(p, p_g, grid),
            "value": discriminators.value(t.D, data.sample, generated, n=20_000, seed=step),
            "flat": grid.integrate(weight * (d_x - 0.5).abs()),
            "p_g": p_g,
            "d": d_x,
        }

    track, snaps = [], {}
    for step in range(settings.steps + 1):
        if step % settings.track_every == 0 or step == settings.steps or step in settings.snapshots:
            m = measure(step)
            track.append({k: v for k, v in m.items() if k not in ("p_g", "d")})
            if step in settings.snapshots or step == settings.steps:
                snaps[step] = m
        if step == settings.steps:
            break
        train_step(t)
        for s in schedules:
            s.step()

    fresh = discriminators.new_discriminator(settings.seed + 4, hidden=settings.hidden)
    discriminators.fit(fresh, data.sample, generated, steps=settings.fresh_d_steps, seed=settings.seed + 4)
    fresh_value = discriminators.value(fresh, data.sample, generated)
    fresh_flat = grid.integrate(weight * (discriminators.probability(fresh, x) - 0.5).abs())
    last = track[-1]
    passed = (
        abs(fresh_value + numerics.LOG4) <= settings.tolerance_value
        and max(fresh_flat, last["flat"]) <= settings.tolerance_flat
    )

    _figure(figures / f"{NAME}.png", x, p, snaps, track)
    rows = [
        [f"{r['step']}", f"{r['jsd']:.4f}", f"{r['value']:.4f}", f"{r['flat']:.4f}"]
        for r in track
        if r["step"] in snaps
    ]
    rows.append([f"{settings.steps}, fresh D", f"{last['jsd']:.4f}", f"{fresh_value:.4f}", f"{fresh_flat:.4f}"])
    return {
        "claim": (
            f"After training, a freshly trained D gives V(G, D) within {settings.tolerance_value} nats of −log 4, "
            f"and both the GAN's D and the fresh D stay within {settings.tolerance_flat} of 1/2 on average "
            "under P_data."
        ),
        "passed": passed,
        "measured": {
            "final_jsd_histogram": last["jsd"],
            "jsd_estimator_floor": floor,
            "final_value_gan_d": last["value"],
            "final_flatness_gan_d": last["flat"],
            "fresh_d_value": fresh_value,
            "fresh_d_flatness": fresh_flat,
            "value_minus_minus_log4": fresh_value + numerics.LOG4,
            "track": track,
        },
        "summary": (
            f"JSD(P_data ‖ P_g) fell from {track[0]['jsd']:.3f} to {last['jsd']:.4f} (the histogram "
            f"estimator reads {floor:.4f} on real samples). A fresh D trained against the final G gives "
            f"V = {fresh_value:.4f} (−log 4 = {-numerics.LOG4:.4f}) and E_data|D − 1/2| = {fresh_flat:.4f}; "
            f"the GAN's own D: {last['flat']:.4f}."
        ),
        "table": (["step", "JSD(P_data ‖ P_g)", "V(G, D)", "E_data |D − 1/2|"], rows),
        "figures": [
            (
                f"{NAME}.png",
                "Top: P_data (black), P_g (green, histogram of generated samples) and the GAN's "
                "D (blue, dashed) at four steps; D flattens to 1/2 as P_g reaches P_data. Bottom: "
                "JSD(P_data ‖ P_g) and E_data|D − 1/2| (log scale), and V(G, D) with the GAN's D, over "
                "training.",
            )
        ],
        "settings_note": (
            f"G and D: ganzoo's `mlp` ({settings.hidden} units × 2 layers, {settings.latent_dim}-d latent), "
            f"`{settings.loss}` loss, ganzoo's train_step, Adam {settings.lr} (β1 0.5) with cosine decay, "
            f"batch {settings.batch_size}, {settings.steps} steps."
        ),
    }


def _figure(path, x, p, snaps, track) -> None:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(15, 7.5), layout="constrained")
    # a row per snapshot step above two curves: no shared grid (squeeze=False: always an array, of 2 x 1)
    snapshots, curves = fig.subfigures(2, 1, squeeze=False)[:, 0]
    steps = sorted(snaps)
    for i, step in enumerate(steps):
        ax = snapshots.add_subplot(1, len(steps), i + 1)
        s = snaps[step]
        ax.plot(x, p, color="black", lw=1.5, label="p_data")
        ax.plot(x, s["p_g"], color="tab:green", lw=1.2, label="p_g")
        ax.plot(x, s["d"], color="tab:blue", ls="--", lw=1.5, label="D(x)")
        ax.axhline(0.5, color="0.6", lw=0.6, ls=":")
        ax.set_xlim(-3.5, 3.5)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"step {step}: JSD {s['jsd']:.3f}", fontsize=10)
        ax.set_xlabel("x")
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    steps_all = [r["step"] for r in track]
    ax = curves.add_subplot(1, 2, 1)
    ax.semilogy(steps_all, [max(r["jsd"], 1e-5) for r in track], color="black", label="JSD(P_data ‖ P_g)")
    ax.semilogy(steps_all, [max(r["flat"], 1e-5) for r in track], color="tab:blue", label="E_data |D − 1/2|, GAN's D")
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
    ax = curves.add_subplot(1, 2, 2)
    ax.plot(steps_all, [r["value"] for r in track], color="tab:orange", label="V(G, D), GAN's D")
    ax.axhline(-numerics.LOG4, color="black", ls=":", lw=1, label="−log 4")
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
    save_figure(fig, path)
