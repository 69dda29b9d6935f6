"""FID & co. through torch-fidelity on generators, the Inception path, the real-feature
cache, image mode and class coverage, and `ganzoo eval`."""

import json
import math

import pytest
import torch
from conftest import need_data_root, run_cli
from torch import nn

import ganzoo
from ganzoo.core.data import to_float, to_uint8
from ganzoo.core.models import Generator
from ganzoo.evaluation import class_coverage as cc
from ganzoo.evaluation import digits
from ganzoo.evaluation.extractors import Extractor, resolve_extractor
from ganzoo.evaluation.fidelity import (
    cached_files,
    extract_features,
    fidelity_metrics,
    real_cache_key,
    reference_indices,
)
from ganzoo.evaluation.frechet import fid_from_features
from ganzoo.evaluation.plan import EvalSettings, evaluate, plan_evaluation
from ganzoo.testing import write_file_that_runs_code as crafted_file
from ganzoo.testing import write_random_inception_weights
from ganzoo.training.opening import open_reference
from ganzoo.util.files import file_sha256, read_jsonl


class Replay(Generator):
    """A stand-in generator that returns real images: the `fixed` one always (a collapsed
    generator), else one of the asked class (conditional), else one picked by z."""

    output_range = (-1.0, 1.0)

    def __init__(self, images, labels=None, num_classes=0, fixed=None):
        super().__init__(4, tuple(images.shape[1:]), num_classes)
        self.images, self.labels, self.fixed = to_float(images), labels, fixed
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the module a device

    def forward(self, z, labels=None):
        if self.fixed is not None:
            return self.images[self.fixed].expand(len(z), *self.output_shape)
        pick = (z[:, 0].abs() * 1e6).long() % len(self.images)
        if labels is not None:  # the pick-th image of the asked class
            pools = [torch.nonzero(self.labels == c).flatten() for c in range(self.num_classes)]
            pick = torch.stack([pools[int(c)][int(p) % len(pools[int(c)])] for c, p in zip(labels, pick)])
        return self.images[pick]


