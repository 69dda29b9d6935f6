"""Image data sets, the image architectures in the training loop, packing and conditioning."""

import gzip
import shutil

import pytest
import torch
from conftest import need_data_root, run_cli

import ganzoo
import ganzoo.zoo.datasets.images as images
from ganzoo import TrainConfig, train
from ganzoo.util.files import load_checkpoint, read_jsonl


@pytest.fixture
def mnist_root():
    return need_data_root()


def test_mnist_from_the_shared_idx_gz_layout(mnist_root):
    test = ganzoo.create_dataset("mnist", root=str(mnist_root), split="test", download=False)
    assert test.images.dtype == torch.uint8 and test.images.shape == (10_000, 1, 28, 28)
    assert test.num_classes == 10 and torch.bincount(test.labels).tolist()[:2] == [980, 1135]
    fashion = ganzoo.create_dataset("fashion-mnist", root=str(mnist_root), split="test", download=False)
    assert fashion.images.shape == (10_000, 1, 28, 28) and not torch.equal(fashion.images, test.images)


def test_torchvision_layout_and_uncompressed_files_are_accepted(mnist_root, tmp_path):
    raw = tmp_path / "MNIST" / "raw"  # where torchvision's download puts them
    raw.mkdir(parents=True)
    for stem in images.IDX_FILES["test"]:
        (raw / stem).write_bytes(gzip.decompress((mnist_root / "mnist" / f"{stem}.gz").read_bytes()))
    data = ganzoo.create_dataset("mnist", root=str(tmp_path), split="test", download=False)
    assert len(data) == 10_000 and data.source == str(raw.resolve())


def test_content_is_checked_not_the_archive(mnist_root, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem in images.IDX_FILES["test"]:
        shutil.copy(mnist_root / "mnist" / f"{stem}.gz", folder)
    # Re-compressing changes the archive but not the content: still accepted.
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1))
    assert len(ganzoo.create_dataset("mnist", root=str(tmp_path), split="test", download=False)) == 10_000
    # A changed byte in the content is refused.
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[100] ^= 1
    path.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(ganzoo.GanzooError, match="does not hold the expected data.*download it again"):
        ganzoo.create_dataset("mnist", root=str(tmp_path), split="test", download=False)


def test_missing_data_says_where_to_put_which_files(tmp_path, monkeypatch):
    with pytest.raises(
        ganzoo.GanzooError,
        match=r"was not found, and downloading is off.*"
        r"train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz.*--data-root",
    ):
        ganzoo.create_dataset("mnist", root=str(tmp_path), download=False)

    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    with pytest.raises(
        ganzoo.GanzooError,
        match=r"the download failed \(RuntimeError: Error downloading.*" + str(tmp_path / "fashion-mnist"),
    ):
        ganzoo.create_dataset("fashion-mnist", root=str(tmp_path))


def test_missing_data_from_the_command_line(tmp_path):
    result = run_cli(
        "train",
        "--arch",
        "dcgan",
        "--data",
        "mnist",
        "--data-root",
        str(tmp_path),
        "--data-opt",
        "download=False",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Put the files train-images-idx3-ubyte.gz" in result.stderr


def test_resolution_and_channels(mnist_root):
    data = ganzoo.create_dataset("mnist", root=str(mnist_root), split="test", resolution=32, channels=3, download=False)
    assert data.sample_shape == (3, 32, 32) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], data.images[:, 2])
    x, labels = data.batches(16, torch.device("cpu"), seed=0).next()
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1 and labels.shape == (16,)


def test_stacked_mnist_is_three_digits_with_a_triple_label(mnist_root):
    mnist = ganzoo.create_dataset("mnist", root=str(mnist_root), split="test", download=False)
    stacked = ganzoo.create_dataset("stacked-mnist", root=str(mnist_root), split="test", size=500, download=False)
    assert stacked.sample_shape == (3, 28, 28) and stacked.num_classes == 1000 and len(stacked) == 500
    x, label = stacked.get(torch.arange(5))
    for i in range(5):
        triple = stacked.triples[i]
        for channel in range(3):
            assert torch.equal(x[i, channel], mnist.images[triple[channel], 0])
        digits = mnist.labels[triple].tolist()
        assert label[i].item() == digits[0] * 100 + digits[1] * 10 + digits[2]


def test_image_folder(image_dir):
    data = ganzoo.create_dataset("image-folder", path=str(image_dir), resolution=16)
    assert data.images.shape == (12, 3, 16, 16) and data.num_classes == 0
    grey = ganzoo.create_dataset("image-folder", path=str(image_dir), resolution=8, channels=1)
    assert grey.sample_shape == (1, 8, 8)
    with pytest.raises(ganzoo.GanzooError, match="needs a folder"):
        ganzoo.create_dataset("image-folder")
    (image_dir / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ganzoo.GanzooError, match="cannot read .*broken.png"):
        ganzoo.create_dataset("image-folder", path=str(image_dir))


