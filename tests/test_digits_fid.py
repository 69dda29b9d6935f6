"""The offline digit-classifier feature extractor, and torch-fidelity's FID
checked against the independent NumPy/SciPy Fréchet distance."""

import hashlib
import json

import pytest
import torch
from conftest import need_data_root

import ganzoo
from ganzoo.evaluation import digits
from ganzoo.evaluation.frechet import fid_from_features


class Images(torch.utils.data.Dataset):
    """uint8 images as torch-fidelity reads them."""

    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


@pytest.fixture(scope="module")
def quick_classifier(tmp_path_factory):
    """A classifier trained on 3,840 images for one epoch: enough to test the plumbing fast."""
    root = need_data_root()
    cache = tmp_path_factory.mktemp("cache")
    path = cache / "classifiers" / "mnist-quick.pt"
    model, info = digits.train_classifier("mnist", root=str(root), seed=0, epochs=1, max_train=3840, path=path)
    return root, path, model, info


def torch_fidelity_fid(path, images1, images2):
    import torch_fidelity

    digits.register_with_torch_fidelity()
    return torch_fidelity.calculate_metrics(
        input1=Images(images1),
        input2=Images(images2),
        fid=True,
        cuda=False,
        batch_size=500,
        feature_extractor=digits.extractor_name("mnist"),
        feature_extractor_weights_path=str(path),
        save_cpu_ram=True,
        cache=False,
        verbose=False,
    )["frechet_inception_distance"]


@pytest.mark.slow
def test_classifier_is_recorded_with_its_hash_and_accuracy(quick_classifier):
    _, path, _, info = quick_classifier
    record = json.loads(path.with_suffix(".json").read_text())
    assert record == info and record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["train_images"] == 3840 and record["test_images"] == 10_000 and record["seed"] == 0
    assert record["test_accuracy"] > 0.9  # one short epoch; the cached full one is held to 99%
    model, loaded = digits.load_classifier(path)
    assert loaded == record


def test_a_tampered_classifier_is_refused(quick_classifier, tmp_path):
    _, path, _, _ = quick_classifier
    copy = tmp_path / "c.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights
    copy.write_bytes(bytes(data))
    copy.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(ganzoo.GanzooError, match="does not match its record"):
        digits.load_classifier(copy)


@pytest.mark.slow
def test_training_is_seeded(quick_classifier, tmp_path):
    root, path, _, info = quick_classifier
    _, again = digits.train_classifier(
        "mnist", root=str(root), seed=0, epochs=1, max_train=3840, path=tmp_path / "again.pt"
    )
    assert again["sha256"] == info["sha256"]


@pytest.mark.slow
def test_torch_fidelity_fid_agrees_with_the_independent_computation(quick_classifier):
    root, path, model, _ = quick_classifier
    test = ganzoo.create_dataset("mnist", root=str(root), split="test", download=False)
    a, b = test.images[:1000], test.images[1000:2000]
    fid = torch_fidelity_fid(path, a, b)
    with torch.no_grad():
        fa = model.features(digits.to_classifier_input(a))[0].double().numpy()
        fb = model.features(digits.to_classifier_input(b))[0].double().numpy()
    assert fid == pytest.approx(fid_from_features(fa, fb), rel=1e-3)


@pytest.mark.slow
def test_fid_orders_near_and_far_data(quick_classifier):
    root, path, _, _ = quick_classifier
    train = ganzoo.create_dataset("mnist", root=str(root), split="train", download=False)
    test = ganzoo.create_dataset("mnist", root=str(root), split="test", download=False)
    fashion = ganzoo.create_dataset("fashion-mnist", root=str(root), split="test", download=False)
    noise = torch.randint(0, 256, (1000, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    reference = train.images[:1000]
    same = torch_fidelity_fid(path, reference, test.images[:1000])
    to_fashion = torch_fidelity_fid(path, reference, fashion.images[:1000])
    to_noise = torch_fidelity_fid(path, reference, noise)
    assert same * 10 < to_fashion and same * 10 < to_noise, (same, to_fashion, to_noise)


def test_extractor_refuses_colour_images():
    with pytest.raises(ganzoo.GanzooError, match="1-channel images"):
        digits.to_classifier_input(torch.zeros(2, 3, 28, 28, dtype=torch.uint8))


def test_an_underperforming_classifier_is_refused(quick_classifier, tmp_path, monkeypatch):
    _, path, _, info = quick_classifier
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path))
    cached = digits.classifier_path("mnist", 1)  # seed 1: no shipped reference takes precedence
    cached.parent.mkdir(parents=True)
    cached.write_bytes(path.read_bytes())
    cached.with_suffix(".json").write_text(json.dumps({**info, "test_accuracy": 0.97}))
    with pytest.raises(ganzoo.GanzooError, match="97.00% test accuracy, below the 99%"):
        digits.get_classifier("mnist", seed=1)
