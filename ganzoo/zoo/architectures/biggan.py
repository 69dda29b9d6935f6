"""`biggan`: Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High Fidelity
Natural Image Synthesis" (code: ajbrock/BigGAN-PyTorch), at 32x32.

What makes BigGAN, all here:
- G's batch norms are class-conditional: their gains (1 + linear) and biases are linear maps
  of one class embedding shared by every block, concatenated with a chunk of z;
- hierarchical z: z (128-d) is split into four chunks, the first to G's input layer, one
  to each residual block's batch norms;
- a self-attention layer (SAGAN, Zhang et al. 2019) in G at 16x16 and in D after its first
  block, with a learned gain that starts at 0;
- spectral normalisation on every convolution, linear map and D embedding of both
  networks (G's shared embedding excepted, as in the official code), orthogonal
  initialisation;
- orthogonal regularisation of G (option `ortho`, 1e-4): ortho/2 * ||W W^T (1 - I)||_F^2
  summed over G's weights except the shared embedding, the paper's modified form whose
  gradient the official code adds by hand;
- a projection discriminator (Miyato & Koyama 2018): D adds the inner product of a class
  embedding with its pooled features.

The 32x32 layout is the official code's `G_arch`/`D_arch[32]` with width 64: three
up-sampling blocks of 256 channels in G; in D two down-sampling blocks to 16x16 and two
plain blocks, 256 channels, ReLU, global sum pooling. Its training (train defaults, from
the official CIFAR-10 script `launch_cifar_ema.sh`): hinge loss (`--loss hinge`), 4 D
steps per G step, Adam 2e-4 for both with betas (0, 0.999), batches of 50, an EMA of G
with decay 0.9999. With `--arch-opt num_classes=0` it trains unconditionally: the batch
norms then see z's chunks alone and D has no projection.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo
from ganzoo.zoo.architectures.resnet import DBlock, GBlock  # SNGAN's residual blocks, with BigGAN's layers


def _sn(layer: nn.Conv2d | nn.Linear | nn.Embedding) -> nn.Module:
    """Orthogonal initialisation (BigGAN's `G_init`/`D_init` default), then spectral norm."""
    nn.init.orthogonal_(layer.weight)
    bias = getattr(layer, "bias", None)  # an Embedding has none; a layer built with bias=False holds None
    if bias is not None:
        nn.init.zeros_(bias)
    return spectral_norm(layer)


def _conv(c_in: int, c_out: int, kernel: int = 3, bias: bool = True) -> nn.Module:
    return _sn(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=bias))


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine; gain 1 + W_g c and bias W_b c from the
    conditioning vector c (shared class embedding and a chunk of z)."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = _sn(nn.Linear(cond_dim, channels, bias=False))
        self.bias = _sn(nn.Linear(cond_dim, channels, bias=False))

    def forward(self, x, cond):
        return self.bn(x) * (1 + self.gain(cond))[:, :, None, None] + self.bias(cond)[:, :, None, None]


