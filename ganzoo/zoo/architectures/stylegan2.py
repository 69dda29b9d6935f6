"""`stylegan2`: Karras, Laine, Aittala, Hellsten, Lehtinen & Aila 2020, "Analyzing and
Improving the Image Quality of StyleGAN", at 32x32, in the layout of the official
PyTorch code's CIFAR-10 configuration (NVlabs/stylegan2-ada-pytorch, `--cfg=cifar`).

- a mapping network: z (512) normalised, then fully connected layers with leaky ReLU
  0.2 to w (512), at a hundredth of the learning rate; with classes, a one-hot label is
  embedded, normalised and concatenated with z;
- a synthesis network that starts from a learned 4x4 constant; every 3x3 convolution is
  modulated by a style (an affine map of w, bias 1) and demodulated (each output
  channel's weights rescaled to unit norm), followed by per-pixel noise with a learned
  strength, a bias and leaky ReLU 0.2 times sqrt(2);
- a skip generator: every resolution adds its own 1x1 modulated (not demodulated)
  "toRGB" output to the up-sampled image of the resolution before;
- a residual discriminator: blocks of two 3x3 convolutions (the second halving the
  side) beside a 1x1 down-sampling shortcut, each branch times sqrt(1/2); it ends with
  the minibatch standard deviation (a group's mean feature standard deviation as one
  more channel), a 3x3 convolution, two fully connected layers and, with classes, the
  projection of the output onto a mapped label (a mapping network of 8 layers);
- resampling by the [1, 3, 3, 1] low-pass filter; equalised learning rate everywhere
  (weights stored N(0, 1), scaled by 1/sqrt(fan-in) when used);
- the path-length regulariser (option `pl_weight`, 2 in the paper, 0 in the CIFAR
  configuration; every `pl_every` = 4 G steps on half a batch, weighted by 4): the
  variance of |J_w^T y| for random images y, about its running mean.

Widths follow `channel_base / side`, at most `channel_max` (32,768 and 512: 512 at every
side of a 32x32 network). Training defaults are the CIFAR configuration's: batches of
64, Adam 0.0025 with betas (0, 0.99), an EMA of G (decay 0.9999, a half-life of about
440k images where the official code uses 500k), the non-saturating loss (`--loss
non-saturating`) with lazy R1 (`--reg r1 --reg-opt gamma=0.01 --reg-every 16`).
Simplified: no style mixing (the CIFAR configuration turns it off too), no mixed
precision, no W-average tracking for the truncation trick; noise is random in training
and the layer's fixed noise image at evaluation (the official `noise_mode='const'`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.zoo.architectures.resampling import check_power_of_two_side, lowpass_kernel, upsample

SQRT2, SQRT_HALF = math.sqrt(2.0), math.sqrt(0.5)


def _lowpass() -> torch.Tensor:
    return lowpass_kernel().view(1, 1, 4, 4)


def blur(x: torch.Tensor, kernel: torch.Tensor, pad: int) -> torch.Tensor:
    c = x.shape[1]
    return F.conv2d(F.pad(x, [pad] * 4), kernel.to(x.dtype).expand(c, 1, 4, 4), groups=c)


def _leaky(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * (SQRT2 * gain)


class FullyConnected(nn.Module):
    """Equalised learning rate: weight N(0, 1) / lr_mult, scaled by lr_mult / sqrt(fan-in)."""

    def __init__(
        self, n_in: int, n_out: int, activation: bool = False, lr_multiplier: float = 1.0, bias_init: float = 0.0
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((n_out,), float(bias_init)))
        self.weight_gain, self.bias_gain = lr_multiplier / math.sqrt(n_in), lr_multiplier
        self.activation = activation

    def forward(self, x):
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return _leaky(x) if self.activation else x


class Conv(nn.Module):
    """Equalised-learning-rate convolution; `down=True` low-passes, then strides by 2."""

    lowpass: torch.Tensor  # a buffer: register_buffer's attributes are otherwise typed Tensor | Module

    def __init__(
        self, c_in: int, c_out: int, kernel: int, activation: bool = True, down: bool = False, bias: bool = True
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.weight_gain = 1 / math.sqrt(c_in * kernel * kernel)
        self.activation, self.down, self.kernel = activation, down, kernel
        self.register_buffer("lowpass", _lowpass(), persistent=False)

    def forward(self, x, gain: float = 1.0):
        w = self.weight * self.weight_gain
        if self.down:  # the official padding: the filter on a 2-pixel (3x3) or 1-pixel (1x1) border
            x = blur(x, self.lowpass, 2 if self.kernel == 3 else 1)
            x = F.conv2d(x, w, stride=2) if self.kernel == 3 else F.conv2d(x[..., ::2, ::2], w)
        else:
            x = F.conv2d(x, w, padding=self.kernel // 2)
        if self.bias is not None:
            x = x + self.bias.view(1, -1, 1, 1)
        return _leaky(x, gain) if self.activation else x * gain


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, num_classes: int, w_dim: int, layers: int):
        super().__init__()
        self.embed = FullyConnected(num_classes, w_dim) if num_classes else None
        dims = [(z_dim or 0) + (w_dim if num_classes else 0)] + [w_dim] * layers
        self.layers = nn.Sequential(
            *[FullyConnected(dims[i], dims[i + 1], activation=True, lr_multiplier=0.01) for i in range(layers)]
        )
        self.num_classes = num_classes

    def forward(self, z, labels=None):
        parts = [] if z is None else [_normalize(z)]
        if self.embed is not None:
            one_hot = F.one_hot(labels, self.num_classes).to(self.embed.weight.dtype)
            parts.append(_normalize(self.embed(one_hot)))
        return self.layers(torch.cat(parts, dim=1))


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


class ModulatedConv(nn.Module):
    """A 3x3 convolution modulated by a style from w and demodulated; noise, bias, leaky ReLU.
    Computed as the official code trains it (its non-fused path): scale the input's channels
    by the style, convolve with the shared weight, scale each output channel by the
    demodulation coefficient."""

    lowpass: torch.Tensor  # buffers, as in Conv
    noise_const: torch.Tensor

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.affine = FullyConnected(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, 3, 3))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("lowpass", _lowpass(), persistent=False)
        self.up, self.resolution = up, resolution

    def forward(self, x, w, gain: float = 1.0):
        styles = self.affine(w)  # (n, c_in)
        # |styled weights| per sample and output channel, without building the (n, c_out, c_in, 3, 3)
        # styled weights (600 MB a layer at full width and batch 64): sum_i s_i^2 sum_k w_oik^2.
        demod = (styles.square() @ self.weight.square().sum(dim=(2, 3)).T + 1e-8).rsqrt()  # (n, c_out)
        if self.up:
            x = upsample(x, self.lowpass)
        x = F.conv2d(x * styles[:, :, None, None], self.weight, padding=1) * demod[:, :, None, None]
        if self.training:
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype)
        else:  # evaluation: each layer's fixed noise image (the official noise_mode='const')
            noise = self.noise_const.to(x.dtype)
        x = x + noise * self.noise_strength + self.bias.view(1, -1, 1, 1)
        return _leaky(x, gain)


class ToImage(nn.Module):
    """A 1x1 modulated convolution to the image channels, without demodulation."""

    def __init__(self, c_in: int, channels: int, w_dim: int):
        super().__init__()
        self.affine = FullyConnected(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, c_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.weight_gain = 1 / math.sqrt(c_in)

    def forward(self, x, w):
        styles = self.affine(w) * self.weight_gain
        return F.conv2d(x * styles[:, :, None, None], self.weight) + self.bias.view(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (up-sampling conv,) conv, toRGB."""

    lowpass: torch.Tensor  # a buffer, as in Conv

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, channels: int):
        super().__init__()
        self.const = nn.Parameter(torch.randn(c_out, resolution, resolution)) if c_in == 0 else None
        self.conv0 = ModulatedConv(c_in, c_out, w_dim, resolution, up=True) if c_in else None
        self.conv1 = ModulatedConv(c_out, c_out, w_dim, resolution)
        self.to_image = ToImage(c_out, channels, w_dim)
        self.num_ws = 2 if c_in else 1  # each convolution takes a w, toRGB takes the next block's first
        self.register_buffer("lowpass", _lowpass(), persistent=False)

    def forward(self, x, image, ws):
        if self.conv0 is None:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0])
        else:
            x = self.conv1(self.conv0(x, ws[:, 0]), ws[:, 1])
        out = self.to_image(x, ws[:, self.num_ws])
        return x, out if image is None else upsample(image, self.lowpass) + out


