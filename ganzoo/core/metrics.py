"""The metric interface: what a metric needs from the data, and what it is handed.

A data set declares what it offers (`Dataset.offers`); a metric declares what it
needs (`Metric.needs`). A metric applies to every data set that offers all of
its needs, a third-party one included: evaluation never asks what class a data
set is or what it is called.

What a data set can offer, and the attributes that promise means:

- ``"modes"``: a mixture with known modes: ``centers`` (K x D tensor), ``std``
  (float, each mode's standard deviation) and ``mode_weights`` (K, summing to 1).
- ``"density"``: a known 1D density: ``pdf(x)`` and ``span() -> (low, high)``.
- ``"images"``: images (C x H x W) with a real split to compare with:
  ``__len__`` and ``get(index) -> (uint8 images, labels)``.
- ``"digit-classes"``: images whose classes are those of the digit classifier named
  by ``digit_classifier`` (``"mnist"``, ``"fashion-mnist"``), with ``labels``.
- ``"stacked-digits"``: each colour channel is one MNIST digit (Stacked MNIST).

What evaluation prepares for a metric before training starts (`Metric.uses`), so
a missing file fails at the start rather than at the first evaluation:

- ``"reference"``: the real split (``EvalSettings.real_split``) of the data.
- ``"extractor"``: the feature extractor (``metrics.extractors.Extractor``).
- ``"classifier"``: the digit classifier named by the data's ``digit_classifier``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from ganzoo.core.data import Dataset
from ganzoo.core.models import Generator

#: What a data set can offer, and the attributes each promises.
PROMISES = {
    "modes": ("centers", "std", "mode_weights"),
    "density": ("pdf", "span"),
    "images": ("__len__", "get"),
    "digit-classes": ("digit_classifier", "labels"),
    "stacked-digits": ("digit_classifier",),
}
OFFERS = tuple(PROMISES)
USES = ("reference", "extractor", "classifier")


class Column(NamedTuple):
    """One column of the report's tables: a result key of the metric, its label, the decimals
    shown, and which way is better (+1 higher, -1 lower, 0 neither)."""

    key: str
    label: str
    decimals: int
    better: int


class Curve(NamedTuple):
    """One curve of the report's figures over training steps: a result key and its axis label."""

    key: str
    label: str


def declaration_problems(metric) -> list[str]:
    """What is wrong with a metric's declarations (its class attributes): `needs`, `uses`,
    `columns` and `curves`; [] when nothing is. Checked when a plugin registers a metric class
    and when a factory first makes one."""
    problems = []
    needs, uses = tuple(getattr(metric, "needs", ())), tuple(getattr(metric, "uses", ()))
    if unknown := [n for n in needs if n not in OFFERS]:
        problems.append(f"needs {unknown}, which no data set can offer (one of {', '.join(OFFERS)})")
    if unknown := [u for u in uses if u not in USES]:
        problems.append(f"uses {unknown}, which evaluation does not prepare (one of {', '.join(USES)})")
    for column in getattr(metric, "columns", ()):
        if not (
            isinstance(column, tuple)
            and len(column) == 4
            and isinstance(column[0], str)
            and isinstance(column[1], str)
            and isinstance(column[2], int)
            and column[3] in (-1, 0, 1)
        ):
            problems.append(f"has the column {column!r}, not a Column(key, label, decimals, better: +1, -1 or 0)")
    for curve in getattr(metric, "curves", ()):
        if not (isinstance(curve, tuple) and len(curve) == 2 and all(isinstance(c, str) for c in curve)):
            problems.append(f"has the curve {curve!r}, not a Curve(key, label)")
    return problems


class Metric:
    """A metric: `compute(context)` returns ``{"results": {...}, "protocol": {...}}``
    (plain numbers, and how they were computed); evaluation adds the metric's name,
    the step and the seconds it took, and writes one JSON line."""

    name = ""  # set from the registered name when the metric is created
    needs: tuple[str, ...] = ()  # what the data set must offer (see OFFERS)
    uses: tuple[str, ...] = ()  # what evaluation prepares before training (see USES)
    num_samples: int = 10_000  # generated samples in the metric's standard protocol
    during_training: bool = False  # computed at each evaluation by default during training
    by_default: bool = True  # computed by `ganzoo eval` when no metrics are named
    #: The report's table columns: Column(result key, label, decimals, better: +1 higher, -1 lower, 0 neither).
    columns: tuple[Column, ...] = ()
    #: The report's curves over training steps: Curve(result key, axis label).
    curves: tuple[Curve, ...] = ()
    #: The step on which a result is recorded (1 for a count): the verdict engine's tie rule
    #: floors a standard deviation at resolution / sqrt(12). Default: 10 ** -decimals.
    resolutions: dict[str, float] = {}
    #: The change in a result that matters (a number, or "5%" of its level): the convergence
    #: rule's margin where no papers file declares one for the data set.
    margins: dict[str, float | str] = {}

    def prepare(self, plan) -> None:
        """Locate what only this metric needs (its own network's weights, say), before
        training starts; raise a GanzooError saying how to get what is missing."""

    def check(self, plan) -> str | None:
        """Why the metric does not apply once the plan's resources are known (None: it
        applies). The Inception Score, for one, needs a classifier of the data's classes."""
        return None

    def compute(self, context: MetricContext) -> dict:
        raise NotImplementedError


@dataclass
class MetricContext:
    """What a metric is handed at one evaluation."""

    generator: Generator  # the generator evaluated (the EMA copy when EMA is on)
    dataset: Dataset  # the training data set, with the attributes its offers promise (PROMISES)
    # evaluation.plan.EvalPlan: settings, reference, extractor, classifier. Any, not object: a metric reads
    # its attributes, and core, below evaluation, cannot name the class (a metric may annotate it so).
    plan: Any
    num_samples: int  # generated samples to use (the standard count unless the user chose one)
    sample_seed: int  # the seed of the latent vectors; the same at every evaluation
    generator_kind: str  # "raw" or "ema"
    shared: dict = field(default_factory=dict)  # for metrics computed together (one feature pass)

    def rng(self) -> torch.Generator:
        """A fresh torch generator at the evaluation's seed: every metric, at every
        evaluation, sees the same latent vectors."""
        return torch.Generator(self.generator.device).manual_seed(self.sample_seed)

    def sample(self, n: int | None = None) -> torch.Tensor:
        return self.generator.sample(self.num_samples if n is None else n, generator=self.rng())

    def common_protocol(self) -> dict:
        return {"generator": self.generator_kind, "sample_seed": self.sample_seed}


def offers(dataset) -> frozenset[str]:
    return frozenset(getattr(dataset, "offers", ()))


def missing_needs(metric: Metric, dataset) -> list[str]:
    return [need for need in metric.needs if need not in offers(dataset)]
