"""An offline feature extractor for MNIST-like data: a classifier ganzoo trains itself.

InceptionV3 weights cannot always be downloaded, and Inception features are a
poor fit for 28x28 grey digits anyway; the literature's answer is "FID with a
LeNet": a small classifier trained on the data set, whose penultimate layer
gives the features. ganzoo trains one per data set with a fixed seed, caches
it with its measured test accuracy and the SHA-256 of its weights, and
registers it with torch-fidelity as ``ganzoo-<dataset>-classifier``.

The reference classifiers (seed 0) ship with the package in ``reference/``, so
every user's FID uses the same weights and numbers are comparable across
machines; `train_classifier` reproduces them (up to floating-point
nondeterminism, which changes the hash, so retrained weights are a different
extractor).

Numbers computed with it are comparable with each other (same data set, seed
and weights hash), never with Inception FIDs in papers.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.core.data import to_float
from ganzoo.errors import GanzooError
from ganzoo.plugin.api import create_dataset
from ganzoo.util.files import atomic_write_bytes, atomic_write_json, file_sha256, safe_torch_load

DATASETS = ("mnist", "fashion-mnist")
#: Test accuracy a classifier must reach before its features are used.
REQUIRED_ACCURACY = {"mnist": 0.990, "fashion-mnist": 0.900}
FEATURES = ("penultimate", "logits")
PENULTIMATE = 128
CACHE_ENV = "GANZOO_CACHE"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ganzoo").expanduser()


def extractor_name(dataset: str) -> str:
    return f"ganzoo-{dataset}-classifier"


class DigitClassifier(nn.Module):
    """Two VGG-style conv blocks (32, 64 channels, batch norm), a 128-unit
    penultimate layer (the features), and 10 logits. Input: (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self):
        super().__init__()

        def block(c_in, c_out):
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        self.body = nn.Sequential(
            *block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, PENULTIMATE), nn.ReLU()
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(PENULTIMATE, 10)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        penultimate = self.body(x)
        return penultimate, self.head(self.dropout(penultimate))

    def forward(self, x):
        return self.features(x)[1]


def inference_classifier(model: DigitClassifier) -> nn.Module:
    """The classifier's logits, for inference only: batch norm folded into the convolutions
    and channels-last memory. On a CPU core this classifies 1.8x faster, which matters for
    stacked MNIST (78,000 digits per evaluation); the classes are the same and the logits
    agree to about 1e-5 (float rounding, like a change of thread count)."""
    from torch.fx.experimental.optimization import fuse

    body = fuse(copy.deepcopy(model.body).eval())
    return nn.Sequential(body, model.head).eval().to(memory_format=torch.channels_last)


def to_classifier_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 or [-1, 1] float images of any size and 1 channel -> (N, 1, 28, 28) floats in [-1, 1]."""
    if images.dtype == torch.uint8:
        images = to_float(images)
    if images.shape[1] != 1:
        raise GanzooError(
            f"The digit classifier reads 1-channel images; got {images.shape[1]} channels. "
            "Classify each channel on its own (as for stacked-mnist)."
        )
    if images.shape[-2:] != (28, 28):
        images = F.interpolate(images, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
    return images


def classifier_path(dataset: str, seed: int) -> Path:
    return cache_dir() / "classifiers" / f"{dataset}-seed{seed}.pt"


def reference_path(dataset: str, seed: int) -> Path:
    """Where the package's shipped classifier for (dataset, seed) is, if it ships one."""
    return Path(__file__).parent / "reference" / f"{dataset}-seed{seed}.pt"


@torch.no_grad()
def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(images), batch):
        logits = model(to_classifier_input(images[start : start + batch]))
        correct += int((logits.argmax(1) == labels[start : start + batch]).sum())
    return correct / len(images)


