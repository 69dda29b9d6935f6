"""Generator and discriminator interfaces.

Architectures subclass these. Conditional models set `num_classes > 0` and take
integer `labels`; unconditional ones have `num_classes == 0` and ignore them.
"""

from __future__ import annotations

import torch
from torch import nn

from ganzoo.errors import GanzooError


class Generator(nn.Module):
    """Maps latent vectors (and optional class labels) to samples of `output_shape`."""

    #: (low, high) bounds of the output, e.g. (-1, 1) after tanh; None when unbounded.
    output_range: tuple[float, float] | None = None

    def __init__(self, latent_dim: int, output_shape: tuple[int, ...], num_classes: int = 0):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.output_shape = tuple(int(s) for s in output_shape)
        self.num_classes = int(num_classes)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample_latent(self, n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        device = device if device is not None else self.device
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def sample_labels(self, n: int, device=None, generator: torch.Generator | None = None):
        """Uniform class labels for a conditional generator; None for an unconditional one."""
        if self.num_classes == 0:
            return None
        device = device if device is not None else self.device
        return torch.randint(self.num_classes, (n,), device=device, generator=generator)

    def penalty(self, step: int, batch_size: int, generator: torch.Generator | None = None):
        """The architecture's own regularisation of G, added to G's loss at generator step
        `step` (0-based) of batches of `batch_size`: BigGAN's orthogonal regularisation,
        StyleGAN2's path-length penalty. None (the default): nothing this step. Draw random
        numbers from `generator`, so that a resumed run draws the same ones."""
        return None

    @torch.no_grad()
    def sample(
        self,
        n: int,
        device=None,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        batch_size: int = 1024,
    ) -> torch.Tensor:
        """`n` samples in evaluation mode (batch norm uses its running statistics)."""
        device = device if device is not None else self.device
        if labels is None:
            labels = self.sample_labels(n, device, generator)
        was_training = self.training
        self.eval()
        try:
            chunks = []
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                z = self.sample_latent(stop - start, device, generator)
                chunk_labels = None if labels is None else labels[start:stop].to(device)
                chunks.append(self(z, chunk_labels))
            return torch.cat(chunks) if chunks else torch.empty(0, *self.output_shape, device=device)
        finally:
            self.train(was_training)


class Discriminator(nn.Module):
    """Returns one real-vs-fake logit per input: a tensor of shape (N,)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int = 0):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes = int(num_classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


class PackedDiscriminator(Discriminator):
    """PacGAN (Lin et al. 2018): the wrapped D judges `pack` samples at once,
    concatenated along the first sample dimension (channels for images), and
    returns one logit per pack. Any architecture gets it with `pack=m`."""

    def __init__(self, inner: Discriminator, pack: int, input_shape: tuple[int, ...]):
        super().__init__(input_shape, 0)
        self.inner, self.pack = inner, int(pack)

    def forward(self, x, labels=None):
        n = x.shape[0]
        if n % self.pack:
            raise GanzooError(
                f"PacGAN packing: a batch of {n} is not a multiple of pack={self.pack}; "
                "choose a batch size divisible by it."
            )
        return self.inner(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]))


def forward_per_group(forward, z: torch.Tensor, groups: int, who: str) -> torch.Tensor:
    """`forward` over `groups` interleaved groups of the batch (sample j in group j mod groups),
    one call each, the outputs back in the batch's order. PacGAN's code runs G once per pack
    slot, so G's batch norm normalises each group on its own; with packing by consecutive
    samples (Packed), each pack then holds one sample of every group, as PacGAN's packs do."""
    if groups == 1:
        return forward(z)
    if z.shape[0] % groups:
        raise GanzooError(
            f"{who} with bn_groups={groups}: a batch of {z.shape[0]} latents does not split into "
            f"{groups} groups; use a batch size that is a multiple of {groups}."
        )
    outputs = [forward(z[k::groups]) for k in range(groups)]  # one call per group: its own batch statistics
    return torch.stack(outputs, dim=1).flatten(0, 1)
