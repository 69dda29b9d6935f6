"""`ganzoo`'s parser: its commands and options (a TrainConfig field's flag is generated from
its declaration), the plugins' commands, and argparse's errors made helpful."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import warnings
from pathlib import Path
from typing import Any, cast

from ganzoo.bench.suite import builtin_suites, own_suites
from ganzoo.commands import (
    EVAL_FIELDS,
    LIST_KINDS,
    cmd_bench,
    cmd_compare,
    cmd_eval,
    cmd_list,
    cmd_report,
    cmd_sample,
    cmd_theory,
    cmd_train,
    flag_of,
)
from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError
from ganzoo.plugin.manager import Command, PluginLoadWarning, blame, registry


def _whole_number_at_least(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got '{text}'") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {least}, got {text}")
    return value


def positive_int(text: str) -> int:
    return _whole_number_at_least(text, 1)


def whole_number(text: str) -> int:
    return _whole_number_at_least(text, 0)


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got '{text}'") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. 0.05), got {text}")
    return value


def folder(text: str) -> str:
    """An output folder: named, and not an existing file (it is created if missing)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name a folder (it is created if it does not exist)")
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' is a file; name a folder (it is created if missing)")
    return text


def file_path(text: str) -> str:
    """An output file: named, and not an existing folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name the file to write")
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' is a folder; name the file to write")
    return text


def metric_list(text: str) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()]


#: How a TrainConfig field's value is parsed on the command line (`setting(argument=...)`).
ARGUMENT_TYPES = {"positive": positive_int, "whole": whole_number, "float": float, "": str}


def add_config_options(
    p: argparse.ArgumentParser, names: tuple[str, ...] | None = None, helps: dict | None = None
) -> None:
    """One flag per TrainConfig field (or per field in `names`), generated from the field's
    declaration in config.py: its flag, parser, choices and help are written once, there
    (`helps` replaces a help where another command uses the flag differently)."""
    for field_ in dataclasses.fields(TrainConfig):
        meta = field_.metadata
        if meta["cli"] is None or (names is not None and field_.name not in names):
            continue
        kwargs: dict[str, Any] = {"dest": field_.name, "help": (helps or {}).get(field_.name, meta["help"]) or None}
        if meta["cli"] == "switch":
            kwargs["action"] = "store_true"
        elif meta["cli"] == "on-off":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif meta["cli"] == "options":
            kwargs.update(action="append", metavar="KEY=VALUE")
        elif meta["cli"] == "pair":
            kwargs.update(type=float, nargs=2, metavar=meta["metavar"])
        elif meta["cli"] == "names":
            kwargs.update(type=metric_list, metavar=meta["metavar"])
        else:
            kwargs.update(type=ARGUMENT_TYPES[meta["argument"]], choices=meta["choices"], metavar=meta["metavar"])
        p.add_argument(flag_of(field_), **kwargs)


def build_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False: argparse would otherwise read an unknown option as the one option it
    # begins (`--lr 1e-3` as `--lr-schedule 1e-3`), silently where the value fits.
    parser = argparse.ArgumentParser(prog="ganzoo", description="A plugin-based zoo of GANs.", allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "list",
        help="list registered architectures, losses, data sets, plugins",
        description="List what the core and the installed plugins register.",
    )
    p.add_argument("kind", nargs="?", choices=LIST_KINDS, help="what to list (default: everything)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'dc*'")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "train",
        help="train one GAN into a run directory",
        description="Train one GAN. Options left out take the defaults of the "
        "architecture's and loss's papers (see `ganzoo list --json`).",
    )
    add_config_options(p)
    p.add_argument("--out", type=folder, help="run directory (default runs/ARCH-LOSS-DATA-seedN)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "sample",
        help="draw samples from a trained run",
        description="Draw samples from a run's latest checkpoint (EMA weights when present).",
    )
    p.add_argument("run_dir")
    p.add_argument("-n", type=positive_int, help="number of samples (default: 2500 points, or a grid of 64 images)")
    p.add_argument(
        "--out",
        help="where: .png for a plot or image grid; the samples themselves as .pt (the float tensor), .npz or "
        ".npy (images as N x H x W x C uint8, clean-fid's layout; flat data as floats), or a folder of PNG images "
        "(a path ending in /); `ganzoo eval --samples` reads them all",
    )
    p.add_argument("--seed", type=whole_number, default=0)
    p.add_argument(
        "--as-eval",
        action="store_true",
        help="draw exactly the samples `ganzoo eval` on this run measures (its sample seed; -n: the metric's count)",
    )
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "eval",
        help="compute metrics for a trained run, or for samples made elsewhere",
        description="Compute FID, KID, precision/recall, IS and mode/class coverage (those that "
        "apply to the run's data) on the standard sample counts, for the run's latest "
        "checkpoint, and append them to its metrics.jsonl. With --samples instead of a run: "
        "samples made elsewhere (a folder of images, .npz, .npy or .pt), evaluated as the "
        "data set --data's under the same protocol, into a results folder (--out) that "
        "`ganzoo report` and `ganzoo compare` read. See docs/metrics.md.",
    )
    p.add_argument("run_dir", nargs="?", help="a run directory (or --samples)")
    external = p.add_argument_group("samples made elsewhere")
    external.add_argument("--samples", metavar="PATH", help="a folder of PNG/JPEG images, or an .npz, .npy or .pt file")
    external.add_argument(
        "--data", metavar="NAME", help="the data set the samples claim to model (`ganzoo list datasets`)"
    )
    external.add_argument("--data-opt", action="append", metavar="KEY=VALUE", help="a data set option (repeatable)")
    external.add_argument(
        "--name", metavar="LABEL", help="the model's name, e.g. stylegan2-ada-official (its rows' label)"
    )
    external.add_argument("--description", default="", help="what the samples are (recorded with them)")
    external.add_argument("--out", type=folder, help="the results folder the entry joins (created if missing)")
    external.add_argument(
        "--resize",
        choices=("bicubic", "bilinear", "lanczos", "nearest"),
        help="resize images of another size to the data set's with PIL's filter (recorded); default: refuse them",
    )
    external.add_argument(
        "--samples-key",
        metavar="KEY",
        help="the array of an .npz that holds the samples (default: its only one, or arr_0)",
    )
    external.add_argument(
        "--float-range",
        choices=("-1,1", "0,1"),
        default="-1,1",
        help="what float images span (default -1,1; uint8 is 0-255)",
    )
    external.add_argument(
        "--allow-fewer",
        action="store_true",
        help="measure on fewer samples than a metric's standard count (recorded with each result)",
    )
    add_config_options(
        p,
        EVAL_FIELDS,
        helps={
            "eval_metrics": "comma-separated metric names (`ganzoo list metrics`; default: every metric that applies "
            "to the run's data, but fd-dinov2)"
        },
    )
    p.add_argument("--data-root", help="folder holding local data sets (default: the run's)")
    p.add_argument(
        "--seed",
        type=whole_number,
        help="sampling seed (default: the run's, as its evaluations during training); with --samples, which run "
        "of the model they come from (the report's seed, default 0)",
    )
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    p.add_argument("--json", action="store_true", help="print the records as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "bench",
        help="train a suite of cells and report FID, mode coverage, speed",
        description="Run a benchmark suite: every architecture x loss x data set x seed it names, "
        "one cell at a time (or --jobs at once), then write the report. Re-running "
        "the same command resumes, skipping recorded cells. See docs/benchmarks.md.",
    )

    p.add_argument(
        "suite",
        nargs="?",
        default="quick",
        help=f"a built-in suite ({', '.join(_suite_names())}) or a .toml/.yaml suite file (default quick)",
    )
    p.add_argument("--out", type=folder, help="results folder (default results/SUITE)")
    p.add_argument("--jobs", type=positive_int, help="cells run at once (default: one per CPU core on CPU, 1 on a GPU)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--data-root", help="folder holding local data sets, e.g. ../shared/data")
    p.add_argument("--retry-failed", action="store_true", help="run failed cells again")
    p.add_argument(
        "--blocks",
        metavar="NAMES",
        help="run only these blocks of the suite (comma-separated names or wildcards, e.g. "
        "'gan,pacgan*'); the others' cells wait for a later run into the same --out",
    )
    p.add_argument(
        "--data",
        metavar="NAMES",
        help="run only these data sets' cells (comma-separated names or wildcards, e.g. "
        "'fashion-mnist' or 'ring*'); with --blocks, only cells that are in both",
    )
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.add_argument(
        "--tensorboard", action="store_true", help="also log each cell to TensorBoard (runs/CELL/tensorboard)"
    )
    add_config_options(
        p,
        ("precision", "compile"),
        helps={
            "precision": "train every cell in this precision (fp32, bf16, fp16), over the suite's own: part of "
            "each cell's protocol, so use a --out of its own (default: each block's, else fp32)",
        },
    )
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: worker processes on this machine (default); ray: each cell a Ray task "
        "(pip install 'pyganzoo[ray]'; docs/scaling.md)",
    )
    p.add_argument(
        "--ray-address",
        metavar="auto|HOST:PORT",
        help="with --executor ray: the cluster to join (auto: the one this node belongs to); "
        "default: start Ray on this machine",
    )
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "theory",
        help="run the GAN-theory experiments and write their report",
        description="Check the theory behind GANs by experiment, on the CPU in a few minutes: maximum "
        "likelihood = minimum KL, the optimal discriminator, V(G, D*) = -log 4 + 2 JSD, the "
        "fixed point, saturation, disjoint supports, mode collapse. Writes report.md and "
        "report.html; exits with status 1 if a claim does not hold. See docs/theory.md.",
    )
    p.add_argument("--out", type=folder, default="results/theory", help="output folder (default results/theory)")
    p.add_argument("--only", metavar="N,NAME", help="comma-separated experiment numbers or names (default: all 7)")
    p.add_argument("--jobs", type=positive_int, help="experiments run at once (default: one per CPU core, at most 4)")
    p.add_argument("--seed", type=whole_number, default=0, help="seed of the 1D experiments (default 0)")
    p.add_argument(
        "--rerun",
        action="store_true",
        help="run experiments again even when already recorded (experiment 7 "
        "reuses its recorded bench cells: delete OUT/mode-collapse to retrain them)",
    )
    p.set_defaults(func=cmd_theory)

    p = sub.add_parser(
        "report",
        help="write the Markdown and HTML report of bench results",
        description="Write report.md (with figures/) and a self-contained report.html.",
    )
    p.add_argument("results_dir")
    p.add_argument("--out", type=folder, help="folder for the report (default: the results folder)")
    p.add_argument(
        "--papers",
        metavar="FILE",
        help="published numbers to set beside ganzoo's (TOML [[reference]] entries; default: "
        "the built-in suite's own, see ganzoo/suites/papers/)",
    )
    p.add_argument(
        "--external",
        action="append",
        metavar="FOLDER",
        help="a folder of samples made elsewhere (`ganzoo eval --samples ... --out FOLDER`) to set beside the "
        "cells (repeatable)",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "compare",
        help="compare two bench result sets, with the noise across seeds",
        description="For every data set, architecture and loss both result sets have, show each "
        "metric's mean and spread over seeds, the difference, and the verdict engine's "
        "call: B higher or lower (Welch's t-test), agreeing within a --margin (an "
        "equivalence test), or inconclusive; Holm-corrected over all the comparisons.",
    )
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--alpha", type=probability, default=0.05, help="significance level (default 0.05)")
    p.add_argument(
        "--margin",
        action="append",
        metavar="KEY=VALUE",
        help="a result within which A and B count as equivalent, e.g. --margin modes_covered=0.5 or "
        "--margin fid=5%% (of A's mean); repeatable. Without one, agreement is never claimed",
    )
    p.add_argument("--out", type=file_path, help="write the Markdown here instead of printing it")
    p.add_argument(
        "--across",
        action="append",
        metavar="SETTING",
        help="a setting in which A and B differ by design, e.g. --across precision: rows pair as if it were equal "
        "(repeatable)",
    )
    p.set_defaults(func=cmd_compare)
    _add_plugin_commands(sub)
    return parser


def _suite_names() -> list[str]:
    """For the help text: ganzoo's and the plugins' suites (ganzoo's alone while plugins cannot
    load: the command run next says why, in one paragraph)."""
    try:
        return builtin_suites()
    except GanzooError:
        return own_suites()


def _add_plugin_commands(sub) -> None:
    """The commands plugins register (`ganzoo_register_commands`); one whose name ganzoo
    already uses is left out, with a warning naming its plugin."""
    try:
        commands = registry("command").entries
    except GanzooError:  # plugins that cannot load: the command run next says so, in one paragraph
        return
    for name, entry in commands.items():
        if name in sub.choices:
            warnings.warn(
                f"Plugin '{entry.plugin}' registers the command '{name}', which ganzoo already has; "
                "it is left out. Rename it in the plugin.",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        command = cast(Command, entry.factory)
        try:  # on a parser of its own first: one whose options cannot be added breaks no other command
            if command.arguments is not None:
                command.arguments(argparse.ArgumentParser(prog=name, add_help=False))
        except Exception as exc:  # noqa: BLE001 - any plugin bug must not stop the others
            warnings.warn(
                f"Plugin '{entry.plugin}' failed to add the options of its command '{name}' "
                f"({type(exc).__name__}: {exc}); the command is left out, everything else works.",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        p = sub.add_parser(
            name,
            help=entry.description or f"a command of plugin '{entry.plugin}'",
            description=entry.description or None,
        )
        if command.arguments is not None:
            command.arguments(p)
        p.set_defaults(func=functools.partial(_run_plugin_command, command, name))


def _run_plugin_command(command: Command, name: str, args) -> int:
    """A plugin's command; its own bug is named (with its traceback), as during training."""
    try:
        return command.handler(args)
    except (GanzooError, KeyboardInterrupt):
        raise
    except Exception as exc:
        failure = blame(exc, f"running its command `ganzoo {name}`")
        if failure is None:
            raise
        raise failure from exc


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """build_parser()'s commands by name, each with its own parser (argparse keeps them in a
    private attribute; this is the one place that reads it)."""
    group = parser._subparsers
    assert group is not None, "build_parser() adds the commands"
    return cast(dict[str, argparse.ArgumentParser], group._group_actions[0].choices)


def option_names(command: argparse.ArgumentParser) -> list[str]:
    """Every option string a command takes (--out, -n, --help...), in the order declared."""
    return [name for action in command._actions for name in action.option_strings]


class _Parser(argparse.ArgumentParser):
    """A command's parser: options only by their full names (see build_parser)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)


def unknown_options_message(command: argparse.ArgumentParser, unknown: list[str]) -> str:
    """argparse's "unrecognized arguments", with the command's options closest to each unknown one."""
    known = option_names(command)
    hints = []
    for word in unknown:
        name = word.split("=", 1)[0]
        if name.startswith("-"):
            # the options with it as a word (--lr: --g-lr, --d-lr, --lr-schedule), else the nearest spellings
            stem = name.lstrip("-")
            close = [k for k in known if stem and (stem in k.lstrip("-").split("-") or k.lstrip("-").startswith(stem))]
            close = close[:4] or difflib.get_close_matches(name, known, n=3, cutoff=0.7)
            hints.append(
                f"{name} is not an option of `{command.prog}`"
                + (f"; did you mean {' or '.join(close)}?" if close else ".")
            )
    return " ".join(
        [f"unrecognized arguments: {' '.join(unknown)}.", *hints, f"`{command.prog} --help` lists its options."]
    )
