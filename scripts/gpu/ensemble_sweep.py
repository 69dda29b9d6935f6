"""Seed-batched step time against one seed's step, for 5, 25 and 100 seeds, on this machine's
GPU (the CPU where there is none). Writes one JSON row per network x batch x seed count.

    python scripts/gpu/ensemble_sweep.py OUT.json

benchmarks/test_ensemble_speed.py times the 5-seed case with pytest-benchmark; this sweep
shows how the gain grows with the number of seeds, which is where a GPU differs from a CPU.
"""

import json
import sys
import time
from pathlib import Path

from ganzoo.training.ensemble import build_ensemble
from ganzoo.training.opening import open_dataset
from ganzoo.training.players import build_training
from ganzoo.training.step import train_step

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from test_ensemble_speed import DEVICE, configs, sync  # noqa: E402  (the benchmark's own configurations)

CASES = [("mlp", "ring8", 64), ("mlp", "ring8", 256), ("pacgan-mlp", "ring8-pacgan", 100)]


def seconds_per_call(step, calls=60):
    for _ in range(10):  # warm-up: allocations, cuBLAS handles
        step()
    sync()
    start = time.perf_counter()
    for _ in range(calls):
        step()
    sync()
    return (time.perf_counter() - start) / calls


def main(out_path):
    rows = []
    for arch, data, batch in CASES:
        cfg = configs(arch, data, batch, [0])[0]
        one = seconds_per_call(lambda t=build_training(cfg, open_dataset(cfg), DEVICE): train_step(t))  # noqa: B008 - built once, before timing
        for n in (5, 25, 100):
            cfgs = configs(arch, data, batch, range(n))
            ensemble = build_ensemble(cfgs, open_dataset(cfgs[0]), DEVICE)
            batched = seconds_per_call(lambda: train_step(ensemble))  # noqa: B023 - timed at once
            rows.append(
                {
                    "arch": arch,
                    "data": data,
                    "batch": batch,
                    "seeds": n,
                    "device": str(DEVICE),
                    "one_step_ms": round(one * 1e3, 3),
                    "ensemble_step_ms": round(batched * 1e3, 3),
                    "gain": round(n * one / batched, 2),
                }
            )
            print(rows[-1], flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
