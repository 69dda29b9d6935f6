"""StyleGAN2 at 32x32: sizes against the official code, modulation and demodulation, the
minibatch standard deviation, the path-length regulariser, and its training recipe."""

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import count, need_data_root, run_cli

import ganzoo


@pytest.mark.parametrize("classes,g_count,d_count", [(0, 19_947_539, 21_507_073), (10, 20_215_315, 23_876_096)])
def test_the_cifar_configuration_has_the_official_codes_parameter_counts(classes, g_count, d_count):
    # NVlabs/stylegan2-ada-pytorch, training/networks.py built as train.py's --cfg=cifar builds it
    # (z and w 512, 2 mapping layers, channel_base 32768, channel_max 512), with D's architecture
    # 'resnet' (the paper's; --cfg=cifar itself picks 'orig'), unconditional and with 10 classes.
    G, D, _ = ganzoo.create_architecture("stylegan2", num_classes=classes)
    assert (count(G), count(D)) == (g_count, d_count)
    assert G.num_ws == 8 and count(G.mapping) == (525_312 if classes == 0 else 793_088)


def test_a_modulated_convolution_is_a_demodulated_convolution_of_the_styled_weights():
    from ganzoo.zoo.architectures.stylegan2 import ModulatedConv

    torch.manual_seed(0)
    layer = ModulatedConv(4, 3, w_dim=5, resolution=6).eval()
    layer.noise_strength.data.fill_(0.0)
    x, w = torch.randn(2, 4, 6, 6), torch.randn(2, 5)
    styles = layer.affine(w)
    expected = []
    for i in range(2):  # per sample: weights times the style over input channels, each output filter to norm 1
        weight = layer.weight * styles[i].view(1, -1, 1, 1)
        weight = weight / weight.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        expected.append(F.conv2d(x[i : i + 1], weight, padding=1))
    expected = F.leaky_relu(torch.cat(expected) + layer.bias.view(1, -1, 1, 1), 0.2) * math.sqrt(2)
    torch.testing.assert_close(layer(x, w), expected, rtol=1e-4, atol=1e-5)
    layer.affine.bias.data.mul_(3.0)  # a style scaled as a whole changes nothing: demodulation undoes it
    layer.affine.weight.data.mul_(3.0)
    torch.testing.assert_close(layer(x, w), expected, rtol=1e-4, atol=1e-5)


def test_minibatch_standard_deviation_by_hand():
    from ganzoo.zoo.architectures.stylegan2 import MinibatchStd

    x = torch.randn(6, 2, 3, 3)
    out = MinibatchStd(group_size=3)(x)
    assert out.shape == (6, 3, 3, 3) and torch.equal(out[:, :2], x)
    for j in range(2):  # groups are samples j, j + 2, j + 4 (the official reshape strides the batch)
        group = x[j::2]
        std = (group.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[j::2, 2], std.expand(3, 3, 3), atol=1e-6)
    assert MinibatchStd(group_size=4)(torch.randn(6, 2, 3, 3)).shape == (6, 3, 3, 3)  # 4 does not divide 6: 3


def test_noise_is_random_in_training_and_fixed_at_evaluation():
    G, _, _ = ganzoo.create_architecture("stylegan2.test")
    z = torch.randn(2, 8)
    for layer in G.modules():
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(0.5)
    assert not torch.equal(G(z), G(z))
    G.eval()
    assert torch.equal(G(z), G(z))


def test_the_path_length_penalty_is_lazy_keeps_its_running_mean_and_reaches_the_mapping():
    torch.manual_seed(0)
    G, _, _ = ganzoo.create_architecture("stylegan2.test", pl_weight=2.0, pl_every=4)
    assert G.penalty(1, 8) is None and G.penalty(3, 8) is None
    penalty = G.penalty(4, 8, torch.Generator().manual_seed(0))
    assert penalty.dim() == 0 and penalty > 0 and 0 < G.pl_mean.item()
    penalty.backward()
    assert G.mapping.layers[0].weight.grad.abs().sum() > 0 and G.blocks[-1].conv1.weight.grad.abs().sum() > 0
    assert "pl_mean" in G.state_dict()  # checkpointed: a resumed run keeps its running mean
    assert ganzoo.create_architecture("stylegan2.test", pl_weight=0.0)[0].penalty(0, 8) is None


@pytest.mark.slow
def test_the_recipe_trains_by_options(tmp_path):
    from ganzoo.plugin.api import architecture_entry

    train = architecture_entry("stylegan2").train_defaults
    assert (train["batch_size"], train["g_lr"], train["betas"]) == (64, 0.0025, (0.0, 0.99))
    result = run_cli(
        "train",
        "--arch",
        "stylegan2.test",
        "--loss",
        "non-saturating",
        "--reg",
        "r1",
        "--reg-opt",
        "gamma=0.01",
        "--reg-every",
        "16",
        "--data",
        "mnist",
        "--data-root",
        str(need_data_root()),
        "--data-opt",
        "split=test",
        "--data-opt",
        "resolution=32",
        "--steps",
        "5",
        "--eval-every",
        "5",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    # images get sample grids only while training; the output says how to get FID & co.
    assert f"metrics: none during training by default for this data; `ganzoo eval {tmp_path / 'run'}`" in result.stdout
    with pytest.raises(ganzoo.GanzooError, match="power of two.*resolution=32"):
        ganzoo.create_architecture("stylegan2.test", data_shape=(1, 28, 28))


def test_a_run_with_the_path_length_penalty_resumes_exactly(tmp_path, monkeypatch):
    """The running mean path length and the noise inputs' random draws survive a crash."""
    from test_train import assert_same_state, crash_then_resume, tiny

    config = tiny(
        arch="stylegan2.test",
        data="mnist",
        data_root=str(need_data_root()),
        data_options={"split": "test", "resolution": 32},
        batch_size=8,
        steps=12,
        eval_every=12,
        checkpoint_every=4,
        eval_samples=64,
        eval_metrics=[],
    )
    whole, saved_step, resumed = crash_then_resume(monkeypatch, tmp_path, config, 10)
    assert saved_step == 8 and whole["generator"]["pl_mean"] > 0
    assert_same_state(whole, resumed)
