"""The `ganzoo` command line: list, train, sample.

User errors (`GanzooError`) print one paragraph and exit with status 2, with
no traceback; Ctrl-C during training checkpoints and exits with 130.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import warnings
from pathlib import Path

from . import api
from .config import TrainConfig, read_run_config
from .errors import GanzooError
from .plugins import PluginLoadWarning, state

LIST_KINDS = ("architectures", "losses", "datasets", "plugins")
REGISTRY_OF = {"architectures": "architecture", "losses": "loss", "datasets": "dataset"}


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
            table = [(e["name"], e["plugin"], e["description"]) for e in rows]
        if not table:
            print("  (none)")
        widths = [max((len(r[i]) for r in table), default=0) for i in range(2)]
        for row in table:
            print(f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")
    return 0


# --- train -------------------------------------------------------------------------------

TRAIN_FIELDS = ("arch", "loss", "data", "steps", "batch_size", "n_d", "optimizer", "g_lr", "d_lr",
                "ema_decay", "seed", "device", "log_every", "eval_every", "eval_samples",
                "checkpoint_every", "data_root")


def config_from_args(args) -> TrainConfig:
    given = {name: getattr(args, name) for name in TRAIN_FIELDS if getattr(args, name) is not None}
    if args.betas is not None:
        given["betas"] = tuple(args.betas)
    if args.reg is not None:
        given["regularizer"] = args.reg
    if args.data_on_device:
        given["data_on_device"] = True
    for field, flag in (("arch_options", "--arch-opt"), ("loss_options", "--loss-opt"),
                        ("data_options", "--data-opt"), ("regularizer_options", "--reg-opt")):
        values = parse_options(getattr(args, field), flag)
        if values:
            given[field] = values
    if args.resume:
        # Start from the saved experiment; flags given now override it, and
        # `train` refuses any that would change what is being trained.
        saved = read_run_config(args.out)["train"]
        return TrainConfig.from_dict({**saved, **given})
    return TrainConfig(**given)


def cmd_train(args) -> int:
    from .loop import train

    if args.out is None:
        if args.resume:
            raise GanzooError("--resume needs --out DIR, the run directory to continue.")
        args.out = f"runs/{args.arch or 'mlp'}-{args.loss or 'non-saturating'}-{args.data or 'ring8'}-seed{args.seed or 0}"
    config = config_from_args(args)
    summary = train(config, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"run directory: {summary['out_dir']}")
    for metric, results in summary["metrics"].items():
        print(f"{metric}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in results.items()))
    samples = sorted(Path(args.out, "samples").glob("*.png"))
    if samples:
        print(f"latest samples: {samples[-1]}")
    return 0


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --- sample ------------------------------------------------------------------------------

def cmd_sample(args) -> int:
    import torch

    from .io import atomic_torch_save, load_checkpoint
    from .loop import CHECKPOINT
    from .plots import sample_grid, scatter_2d

    saved = read_run_config(args.run_dir)
    checkpoint = load_checkpoint(Path(args.run_dir) / CHECKPOINT)
    arch = dict(saved["architecture"])
    generator, _, _ = api.create_architecture(arch.pop("name"), **arch)
    use_ema = checkpoint.get("ema") is not None and not args.no_ema
    generator.load_state_dict(checkpoint["ema"] if use_ema else checkpoint["generator"])
    rng = torch.Generator().manual_seed(args.seed)
    step = checkpoint["step"]
    out = Path(args.out or Path(args.run_dir) / f"samples-step{step}.png")
    data = saved["data"]
    if args.n is None:
        args.n = 64 if len(generator.output_shape) == 3 else 2500
    if out.suffix == ".pt":
        atomic_torch_save(generator.sample(args.n, generator=rng), out)
    elif out.suffix == ".png" and "centers" in data:  # a 2D mixture: samples over its modes
        scatter_2d(generator.sample(args.n, generator=rng), torch.tensor(data["centers"]), data["std"], out,
                   f"{saved['train']['arch']} / {saved['train']['loss']} "
                   f"on {data['name']}, step {step}")
    elif out.suffix == ".png" and len(generator.output_shape) == 3:
        sample_grid(generator, out, rng, n=args.n)
    else:
        raise GanzooError(f"--out must end in .png (a plot or image grid) or .pt (the raw tensor), got '{out}'.")
    print(f"wrote samples from step {step} ({'EMA' if use_ema else 'raw'} generator) to {out}")
    return 0


# --- parser ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganzoo", description="A plugin-based zoo of GANs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list registered architectures, losses, data sets, plugins",
                       description="List what the core and the installed plugins register.")
    p.add_argument("kind", nargs="?", choices=LIST_KINDS, help="what to list (default: everything)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'dc*'")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("train", help="train one GAN into a run directory",
                       description="Train one GAN. Options left out take the defaults of the "
                                   "architecture's and loss's papers (see `ganzoo list --json`).")
    p.add_argument("--arch", help="architecture name (default mlp)")
    p.add_argument("--loss", help="loss name (default non-saturating)")
    p.add_argument("--data", help="data set name (default ring8)")
    p.add_argument("--arch-opt", action="append", metavar="KEY=VALUE", dest="arch_options",
                   help="override an architecture option, e.g. g_hidden=256 (repeatable)")
    p.add_argument("--loss-opt", action="append", metavar="KEY=VALUE", dest="loss_options")
    p.add_argument("--data-opt", action="append", metavar="KEY=VALUE", dest="data_options",
                   help="e.g. std=0.1 for ring8")
    p.add_argument("--data-root", help="folder holding local data sets, e.g. ../shared/data "
                                       "(default $GANZOO_DATA_ROOT, else ~/.cache/ganzoo/data)")
    p.add_argument("--data-on-device", action="store_true",
                   help="keep the whole data set on the GPU (fast training when it fits)")
    p.add_argument("--reg", help="extra D regulariser: r1 or gradient-penalty")
    p.add_argument("--reg-opt", action="append", metavar="KEY=VALUE", dest="regularizer_options",
                   help="e.g. gamma=1 for r1")
    p.add_argument("--steps", type=int, help="generator steps")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--n-d", type=int, help="discriminator steps per generator step")
    p.add_argument("--optimizer", choices=("adam", "rmsprop"))
    p.add_argument("--g-lr", type=float)
    p.add_argument("--d-lr", type=float)
    p.add_argument("--betas", type=float, nargs=2, metavar=("BETA1", "BETA2"))
    p.add_argument("--ema-decay", type=float, help="EMA of G's weights, e.g. 0.999 (0: off)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--log-every", type=int)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--eval-samples", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--out", help="run directory (default runs/ARCH-LOSS-DATA-seedN)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Draw samples from a run's latest checkpoint (EMA weights when present).")
    p.add_argument("run_dir")
    p.add_argument("-n", type=int, help="number of samples (default: 2500 points, or a grid of 64 images)")
    p.add_argument("--out", help="file: .png for a plot, .pt for the tensor")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    p.set_defaults(func=cmd_sample)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PluginLoadWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
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


if __name__ == "__main__":
    sys.exit(main())
