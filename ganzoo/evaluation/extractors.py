"""Feature extractors for FID, KID, precision/recall and IS, and where their weights come from.

- ``inception-v3-compat``: torch-fidelity's port of the TensorFlow InceptionV3
  that papers' FIDs use. Weights: ``--inception-weights PATH``, else torch's hub
  cache, else a download into that cache; without any of these, an error says
  how to get the file.
- ``ganzoo-mnist-classifier`` / ``ganzoo-fashion-mnist-classifier``: the offline
  digit classifiers of `digits.py` (the default for digit data).
- ``dinov2-vit-l-14``: DINOv2 ViT-L/14 (Oquab et al. 2023), the features of FD-DINOv2
  (Stein et al. 2023), through torch-fidelity's DINOv2 extractor. Network and weights
  come from torch's hub cache (``facebookresearch_dinov2_main`` and
  ``checkpoints/dinov2_vitl14_pretrain.pth``), else a download into it.

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

from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.evaluation import digits
from ganzoo.util.files import file_sha256, safe_torch_load

INCEPTION = "inception-v3-compat"
INCEPTION_WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"
DINOV2 = "dinov2-vit-l-14"
DINOV2_HUB_REPO, DINOV2_HUB_MODEL = "facebookresearch/dinov2", "dinov2_vitl14"
DINOV2_WEIGHTS_FILE = "dinov2_vitl14_pretrain.pth"
#: The name ganzoo registers its DINOv2 extractor under with torch-fidelity (see _register_dinov2).
DINOV2_TORCH_FIDELITY = "ganzoo-dinov2-vit-l-14"


def extractor_names() -> list[str]:
    return [INCEPTION, DINOV2, *(digits.extractor_name(d) for d in digits.DATASETS)]


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
        if self.name == DINOV2_TORCH_FIDELITY:
            return "dinov2"
        return "logits" if metric == "isc" else "penultimate"

    def describe(self) -> dict:
        name = DINOV2 if self.name == DINOV2_TORCH_FIDELITY else self.name
        out: dict[str, object] = {
            "name": name,
            "weights_sha256": self.weights_sha256,
            "weights_file": self.weights_path.name,
        }
        if self.info:
            out["classifier"] = {k: self.info[k] for k in ("dataset", "seed", "test_accuracy", "epochs")}
        return out


def default_extractor(digit_classifier: str | None) -> str:
    """The data's digit classifier when it has one (`Dataset.digit_classifier`), else Inception."""
    return digits.extractor_name(digit_classifier) if digit_classifier else INCEPTION


def resolve_extractor(
    name: str, digit_classifier: str | None = None, *, inception_weights: str | None = None, data_root: str = ""
) -> Extractor:
    """The extractor called `name` ('auto': the data's digit classifier, else Inception),
    weights located and hashed."""
    if name == "auto":
        name = default_extractor(digit_classifier)
    if name == INCEPTION:
        path = locate_inception_weights(inception_weights)
        check_weights_file(path)
        return Extractor(INCEPTION, path, file_sha256(path), rgb_only=True)
    if name == DINOV2:
        repo, weights = locate_dinov2()
        _register_dinov2(str(repo))
        return Extractor(
            DINOV2_TORCH_FIDELITY, weights, _sha256_of_version(str(weights), *_version(weights)), rgb_only=True
        )
    for dataset in digits.DATASETS:
        if name == digits.extractor_name(dataset):
            _, info, path = digits.get_classifier(dataset, root=data_root)
            digits.register_with_torch_fidelity()
            return Extractor(name, path, info["sha256"], rgb_only=False, classifier_data=dataset, info=info)
    raise UnknownNameError(
        "feature extractor",
        name,
        ["auto", *extractor_names()],
        hint="Pass one of them to --extractor ('auto' picks the data set's default).",
    )


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
            raise GanzooError(
                f"--inception-weights {path}: no such file. Pass the path of the InceptionV3 "
                f"weights for FID (downloadable from {URL_INCEPTION_V3})."
            )
        return given
    hub = inception_hub_path()
    if hub.is_file():
        return hub
    try:
        hub.parent.mkdir(parents=True, exist_ok=True)
        # torch checks the file against the hash prefix in its name, and writes it to a
        # temporary name first, so an interrupted download leaves nothing half-written.
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(hub), hash_prefix=_hash_prefix(hub.name), progress=False)
    except Exception as exc:  # no network, a proxy, a corrupt download: all end the same way
        raise GanzooError(
            f"The InceptionV3 weights for FID are not here and could not be downloaded ({type(exc).__name__}: "
            f"{exc}). On a machine with network, download {URL_INCEPTION_V3} and either pass it with "
            f"--inception-weights PATH (or $GANZOO_INCEPTION_WEIGHTS) or put it at {hub}. For digit data, "
            "the offline extractor needs no download: --extractor auto."
        ) from None
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
            f"{_hash_prefix(URL_INCEPTION_V3.rsplit('/', 1)[-1])})."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanzooError(
            f"The InceptionV3 weights file {path} is not a state dict of tensors. Use the "
            f"published file, {URL_INCEPTION_V3}."
        )


