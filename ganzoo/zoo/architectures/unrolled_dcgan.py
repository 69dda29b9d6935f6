"""`unrolled-dcgan`: the small Stacked MNIST networks of the Unrolled GAN paper
(Metz et al. 2017, appendix), as PacGAN's code builds them
(fjxmlzn/PacGAN, stacked_MNIST_experiments/unrolled_GAN_experiment/D=0.25G/model.py).

- G: z (256-d) -> linear to 4x4x64 -> BN, ReLU -> 3x3 transposed convolutions with
  stride 2 to 7x7x32, 14x14x16 and 28x28x8 (BN, ReLU each) -> a 3x3 convolution to the
  image's channels -> tanh. Channels go 64 -> 32 -> 16 -> 8 (`g_width` = 8, the last).
- D: three 3x3 convolutions with stride 2, each followed by batch norm (the first
  included) and leaky ReLU 0.3, then a linear output. `d_width` is the first layer's
  channels: 2 gives 2/4/8 (D = 1/4 of G), 4 gives 4/8/16 (D = 1/2 of G).
- Weights N(0, 0.02) (truncated at 2 std for convolutions, as TensorFlow's
  truncated_normal_initializer), biases 0; batch norm as TensorFlow's (decay 0.9 =
  PyTorch momentum 0.1, epsilon 1e-5).
- With packing, PacGAN's code runs G once per pack slot (m calls of 128 latents for pack
  m), so G's batch statistics are per group: `bn_groups=m` does the same; the default, 1,
  normalises the whole batch at once.

Training (config.py): batches of 128, Adam with betas (0.5, 0.99), D's learning rate
2e-4, G's 1e-4.
"""

from __future__ import annotations

from torch import nn

import ganzoo
from ganzoo.core.models import forward_per_group


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        nn.init.trunc_normal_(module.weight, 0.0, 0.02, -0.04, 0.04)
    elif isinstance(module, (nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    else:
        return
    if module.bias is not None:
        nn.init.zeros_(module.bias)


class UnrolledDCGANGenerator(ganzoo.Generator):
    output_range = (-1.0, 1.0)

    def __init__(self, latent_dim, output_shape, width: int, bn_groups: int = 1):
        super().__init__(latent_dim, output_shape)
        self.bn_groups = bn_groups
        w = [width * 8, width * 4, width * 2, width]  # 64, 32, 16, 8
        self.project = nn.Sequential(
            nn.Linear(latent_dim, w[0] * 16), nn.Unflatten(1, (w[0], 4, 4)), nn.BatchNorm2d(w[0]), nn.ReLU()
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(w[0], w[1], 3, 2, 1, output_padding=0),
            nn.BatchNorm2d(w[1]),
            nn.ReLU(),  # 4 -> 7
            nn.ConvTranspose2d(w[1], w[2], 3, 2, 1, output_padding=1),
            nn.BatchNorm2d(w[2]),
            nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(w[2], w[3], 3, 2, 1, output_padding=1),
            nn.BatchNorm2d(w[3]),
            nn.ReLU(),  # 14 -> 28
            nn.Conv2d(w[3], self.output_shape[0], 3, 1, 1),
            nn.Tanh(),
        )
        self.apply(_init_weights)

    def forward(self, z, labels=None):
        groups = self.bn_groups if self.training else 1
        return forward_per_group(lambda part: self.net(self.project(part)), z, groups, "unrolled-dcgan")


class UnrolledDCGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, width: int):
        super().__init__(input_shape)
        w = [self.input_shape[0], width, width * 2, width * 4]  # e.g. 3, 2, 4, 8
        layers = []
        for c_in, c_out in zip(w[:-1], w[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.3)]
        self.net = nn.Sequential(*layers, nn.Flatten())  # 28 -> 14 -> 7 -> 4
        self.head = nn.Linear(w[-1] * 16, 1)
        self.apply(_init_weights)

    def forward(self, x, labels=None):
        return self.head(self.net(x)).squeeze(1)


def build(config: dict):
    shape = tuple(config["data_shape"])
    if len(shape) != 3 or shape[1:] != (28, 28):
        raise ganzoo.GanzooError(
            f"unrolled-dcgan needs 28x28 images (Stacked MNIST, MNIST); the data are {shape}. "
            "Use --data-opt resolution=28."
        )
    if config["num_classes"]:
        raise ganzoo.GanzooError("unrolled-dcgan is unconditional; leave num_classes out.")
    for key in ("latent_dim", "g_width", "d_width", "bn_groups"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ganzoo.GanzooError(f"unrolled-dcgan option {key} must be a whole number >= 1, got {config[key]!r}.")
    return (
        UnrolledDCGANGenerator(config["latent_dim"], shape, config["g_width"], config["bn_groups"]),
        UnrolledDCGANDiscriminator(shape, config["d_width"]),
    )


DEFAULTS = {
    "data_shape": (3, 28, 28),
    "num_classes": 0,
    "latent_dim": 256,
    "g_width": 8,
    "d_width": 2,
    "bn_groups": 1,
}  # G's batch statistics over this many interleaved groups (PacGAN's code: = pack)
TRAIN_DEFAULTS = {"batch_size": 128, "g_lr": 1e-4, "d_lr": 2e-4, "betas": (0.5, 0.99), "n_d": 1, "steps": 20_000}
PAPER = "Metz et al. 2017 (Unrolled GAN), Stacked MNIST; code fjxmlzn/PacGAN"


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register(
        "unrolled-dcgan",
        build,
        defaults=DEFAULTS,
        train_defaults=TRAIN_DEFAULTS,
        paper=PAPER,
        description="Unrolled GAN's small Stacked MNIST DCGAN; d_width=2: D = 1/4 G, 4: D = 1/2 G",
    )
    register(
        "unrolled-dcgan.test",
        build,
        defaults={**DEFAULTS, "latent_dim": 8, "g_width": 2, "d_width": 1},
        train_defaults={**TRAIN_DEFAULTS, "batch_size": 8, "steps": 4},
        paper=PAPER,
        description="tiny unrolled-dcgan for tests",
    )
