"""What a plugin observing a run is handed: `RunContext`, passed to every lifecycle hook
(`ganzoo_run_started`, `ganzoo_after_step`, `ganzoo_after_log`, `ganzoo_after_evaluation`,
`ganzoo_after_checkpoint`, `ganzoo_run_finished`; see `ganzoo.plugin.hookspecs`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ganzoo.core.config import TrainConfig


@dataclass
class RunContext:
    """One run, as its lifecycle hooks see it."""

    config: TrainConfig  # resolved: every setting filled
    out_dir: Path  # the run directory
    start_step: int  # 0, or the step a resumed run starts from
    # ganzoo.training.players.Training (in an ensemble, this seed's own): G, D, their optimisers,
    # the batches, the augmentation (read them; do not replace them)
    training: object
    main: bool = True  # the process that writes (rank 0 under torchrun, or the only one)
    state: dict = field(default_factory=dict)  # what a plugin keeps between its calls, under a key of its own
