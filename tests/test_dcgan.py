"""`dcgan`'s class-conditional form: conditional batch norm in G, a projection term in D."""

import torch

import ganzoo
from ganzoo.testing import check_architecture


def test_conditional_dcgan_passes_the_contract_at_every_resolution():
    for name in ("dcgan.test", "dcgan-32.test", "dcgan-64.test"):
        check_architecture(name, num_classes=3)


def test_the_class_sets_g_s_batch_norm_scales_and_shifts():
    torch.manual_seed(0)
    G, _, _ = ganzoo.create_architecture("dcgan.test", num_classes=3)
    G.eval()
    z, a, b = torch.randn(2, 8), torch.tensor([0, 1]), torch.tensor([2, 2])
    assert torch.equal(G(z, a), G(z, b))  # scales start at 1 and shifts at 0 for every class: one G at first
    for module in G.modules():
        if isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, 1.0, 0.5)
    assert not torch.allclose(G(z, a), G(z, b))
    assert G(z, a).shape == (2, 1, 28, 28)


def test_d_adds_the_inner_product_of_the_class_embedding_with_its_last_features():
    torch.manual_seed(0)
    _, D, _ = ganzoo.create_architecture("dcgan.test", num_classes=3)
    D.eval()
    x, labels = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 1])
    features = D.features(x).flatten(1)  # 8 channels x 7 x 7 for the tiny 28-pixel D
    assert features.shape == (4, 8 * 7 * 7)
    by_hand = D.out(D.features(x)).flatten() + (D.embed.weight[labels] * features).sum(1)
    assert torch.allclose(D(x, labels), by_hand)


def test_unconditional_dcgan_has_no_class_parameters():
    G, D, _ = ganzoo.create_architecture("dcgan", g_width=32, d_width=32)
    assert D.embed is None and not any(isinstance(m, torch.nn.Embedding) for m in G.modules())
    # Conditional BN with no classes is the paper's batch norm: learnt scale and shift, N(1, 0.02) at first.
    scales = [m.weight for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(scales) == 2 and all(abs(s.mean().item() - 1) < 0.01 and s.std().item() > 0.005 for s in scales)
