"""Evaluation during and after training: which metrics, on how many samples, how.

`plan_evaluation` checks the asked metrics against the data and locates what
they need (feature extractor weights, digit classifier) once, before any
training, so a missing file fails at the start rather than at the first
evaluation. `evaluate` then computes one record per metric at a step.

Each evaluation samples from the generator (the EMA copy when EMA is on) with
a torch generator of its own, seeded from the run's seed, so evaluating never
changes the course of training and every evaluation sees the same latent vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .data.toy1d import Density1D
from .data.toy2d import GaussianMixture2D
from .errors import GanzooError, UnknownNameError
from .metrics import class_coverage as cc
from .metrics import mode_coverage as mc
from .metrics.digits import extractor_name
from .plots import density_1d, sample_grid, scatter_2d

EVAL_SEED_OFFSET = 7_777_777
FIDELITY = ("fid", "kid", "precision-recall", "inception-score")
#: Every metric with the sample count of its standard protocol.
STANDARD_SAMPLES = {
    "mode-coverage": mc.NUM_SAMPLES,
    "fid": 10_000, "kid": 10_000, "precision-recall": 10_000, "inception-score": 10_000,
    "class-coverage": cc.CLASS_COVERAGE_SAMPLES,
    "stacked-mnist-modes": cc.STACKED_MNIST_SAMPLES,
}
METRICS = tuple(STANDARD_SAMPLES)


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


@dataclass
class EvalPlan:
    metrics: list[str]
    settings: EvalSettings
    reference: object = None  # the real data FID & co. compare with
    extractor: object = None  # metrics.extractors.Extractor, when a FID-like metric is asked
    classifier: object = None  # (model, info) of the digit classifier, for class metrics


def applicable_metrics(dataset) -> list[str]:
    """Everything that can be measured on this data (what `ganzoo eval` computes by default)."""
    if isinstance(dataset, GaussianMixture2D):
        return ["mode-coverage"]
    if len(dataset.sample_shape) != 3:
        return []
    from .metrics.extractors import DIGIT_EXTRACTOR_FOR, default_extractor
    from .metrics.fidelity import inception_score_applies

    out = ["fid", "kid", "precision-recall"]
    if inception_score_applies(default_extractor(dataset.name), dataset.name, dataset.sample_shape[0]):
        out.append("inception-score")
    if dataset.name == "stacked-mnist":
        out.append("stacked-mnist-modes")
    elif dataset.name in DIGIT_EXTRACTOR_FOR:
        out.append("class-coverage")
    return out


def training_default_metrics(dataset) -> list[str]:
    """Cheap by default during training: mode coverage on 2D mixtures; images get sample
    grids only (ask for FID & co. with --eval-metrics; `ganzoo eval` computes them all)."""
    return ["mode-coverage"] if isinstance(dataset, GaussianMixture2D) else []


def plan_evaluation(dataset, settings: EvalSettings, open_reference: Callable[[str], object],
                    for_training: bool = True) -> EvalPlan:
    default = training_default_metrics(dataset) if for_training else applicable_metrics(dataset)
    metrics = list(default if settings.metrics is None else settings.metrics)
    possible = applicable_metrics(dataset)
    for metric in metrics:
        if metric not in METRICS:
            raise UnknownNameError("metric", metric, METRICS, hint="Pass a comma-separated list of them.")
        if metric not in possible:
            raise GanzooError(f"Metric '{metric}' does not apply to data set '{dataset.name}'. "
                              f"For it, choose from: {', '.join(possible) or 'none'}.")
    plan = EvalPlan(metrics, settings)
    if any(m in FIDELITY or m == "class-coverage" for m in metrics):
        plan.reference = open_reference(settings.real_split)
    if any(m in FIDELITY for m in metrics):
        from .metrics.extractors import resolve_extractor
        from .metrics.fidelity import inception_score_applies

        plan.extractor = resolve_extractor(settings.extractor, dataset.name,
                                           inception_weights=settings.inception_weights,
                                           data_root=settings.data_root)
        if "inception-score" in metrics and not inception_score_applies(
                plan.extractor.name, dataset.name, dataset.sample_shape[0]):
            if settings.metrics is None:  # a default: drop it for this extractor
                metrics.remove("inception-score")
            else:
                raise GanzooError(f"The Inception Score needs a classifier whose classes are the data's own; "
                                  f"{plan.extractor.name} on '{dataset.name}' is not one. Leave inception-score out.")
    if "class-coverage" in metrics or "stacked-mnist-modes" in metrics:
        from .metrics.digits import get_classifier
        from .metrics.extractors import DIGIT_EXTRACTOR_FOR

        model, info, _ = get_classifier(DIGIT_EXTRACTOR_FOR[dataset.name], root=settings.data_root)
        plan.classifier = (model, info)
    return plan


def evaluate(generator, dataset, step: int, out_dir, *, seed: int, generator_kind: str,
             plan: EvalPlan) -> list[dict]:
    """Compute the planned metrics at `step` and save its picture; one record per metric."""
    sample_seed = seed + EVAL_SEED_OFFSET

    def rng():  # the same latent vectors at every evaluation, for every metric
        return torch.Generator(generator.device).manual_seed(sample_seed)

    def count(metric):
        return plan.settings.num_samples or STANDARD_SAMPLES[metric]

    picture = Path(out_dir) / "samples" / f"step-{step:08d}.png"
    common = {"generator": generator_kind, "sample_seed": sample_seed}
    records = []
    if isinstance(dataset, GaussianMixture2D):
        samples = None
        title = f"{dataset.name}, step {step}"
        if "mode-coverage" in plan.metrics:
            started = time.perf_counter()
            samples = generator.sample(count("mode-coverage"), generator=rng())
            results = mc.mode_coverage(samples, dataset.centers, dataset.std, weights=dataset.mode_weights)
            records.append({"metric": "mode-coverage", "results": results,
                            "protocol": {**mc.protocol(len(samples)), "data": dataset.describe_short(), **common},
                            "seconds": time.perf_counter() - started})
            title += (f": {results['modes_covered']}/{results['num_modes']} modes, "
                      f"{results['high_quality_pct']:.1f}% high quality")
        if samples is None:
            samples = generator.sample(mc.NUM_SAMPLES, generator=rng())
        scatter_2d(samples, dataset.centers, dataset.std, picture, title)
    elif isinstance(dataset, Density1D):
        density_1d(generator.sample(20_000, generator=rng()), dataset, picture, f"{dataset.name}, step {step}")
    elif len(dataset.sample_shape) == 3:
        sample_grid(generator, picture, rng())
        fidelity = [m for m in plan.metrics if m in FIDELITY]
        if fidelity:
            from .metrics.fidelity import MAX_REAL_SAMPLES, fidelity_metrics

            def sizes(metric):  # (generated, real) sample counts
                real = plan.settings.real_samples
                if real is None:  # precision/recall compares equal counts (Kynkaanniemi et al. 2019)
                    real = count(metric) if metric == "precision-recall" else MAX_REAL_SAMPLES
                return count(metric), min(real, len(plan.reference))

            for n, real in sorted({sizes(m) for m in fidelity}):  # one pass of features per pair of counts
                records += fidelity_metrics(
                    generator, plan.reference, [m for m in fidelity if sizes(m) == (n, real)],
                    extractor=plan.extractor, num_samples=n, real_samples=real, split=plan.settings.real_split,
                    seed=sample_seed, generator_kind=generator_kind)
        for metric in ("class-coverage", "stacked-mnist-modes"):
            if metric in plan.metrics:
                records.append(_classifier_metric(metric, generator, dataset, plan, count(metric), rng(), common))
    records.sort(key=lambda r: plan.metrics.index(r["metric"]))
    for record in records:
        record["step"] = step
        record["seconds"] = round(record["seconds"], 4)
    return records


def _classifier_metric(metric, generator, dataset, plan, num_samples, rng, common) -> dict:
    model, info = plan.classifier
    model.to(generator.device)
    started = time.perf_counter()
    stacked = metric == "stacked-mnist-modes"
    predicted, asked = cc.generated_classes(generator, model, num_samples, rng, grey=not stacked)
    classifier = {"name": extractor_name(info["dataset"]), "weights_sha256": info["sha256"],
                  "test_accuracy": info["test_accuracy"]}
    if stacked:
        results = cc.stacked_mnist_modes(predicted)
        protocol = {"mode": "digits of the R, G, B channels, each classified apart: 100*r + 10*g + b",
                    "covered": "at least one sample",
                    "kl": "KL(generated mode histogram || uniform over 1,000), nats",
                    "reference": "VEEGAN (Srivastava et al. 2017), PacGAN (Lin et al. 2018)"}
    else:
        labels = plan.reference.labels
        results = cc.class_coverage(predicted[:, 0], labels, dataset.num_classes, asked)
        protocol = {"covered": "at least one sample classified as the class",
                    "kl": "KL(generated class histogram || real class distribution), nats",
                    "real": {"data": plan.reference.name, "split": plan.settings.real_split,
                             "num_labels": len(labels)},
                    "label_agreement": "conditional generators: share classified as the label asked for"}
    return {"metric": metric, "results": results,
            "protocol": {"metric": metric, "num_samples": num_samples, "classifier": classifier,
                         "images": "uint8-quantised, as real images are", **protocol, **common},
            "seconds": time.perf_counter() - started}
