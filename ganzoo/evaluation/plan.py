"""Evaluation during and after training: which metrics, on how many samples, how.

Metrics come from the registry (`ganzoo_register_metrics`; ganzoo's own in
`metrics/builtin.py`). A metric applies to data that offer what it needs
(`Metric.needs` against `Dataset.offers`; see `metrics/base.py`), whatever the
data set's class or name. `plan_evaluation` checks the asked metrics against the
data and prepares what they use (real data, feature extractor weights, digit
classifier) once, before any training, so a missing file fails at the start
rather than at the first evaluation. `evaluate` then computes one record per
metric at a step.

Each evaluation samples from the generator (the EMA copy when EMA is on) with
a torch generator of its own, seeded from the run's seed, so evaluating never
changes the course of training and every evaluation sees the same latent vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo.core.metrics import Metric, MetricContext, missing_needs, offers
from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.evaluation import mode_coverage as mc
from ganzoo.evaluation.digits import DigitClassifier, get_classifier
from ganzoo.evaluation.extractors import Extractor, resolve_extractor
from ganzoo.plugin.api import create_metric
from ganzoo.plugin.manager import BUILTIN_PLUGINS, origin, registry
from ganzoo.util.plots import density_1d, sample_grid, scatter_2d

EVAL_SEED_OFFSET = 7_777_777


@dataclass
class EvalSettings:
    """What to measure; the run's config holds these (see TrainConfig.eval_*)."""

    metrics: list[str] | None = None  # None: the data set's defaults
    num_samples: int | None = None  # generated samples; None: each metric's standard count
    real_samples: int | None = None  # real samples for FID & co.; None: the split, at most 50,000
    #                                  (as many as generated for precision/recall)
    real_split: str = "train"
    extractor: str = "auto"
    inception_weights: str | None = None
    data_root: str = ""
    # Classifier metrics, as PacGAN's Stacked MNIST code measures: G's batch norm from each
    # sampling batch of this many latents (None: running statistics), and G's float output
    # rather than images quantised to uint8.
    sampler_batch: int | None = None
    float_images: bool = False
    max_samples: int | None = None  # samples made elsewhere: no metric draws more than were given

    def count_for(self, metric: Metric) -> int:
        """The samples `metric` is computed on: the user's count, else its standard one, and no
        more than were given (samples made elsewhere)."""
        count = self.num_samples or metric.num_samples
        return count if self.max_samples is None else min(count, self.max_samples)


@dataclass
class EvalPlan:
    metrics: list[str]
    settings: EvalSettings
    dataset: object = None
    instances: dict[str, Metric] = field(default_factory=dict)  # name -> the metric, created once
    # The real data FID & co. compare with: a data set offering "images" (len, get; labels with
    # "digit-classes"), which Dataset itself does not declare.
    reference: Any = None
    extractor: Extractor | None = None  # when a metric uses "extractor"
    classifier: tuple[DigitClassifier, dict] | None = None  # (model, info) of the digit classifier, for class metrics
    cache: dict = field(default_factory=dict)  # what metrics keep between evaluations (real features)


def registered_metrics() -> dict[str, Metric]:
    """Every registered metric, in the order plugins registered them (ganzoo's first)."""

    return {name: create_metric(name) for name in registry("metric").entries}


def applicable_metrics(dataset, only: str | None = None, registered: dict[str, Metric] | None = None) -> list[str]:
    """Every metric whose needs the data offer; with `only`, those whose attribute of that
    name is true (`by_default`, `during_training`). `registered`: the metrics, when the
    caller has them already."""
    registered = registered_metrics() if registered is None else registered
    return [
        name
        for name, metric in registered.items()
        if not missing_needs(metric, dataset) and (only is None or getattr(metric, only))
    ]


def eval_default_metrics(dataset, registered: dict[str, Metric] | None = None) -> list[str]:
    """What `ganzoo eval` computes when no metrics are named: every applicable metric but
    those that say otherwise (FD-DINOv2, whose network is a 1.2 GB download)."""
    return applicable_metrics(dataset, "by_default", registered)


def training_default_metrics(dataset, registered: dict[str, Metric] | None = None) -> list[str]:
    """Cheap by default during training: metrics that say so (mode coverage on data with
    known modes); images get sample grids only (ask for FID & co. with --eval-metrics;
    `ganzoo eval` computes them all)."""
    return applicable_metrics(dataset, "during_training", registered)


