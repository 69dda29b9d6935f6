"""The Python API over the registries: `list_*` with wildcards, `create_*` by name."""

from __future__ import annotations

from .errors import GanzooError
from .losses import Loss
from .models import Discriminator, Generator, PackedDiscriminator
from .plugins import call_factory, create_entry, origin, registry
from .registry import Entry, check_options


def list_architectures(pattern: str = "*") -> list[str]:
    """Registered architecture names matching a shell-style wildcard, e.g. ``"dc*"``."""
    return registry("architecture").names(pattern)


def list_losses(pattern: str = "*") -> list[str]:
    return registry("loss").names(pattern)


def list_datasets(pattern: str = "*") -> list[str]:
    return registry("dataset").names(pattern)


def list_metrics(pattern: str = "*") -> list[str]:
    return registry("metric").names(pattern)


def list_regularizers(pattern: str = "*") -> list[str]:
    return registry("regularizer").names(pattern)


def list_augmentations(pattern: str = "*") -> list[str]:
    return registry("augmentation").names(pattern)


def list_optimizers(pattern: str = "*") -> list[str]:
    return registry("optimizer").names(pattern)


def architecture_entry(name: str) -> Entry:
    return registry("architecture").get(name)


def loss_entry(name: str) -> Entry:
    return registry("loss").get(name)


def dataset_entry(name: str) -> Entry:
    return registry("dataset").get(name)


def create_architecture(name: str, **overrides) -> tuple[Generator, Discriminator, dict]:
    """Build an architecture's generator and discriminator.

    `overrides` replace entries of the registered configuration (see
    ``ganzoo list architectures --json``); the training loop passes the data's
    ``data_shape`` and ``num_classes``. Returns ``(generator, discriminator, config)``,
    where `config` is the complete configuration used.
    """
    entry = architecture_entry(name)
    pack = overrides.pop("pack", 1)  # PacGAN: an option of every architecture, handled here
    if not isinstance(pack, int) or isinstance(pack, bool) or pack < 1:
        raise GanzooError(f"pack must be a whole number >= 1 (PacGAN's m), got {pack!r}.")
    config = check_options(entry, overrides)
    built = call_factory(entry, dict(config))
    if not isinstance(built, (tuple, list)) or len(built) != 2:
        raise GanzooError(f"Architecture '{name}' from {origin(entry)} returned {type(built).__name__}, not a "
                          "(generator, discriminator) pair; fix the plugin's build function.")
    generator, discriminator = built
    if pack > 1:
        if config["num_classes"]:
            raise GanzooError("PacGAN packing (pack > 1) is for unconditional models; "
                              f"'{name}' is built with num_classes={config['num_classes']}.")
        shape = tuple(config["data_shape"])
        # The same architecture's D, built for m samples stacked along their first dimension.
        _, inner = call_factory(entry, {**config, "data_shape": (shape[0] * pack, *shape[1:])})
        discriminator = PackedDiscriminator(inner, pack, shape)
    if not isinstance(generator, Generator) or not isinstance(discriminator, Discriminator):
        raise GanzooError(
            f"Architecture '{name}' from {origin(entry)} did not return a "
            "(ganzoo.Generator, ganzoo.Discriminator) pair; fix the plugin's build function."
        )
    return generator, discriminator, {"name": name, **config, "pack": pack}


def create_loss(name: str, **options) -> Loss:
    return create_entry("loss", name, options, made_right=lambda made: isinstance(made, Loss), noun="Loss",
                        wrong="did not return a ganzoo.losses.Loss")


def create_dataset(name: str, **options):
    from .data import Dataset

    # Reading files can fail for reasons outside the plugin (a missing folder, a full disk).
    return create_entry("dataset", name, options, made_right=lambda made: isinstance(made, Dataset),
                        noun="Data set", wrong="did not return a ganzoo.data.Dataset", passthrough=(OSError,))


def create_metric(name: str, **options):
    """A metric by name (see `ganzoo list metrics`), ready for `evaluation.evaluate`."""
    from .metrics.base import Metric

    metric = create_entry("metric", name, options, made_right=lambda made: isinstance(made, Metric),
                          noun="Metric", wrong="did not return a ganzoo.Metric")
    metric.name = name
    return metric