def test_batches_resume_mid_epoch(image_dir):
    data = ganzoo.create_dataset("image-folder", path=str(image_dir), resolution=8)
    source = data.batches(5, torch.device("cpu"), seed=1)
    for _ in range(3):  # into the second epoch (12 images, batches of 5, ragged end dropped)
        source.next()
    saved = source.state_dict()
    expected = [source.next()[0] for _ in range(3)]
    source.load_state_dict(saved)
    assert all(torch.equal(a, source.next()[0]) for a in expected)


IMAGE_ARCHS = {  # tiny variant -> data options that fit it
    "dcgan.test": {},
    "dcgan-28.test": {},
    "dcgan-32.test": {"resolution": 32, "channels": 3},
    "dcgan-64.test": {"resolution": 64},
    "sngan-resnet.test": {"resolution": 32, "channels": 3},
    "wgan-gp-resnet.test": {"resolution": 32},
    "sngan-projection.test": {"resolution": 32},
    "r3gan.test": {"resolution": 32},
}


def test_every_image_architecture_is_covered():
    modules = {f"ganzoo.zoo.architectures.{name}" for name in ("dcgan", "resnet", "r3gan")}
    image_archs = {
        n
        for n in ganzoo.list_architectures("*.test")
        if ganzoo.plugin.manager.registry("architecture").get(n).plugin in modules
    }
    assert image_archs == set(IMAGE_ARCHS)


@pytest.mark.parametrize("arch", sorted(IMAGE_ARCHS))
def test_image_architecture_trains_on_mnist(arch, mnist_root, tmp_path):
    loss = (
        "wgan-gp"
        if arch.startswith("wgan")
        else "hinge"
        if arch.startswith("sngan")
        else "rpgan"
        if arch.startswith("r3gan")
        else "non-saturating"
    )
    config = TrainConfig(
        arch=arch,
        loss=loss,
        data="mnist",
        data_root=str(mnist_root),
        steps=2,
        n_d=1,
        data_options={"split": "test", "download": False, **IMAGE_ARCHS[arch]},
        ema_decay=0.5,
        eval_every=2,
        device="cpu",
    )
    train(config, tmp_path / "run", progress=False)
    grid = tmp_path / "run" / "samples" / "step-00000002.png"
    from PIL import Image

    with Image.open(grid) as picture:
        width, height = picture.size
    side = IMAGE_ARCHS[arch].get("resolution", 28) + 2
    rows = 10 if arch.startswith("sngan-projection") else 8  # conditional: one row per class
    assert (width, height) == (8 * side + 2, rows * side + 2)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["ema"] is not None


def test_wrong_resolution_is_a_clear_error(mnist_root, tmp_path):
    config = TrainConfig(
        arch="sngan-resnet.test", data="mnist", data_root=str(mnist_root), steps=1, data_options={"split": "test"}
    )
    with pytest.raises(ganzoo.GanzooError, match="32x32 images.*--data-opt resolution=32"):
        train(config, tmp_path / "run", progress=False)
    config = TrainConfig(arch="sngan-projection.test", data="ring8", steps=1)
    with pytest.raises(ganzoo.GanzooError, match="class-conditional, but data set 'ring8' has no labels"):
        train(config, tmp_path / "run2", progress=False)


def test_pacgan_packing_on_any_discriminator():
    G, D, config = ganzoo.create_architecture("mlp.test", pack=4)
    assert config["pack"] == 4 and D.input_shape == (2,) and D.inner.input_shape == (8,)
    x = torch.randn(12, 2)
    assert D(x).shape == (3,)
    # Pack m consecutive samples: the logit of a pack is the inner D on them side by side.
    assert torch.allclose(D(x)[1], D.inner(x[4:8].reshape(1, 8))[0])
    _, Dimg, _ = ganzoo.create_architecture("dcgan-28.test", pack=2)
    assert Dimg.inner.input_shape == (2, 28, 28) and Dimg(torch.randn(6, 1, 28, 28)).shape == (3,)
    with pytest.raises(ganzoo.GanzooError, match="not a multiple of pack=4"):
        D(torch.randn(6, 2))
    with pytest.raises(ganzoo.GanzooError, match="pack must be a whole number"):
        ganzoo.create_architecture("mlp.test", pack=0)


def test_pacgan_trains_and_checks_the_batch(tmp_path):
    train(
        TrainConfig(arch="mlp.test", arch_options={"pack": 2}, steps=3, batch_size=16, eval_samples=100),
        tmp_path / "run",
        progress=False,
    )
    with pytest.raises(ganzoo.GanzooError, match="batch-size 15 is not a multiple of pack=2"):
        train(
            TrainConfig(arch="mlp.test", arch_options={"pack": 2}, steps=3, batch_size=15),
            tmp_path / "run2",
            progress=False,
        )