def plan_evaluation(
    dataset, settings: EvalSettings, open_reference: Callable[[str], object], for_training: bool = True
) -> EvalPlan:
    registered = registered_metrics()  # created once: the plan keeps these instances
    default = (training_default_metrics if for_training else eval_default_metrics)(dataset, registered)
    metrics = list(default if settings.metrics is None else settings.metrics)
    for name in metrics:
        if name not in registered:
            raise UnknownNameError("metric", name, registered, hint="Pass a comma-separated list of them.")
        missing = missing_needs(registered[name], dataset)
        if missing:
            possible = applicable_metrics(dataset, registered=registered)
            raise GanzooError(
                f"Metric '{name}' does not apply to data set '{dataset.name}': it needs data that "
                f"offer {', '.join(missing)}, and '{dataset.name}' offers "
                f"{', '.join(sorted(offers(dataset))) or 'nothing'}. For it, choose from: "
                f"{', '.join(possible) or 'none'}."
            )
    plan = EvalPlan(metrics, settings, dataset, {name: registered[name] for name in metrics})
    uses = {use for metric in plan.instances.values() for use in metric.uses}
    if "reference" in uses:
        plan.reference = open_reference(settings.real_split)
    if "extractor" in uses:
        plan.extractor = resolve_extractor(
            settings.extractor,
            dataset.digit_classifier,
            inception_weights=settings.inception_weights,
            data_root=settings.data_root,
        )
    if "classifier" in uses:
        if not dataset.digit_classifier:
            users = [name for name, metric in plan.instances.items() if "classifier" in metric.uses]
            raise GanzooError(
                f"Metric(s) {', '.join(users)} read a digit classifier, but data set "
                f"'{dataset.name}' names none (Dataset.digit_classifier). Leave them out."
            )
        model, info, _ = get_classifier(dataset.digit_classifier, root=settings.data_root)
        plan.classifier = (model, info)
    for metric in plan.instances.values():
        metric.prepare(plan)
    for name, metric in list(plan.instances.items()):
        reason = metric.check(plan)
        if reason is None:
            continue
        if settings.metrics is not None:
            raise GanzooError(reason)
        del plan.instances[name]  # a default that does not fit (IS with this extractor): left out
        metrics.remove(name)
    return plan


def evaluate(
    generator, dataset, step: int, picture: Path, *, seed: int, generator_kind: str, plan: EvalPlan
) -> list[dict]:
    """Compute the planned metrics at `step` and save its picture (a PNG at `picture`);
    one record per metric."""
    sample_seed = seed + EVAL_SEED_OFFSET
    shared: dict = {}  # one evaluation's common work, e.g. the feature pass FID, KID and PR share
    records = []
    for name in plan.metrics:
        metric = plan.instances[name]
        context = MetricContext(
            generator,
            dataset,
            plan,
            plan.settings.count_for(metric),
            sample_seed,
            generator_kind,
            shared,
        )
        started = time.perf_counter()
        out = _compute(name, metric, context)
        records.append(
            {
                "metric": name,
                "results": out["results"],
                "protocol": out["protocol"],
                "seconds": round(out.get("seconds", time.perf_counter() - started), 4),
                "step": step,
            }
        )
    _draw_picture(
        generator,
        dataset,
        Path(picture),
        torch.Generator(generator.device).manual_seed(sample_seed),
        f"{dataset.name}, step {step}",
        records,
        plan.settings.num_samples or plan.settings.max_samples,
    )
    return records


def _compute(name: str, metric: Metric, context: MetricContext) -> dict:
    """A metric's result, checked; a plugin's metric that fails is reported by name."""

    entry = registry("metric").get(name)
    try:
        out = metric.compute(context)
    except GanzooError:
        raise
    except Exception as exc:
        if entry.plugin in BUILTIN_PLUGINS:
            raise
        raise GanzooError(
            f"The metric '{name}' from {origin(entry)} failed: {type(exc).__name__}: {exc}. This is "
            "a bug in that plugin: report it to its authors, or leave the metric out."
        ) from None
    if (
        not isinstance(out, dict)
        or not isinstance(out.get("results"), dict)
        or not isinstance(out.get("protocol"), dict)
    ):
        raise GanzooError(
            f"The metric '{name}' from {origin(entry)} returned {type(out).__name__}; a metric "
            "returns {'results': {...}, 'protocol': {...}}. Fix the plugin's compute()."
        )
    return out


def _draw_picture(
    generator, dataset, path: Path, rng: torch.Generator, title: str, records: list[dict], num_samples: int | None
) -> None:
    """What the samples look like, chosen by their shape: a grid of images, a scatter of
    2D points (over the modes, when known), a histogram of 1D values (over the density)."""
    shape, offered = tuple(dataset.sample_shape), offers(dataset)
    if len(shape) == 3:
        sample_grid(generator, path, rng)
    elif shape == (2,):
        for record in records:  # the first mode-coverage-like result goes into the title
            results = record["results"]
            if "modes_covered" in results and "num_modes" in results and "high_quality_pct" in results:
                title += (
                    f": {results['modes_covered']}/{results['num_modes']} modes, "
                    f"{results['high_quality_pct']:.1f}% high quality"
                )
                break
        samples = generator.sample(
            min(num_samples or mc.NUM_SAMPLES, getattr(generator, "available", 2**62)), generator=rng
        )
        if "modes" in offered:
            scatter_2d(samples, dataset.centers, dataset.std, path, title)
        else:
            scatter_2d(samples, None, 0.0, path, title)
    elif shape == (1,) and "density" in offered:
        density_1d(
            generator.sample(min(20_000, getattr(generator, "available", 2**62)), generator=rng), dataset, path, title
        )
