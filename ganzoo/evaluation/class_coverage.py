"""Mode and class coverage on image data, read off a digit classifier.

- Stacked MNIST (VEEGAN, PacGAN): each of the three channels of a generated
  sample is classified as a digit by the MNIST classifier; the triple is one of
  1,000 modes. Report modes covered (at least one sample) out of 1,000 and
  KL(generated mode histogram || uniform), on 26,000 samples.
- Any class-labelled digit set: the class histogram of generated samples,
  classes covered, and KL(generated || real class distribution). For a
  conditional generator, also how often the classifier agrees with the label asked for.
"""

from __future__ import annotations

import copy
import math

import torch

from ganzoo.core.data import to_uint8
from ganzoo.evaluation.digits import inference_classifier, to_classifier_input

STACKED_MNIST_SAMPLES = 26_000  # VEEGAN and PacGAN use 26,000 samples
CLASS_COVERAGE_SAMPLES = 10_000


@torch.no_grad()
def classify_channels(model, images: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    """The classifier's class for each channel of each image: (N, C) integers."""
    model.eval()
    n, channels = images.shape[:2]
    flat = images.reshape(n * channels, 1, *images.shape[2:])
    device = next(model.parameters()).device
    out = [
        model(to_classifier_input(flat[i : i + batch].to(device)).contiguous(memory_format=torch.channels_last))
        .argmax(1)
        .cpu()
        for i in range(0, len(flat), batch)
    ]
    return torch.cat(out).reshape(n, channels)


@torch.no_grad()
def generated_classes(
    generator,
    model,
    num_samples: int,
    rng: torch.Generator,
    grey: bool = False,
    batch: int = 1000,
    sampler_batch: int | None = None,
    float_images: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Classes of `num_samples` generated images, per channel (or of their grey mean with
    `grey`), and the labels asked of a conditional generator (None for an unconditional
    one). Images are quantised to uint8 first, like the real images the classifier knows,
    unless `float_images`.

    `sampler_batch`: G's batch norm uses the statistics of each batch of this many latents
    (G in training mode, its running statistics left as they were), as PacGAN's Stacked MNIST
    sampler does; the last batch is full too, and only `num_samples` are kept, as there."""
    predicted, asked = [], []
    model = inference_classifier(model)
    if sampler_batch is not None:
        batch = max(sampler_batch, (batch // sampler_batch) * sampler_batch)  # whole sampling batches
        generator = _BatchStatisticsSampler(generator, sampler_batch)
    for start in range(0, num_samples, batch):
        n = min(batch, num_samples - start)
        drawn = n if sampler_batch is None else -(-n // sampler_batch) * sampler_batch
        labels = generator.sample_labels(drawn, generator=rng)
        images = generator.sample(drawn, labels=labels, generator=rng)[:n]
        images = images.mean(1, keepdim=True) if grey else images
        predicted.append(classify_channels(model, images.clamp(-1, 1) if float_images else to_uint8(images)))
        if labels is not None:
            asked.append(labels[:n].cpu())
    return torch.cat(predicted), (torch.cat(asked) if asked else None)


class _BatchStatisticsSampler:
    """G sampled in training mode, batch by batch of `size` latents, on a copy whose running
    statistics may move: the evaluated G's own are untouched."""

    def __init__(self, generator, size: int):
        self.copy, self.size = copy.deepcopy(generator), size
        self.copy.train()

    def sample_labels(self, n, generator=None):
        return self.copy.sample_labels(n, generator=generator)

    def sample(self, n, labels=None, generator=None):
        device = self.copy.device
        chunks = []
        for start in range(0, n, self.size):
            stop = min(start + self.size, n)
            z = self.copy.sample_latent(stop - start, device, generator)
            chunks.append(self.copy(z, None if labels is None else labels[start:stop].to(device)))
        return torch.cat(chunks)


def _kl(p: torch.Tensor, q: torch.Tensor) -> float | None:
    """KL(p || q) in nats; None (infinite) when p puts mass where q has none."""
    support = p > 0
    if (q[support] == 0).any():
        return None
    return float((p[support] * (p[support] / q[support]).log()).sum())


def stacked_mnist_modes(digits: torch.Tensor) -> dict:
    """Coverage of the 1,000 digit triples; `digits` is (N, 3)."""
    modes = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    counts = torch.bincount(modes, minlength=1000).double()
    return {
        "modes_covered": int((counts > 0).sum()),
        "num_modes": 1000,
        "kl_uniform": _kl(counts / counts.sum(), torch.full((1000,), 1e-3, dtype=torch.float64)),
        "max_kl_uniform": math.log(1000),
    }


def class_coverage(
    predicted: torch.Tensor, real_labels: torch.Tensor, num_classes: int, asked: torch.Tensor | None = None
) -> dict:
    """Class histogram of generated samples against the real class distribution."""
    counts = torch.bincount(predicted, minlength=num_classes).double()
    real = torch.bincount(real_labels.cpu(), minlength=num_classes).double()
    p = counts / counts.sum()
    out = {
        "classes_covered": int((counts > 0).sum()),
        "num_classes": num_classes,
        "kl_real": _kl(p, real / real.sum()),
        "histogram": [round(float(x), 5) for x in p],
    }
    if asked is not None:
        out["label_agreement"] = float((predicted == asked).double().mean())
    return out
