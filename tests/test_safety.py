"""No code runs from a file, and no damaged or half-written file is trusted.

- weights files, cached features and checkpoints are unpickled weights-only: a crafted
  file fails instead of running its code, wherever ganzoo or torch-fidelity reads it;
- checkpoints carry a checksum; a damaged one falls back to the previous checkpoint;
- written files respect the umask.
"""

import os
import pickle
import re
import zipfile
from pathlib import Path

import pytest
import torch

from ganzoo.errors import GanzooError
from ganzoo.evaluation.extractors import resolve_extractor
from ganzoo.testing import write_file_that_runs_code as crafted_file
from ganzoo.util.files import (
    atomic_write_text,
    content_sha256,
    load_checkpoint,
    previous_checkpoint,
    safe_torch_load,
    save_checkpoint,
    weights_only_loads,
)

REPO = Path(__file__).resolve().parents[1]


def test_the_crafted_file_really_runs_code_when_loaded_unsafely(tmp_path):
    """The fixture is dangerous: otherwise the tests below would prove nothing."""
    marker = tmp_path / "ran"
    torch.load(crafted_file(tmp_path / "evil.pt", marker), weights_only=False)
    assert marker.exists()


def test_a_crafted_inception_weights_file_is_refused_before_torch_fidelity_sees_it(tmp_path):
    marker = tmp_path / "ran"
    evil = crafted_file(tmp_path / "inception.pth", marker)
    with pytest.raises(GanzooError) as error:
        resolve_extractor("inception-v3-compat", "cifar10", inception_weights=str(evil))
    message = str(error.value)
    assert "pickled objects, which could run code" in message and "weights-inception-2015-12-05-6726825d.pth" in message
    assert not marker.exists()


def test_torch_fidelity_loads_are_forced_weights_only(tmp_path):
    """torch-fidelity calls torch.load(..., weights_only=False); inside weights_only_loads()
    that call refuses the crafted file, and plain tensors and NumPy arrays still load."""
    import numpy as np
    from torch_fidelity.utils import cache_lookup_one_recompute_on_miss

    marker = tmp_path / "ran"
    (tmp_path / "cache").mkdir()
    crafted_file(tmp_path / "cache" / "features.pt", marker)
    with weights_only_loads():
        with pytest.raises(pickle.UnpicklingError):
            cache_lookup_one_recompute_on_miss("features", lambda: None, cache=True, cache_root=str(tmp_path / "cache"))
    assert not marker.exists()
    assert torch.load is not None and torch.load.__module__ == "torch.serialization"  # restored
    torch.save({"mu": np.arange(3.0), "sigma": np.eye(3, dtype=np.float32), "t": torch.ones(2)}, tmp_path / "ok.pt")
    with weights_only_loads():
        stats = torch.load(tmp_path / "ok.pt", weights_only=False)
    assert stats["mu"].tolist() == [0.0, 1.0, 2.0] and stats["sigma"].dtype == np.float32


def test_no_torch_load_outside_the_safe_loader():
    """Every unpickling in ganzoo goes through files.safe_torch_load (weights-only)."""
    offenders = []
    for folder in ("ganzoo", "plugins", "scripts", "benchmarks", "docs/example-plugin"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r"torch\.load\(|pickle\.loads?\(|weights_only\s*=\s*False", text):
                line = text[: match.start()].count("\n") + 1
                offenders.append(f"{path.relative_to(REPO)}:{line}")
    assert all(o.startswith("ganzoo/util/files.py:") for o in offenders), offenders
    files_text = (REPO / "ganzoo" / "util" / "files.py").read_text()
    [call] = re.findall(r"return _torch_load\((.*)\)", files_text)
    assert "weights_only=True" in call


# --- checkpoints ---------------------------------------------------------------------------


def _state(value: float) -> dict:
    return {
        "step": int(value),
        "generator": {"w": torch.full((64, 64), value), "b": torch.arange(3)},
        "discriminator": {},
        "config": {"lr": 1e-4, "betas": (0.5, 0.999)},
        "note": None,
    }


def _flip_a_tensor_bit(path: Path) -> None:
    """Flip one bit inside the first tensor's stored bytes (torch's zip stores them raw)."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if re.search(r"/data/\d+$", i.filename) and i.file_size >= 64)
    data = bytearray(path.read_bytes())
    name_length, extra_length = (
        int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little"),
        int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little"),
    )
    start = info.header_offset + 30 + name_length + extra_length
    data[start + 17] ^= 0x04
    path.write_bytes(bytes(data))


def test_checksum_changes_with_any_bit_and_survives_a_round_trip(tmp_path):
    state = _state(1.0)
    save_checkpoint(state, tmp_path / "latest.pt")
    loaded = load_checkpoint(tmp_path / "latest.pt")
    assert content_sha256(loaded) == content_sha256(state)
    tweaked = _state(1.0)
    tweaked["generator"]["w"].view(torch.int32)[3, 5] ^= 1
    assert content_sha256(tweaked) != content_sha256(state)


def test_a_flipped_bit_falls_back_to_the_previous_checkpoint(tmp_path):
    path = tmp_path / "latest.pt"
    save_checkpoint(_state(1.0), path)
    save_checkpoint(_state(2.0), path)
    assert previous_checkpoint(path).is_file() and load_checkpoint(path)["step"] == 2
    _flip_a_tensor_bit(path)
    with pytest.warns(UserWarning, match=r"damaged.*previous checkpoint, previous\.pt \(step 1\)"):
        assert load_checkpoint(path)["step"] == 1
    _flip_a_tensor_bit(previous_checkpoint(path))
    with pytest.raises(GanzooError, match="damaged.*no good previous checkpoint"):
        load_checkpoint(path)


def test_a_tampered_checkpoint_does_not_run_code(tmp_path):
    marker = tmp_path / "ran"
    crafted_file(tmp_path / "latest.pt", marker)
    with pytest.raises(GanzooError, match="corrupt or not a ganzoo checkpoint"):
        load_checkpoint(tmp_path / "latest.pt")
    with pytest.raises(pickle.UnpicklingError):
        safe_torch_load(tmp_path / "latest.pt")
    assert not marker.exists()


def test_the_previous_checkpoint_is_kept_at_every_moment(tmp_path, monkeypatch):
    """Between keeping the old checkpoint and renaming the new one over it, both exist: a
    crash there loses nothing."""
    path = tmp_path / "latest.pt"
    save_checkpoint(_state(1.0), path)
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append((Path(dst).name, path.is_file(), previous_checkpoint(path).is_file()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    save_checkpoint(_state(2.0), path)
    assert seen == [("previous.pt", True, False), ("latest.pt", True, True)]


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask-022", "umask-077"])
def test_written_files_respect_the_umask(tmp_path, umask):
    import subprocess
    import sys

    script = (
        "import os, sys; os.umask(int(sys.argv[2], 8)); from ganzoo.util.files import atomic_write_text; "
        "atomic_write_text(sys.argv[1], 'x')"
    )
    target = tmp_path / "file.txt"
    subprocess.run([sys.executable, "-c", script, str(target), oct(umask)[2:]], check=True)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    atomic_write_text(tmp_path / "here.txt", "x")  # this process's umask, whatever it is
    current = os.umask(0)
    os.umask(current)
    assert (tmp_path / "here.txt").stat().st_mode & 0o777 == 0o666 & ~current
