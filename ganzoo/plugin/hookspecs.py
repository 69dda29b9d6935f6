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


# --- a run's lifecycle: observe it, and act on it ----------------------------------------
# Each is handed `run`, a ganzoo.core.lifecycle.RunContext. A hook that raises stops the run
# with an error naming its plugin (its traceback kept); the checkpoint before it is kept.


@hookspec
def ganzoo_run_started(run):
    """A run starts or resumes (`run.start_step`), its configuration written, before step 0's evaluation."""


@hookspec
def ganzoo_before_step(run, step):
    """Before generator step `step` (0-based) trains: set what moves with the step (the
    schedules' learning rates, betas, penalty weights are set here). Runs every step: keep it cheap."""


@hookspec
def ganzoo_after_discriminator_step(run, real_logits):
    """After each update of D, with D's logits on the real batch it saw (detached, still on the
    device: read them lazily). ADA's controller adapts its probability here. Runs every D step."""


@hookspec
def ganzoo_log_values(run, step):
    """Values to add to the training-log line at `step`: return a dict (or None). The schedules
    add the values the step trained with (`scheduled`), ADA its probability (`augment_p`)."""


@hookspec
def ganzoo_after_step(run, step):
    """After each generator step; `step` counts the steps done. Called only where some plugin
    implements it (it runs every step: keep it cheap)."""


@hookspec
def ganzoo_after_log(run, record):
    """After each line of the training log: `record` holds step, d_loss, g_loss, steps_per_second,
    train_seconds (and what `ganzoo_log_values` added)."""


@hookspec
def ganzoo_after_evaluation(run, step, records, picture):
    """After an evaluation: `records` are its metric records (metric, results, protocol),
    `picture` the samples' image file."""


@hookspec
def ganzoo_after_checkpoint(run, step, path):
    """After a checkpoint is written at `path` (on the writing process)."""


@hookspec
def ganzoo_run_finished(run, summary):
    """After the last step: `summary` is what `ganzoo.train` returns."""


# --- the command line and bench -------------------------------------------------------------


@hookspec
def ganzoo_register_commands(register):
    """Add `ganzoo` commands, as simonw/llm's register_commands does.

    ``register(name, handler, *, help="", arguments=None)``: `arguments(parser)` adds the
    command's options to its argparse parser; `handler(args)` runs it and returns the exit
    status. A name ganzoo already uses is refused, naming the plugin.
    """


@hookspec
def ganzoo_register_suites(register):
    """Add suites that `ganzoo bench NAME` runs: ``register(name, path, *, description="")``,
    `path` a suite file (TOML, or YAML with PyYAML) shipped with the plugin."""
