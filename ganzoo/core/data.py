"""Data set interface.

A data set knows the shape of one sample and its number of classes, and hands
the training loop an endless `BatchSource` whose position can be saved in a
checkpoint, so a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

from typing import Protocol

import torch

from ganzoo.errors import GanzooError


class BatchSource(Protocol):
    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next batch: samples, and integer labels (None when unlabelled)."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class Dataset:
    name: str = ""
    sample_shape: tuple[int, ...] = ()
    num_classes: int = 0  # > 0 when the data carry class labels
    #: What the data offer to metrics ("modes", "density", "images", "digit-classes",
    #: "stacked-digits"), each a promise of certain attributes: see ganzoo.core.metrics.
    #: A metric applies to every data set that offers all of its `needs`.
    offers: frozenset[str] = frozenset()
    #: The digit classifier whose classes these data share ("mnist", "fashion-mnist"), or
    #: None: with "digit-classes" it gives class coverage, and it is FID's default extractor.
    digit_classifier: str | None = None

    def batches(self, batch_size: int, device: torch.device, seed: int) -> BatchSource:
        raise NotImplementedError

    def to(self, device) -> Dataset:
        """Keep stored data on `device` (the GPU, when it fits); a no-op for generated data."""
        return self

    def describe(self) -> dict:
        """What a result's protocol records about the data."""
        return {"name": self.name, "sample_shape": list(self.sample_shape), "num_classes": self.num_classes}


class SampledBatches:
    """Endless batches from a generated (infinite) data set: `draw(n, rng)` returns
    samples and labels (or None); the random generator's state is the position."""

    def __init__(self, draw, batch_size: int, device, seed: int):
        self.draw, self.batch_size, self.device = draw, batch_size, torch.device(device)
        self.rng = torch.Generator().manual_seed(seed)

    def next(self):
        drawn = self.draw(self.batch_size, self.rng)
        if not (isinstance(drawn, tuple) and len(drawn) == 2):
            raise GanzooError(
                f"draw(n, rng) returned {_kind_of(drawn)}; it must return a pair "
                "(samples, labels), with labels None for unlabelled data, e.g. `return x, None` "
                "(docs/plugins.md, data sets)."
            )
        x, labels = drawn
        labels = labels.to(self.device) if labels is not None else None
        return x.to(self.device, non_blocking=True), labels

    def state_dict(self):
        return {"rng": self.rng.get_state()}

    def load_state_dict(self, state):
        self.rng.set_state(state["rng"])


def _kind_of(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return f"a {type(value).__name__}"


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range of a tanh generator."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded as a saved PNG would be, so that
    generated images are quantised exactly like the real ones they are compared with."""
    return images.detach().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def batch_problem(dataset: Dataset, x, labels) -> str | None:
    """What is wrong with a batch for the data set that made it (None: nothing): samples must
    be a floating-point tensor of the declared `sample_shape`, labels (when the data have
    classes) one whole number per sample."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        return f"holds {type(x).__name__} {getattr(x, 'dtype', '')} samples, not a floating-point torch tensor"
    if tuple(x.shape[1:]) != tuple(dataset.sample_shape):
        return (
            f"holds samples of shape {tuple(x.shape[1:])} where it declares `sample_shape` "
            f"{tuple(dataset.sample_shape)}"
        )
    if dataset.num_classes > 0 and not (
        isinstance(labels, torch.Tensor) and labels.shape == x.shape[:1] and not labels.is_floating_point()
    ):
        return (
            f"declares {dataset.num_classes} classes but gives {type(labels).__name__} labels, not one whole "
            "number per sample"
        )
    return None
