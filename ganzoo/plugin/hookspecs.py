"""The hooks a ganzoo plugin implements.

Each hook is handed a `register` callback; a plugin calls it once per thing it
adds. Plugins are modules exposed in the `ganzoo` entry-point group::

    [project.entry-points.ganzoo]
    my_plugin = "my_package.plugin_module"

and mark their functions with `ganzoo.hookimpl`. See docs/plugins.md.
"""

import pluggy

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")


@hookspec
def ganzoo_register_architectures(register):
    """Register generator/discriminator pairs.

    ``register(name, build, *, defaults, train_defaults=None, description="", paper="")``
    where ``build(config: dict) -> (generator, discriminator)``.
    """


@hookspec
def ganzoo_register_losses(register):
    """Register adversarial losses.

    ``register(name, factory, *, description="", paper="")`` where
    ``factory(**options) -> ganzoo.core.losses.Loss``.
    """


@hookspec
def ganzoo_register_datasets(register):
    """Register data sets.

    ``register(name, factory, *, description="")`` where
    ``factory(**options) -> ganzoo.core.data.Dataset``.
    """


@hookspec
def ganzoo_register_metrics(register):
    """Register evaluation metrics.

    ``register(name, factory, *, description="", paper="")`` where
    ``factory(**options) -> ganzoo.Metric``. A metric declares what the data
    must offer (`Metric.needs`) and what evaluation prepares for it
    (`Metric.uses`); see docs/plugins.md.
    """


@hookspec
def ganzoo_register_regularizers(register):
    """Register discriminator regularisers.

    ``register(name, factory, *, description="", paper="")`` where
    ``factory(**options)`` returns a callable ``reg(discriminator, real, fake,
    labels) -> weighted penalty`` that the loop adds to D's loss.
    """


@hookspec
def ganzoo_register_augmentations(register):
    """Register differentiable augmentations of the images D sees (real and fake).

    ``register(name, factory, *, description="", paper="")`` where
    ``factory(**options)`` returns a callable ``augment(images, rng) -> images``
    that draws its randomness from the torch.Generator `rng` and lets gradients
    through to G.
    """


@hookspec
def ganzoo_register_optimizers(register):
    """Register optimisers (what `--optimizer NAME` picks for both players).

    ``register(name, factory, *, description="", paper="")`` where
    ``factory(params, lr=..., betas=...) -> torch.optim.Optimizer``.
    """


@hookspec
def ganzoo_register_recipes(register):
    """Register recipes: a paper's training configuration, trained by `--recipe NAME`.

    ``register(name, settings, *, description="", paper="", version="1")`` where
    `settings` maps TrainConfig fields (any but `seed`; `arch`, `loss` and `data` too) to
    values. The user's flags win over a recipe; a recipe wins over the architecture's and
    the loss's training defaults. Change `version` whenever the settings change: each run
    records the recipe's name and version.
    """
