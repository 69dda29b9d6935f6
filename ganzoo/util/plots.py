"""Figures written by runs. matplotlib with the file-only Agg backend."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ganzoo.util.files import atomic_write_bytes  # noqa: E402


def save_figure(fig, path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def scatter_2d(samples, centers, std: float, path, title: str = "", threshold_stds: float = 3.0) -> None:
    """Generated samples (blue) over the true modes (red crosses, with the
    `threshold_stds` circle that counts a sample as high quality); `centers` None
    when the data's modes are not known."""
    samples = samples.detach().cpu().numpy()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.35, color="tab:blue", label="generated", rasterized=True)
    if centers is not None:
        centers = centers.cpu().numpy()
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


def density_1d(samples, density, path, title: str = "") -> None:
    """A histogram of generated 1D samples over the data's density."""
    import torch

    values = samples.detach().flatten().cpu().to(torch.float64)
    lo, hi = density.span()
    x = torch.linspace(lo - 1, hi + 1, 1000, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(
        values.clamp(lo - 1, hi + 1).numpy(),
        bins=150,
        range=(lo - 1, hi + 1),
        density=True,
        color="tab:green",
        alpha=0.5,
        label=f"generated ({len(values):,})",
    )
    ax.plot(x.numpy(), density.pdf(x).numpy(), color="black", lw=1.5, label="data density")
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)


def grid_labels(num_classes: int, per_class: int = 8):
    """Labels for a grid with one row per class (small label sets), else None."""
    import torch

    if 0 < num_classes <= 20:
        return torch.arange(num_classes).repeat_interleave(per_class), per_class
    return None, 8


def sample_grid(generator, path, rng=None, n: int = 64) -> None:
    """A PNG grid of images in [-1, 1]: 8 x 8, or one row per class for conditional models."""
    from torchvision.utils import save_image

    labels, per_row = grid_labels(generator.num_classes)
    if labels is not None:
        labels = labels.to(generator.device)
        n = len(labels)
    n = min(n, getattr(generator, "available", n))  # samples made elsewhere may be fewer
    images = generator.sample(n, labels=labels, generator=rng)
    buffer = io.BytesIO()
    save_image(
        images.float().cpu(),
        buffer,
        format="png",
        nrow=per_row,
        normalize=True,
        value_range=(-1, 1),
        padding=2,
        pad_value=0.5,
    )
    atomic_write_bytes(path, buffer.getvalue())