@pytest.mark.slow
def test_conditional_generator_produces_the_class_asked_for(tmp_path):
    """Train a conditional MLP (class embedding in G, projection D) on a labelled ring:
    asked for class k, it must put its samples on mode k."""
    config = TrainConfig(
        arch="mlp",
        arch_options={"num_classes": 8, "latent_dim": 8, "g_hidden": 64, "d_hidden": 64},
        data="ring8",
        data_options={"labelled": True, "std": 0.1},
        steps=1500,
        batch_size=128,
        eval_every=1500,
        seed=0,
        device="cpu",
    )
    train(config, tmp_path / "run", progress=False)
    G, _, _ = ganzoo.create_architecture("mlp", data_shape=(2,), **config.arch_options)
    G.load_state_dict(load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["generator"])
    centers = ganzoo.create_dataset("ring8").centers
    asked = torch.arange(8).repeat_interleave(100)
    samples = G.sample(800, labels=asked, generator=torch.Generator().manual_seed(0))
    nearest = torch.cdist(samples, centers).argmin(dim=1)
    accuracy = (nearest == asked).float().mean().item()
    assert accuracy > 0.9, f"only {accuracy:.0%} of samples land on the mode of their class"


@pytest.mark.slow
def test_sample_command_writes_an_image_grid(mnist_root, tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "train",
        "--arch",
        "dcgan.test",
        "--data",
        "mnist",
        "--data-root",
        str(mnist_root),
        "--data-opt",
        "split=test",
        "--steps",
        "2",
        "--out",
        str(out),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    result = run_cli("sample", str(out), "-n", "16", "--out", str(tmp_path / "grid.png"))
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(tmp_path / "grid.png") as picture:
        assert picture.size == (8 * 30 + 2, 2 * 30 + 2)


def test_image_run_resumes_bit_for_bit(mnist_root, tmp_path, monkeypatch):
    """Batch norm statistics, EMA, the augmentation's draws and the position in the epoch all
    survive a crash."""
    from test_train import assert_same_state, crash_then_resume

    config = TrainConfig(
        arch="dcgan.test",
        data="mnist",
        data_root=str(mnist_root),
        steps=8,
        batch_size=8,
        ema_decay=0.9,
        eval_every=4,
        checkpoint_every=4,
        device="cpu",
        augment="diffaugment",
        augment_options={"ada_target": 0.6, "ada_images": 1000},
        data_options={"split": "test", "download": False},
    )
    whole, saved_step, resumed = crash_then_resume(monkeypatch, tmp_path, config, 6)
    assert whole["augment_state"] == resumed["augment_state"] and whole["augment_state"]["p"] > 0
    logged = [r["augment_p"] for r in read_jsonl(tmp_path / "whole" / "train_log.jsonl")]
    assert logged[-1] == whole["augment_state"]["p"]  # ADA's p, in the log
    assert saved_step == 4
    assert_same_state(whole, resumed)
    assert torch.equal(whole["batches"]["order"], resumed["batches"]["order"])


def test_channels_last_trains_the_same_model(mnist_root, tmp_path):
    """NHWC memory changes how convolutions are computed, not what: after a few steps the
    weights agree with the default layout's to float rounding, and resuming keeps working."""
    runs = []
    for channels_last in (False, True):
        config = TrainConfig(
            arch="dcgan.test",
            data="mnist",
            data_root=str(mnist_root),
            steps=3,
            batch_size=8,
            device="cpu",
            channels_last=channels_last,
            data_options={"split": "test"},
            ema_decay=0.9,
        )
        train(config, tmp_path / str(channels_last), progress=False)
        runs.append(load_checkpoint(tmp_path / str(channels_last) / "checkpoints" / "latest.pt"))
    for part in ("generator", "discriminator", "ema"):
        for name, value in runs[0][part].items():
            assert torch.allclose(value.float(), runs[1][part][name].float(), atol=1e-4, rtol=1e-3), (part, name)
    assert runs[1]["generator"]["convs.0.weight"].is_contiguous(memory_format=torch.channels_last)
    resumed = TrainConfig.from_dict({**runs[1]["config"], "steps": 5})
    assert train(resumed, tmp_path / "True", resume=True, progress=False)["steps"] == 5


def test_data_on_device_trains_the_same(mnist_root, tmp_path):
    """Keeping the set on the device changes where batches are gathered, not which."""
    runs = []
    for on_device in (False, True):
        config = TrainConfig(
            arch="dcgan.test",
            data="mnist",
            data_root=str(mnist_root),
            steps=3,
            batch_size=8,
            device="cpu",
            data_on_device=on_device,
            data_options={"split": "test"},
        )
        train(config, tmp_path / str(on_device), progress=False)
        runs.append(load_checkpoint(tmp_path / str(on_device) / "checkpoints" / "latest.pt"))
    assert all(torch.equal(runs[0]["generator"][k], runs[1]["generator"][k]) for k in runs[0]["generator"])
