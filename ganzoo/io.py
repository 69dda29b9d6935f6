"""Crash-safe files: atomic writes, JSON-lines logs, checkpoints.

Every file is written to a temporary name in the same folder and renamed over
the target (`os.replace` is atomic on POSIX and Windows), so a crash leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

from .errors import GanzooError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_torch_save(obj, path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint with `weights_only=True`; a damaged file is a user error."""
    path = Path(path)
    if not path.is_file():
        raise GanzooError(f"No checkpoint at {path}. Train the run first, or check the path.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as exc:
        # Not torch's own message: it suggests weights_only=False, which would
        # run whatever code a tampered file holds.
        raise GanzooError(
            f"The checkpoint {path} is corrupt or not a ganzoo checkpoint ({type(exc).__name__} "
            "while reading it). Restore it from a backup, or delete the run directory and train again."
        ) from None


def append_jsonl(path, record: dict) -> None:
    """Append one JSON line with a single write, so lines never interleave."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    with open(path, "ab") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path) -> list[dict]:
    """All complete records; a torn last line (crash mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def filter_jsonl(path, keep: Callable[[dict], bool]) -> None:
    """Rewrite a JSON-lines file atomically, keeping only the records `keep` accepts."""
    path = Path(path)
    if path.exists():
        kept = [r for r in read_jsonl(path) if keep(r)]
        atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
