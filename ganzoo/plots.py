"""Figures written by runs. matplotlib with the file-only Agg backend."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .io import atomic_write_bytes  # noqa: E402


def save_figure(fig, path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def scatter_2d(samples, centers, std: float, path, title: str = "", threshold_stds: float = 3.0) -> None:
    """Generated samples (blue) over the true modes (red crosses, with the
    `threshold_stds` circle that counts a sample as high quality)."""
    samples = samples.detach().cpu().numpy()
    centers = centers.cpu().numpy()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.35, color="tab:blue", label="generated", rasterized=True)
    ax.scatter(centers[:, 0], centers[:, 1], marker="x", s=40, color="tab:red", label="true modes")
    for cx, cy in centers:
        ax.add_patch(plt.Circle((cx, cy), threshold_stds * std, fill=False, color="tab:red", lw=0.6))
    span = abs(centers).max() * 1.5 + 1
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)
