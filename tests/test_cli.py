"""The `ganzoo` command as a user runs it: output, files, and errors without tracebacks."""

import json

import pytest
from conftest import REPO, run_cli

from ganzoo.cli.main import main

BROKEN_PLUGIN = "raise ImportError('this plugin is broken on purpose')\n"


def assert_user_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.mark.slow
def test_list_json():
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert "mlp" in [a["name"] for a in listing["architectures"]]
    assert {"minimax", "non-saturating"} <= {loss["name"] for loss in listing["losses"]}
    mlp = next(a for a in listing["architectures"] if a["name"] == "mlp")
    assert mlp["train_defaults"]["batch_size"] == 256 and mlp["plugin"] == "ganzoo.zoo.architectures.mlp"
    result = run_cli("list", "architectures", "*.test")
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert "mlp.test" in names and "mlp" not in names


@pytest.mark.slow
def test_help_everywhere(capsys):
    assert run_cli("--help").returncode == 0  # the installed entry point itself
    for command in (["list"], ["train"], ["sample"], ["eval"], ["bench"], ["report"], ["compare"], ["theory"]):
        with pytest.raises(SystemExit) as done:
            main([*command, "--help"])
        assert done.value.code == 0 and "usage: ganzoo" in capsys.readouterr().out


@pytest.mark.slow
def test_train_then_sample(tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "train",
        "--arch",
        "mlp.test",
        "--data",
        "grid25",
        "--steps",
        "10",
        "--eval-every",
        "5",
        "--eval-samples",
        "100",
        "--out",
        str(out),
        "--no-progress",
        "--data-opt",
        "std=0.1",
    )
    assert result.returncode == 0, result.stderr
    assert "mode-coverage: modes_covered=" in result.stdout and "step-00000010.png" in result.stdout
    assert "metrics: none" not in result.stdout
    assert json.loads((out / "config.json").read_text())["train"]["data_options"] == {"std": 0.1}
    result = run_cli("sample", str(out), "-n", "50", "--out", str(tmp_path / "s.pt"))
    assert result.returncode == 0, result.stderr
    import torch

    assert torch.load(tmp_path / "s.pt", weights_only=True).shape == (50, 2)
    result = run_cli("sample", str(out), "--out", str(tmp_path / "s.png"))
    assert result.returncode == 0 and (tmp_path / "s.png").stat().st_size > 1000
    result = run_cli("train", "--out", str(out), "--resume", "--steps", "15", "--no-progress")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_unknown_names_and_bad_values(tmp_path):
    """Through the installed command, as a user runs it: a clear error, no traceback, exit 2.
    tests/data/bad_inputs.toml holds the full corpus, run in-process (test_bad_inputs.py)."""
    assert_user_error(run_cli("train", "--arch", "mpl"), "Unknown architecture 'mpl'", "Did you mean: mlp")
    assert_user_error(run_cli("sample", str(tmp_path)), "not a ganzoo run directory")
    argparse_error = run_cli("train", "--steps", "many", "--out", str(tmp_path / "x"))
    assert argparse_error.returncode == 2 and "argument --steps: must be a whole number" in argparse_error.stderr
    assert "Traceback" not in argparse_error.stderr and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_corrupt_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", "--arch", "mlp.test", "--steps", "5", "--out", str(out), "--no-progress").returncode == 0
    (out / "checkpoints" / "latest.pt").write_bytes(b"\x00garbage")
    fallback = run_cli("sample", str(out))  # the previous checkpoint (step 4) is kept and good
    assert fallback.returncode == 0 and "Using the previous checkpoint, previous.pt (step 4)" in fallback.stderr
    assert "wrote samples from step 4" in fallback.stdout and "Traceback" not in fallback.stderr
    (out / "checkpoints" / "previous.pt").write_bytes(b"\x00garbage")
    assert_user_error(run_cli("train", "--out", str(out), "--resume"), "is corrupt")
    result = run_cli("sample", str(out))
    assert_user_error(result, "is corrupt")
    assert "weights_only" not in result.stderr  # never advise loading untrusted pickles


