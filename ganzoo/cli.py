"""The `ganzoo` command line: list, train, sample, eval, bench, theory, report, compare.

User errors (`GanzooError`) print one paragraph and exit with status 2, with
no traceback; Ctrl-C during training checkpoints and exits with 130.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import errno
import json
import os
import sys
import traceback
import warnings
from pathlib import Path

from ganzoo.bench.run import failed_cells, run_suite
from ganzoo.bench.suite import SUITES_DIR, builtin_suites, load_suite
from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError, PluginError
from ganzoo.evaluation.extractors import check_given_weights
from ganzoo.evaluation.plan import EVAL_SEED_OFFSET, evaluate, plan_evaluation
from ganzoo.plugin.manager import PluginLoadWarning, registry, state
from ganzoo.report.compare import compare
from ganzoo.report.write import write_report
from ganzoo.runs.rundir import RunDir
from ganzoo.theory.lab import run_lab
from ganzoo.theory.lab import write_report as write_theory_report
from ganzoo.training import distributed
from ganzoo.training.loop import train
from ganzoo.training.opening import open_dataset, open_reference
from ganzoo.training.resolve import eval_settings, pick_device, validate
from ganzoo.util.files import atomic_torch_save, atomic_write_text
from ganzoo.util.plots import sample_grid, scatter_2d

LIST_KINDS = ("architectures", "losses", "datasets", "metrics", "regularizers", "augmentations", "optimizers",
              "recipes", "plugins")
REGISTRY_OF = {"architectures": "architecture", "losses": "loss", "datasets": "dataset", "metrics": "metric",
               "regularizers": "regularizer", "augmentations": "augmentation", "optimizers": "optimizer",
               "recipes": "recipe"}


def parse_options(pairs: list[str] | None, flag: str) -> dict:
    """`["hidden=64", "name=x"]` -> `{"hidden": 64, "name": "x"}` (Python literals, else strings)."""
    options = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise GanzooError(f"{flag} expects KEY=VALUE (for example {flag} std=0.1), got '{pair}'.")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        options[key.strip().replace("-", "_")] = value
    return options


# Argument types: a bad value is refused by argparse (usage and one line, exit 2), before
# anything is read or written.

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


# --- list --------------------------------------------------------------------------------

def cmd_list(args) -> int:
    kinds = [args.kind] if args.kind else list(LIST_KINDS)
    out = {}
    for kind in kinds:
        if kind == "plugins":
            out[kind] = [p.as_dict() for p in state().plugins]
        else:
            reg = state().registries[REGISTRY_OF[kind]]
            out[kind] = [reg.entries[name].info() for name in reg.names(args.pattern)]
    if args.json:
        print(json.dumps(out if len(kinds) > 1 else out[kinds[0]], indent=2, default=list))
        return 0
    for kind in kinds:
        print(f"{kind}:")
        rows = out[kind]
        if kind == "plugins":
            table = [(p["name"], f"{p['package']} {p['version']}",
                      p["status"] + (f" ({p['error']})" if p["error"] else "")) for p in rows]
        else:
            table = [(e["name"] + (f" (v{e['version']})" if e.get("version") else ""), e["plugin"], e["description"]
                      + (f" [needs: {', '.join(e['needs'])}]" if e.get("needs") else "")) for e in rows]
        if not table:
            print("  (none)")
        widths = [max((len(r[i]) for r in table), default=0) for i in range(2)]
        for row in table:
            print(f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")
    return 0


# --- train -------------------------------------------------------------------------------

def metric_list(text: str) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()]


#: How a TrainConfig field's value is parsed on the command line (`setting(argument=...)`).
ARGUMENT_TYPES = {"positive": positive_int, "whole": whole_number, "float": float, "": str}
#: The TrainConfig fields that `ganzoo eval` also takes: what to measure, and how.
EVAL_FIELDS = ("eval_metrics", "eval_samples", "eval_real_samples", "eval_real_split", "eval_batch_norm",
               "eval_images", "extractor", "inception_weights")


def flag_of(field_) -> str:
    return field_.metadata["flag"] or "--" + field_.name.replace("_", "-")


def add_config_options(p: argparse.ArgumentParser, names: tuple[str, ...] | None = None,
                       helps: dict | None = None) -> None:
    """One flag per TrainConfig field (or per field in `names`), generated from the field's
    declaration in config.py: its flag, parser, choices and help are written once, there
    (`helps` replaces a help where another command uses the flag differently)."""
    for field_ in dataclasses.fields(TrainConfig):
        meta = field_.metadata
        if meta["cli"] is None or (names is not None and field_.name not in names):
            continue
        kwargs = {"dest": field_.name, "help": (helps or {}).get(field_.name, meta["help"]) or None}
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


def config_from_args(args) -> TrainConfig:
    """The TrainConfig fields given on the command line (the others keep their defaults)."""
    given = {}
    for field_ in dataclasses.fields(TrainConfig):
        kind, value = field_.metadata["cli"], getattr(args, field_.name, None)
        if kind is None or value is None or (value is False and kind != "on-off"):
            continue
        if kind == "options":
            value = parse_options(value, flag_of(field_))
            if not value:
                continue
        elif kind == "pair":
            value = tuple(value)
        given[field_.name] = value
    if args.resume:
        # Start from the saved experiment; flags given now override it, and
        # `train` refuses any that would change what is being trained.
        saved = RunDir(args.out).read_config()["train"]
        return TrainConfig.from_dict({**saved, **given})
    return TrainConfig(**given)


def cmd_train(args) -> int:
    if args.out is None:
        if args.resume:
            raise GanzooError("--resume needs --out DIR, the run directory to continue.")
        what = args.recipe or f"{args.arch or 'mlp'}-{args.loss or 'non-saturating'}-{args.data or 'ring8'}"
        name = f"{what}-seed{args.seed or 0}"
        args.out = f"runs/{name}"
    config = config_from_args(args)
    summary = train(config, args.out, resume=args.resume, progress=not args.no_progress)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for the run
        return 0
    print(f"run directory: {summary['out_dir']}")
    for metric, results in summary["metrics"].items():
        print(f"{metric}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in results.items()))
    samples = RunDir(args.out).sample_pictures()
    if samples:
        print(f"latest samples: {samples[-1]}")
    if not summary["metrics"] and config.eval_metrics is None:
        # Image data get sample grids only while training (FID & co. cost more than a short run).
        print(
            f"metrics: none during training by default for this data; `ganzoo eval {summary['out_dir']}` "
            "computes them for the latest checkpoint, and --eval-metrics (e.g. fid) during training"
        )
    return 0


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --- sample ------------------------------------------------------------------------------


def cmd_sample(args) -> int:
    import torch

    generator, saved, step, kind = RunDir(args.run_dir).load_generator(args.no_ema)
    rng = torch.Generator().manual_seed(args.seed)
    out = Path(args.out or Path(args.run_dir) / f"samples-step{step}.png")
    data = saved["data"]
    if args.n is None:
        args.n = 64 if len(generator.output_shape) == 3 else 2500
    if out.suffix == ".pt":
        atomic_torch_save(generator.sample(args.n, generator=rng), out)
    elif out.suffix == ".png" and "centers" in data:  # a 2D mixture: samples over its modes
        scatter_2d(
            generator.sample(args.n, generator=rng),
            torch.tensor(data["centers"]),
            data["std"],
            out,
            f"{saved['train']['arch']} / {saved['train']['loss']} on {data['name']}, step {step}",
        )
    elif out.suffix == ".png" and len(generator.output_shape) == 3:
        sample_grid(generator, out, rng, n=args.n)
    else:
        raise GanzooError(f"--out must end in .png (a plot or image grid) or .pt (the raw tensor), got '{out}'.")
    print(f"wrote samples from step {step} ({'EMA' if kind == 'ema' else 'raw'} generator) to {out}")
    return 0


# --- eval --------------------------------------------------------------------------------


def cmd_eval(args) -> int:
    """Every metric that applies to the run's data (or those asked), on the standard
    sample counts, appended to the run's metrics.jsonl."""

    run = RunDir(args.run_dir)
    generator, saved, step, kind = run.load_generator(args.no_ema)
    run.check_installed(("dataset",), saved)
    cfg = TrainConfig.from_dict(saved["train"])
    for name in ("data_root", "extractor", "inception_weights", "eval_real_split", "eval_batch_norm", "eval_images"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    validate(cfg)
    check_given_weights(cfg.inception_weights)
    settings = dataclasses.replace(
        eval_settings(cfg),
        metrics=args.eval_metrics,
        num_samples=args.eval_samples,
        real_samples=args.eval_real_samples,
    )
    device = pick_device(args.device or "auto")
    generator.to(device)
    dataset = open_dataset(cfg)
    plan = plan_evaluation(dataset, settings, lambda split: open_reference(cfg, dataset, split), for_training=False)
    seed = cfg.seed if args.seed is None else args.seed
    records = evaluate(generator, dataset, step, run.sample_picture(step), seed=seed, generator_kind=kind, plan=plan)
    for record in records:
        record["source"] = "ganzoo eval"
        record["protocol"]["device"] = str(device)
        run.append_metrics(record)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    print(f"{args.run_dir}, step {step} ({kind} generator, sample seed {seed + EVAL_SEED_OFFSET}):")
    for record in records:
        shown = {k: v for k, v in record["results"].items() if k != "histogram"}
        print(f"  {record['metric']}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items()))
    print(f"appended {len(records)} records to {run.metrics_path}")
    return 0


# --- bench, report, compare ---------------------------------------------------------------


def cmd_bench(args) -> int:
    if args.ray_address and args.executor != "ray":
        raise GanzooError(
            "--ray-address names the Ray cluster of --executor ray; add --executor ray, or drop "
            "--ray-address to run the cells here."
        )
    suite = load_suite(args.suite)
    overrides = {}
    if args.device:
        overrides["device"] = args.device
    if args.data_root:
        overrides["data_root"] = args.data_root
    if args.tensorboard:
        overrides["tensorboard"] = True
    jobs = args.jobs
    if jobs is None:  # small CPU models use one core each well; a GPU runs one cell at a time
        jobs = 1 if pick_device(args.device or "auto").type != "cpu" else max(1, os.cpu_count() or 1)
    if jobs < 1:
        raise GanzooError(f"--jobs must be at least 1, got {jobs}.")
    out = Path(args.out or Path("results") / suite.name)
    try:
        run_suite(
            suite,
            out,
            overrides=overrides,
            jobs=jobs,
            retry_failed=args.retry_failed,
            executor=args.executor,
            ray_address=args.ray_address,
            blocks=_names(args.blocks),
            data=_names(args.data),
        )
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"interrupted; finished cells are recorded in {out}. Run the same command again to resume."
        ) from None
    if not args.no_report:
        md, page = write_report(out)
        print(f"report: {md}\n        {page}")
    failed = failed_cells(out, suite, overrides)
    if failed:
        print(
            f"{len(failed)} cell(s) failed: {', '.join(r['cell'] for r in failed[:5])}"
            f"{' ...' if len(failed) > 5 else ''}. Their reasons are in {out / 'results.jsonl'} and the "
            "report; fix the cause and run the same command with --retry-failed.",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_report(args) -> int:
    md, page = write_report(args.results_dir, args.out, papers=args.papers)
    print(f"report: {md}\n        {page}")
    return 0


def cmd_compare(args) -> int:
    margins = parse_options(args.margin, "--margin")
    for key, margin in margins.items():
        if not (
            isinstance(margin, (int, float))
            and not isinstance(margin, bool)
            and margin > 0
            or isinstance(margin, str)
            and margin.endswith("%")
            and margin[:-1].replace(".", "", 1).isdigit()
        ):
            raise GanzooError(
                f"--margin {key}={margin}: a margin is a positive number (--margin modes_covered=0.5) "
                "or a percentage of A's mean (--margin fid=5%)."
            )
    text = compare(args.a, args.b, alpha=args.alpha, margins=margins)
    if args.out:
        atomic_write_text(args.out, text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def cmd_theory(args) -> int:
    only = [item.strip() for item in args.only.split(",") if item.strip()] if args.only else None
    out = Path(args.out)
    try:
        records = run_lab(out, only=only, jobs=args.jobs, seed=args.seed, rerun=args.rerun)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"interrupted; finished experiments are recorded in {out}. Run the same command again to resume."
        ) from None
    md, page = write_theory_report(out)  # every experiment recorded there, not only those run now
    failed = [r for r in records if not r["passed"]]
    print(
        f"{len(records) - len(failed)} of {len(records)} claims hold"
        + (": " + ", ".join(f"{r['number']}. {r['title']} does not" for r in failed) if failed else ".")
    )
    print(f"report: {md}\n        {page}")
    return 1 if failed else 0


# --- parser ------------------------------------------------------------------------------


def _names(text: str | None) -> list[str] | None:
    """A comma-separated option (--blocks, --data) as a list; None when not given."""
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


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
    p.add_argument("--out", type=file_path, help="file: .png for a plot, .pt for the tensor")
    p.add_argument("--seed", type=whole_number, default=0)
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "eval",
        help="compute metrics for a trained run",
        description="Compute FID, KID, precision/recall, IS and mode/class coverage (those that "
        "apply to the run's data) on the standard sample counts, for the run's latest "
        "checkpoint, and append them to its metrics.jsonl. See docs/metrics.md.",
    )
    p.add_argument("run_dir")
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
        "--seed", type=whole_number, help="sampling seed (default: the run's, as its evaluations during training)"
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
    p.set_defaults(func=cmd_compare)
    _add_plugin_commands(sub)
    return parser


def _suite_names() -> list[str]:
    """For the help text: ganzoo's and the plugins' suites (ganzoo's alone while plugins cannot
    load: the command run next says why, in one paragraph)."""
    try:
        return builtin_suites()
    except GanzooError:
        return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def _add_plugin_commands(sub) -> None:
    """The commands plugins register (`ganzoo_register_commands`); one whose name ganzoo
    already uses is left out, with a warning naming its plugin."""
    try:
        commands = registry("command").entries
    except GanzooError:  # plugins that cannot load: the command run next says so, in one paragraph
        return
    for name, entry in commands.items():
        if name in sub.choices:
            warnings.warn(f"Plugin '{entry.plugin}' registers the command '{name}', which ganzoo already has; "
                          "it is left out. Rename it in the plugin.", PluginLoadWarning, stacklevel=2)
            continue
        p = sub.add_parser(name, help=entry.description or f"a command of plugin '{entry.plugin}'",
                           description=entry.description or None)
        if entry.factory.arguments is not None:
            entry.factory.arguments(p)
        p.set_defaults(func=entry.factory.handler)


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """build_parser()'s commands by name, each with its own parser (argparse keeps them in a
    private attribute; this is the one place that reads it)."""
    return parser._subparsers._group_actions[0].choices


def option_names(command: argparse.ArgumentParser) -> list[str]:
    """Every option string a command takes (--out, -n, --help...), in the order declared."""
    return [name for action in command._actions for name in action.option_strings]


class _Parser(argparse.ArgumentParser):
    """A command's parser: options only by their full names (see build_parser)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)


def _unknown_options(command: argparse.ArgumentParser, unknown: list[str]) -> str:
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


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PluginLoadWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning  # before the parser: it loads the plugins (their commands)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = commands(parser).get(args.command, parser)
        command.error(_unknown_options(command, unknown))  # usage and the message, exit status 2
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except PluginError as exc:  # a plugin's own bug: its traceback, for its author, then who to tell
        if exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GanzooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"\n{exc or 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`ganzoo list | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        advice = FILE_SYSTEM_ADVICE.get(exc.errno)
        if advice is None:
            raise  # not a place the user chose: a bug, keep its traceback
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"error: cannot write{where}: {exc.strerror}. {advice} Nothing written before this is lost: "
            "checkpoints and results are replaced whole, and a run resumes from its last checkpoint.",
            file=sys.stderr,
        )
        return 2


def entry_point() -> None:
    """`ganzoo` and `python -m ganzoo` (torchrun's workers too): main(), then leave the process."""
    try:
        code = main()
    except BaseException as exc:
        if not distributed.joined_a_group():
            raise
        if not isinstance(exc, SystemExit):  # a bug: its traceback
            traceback.print_exc()
            code = 1
        elif exc.code is None or isinstance(exc.code, int):  # argparse's, or a plugin's sys.exit: its status
            code = exc.code or 0
        else:  # sys.exit("message") prints it, as the interpreter would
            print(exc.code, file=sys.stderr)
            code = 1
    distributed.leave(code)


#: What to do when the file system refuses a write (the output folder is the user's choice).
FILE_SYSTEM_ADVICE = {
    errno.ENOSPC: "The disk is full: free some space, or pass an --out on another disk.",
    errno.EDQUOT: "The disk quota is used up: free some space, or pass an --out elsewhere.",
    errno.EROFS: "That file system is read-only: pass an --out you can write to.",
    errno.EACCES: "Permission denied: pass an --out you can write to, or fix the folder's permissions.",
    errno.EPERM: "Permission denied: pass an --out you can write to, or fix the folder's permissions.",
    errno.ENOTDIR: "A part of that path is a file, not a folder: pass an --out that names a folder.",
    errno.EISDIR: "That path is a folder where a file belongs: pass another --out.",
}


if __name__ == "__main__":
    entry_point()
