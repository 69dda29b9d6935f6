"""BigGAN at 32x32: sizes against the official code, its parts, orthogonal regularisation,
and its training recipe."""

import pytest
import torch
from conftest import count, need_data_root, run_cli
from torch.nn.utils import parametrize

import ganzoo


def test_the_32px_networks_have_the_official_codes_parameter_counts():
    # ajbrock/BigGAN-PyTorch's BigGAN.py: Generator(G_ch=64, dim_z=128, resolution=32, G_attn='16',
    # n_classes=10, G_shared=True, shared_dim=128, hier=True) has 4,455,172 parameters; its
    # Discriminator(D_ch=64, resolution=32, D_attn='0', n_classes=10) 4,207,361, plus one
    # layers.Attention(256) (81,921) after the first block: 4,289,282.
    G, D, config = ganzoo.create_architecture("biggan")
    assert (config["width"], config["latent_dim"], config["shared_dim"], config["num_classes"]) == (256, 128, 128, 10)
    assert (count(G), count(D)) == (4_455_172, 4_289_282)


def test_the_paper_parts_are_there():
    G, D, _ = ganzoo.create_architecture("biggan.test")
    # Spectral norm on every weight of both networks but G's shared class embedding.
    for net in (G, D):
        for module in net.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding)):
                assert parametrize.is_parametrized(module, "weight") == (module is not G.shared), module
    # Self-attention in both, starting as the identity.
    from ganzoo.zoo.architectures.biggan import SelfAttention

    layers = [m for m in [*G.modules(), *D.modules()] if isinstance(m, SelfAttention)]
    assert len(layers) == 2 and all(m.gamma.item() == 0 for m in layers)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(layers[0](x), x)
    layers[0].gamma.data.fill_(1.0)
    assert not torch.allclose(layers[0](x), x)
    plain = ganzoo.create_architecture("biggan.test", attention=False)  # the official CIFAR script's setting
    assert not any(isinstance(m, SelfAttention) for net in plain[:2] for m in net.modules())


def test_z_is_hierarchical_and_the_class_reaches_every_block():
    torch.manual_seed(0)
    G, _, _ = ganzoo.create_architecture("biggan.test")  # z of 16: four chunks of 4
    G.eval()
    z, labels = torch.randn(2, 16), torch.tensor([1, 2])
    base = G(z, labels)
    for chunk in range(4):  # each chunk moves the image: the input layer's and each block's
        moved = z.clone()
        moved[:, 4 * chunk : 4 * chunk + 4] += 1.0
        assert not torch.allclose(G(moved, labels), base)
    assert not torch.allclose(G(z, torch.tensor([3, 4])), base)
    G0, D0, _ = ganzoo.create_architecture("biggan.test", num_classes=0)  # unconditional: no embedding, no projection
    assert G0.shared is None and D0.embed is None and G0(z).shape == (2, 3, 32, 32)
    with pytest.raises(ganzoo.GanzooError, match="'num_classes'.*whole number >= 0"):
        ganzoo.create_architecture("biggan.test", num_classes=-1)


def test_orthogonal_regularisation_has_the_official_gradient():
    """The official code adds 2 * ortho * (W W^T * (1 - I)) W to each weight's gradient
    (utils.ortho), skipping 1-d parameters and the shared embedding."""
    torch.manual_seed(0)
    G, _, _ = ganzoo.create_architecture("biggan.test", ortho=1e-2)
    G.penalty(0, 4).backward()
    checked = 0
    for name, param in G.named_parameters():
        if param.dim() < 2 or param is G.shared.weight:
            assert param.grad is None, name
            continue
        w = param.detach().flatten(1)
        expected = 2 * 1e-2 * ((w @ w.T) * (1 - torch.eye(w.shape[0]))) @ w
        torch.testing.assert_close(param.grad.flatten(1), expected)
        checked += 1
    assert checked > 20
    assert ganzoo.create_architecture("biggan.test", ortho=0.0)[0].penalty(0, 4) is None


@pytest.mark.slow
def test_the_recipe_trains_by_options(tmp_path):
    from ganzoo.plugin.api import architecture_entry

    entry = architecture_entry("biggan")
    assert {k: entry.train_defaults[k] for k in ("batch_size", "n_d", "g_lr", "d_lr", "betas", "ema_decay")} == {
        "batch_size": 50,
        "n_d": 4,
        "g_lr": 2e-4,
        "d_lr": 2e-4,
        "betas": (0.0, 0.999),
        "ema_decay": 0.9999,
    }
    result = run_cli(
        "train",
        "--arch",
        "biggan.test",
        "--loss",
        "hinge",
        "--data",
        "mnist",
        "--data-root",
        str(need_data_root()),
        "--data-opt",
        "split=test",
        "--data-opt",
        "resolution=32",
        "--n-d",
        "2",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(ganzoo.GanzooError, match="32x32.*resolution=32"):
        ganzoo.create_architecture("biggan.test", data_shape=(1, 28, 28))
    with pytest.raises(ganzoo.GanzooError, match="multiple of 4"):
        ganzoo.create_architecture("biggan.test", latent_dim=18)
