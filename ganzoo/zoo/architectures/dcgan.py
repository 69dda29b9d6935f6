"""`dcgan`: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning
with Deep Convolutional GANs".

G projects z to a small feature map and doubles its size with strided
transposed convolutions (batch norm + ReLU, tanh out); D mirrors it with strided
convolutions (LeakyReLU 0.2, batch norm except on its first layer). Paper
settings: z of 100 dimensions, Adam lr 2e-4 with beta1 0.5, batches of 128,
N(0, 0.02) initial weights.

`dcgan` takes its resolution from the data (28, 32 or 64 pixels, 1 or 3
channels); `dcgan-28`, `dcgan-32` and `dcgan-64` insist on theirs.

With `num_classes` > 0 it is class-conditional the way PyTorch-StudioGAN's DCGAN
is: G's batch norms take per-class scales and shifts (conditional batch norm) and
D adds a projection term (Miyato & Koyama 2018), the inner product of a class
embedding with the features its last layer reads.
"""

from __future__ import annotations

import math

from torch import nn

import ganzoo
from ganzoo.zoo.architectures.resnet import ConditionalBatchNorm2d  # plain batch norm when num_classes is 0

START = {28: 7, 32: 4, 64: 4}  # side of G's first feature map per output resolution


def _stages(resolution: int) -> int:
    return int(math.log2(resolution // START[resolution]))


def _init_weights(module: nn.Module) -> None:
    """The paper's initialisation: N(0, 0.02) for convolutions, N(1, 0.02) for BN scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:  # conditional BN's scales start at 1 already
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(ganzoo.Generator):
    output_range = (-1.0, 1.0)

    def __init__(self, latent_dim: int, output_shape, width: int, num_classes: int = 0):
        super().__init__(latent_dim, output_shape, num_classes)
        channels, resolution = self.output_shape[0], self.output_shape[-1]
        stages = _stages(resolution)
        widths = [width * 2 ** (stages - 1 - i) for i in range(stages)]  # e.g. 256, 128, 64
        self.convs = nn.ModuleList([nn.ConvTranspose2d(latent_dim, widths[0], START[resolution], 1, 0, bias=False)])
        self.convs.extend(
            nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False) for w_in, w_out in zip(widths[:-1], widths[1:])
        )
        self.norms = nn.ModuleList(ConditionalBatchNorm2d(w, num_classes) for w in widths)
        self.out = nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1)
        self.apply(_init_weights)

    def forward(self, z, labels=None):
        # The first layer maps the 1x1 latent to the first feature map, the paper's "project and
        # reshape": a matrix product, computed as one. The same numbers as the transposed
        # convolution it is stored as, and 2-4x faster on a CPU, most in channels-last and bf16,
        # where oneDNN has no fast kernel for a 1x1 input (benchmarks/test_precision_speed.py).
        project = self.convs[0]
        h = z.reshape(z.shape[0], -1) @ project.weight.reshape(project.in_channels, -1)
        h = h.view(z.shape[0], project.out_channels, *project.kernel_size)
        h = self.norms[0](h, labels).relu()
        for conv, norm in zip(self.convs[1:], self.norms[1:]):
            h = norm(conv(h), labels).relu()
        return self.out(h).tanh()


class DCGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, width: int, num_classes: int = 0):
        super().__init__(input_shape, num_classes)
        channels, resolution = self.input_shape[0], self.input_shape[-1]
        stages = _stages(resolution)
        widths = [width * 2**i for i in range(stages)]  # e.g. 64, 128, 256
        layers = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.out = nn.Conv2d(widths[-1], 1, START[resolution], 1, 0)  # one logit from the whole map, no sigmoid
        self.apply(_init_weights)
        # Projection: a per-class filter of the out layer's shape, as StudioGAN's DCGAN projects its
        # flattened last features.
        self.embed = None
        if num_classes:
            self.embed = nn.Embedding(num_classes, widths[-1] * START[resolution] ** 2)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x, labels=None):
        h = self.features(x)
        out = self.out(h).flatten()
        if self.embed is not None:
            out = out + (self.embed(labels) * h.flatten(1)).sum(dim=1)
        return out


def builder(fixed_resolution: int | None):
    def build(config):
        shape = tuple(config["data_shape"])
        if len(shape) != 3 or shape[1] != shape[2] or shape[-1] not in START:
            raise ganzoo.GanzooError(
                f"dcgan needs square images of 28, 32 or 64 pixels; the data are {shape}. "
                "Resize them with --data-opt resolution=32 (or 28, 64)."
            )
        if fixed_resolution and shape[-1] != fixed_resolution:
            raise ganzoo.GanzooError(
                f"dcgan-{fixed_resolution} needs {fixed_resolution}x{fixed_resolution} images; the data are "
                f"{shape[-1]}x{shape[-1]}. Use --data-opt resolution={fixed_resolution}, or the plain 'dcgan'."
            )
        classes = config["num_classes"]
        return (
            DCGANGenerator(config["latent_dim"], shape, config["g_width"], classes),
            DCGANDiscriminator(shape, config["d_width"], classes),
        )

    return build


# channels_last: its step is 1.17x faster so on a CPU (benchmarks/, docs/benchmarks.md). On an H100 the quick
# suite's 32-wide MNIST DCGAN step was 8% slower so (docs/results/gpu-h100/); full width was not timed there.
TRAIN_DEFAULTS = {
    "batch_size": 128,
    "g_lr": 2e-4,
    "d_lr": 2e-4,
    "betas": (0.5, 0.999),
    "n_d": 1,
    "steps": 20_000,
    "channels_last": True,
}
PAPER = "Radford et al. 2015"


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    for resolution, shape, width in (
        (None, (1, 28, 28), 64),
        (28, (1, 28, 28), 64),
        (32, (3, 32, 32), 64),
        (64, (3, 64, 64), 128),
    ):
        name = "dcgan" if resolution is None else f"dcgan-{resolution}"
        defaults = {"data_shape": shape, "num_classes": 0, "latent_dim": 100, "g_width": width, "d_width": width}
        what = "28, 32 or 64 px (from the data)" if resolution is None else f"{resolution} px"
        register(
            name,
            builder(resolution),
            defaults=defaults,
            train_defaults=TRAIN_DEFAULTS,
            description=f"DCGAN, {what}, 1 or 3 channels",
            paper=PAPER,
        )
        register(
            f"{name}.test",
            builder(resolution),
            defaults={**defaults, "latent_dim": 8, "g_width": 4, "d_width": 4},
            train_defaults={**TRAIN_DEFAULTS, "batch_size": 8, "steps": 4},
            description=f"tiny {name} for tests",
            paper=PAPER,
        )
