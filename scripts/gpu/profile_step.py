"""Where a training step of a ResNet and of R3GAN goes on this machine: torch.profiler over
3 steps, the top operators by host (CPU) time and by device time.

    python scripts/gpu/profile_step.py

A step whose host time is far above its device time is bound by launches (Python and
dispatch overhead); one whose device time dominates is bound by its kernels. On a CPU the
full-size R3GAN part takes several minutes.
"""

import sys
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from test_step_speed import DEVICE, ganzoo_step  # noqa: E402  (the benchmark's own step)

ACTIVITIES = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEVICE.type == "cuda" else [])

for arch, loss in [("sngan-resnet.test", "hinge"), ("r3gan", "rpgan")]:
    step, cfg = ganzoo_step(arch, loss)
    for _ in range(3):
        step()
    with profile(activities=ACTIVITIES) as prof:
        for _ in range(3):
            step()
    print(f"===== {arch} {loss} n_d={cfg.n_d}, 3 steps on {DEVICE}")
    averages = prof.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=22, max_name_column_width=50))
    if DEVICE.type == "cuda":
        print(averages.table(sort_by="self_cuda_time_total", row_limit=12, max_name_column_width=50))