def _hash_prefix(filename: str) -> str | None:
    """The SHA-256 prefix torch.hub names files with ('...-6726825d.pth' -> '6726825d')."""
    stem = filename.rsplit(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1]
    return prefix if len(prefix) >= 8 and all(c in "0123456789abcdef" for c in prefix) else None


def locate_dinov2() -> tuple[Path, Path]:
    """DINOv2 ViT-L/14's code and weights in torch's hub cache, downloaded there when absent."""
    hub = Path(torch.hub.get_dir())
    repo = hub / f"{DINOV2_HUB_REPO.replace('/', '_')}_main"
    weights = hub / "checkpoints" / DINOV2_WEIGHTS_FILE
    if not ((repo / "hubconf.py").is_file() and weights.is_file()):
        try:
            _download_dinov2()
        except Exception as exc:  # no network, a proxy, a half download: all end the same way
            raise GanzooError(
                f"FD-DINOv2 needs DINOv2 ViT-L/14, which is not in torch's hub cache and could not be downloaded "
                f"({type(exc).__name__}: {exc}). It needs two things there: the code of "
                f"github.com/{DINOV2_HUB_REPO} in {repo} (with its hubconf.py) and the weights file "
                f"{DINOV2_WEIGHTS_FILE} (1.2 GB) in {weights.parent}. On a machine with network, run "
                f"python -c \"import torch; torch.hub.load('{DINOV2_HUB_REPO}:main', '{DINOV2_HUB_MODEL}')\", which "
                f"fills that machine's hub folder, then copy both into {hub} here, or point $TORCH_HOME at a folder "
                "whose hub/ holds them. Or leave fd-dinov2 out."
            ) from None
        if not ((repo / "hubconf.py").is_file() and weights.is_file()):
            raise GanzooError(
                f"The DINOv2 download finished, but {repo / 'hubconf.py'} or {weights} is missing. "
                f"Remove {repo} and try again."
            )
    return repo, weights


def _download_dinov2() -> None:
    """Fetch DINOv2's code and ViT-L/14 weights into torch's hub cache (network)."""
    torch.hub.load(f"{DINOV2_HUB_REPO}:main", DINOV2_HUB_MODEL, trust_repo=True)


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=8)
def _sha256_of_version(path: str, size: int, mtime_ns: int) -> str:
    """A large weights file is hashed once per version of it (path, size, modification time)."""
    return file_sha256(path)


def _register_dinov2(repo: str) -> None:
    """torch-fidelity's DINOv2 extractor, but built from the local hub copy of DINOv2's code:
    torch-fidelity's own asks GitHub for the default branch first, which hangs or fails
    offline even when the cache holds everything."""
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.feature_extractor_dinov2 import FeatureExtractorDinoV2
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    class LocalDinoV2(FeatureExtractorDinoV2):
        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            FeatureExtractorBase.__init__(self, name, features_list)
            self.feature_extractor_internal_dtype = torch.float32
            # The hub code loads its weights from the hub's checkpoints/ folder when they are there.
            self.model = torch.hub.load(repo, DINOV2_HUB_MODEL, source="local")
            self.requires_grad_(False)
            self.eval()

    FEATURE_EXTRACTORS_REGISTRY.pop(DINOV2_TORCH_FIDELITY, None)  # the repo folder may differ per call
    register_feature_extractor(DINOV2_TORCH_FIDELITY, LocalDinoV2)
