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

import math

import torch

from ..data.images import to_uint8
from .digits import inference_classifier, to_classifier_input

STACKED_MNIST_SAMPLES = 26_000  # VEEGAN and PacGAN use 26,000 samples
CLASS_COVERAGE_SAMPLES = 10_000


@torch.no_grad()
def classify_channels(model, images: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    """The classifier's class for each channel of each image: (N, C) integers."""
    model.eval()
    n, channels = images.shape[:2]
    flat = images.reshape(n * channels, 1, *images.shape[2:])
    device = next(model.parameters()).device
    out = [model(to_classifier_input(flat[i:i + batch].to(device)).contiguous(memory_format=torch.channels_last))
           .argmax(1).cpu() for i in range(0, len(flat), batch)]
    return torch.cat(out).reshape(n, channels)


@torch.no_grad()
def generated_classes(generator, model, num_samples: int, rng: torch.Generator, grey: bool = False,
                      batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Classes of `num_samples` generated images, per channel (or of their grey mean with
    `grey`), and the labels asked of a conditional generator (None for an unconditional
    one). Images are quantised to uint8 first, like the real images the classifier knows."""
    predicted, asked = [], []
    model = inference_classifier(model)
    for start in range(0, num_samples, batch):
        n = min(batch, num_samples - start)
        labels = generator.sample_labels(n, generator=rng)
        images = generator.sample(n, labels=labels, generator=rng)
        images = to_uint8(images.mean(1, keepdim=True) if grey else images)
        predicted.append(classify_channels(model, images))
        if labels is not None:
            asked.append(labels.cpu())
    return torch.cat(predicted), (torch.cat(asked) if asked else None)


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


def class_coverage(predicted: torch.Tensor, real_labels: torch.Tensor, num_classes: int,
                   asked: torch.Tensor | None = None) -> dict:
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
