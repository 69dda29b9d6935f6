"""A run directory: the one place that knows a run's files and how to read them.

    config.json                 what was trained: the resolved config, the architecture's
                                options, the data, the environment, and the plugin and
                                package behind each named thing (provenance)
    checkpoints/latest.pt       everything that decides the rest of the run (previous.pt:
                                the one before)
    train_log.jsonl             losses, speed and training time at each log interval
    metrics.jsonl               one record per metric and evaluation
    samples/step-NNNNNNNN.png   the picture at each evaluation
    summary.json                written when the run has finished
    tensorboard/                with --tensorboard

Every file is written atomically (`ganzoo.util.files`); the training loop, `ganzoo sample`,
`ganzoo eval`, the bench and the report all go through this class.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no run-directory lock
    fcntl = None  # type: ignore[assignment]  # RunDir.lock checks for None

from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError
from ganzoo.plugin.api import create_architecture
from ganzoo.plugin.manager import check_installed
from ganzoo.util.files import (
    append_jsonl,
    atomic_write_json,
    filter_jsonl,
    has_checkpoint,
    load_checkpoint,
    read_jsonl,
    remove_stale_temporaries,
    save_checkpoint,
)

#: What config.json must hold for a run to be read.
CONFIG_KEYS = ("train", "architecture", "data")


class RunDir:
    def __init__(self, path):
        if not str(path).strip():
            raise GanzooError("The run directory is empty (''); name a folder for the run (it is created).")
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.checkpoint_path = self.path / "checkpoints" / "latest.pt"
        self.train_log_path = self.path / "train_log.jsonl"
        self.metrics_path = self.path / "metrics.jsonl"
        self.summary_path = self.path / "summary.json"
        self.samples_dir = self.path / "samples"
        self.tensorboard_dir = self.path / "tensorboard"
        self._lock_fd = None

    def __str__(self) -> str:
        return str(self.path)

    # --- config -------------------------------------------------------------------------

    def read_config(self) -> dict:
        """config.json, checked for what every reader needs."""
        if not self.config_path.is_file():
            raise GanzooError(
                f"{self.path} is not a ganzoo run directory (no config.json). "
                "Pass the --out folder of a `ganzoo train` run."
            )
        try:
            saved = json.loads(self.config_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GanzooError(f"{self.config_path} is not valid JSON ({exc}). Restore it or train again.") from None
        missing = [key for key in CONFIG_KEYS if not isinstance(saved, dict) or not isinstance(saved.get(key), dict)]
        if not missing and "name" not in saved["architecture"]:
            missing = ["architecture.name"]
        if missing:
            raise GanzooError(
                f"{self.config_path} lacks {', '.join(repr(k) for k in missing)}: it was edited, or "
                "written by another tool. Restore it from a backup, or train the run again into a "
                "new --out."
            )
        return saved

    def train_config(self):
        """The saved TrainConfig (resolved when it was written)."""

        return TrainConfig.from_dict(self.read_config()["train"])

    def write_config(self, config: dict) -> None:
        atomic_write_json(self.config_path, config)

    def check_installed(self, kinds: tuple[str, ...], saved: dict | None = None) -> None:
        """The entries of these kinds that the run used must still be registered; one that is
        not is named with the package that provided it when the run was made."""

        check_installed(saved if saved is not None else self.read_config(), self.path, kinds)

    # --- checkpoint ---------------------------------------------------------------------

    def has_checkpoint(self) -> bool:
        return has_checkpoint(self.checkpoint_path)

    def load_checkpoint(self, map_location="cpu") -> dict:
        return load_checkpoint(self.checkpoint_path, map_location=map_location)

    def save_checkpoint(self, state: dict) -> None:
        save_checkpoint(state, self.checkpoint_path)

    def remove_stale_temporaries(self) -> None:
        """What a writer killed mid-write left behind."""
        for folder in (self.path, self.checkpoint_path.parent):
            remove_stale_temporaries(folder)

    # --- logs, samples, summary -----------------------------------------------------------

    def append_train_log(self, record: dict) -> None:
        append_jsonl(self.train_log_path, record)

    def read_train_log(self) -> list[dict]:
        return read_jsonl(self.train_log_path)

    def append_metrics(self, record: dict) -> None:
        append_jsonl(self.metrics_path, record)

    def read_metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_path)

    def drop_records_after(self, step: int) -> None:
        """Log lines a stopped run wrote after its checkpoint: its resumption writes them again."""
        for path in (self.train_log_path, self.metrics_path):
            filter_jsonl(path, lambda r: r.get("step", 0) <= step)

    def sample_picture(self, step: int) -> Path:
        return self.samples_dir / f"step-{step:08d}.png"

    def sample_pictures(self) -> list[Path]:
        return sorted(self.samples_dir.glob("step-*.png"))

    def read_summary(self) -> dict | None:
        return json.loads(self.summary_path.read_text()) if self.summary_path.is_file() else None

    def write_summary(self, summary: dict) -> None:
        atomic_write_json(self.summary_path, summary)

    # --- one writer at a time -------------------------------------------------------------

    def lock(self) -> None:
        """An exclusive lock on the folder for as long as this process trains it: a second
        `train --resume` (or a bench re-run while an orphan worker still trains) is refused
        instead of interleaving two writers. The lock is the folder's own (flock), so it
        writes no file and goes when the process does, however it ends."""
        if self._lock_fd is not None or fcntl is None:  # fcntl: POSIX only
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise GanzooError(
                f"{self.path} is being trained by another process right now. Wait for it to "
                "finish (or stop it: it checkpoints on Ctrl-C or SIGTERM), then resume."
            ) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- the generator ----------------------------------------------------------------------

    def load_generator(self, no_ema: bool = False):
        """The generator at the latest checkpoint (the EMA weights unless `no_ema`), in eval
        mode: (generator, saved config, step, 'ema' or 'raw')."""

        saved = self.read_config()
        self.check_installed(("architecture",), saved)
        checkpoint = self.load_checkpoint()
        arch = dict(saved["architecture"])
        generator, _, _ = create_architecture(arch.pop("name"), **arch)
        use_ema = checkpoint.get("ema") is not None and not no_ema
        generator.load_state_dict(checkpoint["ema"] if use_ema else checkpoint["generator"])
        return generator.eval(), saved, checkpoint["step"], "ema" if use_ema else "raw"
