"""The example third-party plugin in docs/example-plugin, installed as its own package."""

import importlib.util
import json
import textwrap

import pytest
from conftest import run_cli

import ganzoo

if importlib.util.find_spec("ganzoo_example_plugin") is None:
    pytest.fail(
        "The example plugin is not installed; the README's test command installs it: "
        "pip install -e docs/example-plugin",
        pytrace=False,
    )


def test_it_registers_through_the_entry_point_group():
    plugins = {p.name: p for p in ganzoo.plugin.manager.state().plugins}
    assert plugins["example"].package == "ganzoo-example-plugin" and plugins["example"].status == "loaded"
    assert "example-resmlp" in ganzoo.list_architectures("example-*")
    assert ganzoo.plugin.manager.registry("loss").get("relativistic-average").plugin == "example"


@pytest.mark.slow
def test_both_appear_in_ganzoo_list_and_train(tmp_path):
    listing = run_cli("list")
    assert listing.returncode == 0, listing.stderr
    assert "example-resmlp" in listing.stdout and "relativistic-average" in listing.stdout
    result = run_cli(
        "train",
        "--arch",
        "example-resmlp.test",
        "--loss",
        "relativistic-average",
        "--steps",
        "10",
        "--batch-size",
        "16",
        "--eval-samples",
        "100",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "mode-coverage" in result.stdout and (tmp_path / "run" / "checkpoints" / "latest.pt").exists()


@pytest.mark.slow
def test_its_data_set_metric_and_regulariser_work_in_list_train_bench_and_report(tmp_path):
    """A third-party 2D data set with known modes gets ganzoo's mode coverage (by what it
    offers, not by its class); a third-party metric lands in the results and the report."""
    listing = run_cli("list", "--json")
    assert listing.returncode == 0, listing.stderr
    listed = json.loads(listing.stdout)
    for kind, name in (
        ("datasets", "example-triangle"),
        ("metrics", "example-mode-distance"),
        ("regularizers", "example-drift"),
    ):
        assert any(e["name"] == name and e["plugin"] == "example" for e in listed[kind]), (kind, name)

    suite = tmp_path / "suite.toml"
    suite.write_text(
        textwrap.dedent("""
        name = "example"
        [[block]]
        name = "triangle"
        architectures = ["example-resmlp.test"]
        losses = ["relativistic-average"]
        data = ["example-triangle"]
        seeds = [0]
        steps = 30
        batch_size = 32
        eval_every = 15
        eval_samples = 300
        metrics = ["mode-coverage", "example-mode-distance"]
        train = { regularizer = "example-drift", regularizer_options = { epsilon = 0.01 } }
    """)
    )
    out = tmp_path / "out"
    result = run_cli("bench", str(suite), "--out", str(out), "--device", "cpu", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    run = next((out / "runs").iterdir())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["metric"] for r in records} == {"mode-coverage", "example-mode-distance"}
    coverage = [r for r in records if r["metric"] == "mode-coverage"][-1]
    assert coverage["results"]["num_modes"] == 3 and coverage["protocol"]["data"]["name"] == "example-triangle"
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["regularizer"] == "example-drift"
    report = (out / "report.md").read_text()
    assert "median dist. (std)" in report and "modes" in report
    assert (out / "figures" / "example-triangle-example-mode-distance.png").is_file()


@pytest.mark.slow
def test_its_own_contract_tests_pass_in_one_line():
    """docs/example-plugin/tests_example.py: `contract_tests("example")` checks everything the
    plugin registers, as its author would run it."""
    import subprocess
    import sys

    from conftest import REPO

    tests = REPO / "docs" / "example-plugin" / "tests_example.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tests.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout, result.stdout  # architecture, loss, regulariser, data set, metric, suite


def test_only_when_selected(monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", "")
    ganzoo.plugin.manager.reset()
    assert "example-resmlp" not in ganzoo.list_architectures()
    assert "relativistic-average" not in ganzoo.list_losses()


def test_its_tracker_sees_a_run_through_the_lifecycle_hooks(monkeypatch, tmp_path):
    """The example tracker observes a run as an experiment tracker would: started, log lines,
    evaluations, checkpoints, finished, in that order; its command shows them; its suite runs."""
    log = tmp_path / "tracked.jsonl"
    monkeypatch.setenv("GANZOO_EXAMPLE_TRACKER", str(log))
    ganzoo.plugin.manager.reset()
    ganzoo.train(
        ganzoo.TrainConfig(arch="example-resmlp.test", steps=4, eval_every=2, log_every=2, device="cpu"),
        tmp_path / "run",
        progress=False,
    )
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == [
        "started",
        "checkpoint",
        "evaluation",
        "log",
        "evaluation",
        "checkpoint",
        "log",
        "evaluation",
        "checkpoint",
        "finished",
    ]
    assert events[0]["config"]["arch"] == "example-resmlp.test" and events[-1]["steps"] == 4
    from ganzoo.cli import main as cli

    assert cli.main(["example-tracked", str(log)]) == 0
    from ganzoo.bench.suite import builtin_suites, expand, load_suite

    assert "example-triangle" in builtin_suites()
    assert {c.loss for c in expand(load_suite("example-triangle"), {})} == {"non-saturating", "relativistic-average"}
    assert load_suite("example-triangle").name == "example-triangle"  # the name it is run by, not the file's
    from ganzoo.bench.suite import suite_rows

    rows = {row["name"]: row["plugin"] for row in suite_rows()}
    assert rows["example-triangle"] == "example" and rows["quick"] == "ganzoo"


def test_a_lifecycle_hook_that_raises_stops_the_run_naming_its_plugin(install_fake_plugin, tmp_path):
    install_fake_plugin(
        "bad_tracker",
        """
        import ganzoo

        @ganzoo.hookimpl
        def ganzoo_after_log(run, record):
            raise ConnectionError("the tracking server is down")
    """,
    )
    with pytest.raises(
        ganzoo.GanzooError,
        match=r"Plugin 'bad_tracker' \(package bad-tracker 1.0\) raised "
        r"ConnectionError: the tracking server is down in its "
        r"ganzoo_after_log hook",
    ) as raised:
        ganzoo.train(
            ganzoo.TrainConfig(arch="mlp.test", steps=4, log_every=2, device="cpu"), tmp_path / "run", progress=False
        )
    assert isinstance(raised.value.__cause__, ConnectionError)
    assert (tmp_path / "run" / "checkpoints" / "latest.pt").is_file()  # what was trained before it is kept


def test_a_plugin_acts_on_a_run_through_the_step_hooks(install_fake_plugin, tmp_path):
    """The hooks schedules and ADA use are open to any plugin: one that sets D's learning rate
    before each step, watches D's logits on the reals after each D update and adds a value to
    the training log does all three, as the built-ins do."""
    install_fake_plugin(
        "lr_warmup",
        """
        import ganzoo

        seen = []

        @ganzoo.hookimpl
        def ganzoo_before_step(run, step):
            for group in run.training.d_opt.param_groups:
                group["lr"] = 1e-4 * min(1.0, (step + 1) / 4)

        @ganzoo.hookimpl
        def ganzoo_after_discriminator_step(run, real_logits):
            seen.append(tuple(real_logits.shape))

        @ganzoo.hookimpl
        def ganzoo_log_values(run, step):
            return {"d_lr": run.training.d_opt.param_groups[0]["lr"], "d_updates": len(seen)}
    """,
    )
    ganzoo.train(
        ganzoo.TrainConfig(arch="mlp.test", steps=6, n_d=2, batch_size=16, log_every=2, eval_every=6, device="cpu"),
        tmp_path / "run",
        progress=False,
    )
    lines = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [(r["step"], r["d_lr"], r["d_updates"]) for r in lines] == [(2, 5e-5, 4), (4, 1e-4, 8), (6, 1e-4, 12)]
    import lr_warmup

    assert set(lr_warmup.seen) == {(16,)}  # one logit per real sample, n_d = 2 per step


def test_a_log_value_hook_that_returns_no_dict_is_named(install_fake_plugin, tmp_path):
    install_fake_plugin(
        "bad_values",
        """
        import ganzoo

        @ganzoo.hookimpl
        def ganzoo_log_values(run, step):
            return ["not", "a", "dict"]
    """,
    )
    with pytest.raises(
        ganzoo.GanzooError,
        match=r"Plugin 'bad_values' \(package bad-values 1.0\) returned a "
        r"list from its ganzoo_log_values hook, which must return a dict",
    ):
        ganzoo.train(
            ganzoo.TrainConfig(arch="mlp.test", steps=4, log_every=2, device="cpu"), tmp_path / "run", progress=False
        )
