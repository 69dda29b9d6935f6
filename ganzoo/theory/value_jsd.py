"""Experiment 3: what the optimal discriminator measures, V(G, D*) = -log 4 + 2 JSD(P_data || P_g).

Substituting D* = p_data / (p_data + p_g) into V and writing M = (P_data + P_g) / 2:
V = KL(P_data || M) + KL(P_g || M) - 2 log 2. We train D for each of a sweep of
generator distributions (the data mixture shifted by delta), estimate V with it on
fresh samples, and compare with the right-hand side computed by quadrature.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganzoo.theory import discriminators, numerics
from ganzoo.util.plots import save_figure
from ganzoo.zoo.datasets.toy1d import GaussianMixture1D

NAME = "value-is-jsd"
TITLE = "What D* measures: V(G, D*) = −log 4 + 2·JSD"


@dataclass
class Settings:
    shifts: tuple = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)
    steps: int = 1000
    batch_size: int = 512
    eval_samples: int = 200_000
    seed: int = 0
    tolerance: float = 0.05  # nats


def run(settings: Settings, figures) -> dict:
    data = GaussianMixture1D()
    rows, points = [], []
    for i, delta in enumerate(settings.shifts):
        generated = data.shifted(delta)
        D = discriminators.new_discriminator(settings.seed + i)
        discriminators.fit(
            D,
            data.sample,
            generated.sample,
            steps=settings.steps,
            batch_size=settings.batch_size,
            seed=settings.seed + i,
        )
        estimate = discriminators.value(D, data.sample, generated.sample, n=settings.eval_samples)
        grid = numerics.grid_for(data, generated)
        divergence = numerics.jsd(data.pdf(grid.x), generated.pdf(grid.x), grid)
        exact = -numerics.LOG4 + 2 * divergence
        points.append((delta, divergence, exact, estimate))
        rows.append([f"{delta:g}", f"{divergence:.4f}", f"{exact:.4f}", f"{estimate:.4f}", f"{estimate - exact:+.4f}"])
    worst = max(abs(e - x) for _, _, x, e in points)
    dense = [i * 0.05 for i in range(round(max(settings.shifts) / 0.05) + 1)]
    curve = []
    for delta in dense:
        generated = data.shifted(delta)
        grid = numerics.grid_for(data, generated, h=2e-3)
        curve.append(-numerics.LOG4 + 2 * numerics.jsd(data.pdf(grid.x), generated.pdf(grid.x), grid))

    _figure(figures / f"{NAME}.png", points, dense, curve)
    return {
        "claim": (
            f"For every shift δ, V(G, D) with the trained D, estimated on {settings.eval_samples:,} fresh samples "
            f"of each distribution, is within {settings.tolerance} nats of −log 4 + 2·JSD(P_data ‖ P_g) "
            "computed by quadrature."
        ),
        "passed": worst <= settings.tolerance,
        "measured": {
            "max_abs_difference": worst,
            "points": [{"shift": d, "jsd": j, "exact": x, "estimate": e} for d, j, x, e in points],
        },
        "summary": (
            f"Largest |V(G, D) − (−log 4 + 2·JSD)| over {len(points)} shifts: {worst:.4f} nats. At δ = 0, "
            f"V = {points[0][3]:.4f} (−log 4 = {-numerics.LOG4:.4f}); for the farthest shift V approaches 0, "
            "the value when JSD reaches log 2. JSD is not monotone in δ here: shifting a bimodal density by "
            "about the distance between its modes lays one mode over the other."
        ),
        "table": (["shift δ", "JSD (quadrature)", "−log 4 + 2·JSD", "V(G, D) trained", "difference"], rows),
        "figures": [
            (
                f"{NAME}.png",
                "Left: V(G, D) with the trained D and −log 4 + 2·JSD against the shift δ. Right: "
                "the same pairs, estimate against exact, on the diagonal.",
            )
        ],
        "settings_note": f"one D per shift, {settings.steps} steps of {settings.batch_size} fresh samples each, "
        "as in experiment 2.",
    }


def _figure(path, points, dense, curve) -> None:
    import matplotlib.pyplot as plt

    shifts = [p[0] for p in points]
    exact = [p[2] for p in points]
    estimate = [p[3] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.3))
    left.plot(dense, curve, "k-", lw=2, label="−log 4 + 2·JSD (quadrature)")
    left.plot(shifts, estimate, "o", color="tab:blue", label="V(G, D), trained D")
    left.axhline(-numerics.LOG4, color="0.5", ls=":", lw=1)
    left.axhline(0, color="0.5", ls=":", lw=1)
    left.text(shifts[-1], -numerics.LOG4 + 0.03, "−log 4", ha="right", fontsize=8, color="0.4")
    left.text(shifts[-1], -0.08, "0 (JSD = log 2)", ha="right", fontsize=8, color="0.4")
    left.set_xlabel("shift δ of P_g from P_data")
    left.set_ylabel("nats")
    left.legend(fontsize=8, loc="center right")
    right.plot([-numerics.LOG4, 0], [-numerics.LOG4, 0], "k:", lw=1)
    right.plot(exact, estimate, "o", color="tab:blue")
    right.set_xlabel("−log 4 + 2·JSD (exact)")
    right.set_ylabel("V(G, D) (estimated)")
    right.set_aspect("equal")
    fig.tight_layout()
    save_figure(fig, path)
