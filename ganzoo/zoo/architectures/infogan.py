"""`infogan`: the networks Lucic et al. 2018 ("Are GANs Created Equal? A Large-Scale
Study") trained every loss with on MNIST and Fashion-MNIST, from compare_gan's first
release (google/compare_gan, `src/gans/abstract_gan.py`), which took them from the
InfoGAN paper (Chen et al. 2016).

G: z (64, uniform on [-1, 1]) -> FC 1024 -> FC 128 x (side/4)^2 -> 4x4 stride-2
transposed conv to 64 channels -> 4x4 stride-2 transposed conv to the image; batch
norm and leaky ReLU 0.2 after every layer but the last. D: 4x4 stride-2 conv 64,
leaky ReLU -> 4x4 stride-2 conv 128 -> FC 1024 -> FC 1, with batch norm after the
second and third layers when `d_batchnorm` is on. compare_gan searched that switch
(its `discriminator_batchnorm`: on by default, off for WGAN-GP, whose gradient
penalty is per sample). Weights start N(0, 0.02), biases 0; BN scales 1.

compare_gan's G ends in a sigmoid for images in [0, 1]; ganzoo's images are in
[-1, 1], so this G ends in 2 sigmoid(x) - 1 = tanh(x / 2): the same function of
the same weights, rescaled. Its transposed convolutions pad as TensorFlow's
"SAME" does for stride 2 and kernel 4 (one pixel each side).
"""

from __future__ import annotations

import torch
from torch import nn

import ganzoo

LEAK = 0.2


def _init_weights(module: nn.Module) -> None:
    """compare_gan's ops.py: N(0, 0.02) weights, truncated at 2 std for convolutions; zero biases."""
    if isinstance(module, nn.Conv2d):
        nn.init.trunc_normal_(module.weight, 0.0, 0.02, -0.04, 0.04)
    elif isinstance(module, (nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and module.bias is not None:
        nn.init.zeros_(module.bias)


def _batch_norm(kind):
    """TensorFlow's batch_norm as compare_gan calls it: moving averages with decay 0.999, epsilon 1e-3."""
    return lambda features: kind(features, eps=1e-3, momentum=0.001)


class InfoGANGenerator(ganzoo.Generator):
    output_range = (-1.0, 1.0)

    def __init__(self, latent_dim: int, output_shape, fc_width: int, width: int):
        super().__init__(latent_dim, output_shape)
        channels, side = self.output_shape[0], self.output_shape[-1]
        norm1d, norm2d = _batch_norm(nn.BatchNorm1d), _batch_norm(nn.BatchNorm2d)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, fc_width),
            norm1d(fc_width),
            nn.LeakyReLU(LEAK),
            nn.Linear(fc_width, 2 * width * (side // 4) ** 2),
            norm1d(2 * width * (side // 4) ** 2),
            nn.LeakyReLU(LEAK),
            nn.Unflatten(1, (2 * width, side // 4, side // 4)),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            norm2d(width),
            nn.LeakyReLU(LEAK),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
        )
        self.apply(_init_weights)

    def sample_latent(self, n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """compare_gan's z: uniform on [-1, 1]."""
        device = device if device is not None else self.device
        return torch.rand(n, self.latent_dim, device=device, generator=generator) * 2 - 1

    def forward(self, z, labels=None):
        return torch.tanh(self.net(z) / 2)  # = 2 sigmoid(x) - 1: compare_gan's sigmoid, on [-1, 1]


class InfoGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, fc_width: int, width: int, batchnorm: bool):
        super().__init__(input_shape)
        channels, side = self.input_shape[0], self.input_shape[-1]
        norm2d = _batch_norm(nn.BatchNorm2d) if batchnorm else (lambda _: nn.Identity())
        norm1d = _batch_norm(nn.BatchNorm1d) if batchnorm else (lambda _: nn.Identity())
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.LeakyReLU(LEAK),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            norm2d(2 * width),
            nn.LeakyReLU(LEAK),
            nn.Flatten(),
            nn.Linear(2 * width * (side // 4) ** 2, fc_width),
            norm1d(fc_width),
            nn.LeakyReLU(LEAK),
            nn.Linear(fc_width, 1),
        )
        self.apply(_init_weights)

    def forward(self, x, labels=None):
        return self.net(x).squeeze(1)


def build(config):
    shape = tuple(config["data_shape"])
    if len(shape) != 3 or shape[1] != shape[2] or shape[-1] % 4:
        raise ganzoo.GanzooError(
            f"infogan needs square images whose side is a multiple of 4 (MNIST's 28, 32); "
            f"the data are {shape}. Resize them with --data-opt resolution=28."
        )
    if config["num_classes"]:
        raise ganzoo.GanzooError(
            "infogan is unconditional, as Lucic et al. trained it; leave num_classes out "
            "(or set it to 0), or train dcgan with num_classes for a conditional GAN."
        )
    return (
        InfoGANGenerator(config["latent_dim"], shape, config["fc_width"], config["width"]),
        InfoGANDiscriminator(shape, config["fc_width"], config["width"], config["d_batchnorm"]),
    )


# compare_gan's defaults for the non-saturating GAN (params.py: GANHyperParams) and its
# MNIST schedule (generate_tasks_lib.py: 20 epochs of 50,000 images at batch 64).
TRAIN_DEFAULTS = {"batch_size": 64, "g_lr": 5e-5, "d_lr": 5e-5, "betas": (0.0, 0.999), "n_d": 1, "steps": 15_625}
DEFAULTS = {
    "data_shape": (1, 28, 28),
    "num_classes": 0,
    "latent_dim": 64,
    "fc_width": 1024,
    "width": 64,
    "d_batchnorm": True,
}
PAPER = "Lucic et al. 2018"


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register(
        "infogan",
        build,
        defaults=DEFAULTS,
        train_defaults=TRAIN_DEFAULTS,
        paper=PAPER,
        description="Lucic et al.'s MNIST nets (compare_gan, from InfoGAN): FC-FC-deconv-deconv / conv-conv-FC-FC",
    )
    register(
        "infogan.test",
        build,
        defaults={**DEFAULTS, "latent_dim": 8, "fc_width": 16, "width": 4},
        train_defaults={**TRAIN_DEFAULTS, "batch_size": 8, "steps": 4},
        description="tiny infogan for tests",
        paper=PAPER,
    )
