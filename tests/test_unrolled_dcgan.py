"""The Unrolled GAN paper's small Stacked MNIST networks (`unrolled-dcgan`)."""

import torch

import ganzoo


def test_layer_shapes_follow_the_papers_code():
    G, D, config = ganzoo.create_architecture("unrolled-dcgan")
    assert config["latent_dim"] == 256 and config["data_shape"] == (3, 28, 28)
    convs = [m for m in G.modules() if isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Conv2d))]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(64, 32), (32, 16), (16, 8), (8, 3)]
    x, sizes = G.project(torch.randn(2, 256)), []
    for layer in G.net:
        x = layer(x)
        if isinstance(layer, (torch.nn.ConvTranspose2d, torch.nn.Conv2d)):
            sizes.append(x.shape[-1])
    assert sizes == [7, 14, 28, 28] and x.min() >= -1 and x.max() <= 1


def test_discriminator_is_a_quarter_or_a_half_of_g():
    for d_width, channels in ((2, [2, 4, 8]), (4, [4, 8, 16])):
        _, D, _ = ganzoo.create_architecture("unrolled-dcgan", d_width=d_width)
        convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
        assert [m.out_channels for m in convs] == channels
        assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules()) == 3  # the first layer's too
        assert D(torch.randn(4, 3, 28, 28)).shape == (4,)
    # Parameter counts of the TensorFlow graph (weights, biases, BN scale and shift).
    G, D, _ = ganzoo.create_architecture("unrolled-dcgan")
    assert sum(p.numel() for p in G.parameters()) == 287_875
    assert sum(p.numel() for p in D.parameters()) == 585


def test_training_defaults_are_the_papers():
    entry = ganzoo.api.architecture_entry("unrolled-dcgan")
    assert entry.train_defaults["batch_size"] == 128
    assert (entry.train_defaults["d_lr"], entry.train_defaults["g_lr"]) == (2e-4, 1e-4)
    assert entry.train_defaults["betas"] == (0.5, 0.99)


def test_stacked_mnist_suite_has_both_discriminator_sizes_and_the_papers_rows():
    from ganzoo.bench import expand, load_suite
    from ganzoo.papers import load_references, papers_file_for

    cells = expand(load_suite("reproduce-stacked-mnist"), {})
    widths = {(c.train["arch_options"]["d_width"], c.train["arch_options"].get("pack", 1)) for c in cells}
    assert widths == {(2, 1), (2, 2), (4, 1), (4, 2)}
    assert all(c.train["eval_samples"] == 25_600 and c.train["eval_metrics"] == ["stacked-mnist-modes"]
               for c in cells)
    assert all(len({c.seed for c in cells if c.block == block}) >= 3 for block in {c.block for c in cells})
    assert all(c.train.get("batch_size", 128) == 128 * c.train["arch_options"].get("pack", 1) for c in cells)
    assert {c.block for c in cells if c.train.get("unroll_steps") == 5} == {"unrolled-d-quarter", "unrolled-d-half"}
    references = load_references(papers_file_for("reproduce-stacked-mnist"))
    assert {r["block"] for r in references} == {c.block for c in cells}
