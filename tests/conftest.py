import importlib
import os
import sys
import textwrap
from pathlib import Path

import pytest

import ganzoo.plugin.manager

REPO = Path(__file__).resolve().parents[1]

# Counting FLOPs imports torch._dynamo in every process that trains (about 3 s each, and the
# suite starts many): off here, on in tests/test_flops.py. Subprocesses inherit it.
os.environ["GANZOO_FLOPS"] = "0"

# Under pytest-xdist (`pytest -n auto`) each worker, and every process it starts, gets one
# torch thread: two workers with a thread per core each would fight over the cores.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """With -n, idle workers take queued tests from busy ones (xdist >= 3.2): the slow tests no
    longer wait behind a worker's queue. Set here, not in addopts, where `--dist` would make
    pytest-benchmark believe xdist is on for `pytest benchmarks/ --benchmark-only` too."""
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") == "no":
        config.option.dist = "worksteal"


def local_data_root() -> Path | None:
    """The shared copy of MNIST and Fashion-MNIST beside the checkout (CI has it)."""
    for root in (os.environ.get("GANZOO_DATA_ROOT"), REPO.parent / "shared" / "data"):
        if root and (Path(root) / "mnist").is_dir():
            return Path(root)
    return None


DATA_ROOT = local_data_root()


def count(module) -> int:
    """A module's parameters, the number papers and official code give."""
    return sum(p.numel() for p in module.parameters())


def need_data_root() -> Path:
    """The local data root; in CI its absence is a failure, elsewhere a skip."""
    if DATA_ROOT is None:
        message = "no local MNIST copy: set GANZOO_DATA_ROOT to a folder holding mnist/ and fashion-mnist/"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return DATA_ROOT


@pytest.fixture
def image_dir(tmp_path):
    """A folder of 12 small PNG images of different sizes and modes."""
    from PIL import Image

    folder = tmp_path / "images" / "nested"
    folder.mkdir(parents=True)
    for i in range(12):
        size = (40 + i, 30 + 2 * i)
        Image.new("RGB" if i % 3 else "L", size, color=(20 * i, 255 - 20 * i, 100) if i % 3 else 20 * i).save(
            folder / f"img{i}.png"
        )
    return tmp_path / "images"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ganzoo-cache")


@pytest.fixture(autouse=True)
def isolated_cache(session_cache, monkeypatch):
    """Caches (real-data features, trained classifiers) go to one folder per test session,
    never the user's ~/.cache; subprocesses inherit it through the environment."""
    monkeypatch.setenv("GANZOO_CACHE", str(session_cache))
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    """Each test loads plugins anew, with no GANZOO_PLUGINS from the caller."""
    monkeypatch.delenv("GANZOO_PLUGINS", raising=False)
    ganzoo.plugin.manager.reset()
    yield
    ganzoo.plugin.manager.reset()


@pytest.fixture
def install_fake_plugin(tmp_path, monkeypatch):
    """Put a third-party plugin on sys.path: a module and a dist-info whose
    entry_points.txt lists it in the `ganzoo` group, as pip would install it.
    Returns the folder, to add to PYTHONPATH for subprocesses."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def install(module_name: str, source: str, package: str | None = None) -> Path:
        package = package or f"{module_name.replace('_', '-')}"
        (root / f"{module_name}.py").write_text(textwrap.dedent(source))
        dist = root / f"{package.replace('-', '_')}-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text(f"[ganzoo]\n{module_name} = {module_name}\n")
        importlib.invalidate_caches()
        sys.modules.pop(module_name, None)
        ganzoo.plugin.manager.reset()
        return root

    return install


def run_cli(*args, env=None, cwd=None):
    """Run the `ganzoo` command in a subprocess, as a user would."""
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if k != "GANZOO_PLUGINS"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ganzoo", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
    )


DINOV2_STAND_IN_HUBCONF = '''
import torch
from torch import nn
dependencies = ["torch"]
def dinov2_vitl14(pretrained=True, **kwargs):
    """A stand-in with DINOv2 ViT-L/14's interface: 224 x 224 RGB in, 1,024 features out."""
    torch.manual_seed(0)
    return nn.Sequential(nn.AvgPool2d(16), nn.Flatten(), nn.Linear(3 * 14 * 14, 1024))
'''


@pytest.fixture
def dinov2_stand_in(tmp_path, monkeypatch):
    """torch's hub cache with DINOv2's layout (code folder, weights file) holding a small
    stand-in network, so FD-DINOv2's whole path runs offline; no download is allowed."""
    import torch

    from ganzoo.evaluation import extractors

    hub = tmp_path / "hub"
    (hub / "facebookresearch_dinov2_main").mkdir(parents=True)
    (hub / "facebookresearch_dinov2_main" / "hubconf.py").write_text(DINOV2_STAND_IN_HUBCONF)
    (hub / "checkpoints").mkdir()
    torch.save({}, hub / "checkpoints" / "dinov2_vitl14_pretrain.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.setattr(extractors, "_download_dinov2", lambda: pytest.fail("no download with a full cache"))
    return hub
