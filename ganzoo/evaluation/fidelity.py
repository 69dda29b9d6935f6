"""FID, KID, precision/recall and Inception Score through torch-fidelity.

The generator goes to `torch_fidelity.calculate_metrics` wrapped as the
`GenerativeModelBase` it expects; the real images go as a Dataset of uint8
tensors. One call computes every asked metric from one pass of features.

Real-data features are cached by torch-fidelity under a name ganzoo builds
from the data set (name, split, shape, options), the sample count and the
extractor's weights hash, because torch-fidelity's own key ignores the weights.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
import warnings
from pathlib import Path

import torch

from ganzoo.core.data import to_uint8
from ganzoo.evaluation.digits import cache_dir
from ganzoo.evaluation.extractors import Extractor
from ganzoo.util.files import weights_only_loads

#: ganzoo metric name -> torch-fidelity's flag and result keys.
FIDELITY_METRICS = {
    "fid": ("fid", {"frechet_inception_distance": "fid"}),
    "kid": ("kid", {"kernel_inception_distance_mean": "kid_mean", "kernel_inception_distance_std": "kid_std"}),
    "precision-recall": ("prc", {"precision": "precision", "recall": "recall", "f_score": "f_score"}),
    "inception-score": ("isc", {"inception_score_mean": "is_mean", "inception_score_std": "is_std"}),
}
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PRC_NEIGHBORHOOD = 3  # k of Kynkaanniemi et al. 2019
ISC_SPLITS = 10
MAX_REAL_SAMPLES = 50_000
#: Which real images a metric compares with, when it reads fewer than the split holds: a
#: fixed random subset, the same for every run, metric and machine. Not the first N: a split
#: stored in order of collection is not a sample of itself. MNIST's test split holds the
#: clean digits of NIST's SD-3 writers first, and its first 1,000 images are 34 FID (digit
#: classifier) from a random 1,000 of the same split, where two random 1,000s of the
#: training split are 20 apart (the sampling noise of 1,000 images). MNIST's training split
#: is shuffled (its first 1,000 are 25 from a random 1,000), so its numbers barely move.
REFERENCE_SEED = 0
REFERENCE_SELECTION = (
    f"a fixed random subset of the split: torch.randperm(len(split), "
    f"generator=torch.Generator().manual_seed({REFERENCE_SEED}))[:num_samples]"
)


def _generative_model_class():
    from torch_fidelity.generative_model_base import GenerativeModelBase

    class GeneratorForFidelity(GenerativeModelBase):
        """A ganzoo Generator as torch-fidelity reads it: uint8 images out.

        torch-fidelity's noise sets only the batch size: the generator draws its
        latent vectors (and, when conditional, uniform labels) from its own
        sampler with a seeded torch generator, so a plugin's latent distribution
        is respected. Labels stay inside because torch-fidelity 0.4's
        conditional path uses `np.int`, which NumPy removed.
        """

        def __init__(self, generator, seed: int, rgb: bool):
            super().__init__()
            self.generator, self.seed, self.rgb = generator, seed, rgb
            self._rng = None

        @property
        def z_size(self):
            return self.generator.latent_dim

        @property
        def z_type(self):
            return "normal"

        @property
        def num_classes(self):
            return 0

        def forward(self, z):
            if self._rng is None:  # made here: torch-fidelity moves the module to its device first
                self._rng = torch.Generator(self.generator.device).manual_seed(self.seed)
            images = to_uint8(self.generator.sample(z.shape[0], generator=self._rng))
            return _to_rgb(images) if self.rgb else images

    return GeneratorForFidelity


def reference_indices(length: int, count: int) -> torch.Tensor:
    """The indices of the `count` real images compared with (REFERENCE_SELECTION)."""
    order = torch.randperm(length, generator=torch.Generator().manual_seed(REFERENCE_SEED))
    return order[:count]


class RealImages(torch.utils.data.Dataset):
    """`count` images of an ImageDataset (`reference_indices`) as uint8 tensors."""

    def __init__(self, dataset, count: int, rgb: bool):
        self.dataset, self.rgb = dataset, rgb
        self.indices = reference_indices(len(dataset), count)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        image = self.dataset.get(self.indices[i : i + 1])[0].cpu()
        return (_to_rgb(image) if self.rgb else image)[0]


def _to_rgb(images: torch.Tensor) -> torch.Tensor:
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def real_cache_key(dataset, split: str, count: int, extractor: Extractor) -> str:
    """Names torch-fidelity's cache of real features. Changing the data, its
    options, the sample count or the extractor's weights changes the key."""
    described = {k: v for k, v in dataset.describe().items() if k != "source"}  # where a copy lives is not what it is
    data_hash = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:10]
    return f"ganzoo-{dataset.name}-{split}-{count}-r{REFERENCE_SEED}-d{data_hash}-w{extractor.weights_sha256[:16]}"


