"""Throughput of the metrics: feature extraction and FID, in images per second.

    pytest benchmarks/test_metric_speed.py --benchmark-only

Runs on the GPU when there is one (the device is in each benchmark's extra_info).
Inception uses random weights unless $GANZOO_INCEPTION_WEIGHTS or torch's hub
cache holds the real file: the cost of a forward pass does not depend on the values.
"""

import os

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.evaluation import digits
from ganzoo.evaluation.extractors import Extractor, inception_hub_path
from ganzoo.evaluation.fidelity import fidelity_metrics
from ganzoo.evaluation.frechet import fid_from_features
from ganzoo.testing import write_random_inception_weights
from ganzoo.zoo.datasets.images import ImageDataset

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(benchmark, n):
    benchmark.extra_info.update(device=str(DEVICE), images=n, images_per_s=round(n / benchmark.stats.stats.mean, 1))


def test_digit_classifier_features(benchmark):
    extractor = digits._feature_extractor_class()(
        "ganzoo-mnist-classifier", ["penultimate"], str(digits.reference_path("mnist", 0))
    ).to(DEVICE)
    images = torch.randint(0, 256, (1000, 1, 28, 28), dtype=torch.uint8, device=DEVICE)

    def run():
        with torch.no_grad():
            extractor(images)
        sync()

    benchmark(run)
    images_per_second(benchmark, len(images))


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    import torch_fidelity.feature_extractor_inceptionv3 as module

    path = os.environ.get("GANZOO_INCEPTION_WEIGHTS") or inception_hub_path()
    if not os.path.isfile(path):  # random weights in the same network: same cost
        path = write_random_inception_weights(tmp_path_factory.mktemp("inception") / "random.pth")
    return module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], str(path)).to(DEVICE)


def test_inception_features(benchmark, inception):
    n = 256 if DEVICE.type == "cuda" else 16
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, device=DEVICE)

    def run():
        with torch.no_grad():
            inception(images)
        sync()

    benchmark(run)
    images_per_second(benchmark, n)


@pytest.mark.parametrize("dims", [128, 2048])
def test_frechet_distance_from_features(benchmark, dims):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(10_000, dims)), rng.normal(size=(10_000, dims)) + 0.1
    benchmark(fid_from_features, a, b)
    benchmark.extra_info.update(feature_dims=dims, samples=10_000)


def test_fid_of_a_generator_against_cached_real_features(benchmark):
    """What an evaluation during training costs: 2,000 generated images through the digit
    classifier, against real features already cached."""
    torch.manual_seed(0)
    generator, _, _ = ganzoo.create_architecture("dcgan.test", data_shape=(1, 28, 28))
    generator.to(DEVICE)
    images = torch.randint(0, 256, (2000, 1, 28, 28), dtype=torch.uint8)
    reference = ImageDataset("random-digits", images, None, 0, "train", "random")
    path = digits.reference_path("mnist", 0)
    extractor = Extractor("ganzoo-mnist-classifier", path, digits.load_classifier(path)[1]["sha256"], False, "mnist")
    digits.register_with_torch_fidelity()

    def run():
        fidelity_metrics(
            generator,
            reference,
            ["fid"],
            extractor=extractor,
            num_samples=2000,
            real_samples=2000,
            split="train",
            seed=0,
            generator_kind="raw",
        )

    run()  # fills the real-feature cache
    benchmark(run)
    images_per_second(benchmark, 2000)
