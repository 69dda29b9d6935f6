"""`r3gan`: Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the
GAN! A Modern GAN Baseline" (code: brownvc/R3GAN), the CIFAR-10 preset.

A ResNet without normalisation, built for its loss (`rpgan`) and its two gradient
penalties (`--reg r1,r2`) rather than kept stable by tricks:
- a block is a 1x1 convolution that doubles the channels, a grouped 3x3 convolution
  (cardinality 96 at full size), and a 1x1 convolution back, each of the first two
  followed by a learned bias and leaky ReLU 0.2, added to its input; the last
  convolution starts at zero, so every block starts as the identity;
- weights start He-normal, the first two convolutions of a block scaled down by
  L^(-1/4) for L blocks in the network (fix-up initialisation);
- resampling by the [1, 2, 1] low-pass filter (a 4x4 [1, 3, 3, 1] kernel), never by
  strided convolutions; a 1x1 convolution changes the width when stages differ;
- G starts from a learned 4x4 basis scaled per channel by a linear map of z (64-d)
  and ends with a 1x1 convolution to the image, no tanh; D starts with a 1x1
  convolution from the image and ends with a depthwise 4x4 convolution and a linear
  map to one logit.

The CIFAR-10 preset: four stages (4, 8, 16, 32 pixels) of 768 channels and two blocks
each, cardinality 96; G 20,732,160 and D 20,683,776 parameters, as the official code
counts them; with classes (`--arch-opt num_classes=10`, the preset's conditional
CIFAR-10 model) a one-hot class embedded to 64 dimensions joins z, and D ends in 768
features whose inner product with an embedding of the class is the logit: G 20,781,952
and D 21,280,512. Its training, which ganzoo's loop reproduces by options (the
architecture's defaults fill batch size, rates and betas; loss, penalties and
schedules are named on the command line, see docs/architectures.md): `rpgan`, R1 and
R2 with gamma 0.05 -> 0.005, Adam with beta1 0 and beta2 0.9 -> 0.99, learning rate
2e-4 -> 5e-5, all by half cosines over 20 million images, batches of 512, an EMA of G.
Option `widths` gives one width per stage, 4x4 first (the official code's
WidthPerStage), e.g. wide where the grid is small and narrow at the image's side; left
out, every stage is `width` wide. Not here: ADA's augmentation pipeline (ganzoo has
DiffAugment with a scheduled probability in its place).
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.zoo.architectures.resampling import check_power_of_two_side, downsample, lowpass_kernel, upsample

LEAK = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + LEAK**2))  # He's gain for leaky ReLU 0.2
_Layer = TypeVar("_Layer", nn.Conv2d, nn.Linear)  # _he_normal returns the layer it was given, of the same type


def _he_normal(layer: _Layer, gain: float = 1.0) -> _Layer:
    fan_in = layer.weight[0].numel()  # input channels per group x kernel area (or in_features)
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    return layer


def _conv(c_in: int, c_out: int, kernel: int = 1, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    return _he_normal(nn.Conv2d(c_in, c_out, kernel, padding=(kernel - 1) // 2, groups=groups, bias=False), gain)


class BiasedLeakyReLU(nn.Module):
    """A learned per-channel bias, then leaky ReLU 0.2 (the convolutions have no bias)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return F.leaky_relu(x + self.bias.view(1, -1, *([1] * (x.dim() - 2))), LEAK)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, cardinality: int, expansion: int, total_blocks: int):
        super().__init__()
        wide = channels * expansion
        gain = ACTIVATION_GAIN * total_blocks ** (-1 / 4)  # L^(-1/(2m-2)) with m = 3 layers
        self.expand = _conv(channels, wide, 1, gain=gain)
        self.act1 = BiasedLeakyReLU(wide)
        self.grouped = _conv(wide, wide, 3, groups=cardinality, gain=gain)
        self.act2 = BiasedLeakyReLU(wide)
        self.reduce = _conv(wide, channels, 1, gain=0.0)  # zero: the block starts as the identity

    def forward(self, x):
        return x + self.reduce(self.act2(self.grouped(self.act1(self.expand(x)))))


class Resample(nn.Module):
    """Double (up) or halve (down) the side with the low-pass kernel, channel by channel;
    a 1x1 convolution changes the width (before going up, after going down)."""

    def __init__(self, c_in: int, c_out: int, up: bool):
        super().__init__()
        self.up = up
        self.register_buffer("kernel", lowpass_kernel().view(1, 1, 4, 4), persistent=False)
        self.width = _conv(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x):
        if self.up and self.width is not None:
            x = self.width(x)
        x = upsample(x, self.kernel) if self.up else downsample(x, self.kernel)
        if not self.up and self.width is not None:
            x = self.width(x)
        return x


class GenerativeBasis(nn.Module):
    """A learned (C, 4, 4) basis, each channel scaled by a linear map of z."""

    def __init__(self, latent_dim: int, channels: int):
        super().__init__()
        self.basis = nn.Parameter(torch.randn(channels, 4, 4))
        self.linear = _he_normal(nn.Linear(latent_dim, channels, bias=False))

    def forward(self, z):
        return self.basis.unsqueeze(0) * self.linear(z)[:, :, None, None]


