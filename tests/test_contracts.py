"""ganzoo.testing's contract checks over every registered entry, plugins included."""

import pytest
import torch

import ganzoo
import ganzoo.plugin.manager
from ganzoo.testing import (
    check_architecture,
    check_augmentation,
    check_dataset,
    check_loss,
    check_metric,
    check_optimizer,
    check_regularizer,
)

TEST_VARIANTS = [n for n in ganzoo.list_architectures("*.test")]


@pytest.mark.parametrize("name", TEST_VARIANTS)
def test_architecture_contract(name):
    check_architecture(name)


def test_every_architecture_has_a_test_variant():
    families = {n for n in ganzoo.list_architectures() if "." not in n}
    missing = sorted(f for f in families if f"{f}.test" not in TEST_VARIANTS)
    assert not missing, f"architectures without a tiny .test variant: {missing}"


@pytest.mark.parametrize("name", ganzoo.list_losses())
def test_loss_contract(name):
    check_loss(name)


@pytest.mark.parametrize("name", ganzoo.list_datasets())
def test_dataset_contract(name, image_dir):
    from conftest import need_data_root

    options = {}
    if name in ("mnist", "fashion-mnist", "stacked-mnist"):
        options = {"root": str(need_data_root()), "split": "test", "download": False}
    elif name == "cifar10":
        pytest.skip("no CIFAR-10 copy can be had on these machines; its loader is torchvision's")
    elif name == "image-folder":
        options = {"path": str(image_dir), "resolution": 16}
    check_dataset(name, **options)


@pytest.mark.parametrize("name", ganzoo.list_regularizers())
def test_regularizer_contract(name):
    check_regularizer(name)


@pytest.mark.parametrize("name", ganzoo.list_augmentations())
def test_augmentation_contract(name):
    check_augmentation(name)


@pytest.mark.parametrize("name", ganzoo.list_optimizers())
def test_optimizer_contract(name):
    check_optimizer(name)


#: A data set for each built-in metric's contract check (digit data from the local copy).
METRIC_DATA = {"mode-coverage": "ring8", "stacked-mnist-modes": "stacked-mnist"}


# fd-dinov2's stand-in network takes seconds to build: outside the fast subset.
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "fd-dinov2" else n for n in ganzoo.list_metrics()]
)
def test_metric_contract(name, request):
    from conftest import need_data_root

    from ganzoo.core.metrics import missing_needs

    if name == "fd-dinov2":  # its 1.2 GB network cannot be had here: a stand-in in a local hub cache
        request.getfixturevalue("dinov2_stand_in")
    metric = ganzoo.create_metric(name)
    data = METRIC_DATA.get(name, "ring8" if "modes" in metric.needs else "mnist")
    if "images" not in metric.needs and missing_needs(metric, ganzoo.create_dataset(data)):
        data = next(d for d in ("grid25", "mixture1d") if not missing_needs(metric, ganzoo.create_dataset(d)))
    options = {}
    if data in ("mnist", "stacked-mnist"):
        options = {"root": str(need_data_root()), "split": "test", "download": False}
        if data == "stacked-mnist":
            options["size"] = 500
    check_metric(name, data, **options)


def test_a_losses_need_for_real_logits_is_met_by_the_architecture_check():
    """`rpgan` and the example plugin's `relativistic-average` compare fakes with reals in G's loss too."""
    check_architecture("mlp.test", loss="rpgan")
    check_architecture("mlp.test", loss="relativistic-average")


def test_conditional_models_take_labels():
    check_architecture("mlp.test", num_classes=3)


def test_contract_check_catches_a_broken_discriminator(install_fake_plugin):
    install_fake_plugin(
        "bad_shape",
        """
        import ganzoo
        from ganzoo.zoo.architectures.mlp import MLPDiscriminator, MLPGenerator, DEFAULTS

        class TwoLogits(MLPDiscriminator):
            def forward(self, x, labels=None):
                return super().forward(x).unsqueeze(1).repeat(1, 2)

        def build(c):
            return (MLPGenerator(8, c["data_shape"], 8, 1), TwoLogits(c["data_shape"], 8, 1))

        @ganzoo.hookimpl
        def ganzoo_register_architectures(register):
            register("bad-shape.test", build, defaults=DEFAULTS)
    """,
    )
    with pytest.raises(AssertionError, match="one logit per input"):
        check_architecture("bad-shape.test")


def test_dataset_check_holds_a_data_set_to_what_it_offers():
    from ganzoo.core.data import Dataset, SampledBatches
    from ganzoo.plugin.registry import Entry

    class Promises(Dataset):
        name, sample_shape, offers = "promises", (2,), frozenset({"modes"})  # but has no centers

        def batches(self, batch_size, device, seed):
            return SampledBatches(lambda n, rng: (torch.randn(n, 2, generator=rng), None), batch_size, device, seed)

    registry = ganzoo.plugin.manager.registry("dataset")
    registry.add(Entry("dataset", "promises", Promises, "test"))
    try:
        with pytest.raises(AssertionError, match="offers 'modes' but has no centers, std, mode_weights"):
            check_dataset("promises")
    finally:
        del registry.entries["promises"]


@pytest.mark.parametrize("name", ganzoo.list_recipes())
def test_recipe_contract(name):
    from ganzoo.testing import check_recipe

    check_recipe(name)


@pytest.mark.parametrize("name", ganzoo.plugin.manager.registry("suite").names())
def test_plugin_suite_contract(name):
    from ganzoo.testing import check_suite

    check_suite(name)
