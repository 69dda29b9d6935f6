"""Plugin discovery (the built-ins and the `ganzoo` entry-point group), and the registries."""

import importlib
import pkgutil

import pytest

import ganzoo
import ganzoo.plugin.manager
import ganzoo.zoo
from ganzoo.plugin.manager import PluginLoadWarning

GOOD_PLUGIN = """
import ganzoo
from ganzoo.zoo.architectures.mlp import build, DEFAULTS

@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register("third-party-mlp", build, defaults=DEFAULTS)
"""


def test_builtins_register_through_the_same_hooks():
    plugins = {p.name: p for p in ganzoo.plugin.manager.state().plugins}
    mlp = plugins["ganzoo.zoo.architectures.mlp"]
    assert mlp.module == "ganzoo.zoo.architectures.mlp" and mlp.package == "pyganzoo" and mlp.status == "loaded"
    assert ganzoo.plugin.manager.registry("architecture").get("mlp").plugin == "ganzoo.zoo.architectures.mlp"
    # Every module of the zoo that implements a hook is registered (a new built-in needs no reinstall).
    hooked = set()
    for module in pkgutil.walk_packages(ganzoo.zoo.__path__, "ganzoo.zoo."):
        imported = importlib.import_module(module.name)
        if any(name.startswith("ganzoo_register_") for name in vars(imported)):
            hooked.add(module.name)
    builtins = set(ganzoo.plugin.manager.BUILTIN_PLUGINS)
    assert hooked == {m for m in builtins if m.startswith("ganzoo.zoo.")}
    # The training's own users of the lifecycle hooks: schedules and TensorBoard logging.
    assert builtins - hooked == {"ganzoo.training.schedules", "ganzoo.training.tensorboard_log"}


def test_list_with_wildcards():
    assert ganzoo.list_architectures("mlp*") == ["mlp", "mlp.test"]
    assert ganzoo.list_architectures("*.test") == [n for n in ganzoo.list_architectures() if n.endswith(".test")]
    assert {"minimax", "non-saturating", "wasserstein", "wgan-gp", "hinge", "least-squares"} <= set(
        ganzoo.list_losses()
    )
    assert ganzoo.list_losses("*saturating") == ["non-saturating"]
    assert {"ring8", "grid25"} <= set(ganzoo.list_datasets())


def test_create_architecture_returns_models_and_config():
    G, D, config = ganzoo.create_architecture("mlp.test", g_hidden=12)
    assert config["name"] == "mlp.test" and config["g_hidden"] == 12
    assert isinstance(G, ganzoo.Generator) and isinstance(D, ganzoo.Discriminator)
    assert G.net[0].out_features == 12


def test_unknown_name_lists_close_names():
    with pytest.raises(ganzoo.UnknownNameError) as info:
        ganzoo.create_loss("non-saturatin")
    message = str(info.value)
    assert "Unknown loss 'non-saturatin'" in message and "Did you mean: non-saturating" in message
    assert "Registered losses: " in message and "`ganzoo list losses`" in message
    with pytest.raises(ganzoo.GanzooError, match="Did you mean: mlp"):
        ganzoo.create_architecture("mpl")
    with pytest.raises(ganzoo.GanzooError, match="Did you mean: ring8"):
        ganzoo.create_dataset("ring")


def test_bad_architecture_option():
    with pytest.raises(ganzoo.GanzooError, match="has no option 'hidden'.*g_hidden=128"):
        ganzoo.create_architecture("mlp", hidden=3)
    with pytest.raises(ganzoo.GanzooError, match="expects a whole number"):
        ganzoo.create_architecture("mlp", g_hidden=1.5)


