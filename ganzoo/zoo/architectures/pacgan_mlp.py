"""`pacgan-mlp`: the 2D networks of PacGAN (Lin et al. 2018), as its code builds them.

Read from fjxmlzn/PacGAN, synthetic_data_experiments/2DRing_GAN&PacGAN/pacgan_task.py
and config.py (the grid uses the same networks):

- G: a 2-d standard normal latent, 4 hidden layers of 400 units, each
  linear (no bias) -> batch norm -> ReLU, then a linear output with a bias.
  Batch norm's running statistics move with weight 0.05 per step, and samples
  for evaluation use them (inference mode), as the paper's figures do.
  With packing, PacGAN's code runs G once per packed group (m calls of 100
  samples for pack m), so batch statistics are per group: `bn_groups=m` does the
  same (sample j belongs to group j mod m, the j-th slot of each pack), where
  the default, 1, normalises the whole batch of 100 * m at once.
- D: 3 maxout layers of 200 units with 5 pieces each, then a linear output.
  With packing (`pack=m`) its first layer reads m concatenated samples.
- Every weight is drawn from N(0, 0.02^2), every bias starts at 0.

Training defaults (config.py): Adam at learning rate 1e-4 for both players,
batches of 100. The config says `beta1: 0.8`, passed to the Blocks library's Adam.
Blocks before January 2017 (commit aa064519) weighted the *new* gradient by beta1
(mean_t = beta1 * g + (1 - beta1) * mean), the complement of PyTorch's, so 0.8 there
is PyTorch's beta1 = 0.2 (and its default beta2 = 0.001, PyTorch's 0.999); later
Blocks used the usual convention, where 0.8 is PyTorch's 0.8. PacGAN's code (2018)
pins no Blocks version, so the default here is the first reading and
`reproduce-2d-long` also trains the second (`betas = (0.8, 0.999)`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

import ganzoo
from ganzoo.core.models import forward_per_group


class Maxout(nn.Module):
    """A linear map to `out_features * pieces` values, then the max over each unit's pieces
    (Goodfellow et al. 2013); the pieces of unit j are outputs j*pieces .. j*pieces + pieces-1."""

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x):
        # max(dim) rather than amax: its backward routes the gradient by index, where amax
        # compares every value with the maximum again (a third of the step's time here).
        return self.linear(x).view(*x.shape[:-1], self.out_features, self.pieces).max(dim=-1).values


class PacGANGenerator(ganzoo.Generator):
    def __init__(self, latent_dim, output_shape, hidden, layers, bn_momentum, bn_eps, bn_groups=1):
        super().__init__(latent_dim, output_shape, 0)
        self.bn_groups = bn_groups
        blocks: list[nn.Module] = []
        width = latent_dim
        for _ in range(layers):
            blocks += [
                nn.Linear(width, hidden, bias=False),
                nn.BatchNorm1d(hidden, momentum=bn_momentum, eps=bn_eps),
                nn.ReLU(),
            ]
            width = hidden
        self.net = nn.Sequential(*blocks, nn.Linear(width, math.prod(self.output_shape)))

    def forward(self, z, labels=None):
        groups = self.bn_groups if self.training else 1  # running statistics: every sample on its own
        return forward_per_group(self.net, z, groups, "pacgan-mlp").view(-1, *self.output_shape)


class PacGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, hidden, layers, pieces):
        super().__init__(input_shape, 0)
        sizes = [math.prod(self.input_shape)] + [hidden] * layers
        self.body = nn.Sequential(*(Maxout(a, b, pieces) for a, b in zip(sizes[:-1], sizes[1:])))
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, labels=None):
        return self.head(self.body(x.flatten(1))).squeeze(1)


@torch.no_grad()
def _init_weights(module: nn.Module, std: float) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def build(config: dict):
    if config["num_classes"]:
        raise ganzoo.GanzooError("pacgan-mlp is unconditional; leave num_classes out.")
    for key in ("latent_dim", "g_hidden", "g_layers", "d_hidden", "d_layers", "maxout_pieces", "bn_groups"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ganzoo.GanzooError(f"pacgan-mlp option {key} must be a whole number >= 1, got {config[key]!r}.")
    generator = PacGANGenerator(
        config["latent_dim"],
        config["data_shape"],
        config["g_hidden"],
        config["g_layers"],
        config["bn_momentum"],
        config["bn_eps"],
        config["bn_groups"],
    )
    discriminator = PacGANDiscriminator(
        config["data_shape"], config["d_hidden"], config["d_layers"], config["maxout_pieces"]
    )
    _init_weights(generator, config["init_std"])
    _init_weights(discriminator, config["init_std"])
    return generator, discriminator


DEFAULTS = {
    "data_shape": (2,),
    "num_classes": 0,
    "latent_dim": 2,
    "g_hidden": 400,
    "g_layers": 4,
    "d_hidden": 200,
    "d_layers": 3,
    "maxout_pieces": 5,
    "init_std": 0.02,
    "bn_momentum": 0.05,
    "bn_eps": 1e-4,  # blocks' BatchNormalization epsilon
    "bn_groups": 1,  # G's batch statistics over this many interleaved groups (PacGAN's code: = pack)
}
TRAIN_DEFAULTS = {"batch_size": 100, "g_lr": 1e-4, "d_lr": 1e-4, "betas": (0.2, 0.999), "n_d": 1, "steps": 20_000}


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    paper = "Lin et al. 2018 (PacGAN), 2D experiments; code fjxmlzn/PacGAN"
    register(
        "pacgan-mlp",
        build,
        defaults=DEFAULTS,
        train_defaults=TRAIN_DEFAULTS,
        description="PacGAN's 2D nets: G 4x400 ReLU+BN, D 3 maxout layers 200x5",
        paper=paper,
    )
    register(
        "pacgan-mlp.test",
        build,
        defaults={**DEFAULTS, "g_hidden": 16, "g_layers": 2, "d_hidden": 8, "d_layers": 2, "maxout_pieces": 2},
        train_defaults={**TRAIN_DEFAULTS, "batch_size": 20, "steps": 20},
        description="tiny pacgan-mlp for tests",
        paper=paper,
    )
