"""ganzoo.testing's contract checks over every registered entry, plugins included."""

import pytest

import ganzoo
from ganzoo.testing import check_architecture, check_dataset, check_loss

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


def test_conditional_models_take_labels():
    check_architecture("mlp.test", num_classes=3)


def test_contract_check_catches_a_broken_discriminator(install_fake_plugin):
    install_fake_plugin("bad_shape", """
        import ganzoo
        from ganzoo_plugins.mlp import MLPDiscriminator, MLPGenerator, DEFAULTS

        class TwoLogits(MLPDiscriminator):
            def forward(self, x, labels=None):
                return super().forward(x).unsqueeze(1).repeat(1, 2)

        def build(c):
            return (MLPGenerator(8, c["data_shape"], 8, 1), TwoLogits(c["data_shape"], 8, 1))

        @ganzoo.hookimpl
        def ganzoo_register_architectures(register):
            register("bad-shape.test", build, defaults=DEFAULTS)
    """)
    with pytest.raises(AssertionError, match="one logit per input"):
        check_architecture("bad-shape.test")
