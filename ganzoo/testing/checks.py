"""The contract check of each kind of plugin entry, and `contract_tests`, which runs them over
everything a plugin registers (see the package's docstring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganzoo.bench.suite import expand, load_suite
from ganzoo.core.config import TrainConfig
from ganzoo.core.data import Dataset
from ganzoo.core.metrics import OFFERS, PROMISES, missing_needs
from ganzoo.core.models import Discriminator, Generator
from ganzoo.core.regularization import penalties
from ganzoo.evaluation.digits import DATASETS
from ganzoo.evaluation.plan import EvalSettings, evaluate, plan_evaluation
from ganzoo.plugin.api import (
    create_architecture,
    create_augmentation,
    create_dataset,
    create_loss,
    create_metric,
    create_optimizer,
    create_regularizer,
)
from ganzoo.plugin.manager import registry, state
from ganzoo.training.resolve import resolve

BATCH = 4


def _labels(num_classes: int, n: int = BATCH):
    return torch.arange(n) % num_classes if num_classes else None


def _state(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict, module: torch.nn.Module) -> bool:
    """Whether any *parameter* moved (batch-norm statistics may move in any forward pass)."""
    return any(not torch.equal(before[k], v) for k, v in module.named_parameters())


def check_architecture(name: str, loss: str = "non-saturating", **overrides) -> None:
    """Shapes, value finiteness, one D and one G step, determinism under a seed."""
    torch.manual_seed(0)
    G, D, config = create_architecture(name, **overrides)
    assert isinstance(G, Generator) and isinstance(D, Discriminator), f"{name}: not a Generator/Discriminator pair"
    assert G.output_shape == D.input_shape, f"{name}: G makes {G.output_shape}, D reads {D.input_shape}"
    assert G.num_classes == D.num_classes == config["num_classes"], f"{name}: num_classes disagree"
    G, D = G.cpu(), D.cpu()
    labels = _labels(G.num_classes)

    # Shapes and values.
    z = G.sample_latent(BATCH, "cpu")
    assert z.shape == (BATCH, G.latent_dim), f"{name}: latent shape {tuple(z.shape)}"
    x = G(z, labels)
    assert x.shape == (BATCH, *G.output_shape), (
        f"{name}: G output {tuple(x.shape)}, expected {(BATCH, *G.output_shape)}"
    )
    assert torch.isfinite(x).all(), f"{name}: G output is not finite"
    if G.output_range is not None:
        low, high = G.output_range
        assert x.min() >= low and x.max() <= high, f"{name}: G output outside its declared range {G.output_range}"
    logits = D(x, labels)
    assert logits.shape == (BATCH,), f"{name}: D must return one logit per input, got {tuple(logits.shape)}"
    assert torch.isfinite(logits).all(), f"{name}: D output is not finite"
    assert G.sample(BATCH, labels=labels).shape == (BATCH, *G.output_shape), f"{name}: G.sample shape"

    # One discriminator step, then one generator step; each must move its own weights only.
    adversarial = create_loss(loss)
    d_opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    g_opt = torch.optim.Adam(G.parameters(), lr=1e-3)
    real = torch.randn(BATCH, *G.output_shape).clamp(-1, 1)
    g_before, d_before = _state(G), _state(D)
    with torch.no_grad():
        fake = G(G.sample_latent(BATCH, "cpu"), labels)
    d_loss = adversarial.discriminator_loss(D(real, labels), D(fake, labels))
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    assert torch.isfinite(d_loss), f"{name}: D loss not finite"
    assert _changed(d_before, D), f"{name}: a discriminator step did not change D"
    assert not _changed(g_before, G), f"{name}: a discriminator step changed G"

    d_before = _state(D)
    D.requires_grad_(False)
    fake_logits = D(G(G.sample_latent(BATCH, "cpu"), labels), labels)
    if adversarial.generator_needs_real:  # relativistic losses compare fakes with reals
        g_loss = adversarial.generator_loss(fake_logits, D(real, labels))
    else:
        g_loss = adversarial.generator_loss(fake_logits)
    own = G.penalty(0, BATCH, torch.Generator().manual_seed(0))  # the architecture's own, as the loop adds it
    if own is not None:
        assert isinstance(own, torch.Tensor) and own.dim() == 0 and torch.isfinite(own), (
            f"{name}: G.penalty must return a finite scalar tensor or None"
        )
        g_loss = g_loss + own
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    D.requires_grad_(True)
    assert torch.isfinite(g_loss), f"{name}: G loss not finite"
    assert _changed(g_before, G), f"{name}: a generator step did not change G"
    assert not _changed(d_before, D), f"{name}: a generator step changed D"

    # Determinism: the same seed gives the same weights and the same samples.
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        G2, D2, _ = create_architecture(name, **overrides)
        gen = torch.Generator().manual_seed(7)
        sample = G2.sample(BATCH, labels=labels, generator=gen)
        outputs.append((_state(G2), _state(D2), sample))
    (g1, d1, s1), (g2, d2, s2) = outputs
    assert all(torch.equal(g1[k], g2[k]) for k in g1), f"{name}: G weights differ under the same seed"
    assert all(torch.equal(d1[k], d2[k]) for k in d1), f"{name}: D weights differ under the same seed"
    assert torch.equal(s1, s2), f"{name}: samples differ under the same seed"


def _tiny_discriminator(activation: torch.nn.Module):
    """A 2-8-1 MLP and the D it is as ganzoo calls one: (x, labels) -> one logit per input."""
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Linear(2, 8), activation, torch.nn.Linear(8, 1))

    def discriminator(x, labels=None):
        return D(x).squeeze(1)

    return D, discriminator


def check_loss(name: str, **options) -> None:
    """Both players' losses are finite scalars with finite gradients, on a tiny D."""
    loss = create_loss(name, **options)
    D, discriminator = _tiny_discriminator(torch.nn.ReLU())

    real = torch.randn(BATCH, 2)
    fake = torch.randn(BATCH, 2, requires_grad=True)
    d_loss = loss.discriminator_loss(discriminator(real), discriminator(fake.detach()))
    d_loss = d_loss + penalties(loss.regularizers, discriminator, real, fake, None, None)
    assert d_loss.dim() == 0 and torch.isfinite(d_loss), f"{name}: D loss must be a finite scalar"
    d_loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in D.parameters()), f"{name}: D gradients not finite"

    g_loss = loss.generator_loss(discriminator(fake), discriminator(real))
    assert g_loss.dim() == 0 and torch.isfinite(g_loss), f"{name}: G loss must be a finite scalar"
    (grad,) = torch.autograd.grad(g_loss, fake)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0, f"{name}: G loss gives no gradient to samples"
    loss.after_discriminator_step(D)


