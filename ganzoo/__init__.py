"""ganzoo: a plugin-based zoo of GANs with one training loop and honest metrics."""

from .api import (
    create_architecture,
    create_dataset,
    create_loss,
    create_metric,
    list_architectures,
    list_augmentations,
    list_datasets,
    list_losses,
    list_metrics,
    list_optimizers,
    list_regularizers,
)
from .augment import create_augmentation
from .config import TrainConfig
from .data import Dataset
from .errors import GanzooError, UnknownNameError
from .hookspecs import hookimpl
from .loop import train
from .losses import Loss
from .metrics.base import Metric
from .models import Discriminator, Generator
from .regularizers import create_regularizer

__all__ = [
    "Dataset", "Discriminator", "GanzooError", "Generator", "Loss", "Metric", "TrainConfig", "UnknownNameError",
    "create_architecture", "create_augmentation", "create_dataset", "create_loss", "create_metric",
    "create_regularizer", "hookimpl", "list_architectures", "list_augmentations", "list_datasets", "list_losses",
    "list_metrics", "list_optimizers", "list_regularizers",
    "train",
]