@pytest.mark.slow
def test_broken_plugin_is_reported_by_name_and_the_rest_works(install_fake_plugin):
    site = install_fake_plugin("broken_plugin", BROKEN_PLUGIN)
    result = run_cli("list", "architectures", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0 and "mlp" in result.stdout
    assert "warning: Plugin 'broken_plugin' (package broken-plugin) failed to load" in result.stderr
    assert "broken on purpose" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("list", "plugins", env={"PYTHONPATH": str(site)})
    assert "broken_plugin" in result.stdout and "failed (ImportError" in result.stdout


def test_duplicate_plugin_names_are_a_clear_error(install_fake_plugin):
    source = (
        "import ganzoo\nfrom ganzoo.zoo.architectures.mlp import build, DEFAULTS\n"
        "@ganzoo.hookimpl\ndef ganzoo_register_architectures(register):\n"
        "    register('mlp', build, defaults=DEFAULTS)\n"
    )
    site = install_fake_plugin("copycat", source)
    assert_user_error(
        run_cli("list", env={"PYTHONPATH": str(site)}),
        "'mlp' is registered twice: by plugin 'copycat' and by plugin 'ganzoo.zoo.architectures.mlp'",
    )


def test_env_var_limits_plugins():
    result = run_cli("list", "architectures", env={"GANZOO_PLUGINS": ""})
    assert result.returncode == 0 and "mlp" in result.stdout and "example-resmlp" not in result.stdout


def test_output_piped_into_head_closes_quietly():
    import subprocess
    import sys

    result = subprocess.run(
        f"'{sys.executable}' -m ganzoo list | head -1", shell=True, capture_output=True, text=True, timeout=120
    )
    assert result.stdout == "architectures:\n" and "Traceback" not in result.stderr


def test_every_config_field_is_a_flag_and_a_suite_key_declared_once():
    """config.py declares each TrainConfig field once; `ganzoo train`'s flags are generated
    from it, and a flag given on the command line lands in that field."""
    import dataclasses

    from ganzoo.cli.parser import build_parser, commands
    from ganzoo.commands import config_from_args, flag_of
    from ganzoo.core.config import IDENTITY_FIELDS, TrainConfig

    parser = build_parser()
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    train_help = commands(parser)["train"].format_help()
    assert all(flag_of(f) in train_help for f in fields.values() if f.metadata["cli"])
    args = parser.parse_args(
        [
            "train",
            "--arch",
            "dcgan",
            "--steps",
            "7",
            "--betas",
            "0.1",
            "0.9",
            "--reg",
            "r1",
            "--reg-opt",
            "gamma=2",
            "--arch-opt",
            "g_width=8",
            "--channels-last",
            "--eval-metrics",
            "fid,kid",
            "--lr-schedule",
            "linear-decay",
            "--g-lr",
            "0.001",
        ]
    )
    cfg = config_from_args(args)
    assert (cfg.arch, cfg.steps, cfg.betas, cfg.regularizer, cfg.regularizer_options) == (
        "dcgan",
        7,
        (0.1, 0.9),
        "r1",
        {"gamma": 2},
    )
    assert cfg.arch_options == {"g_width": 8} and cfg.channels_last and cfg.eval_metrics == ["fid", "kid"]
    # A flag not given leaves its field unset (None), for the loss's, the architecture's or the field's default.
    assert (cfg.lr_schedule, cfg.g_lr, cfg.tensorboard, cfg.data) == ("linear-decay", 0.001, None, None)
    # Every field but those naming a cell is a suite block key too.
    from ganzoo.bench.suite import BLOCK_KEYS

    assert set(fields) - {"arch", "loss", "data", "seed", "eval_metrics"} <= BLOCK_KEYS
    assert {"arch", "seed", "betas", "regularizer_options", "lr_schedule"} <= set(IDENTITY_FIELDS)
    assert not {"steps", "device", "eval_every", "channels_last"} & set(IDENTITY_FIELDS)
    # channels-last: on, off, or (neither flag) the architecture's choice, resolved from its train defaults.
    off = config_from_args(parser.parse_args(["train", "--arch", "dcgan", "--no-channels-last"]))
    unsaid = config_from_args(parser.parse_args(["train", "--arch", "dcgan"]))
    assert off.channels_last is False and unsaid.channels_last is None
    from ganzoo.training.resolve import resolve

    assert resolve(unsaid).channels_last is True and resolve(off).channels_last is False
    assert resolve(dataclasses.replace(unsaid, arch="mlp")).channels_last is False


def test_an_option_is_taken_only_by_its_full_name_and_a_wrong_one_gets_the_close_names(capsys, tmp_path):
    """argparse's default prefix matching read `--lr 1e-3` as `--lr-schedule 1e-3`; a prefix
    that is a valid value would have changed the run without a word."""
    for argv, hint in [
        (
            ["train", "--lr", "1e-3"],
            "--lr is not an option of `ganzoo train`; did you mean --g-lr or --d-lr or --lr-schedule?",
        ),
        (
            ["train", "--lr-sched", "linear-decay"],
            "--lr-sched is not an option of `ganzoo train`; did you mean --lr-schedule?",
        ),
        (["bench", "--job", "2"], "--job is not an option of `ganzoo bench`; did you mean --jobs?"),
        (["list", "--jsn"], "did you mean --json?"),
    ]:
        with pytest.raises(SystemExit) as done:
            main([*argv, "--out", str(tmp_path / "never")] if argv[0] != "list" else argv)
        err = capsys.readouterr().err
        assert done.value.code == 2 and hint in err and f"ganzoo {argv[0]} --help` lists its options" in err, err
    assert not (tmp_path / "never").exists()


def test_every_option_the_docs_show_exists():
    """Each `--option` after `ganzoo COMMAND` in the README and docs/ is one of that command's
    options, by its full name (abbreviations are refused)."""
    import re

    from ganzoo.cli.parser import build_parser, commands, option_names

    parsers = commands(build_parser())
    options = {name: set(option_names(p)) for name, p in parsers.items()}
    shown, wrong = 0, []
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for command, rest in re.findall(rf"ganzoo ({'|'.join(parsers)})\b([^`\n#|]*)", line):
                for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
                    shown += 1
                    if option not in options[command]:
                        wrong.append(f"{path.relative_to(REPO)}:{number}: ganzoo {command} {option}")
    assert shown > 50 and not wrong, wrong


def test_a_saved_config_from_before_a_setting_existed_takes_its_fallback():
    """Committed Stacked MNIST runs predate `update`, `eval_images`, `reg_every`...: read back,
    they hold the values every run had then, so --resume and `ganzoo eval` work on them."""
    from ganzoo.core.config import TrainConfig
    from ganzoo.runs.rundir import RunDir
    from ganzoo.training.resolve import resolve

    run = REPO / "docs" / "results" / "reproduce-stacked-mnist" / "runs"
    saved = RunDir(next(run.iterdir())).read_config()["train"]
    assert "update" not in saved and "eval_images" not in saved
    cfg = TrainConfig.from_dict(saved)
    assert (cfg.update, cfg.eval_images, cfg.reg_every, cfg.channels_last) == ("alternating", "uint8", 1, False)
    assert resolve(cfg).identity() == cfg.identity()


def test_a_plugin_command_that_breaks_is_named_and_the_others_work(install_fake_plugin):
    site = install_fake_plugin(
        "cmds",
        """
        import ganzoo

        def bad_options(parser):
            raise RuntimeError("no options today")

        def crash(args):
            return 1 // 0

        @ganzoo.hookimpl
        def ganzoo_register_commands(register):
            register("cmds-broken", lambda args: 0, arguments=bad_options)
            register("cmds-crash", crash, help="divides by zero")
    """,
    )
    result = run_cli("list", "losses", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0 and "minimax" in result.stdout
    assert "Plugin 'cmds' failed to add the options of its command 'cmds-broken'" in result.stderr
    result = run_cli("cmds-crash", env={"PYTHONPATH": str(site)})
    assert result.returncode == 2 and "ZeroDivisionError" in result.stderr
    assert "error: Plugin 'cmds' (package cmds 1.0) raised ZeroDivisionError" in result.stderr
    assert "running its command `ganzoo cmds-crash`" in result.stderr
