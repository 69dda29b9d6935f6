"""`infogan`: Lucic et al.'s MNIST networks, as compare_gan's first release builds them."""

import pytest
import torch

import ganzoo
from ganzoo.testing import check_architecture


def test_parameter_counts_are_compare_gans():
    """By hand from compare_gan's abstract_gan.py at 28x28x1, z 64 (every layer has a bias, BN a scale and a shift).
    G: 64*1024+1024, BN 2*1024, 1024*6272+6272, BN 2*6272, 4*4*128*64+64, BN 2*64, 4*4*64*1+1.
    D: 4*4*1*64+64, 4*4*64*128+128, BN 2*128, 6272*1024+1024, BN 2*1024, 1024+1."""
    G, D, _ = ganzoo.create_architecture("infogan")
    g = 66_560 + 2_048 + 6_428_800 + 12_544 + 131_136 + 128 + 1_025
    d = 1_088 + 131_200 + 256 + 6_423_552 + 2_048 + 1_025
    assert (count(G), count(D)) == (g, d) == (6_642_241, 6_559_169)
    _, D_plain, _ = ganzoo.create_architecture("infogan", d_batchnorm=False)
    assert count(D_plain) == d - 256 - 2_048
    assert not any(isinstance(m, torch.nn.modules.batchnorm._NormBase) for m in D_plain.modules())


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("options", [{}, {"d_batchnorm": False}, {"data_shape": (3, 32, 32)}])
def test_contract(options):
    check_architecture("infogan.test", **options)


def test_latent_is_uniform_and_output_is_compare_gans_sigmoid_on_minus_one_to_one():
    torch.manual_seed(0)
    G, _, _ = ganzoo.create_architecture("infogan.test")
    z = G.sample_latent(4096, "cpu")
    assert z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.02 and abs(z.var() - 1 / 3) < 0.02
    G.eval()
    before_output = G.net(z[:8])
    assert torch.allclose(G(z[:8]), 2 * torch.sigmoid(before_output) - 1, atol=1e-6)


def test_batch_norm_is_tensorflows_as_compare_gan_sets_it():
    G, D, _ = ganzoo.create_architecture("infogan.test")
    norms = [m for m in [*G.modules(), *D.modules()] if isinstance(m, torch.nn.modules.batchnorm._NormBase)]
    assert len(norms) == 5 and all(m.eps == 1e-3 and m.momentum == 0.001 for m in norms)


def test_bad_shapes_and_classes_are_refused_clearly():
    with pytest.raises(ganzoo.GanzooError, match="multiple of 4.*resolution=28"):
        ganzoo.create_architecture("infogan.test", data_shape=(1, 30, 30))
    with pytest.raises(ganzoo.GanzooError, match="unconditional"):
        ganzoo.create_architecture("infogan.test", num_classes=10)
