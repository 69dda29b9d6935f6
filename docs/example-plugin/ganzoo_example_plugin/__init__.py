"""An example ganzoo plugin: one architecture and one loss.

Copy this package to start your own; docs/plugins.md walks through it.
"""

import torch.nn.functional as F
from torch import nn

import ganzoo


class ResidualGenerator(ganzoo.Generator):
    def __init__(self, latent_dim, output_shape, width, blocks):
        super().__init__(latent_dim, output_shape)
        self.inp = nn.Linear(latent_dim, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks))
        self.out = nn.Linear(width, output_shape[0])

    def forward(self, z, labels=None):
        h = self.inp(z)
        for block in self.blocks:
            h = h + block(h)  # residual connection
        return self.out(F.relu(h))


class ResidualDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, width, blocks):
        super().__init__(input_shape)
        self.inp = nn.Linear(input_shape[0], width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks))
        self.out = nn.Linear(width, 1)

    def forward(self, x, labels=None):
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(F.relu(h)).squeeze(1)  # one logit per sample


def build(config):
    shape = tuple(config["data_shape"])
    if len(shape) != 1 or config["num_classes"]:
        raise ganzoo.GanzooError(
            f"example-resmlp handles flat, unlabelled data (like ring8), not shape {shape}.")
    return (ResidualGenerator(config["latent_dim"], shape, config["width"], config["blocks"]),
            ResidualDiscriminator(shape, config["width"], config["blocks"]))


class RelativisticLoss(ganzoo.Loss):
    """RSGAN (Jolicoeur-Martineau 2019): D estimates how much more real a real
    sample looks than a fake one; G the reverse."""

    generator_needs_real = True  # G's loss compares fakes with reals

    def discriminator_loss(self, real_logits, fake_logits):
        return F.softplus(-(real_logits - fake_logits)).mean()

    def generator_loss(self, fake_logits, real_logits=None):
        return F.softplus(-(fake_logits - real_logits)).mean()


DEFAULTS = {"data_shape": (2,), "num_classes": 0, "latent_dim": 16, "width": 128, "blocks": 2}


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register("example-resmlp", build, defaults=DEFAULTS,
             train_defaults={"batch_size": 256, "g_lr": 1e-3, "d_lr": 1e-3},
             description="residual MLP (example plugin)")
    # Every architecture ships a tiny ".test" variant for contract tests.
    register("example-resmlp.test", build, defaults={**DEFAULTS, "width": 16, "blocks": 1},
             description="tiny residual MLP for tests")


@ganzoo.hookimpl
def ganzoo_register_losses(register):
    register("relativistic", RelativisticLoss, description="relativistic standard GAN (RSGAN)",
             paper="Jolicoeur-Martineau 2019")
