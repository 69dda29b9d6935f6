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

import torch

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
    #: The report's table columns: (result key, label, decimals, better: +1 higher, -1 lower, 0 neither).
    columns: tuple[tuple[str, str, int, int], ...] = ()
    #: The report's curves over training steps: (result key, axis label).
    curves: tuple[tuple[str, str], ...] = ()
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

    generator: torch.nn.Module  # the generator evaluated (the EMA copy when EMA is on)
    dataset: object  # the training data set
    plan: object  # evaluation.EvalPlan: settings, reference, extractor, classifier
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
