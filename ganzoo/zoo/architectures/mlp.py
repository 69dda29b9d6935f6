"""`mlp`: fully connected generator and discriminator for low-dimensional data.

Sized as in the 2D mode-collapse experiments of Unrolled GAN (Metz et al. 2017)
and VEEGAN (Srivastava et al. 2017): generator and discriminator of two hidden
ReLU layers of 128 units, Adam with beta1 = 0.5. Two departures, so that the
default run learns the modes in about a minute on 2 CPU cores: a 64-d latent
(not 256; the cost is in drawing it) and Adam at 1e-3 with batches of 256 for
10k steps (at the papers' 1e-4, 10k steps leave samples far off the modes).
"""

from __future__ import annotations

import math

from torch import nn

import ganzoo


def _stack(sizes: list[int], activation) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    return layers


class MLPGenerator(ganzoo.Generator):
    def __init__(self, latent_dim, output_shape, hidden, layers, num_classes=0):
        super().__init__(latent_dim, output_shape, num_classes)
        out_features = math.prod(self.output_shape)
        # Conditional: a learned class embedding added to the latent input.
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.net = nn.Sequential(*_stack([latent_dim] + [hidden] * layers, nn.ReLU), nn.Linear(hidden, out_features))

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = z + self.embed(labels)
        return self.net(z).view(-1, *self.output_shape)


class MLPDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, hidden, layers, num_classes=0):
        super().__init__(input_shape, num_classes)
        in_features = math.prod(self.input_shape)
        self.body = nn.Sequential(*_stack([in_features] + [hidden] * layers, nn.ReLU))
        self.head = nn.Linear(hidden, 1)
        # Conditional: projection discriminator (Miyato & Koyama 2018).
        self.embed = nn.Embedding(num_classes, hidden) if num_classes else None

    def forward(self, x, labels=None):
        h = self.body(x.flatten(1))
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(labels) * h).sum(dim=1)
        return out


def build(config: dict):
    generator = MLPGenerator(
        config["latent_dim"], config["data_shape"], config["g_hidden"], config["g_layers"], config["num_classes"]
    )
    discriminator = MLPDiscriminator(
        config["data_shape"], config["d_hidden"], config["d_layers"], config["num_classes"]
    )
    return generator, discriminator


DEFAULTS = {
    "data_shape": (2,),
    "num_classes": 0,
    "latent_dim": 64,
    "g_hidden": 128,
    "g_layers": 2,
    "d_hidden": 128,
    "d_layers": 2,
}
TRAIN_DEFAULTS = {"batch_size": 256, "g_lr": 1e-3, "d_lr": 1e-3, "betas": (0.5, 0.999), "n_d": 1, "steps": 10_000}


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    paper = "Metz et al. 2017 (Unrolled GAN); Srivastava et al. 2017 (VEEGAN)"
    register(
        "mlp",
        build,
        defaults=DEFAULTS,
        train_defaults=TRAIN_DEFAULTS,
        description="fully connected G and D for 2D toy data",
        paper=paper,
    )
    register(
        "mlp.test",
        build,
        defaults={**DEFAULTS, "latent_dim": 8, "g_hidden": 16, "g_layers": 1, "d_hidden": 16, "d_layers": 1},
        train_defaults={**TRAIN_DEFAULTS, "batch_size": 32, "steps": 20},
        description="tiny mlp for tests",
        paper=paper,
    )
