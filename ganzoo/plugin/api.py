"""The Python API over the registries: `list_*` with wildcards, `create_*` by name, for every
kind of plugin (architectures, losses, data sets, metrics, regularisers, augmentations,
optimisers)."""

from __future__ import annotations

import torch

from ganzoo.core.data import Dataset
from ganzoo.core.losses import Loss
from ganzoo.core.metrics import Metric, declaration_problems
from ganzoo.core.models import Discriminator, Generator, PackedDiscriminator
from ganzoo.core.regularization import regularizer_names
from ganzoo.errors import GanzooError, did_you_mean
from ganzoo.plugin.manager import call_factory, create_entry, origin, registry
from ganzoo.plugin.registry import Entry, check_options


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


def list_recipes(pattern: str = "*") -> list[str]:
    return registry("recipe").names(pattern)


def recipe_entry(name: str) -> Entry:
    """A recipe by name: its `defaults` are the settings it trains with, `version` its version."""
    return registry("recipe").get(name)


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
        raise GanzooError(
            f"Architecture '{name}' from {origin(entry)} returned {type(built).__name__}, not a "
            "(generator, discriminator) pair; fix the plugin's build function."
        )
    generator, discriminator = built
    if pack > 1:
        if config["num_classes"]:
            raise GanzooError(
                "PacGAN packing (pack > 1) is for unconditional models; "
                f"'{name}' is built with num_classes={config['num_classes']}."
            )
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
    return create_entry(
        "loss",
        name,
        options,
        made_right=lambda made: isinstance(made, Loss),
        noun="Loss",
        wrong="did not return a ganzoo.Loss",
    )


def create_dataset(name: str, **options):
    # Reading files can fail for reasons outside the plugin (a missing folder, a full disk).
    return create_entry(
        "dataset",
        name,
        options,
        made_right=lambda made: isinstance(made, Dataset),
        noun="Data set",
        wrong="did not return a ganzoo.Dataset",
        passthrough=(OSError,),
    )


def create_metric(name: str, **options):
    """A metric by name (see `ganzoo list metrics`), ready for `evaluation.evaluate`."""
    metric = create_entry(
        "metric",
        name,
        options,
        made_right=lambda made: isinstance(made, Metric),
        noun="Metric",
        wrong="did not return a ganzoo.Metric",
    )
    if problems := declaration_problems(metric):
        raise GanzooError(
            f"The metric '{name}' from {origin(registry('metric').get(name))} "
            + "; ".join(problems)
            + ". Fix its class attributes (docs/plugins.md)."
        )
    metric.name = name
    return metric


def create_regularizer(name: str, **options):
    """A regulariser by name, with its options checked (`--reg r1 --reg-opt gamma=1`)."""
    return create_entry(
        "regularizer",
        name,
        options,
        made_right=callable,
        noun="Regulariser",
        wrong="is not callable as reg(discriminator, real, fake, labels)",
    )


def named_regularizers(spec: str | None, options: dict) -> dict:
    """The regularisers named in `spec` ('r1' or 'r1,r2'), by name. An option applies to every named
    regulariser that has it (R3GAN gives R1 and R2 one gamma: `gamma=0.05`); `r2.gamma=1`
    gives it to one. An option none of them has is refused, naming what each takes."""
    names = regularizer_names(spec)
    if len(set(names)) < len(names):
        raise GanzooError(f"The regularisers '{spec}' name one twice; name each once (e.g. r1,r2).")
    entries = {name: registry("regularizer").get(name) for name in names}
    chosen: dict[str, dict] = {name: {} for name in names}
    for key, value in options.items():
        target, _, option = key.rpartition(".")
        if target and target not in entries:
            raise GanzooError(
                f"The regulariser option '{key}' is for '{target}', which is not among the "
                f"regularisers used ({', '.join(names) or 'none'}). Add it to --reg, or drop the option."
            )
        takers = [target] if target else [name for name, entry in entries.items() if option in entry.defaults]
        if not takers or option not in entries[takers[0]].defaults:
            taken = "; ".join(f"{name}: {', '.join(entry.defaults) or 'none'}" for name, entry in entries.items())
            offered = [o for entry in entries.values() for o in entry.defaults]
            raise GanzooError(
                f"No regulariser used here has the option '{option}'.{did_you_mean([option], offered)} "
                f"Their options are: {taken or 'none (no --reg given)'}."
            )
        for name in takers:
            chosen[name][option] = value
    return {name: create_regularizer(name, **chosen[name]) for name in names}


def create_augmentation(name: str, **options):
    """An augmentation by name, with its options checked (`--augment diffaugment
    --augment-opt policy=translation,cutout`)."""
    return create_entry(
        "augmentation",
        name,
        options,
        made_right=callable,
        noun="Augmentation",
        wrong="is not callable as augment(images, rng)",
    )


def create_optimizer(name: str, params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """The optimiser called `name` over `params`; a plugin's that returns something else is
    reported by name."""
    entry = registry("optimizer").get(name)
    optimizer = call_factory(entry, params, lr=lr, betas=tuple(betas))
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise GanzooError(
            f"Optimizer '{name}' from {origin(entry)} returned {type(optimizer).__name__}, not a "
            "torch.optim.Optimizer; fix the plugin's factory."
        )
    return optimizer