class SelfAttention(nn.Module):
    """SAGAN's attention: queries at every position, keys and values max-pooled 2x2,
    channels cut to 1/8 (queries, keys) and 1/2 (values); output = x + gamma * o."""

    def __init__(self, channels: int):
        super().__init__()
        self.theta = _conv(channels, channels // 8, 1, bias=False)
        self.phi = _conv(channels, channels // 8, 1, bias=False)
        self.g = _conv(channels, channels // 2, 1, bias=False)
        self.o = _conv(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))  # starts as the identity

    def forward(self, x, cond=None):
        n, c, h, w = x.shape
        queries = self.theta(x).flatten(2)  # (n, c/8, hw)
        keys = F.max_pool2d(self.phi(x), 2).flatten(2)  # (n, c/8, hw/4)
        values = F.max_pool2d(self.g(x), 2).flatten(2)  # (n, c/2, hw/4)
        attention = torch.softmax(queries.transpose(1, 2) @ keys, dim=-1)  # (n, hw, hw/4)
        out = (values @ attention.transpose(1, 2)).view(n, c // 2, h, w)
        return x + self.gamma * self.o(out)


class BigGANGenerator(ganzoo.Generator):
    output_range = (-1.0, 1.0)

    def __init__(self, latent_dim, output_shape, width, num_classes, shared_dim, attention, ortho):
        super().__init__(latent_dim, output_shape, num_classes)
        self.width, self.ortho = width, float(ortho)
        blocks = 3  # 4 -> 8 -> 16 -> 32
        self.chunk = latent_dim // (blocks + 1)  # hierarchical z: the input layer and each block get a chunk
        cond_dim = self.chunk + (shared_dim if num_classes else 0)
        self.shared = nn.Embedding(num_classes, shared_dim) if num_classes else None
        if self.shared is not None:
            nn.init.orthogonal_(self.shared.weight)
        self.linear = _sn(nn.Linear(self.chunk, 4 * 4 * width))
        norm = lambda channels: ConditionalBatchNorm(channels, cond_dim)  # noqa: E731
        self.blocks = nn.ModuleList(GBlock(width, width, norm, _conv) for _ in range(blocks))
        self.attention = nn.ModuleDict({"1": SelfAttention(width)} if attention else {})  # after block 1: 16x16
        self.bn = nn.BatchNorm2d(width)
        self.out = _conv(width, self.output_shape[0])

    def forward(self, z, labels=None):
        chunks = torch.split(z, self.chunk, dim=1)
        h = self.linear(chunks[0]).view(z.shape[0], self.width, 4, 4)
        shared = self.shared(labels) if self.shared is not None else None
        for i, block in enumerate(self.blocks):
            cond = chunks[i + 1] if shared is None else torch.cat([shared, chunks[i + 1]], dim=1)
            h = block(h, cond)
            if str(i) in self.attention:
                h = self.attention[str(i)](h)
        return torch.tanh(self.out(F.relu(self.bn(h))))

    def penalty(self, step, batch_size, generator=None):
        """BigGAN's orthogonal regularisation: ortho/2 * ||W W^T * (1 - I)||_F^2 over every
        weight of two or more axes (rows = output units), the shared embedding excepted; its
        gradient, 2 * ortho * (W W^T * (1 - I)) W, is what the official `utils.ortho` adds."""
        if not self.ortho:
            return None
        skip = {id(self.shared.weight)} if self.shared is not None else set()
        total = 0.0
        for param in self.parameters():
            if param.dim() < 2 or id(param) in skip:
                continue
            w = param.flatten(1)
            gram = w @ w.T
            total = total + (gram * (1 - torch.eye(w.shape[0], device=w.device, dtype=w.dtype))).pow(2).sum()
        return 0.5 * self.ortho * total


class BigGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, width, num_classes, attention):
        super().__init__(input_shape, num_classes)
        c = self.input_shape[0]
        self.blocks = nn.ModuleList(
            [
                DBlock(c, width, down=True, first=True, conv=_conv),
                DBlock(width, width, down=True, first=False, conv=_conv),
                DBlock(width, width, down=False, first=False, conv=_conv),
                DBlock(width, width, down=False, first=False, conv=_conv),
            ]
        )
        self.attention = SelfAttention(width) if attention else None  # after the first block, at 16x16
        self.linear = _sn(nn.Linear(width, 1))
        self.embed = _sn(nn.Embedding(num_classes, width)) if num_classes else None

    def forward(self, x, labels=None):
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == 0 and self.attention is not None:
                h = self.attention(h)
        h = F.relu(h).sum(dim=(2, 3))  # global sum pooling
        out = self.linear(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(labels) * h).sum(dim=1)  # projection
        return out


def build(config):
    shape = tuple(config["data_shape"])
    if len(shape) != 3 or shape[1:] != (32, 32):
        raise ganzoo.GanzooError(
            f"biggan is built for 32x32 images; the data are {shape}. Resize with --data-opt resolution=32."
        )
    if config["latent_dim"] % 4:
        raise ganzoo.GanzooError(
            f"biggan splits z into 4 equal chunks (hierarchical z); latent_dim="
            f"{config['latent_dim']} is not a multiple of 4. Choose one that is "
            "(128 is the paper's)."
        )
    width, classes, attention = config["width"], config["num_classes"], config["attention"]
    G = BigGANGenerator(config["latent_dim"], shape, width, classes, config["shared_dim"], attention, config["ortho"])
    return G, BigGANDiscriminator(shape, width, classes, attention)


PAPER = "Brock et al. 2019 (BigGAN)"
# The official CIFAR-10 script (launch_cifar_ema.sh): batch 50, 4 D steps, Adam 2e-4 both, betas (0, 0.999),
# EMA 0.9999; 500 epochs of 50,000 images at 200 images per G step is 125,000 G steps.
TRAIN_DEFAULTS = {
    "batch_size": 50,
    "g_lr": 2e-4,
    "d_lr": 2e-4,
    "betas": (0.0, 0.999),
    "n_d": 4,
    "ema_decay": 0.9999,
    "steps": 125_000,
    "channels_last": True,
}  # 1.41x faster step on a CPU core
DEFAULTS = {
    "data_shape": (3, 32, 32),
    "num_classes": 10,
    "latent_dim": 128,
    "width": 256,
    "shared_dim": 128,
    "attention": True,
    "ortho": 1e-4,
}


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register(
        "biggan",
        build,
        defaults=DEFAULTS,
        train_defaults=TRAIN_DEFAULTS,
        paper=PAPER,
        description="BigGAN at 32x32: shared-embedding conditional BN, hierarchical z, self-attention, "
        "spectral norm, orthogonal regularisation (paper loss: hinge)",
    )
    register(
        "biggan.test",
        build,
        defaults={**DEFAULTS, "latent_dim": 16, "width": 16, "shared_dim": 8},
        train_defaults={**TRAIN_DEFAULTS, "batch_size": 8, "steps": 4, "n_d": 1, "ema_decay": 0.0},
        paper=PAPER,
        description="tiny biggan for tests",
    )
