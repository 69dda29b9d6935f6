"""Files that tests (ganzoo's and plugins') need and cannot download: InceptionV3 weights of the
real shape, and a torch file that runs code when unpickled unsafely."""

from __future__ import annotations

from pathlib import Path

import torch


def write_random_inception_weights(path, seed: int = 0):
    """torch-fidelity's InceptionV3 with random weights, saved as a weights file. It has the
    real network's shape and cost, so tests and benchmarks exercise the Inception path
    (weights file, hashing, RGB conversion, protocol) with no download."""
    from unittest import mock

    import torch_fidelity.feature_extractor_inceptionv3 as inception

    extractor = inception.FeatureExtractorInceptionV3
    with (
        mock.patch.object(inception, "load_state_dict_from_url", lambda *args, **kwargs: None),
        mock.patch.object(extractor, "load_state_dict", lambda self, *args, **kwargs: None),
    ):
        torch.manual_seed(seed)
        model = extractor("inception-v3-compat", ["2048"])
    torch.save(model.state_dict(), path)
    return path


class _RunsCode:
    """Pickles to a call of exec(): unpickling it with code allowed writes `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def write_file_that_runs_code(path, marker):
    """A torch file that looks like weights but, unpickled with code allowed, creates the
    file `marker`: what a tampered weights file, cache entry or checkpoint would do. Tests
    check that ganzoo refuses it and that `marker` never appears."""
    torch.save({"conv.weight": torch.zeros(2, 2), "payload": _RunsCode(Path(marker))}, path)
    return Path(path)