class DiscriminativeBasis(nn.Module):
    """A depthwise 4x4 convolution to (C, 1, 1), then a linear map to the output."""

    def __init__(self, channels: int, out_features: int):
        super().__init__()
        self.basis = _he_normal(nn.Conv2d(channels, channels, 4, groups=channels, bias=False))
        self.linear = _he_normal(nn.Linear(channels, out_features, bias=False))

    def forward(self, x):
        return self.linear(self.basis(x).flatten(1))


class R3GANGenerator(ganzoo.Generator):
    output_range = None  # no tanh: images are clipped when quantised

    def __init__(self, latent_dim, output_shape, widths, cardinality, blocks, expansion, num_classes=0):
        """`widths`: one per stage, from 4x4 up (the official code's WidthPerStage)."""
        super().__init__(latent_dim, output_shape, num_classes)
        channels, total = self.output_shape[0], len(widths) * blocks
        # Conditional: the one-hot class, embedded to z's size by a linear map, joins z.
        self.embed = _he_normal(nn.Linear(num_classes, latent_dim, bias=False)) if num_classes else None
        layers: list[nn.Module] = [GenerativeBasis(latent_dim * (2 if num_classes else 1), widths[0])]
        for stage, width in enumerate(widths):
            if stage:
                layers.append(Resample(widths[stage - 1], width, up=True))
            layers += [ResidualBlock(width, cardinality, expansion, total) for _ in range(blocks)]
        layers.append(_conv(widths[-1], channels, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(F.one_hot(labels, self.num_classes).to(z.dtype))], dim=1)
        return self.net(z)


class R3GANDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, widths, cardinality, blocks, expansion, num_classes=0):
        """`widths`: one per stage, from 4x4 up, as G's; D runs them from the image down."""
        super().__init__(input_shape, num_classes)
        channels, total = self.input_shape[0], len(widths) * blocks
        widths = list(reversed(widths))
        layers: list[nn.Module] = [_conv(channels, widths[0], 1)]
        for stage, width in enumerate(widths):
            layers += [ResidualBlock(width, cardinality, expansion, total) for _ in range(blocks)]
            if stage < len(widths) - 1:
                layers.append(Resample(width, widths[stage + 1], up=False))
        last = widths[-1]
        layers.append(DiscriminativeBasis(last, last if num_classes else 1))
        self.net = nn.Sequential(*layers)
        # Conditional: the features' inner product with an embedding of the class (a projection D).
        self.embed = (
            _he_normal(nn.Linear(num_classes, last, bias=False), gain=1 / math.sqrt(last)) if num_classes else None
        )

    def forward(self, x, labels=None):
        out = self.net(x)
        if self.embed is not None:
            out = (out * self.embed(F.one_hot(labels, self.num_classes).to(out.dtype))).sum(dim=1)
        return out.flatten()


def stage_widths(config, resolution: int) -> list[int]:
    """One width per stage, 4x4 first: `widths` where given, else `width` at every stage."""
    stages = int(math.log2(resolution // 4)) + 1
    widths = list(config["widths"]) or [config["width"]] * stages
    if len(widths) != stages or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ganzoo.GanzooError(
            f"r3gan's `widths` gives one whole number per stage, from 4x4 up to the image's {resolution}x"
            f"{resolution}: {stages} of them here (e.g. widths={[64] * (stages - 2) + [32, 16]}), got "
            f"{config['widths']!r}. Leave it out to use `width` at every stage."
        )
    for width in widths:
        if (width * config["expansion"]) % config["cardinality"]:
            raise ganzoo.GanzooError(
                f"r3gan's grouped convolutions split width x expansion = {width * config['expansion']} channels "
                f"into cardinality = {config['cardinality']} groups; choose a cardinality that divides it."
            )
    return widths


def build(config):
    shape = tuple(config["data_shape"])
    check_power_of_two_side("r3gan", shape)
    options = (
        stage_widths(config, shape[-1]),
        config["cardinality"],
        config["blocks"],
        config["expansion"],
        config["num_classes"],
    )
    return R3GANGenerator(config["latent_dim"], shape, *options), R3GANDiscriminator(shape, *options)


PAPER = "Huang et al. 2024 (R3GAN)"
# The CIFAR-10 preset's batch and Adam settings at the start of its schedules.
# channels_last: its step (R1 + R2) is 1.19x faster so at width 32 on one CPU core (docs/benchmarks.md).
TRAIN_DEFAULTS = {
    "batch_size": 512,
    "g_lr": 2e-4,
    "d_lr": 2e-4,
    "betas": (0.0, 0.9),
    "n_d": 1,
    "steps": 100_000,
    "channels_last": True,
}
DEFAULTS = {
    "data_shape": (3, 32, 32),
    "num_classes": 0,
    "latent_dim": 64,
    "width": 768,
    "widths": (),
    "cardinality": 96,
    "blocks": 2,
    "expansion": 2,
}


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register(
        "r3gan",
        build,
        defaults=DEFAULTS,
        train_defaults=TRAIN_DEFAULTS,
        paper=PAPER,
        description="R3GAN, CIFAR-10 preset: no normalisation, grouped-conv residual blocks "
        "(paper loss: rpgan with --reg r1,r2)",
    )
    register(
        "r3gan.test",
        build,
        defaults={**DEFAULTS, "latent_dim": 8, "width": 8, "cardinality": 4, "blocks": 1},
        train_defaults={**TRAIN_DEFAULTS, "batch_size": 8, "steps": 4},
        paper=PAPER,
        description="tiny r3gan for tests",
    )
