"""Recipes: a paper's whole training configuration by name, from the CLI, the API and suites."""

import json
import textwrap

import pytest

import ganzoo
from ganzoo.bench.run import run_suite
from ganzoo.bench.suite import expand, load_suite
from ganzoo.cli import main as cli
from ganzoo.plugin.api import recipe_entry
from ganzoo.plugin.manager import PluginLoadWarning
from ganzoo.report.write import write_report
from ganzoo.training.resolve import resolve

PAPERS = {
    "r3gan-cifar10",
    "stylegan2-cifar10",
    "biggan-cifar10",
    "sngan-cifar10",
    "pacgan-2d",
    "unrolled-gan-stacked-mnist",
}


@pytest.mark.parametrize("name", ganzoo.list_recipes())
def test_every_recipe_resolves_to_registered_entries(name):
    """A recipe names entries that exist and values a resolved config accepts; what it leaves
    out comes from its architecture's and loss's training defaults."""
    entry = recipe_entry(name)
    cfg = resolve(ganzoo.TrainConfig(recipe=name))
    assert (cfg.arch, cfg.loss, cfg.data) == tuple(
        entry.defaults.get(k, getattr(cfg, k)) for k in ("arch", "loss", "data")
    )
    assert cfg.arch in ganzoo.list_architectures() and cfg.loss in ganzoo.list_losses()
    assert cfg.data in ganzoo.list_datasets()
    arch_defaults = ganzoo.plugin.api.architecture_entry(cfg.arch).train_defaults
    for key, value in arch_defaults.items():  # the paper's batch, rates and betas, unless the recipe says
        if key not in entry.defaults and key not in ganzoo.plugin.api.loss_entry(cfg.loss).train_defaults:
            assert getattr(cfg, key) == value, key
    assert entry.version and entry.description and entry.paper


def test_the_papers_recipes_ship():
    assert PAPERS <= set(ganzoo.list_recipes())


def test_flags_win_over_a_recipe_and_option_tables_merge():
    cfg = resolve(
        ganzoo.TrainConfig(recipe="pacgan-2d", arch_options={"pack": 3, "bn_groups": 3}, batch_size=300, data="grid25")
    )
    assert (cfg.arch, cfg.loss, cfg.data, cfg.update) == ("pacgan-mlp", "non-saturating", "grid25", "simultaneous")
    assert cfg.arch_options == {"pack": 3, "bn_groups": 3} and cfg.batch_size == 300 and cfg.steps == 400_000
    r3gan = resolve(ganzoo.TrainConfig(recipe="r3gan-cifar10", schedules={"lr": "cosine:1e-4:1e-5:1e6"}))
    assert r3gan.schedules["lr"] == "cosine:1e-4:1e-5:1e6" and r3gan.schedules["beta2"].startswith("cosine:0.9")
    assert (r3gan.regularizer, r3gan.augment, r3gan.batch_size) == ("r1,r2", "diffaugment", 512)


def test_a_recipe_trains_from_the_command_line_and_the_run_records_it(tmp_path, capsys):
    out = tmp_path / "run"
    status = cli.main(
        [
            "train",
            "--recipe",
            "pacgan-2d",
            "--steps",
            "4",
            "--eval-every",
            "4",
            "--batch-size",
            "20",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert status == 0, capsys.readouterr().err
    capsys.readouterr()
    saved = json.loads((out / "config.json").read_text())
    assert saved["train"]["recipe"] == "pacgan-2d" and saved["train"]["arch"] == "pacgan-mlp"
    assert saved["train"]["update"] == "simultaneous" and saved["train"]["arch_options"]["bn_groups"] == 2
    assert saved["provenance"]["recipe"] == {
        "name": "pacgan-2d",
        "plugin": "ganzoo.zoo.recipes",
        "package": "pyganzoo",
        "version": saved["provenance"]["loss"]["version"],
        "recipe_version": "1",
    }
    assert cli.main(["list", "recipes", "--json"]) == 0
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["pacgan-2d"]["settings"]["update"] == "simultaneous" and listed["pacgan-2d"]["version"] == "1"


def test_a_misspelt_recipe_gets_the_close_names(tmp_path):
    with pytest.raises(ganzoo.UnknownNameError, match="pacgan-2d"):
        resolve(ganzoo.TrainConfig(recipe="pacgan2d"))


def test_a_suite_block_may_name_a_recipe_for_its_cells(tmp_path):
    suite_file = tmp_path / "recipe.toml"
    suite_file.write_text(
        textwrap.dedent("""
        name = "recipe"
        [[block]]
        name = "pacgan"
        recipe = "pacgan-2d"
        seeds = [0]
        steps = 4
        eval_every = 4
        batch_size = 20
        device = "cpu"
    """)
    )
    suite = load_suite(str(suite_file))
    [cell] = expand(suite, {})
    assert (cell.arch, cell.loss, cell.data) == ("pacgan-mlp", "non-saturating", "ring8-pacgan")
    [record] = run_suite(suite, tmp_path / "results", echo=lambda *_: None)
    assert record["status"] == "ok" and record["setting"]["recipe"] == "pacgan-2d"
    markdown, _ = write_report(tmp_path / "results")
    assert "Recipes: `pacgan-2d` version 1" in markdown.read_text()


def test_a_recipe_with_a_setting_that_does_not_exist_drops_its_plugin(install_fake_plugin):
    install_fake_plugin(
        "bad_recipe",
        """
        import ganzoo

        @ganzoo.hookimpl
        def ganzoo_register_recipes(register):
            register("my-recipe", {"arch": "mlp", "g_lrate": 1e-3})
    """,
    )
    with pytest.warns(
        PluginLoadWarning,
        match="'bad_recipe'.*The recipe 'my-recipe' sets recipe settings 'g_lrate'.*Did you mean 'g_lr'",
    ):
        names = ganzoo.list_recipes()
    assert "my-recipe" not in names and "pacgan-2d" in names


def test_a_cells_hash_covers_what_its_recipe_trains(monkeypatch, tmp_path):
    """A recipe whose settings change retires the cells trained with it, as a changed block does."""
    suite_file = tmp_path / "recipe.toml"
    suite_file.write_text('name = "r"\n[[block]]\nrecipe = "pacgan-2d"\nseeds = [0]\nsteps = 4\n')
    [cell] = expand(load_suite(str(suite_file)), {})
    before = cell.protocol_sha
    entry = recipe_entry("pacgan-2d")
    monkeypatch.setattr(entry, "defaults", {**entry.defaults, "batch_size": 400})
    assert cell.protocol_sha != before
