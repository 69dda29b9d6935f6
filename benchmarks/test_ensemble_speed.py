"""Seed-batched training against separate runs, on the 2D networks (issue 15, item 6).

    pytest benchmarks/test_ensemble_speed.py --benchmark-only

For each network and batch: the time of one `step.train_step` of one seed, and of one
`step.train_step` on an `ensemble.Ensemble` of 5 seeds stacked under torch.vmap (traced once per kind of call,
as ganzoo trains them, and untraced). `extra_info["gain"]` is the
throughput of the ensemble over that of 5 separate runs trained one after the other with
the same threads: 5 * t(single step) / t(ensemble step). (Two separate runs at a time on 2
cores, as `ganzoo bench --jobs 2` trains them, would each get one thread.)
"""

import pytest
import torch

from ganzoo.core.config import TrainConfig
from ganzoo.training.ensemble import build_ensemble
from ganzoo.training.opening import open_dataset
from ganzoo.training.players import build_training
from ganzoo.training.resolve import resolve
from ganzoo.training.step import train_step

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
SEEDS = 5
CASES = [("mlp", "ring8", 64), ("mlp", "ring8", 256), ("mlp", "ring8", 1024), ("pacgan-mlp", "ring8-pacgan", 100)]
single_step_seconds = {}


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def configs(arch, data, batch, seeds):
    return [resolve(TrainConfig(arch=arch, data=data, batch_size=batch, seed=s, device=str(DEVICE))) for s in seeds]


def timed(benchmark, step):
    for _ in range(5):
        step()  # warm-up
    benchmark(step)
    return benchmark.stats.stats.mean


@pytest.mark.parametrize("arch,data,batch", CASES)
def test_one_seed(benchmark, arch, data, batch):
    cfg = configs(arch, data, batch, [0])[0]
    training = build_training(cfg, open_dataset(cfg), DEVICE)
    benchmark.group = f"ensemble-{arch}-batch{batch}"
    single_step_seconds[arch, batch] = timed(benchmark, lambda: (train_step(training), sync()))
    benchmark.extra_info.update(device=str(DEVICE), batch_size=batch, seeds=1, threads=torch.get_num_threads())


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "vmap-every-call"])
@pytest.mark.parametrize("arch,data,batch", CASES)
def test_five_seeds_batched(benchmark, arch, data, batch, traced):
    """`traced`: as ganzoo trains them (each kind of call traced once, ensemble.Stacked);
    otherwise through vmap and functional_call at every call, for comparison."""
    cfgs = configs(arch, data, batch, range(SEEDS))
    ensemble = build_ensemble(cfgs, open_dataset(cfgs[0]), DEVICE)
    if not traced:
        for stacked in (ensemble.G, ensemble.D):
            stacked._trace = lambda *args: None
    benchmark.group = f"ensemble-{arch}-batch{batch}"
    seconds = timed(benchmark, lambda: (train_step(ensemble), sync()))
    benchmark.extra_info.update(
        device=str(DEVICE), batch_size=batch, seeds=SEEDS, threads=torch.get_num_threads(), traced=traced
    )
    if (arch, batch) in single_step_seconds:
        benchmark.extra_info["gain"] = round(SEEDS * single_step_seconds[arch, batch] / seconds, 2)
