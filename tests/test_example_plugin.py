"""The example third-party plugin in docs/example-plugin, installed as its own package."""

import importlib.util

import pytest

import ganzoo
from conftest import run_cli

if importlib.util.find_spec("ganzoo_example_plugin") is None:
    pytest.fail("The example plugin is not installed; the README's test command installs it: "
                "pip install -e docs/example-plugin", pytrace=False)


def test_it_registers_through_the_entry_point_group():
    plugins = {p.name: p for p in ganzoo.plugins.state().plugins}
    assert plugins["example"].package == "ganzoo-example-plugin" and plugins["example"].status == "loaded"
    assert "example-resmlp" in ganzoo.list_architectures("example-*")
    assert ganzoo.plugins.registry("loss").get("relativistic").plugin == "example"


def test_both_appear_in_ganzoo_list_and_train(tmp_path):
    listing = run_cli("list")
    assert listing.returncode == 0, listing.stderr
    assert "example-resmlp" in listing.stdout and "relativistic" in listing.stdout
    result = run_cli("train", "--arch", "example-resmlp.test", "--loss", "relativistic", "--steps", "10",
                     "--batch-size", "16", "--eval-samples", "100", "--out", str(tmp_path / "run"), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "mode-coverage" in result.stdout and (tmp_path / "run" / "checkpoints" / "latest.pt").exists()


def test_only_when_selected(monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", "mlp")
    ganzoo.plugins.reset()
    assert "example-resmlp" not in ganzoo.list_architectures()
    assert "relativistic" not in ganzoo.list_losses()
