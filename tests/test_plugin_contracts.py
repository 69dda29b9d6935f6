"""Contracts checked where they are declared or first used: each broken plugin gets a
one-paragraph error naming it, never a torch traceback from deep inside the loop; a plugin's
own bug is named with its line, and its traceback is kept for its author."""

import re

import pytest
import torch
from conftest import run_cli

import ganzoo
from ganzoo.plugin.manager import PluginLoadWarning

THREE_COLUMNS = """
import torch
import ganzoo
from ganzoo.core.data import SampledBatches


class ThreeColumns(ganzoo.Dataset):
    name = "three-columns"
    sample_shape = (2,)  # declared; its batches hold 3 columns

    def batches(self, batch_size, device, seed):
        return SampledBatches(lambda n, rng: (torch.randn(n, 3, generator=rng), None), batch_size, device, seed)


@ganzoo.hookimpl
def ganzoo_register_datasets(register):
    register("three-columns", ThreeColumns)
"""

RAISING_ARCH = """
import ganzoo
from ganzoo.zoo.architectures.mlp import DEFAULTS, build as mlp_build


class Faulty(ganzoo.Generator):
    def __init__(self, inner):
        super().__init__(inner.latent_dim, inner.output_shape)
        self.inner = inner

    def forward(self, z, labels=None):
        if self.training:
            raise ZeroDivisionError("the plugin's own bug")
        return self.inner(z, labels)


def build(config):
    G, D = mlp_build(config)
    return Faulty(G), D


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register("faulty-mlp", build, defaults=DEFAULTS)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "draw, problem",
    [
        (
            "(torch.randn(n, 3, generator=rng), None)",
            "its first batch holds samples of shape (3,) where it declares `sample_shape` (2,)",
        ),
        (  # a newcomer's draw that forgot the labels
            "torch.randn(n, 2, generator=rng)",
            "draw(n, rng) returned a tensor of shape (256, 2); it must return a pair (samples, labels)",
        ),
    ],
)
def test_a_data_set_whose_batches_break_its_declaration_is_named_before_anything_is_written(
    install_fake_plugin, tmp_path, draw, problem
):
    site = install_fake_plugin("three_columns", THREE_COLUMNS.replace("(torch.randn(n, 3, generator=rng), None)", draw))
    run = tmp_path / "run"
    result = run_cli(
        "train",
        "--data",
        "three-columns",
        "--steps",
        "2",
        "--out",
        str(run),
        "--no-progress",
        env={"PYTHONPATH": str(site)},
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"The data set 'three-columns' from plugin 'three_columns' (package three-columns 1.0): {problem}" in (
        result.stderr
    )
    assert not (run / "config.json").exists() and not (run / "checkpoints").exists()


def test_a_torch_file_that_is_no_checkpoint_says_so(tmp_path):
    run = tmp_path / "run"
    ganzoo.train(ganzoo.TrainConfig(arch="mlp.test", steps=2, device="cpu"), run, progress=False)
    torch.save({"weights": torch.zeros(3)}, run / "checkpoints" / "latest.pt")
    (run / "checkpoints" / "previous.pt").unlink(missing_ok=True)
    for command in (["train", "--out", str(run), "--resume", "--steps", "4", "--no-progress"], ["eval", str(run)]):
        result = run_cli(*command)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert (
            "is not a ganzoo checkpoint: it lacks 'step', 'generator', 'discriminator' (it holds 'weights')"
            in result.stderr
        )


@pytest.mark.parametrize(
    "attributes, problem",
    [
        ('uses = ("refrence",)', r"uses \['refrence'\], which evaluation does not prepare"),
        ('needs = ("mode",)', r"needs \['mode'\], which no data set can offer"),
        ('columns = (("score", "score", 2),)', r"has the column \('score', 'score', 2\), not a Column"),
    ],
)
def test_a_metric_class_with_broken_declarations_drops_its_plugin(install_fake_plugin, attributes, problem):
    install_fake_plugin(
        "broken_metric",
        f"""
import ganzoo


class Broken(ganzoo.Metric):
    {attributes}

    def compute(self, context):
        return {{"results": {{"score": 1.0}}, "protocol": {{}}}}


@ganzoo.hookimpl
def ganzoo_register_metrics(register):
    register("broken-metric", Broken)
