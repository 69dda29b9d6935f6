"""Contract checks a plugin author calls from their own tests.

    from ganzoo.testing import check_architecture, check_loss

    def test_my_arch():
        check_architecture("my-arch.test")

Each check runs on CPU in well under a second for a tiny variant and raises
AssertionError with a message saying which part of the contract broke.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .api import create_architecture, create_dataset, create_loss
from .data import Dataset
from .models import Discriminator, Generator

BATCH = 4


def _labels(num_classes: int, n: int = BATCH):
    return torch.arange(n) % num_classes if num_classes else None


def _state(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict, module: torch.nn.Module) -> bool:
    """Whether any *parameter* moved (batch-norm statistics may move in any forward pass)."""
    return any(not torch.equal(before[k], v) for k, v in module.named_parameters())


def check_architecture(name: str, loss: str = "non-saturating", **overrides) -> None:
    """Shapes, value finiteness, one D and one G step, determinism under a seed."""
    torch.manual_seed(0)
    G, D, config = create_architecture(name, **overrides)
    assert isinstance(G, Generator) and isinstance(D, Discriminator), f"{name}: not a Generator/Discriminator pair"
    assert G.output_shape == D.input_shape, f"{name}: G makes {G.output_shape}, D reads {D.input_shape}"
    assert G.num_classes == D.num_classes == config["num_classes"], f"{name}: num_classes disagree"
    G, D = G.cpu(), D.cpu()
    labels = _labels(G.num_classes)

    # Shapes and values.
    z = G.sample_latent(BATCH, "cpu")
    assert z.shape == (BATCH, G.latent_dim), f"{name}: latent shape {tuple(z.shape)}"
    x = G(z, labels)
    assert x.shape == (BATCH, *G.output_shape), f"{name}: G output {tuple(x.shape)}, expected {(BATCH, *G.output_shape)}"
    assert torch.isfinite(x).all(), f"{name}: G output is not finite"
    if G.output_range is not None:
        low, high = G.output_range
        assert x.min() >= low and x.max() <= high, f"{name}: G output outside its declared range {G.output_range}"
    logits = D(x, labels)
    assert logits.shape == (BATCH,), f"{name}: D must return one logit per input, got {tuple(logits.shape)}"
    assert torch.isfinite(logits).all(), f"{name}: D output is not finite"
    assert G.sample(BATCH, labels=labels).shape == (BATCH, *G.output_shape), f"{name}: G.sample shape"

    # One discriminator step, then one generator step; each must move its own weights only.
    adversarial = create_loss(loss)
    d_opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    g_opt = torch.optim.Adam(G.parameters(), lr=1e-3)
    real = torch.randn(BATCH, *G.output_shape).clamp(-1, 1)
    g_before, d_before = _state(G), _state(D)
    with torch.no_grad():
        fake = G(G.sample_latent(BATCH, "cpu"), labels)
    d_loss = adversarial.discriminator_loss(D(real, labels), D(fake, labels))
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    assert torch.isfinite(d_loss), f"{name}: D loss not finite"
    assert _changed(d_before, D), f"{name}: a discriminator step did not change D"
    assert not _changed(g_before, G), f"{name}: a discriminator step changed G"

    d_before = _state(D)
    D.requires_grad_(False)
    g_loss = adversarial.generator_loss(D(G(G.sample_latent(BATCH, "cpu"), labels), labels))
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    D.requires_grad_(True)
    assert torch.isfinite(g_loss), f"{name}: G loss not finite"
    assert _changed(g_before, G), f"{name}: a generator step did not change G"
    assert not _changed(d_before, D), f"{name}: a generator step changed D"

    # Determinism: the same seed gives the same weights and the same samples.
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        G2, D2, _ = create_architecture(name, **overrides)
        gen = torch.Generator().manual_seed(7)
        sample = G2.sample(BATCH, labels=labels, generator=gen)
        outputs.append((_state(G2), _state(D2), sample))
    (g1, d1, s1), (g2, d2, s2) = outputs
    assert all(torch.equal(g1[k], g2[k]) for k in g1), f"{name}: G weights differ under the same seed"
    assert all(torch.equal(d1[k], d2[k]) for k in d1), f"{name}: D weights differ under the same seed"
    assert torch.equal(s1, s2), f"{name}: samples differ under the same seed"


def check_loss(name: str, **options) -> None:
    """Both players' losses are finite scalars with finite gradients, on a tiny D."""
    loss = create_loss(name, **options)
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))

    def discriminator(x, labels=None):
        return D(x).squeeze(1)

    real = torch.randn(BATCH, 2)
    fake = torch.randn(BATCH, 2, requires_grad=True)
    d_loss = loss.discriminator_loss(discriminator(real), discriminator(fake.detach()))
    for reg in loss.regularizers:
        d_loss = d_loss + reg(discriminator, real, fake, None)
    assert d_loss.dim() == 0 and torch.isfinite(d_loss), f"{name}: D loss must be a finite scalar"
    d_loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in D.parameters()), f"{name}: D gradients not finite"

    g_loss = loss.generator_loss(discriminator(fake), discriminator(real))
    assert g_loss.dim() == 0 and torch.isfinite(g_loss), f"{name}: G loss must be a finite scalar"
    (grad,) = torch.autograd.grad(g_loss, fake)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0, f"{name}: G loss gives no gradient to samples"
    loss.after_discriminator_step(D)


def check_dataset(name: str, batch_size: int = BATCH, **options) -> None:
    """Batches have the declared shape; a saved position replays the same batches."""
    dataset = create_dataset(name, **options)
    assert isinstance(dataset, Dataset), f"{name}: not a ganzoo.data.Dataset"
    source = dataset.batches(batch_size, torch.device("cpu"), seed=0)
    x, labels = source.next()
    assert x.shape == (batch_size, *dataset.sample_shape), f"{name}: batch shape {tuple(x.shape)}"
    assert (labels is None) == (dataset.num_classes == 0), f"{name}: labels iff num_classes > 0"
    saved = source.state_dict()
    first, _ = source.next()
    source.load_state_dict(saved)
    again, _ = source.next()
    assert torch.equal(first, again), f"{name}: restoring the batch position does not replay the same batch"


def write_random_inception_weights(path, seed: int = 0):
    """torch-fidelity's InceptionV3 with random weights, saved as a weights file. It has the
    real network's shape and cost, so tests and benchmarks exercise the Inception path
    (weights file, hashing, RGB conversion, protocol) with no download."""
    from unittest import mock

    import torch_fidelity.feature_extractor_inceptionv3 as inception

    extractor = inception.FeatureExtractorInceptionV3
    with mock.patch.object(inception, "load_state_dict_from_url", lambda *args, **kwargs: None), \
            mock.patch.object(extractor, "load_state_dict", lambda self, *args, **kwargs: None):
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
