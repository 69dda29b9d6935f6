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
    entry = ganzoo.plugin.api.architecture_entry("unrolled-dcgan")
    assert entry.train_defaults["batch_size"] == 128
    assert (entry.train_defaults["d_lr"], entry.train_defaults["g_lr"]) == (2e-4, 1e-4)
    assert entry.train_defaults["betas"] == (0.5, 0.99)


def test_stacked_mnist_suite_has_both_discriminator_sizes_and_the_papers_rows():
    from ganzoo.bench.suite import expand, load_suite
    from ganzoo.report.papers import load_references, papers_file_for

    cells = expand(load_suite("reproduce-stacked-mnist"), {})
    widths = {(c.train["arch_options"]["d_width"], c.train["arch_options"].get("pack", 1)) for c in cells}
    assert widths == {(2, 1), (2, 2), (4, 1), (4, 2)}
    assert all(c.train["eval_samples"] == 25_600 and c.train["eval_metrics"] == ["stacked-mnist-modes"] for c in cells)
    assert all(len({c.seed for c in cells if c.block == block}) >= 3 for block in {c.block for c in cells})
    assert all(c.train.get("batch_size", 128) == 128 * c.train["arch_options"].get("pack", 1) for c in cells)
    assert {c.block for c in cells if c.train.get("unroll_steps") == 5} == {"unrolled-d-quarter", "unrolled-d-half"}
    references = load_references(papers_file_for("reproduce-stacked-mnist"))
    assert {r["block"] for r in references} == {c.block for c in cells}


def test_pacgans_stacked_mnist_evaluation_batch_statistics_and_float_images():
    """--eval-batch-norm batch: G samples with each batch's own statistics (batches of
    batch-size / pack latents), on a copy, so the evaluated G's running statistics stay;
    --eval-images float: the classifier reads G's float output, not uint8 images."""
    import copy

    from ganzoo.evaluation import class_coverage as cc
    from ganzoo.evaluation import digits
    from ganzoo.training.resolve import eval_settings

    model, _ = digits.load_classifier(digits.reference_path("mnist", 0))
    G, _, _ = ganzoo.create_architecture("unrolled-dcgan.test")
    G.train()
    G(G.sample_latent(16))  # move the running statistics off their initial values
    before = copy.deepcopy(G.state_dict())
    rng = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    got, _ = cc.generated_classes(G, model, 20, rng(), sampler_batch=8, float_images=True)
    # By hand: three batches of 8 latents in training mode (the last one full), 20 kept, floats.
    by_hand = copy.deepcopy(G).train()
    gen = rng()
    with torch.no_grad():
        images = torch.cat([by_hand(by_hand.sample_latent(8, generator=gen)) for _ in range(3)])[:20]
    assert torch.equal(got, cc.classify_channels(digits.inference_classifier(model), images))
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())  # G's statistics untouched
    # The default reads uint8 images sampled with running statistics.
    default, _ = cc.generated_classes(G, model, 20, rng())
    eval_mode = G.sample(20, generator=rng())
    assert torch.equal(default, cc.classify_channels(digits.inference_classifier(model), cc.to_uint8(eval_mode)))
    # The settings: batch-size / pack latents per sampling batch.
    cfg = ganzoo.TrainConfig(
        arch="unrolled-dcgan",
        data="stacked-mnist",
        batch_size=256,
        arch_options={"pack": 2},
        eval_batch_norm="batch",
        eval_images="float",
    )
    settings = eval_settings(cfg)
    assert settings.sampler_batch == 128 and settings.float_images
    assert eval_settings(ganzoo.TrainConfig(batch_size=256)).sampler_batch is None


def test_the_stacked_mnist_protocol_records_how_it_sampled_and_what_it_classified():
    from types import SimpleNamespace

    from ganzoo.evaluation.plan import EvalSettings
    from ganzoo.zoo.metrics import StackedMNISTModes

    metric = StackedMNISTModes()
    metric.name = "stacked-mnist-modes"
    for settings, sampler, images in (
        (EvalSettings(), {"sampler_batch_norm": "running statistics"}, "uint8-quantised, as real images are"),
        (
            EvalSettings(sampler_batch=128, float_images=True),
            {"sampler_batch_norm": "batch statistics", "sampler_batch": 128},
            "float, as G makes them",
        ),
    ):
        context = SimpleNamespace(
            plan=SimpleNamespace(settings=settings), num_samples=25_600, common_protocol=lambda: {}
        )
        protocol = metric.protocol(context, {"name": "c"})
        assert {k: protocol[k] for k in sampler} == sampler and protocol["images"] == images
        assert ("sampler_batch" in protocol) == ("sampler_batch" in sampler)


def test_per_group_batch_norm_equals_separate_passes_of_the_stacked_mnist_generator():
    import copy

    torch.manual_seed(0)
    grouped, _, _ = ganzoo.create_architecture("unrolled-dcgan.test", bn_groups=2)
    separate = copy.deepcopy(grouped)
    separate.bn_groups = 1
    z = torch.randn(12, grouped.latent_dim)
    out = grouped(z)
    expected = torch.empty_like(out)
    for k in range(2):
        expected[k::2] = separate(z[k::2])
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    for a, b in zip(grouped.buffers(), separate.buffers()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