def check_dataset(name: str, batch_size: int = BATCH, **options) -> None:
    """Batches have the declared shape; a saved position replays the same batches; every
    capability the data set offers (`Dataset.offers`) has the attributes it promises."""
    dataset = create_dataset(name, **options)
    assert isinstance(dataset, Dataset), f"{name}: not a ganzoo.core.data.Dataset"
    source = dataset.batches(batch_size, torch.device("cpu"), seed=0)
    x, labels = source.next()
    assert x.shape == (batch_size, *dataset.sample_shape), (
        f"{name}: a batch of {batch_size} has shape {tuple(x.shape)}; the data set declares sample_shape "
        f"{tuple(dataset.sample_shape)}, so a batch should be {(batch_size, *dataset.sample_shape)}"
    )
    assert (labels is None) == (dataset.num_classes == 0), f"{name}: labels iff num_classes > 0"
    saved = source.state_dict()
    first, _ = source.next()
    source.load_state_dict(saved)
    again, _ = source.next()
    assert torch.equal(first, again), f"{name}: restoring the batch position does not replay the same batch"
    offered = set(dataset.offers)
    unknown = offered - set(OFFERS)
    assert not unknown, f"{name}: offers {sorted(unknown)}, which no metric knows; known: {', '.join(OFFERS)}"
    for offer in sorted(offered):
        absent = [a for a in PROMISES[offer] if getattr(dataset, a, None) is None]
        assert not absent, f"{name}: offers '{offer}' but has no {', '.join(absent)}"
    promised: Any = dataset  # the attributes its offers promise (checked present above), which Dataset does not declare
    if "modes" in offered:
        centers, weights = promised.centers, torch.as_tensor(promised.mode_weights, dtype=torch.float64)
        assert centers.dim() == 2 and centers.shape[0] >= 1 and centers.shape[1:] == dataset.sample_shape, (
            f"{name}: centers must be (modes, *sample_shape), got {tuple(centers.shape)}"
        )
        assert float(promised.std) > 0, f"{name}: std must be positive"
        assert weights.shape == (centers.shape[0],) and abs(float(weights.sum()) - 1) < 1e-6 and (weights >= 0).all(), (
            f"{name}: mode_weights must be one probability per mode"
        )
    if "density" in offered:
        low, high = promised.span()
        assert low < high, f"{name}: span() must be (low, high) with low < high"
        pdf = promised.pdf(torch.linspace(low, high, 101, dtype=torch.float64))
        assert pdf.shape == (101,) and torch.isfinite(pdf).all() and (pdf >= 0).all(), f"{name}: pdf not a density"
    if "images" in offered:
        assert len(dataset.sample_shape) == 3, f"{name}: offers images but samples are {dataset.sample_shape}"
        images, _ = promised.get(torch.tensor([0]))
        assert len(promised) > 0 and images.dtype == torch.uint8 and images.shape == (1, *dataset.sample_shape), (
            f"{name}: get() must return uint8 images of the sample shape"
        )
    if offered & {"digit-classes", "stacked-digits"}:
        assert dataset.digit_classifier in DATASETS, (
            f"{name}: digit_classifier must be one of {DATASETS}, got {dataset.digit_classifier!r}"
        )
    if "digit-classes" in offered:
        assert promised.labels is not None and dataset.num_classes > 0, f"{name}: digit-classes needs labels"


