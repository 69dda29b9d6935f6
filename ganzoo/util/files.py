"""Crash-safe files: atomic writes, JSON-lines logs, checkpoints.

Every file is written to a temporary name in the same folder and renamed over
the target (`os.replace` is atomic on POSIX and Windows), so a crash leaves
either the old file or the new one, never half of one.

Nothing is unpickled with code: every `torch.load` in ganzoo goes through `safe_torch_load`
(weights-only, with NumPy arrays allowed), and `weights_only_loads()` forces the same on
torch-fidelity, which loads its feature-extractor weights and its cache with
`weights_only=False`. Checkpoints carry a SHA-256 of their contents, checked on load; the
previous checkpoint is kept, so a damaged one falls back to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

from ganzoo.errors import GanzooError


def _file_mode() -> int:
    """What `open()` would give a new file: 0666 less the umask (mkstemp's files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()
TEMPORARY_SUFFIX = ".tmp"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder) -> list[Path]:
    """Delete the temporary files a killed writer left in `folder` (`.NAME.*.tmp`); only call
    this where no other process is writing (a run resuming owns its folder)."""
    removed = []
    for path in Path(folder).glob(f".*{TEMPORARY_SUFFIX}"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


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


def _numpy_globals() -> list:
    """What pickled NumPy arrays need (torch-fidelity caches FID statistics as arrays)."""
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]  # the same function, older path
    dtypes = [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_)]
    return [np.ndarray, np.dtype, _reconstruct, *dtypes]


_torch_load = torch.load  # the real one, whatever `weights_only_loads` does to torch.load


def safe_torch_load(source, map_location="cpu"):
    """torch.load that only rebuilds tensors, plain containers and NumPy arrays: a tampered
    file raises pickle.UnpicklingError instead of running its code."""
    with torch.serialization.safe_globals(_numpy_globals()):
        return _torch_load(source, map_location=map_location, weights_only=True)


@contextlib.contextmanager
def weights_only_loads():
    """Within this block every `torch.load` is `safe_torch_load`, whatever its caller asks:
    torch-fidelity loads the InceptionV3 weights and its cached features with
    weights_only=False, so a file swapped in would otherwise run code."""

    def load(source, map_location=None, *args, **kwargs):
        return safe_torch_load(source, map_location=map_location or "cpu")

    torch.load = load
    try:
        yield
    finally:
        torch.load = _torch_load


def content_sha256(obj) -> str:
    """A SHA-256 of a checkpoint's contents: every tensor's dtype, shape and bytes, and every
    other value's repr, in a fixed order. It survives a save/load round trip and changes when
    any bit of any tensor does."""
    digest = hashlib.sha256()

    def walk(value):
        if isinstance(value, torch.Tensor):
            t = value.detach().to("cpu").contiguous()
            digest.update(f"tensor {t.dtype} {tuple(t.shape)};".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            digest.update(f"dict {len(value)}{{".encode())
            for key in sorted(value, key=repr):
                digest.update(f"{key!r}:".encode())
                walk(value[key])
            digest.update(b"}")
        elif isinstance(value, (list, tuple)):
            digest.update(f"{type(value).__name__} {len(value)}[".encode())
            for item in value:
                walk(item)
            digest.update(b"]")
        else:
            digest.update(f"{value!r};".encode())

    walk(obj)
    return digest.hexdigest()


CHECKSUM_KEY = "content_sha256"


def previous_checkpoint(path) -> Path:
    """Where the checkpoint before `path` is kept (latest.pt -> previous.pt)."""
    path = Path(path)
    return path.with_name("previous" + path.suffix)


def save_checkpoint(state: dict, path) -> None:
    """Write `state` with its checksum, atomically, keeping the checkpoint it replaces as
    previous.pt. `path` exists at every moment: the old one is hard-linked (or copied) to
    previous.pt before the new one is renamed over it."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save({**state, CHECKSUM_KEY: content_sha256(state)}, buffer)
    if path.is_file():
        previous = previous_checkpoint(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{previous.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
        try:
            os.link(path, tmp)
        except OSError:  # a file system without hard links
            atomic_write_bytes(previous, path.read_bytes())
        else:
            os.replace(tmp, previous)
            # rename() between two links of one file does nothing and leaves both (POSIX): so
            # it goes when previous.pt already is this file (a crash after the last link).
            Path(tmp).unlink(missing_ok=True)
    atomic_write_bytes(path, buffer.getvalue())


#: What every checkpoint `ganzoo train` writes holds (`training.state.training_state`).
CHECKPOINT_KEYS = ("step", "generator", "discriminator")


def _read_checkpoint(path: Path, map_location) -> dict:
    """The checkpoint at `path`, checksum verified; GanzooError if it is unreadable or damaged."""
    try:
        state = safe_torch_load(path, map_location=map_location)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as exc:
        # Not torch's own message: it suggests weights_only=False, which would
        # run whatever code a tampered file holds.
        raise GanzooError(
            f"The checkpoint {path} is corrupt or not a ganzoo checkpoint ({type(exc).__name__} while reading it)"
        ) from None
    if not isinstance(state, dict):
        raise GanzooError(f"The checkpoint {path} is not a ganzoo checkpoint (it holds a {type(state).__name__})")
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        held = ", ".join(repr(k) for k in list(state)[:6]) or "nothing"
        raise GanzooError(
            f"The file {path} is not a ganzoo checkpoint: it lacks {', '.join(map(repr, missing))} "
            f"(it holds {held}): ganzoo reads only the checkpoints `ganzoo train` writes in a run "
            "directory's checkpoints/ folder"
        )
    expected = state.pop(CHECKSUM_KEY, None)
    if expected is not None and content_sha256(state) != expected:
        raise GanzooError(
            f"The checkpoint {path} is damaged: its contents do not match the checksum "
            "written with it (a flipped bit, a truncated copy or an edit)"
        )
    return state


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint safely (weights-only) and verify its checksum. If it is damaged and
    the previous checkpoint is good, warn and return that one; otherwise a user error."""
    path = Path(path)
    previous = previous_checkpoint(path)
    if not path.is_file() and not previous.is_file():
        raise GanzooError(f"No checkpoint at {path}. Train the run first, or check the path.")
    try:
        if not path.is_file():
            raise GanzooError(f"The checkpoint {path} is missing")
        return _read_checkpoint(path, map_location)
    except GanzooError as problem:
        if previous.is_file():
            try:
                state = _read_checkpoint(previous, map_location)
            except GanzooError:
                pass
            else:
                warnings.warn(
                    f"{problem}. Using the previous checkpoint, {previous.name} "
                    f"(step {state.get('step', '?')}), instead.",
                    stacklevel=2,
                )
                return state
        raise GanzooError(
            f"{problem}, and no good previous checkpoint is kept beside it. Restore it from a backup, "
            "or delete the run directory and train again."
        ) from None


def has_checkpoint(path) -> bool:
    """Whether a run can resume from `path` (or from the previous checkpoint beside it)."""
    return Path(path).is_file() or previous_checkpoint(path).is_file()


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
