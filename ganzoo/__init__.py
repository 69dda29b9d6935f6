"""ganzoo: a plugin-based zoo of GANs with one training loop and honest metrics.

The public API, importable from `ganzoo` itself. Each name is imported from its layer on
first use (PEP 562), so that `import ganzoo.cli` or `import ganzoo.errors` does not load
the training loop and every network first. ARCHITECTURE.md shows the layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Public name -> the module that defines it.
_PUBLIC = {
    "GanzooError": "ganzoo.errors",
    "UnknownNameError": "ganzoo.errors",
    "TrainConfig": "ganzoo.core.config",
    "Dataset": "ganzoo.core.data",
    "Loss": "ganzoo.core.losses",
    "Metric": "ganzoo.core.metrics",
    "Column": "ganzoo.core.metrics",
    "Curve": "ganzoo.core.metrics",
    "Generator": "ganzoo.core.models",
    "Discriminator": "ganzoo.core.models",
    "hookimpl": "ganzoo.plugin.hookspecs",
    **{
        name: "ganzoo.plugin.api"
        for name in (
            "create_architecture",
            "create_augmentation",
            "create_dataset",
            "create_loss",
            "create_metric",
            "create_optimizer",
            "create_regularizer",
            "list_architectures",
            "list_augmentations",
            "list_datasets",
            "list_losses",
            "list_metrics",
            "list_optimizers",
            "list_recipes",
            "list_regularizers",
        )
    },
    "train": "ganzoo.training.loop",
}

__all__ = [
    "Column",
    "Curve",
    "Dataset",
    "Discriminator",
    "GanzooError",
    "Generator",
    "Loss",
    "Metric",
    "TrainConfig",
    "UnknownNameError",
    "create_architecture",
    "create_augmentation",
    "create_dataset",
    "create_loss",
    "create_metric",
    "create_optimizer",
    "create_regularizer",
    "hookimpl",
    "list_architectures",
    "list_augmentations",
    "list_datasets",
    "list_losses",
    "list_metrics",
    "list_optimizers",
    "list_recipes",
    "list_regularizers",
    "train",
]


def __getattr__(name: str):  # noqa: ANN201 - any public object
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what a type checker and an IDE see
    from ganzoo.core.config import TrainConfig
    from ganzoo.core.data import Dataset
    from ganzoo.core.losses import Loss
    from ganzoo.core.metrics import Column, Curve, Metric
    from ganzoo.core.models import Discriminator, Generator
    from ganzoo.errors import GanzooError, UnknownNameError
    from ganzoo.plugin.api import (
        create_architecture,
        create_augmentation,
        create_dataset,
        create_loss,
        create_metric,
        create_optimizer,
        create_regularizer,
        list_architectures,
        list_augmentations,
        list_datasets,
        list_losses,
        list_metrics,
        list_optimizers,
        list_regularizers,
    )
    from ganzoo.plugin.hookspecs import hookimpl
    from ganzoo.training.loop import train