""",
    )
    with pytest.warns(PluginLoadWarning, match=r"'broken_metric'.*The metric 'broken-metric' " + problem):
        names = ganzoo.list_metrics()
    assert "broken-metric" not in names and "fid" in names


def test_a_metric_made_by_a_function_is_checked_when_first_made(install_fake_plugin):
    install_fake_plugin(
        "made_metric",
        """
import ganzoo


def make():
    metric = ganzoo.Metric()
    metric.uses = ("classifer",)
    return metric


@ganzoo.hookimpl
def ganzoo_register_metrics(register):
    register("made-metric", make)
""",
    )
    with pytest.raises(
        ganzoo.GanzooError,
        match=r"The metric 'made-metric' from plugin 'made_metric' .*uses "
        r"\['classifer'\]",
    ):
        ganzoo.create_metric("made-metric")


def test_an_architecture_without_data_shape_drops_its_plugin(install_fake_plugin):
    install_fake_plugin(
        "no_shape",
        """
import ganzoo
from ganzoo.zoo.architectures.mlp import DEFAULTS, build


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register("no-shape", build, defaults={k: v for k, v in DEFAULTS.items() if k != "data_shape"})
""",
    )
    with pytest.warns(PluginLoadWarning, match="'no_shape'.*registered without data_shape and num_classes"):
        assert "no-shape" not in ganzoo.list_architectures()


def test_a_plugins_own_bug_during_training_is_named_with_its_line_and_traceback(install_fake_plugin, tmp_path):
    site = install_fake_plugin("faulty_arch", RAISING_ARCH)
    with pytest.raises(
        ganzoo.GanzooError,
        match=r"Plugin 'faulty_arch' \(package faulty-arch 1.0\) raised "
        r"ZeroDivisionError: the plugin's own bug at .*faulty_arch.*:13 "
        r"\(in forward\), while training",
    ) as raised:
        ganzoo.train(ganzoo.TrainConfig(arch="faulty-mlp", steps=2, device="cpu"), tmp_path / "api", progress=False)
    assert isinstance(raised.value.__cause__, ZeroDivisionError)  # the traceback, kept
    result = run_cli(
        "train",
        "--arch",
        "faulty-mlp",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "cli"),
        "--no-progress",
        env={"PYTHONPATH": str(site)},
    )
    assert result.returncode == 2
    traceback, _, message = result.stderr.rpartition("error: ")
    assert "Traceback" in traceback and "line 13, in forward" in traceback  # for the plugin's author
    assert message.startswith("Plugin 'faulty_arch'") and "bug in that plugin" in message


BAD_DEFAULTS = """
import ganzoo
from ganzoo.zoo.architectures.mlp import build


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register("typo-mlp", build, defaults={"data_shape": (2,), "num_classes": 0}, train_defaults={"batch_sise": 32})
"""


@pytest.mark.slow
def test_a_name_missing_because_its_plugin_failed_to_load_says_so(install_fake_plugin, tmp_path):
    site = install_fake_plugin("typo_plugin", BAD_DEFAULTS)
    result = run_cli(
        "train", "--arch", "typo-mlp", "--steps", "1", "--out", str(tmp_path / "run"), env={"PYTHONPATH": str(site)}
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "Did you mean 'batch_size' for 'batch_sise'? Any TrainConfig field" in result.stderr
    assert ".." not in result.stderr
    assert "Unknown architecture 'typo-mlp'" in result.stderr
    assert "Plugins that failed to load, whose entries are missing: plugin 'typo_plugin'" in result.stderr


NO_TEST_VARIANT = """
import ganzoo
from ganzoo.zoo.architectures.mlp import build


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register("untested-mlp", build, defaults={"data_shape": (2,), "num_classes": 0})
"""


def test_contract_tests_say_why_a_plugin_has_nothing_to_check(install_fake_plugin):
    from ganzoo.testing import contract_tests

    install_fake_plugin("untested", NO_TEST_VARIANT)
    install_fake_plugin("typo_plugin", BAD_DEFAULTS)
    with pytest.warns(PluginLoadWarning):
        ganzoo.list_architectures()
    for plugin, reason in (
        ("untested", "registers the architecture(s) untested-mlp without a tiny `.test` variant"),
        ("typo_plugin", "plugin 'typo_plugin' failed to load (ValueError: The architecture 'typo-mlp' sets"),
        ("no_such_plugin", "no plugin is named 'no_such_plugin'"),
    ):
        with pytest.raises(AssertionError, match=re.escape(reason)):
            contract_tests(plugin)