def train_classifier(
    dataset: str, root: str = "", seed: int = 0, epochs: int = 3, max_train: int | None = None, path: Path | None = None
) -> tuple[DigitClassifier, dict]:
    """Train, measure on the test split, and cache weights plus a JSON of how."""

    if dataset not in DATASETS:
        raise GanzooError(f"No digit classifier for '{dataset}'; it exists for {', '.join(DATASETS)}.")
    train_set = create_dataset(dataset, root=root, split="train")
    test_set = create_dataset(dataset, root=root, split="test")
    torch.manual_seed(seed)
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    count = min(max_train or len(train_set), len(train_set))
    steps_per_epoch = count // 128
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    rng = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    model.train()
    for step in range(epochs * steps_per_epoch):
        position = step % steps_per_epoch
        if position == 0:  # a new epoch over (the first `count` of) a fresh permutation
            order = torch.randperm(len(train_set), generator=rng)[:count]
        images, labels = train_set.get(order[position * 128 : (position + 1) * 128])
        loss = F.cross_entropy(model(to_classifier_input(images)), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    train_seconds = time.perf_counter() - started
    test_accuracy = accuracy(model, test_set.images, test_set.labels)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    path = path or classifier_path(dataset, seed)
    atomic_write_bytes(path, buffer.getvalue())
    info = {
        "dataset": dataset,
        "seed": seed,
        "epochs": epochs,
        "train_images": count,
        "test_accuracy": test_accuracy,
        "test_images": len(test_set),
        "required_accuracy": REQUIRED_ACCURACY[dataset],
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "train_seconds": round(train_seconds, 1),
        "torch": torch.__version__,
        "architecture": "DigitClassifier: 2 conv blocks (32, 64) + 128-d penultimate + 10 logits",
    }
    atomic_write_json(path.with_suffix(".json"), info)
    model.eval()
    return model, info


def load_classifier(path: Path) -> tuple[DigitClassifier, dict]:
    """A cached classifier and its record; the weights must match the recorded hash."""

    record = path.with_suffix(".json")
    if not path.is_file() or not record.is_file():
        raise GanzooError(f"No trained classifier at {path}. ganzoo trains it on first use.")
    info = json.loads(record.read_text())
    digest = file_sha256(path)
    if digest != info["sha256"]:
        raise GanzooError(
            f"{path} does not match its record (SHA-256 {digest[:12]}..., recorded "
            f"{info['sha256'][:12]}...). Delete both files to retrain it."
        )
    model = DigitClassifier()
    model.load_state_dict(safe_torch_load(path))
    return model.eval(), info


def get_classifier(dataset: str, root: str = "", seed: int = 0, epochs: int = 3) -> tuple[DigitClassifier, dict, Path]:
    """The shipped reference classifier for `dataset`, else the cached one, else
    one trained now (and cached). Refuses one below the required test accuracy."""
    if dataset not in DATASETS:
        raise GanzooError(f"No digit classifier for '{dataset}'; it exists for {', '.join(DATASETS)}.")
    path = reference_path(dataset, seed)
    if not path.is_file():
        path = classifier_path(dataset, seed)
    if path.is_file():
        model, info = load_classifier(path)
    else:
        model, info = train_classifier(dataset, root=root, seed=seed, epochs=epochs)
    if info["test_accuracy"] < REQUIRED_ACCURACY[dataset]:
        raise GanzooError(
            f"The {dataset} classifier at {path} reached {info['test_accuracy']:.2%} test accuracy, below the "
            f"{REQUIRED_ACCURACY[dataset]:.0%} its features need. Delete it to retrain with more epochs."
        )
    return model, info, path


def _feature_extractor_class():
    # Imported here: torch-fidelity is needed for the metrics only.
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    class TorchFidelityDigitExtractor(FeatureExtractorBase):
        """torch-fidelity's view of a DigitClassifier: uint8 images in, features out."""

        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            if feature_extractor_weights_path is None:
                raise GanzooError(f"{name} needs feature_extractor_weights_path (a trained DigitClassifier).")
            self.model, self.info = load_classifier(Path(feature_extractor_weights_path))

        @staticmethod
        def get_provided_features_list():
            return FEATURES

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits", "fid": "penultimate", "kid": "penultimate", "prc": "penultimate"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 1, 28, 28, dtype=torch.uint8)

        def forward(self, x):
            # Each channel is a digit of its own (Stacked MNIST has three): classify
            # them apart and concatenate their features. One channel: plain features.
            n, channels = x.shape[:2]
            penultimate, logits = self.model.features(to_classifier_input(x.reshape(n * channels, 1, *x.shape[2:])))
            named = {"penultimate": penultimate.reshape(n, -1), "logits": logits.reshape(n, -1)}
            return tuple(named[name] for name in self.features_list)

    return TorchFidelityDigitExtractor


def register_with_torch_fidelity() -> None:
    """Make ``ganzoo-mnist-classifier`` etc. known to torch-fidelity (idempotent)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    cls = _feature_extractor_class()
    for dataset in DATASETS:
        if extractor_name(dataset) not in FEATURE_EXTRACTORS_REGISTRY:
            register_feature_extractor(extractor_name(dataset), cls)
