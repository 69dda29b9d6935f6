"""DiffAugment's operations against hand computations, and augmentation in the loop."""

import pytest
import torch
import torch.nn.functional as F
from conftest import need_data_root

import ganzoo
from ganzoo.core.config import TrainConfig
from ganzoo.zoo.augmentations import DiffAugment, brightness, contrast, cut_out, saturation, translate


def rng(seed=0):
    return torch.Generator().manual_seed(seed)


def shifted(image, dy, dx):
    """`image` (C, H, W) moved by whole pixels, zeros where nothing moved in: by hand."""
    h, w = image.shape[-2:]
    padded = F.pad(image, (1, 1, 1, 1))
    return padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]


def test_translation_moves_each_image_by_whole_pixels_within_its_reach():
    images = torch.rand(32, 2, 8, 8) + 1  # no zeros of its own
    moved = translate(images, rng(), ratio=0.125)  # reach: 1 pixel of 8
    shifts = []
    for image, out in zip(images, moved):
        matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if torch.equal(out, shifted(image, dy, dx))]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert len(set(shifts)) >= 6  # each image draws its own shift


def test_cutout_zeroes_one_square_per_image_and_nothing_else():
    images = torch.ones(64, 3, 8, 8)
    holes = cut_out(images, rng(), ratio=0.5) == 0  # a 4x4 square, possibly cut by the border
    assert torch.equal(holes[:, 0], holes[:, 2])  # the same square in every channel
    sizes = []
    for hole in holes[:, 0]:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert torch.equal(hole, hole.any(1)[:, None] & hole.any(0)[None, :])  # a rectangle
        assert len(rows) <= 4 and len(cols) <= 4
        assert (rows.diff() == 1).all() and (cols.diff() == 1).all()
        sizes.append(int(hole.sum()))
    assert 16 in sizes and min(sizes) < 16  # whole squares inside, cut ones at the border


def test_colour_operations_follow_their_formulas():
    images = torch.randn(16, 3, 4, 4)
    offsets = brightness(images, rng()) - images  # one number per image in [-0.5, 0.5)
    assert torch.allclose(offsets, offsets[:, :1, :1, :1].expand_as(offsets), atol=1e-6)
    assert offsets.min() >= -0.5 and offsets.max() < 0.5
    assert torch.allclose(contrast(images, rng()).mean((1, 2, 3)), images.mean((1, 2, 3)), atol=1e-5)
    grey = images[:, :1]
    assert torch.allclose(saturation(grey, rng()), grey)  # a grey image has no colour to scale


def test_diffaugment_is_repeatable_differentiable_and_checks_its_policy():
    augment = ganzoo.create_augmentation("diffaugment", policy="translation,cutout")
    assert isinstance(augment, DiffAugment) and len(augment.operations) == 2
    images = torch.rand(4, 1, 8, 8, requires_grad=True)
    assert torch.equal(augment(images, rng(3)), augment(images, rng(3)))
    augment(images, rng(3)).sum().backward()
    assert images.grad is not None and (images.grad == 0).any() and (images.grad == 1).any()  # cut out, kept
    with pytest.raises(ganzoo.GanzooError, match="unknown words \\['colour'\\].*color, translation, cutout"):
        ganzoo.create_augmentation("diffaugment", policy="colour,cutout")
    with pytest.raises(ganzoo.GanzooError, match="transforms images"):
        augment(torch.rand(4, 2), rng())


def test_an_augmented_run_differs_and_refuses_non_image_data(tmp_path):
    mnist_root = need_data_root()

    def run(out, **extra):
        config = TrainConfig(
            arch="dcgan.test",
            data="mnist",
            data_root=str(mnist_root),
            steps=3,
            batch_size=8,
            eval_every=3,
            device="cpu",
            data_options={"split": "test", "download": False},
            **extra,
        )
        ganzoo.train(config, out, progress=False)
        return torch.load(out / "checkpoints" / "latest.pt", weights_only=True)["generator"]

    plain, augmented = run(tmp_path / "plain"), run(tmp_path / "augmented", augment="diffaugment")
    assert any(not torch.equal(plain[k], augmented[k]) for k in plain)
    saved = (tmp_path / "augmented" / "config.json").read_text()
    assert '"augment": "diffaugment"' in saved and '"augmentation"' in saved  # setting and provenance
    with pytest.raises(ganzoo.GanzooError, match="transforms images; 'ring8' holds samples of shape \\(2,\\)"):
        ganzoo.train(
            TrainConfig(arch="mlp.test", data="ring8", steps=2, augment="diffaugment", device="cpu"),
            tmp_path / "ring",
            progress=False,
        )


def test_ada_raises_p_while_d_is_sure_of_the_reals_and_lowers_it_after():
    """ADA's controller: every 4 D steps, p moves by the images seen over ada_images, up while
    E[sign D(real)] is above the target, down below it; never outside [0, 1]."""
    augment = ganzoo.create_augmentation("diffaugment", ada_target=0.6, ada_images=800)
    assert augment.p == 0.0 and augment.adaptive
    confident, unsure = torch.full((50,), 3.0), torch.tensor([1.0, -1.0] * 25)  # r = 1, then r = 0
    for _ in range(8):
        augment.observe(confident)
    assert augment.p == pytest.approx(2 * 200 / 800)  # two adjustments of 4 x 50 images each
    saved = augment.state_dict()
    for _ in range(3):
        augment.observe(unsure)
    again = ganzoo.create_augmentation("diffaugment", ada_target=0.6, ada_images=800)
    again.load_state_dict(augment.state_dict())
    for model in (augment, again):
        model.observe(unsure)  # the fourth: r = 0 < 0.6
    assert augment.p == again.p == pytest.approx(0.5 - 0.25)
    assert saved["p"] == pytest.approx(0.5)
    for _ in range(40):
        augment.observe(unsure)
    assert augment.p == 0.0
    with pytest.raises(ganzoo.GanzooError, match="both decide p"):
        ganzoo.create_augmentation("diffaugment", ada_target=0.6, p=0.5)
