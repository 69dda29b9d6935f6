"""ganzoo: a plugin-based zoo of GANs with one training loop and honest metrics."""

from .api import (
    create_architecture,
    create_dataset,
    create_loss,
    list_architectures,
    list_datasets,
    list_losses,
)
from .config import TrainConfig
from .errors import GanzooError, UnknownNameError
from .hookspecs import hookimpl
from .loop import train
from .losses import Loss
from .models import Discriminator, Generator
from .regularizers import create_regularizer

__all__ = [
    "Discriminator", "GanzooError", "Generator", "Loss", "TrainConfig", "UnknownNameError",
    "create_architecture", "create_dataset", "create_loss", "create_regularizer", "hookimpl",
    "list_architectures", "list_datasets", "list_losses", "train",
]