@pytest.fixture(scope="module")
def mnist():
    root = need_data_root()
    return root, ganzoo.create_dataset("mnist", root=str(root), split="test", download=False)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A dcgan.test run on MNIST, 2 steps: a real checkpoint to evaluate."""
    root = need_data_root()
    out = tmp_path_factory.mktemp("run") / "dcgan"
    ganzoo.train(
        ganzoo.TrainConfig(
            arch="dcgan.test", data="mnist", steps=2, batch_size=16, device="cpu", data_root=str(root), eval_every=1
        ),
        out,
        progress=False,
    )
    return root, out


def mnist_extractor():
    return resolve_extractor("auto", "mnist")


def test_the_reference_classifiers_ship_and_meet_their_accuracy():
    for dataset in digits.DATASETS:
        model, info, path = digits.get_classifier(dataset)
        assert path == digits.reference_path(dataset, 0)
        assert info["test_accuracy"] >= digits.REQUIRED_ACCURACY[dataset]
        assert info["train_images"] == 60_000 and info["test_images"] == 10_000
        assert file_sha256(path) == info["sha256"]


def test_generator_fid_agrees_with_the_independent_computation(mnist):
    _, test_set = mnist
    torch.manual_seed(0)
    generator, _, _ = ganzoo.create_architecture("dcgan.test", data_shape=(1, 28, 28))
    extractor = mnist_extractor()
    [record] = fidelity_metrics(
        generator,
        test_set,
        ["fid"],
        extractor=extractor,
        num_samples=500,
        real_samples=400,
        split="test",
        seed=5,
        generator_kind="raw",
    )
    # The same samples by hand: the wrapper draws batch by batch from one seeded generator.
    rng = torch.Generator().manual_seed(5)
    fakes = torch.cat([to_uint8(generator.sample(250, generator=rng)) for _ in range(2)])
    model, _ = digits.load_classifier(extractor.weights_path)
    with torch.no_grad():
        f_fake = model.features(digits.to_classifier_input(fakes))[0].double().numpy()
        real = test_set.images[reference_indices(len(test_set), 400)]
        f_real = model.features(digits.to_classifier_input(real))[0].double().numpy()
    assert record["results"]["fid"] == pytest.approx(fid_from_features(f_fake, f_real), rel=1e-3)
    protocol = record["protocol"]
    assert protocol["generated"]["num_samples"] == 500 and protocol["generated"]["seed"] == 5
    assert protocol["real"]["num_samples"] == 400 and protocol["real"]["split"] == "test"
    assert protocol["extractor"]["weights_sha256"] == extractor.weights_sha256
    assert protocol["torch_fidelity"] == __import__("torch_fidelity").__version__


def test_the_real_reference_is_a_fixed_random_subset_not_the_first_images():
    small, large = reference_indices(10_000, 400), reference_indices(10_000, 2_000)
    assert torch.equal(small, reference_indices(10_000, 400))  # every run compares with the same images
    assert torch.equal(large[:400], small)  # asking for more adds images, keeps the others
    assert len(set(large.tolist())) == 2_000 and 0 <= int(large.min()) and int(large.max()) < 10_000
    # MNIST's test split holds its cleaner SD-3 digits first: the first 5,000 are no sample of it.
    assert (small < 5_000).float().mean().item() == pytest.approx(0.5, abs=0.08)
    assert sorted(reference_indices(50, 50).tolist()) == list(range(50))


def _retrained_copy(extractor, tmp_path) -> Extractor:
    """The same classifier with its feature layer scaled: other features, other hash."""
    model, info = digits.load_classifier(extractor.weights_path)
    model.body[-2].weight.data *= 1.5  # the penultimate Linear
    path = tmp_path / "other.pt"
    torch.save(model.state_dict(), path)
    info = {**info, "sha256": file_sha256(path)}
    path.with_suffix(".json").write_text(json.dumps(info))
    return Extractor(extractor.name, path, info["sha256"], False, "mnist", info)


@pytest.mark.slow
def test_real_features_are_cached_under_the_weights_hash(mnist, tmp_path):
    _, test_set = mnist
    generator = Replay(test_set.images[5000:5300])
    first = mnist_extractor()
    other = _retrained_copy(first, tmp_path)
    key_first = real_cache_key(test_set, "test", 300, first)
    key_other = real_cache_key(test_set, "test", 300, other)
    assert first.weights_sha256[:16] in key_first and key_first != key_other

    def kid(extractor):
        [record] = fidelity_metrics(
            generator,
            test_set,
            ["kid"],
            extractor=extractor,
            num_samples=300,
            real_samples=300,
            split="test",
            seed=0,
            generator_kind="raw",
        )
        return record["results"]["kid_mean"]

    a = kid(first)
    assert cached_files(key_first) and not cached_files(key_other)
    b = kid(other)
    assert cached_files(key_other) and a != b
    # A cache file left half-written by a crash is dropped and recomputed.
    cached_files(key_first)[0].write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="dropped and computed again"):
        assert kid(first) == pytest.approx(a, rel=1e-9)
    # So is one swapped for a file that would run code, which never runs.
    marker = tmp_path / "ran"
    crafted_file(cached_files(key_first)[0], marker)
    with pytest.warns(UserWarning, match="could not be read safely"):
        assert kid(first) == pytest.approx(a, rel=1e-9)
    assert not marker.exists()


def test_kid_with_every_sample_in_its_one_subset_is_the_unbiased_mmd(mnist):
    """1,000 against 1,000 (here 300 against 300): every 'subset' holds all samples, so one
    is computed; its value is the unbiased MMD^2 of the cubic kernel, computed here by hand."""
    _, test_set = mnist
    extractor = mnist_extractor()
    generator = Replay(test_set.images[5000:5300])
    [record] = fidelity_metrics(
        generator,
        test_set,
        ["kid"],
        extractor=extractor,
        num_samples=300,
        real_samples=300,
        split="test",
        seed=0,
        generator_kind="raw",
    )
    assert record["protocol"]["subsets"] == 1 and record["results"]["kid_std"] == 0
    fake = extract_features(extractor, "kid", generator=generator, num_samples=300, seed=0).double()
    real = extract_features(extractor, "kid", reference=test_set, real_samples=300).double()
    kernel = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3  # noqa: E731
    m = 300
    within = sum((kernel(x, x).sum() - kernel(x, x).diag().sum()) / (m * (m - 1)) for x in (fake, real))
    mmd = within - 2 * kernel(fake, real).mean()
    assert record["results"]["kid_mean"] == pytest.approx(mmd.item(), rel=1e-4)


def test_fid_kid_and_precision_recall_tell_real_from_collapsed(mnist):
    _, test_set = mnist
    extractor = mnist_extractor()

    def measure(generator):
        records = fidelity_metrics(
            generator,
            test_set,
            ["fid", "kid", "precision-recall"],
            extractor=extractor,
            num_samples=400,
            real_samples=400,
            split="test",
            seed=0,
            generator_kind="raw",
        )
        return {r["metric"]: r["results"] for r in records}

    real_like = measure(Replay(test_set.images[5000:6000]))  # real images, mostly not the reference's
    collapsed = measure(Replay(test_set.images[:10], fixed=3))
    assert real_like["fid"]["fid"] * 10 < collapsed["fid"]["fid"]
    assert real_like["kid"]["kid_mean"] < 0.1 * collapsed["kid"]["kid_mean"]
    assert real_like["precision-recall"]["recall"] > 0.5 > collapsed["precision-recall"]["recall"]


@pytest.mark.slow
def test_inception_path_end_to_end_with_a_local_weights_file(trained_run, tmp_path):
    _, run = trained_run
    weights = write_random_inception_weights(tmp_path / "inception-random.pth")
    result = run_cli(
        "eval",
        str(run),
        "--extractor",
        "inception-v3-compat",
        "--inception-weights",
        str(weights),
        "--eval-metrics",
        "fid,kid",
        "--eval-samples",
        "12",
        "--eval-real-samples",
        "12",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["metric"] for r in records] == ["fid", "kid"]
    for record in records:
        assert record["protocol"]["extractor"]["name"] == "inception-v3-compat"
        assert record["protocol"]["extractor"]["weights_sha256"] == file_sha256(weights)
        assert record["protocol"]["images"] == "uint8, grey repeated to RGB"
        assert all(math.isfinite(v) for v in record["results"].values())
    assert records[0]["protocol"]["layer"] == "2048"


def test_missing_inception_weights_say_how_to_get_them(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ganzoo.GanzooError) as error:
        resolve_extractor("inception-v3-compat", "cifar10")
    message = str(error.value)
    assert "--inception-weights PATH" in message and "network unreachable" in message
    assert "weights-inception-2015-12-05-6726825d.pth" in message and str(tmp_path / "hub") in message
    # A hub cache copy is used without a download.
    hub_copy = tmp_path / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    hub_copy.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"conv.weight": torch.zeros(1)}, hub_copy)
    assert resolve_extractor("inception-v3-compat", "cifar10").weights_path == hub_copy


@pytest.mark.slow
def test_eval_cli_rejects_a_missing_weights_file_without_traceback(trained_run, tmp_path):
    _, run = trained_run
    result = run_cli(
        "eval", str(run), "--extractor", "inception-v3-compat", "--inception-weights", str(tmp_path / "nope.pth")
    )
    assert result.returncode == 2
    assert "no such file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_eval_cli_computes_every_metric_and_records_its_protocol(trained_run):
    _, run = trained_run
    before = len(read_jsonl(run / "metrics.jsonl"))
    result = run_cli("eval", str(run), "--eval-samples", "200", "--eval-real-samples", "300")
    assert result.returncode == 0, result.stderr
    records = read_jsonl(run / "metrics.jsonl")[before:]
    assert [r["metric"] for r in records] == [
        "fid",
        "kid",
        "precision-recall",
        "inception-score",
        "density-coverage",
        "class-coverage",
    ]
    reference_sha = digits.get_classifier("mnist")[1]["sha256"]
    for record in records:
        assert record["step"] == 2 and record["source"] == "ganzoo eval"
        protocol = record["protocol"]
        assert protocol["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # the run's, by default
        if record["metric"] == "class-coverage":
            assert protocol["classifier"]["weights_sha256"] == reference_sha and protocol["num_samples"] == 200
        elif record["metric"] == "density-coverage":
            assert protocol["extractor"]["weights_sha256"] == reference_sha and protocol["nearest_k"] == 5
            assert protocol["generated"]["num_samples"] == 200 and protocol["real"]["num_samples"] == 300
        else:
            assert protocol["extractor"]["weights_sha256"] == reference_sha
            assert protocol["generated"]["num_samples"] == 200 and protocol["real"]["num_samples"] == 300
            assert protocol["real"]["split"] == "train" and protocol["torch_fidelity"]
    assert "fid: fid=" in result.stdout


def test_training_evaluates_fid_at_its_interval(tmp_path):
    root = need_data_root()
    cfg = ganzoo.TrainConfig(
        arch="dcgan.test",
        data="fashion-mnist",
        steps=4,
        batch_size=16,
        eval_every=2,
        device="cpu",
        data_root=str(root),
        eval_metrics=["fid", "class-coverage"],
        eval_samples=100,
        eval_real_samples=100,
    )
    ganzoo.train(cfg, tmp_path / "run", progress=False)
    records = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [(r["step"], r["metric"]) for r in records] == [(s, m) for s in (0, 2, 4) for m in ("fid", "class-coverage")]
    assert records[0]["protocol"]["extractor"]["name"] == "ganzoo-fashion-mnist-classifier"


@pytest.mark.parametrize(
    "metrics, data, message",
    [
        (["fidd"], "mnist", "Did you mean: fid"),
        (["fid"], "ring8", "does not apply to data set 'ring8'"),
        (["mode-coverage"], "mnist", "does not apply to data set 'mnist'"),
        (["stacked-mnist-modes"], "mnist", "does not apply"),
    ],
)
def test_metrics_that_do_not_fit_fail_before_training(metrics, data, message, tmp_path):
    root = need_data_root()
    cfg = ganzoo.TrainConfig(
        arch="mlp.test", data=data, steps=2, batch_size=16, device="cpu", data_root=str(root), eval_metrics=metrics
    )
    with pytest.raises(ganzoo.GanzooError, match=message):
        ganzoo.train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_stacked_mnist_counting_on_real_triples_covers_every_mode():
    root = need_data_root()
    stacked = ganzoo.create_dataset("stacked-mnist", root=str(root), split="test", download=False)
    _, triples = stacked.get(torch.arange(cc.STACKED_MNIST_SAMPLES))
    digit_triples = torch.stack([triples // 100, triples // 10 % 10, triples % 10], 1)
    result = cc.stacked_mnist_modes(digit_triples)
    # 26 samples per mode on average: every mode is hit; KL is sampling noise, about (K-1)/2N = 0.019.
    assert result["modes_covered"] == 1000 and result["kl_uniform"] < 0.03
    # The classifier reads the triples back: the metric on real data is this count.
    model, _, _ = digits.get_classifier("mnist")
    images, labels = stacked.get(torch.arange(1500))
    predicted = cc.classify_channels(model, images)
    assert (predicted == digit_triples[:1500]).all(1).float().mean() > 0.97


def test_the_inference_classifier_gives_the_classifiers_classes():
    """Folded batch norm and channels-last memory (for speed) change no class and the logits
    only by float rounding."""
    root = need_data_root()
    model, _, _ = digits.get_classifier("mnist")
    test_set = ganzoo.create_dataset("mnist", root=str(root), split="test", download=False)
    images = digits.to_classifier_input(test_set.images[:1000])
    with torch.no_grad():
        plain = model.eval()(images)
        fast = digits.inference_classifier(model)(images.contiguous(memory_format=torch.channels_last))
    assert torch.equal(plain.argmax(1), fast.argmax(1))
    assert torch.allclose(plain, fast, atol=1e-3)


def _plan(dataset, metrics, root, samples, real_split="train"):
    cfg = ganzoo.TrainConfig(data=dataset.name, data_root=str(root))
    settings = EvalSettings(metrics=metrics, num_samples=samples, data_root=str(root), real_split=real_split)
    return plan_evaluation(dataset, settings, lambda split: open_reference(cfg, dataset, split))


def test_a_collapsed_generator_covers_one_stacked_mode(tmp_path):
    root = need_data_root()
    stacked = ganzoo.create_dataset("stacked-mnist", root=str(root), split="test", size=100, download=False)
    images, _ = stacked.get(torch.arange(10))
    [record] = evaluate(
        Replay(images, fixed=0),
        stacked,
        7,
        tmp_path / "step-7.png",
        seed=0,
        generator_kind="raw",
        plan=_plan(stacked, ["stacked-mnist-modes"], root, 300),
    )
    assert record["results"]["modes_covered"] == 1
    assert record["results"]["kl_uniform"] == pytest.approx(math.log(1000))
    assert record["protocol"]["num_samples"] == 300 and record["step"] == 7


def test_class_coverage_of_real_collapsed_and_conditional_generators(mnist, tmp_path):
    root, test_set = mnist
    plan = _plan(test_set, ["class-coverage"], root, 1000, real_split="test")  # the test split's classes

    def coverage(generator):
        [record] = evaluate(generator, test_set, 0, tmp_path / "step-0.png", seed=0, generator_kind="raw", plan=plan)
        return record["results"]

    real = coverage(Replay(test_set.images[:5000]))
    assert real["classes_covered"] == 10 and real["kl_real"] < 0.02 and "label_agreement" not in real
    collapsed = coverage(Replay(test_set.images[:10], fixed=0))
    assert collapsed["classes_covered"] == 1 and collapsed["histogram"][int(test_set.labels[0])] == 1.0
    conditional = coverage(Replay(test_set.images[:5000], test_set.labels[:5000], num_classes=10))
    assert conditional["label_agreement"] > 0.98 and conditional["classes_covered"] == 10
