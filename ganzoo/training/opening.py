"""Opening a run's data set, and the real data its metrics compare with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo.errors import GanzooError
from ganzoo.plugin.api import create_dataset, dataset_entry

if TYPE_CHECKING:
    from ganzoo.core.config import TrainConfig


def open_dataset(cfg: TrainConfig, **overrides):
    """The run's data set; `data_root` reaches the factories that read files."""
    assert cfg.data is not None, "a resolved config names its data set (resolve.py)"
    options = {**cfg.data_options, **overrides}
    if cfg.data_root and "root" in dataset_entry(cfg.data).defaults:
        options.setdefault("root", cfg.data_root)
    return create_dataset(cfg.data, **options)


def open_reference(cfg: TrainConfig, dataset, split: str):
    """The real data that FID & co. compare with: the training set itself, or another split of it."""
    if getattr(dataset, "split", None) == split:
        return dataset
    assert cfg.data is not None, "a resolved config names its data set (resolve.py)"
    if "split" not in dataset_entry(cfg.data).defaults:
        raise GanzooError(f"Data set '{cfg.data}' has no '{split}' split to compare with; use --eval-real-split train.")
    return open_dataset(cfg, split=split)
