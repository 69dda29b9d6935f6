"""Opening a run directory to train into: a new one, or one to resume, checked against what
is asked (the same experiment; never shortened; a finished run left as it is)."""

from __future__ import annotations

from typing import NamedTuple

from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError
from ganzoo.runs.rundir import RunDir
from ganzoo.training.distributed import Ranks
from ganzoo.training.resolve import Resolved, resolve, resolved


class Opened(NamedTuple):
    cfg: Resolved
    checkpoint: dict | None  # the one to resume from
    finished: dict | None  # the summary of a run that has nothing left to train


def open_run(config: TrainConfig | None, run: RunDir, resume: bool, ranks: Ranks) -> Opened:
    """A run directory to train into: a new one, or one to resume, checked against what is asked."""
    if not resume:
        if run.checkpoint_path.exists():
            raise GanzooError(f"{run} already holds a run. Continue it with --resume, or choose a new --out.")
        return Opened(resolve(config), None, None)  # type: ignore[arg-type]  # a new run is given its config
    if run.path.is_dir() and ranks.main:
        run.lock()
    saved_config = run.read_config()
    run.check_installed(("architecture", "loss", "dataset", "regularizer", "augmentation"), saved_config)
    saved = TrainConfig.from_dict(saved_config["train"])
    cfg = resolved(saved) if config is None else resolve(config)
    check_same_experiment(saved, cfg, run.path)
    if ranks.main:
        run.remove_stale_temporaries()
    checkpoint = run.load_checkpoint()
    done = int(checkpoint["step"])
    if cfg.steps < done:
        raise GanzooError(
            f"{run} has already trained {done} steps; --steps {cfg.steps} would shorten it, and a run "
            f"cannot be untrained. Resume with --steps {done} or more, or sample and evaluate it as it is."
        )
    finished = run.read_summary()
    done_already = cfg.steps == done and finished is not None and done == saved.steps
    return Opened(cfg, checkpoint, finished if done_already else None)


def check_same_experiment(saved: TrainConfig, asked: TrainConfig, out_dir) -> None:
    """A resumed run may change its length and intervals, not what it trains."""
    if saved.lr_schedule != "constant" and asked.steps != saved.steps:
        raise GanzooError(
            f"{out_dir} follows lr-schedule {saved.lr_schedule} over {saved.steps} steps; changing the number "
            f"of steps ({asked.steps}) would change its learning rates. Resume without --steps, or train into "
            "a new --out."
        )
    saved_identity, asked_identity = saved.identity(), asked.identity()
    for key, saved_value in saved_identity.items():
        if asked_identity[key] != saved_value:
            raise GanzooError(
                f"{out_dir} was trained with {key}={saved_value!r}, but this asks for "
                f"{asked_identity[key]!r}. Drop that option to resume, or train into a new --out."
            )