def check_metric(
    name: str,
    data: str,
    arch: str | None = None,
    num_samples: int = 200,
    eval_options: dict | None = None,
    **data_options,
) -> list[dict]:
    """The metric applies to `data` (its needs are offered), gives finite, JSON-ready numbers
    with a protocol from a tiny untrained generator, and gives the same numbers twice.
    `arch`: an architecture for the data's shape (default: mlp.test for flat data,
    dcgan.test for images). Returns the records."""
    import json
    import math
    import tempfile

    metric = create_metric(name)
    dataset = create_dataset(data, **data_options)
    missing = missing_needs(metric, dataset)
    assert not missing, f"{name}: needs {missing}, which data set '{data}' does not offer"
    arch = arch or ("dcgan.test" if len(dataset.sample_shape) == 3 else "mlp.test")
    torch.manual_seed(0)
    G, _, _ = create_architecture(arch, data_shape=tuple(dataset.sample_shape), num_classes=0)
    # The data set itself is the real data compared with (FID & co.), on as many samples.
    settings = EvalSettings(
        **{
            "metrics": [name],
            "num_samples": num_samples,
            "real_samples": num_samples,
            "real_split": data_options.get("split", "train"),
            "data_root": data_options.get("root", ""),
            **(eval_options or {}),
        }
    )
    plan = plan_evaluation(dataset, settings, lambda split: dataset)
    runs = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(2):
            runs.append(
                evaluate(G.eval(), dataset, 0, Path(out) / "step-0.png", seed=0, generator_kind="raw", plan=plan)
            )
    records = runs[0]
    assert [r["metric"] for r in records] == [name], f"{name}: expected one record, got {records}"
    record = records[0]
    json.dumps(record)  # raises if anything is not plain JSON
    assert record["protocol"], f"{name}: the record must say how it was computed (protocol)"

    def numbers(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from numbers(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from numbers(v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield value

    assert all(math.isfinite(v) for v in numbers(record["results"])), f"{name}: non-finite results"
    assert runs[0][0]["results"] == runs[1][0]["results"], f"{name}: the same evaluation gave different results"
    return records


def check_optimizer(name: str) -> None:
    """One step at the run's kind of settings moves the weights, and only by finite amounts."""

    D, discriminator = _tiny_discriminator(torch.nn.ReLU())
    optimizer = create_optimizer(name, D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    before = _state(D)
    discriminator(torch.randn(BATCH, 2)).square().mean().backward()
    optimizer.step()
    assert _changed(before, D), f"{name}: a step did not change the weights"
    assert all(torch.isfinite(p).all() for p in D.parameters()), f"{name}: a step made the weights non-finite"


def check_regularizer(name: str, **options) -> None:
    """The penalty is a finite scalar that gives D's weights finite gradients."""
    regularizer = create_regularizer(name, **options)
    D, discriminator = _tiny_discriminator(torch.nn.Tanh())  # smooth: R1's second derivatives exist

    real, fake = torch.randn(BATCH, 2), torch.randn(BATCH, 2)
    penalty = penalties([regularizer], discriminator, real, fake, None, None)
    assert isinstance(penalty, torch.Tensor) and penalty.dim() == 0 and torch.isfinite(penalty), (
        f"{name}: the penalty must be a finite scalar tensor"
    )
    penalty.backward()
    grads = [p.grad for p in D.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads), f"{name}: no finite gradient for D's weights"


def check_augmentation(name: str, **options) -> None:
    """On a batch of images: the same shape and dtype out, finite, drawn from the given
    generator only (the same state gives the same images), and differentiable, so G's
    gradient passes through what D sees."""

    augment = create_augmentation(name, **options)
    images = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_(True)
    first = augment(images, torch.Generator().manual_seed(0))
    assert isinstance(first, torch.Tensor) and first.shape == images.shape and first.dtype == images.dtype, (
        f"{name}: an augmentation returns images of the shape and type it is given"
    )
    assert torch.isfinite(first).all(), f"{name}: augmented images must be finite"
    torch.manual_seed(123)  # a draw from the global generator instead of `rng` would change the result
    again = augment(images, torch.Generator().manual_seed(0))
    assert torch.equal(first, again), f"{name}: the same generator state must give the same images"
    first.sum().backward()
    assert images.grad is not None and torch.isfinite(images.grad).all(), (
        f"{name}: gradients must flow through the augmentation to the images"
    )


#: Flat data sets made without files, for checking a plugin's metrics when the plugin has none.
GENERATED_DATA = ("ring8", "grid25", "mixture1d")


def contract_cases(plugin: str) -> list[tuple[str, str]]:
    """(kind, name) of everything `plugin` (its entry-point name) registers that has a
    contract check: architectures' tiny `.test` variants, losses, regularisers, augmentations, optimisers,
    data sets, metrics, recipes and suites."""

    cases = []
    for kind in (
        "architecture",
        "loss",
        "regularizer",
        "augmentation",
        "optimizer",
        "dataset",
        "metric",
        "recipe",
        "suite",
    ):
        for name in registry(kind).names():
            entry = registry(kind).get(name)
            if entry.plugin == plugin and (kind != "architecture" or name.endswith(".test")):
                cases.append((kind, name))
    return cases


def check_entry(kind: str, name: str, options: dict | None = None) -> None:
    """The contract check of one registered entry. `options` go to its check, e.g. a data
    set's options, or for a metric `data` (a data set offering its needs) and that data
    set's options. A metric with no `data` is checked on each of the plugin's own data sets
    that offer its needs, else on the first of GENERATED_DATA that does."""
    import pytest

    options = dict(options or {})
    if kind == "architecture":
        check_architecture(name, **options)
    elif kind == "loss":
        check_loss(name, **options)
    elif kind == "regularizer":
        check_regularizer(name, **options)
    elif kind == "augmentation":
        check_augmentation(name, **options)
    elif kind == "optimizer":
        check_optimizer(name)
    elif kind == "dataset":
        check_dataset(name, **options)
    elif kind == "metric":
        if "data" in options:
            check_metric(name, **options)
            return
        metric, plugin = create_metric(name), registry("metric").get(name).plugin
        own = [d for d in registry("dataset").names() if registry("dataset").get(d).plugin == plugin]
        candidates = [d for d in own if not missing_needs(metric, create_dataset(d))]
        candidates = candidates or [d for d in GENERATED_DATA if not missing_needs(metric, create_dataset(d))][:1]
        if not candidates:
            pytest.skip(
                f"metric '{name}' needs {', '.join(metric.needs)}: name a data set that offers it with "
                f"options={{'{name}': {{'data': ..., ...}}}}"
            )
        for data in candidates:
            check_metric(name, data)
    elif kind == "recipe":
        check_recipe(name)
    elif kind == "suite":
        check_suite(name)
    else:
        raise ValueError(f"no contract check for kind {kind!r}")


def check_recipe(name: str) -> None:
    """A recipe resolves: the architecture, loss, data set and metrics it names are registered,
    and every value it sets is one a run accepts."""
    _check_metric_names(resolve(TrainConfig(recipe=name)), f"recipe '{name}'")


def check_suite(name: str) -> None:
    """A suite loads and expands: its names match registered entries, its keys are known, and
    every cell's configuration resolves and names registered metrics."""
    cells = expand(load_suite(name), {})
    assert cells, f"suite '{name}' has no cells"
    for cell in cells:
        cfg = resolve(TrainConfig(arch=cell.arch, loss=cell.loss, data=cell.data, seed=cell.seed, **cell.train))
        _check_metric_names(cfg, f"suite '{name}', cell {cell.id}")


def _check_metric_names(cfg: TrainConfig, what: str) -> None:
    unknown = [m for m in cfg.eval_metrics or () if m not in registry("metric").entries]
    assert not unknown, f"{what} names metrics {unknown} that no plugin registers"


def contract_tests(plugin: str, options: dict | None = None):
    """A pytest test, parametrised over everything `plugin` registers, that runs each
    entry's contract check. One line in a plugin's tests runs them all::

        test_ganzoo_contracts = ganzoo.testing.contract_tests("my-plugin")

    `options`: {entry name: options for its check} (see `check_entry`)."""
    import pytest

    cases = contract_cases(plugin)
    if not cases:
        raise AssertionError(_nothing_to_check(plugin))
    options = options or {}

    @pytest.mark.parametrize(("kind", "name"), cases, ids=[f"{kind}:{name}" for kind, name in cases])
    def test_contract(kind, name):
        check_entry(kind, name, options.get(name))

    return test_contract


def _nothing_to_check(plugin: str) -> str:
    """Why `plugin` has no contract case: it failed to load, its architectures lack a `.test`
    variant, it registers only what has no check, or no plugin has that name."""
    info = next((i for i in state().plugins if i.name == plugin), None)
    if info is not None and info.status == "failed":
        return f"plugin '{plugin}' failed to load ({info.error.rstrip('.')}); fix that first."
    untested = [n for n in registry("architecture").names() if registry("architecture").get(n).plugin == plugin]
    if untested:
        return (
            f"plugin '{plugin}' registers the architecture(s) {', '.join(untested)} without a tiny `.test` "
            "variant, which is what the contract check trains: register one, e.g. `NAME.test` with small "
            "widths (docs/plugins.md, architectures)."
        )
    if info is not None:
        return (
            f"plugin '{plugin}' registers nothing ganzoo can check: its commands and lifecycle hooks have no "
            "contract check."
        )
    return (
        f"no plugin is named '{plugin}': is it installed, and is that its entry-point name (`ganzoo list "
        "plugins`)? A package with several entry points in the `ganzoo` group is several plugins: one "
        "contract_tests line for each."
    )