class DiscriminatorBlock(nn.Module):
    """Residual: (fromRGB,) conv 3x3, conv 3x3 halving, beside a 1x1 halving shortcut."""

    def __init__(self, c_in: int, c_tmp: int, c_out: int, channels: int):
        super().__init__()
        self.from_image = Conv(channels, c_tmp, 1) if c_in == 0 else None
        self.conv0 = Conv(c_tmp, c_tmp, 3)
        self.conv1 = Conv(c_tmp, c_out, 3, down=True)
        self.skip = Conv(c_tmp, c_out, 1, activation=False, down=True, bias=False)

    def forward(self, x):
        if self.from_image is not None:
            x = self.from_image(x)
        return self.skip(x, gain=SQRT_HALF) + self.conv1(self.conv0(x), gain=SQRT_HALF)


class MinibatchStd(nn.Module):
    """Appends, per group of samples, the mean over features and pixels of their standard
    deviation across the group, as one channel. The group is `group_size` samples, or
    fewer when the batch is smaller or not a multiple of it (the largest size dividing it)."""

    def __init__(self, group_size: int):
        super().__init__()
        self.group_size = group_size

    def forward(self, x):
        n, c, h, w = x.shape
        g = next(size for size in range(min(self.group_size, n), 0, -1) if n % size == 0)
        y = x.reshape(g, -1, c, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()  # (n/g, c, h, w)
        y = y.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


def _channels(side: int, base: int, cap: int) -> int:
    return min(base // side, cap)


class StyleGAN2Generator(ganzoo.Generator):
    output_range = None  # no tanh: images are clipped when quantised

    def __init__(
        self,
        latent_dim,
        output_shape,
        num_classes,
        w_dim,
        mapping_layers,
        channel_base,
        channel_max,
        pl_weight,
        pl_every,
    ):
        super().__init__(latent_dim, output_shape, num_classes)
        channels, resolution = self.output_shape[0], self.output_shape[-1]
        sides = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
        self.blocks = nn.ModuleList(
            SynthesisBlock(
                _channels(side // 2, channel_base, channel_max) if side > 4 else 0,
                _channels(side, channel_base, channel_max),
                w_dim,
                side,
                channels,
            )
            for side in sides
        )
        self.num_ws = sum(block.num_ws for block in self.blocks) + 1
        self.mapping = MappingNetwork(latent_dim, num_classes, w_dim, mapping_layers)
        self.pl_weight, self.pl_every = float(pl_weight), int(pl_every)
        self.register_buffer("pl_mean", torch.zeros(()))  # the running mean path length, checkpointed

    def synthesis(self, ws):
        x = image = None
        first = 0
        for block in self.blocks:
            x, image = block(x, image, ws[:, first : first + block.num_ws + 1])
            first += block.num_ws
        return image

    def forward(self, z, labels=None):
        w = self.mapping(z, labels)
        return self.synthesis(w.unsqueeze(1).expand(-1, self.num_ws, -1))

    def penalty(self, step, batch_size, generator=None):
        """The path-length regulariser, lazily: every pl_every-th step, on half a batch,
        pl_weight * pl_every * E[(|J_w^T y| - a)^2], y Gaussian images scaled by
        1/sqrt(pixels), a the running mean of the lengths (decay 0.01)."""
        if not self.pl_weight or step % self.pl_every:
            return None
        n = max(1, batch_size // 2)
        device = self.pl_mean.device
        z = self.sample_latent(n, device, generator)
        w = self.mapping(z, self.sample_labels(n, device, generator))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        images = self.synthesis(ws)
        side = images.shape[2] * images.shape[3]
        y = torch.randn(images.shape, device=device, dtype=images.dtype, generator=generator) / math.sqrt(side)
        (grads,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
        lengths = grads.square().sum(dim=2).mean(dim=1).sqrt()
        mean = self.pl_mean.lerp(lengths.mean().detach(), 0.01)
        self.pl_mean.copy_(mean)
        return (lengths - mean).square().mean() * self.pl_weight * self.pl_every


class StyleGAN2Discriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, num_classes, channel_base, channel_max, mbstd_group):
        super().__init__(input_shape, num_classes)
        channels, resolution = self.input_shape[0], self.input_shape[-1]
        ch = lambda side: _channels(side, channel_base, channel_max)  # noqa: E731
        sides = [2**i for i in range(int(math.log2(resolution)), 2, -1)]
        self.blocks = nn.Sequential(
            *[
                DiscriminatorBlock(ch(side) if side < resolution else 0, ch(side), ch(side // 2), channels)
                for side in sides
            ]
        )
        c4 = ch(4)
        self.mbstd = MinibatchStd(mbstd_group)
        self.conv = Conv(c4 + 1, c4, 3)
        self.fc = FullyConnected(c4 * 16, c4, activation=True)
        self.out = FullyConnected(c4, c4 if num_classes else 1)
        self.mapping = MappingNetwork(None, num_classes, c4, 8) if num_classes else None
        self.cmap_dim = c4

    def forward(self, x, labels=None):
        x = self.fc(self.conv(self.mbstd(self.blocks(x))).flatten(1))
        out = self.out(x)
        if self.mapping is not None:  # projection onto the mapped label
            out = (out * self.mapping(None, labels)).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return out.flatten()


def build(config):
    shape = tuple(config["data_shape"])
    check_power_of_two_side("stylegan2", shape)
    classes = config["num_classes"]
    G = StyleGAN2Generator(
        config["latent_dim"],
        shape,
        classes,
        config["w_dim"],
        config["mapping_layers"],
        config["channel_base"],
        config["channel_max"],
        config["pl_weight"],
        config["pl_every"],
    )
    D = StyleGAN2Discriminator(shape, classes, config["channel_base"], config["channel_max"], config["mbstd_group"])
    return G, D


PAPER = "Karras et al. 2020 (StyleGAN2)"
# stylegan2-ada-pytorch's --cfg=cifar: batch 64, lr 0.0025, betas (0, 0.99), 100M images (1.5625M steps of 64).
TRAIN_DEFAULTS = {
    "batch_size": 64,
    "g_lr": 0.0025,
    "d_lr": 0.0025,
    "betas": (0.0, 0.99),
    "n_d": 1,
    "ema_decay": 0.9999,
    "steps": 1_562_500,
    "channels_last": True,
}  # 1.16x faster step on a CPU core
DEFAULTS = {
    "data_shape": (3, 32, 32),
    "num_classes": 0,
    "latent_dim": 512,
    "w_dim": 512,
    "mapping_layers": 2,
    "channel_base": 32768,
    "channel_max": 512,
    "mbstd_group": 32,
    "pl_weight": 0.0,
    "pl_every": 4,
}


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register(
        "stylegan2",
        build,
        defaults=DEFAULTS,
        train_defaults=TRAIN_DEFAULTS,
        paper=PAPER,
        description="StyleGAN2 at 32x32 (CIFAR configuration): mapping network, modulated convolutions, noise, "
        "skip G, residual D, minibatch std (paper loss: non-saturating with lazy r1)",
    )
    register(
        "stylegan2.test",
        build,
        defaults={**DEFAULTS, "latent_dim": 8, "w_dim": 8, "channel_base": 128, "channel_max": 8, "pl_weight": 2.0},
        train_defaults={**TRAIN_DEFAULTS, "batch_size": 8, "steps": 4, "ema_decay": 0.0},
        paper=PAPER,
        description="tiny stylegan2 for tests",
    )
