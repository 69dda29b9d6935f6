"""The 32x32 ResNet family of the SNGAN and WGAN-GP CIFAR-10 experiments.

- `sngan-resnet` (Miyato et al. 2018): spectral normalisation on every layer of D.
- `wgan-gp-resnet` (Gulrajani et al. 2017): the same shape, no normalisation in D
  (the gradient penalty constrains it).
- `sngan-projection` (Miyato & Koyama 2018): class-conditional; G's batch norms
  take per-class scales and shifts (conditional batch norm), and D adds the inner
  product of a class embedding with its features (the projection discriminator).

G: z -> linear to 4x4 -> three up-sampling residual blocks -> BN, ReLU, 3x3 conv,
tanh. D: an optimised down-sampling block, a down-sampling block, two plain
blocks, ReLU, global sum pooling, linear. Paper settings: Adam lr 2e-4,
betas (0, 0.9), 5 D steps per G step, batches of 64; G width 256 and D width 128
for SNGAN, 128 and 128 for WGAN-GP.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class (num_classes 0: plain BN)."""

    def __init__(self, features: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(features, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Embedding(num_classes, features)
            self.bias = nn.Embedding(num_classes, features)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)
        self.num_classes = num_classes

    def forward(self, x, labels=None):
        h = self.bn(x)
        if self.num_classes:
            h = h * self.gain(labels)[:, :, None, None] + self.bias(labels)[:, :, None, None]
        return h


def plain_conv(c_in: int, c_out: int, kernel: int = 3) -> nn.Module:
    return nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2)


def sn_conv(c_in: int, c_out: int, kernel: int = 3) -> nn.Module:
    return spectral_norm(plain_conv(c_in, c_out, kernel))


class GBlock(nn.Module):
    """BN-ReLU-up-conv-BN-ReLU-conv, plus an up-sampled 1x1-conv shortcut. `norm(channels)`
    builds its batch norms, called as norm(x, cond) (`cond`: labels here, BigGAN's class
    embedding and z chunk there); `conv(c_in, c_out, kernel)` its convolutions."""

    def __init__(self, c_in: int, c_out: int, norm, conv=plain_conv):
        super().__init__()
        self.bn1, self.bn2 = norm(c_in), norm(c_out)
        self.conv1, self.conv2 = conv(c_in, c_out, 3), conv(c_out, c_out, 3)
        self.shortcut = conv(c_in, c_out, 1)

    def forward(self, x, cond=None):
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """(ReLU)-conv-ReLU-conv-(avg-pool), plus a 1x1-conv (and pooled) shortcut; `conv` as in
    GBlock (sn_conv: spectral norm, SNGAN's)."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool, conv=plain_conv):
        super().__init__()
        self.conv1, self.conv2 = conv(c_in, c_out, 3), conv(c_out, c_out, 3)
        self.shortcut = conv(c_in, c_out, 1) if (down or c_in != c_out) else None
        self.down, self.first = down, first

    def forward(self, x):
        # The first block sees the image itself: no ReLU before its first conv,
        # and its shortcut pools before the 1x1 conv (the "optimised" block).
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.shortcut is not None:
            s = self.shortcut(F.avg_pool2d(s, 2) if (self.first and self.down) else s)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(ganzoo.Generator):
    output_range = (-1.0, 1.0)

    def __init__(self, latent_dim, output_shape, width, num_classes=0):
        super().__init__(latent_dim, output_shape, num_classes)
        self.width = width
        self.linear = nn.Linear(latent_dim, 4 * 4 * width)
        norm = lambda channels: ConditionalBatchNorm2d(channels, num_classes)  # noqa: E731
        self.blocks = nn.ModuleList(GBlock(width, width, norm) for _ in range(3))  # 4 -> 32
        self.bn = nn.BatchNorm2d(width)
        self.out = nn.Conv2d(width, self.output_shape[0], 3, 1, 1)

    def forward(self, z, labels=None):
        h = self.linear(z).view(z.shape[0], self.width, 4, 4)
        for block in self.blocks:
            h = block(h, labels)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ResNetDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, width, sn: bool, num_classes=0):
        super().__init__(input_shape, num_classes)
        c = self.input_shape[0]
        conv = sn_conv if sn else plain_conv
        self.blocks = nn.Sequential(
            DBlock(c, width, down=True, first=True, conv=conv),
            DBlock(width, width, down=True, first=False, conv=conv),
            DBlock(width, width, down=False, first=False, conv=conv),
            DBlock(width, width, down=False, first=False, conv=conv),
        )
        norm = spectral_norm if sn else (lambda m: m)
        self.linear = norm(nn.Linear(width, 1))
        self.embed = norm(nn.Embedding(num_classes, width)) if num_classes else None

    def forward(self, x, labels=None):
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        out = self.linear(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(labels) * h).sum(dim=1)  # projection
        return out


def builder(sn: bool, conditional: bool, name: str):
    def build(config):
        shape = tuple(config["data_shape"])
        if len(shape) != 3 or shape[1:] != (32, 32):
            raise ganzoo.GanzooError(
                f"{name} is built for 32x32 images; the data are {shape}. Resize with --data-opt resolution=32."
            )
        classes = config["num_classes"]
        if conditional and not classes:
            raise ganzoo.GanzooError(
                f"{name} is class-conditional: it needs labelled data (num_classes > 0). "
                "For unconditional training use sngan-resnet, the same networks without classes."
            )
        if not conditional and classes:
            raise ganzoo.GanzooError(f"{name} is unconditional; use sngan-projection for class-conditional training.")
        return (
            ResNetGenerator(config["latent_dim"], shape, config["g_width"], classes),
            ResNetDiscriminator(shape, config["d_width"], sn, classes),
        )

    return build


SNGAN_TRAIN = {"batch_size": 64, "g_lr": 2e-4, "d_lr": 2e-4, "betas": (0.0, 0.9), "n_d": 5, "steps": 50_000}
FAMILY = {
    "sngan-resnet": (
        True,
        False,
        256,
        128,
        SNGAN_TRAIN,
        "Miyato et al. 2018",
        "SNGAN CIFAR ResNet, spectral norm in D (paper loss: hinge)",
    ),
    "wgan-gp-resnet": (
        False,
        False,
        128,
        128,
        {**SNGAN_TRAIN, "steps": 100_000},
        "Gulrajani et al. 2017",
        "WGAN-GP CIFAR ResNet, no normalisation in D (paper loss: wgan-gp)",
    ),
    "sngan-projection": (
        True,
        True,
        256,
        128,
        SNGAN_TRAIN,
        "Miyato & Koyama 2018",
        "class-conditional: conditional BN in G, projection D (paper loss: hinge)",
    ),
}


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    for name, (sn, conditional, g_width, d_width, train, paper, description) in FAMILY.items():
        defaults = {
            "data_shape": (3, 32, 32),
            "num_classes": 10 if conditional else 0,
            "latent_dim": 128,
            "g_width": g_width,
            "d_width": d_width,
        }
        register(
            name,
            builder(sn, conditional, name),
            defaults=defaults,
            train_defaults=train,
            description=description,
            paper=paper,
        )
        register(
            f"{name}.test",
            builder(sn, conditional, name),
            defaults={**defaults, "latent_dim": 8, "g_width": 8, "d_width": 8},
            train_defaults={**train, "batch_size": 8, "steps": 4},
            description=f"tiny {name} for tests",
            paper=paper,
        )
