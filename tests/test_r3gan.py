"""R3GAN's networks: sizes against the official code, the identity start, the resampling,
and its training recipe by options."""

import pytest
import torch
from conftest import count, need_data_root, run_cli

import ganzoo


def test_the_cifar10_preset_has_the_official_codes_parameter_counts():
    # brownvc/R3GAN, train.py's CIFAR10 preset built with R3GAN/Networks.py: G 20,732,160, D 20,683,776.
    G, D, config = ganzoo.create_architecture("r3gan")
    assert (config["width"], config["cardinality"], config["blocks"], config["latent_dim"]) == (768, 96, 2, 64)
    assert (count(G), count(D)) == (20_732_160, 20_683_776)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._NormBase) for m in [*G.modules(), *D.modules()])
    # The conditional preset (train.py --cond=True: embeddings of 64 for G, 768 for D): 20,781,952 and 21,280,512.
    G, D, _ = ganzoo.create_architecture("r3gan", num_classes=10)
    assert (count(G), count(D)) == (20_781_952, 21_280_512)


def test_the_conditional_variant_uses_the_class_in_both_networks():
    torch.manual_seed(0)
    G, D, _ = ganzoo.create_architecture("r3gan.test", num_classes=3)
    for module in G.modules():  # the zero-initialised last layers would hide the class: wake them
        if isinstance(module, torch.nn.Conv2d) and not module.weight.any():
            torch.nn.init.normal_(module.weight, std=0.1)
    z, x = torch.randn(2, 8), torch.randn(2, 3, 32, 32)
    a, b = torch.tensor([0, 1]), torch.tensor([2, 2])
    assert not torch.allclose(G(z, a), G(z, b)) and not torch.allclose(D(x, a), D(x, b))
    assert G(z, a).shape == (2, 3, 32, 32) and D(x, a).shape == (2,)


def test_every_block_starts_as_the_identity_and_g_and_d_keep_their_shapes():
    torch.manual_seed(0)
    G, D, _ = ganzoo.create_architecture("r3gan", width=16, cardinality=4, latent_dim=8)
    from ganzoo.zoo.architectures.r3gan import ResidualBlock

    blocks = [m for m in G.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 8  # four stages of two
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(blocks[3](x), x)  # the last convolution starts at zero
    images = G(torch.randn(5, 8))
    assert images.shape == (5, 3, 32, 32) and D(images).shape == (5,)


def test_widths_per_stage_as_the_official_code_takes_them():
    # WidthPerStage, 4x4 first: wide where the grid is small, narrow at the image's side; D mirrors G.
    G, D, _ = ganzoo.create_architecture(
        "r3gan", widths=[64, 48, 32, 16], cardinality=4, blocks=1, latent_dim=8, num_classes=10
    )
    from ganzoo.zoo.architectures.r3gan import ResidualBlock

    def block_widths(net):
        return [m.expand.in_channels for m in net.modules() if isinstance(m, ResidualBlock)]

    assert block_widths(G) == [64, 48, 32, 16] and block_widths(D) == [16, 32, 48, 64]
    assert G.net[0].basis.shape == (64, 4, 4) and D.embed.out_features == 64
    labels = torch.arange(3)
    images = G(torch.randn(3, 8), labels)
    assert images.shape == (3, 3, 32, 32) and D(images, labels).shape == (3,)
    # Left out, every stage has `width`: the preset's counts do not move (the first test).
    with pytest.raises(ganzoo.GanzooError, match="one whole number per stage.*4 of them"):
        ganzoo.create_architecture("r3gan", widths=[64, 32, 16])
    with pytest.raises(ganzoo.GanzooError, match="cardinality"):
        ganzoo.create_architecture("r3gan", widths=[64, 64, 32, 15], cardinality=4)


def test_resampling_doubles_and_halves_the_side_and_keeps_a_flat_image_flat():
    from ganzoo.zoo.architectures.r3gan import Resample
    from ganzoo.zoo.architectures.resampling import lowpass_kernel

    kernel = lowpass_kernel()
    assert kernel.sum().item() == pytest.approx(1.0) and torch.equal(kernel, kernel.T)
    flat = torch.full((1, 2, 8, 8), 3.0)
    up, down = Resample(2, 2, up=True)(flat), Resample(2, 2, up=False)(flat)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    assert torch.allclose(up[..., 2:-2, 2:-2], flat.new_full((1, 2, 12, 12), 3.0))  # away from the zero padding
    assert torch.allclose(down[..., 1:-1, 1:-1], flat.new_full((1, 2, 2, 2), 3.0))
    assert Resample(2, 5, up=True)(flat).shape == (1, 5, 16, 16)  # a 1x1 convolution changes the width


@pytest.mark.slow
def test_the_recipe_trains_by_options(tmp_path):
    """R3GAN's training as docs/architectures.md writes it, two steps on MNIST at 32 px."""
    result = run_cli(
        "train",
        "--arch",
        "r3gan.test",
        "--loss",
        "rpgan",
        "--reg",
        "r1,r2",
        "--data",
        "mnist",
        "--data-root",
        str(need_data_root()),
        "--data-opt",
        "split=test",
        "--data-opt",
        "resolution=32",
        "--augment",
        "diffaugment",
        "--augment-opt",
        "policy=translation,cutout",
        "--schedule",
        "lr=cosine:2e-4:5e-5:2e7",
        "--schedule",
        "beta2=cosine:0.9:0.99:2e7",
        "--schedule",
        "regularizer.gamma=cosine:0.05:0.005:2e7",
        "--schedule",
        "augment.p=cosine:0:0.55:2e7",
        "--ema-decay",
        "0.999",
        "--schedule",
        "ema_half_life=cosine:0:5e6:2e7",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(ganzoo.GanzooError, match="power of two.*resolution=32"):
        ganzoo.create_architecture("r3gan.test", data_shape=(1, 28, 28))
