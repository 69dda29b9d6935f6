"""What each `ganzoo` command does: list, train, sample, eval, bench, theory, report, compare.

`ganzoo.cli` parses the command line and calls these; each returns the exit status.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from ganzoo.bench.external import evaluate_samples
from ganzoo.bench.run import failed_cells, run_suite
from ganzoo.bench.suite import load_suite, suite_rows
from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError
from ganzoo.evaluation.external import SAMPLE_FORMATS, write_samples
from ganzoo.evaluation.extractors import check_given_weights
from ganzoo.evaluation.plan import EVAL_SEED_OFFSET, evaluate, plan_evaluation
from ganzoo.plugin.manager import state
from ganzoo.report.compare import compare
from ganzoo.report.write import write_report
from ganzoo.runs.rundir import RunDir
from ganzoo.theory.lab import run_lab
from ganzoo.theory.lab import write_report as write_theory_report
from ganzoo.training.loop import train
from ganzoo.training.opening import open_dataset, open_reference
from ganzoo.training.resolve import eval_settings, pick_device, validate
from ganzoo.util.files import atomic_write_text
from ganzoo.util.plots import sample_grid, scatter_2d

LIST_KINDS = (
    "architectures",
    "losses",
    "datasets",
    "metrics",
    "regularizers",
    "augmentations",
    "optimizers",
    "recipes",
    "suites",
    "plugins",
)


REGISTRY_OF = {
    "architectures": "architecture",
    "losses": "loss",
    "datasets": "dataset",
    "metrics": "metric",
    "regularizers": "regularizer",
    "augmentations": "augmentation",
    "optimizers": "optimizer",
    "recipes": "recipe",
}


def cmd_list(args) -> int:
    kinds = [args.kind] if args.kind else list(LIST_KINDS)
    out = {}
    for kind in kinds:
        if kind == "plugins":
            out[kind] = [p.as_dict() for p in state().plugins]
        elif kind == "suites":
            out[kind] = suite_rows(args.pattern)
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
            table = [
                (p["name"], f"{p['package']} {p['version']}", p["status"] + (f" ({p['error']})" if p["error"] else ""))
                for p in rows
            ]
        else:
            table = [
                (
                    e["name"] + (f" (v{e['version']})" if e.get("version") else ""),
                    e["plugin"],
                    e["description"] + (f" [needs: {', '.join(e['needs'])}]" if e.get("needs") else ""),
                )
                for e in rows
            ]
        if not table:
            print("  (none)")
        widths = [max((len(r[i]) for r in table), default=0) for i in range(2)]
        for row in table:
            print(f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")
    return 0


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


def flag_of(field_) -> str:
    return field_.metadata["flag"] or "--" + field_.name.replace("_", "-")


#: The TrainConfig fields that `ganzoo eval` also takes: what to measure, and how.
EVAL_FIELDS = (
    "eval_metrics",
    "eval_samples",
    "eval_real_samples",
    "eval_real_split",
    "eval_batch_norm",
    "eval_images",
    "extractor",
    "inception_weights",
)


def config_from_args(args) -> TrainConfig:
    """The TrainConfig fields given on the command line (the others keep their defaults)."""
    given: dict[str, Any] = {}  # each value checked by TrainConfig itself
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
        named = [args.arch, args.loss, args.data]  # a recipe's run is named by it and what the flags change
        what = (
            "-".join(filter(None, [args.recipe, *named]))
            if args.recipe
            else f"{args.arch or 'mlp'}-{args.loss or 'non-saturating'}-{args.data or 'ring8'}"
        )
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


def cmd_sample(args) -> int:
    import torch

    generator, saved, step, kind = RunDir(args.run_dir).load_generator(args.no_ema)
    seed = saved["train"]["seed"] + EVAL_SEED_OFFSET if args.as_eval else args.seed
    rng = torch.Generator().manual_seed(seed)
    out = Path(args.out or Path(args.run_dir) / f"samples-step{step}.png")
    data = saved["data"]
    images = len(generator.output_shape) == 3
    if args.n is None:
        args.n = 64 if images and out.suffix == ".png" else 10_000 if images else 2500
    as_folder = str(args.out or "").endswith(("/", "\\"))
    if out.is_dir() and not as_folder:
        raise GanzooError(
            f"--out '{out}' is a folder. To write the samples there as PNG images, end it with / (--out {out}/); "
            "else name a file: .png for a plot or image grid, .pt, .npz or .npy for the samples."
        )
    if as_folder or (out.suffix in SAMPLE_FORMATS and out.suffix != ".png"):
        written = write_samples(generator.sample(args.n, generator=rng), out, images)
    elif out.suffix == ".png" and "centers" in data:  # a 2D mixture: samples over its modes
        written = out
        scatter_2d(
            generator.sample(args.n, generator=rng),
            torch.tensor(data["centers"]),
            data["std"],
            out,
            f"{saved['train']['arch']} / {saved['train']['loss']} on {data['name']}, step {step}",
        )
    elif out.suffix == ".png" and images:
        written = out
        sample_grid(generator, out, rng, n=args.n)
    else:
        raise GanzooError(
            f"--out must end in .png (a plot or image grid), .pt, .npz or .npy (the samples), or / (a folder of "
            f"PNG images), got '{out}'."
        )
    generator_kind = "EMA" if kind == "ema" else "raw"
    print(f"wrote samples from step {step} ({args.n:,}, {generator_kind} generator, seed {seed}) to {written}")
    return 0


def cmd_eval(args) -> int:
    """Every metric that applies to the run's data (or those asked), on the standard
    sample counts, appended to the run's metrics.jsonl; or, with --samples, to samples made
    elsewhere (bench/external.py)."""
    external = {"--samples": args.samples, "--data": args.data, "--name": args.name, "--out": args.out}
    if args.run_dir is not None and any(v is not None for v in external.values()):
        given = ", ".join(k for k, v in external.items() if v is not None)
        raise GanzooError(
            f"`ganzoo eval {args.run_dir}` evaluates a run, and {given} belong to samples made elsewhere: give a run "
            "directory, or --samples PATH --data NAME --name LABEL --out FOLDER, not both."
        )
    if args.run_dir is None:
        return _eval_samples(args, external)
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


def _eval_samples(args, external: dict) -> int:
    missing = [k for k, v in external.items() if v is None]
    if missing:
        raise GanzooError(
            f"Name a run directory to evaluate, or samples made elsewhere with --samples PATH --data NAME --name LABEL "
            f"--out FOLDER ({', '.join(missing)} missing): e.g. `ganzoo eval --samples samples.npz --data mnist "
            "--name my-gan --out results/external`."
        )
    if args.no_ema:
        raise GanzooError("--no-ema chooses a run's generator weights; samples made elsewhere have none. Drop it.")
    cfg = TrainConfig(
        data=args.data,
        data_options=parse_options(args.data_opt, "--data-opt"),
        data_root=args.data_root,
        **{name: getattr(args, name) for name in EVAL_FIELDS if getattr(args, name) is not None},
    )
    cfg.eval_real_split = cfg.eval_real_split or "train"  # the parser checked the choices; a run's defaults
    cfg.extractor = cfg.extractor or "auto"
    check_given_weights(cfg.inception_weights)
    entry = evaluate_samples(
        args.samples,
        args.out,
        cfg=cfg,
        label=args.name,
        description=args.description,
        seed=args.seed or 0,
        resize=args.resize,
        key=args.samples_key,
        float_range=args.float_range,
        allow_fewer=args.allow_fewer,
        device=args.device or "auto",
    )
    if args.json:
        print(json.dumps(entry, indent=2))
        return 0
    provenance = entry["external"]
    print(f"{args.samples}: {provenance['count']:,} samples (sha256 {provenance['sha256'][:16]}...) as {args.data}'s:")
    for metric, results in entry["final"].items():
        shown = {k: v for k, v in results.items() if k != "histogram"}
        print(f"  {metric}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items()))
    print(f"entry {entry['cell']} written to {args.out} (`ganzoo report {args.out}`, or --external beside a suite)")
    return 0


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
    if args.precision:
        overrides["precision"] = args.precision
    if args.compile:
        overrides["compile"] = True
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
    md, page = write_report(args.results_dir, args.out, papers=args.papers, external=args.external)
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
    text = compare(args.a, args.b, alpha=args.alpha, margins=margins, across=tuple(args.across or ()))
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


def _names(text: str | None) -> list[str] | None:
    """A comma-separated option (--blocks, --data) as a list; None when not given."""
    return [name.strip() for name in text.split(",") if name.strip()] if text else None