def fidelity_metrics(
    generator,
    reference,
    metrics: list[str],
    *,
    extractor: Extractor,
    num_samples: int,
    real_samples: int,
    split: str,
    seed: int,
    generator_kind: str,
    batch_size: int = 250,
) -> list[dict]:
    """One record per metric in `metrics` (names from FIDELITY_METRICS), without `step`:
    `num_samples` generated images against `real_samples` of `reference` (REFERENCE_SELECTION)."""
    import torch_fidelity

    real_count = min(real_samples, len(reference))
    rgb = extractor.rgb_only
    cuda = generator.device.type == "cuda"
    key = real_cache_key(reference, split, real_count, extractor)
    kid_subset_size = min(KID_SUBSET_SIZE, num_samples, real_count)
    # Subsets are drawn without replacement: when one holds every sample of both sides, all
    # of them are the same set and give the same MMD, so one is computed, not 100 (with
    # 1,000 samples a side the 99 copies took 2.3 s of an MNIST evaluation's 4.5).
    kid_subsets = 1 if kid_subset_size == num_samples == real_count else KID_SUBSETS
    flags = {FIDELITY_METRICS[m][0]: True for m in metrics}
    started = time.perf_counter()

    def calculate():  # a fresh wrapper each time, so a retry draws the same samples
        return torch_fidelity.calculate_metrics(
            input1=_generative_model_class()(generator, seed, rgb),
            input1_model_num_samples=num_samples,
            input2=RealImages(reference, real_count, rgb),
            input2_cache_name=key,
            cache_root=str(cache_dir() / "fidelity"),
            cache=True,
            feature_extractor=extractor.name,
            feature_extractor_weights_path=str(extractor.weights_path),
            cuda=cuda,
            batch_size=batch_size,
            save_cpu_ram=True,
            rng_seed=seed,
            verbose=False,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            prc_neighborhood=PRC_NEIGHBORHOOD,
            isc_splits=ISC_SPLITS,
            **flags,
        )

    with weights_only_loads():  # torch-fidelity's own loads would run code from a tampered file
        try:
            results = calculate()
        except (RuntimeError, EOFError, pickle.UnpicklingError) as exc:
            # torch-fidelity writes its cache in place, so a crash mid-write leaves a file it
            # cannot read; a file swapped in holds more than arrays and is refused. Either
            # way: drop the cached real features and compute them again, once.
            if not cached_files(key):
                raise
            warnings.warn(
                f"The cached real-data features {key} in {cache_dir() / 'fidelity'} could not be "
                f"read safely ({type(exc).__name__}); they are dropped and computed again.",
                stacklevel=2,
            )
            clear_cache(key)
            results = calculate()
    seconds = round(time.perf_counter() - started, 3)
    shared = {
        "extractor": extractor.describe(),
        "generated": {
            "num_samples": num_samples,
            "generator": generator_kind,
            "seed": seed,
            "latent": "the generator's own sampler; uniform labels when conditional",
        },
        "real": {
            "data": reference.name,
            "split": split,
            "num_samples": real_count,
            "selection": REFERENCE_SELECTION,
            "cache_key": key,
        },
        "images": "uint8, grey repeated to RGB" if rgb and generator.output_shape[0] == 1 else "uint8",
        "torch_fidelity": torch_fidelity.__version__,
    }
    details: dict[str, dict[str, object]] = {
        "fid": {"layer": extractor.layer("fid")},
        "kid": {
            "layer": extractor.layer("kid"),
            "subsets": kid_subsets,
            "subset_size": kid_subset_size,
            "kernel": "polynomial, degree 3",
        },
        "precision-recall": {"layer": extractor.layer("prc"), "neighborhood": PRC_NEIGHBORHOOD},
        "inception-score": {"layer": extractor.layer("isc"), "splits": ISC_SPLITS},
    }
    records = []
    for metric in metrics:
        keys = FIDELITY_METRICS[metric][1]
        records.append(
            {
                "metric": metric,
                "results": {ours: results[theirs] for theirs, ours in keys.items()},
                "protocol": {"metric": metric, **shared, **details[metric]},
                "seconds": seconds,  # one shared pass of feature extraction for all of them
            }
        )
    return records


def extract_features(
    extractor: Extractor,
    metric: str,
    *,
    generator=None,
    num_samples: int = 0,
    seed: int = 0,
    reference=None,
    real_samples: int = 0,
    batch_size: int = 250,
) -> torch.Tensor:
    """Features at the layer torch-fidelity's `metric` ("prc", "fid"...) reads: of
    `num_samples` images from `generator`, or of `real_samples` of `reference` (REFERENCE_SELECTION).
    For metrics torch-fidelity does not compute (density and coverage)."""
    from torch_fidelity.utils import (
        create_feature_extractor,
        get_featuresdict_from_dataset,
        get_featuresdict_from_generative_model,
    )

    layer = extractor.layer(metric)
    cuda = generator is not None and generator.device.type == "cuda"
    with weights_only_loads():
        features = create_feature_extractor(
            extractor.name,
            [layer],
            cuda=cuda,
            verbose=False,
            feature_extractor_weights_path=str(extractor.weights_path),
        )
        if generator is not None:
            model = _generative_model_class()(generator, seed, extractor.rgb_only)
            return get_featuresdict_from_generative_model(model, features, num_samples, batch_size, cuda, seed, False)[
                layer
            ]
        images = RealImages(reference, min(real_samples, len(reference)), extractor.rgb_only)
        return get_featuresdict_from_dataset(images, features, batch_size, cuda, True, False)[layer]


def cached_files(key: str) -> list[Path]:
    return sorted((cache_dir() / "fidelity").glob(f"{key}-*"))


def clear_cache(key: str) -> None:
    """Remove torch-fidelity's cached files for `key`."""
    for path in cached_files(key):
        path.unlink(missing_ok=True)
