"""Feature extractors for FID, KID, precision/recall and IS, and where their weights come from.

- ``inception-v3-compat``: torch-fidelity's port of the TensorFlow InceptionV3
  that papers' FIDs use. Weights: ``--inception-weights PATH``, else torch's hub
  cache, else a download into that cache; without any of these, an error says
  how to get the file.
- ``ganzoo-mnist-classifier`` / ``ganzoo-fashion-mnist-classifier``: the offline
  digit classifiers of `digits.py` (the default for digit data).

Every extractor is identified by its name *and the SHA-256 of its weights
file*: torch-fidelity's own cache key ignores the weights, so ganzoo puts the
hash into the key of cached real-data features and into every result.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import GanzooError, UnknownNameError
from ..io import file_sha256, safe_torch_load
from . import digits

INCEPTION = "inception-v3-compat"
INCEPTION_WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"
#: Data sets whose default extractor is the digit classifier of that name.
DIGIT_EXTRACTOR_FOR = {"mnist": "mnist", "fashion-mnist": "fashion-mnist", "stacked-mnist": "mnist"}


def extractor_names() -> list[str]:
    return [INCEPTION, *(digits.extractor_name(d) for d in digits.DATASETS)]


@dataclass(frozen=True)
class Extractor:
    name: str  # as registered with torch-fidelity
    weights_path: Path
    weights_sha256: str
    rgb_only: bool  # Inception reads 3 channels; grey images are repeated to RGB
    classifier_data: str | None = None  # the data set a digit classifier was trained on
    info: dict | None = None  # the digit classifier's record (accuracy, seed, ...)

    def layer(self, metric: str) -> str:
        """The feature layer each torch-fidelity metric reads."""
        if self.name == INCEPTION:
            return "logits_unbiased" if metric == "isc" else "2048"
        return "logits" if metric == "isc" else "penultimate"

    def describe(self) -> dict:
        out = {"name": self.name, "weights_sha256": self.weights_sha256, "weights_file": self.weights_path.name}
        if self.info:
            out["classifier"] = {k: self.info[k] for k in ("dataset", "seed", "test_accuracy", "epochs")}
        return out


def default_extractor(data_name: str) -> str:
    if data_name in DIGIT_EXTRACTOR_FOR:
        return digits.extractor_name(DIGIT_EXTRACTOR_FOR[data_name])
    return INCEPTION


def resolve_extractor(name: str, data_name: str, *, inception_weights: str | None = None,
                      data_root: str = "") -> Extractor:
    """The extractor called `name` ('auto': the default for `data_name`), weights located and hashed."""
    if name == "auto":
        name = default_extractor(data_name)
    if name == INCEPTION:
        path = locate_inception_weights(inception_weights)
        check_weights_file(path)
        return Extractor(INCEPTION, path, file_sha256(path), rgb_only=True)
    for dataset in digits.DATASETS:
        if name == digits.extractor_name(dataset):
            _, info, path = digits.get_classifier(dataset, root=data_root)
            digits.register_with_torch_fidelity()
            return Extractor(name, path, info["sha256"], rgb_only=False, classifier_data=dataset, info=info)
    raise UnknownNameError("feature extractor", name, ["auto", *extractor_names()],
                           hint="Pass one of them to --extractor ('auto' picks the data set's default).")


def inception_hub_path() -> Path:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return Path(torch.hub.get_dir()) / "checkpoints" / URL_INCEPTION_V3.rsplit("/", 1)[-1]


def locate_inception_weights(path: str | None = None) -> Path:
    """The InceptionV3 weights file: the given path, $GANZOO_INCEPTION_WEIGHTS, torch's hub
    cache, or a download into that cache, in this order."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    path = path or os.environ.get(INCEPTION_WEIGHTS_ENV)
    if path:
        given = Path(path).expanduser()
        if not given.is_file():
            raise GanzooError(f"--inception-weights {path}: no such file. Pass the path of the InceptionV3 "
                              f"weights for FID (downloadable from {URL_INCEPTION_V3}).")
        return given
    hub = inception_hub_path()
    if hub.is_file():
        return hub
    try:
        hub.parent.mkdir(parents=True, exist_ok=True)
        # torch checks the file against the hash prefix in its name, and writes it to a
        # temporary name first, so an interrupted download leaves nothing half-written.
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(hub), hash_prefix=_hash_prefix(hub.name),
                                       progress=False)
    except Exception as exc:  # no network, a proxy, a corrupt download: all end the same way
        raise GanzooError(
            f"The InceptionV3 weights for FID are not here and could not be downloaded ({type(exc).__name__}: "
            f"{exc}). On a machine with network, download {URL_INCEPTION_V3} and either pass it with "
            f"--inception-weights PATH (or $GANZOO_INCEPTION_WEIGHTS) or put it at {hub}. For digit data, "
            "the offline extractor needs no download: --extractor auto.") from None
    return hub


def check_given_weights(path: str | None) -> None:
    """A weights file the user named is checked whether or not a metric will read it."""
    if path:
        check_weights_file(locate_inception_weights(path))


def check_weights_file(path: Path) -> None:
    """Refuse a weights file that holds anything but tensors (pickled objects can run code when
    loaded) or cannot be read: torch-fidelity would unpickle it with code allowed. A run checks
    the file it was given and again when its metrics resolve the extractor; the 95 MB file is
    read once per version of it (path, size, modification time)."""
    stat = Path(path).stat()
    _check_weights_version(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _check_weights_version(path: str, size: int, mtime_ns: int) -> None:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    try:
        state = safe_torch_load(path)
    except Exception as exc:  # UnpicklingError (objects, code, garbage), a damaged zip, not a torch file
        raise GanzooError(
            f"The InceptionV3 weights file {path} is not a plain file of tensors: it holds pickled objects, "
            f"which could run code, or it is damaged ({type(exc).__name__}). ganzoo loads weights only as "
            f"tensors. Use the published file, {URL_INCEPTION_V3} (SHA-256 starting "
            f"{_hash_prefix(URL_INCEPTION_V3.rsplit('/', 1)[-1])}).") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanzooError(f"The InceptionV3 weights file {path} is not a state dict of tensors. Use the "
                          f"published file, {URL_INCEPTION_V3}.")


def _hash_prefix(filename: str) -> str | None:
    """The SHA-256 prefix torch.hub names files with ('...-6726825d.pth' -> '6726825d')."""
    stem = filename.rsplit(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1]
    return prefix if len(prefix) >= 8 and all(c in "0123456789abcdef" for c in prefix) else None
