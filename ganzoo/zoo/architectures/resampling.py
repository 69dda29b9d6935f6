"""What the architectures that double and halve images by a low-pass filter share (R3GAN,
StyleGAN2): the [1, 3, 3, 1] filter, up- and down-sampling by it, and the image shape
they can be built for. Not a plugin: a module the plugins import."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import ganzoo


def lowpass_kernel() -> torch.Tensor:
    """[1, 2, 1] convolved with [1, 1] is [1, 3, 3, 1]; its (4, 4) outer product, summing to 1."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(taps, taps)
    return kernel / kernel.sum()


def upsample(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Double the side: zero-stuffing, then the low-pass filter times 4 (keeps the mean)."""
    c = x.shape[1]
    return F.conv_transpose2d(x, 4 * kernel.to(x.dtype).expand(c, 1, 4, 4), stride=2, padding=1, groups=c)


def downsample(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Halve the side: the low-pass filter, channel by channel, at stride 2."""
    c = x.shape[1]
    return F.conv2d(x, kernel.to(x.dtype).expand(c, 1, 4, 4), stride=2, padding=1, groups=c)


def check_power_of_two_side(arch: str, shape: tuple) -> None:
    """Such a network halves the image down to 4x4 (or doubles it up from there)."""
    side = shape[-1] if len(shape) == 3 else 0
    if len(shape) != 3 or shape[1] != side or side < 8 or side & (side - 1):
        raise ganzoo.GanzooError(
            f"{arch} needs square images whose side is a power of two (8 or more); the data "
            f"are {shape}. Resize them with --data-opt resolution=32."
        )