def test_env_var_selects_plugins(monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", "")
    ganzoo.plugin.manager.reset()
    assert "mlp" in ganzoo.list_architectures()  # the built-ins, always...
    assert "example-resmlp" not in ganzoo.list_architectures()  # ...and no entry point
    assert "minimax" in ganzoo.list_losses() and "ring8" in ganzoo.list_datasets()
    monkeypatch.setenv("GANZOO_PLUGINS", "example")
    ganzoo.plugin.manager.reset()
    assert "example-resmlp" in ganzoo.list_architectures()


def test_env_var_naming_a_missing_plugin(monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", "example,nosuch")
    ganzoo.plugin.manager.reset()
    with pytest.raises(ganzoo.GanzooError, match="nosuch.*not installed.*Installed plugins: .*example"):
        ganzoo.list_architectures()


def test_third_party_plugin_is_discovered(install_fake_plugin):
    install_fake_plugin("thirdparty_ok", GOOD_PLUGIN)
    assert "third-party-mlp" in ganzoo.list_architectures()
    info = {p.name: p for p in ganzoo.plugin.manager.state().plugins}["thirdparty_ok"]
    assert (info.package, info.version, info.status) == ("thirdparty-ok", "1.0", "loaded")


def test_plugin_that_fails_to_import_is_reported_and_others_work(install_fake_plugin):
    install_fake_plugin("broken_import", "import does_not_exist_anywhere\n")
    with pytest.warns(PluginLoadWarning, match="'broken_import'.*ModuleNotFoundError.*does_not_exist_anywhere"):
        names = ganzoo.list_architectures()
    assert "mlp" in names
    info = {p.name: p for p in ganzoo.plugin.manager.state().plugins}["broken_import"]
    assert info.status == "failed" and "does_not_exist_anywhere" in info.error


def test_plugin_whose_hook_raises_is_dropped_whole(install_fake_plugin):
    install_fake_plugin(
        "raising_hook",
        """
        import ganzoo
        from ganzoo.zoo.architectures.mlp import build, DEFAULTS

        @ganzoo.hookimpl
        def ganzoo_register_architectures(register):
            register("half-registered", build, defaults=DEFAULTS)
            raise RuntimeError("boom in the plugin")
    """,
    )
    with pytest.warns(PluginLoadWarning, match="'raising_hook'.*RuntimeError: boom in the plugin"):
        names = ganzoo.list_architectures()
    assert "half-registered" not in names and "mlp" in names


def test_plugin_with_misspelt_hook_is_rejected(install_fake_plugin):
    install_fake_plugin(
        "misspelt",
        """
        import ganzoo

        @ganzoo.hookimpl
        def ganzoo_register_architecture(register):  # missing the final "s"
            pass
    """,
    )
    with pytest.warns(PluginLoadWarning, match="'misspelt'.*ganzoo_register_architecture"):
        assert "mlp" in ganzoo.list_architectures()


def test_two_plugins_registering_one_name_fail_naming_both(install_fake_plugin):
    install_fake_plugin("dup_a", GOOD_PLUGIN)
    install_fake_plugin("dup_b", GOOD_PLUGIN)
    with pytest.raises(ganzoo.GanzooError, match="'third-party-mlp' is registered twice.*'dup_a'.*'dup_b'"):
        ganzoo.list_architectures()


def test_names_must_be_kebab_case(install_fake_plugin):
    install_fake_plugin("badname", GOOD_PLUGIN.replace("third-party-mlp", "Third_Party"))
    with pytest.raises(ganzoo.GanzooError, match="'badname' registers the architecture name 'Third_Party'"):
        ganzoo.list_architectures()


def test_the_plugin_guide_code_works(install_fake_plugin):
    from conftest import REPO

    from ganzoo.testing import check_architecture, check_loss

    guide = (REPO / "docs" / "plugins.md").read_text()
    code = guide.split("```python\n")[1].split("```")[0]  # the first block: the whole module
    install_fake_plugin("guide_plugin", code)
    assert {"my-gan", "my-gan.test"} <= set(ganzoo.list_architectures("my-gan*"))
    check_architecture("my-gan.test")
    check_loss("my-loss")


FAULTY_PLUGIN = """
import torch
import ganzoo
from ganzoo.zoo.architectures.mlp import DEFAULTS, MLPDiscriminator, MLPGenerator, build


def build_raises(config):
    raise ValueError("forgot to handle data_shape")


def build_wide_generator(config):  # one output too many
    return MLPGenerator(config["latent_dim"], (config["data_shape"][0] + 1,), 8, 1), \\
        MLPDiscriminator(config["data_shape"], 8, 1)


class ColumnDiscriminator(MLPDiscriminator):
    def forward(self, x, labels=None):
        return super().forward(x, labels)[:, None]  # (N, 1): broadcasts against (N,) targets


def build_column_discriminator(config):
    return MLPGenerator(config["latent_dim"], config["data_shape"], 8, 1), \\
        ColumnDiscriminator(config["data_shape"], 8, 1)


def loss_raises():
    raise KeyError("gp_weight")


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register("raising-build", build_raises, defaults=DEFAULTS)
    register("wide-generator", build_wide_generator, defaults=DEFAULTS)
    register("column-discriminator", build_column_discriminator, defaults=DEFAULTS)


@ganzoo.hookimpl
def ganzoo_register_losses(register):
    register("raising-loss", loss_raises)
"""


@pytest.mark.parametrize(
    "arch,loss,message",
    [
        (
            "raising-build",
            "non-saturating",
            "architecture 'raising-build' from plugin 'faulty' \\(package faulty 1.0\\) "
            "failed to build: ValueError: forgot to handle data_shape",
        ),
        ("mlp.test", "raising-loss", "loss 'raising-loss' from plugin 'faulty' .* failed to build: KeyError"),
        (
            "wide-generator",
            "non-saturating",
            "'wide-generator' from plugin 'faulty' .*: its generator returned "
            "\\(2, 3\\) for 2 samples, but the data are \\(2, 2\\)",
        ),
        (
            "column-discriminator",
            "non-saturating",
            "its discriminator returned \\(2, 1\\) for 2 inputs; ganzoo needs one logit per input",
        ),
    ],
    ids=["build-raises", "loss-factory-raises", "generator-wrong-shape", "discriminator-returns-column"],
)
def test_a_faulty_plugin_is_named_before_training(install_fake_plugin, tmp_path, arch, loss, message):
    install_fake_plugin("faulty", FAULTY_PLUGIN)
    with pytest.raises(ganzoo.GanzooError, match=message):
        ganzoo.train(ganzoo.TrainConfig(arch=arch, loss=loss, steps=2, device="cpu"), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before anything was trained


def test_a_faulty_plugin_fails_its_suite_cell_with_the_same_reason(install_fake_plugin, tmp_path):
    from ganzoo.bench.run import run_suite
    from ganzoo.bench.suite import Suite

    install_fake_plugin("faulty", FAULTY_PLUGIN)
    block = {
        "name": "b",
        "architectures": ["column-discriminator", "mlp.test"],
        "losses": ["non-saturating"],
        "data": ["ring8"],
        "seeds": [0],
        "steps": 2,
        "eval_every": 2,
        "batch_size": 8,
        "eval_samples": 100,
    }
    records = run_suite(Suite("s", "", "", [block]), tmp_path / "out", echo=lambda *a: None)
    status = {r["arch"]: r for r in records}
    assert status["mlp.test"]["status"] == "ok"
    assert status["column-discriminator"]["status"] == "failed"
    assert "one logit per input" in status["column-discriminator"]["reason"]
    assert status["column-discriminator"]["error"] == "GanzooError"


def test_a_plugins_training_defaults_may_set_any_field_and_the_user_still_wins(install_fake_plugin, tmp_path):
    """reg_every, update, unroll_steps... were ignored before (only a fixed list of fields took
    plugin defaults); now every field but those naming a run may be defaulted."""
    from ganzoo.training.resolve import resolve

    install_fake_plugin(
        "lazy_reg",
        """
        import ganzoo
        from ganzoo.zoo.architectures.mlp import build, DEFAULTS

        @ganzoo.hookimpl
        def ganzoo_register_architectures(register):
            register("lazy-mlp", build, defaults=DEFAULTS,
                     train_defaults={"reg_every": 16, "update": "simultaneous", "eval_samples": 500, "steps": 7,
                                     "regularizer": "r1", "regularizer_options": {"gamma": 0.5}})
    """,
    )
    resolved = resolve(ganzoo.TrainConfig(arch="lazy-mlp"))
    assert (resolved.reg_every, resolved.update, resolved.eval_samples, resolved.steps) == (16, "simultaneous", 500, 7)
    assert (resolved.regularizer, resolved.regularizer_options) == ("r1", {"gamma": 0.5})  # option tables too
    assert resolve(ganzoo.TrainConfig(arch="lazy-mlp", reg_every=2)).reg_every == 2  # the user's value wins
    assert resolve(ganzoo.TrainConfig(arch="lazy-mlp", regularizer_options={"gamma": 2.0})).regularizer_options == {
        "gamma": 2.0
    }
    assert resolve(ganzoo.TrainConfig(arch="mlp")).reg_every == 1  # the field's fallback
    summary = ganzoo.train(ganzoo.TrainConfig(arch="lazy-mlp", steps=2, device="cpu"), tmp_path / "run", progress=False)
    saved = (tmp_path / "run" / "config.json").read_text()
    assert summary["steps"] == 2 and '"reg_every": 16' in saved and '"update": "simultaneous"' in saved


@pytest.mark.parametrize(
    "defaults, problem",
    [
        ({"reg_evry": 16}, "'reg_evry', which is not a training setting. Did you mean 'reg_every' for 'reg_evry'?"),
        ({"seed": 3}, "training default\\(s\\) seed: they name a run"),
        ({"steps": "many"}, "wrong type: .*steps must be a whole number or None"),
    ],
)
def test_a_training_default_that_is_no_setting_drops_its_plugin_by_name(install_fake_plugin, defaults, problem):
    install_fake_plugin(
        "typo_defaults",
        f"""
        import ganzoo
        from ganzoo.zoo.architectures.mlp import build, DEFAULTS

        @ganzoo.hookimpl
        def ganzoo_register_architectures(register):
            register("typo-mlp", build, defaults=DEFAULTS, train_defaults={defaults!r})
    """,
    )
    with pytest.warns(PluginLoadWarning, match=r"'typo_defaults'.*The architecture 'typo-mlp' sets .*" + problem):
        names = ganzoo.list_architectures()
    assert "typo-mlp" not in names and "mlp" in names
