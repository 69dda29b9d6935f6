"""FLOPs of a training step, and what share of the device's peak they reach.

The loop counts the floating-point operations of its first steps with PyTorch's
`torch.utils.flop_counter.FlopCounterMode` (matrix products, convolutions and
attention, forward and backward; elementwise work is not counted, as in every MFU
figure). It counts inside the first, warm-up window, which the speed leaves out, so
the counter's own overhead costs no measured time. It counts `reg_every` steps (at
least one), so that a lazy regulariser's extra step weighs in as often as it runs.

From the count and the timed speed, the throughput record gets the achieved GFLOP/s
and, on a GPU listed below, the model FLOPs utilisation (MFU): achieved / peak.
"""

from __future__ import annotations

import contextlib
import math
import os

import torch

# Dense peak FLOP/s from NVIDIA's data sheets (the "with sparsity" figures halved), by a
# substring of torch.cuda.get_device_name(), first match wins: (FP32, TF32 tensor cores,
# BF16/FP16 tensor cores).
PEAK_FLOPS = {
    "H200": (67e12, 494.7e12, 989.4e12),  # H200 SXM: the H100 SXM's compute
    "H100 PCIe": (51e12, 378e12, 756e12),
    "H100": (67e12, 494.7e12, 989.4e12),  # H100 SXM5
    "A100": (19.5e12, 156e12, 312e12),
    "L40S": (91.6e12, 183e12, 362.05e12),
    "L4": (30.3e12, 60e12, 121e12),
    "V100": (15.7e12, 15.7e12, 125e12),  # no TF32: FP32 for both; FP16 tensor cores only (no BF16)
}


def device_peak(device: torch.device, precision: str = "fp32") -> dict | None:
    """The peak FLOP/s that this run's arithmetic can reach on `device`, and which one it is:
    under bf16 or fp16 the tensor cores' 16-bit peak; in fp32, TF32 when PyTorch lets matrix
    products (`torch.set_float32_matmul_precision`) or cuDNN convolutions use it (cuDNN does by
    default), else FP32. None for a CPU (benchmarks/ measures a CPU's) or an unlisted GPU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    row = next((peaks for key, peaks in PEAK_FLOPS.items() if key in name), None)
    if row is None:
        return None
    if precision in ("bf16", "fp16"):
        return {"device_name": name, "kind": precision, "flops_per_s": row[2]}
    tf32 = torch.get_float32_matmul_precision() != "highest" or torch.backends.cudnn.allow_tf32
    return {"device_name": name, "kind": "tf32" if tf32 else "fp32", "flops_per_s": row[1] if tf32 else row[0]}


class _NoModules:
    """Stands in for FlopCounterMode's per-module tracker: every count goes to "Global"."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return None


def _counter():
    """FlopCounterMode (its formulas and dispatch) without its per-module breakdown, whose
    backward hooks make torch.autograd.grad on a leaf input fail (R1's gradient penalty)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModules()
    return counter


def counting_wanted() -> bool:
    """$GANZOO_FLOPS=0 turns the count off. The counter's first use in a process imports
    torch._dynamo (about 3 s on a CPU); the test suite, which starts many short processes,
    turns it off except where it tests the count."""
    return os.environ.get("GANZOO_FLOPS", "1") != "0"


class StepFlops:
    """Counts the FLOPs of the first `steps` training steps of a process."""

    def __init__(self, steps: int):
        self.steps_to_count = max(1, int(steps))
        self.counted_steps, self.total = 0, 0
        self.error: str | None = None if counting_wanted() else "not counted: GANZOO_FLOPS=0"

    @contextlib.contextmanager
    def around_step(self, warming_up: bool):
        """Wrap one training step; counts it while the first steps last, inside the warm-up window."""
        if not warming_up or self.counted_steps >= self.steps_to_count or self.error:
            yield
            return
        counter = _counter()
        try:
            counter.__enter__()
        except Exception as error:  # a backend the counter cannot follow: no count, training goes on
            self.error = f"{type(error).__name__}: {error}"
            yield
            return
        try:
            yield
        finally:
            counter.__exit__(None, None, None)
        self.total += counter.get_total_flops()
        self.counted_steps += 1

    @property
    def per_step(self) -> float | None:
        return self.total / self.counted_steps if self.counted_steps else None

    def add_to(self, throughput: dict, device: torch.device, precision: str = "fp32") -> dict:
        """The throughput record (`TrainingClock.throughput`) with FLOPs per step, the achieved
        GFLOP/s and, where the device's peak is known, the MFU."""
        steps_per_s = throughput.get("steps_per_s")
        out: dict = {
            **throughput,
            "flops_per_step": self.per_step,
            "flops_counted_steps": self.counted_steps,
            "flops_counter": "torch.utils.flop_counter.FlopCounterMode",
        }
        if self.error:
            out["flops_error"] = self.error
        if self.per_step is None or not steps_per_s:
            return out
        achieved = self.per_step * steps_per_s
        out["gflops_per_s"] = achieved / 1e9
        peak = device_peak(device, precision)
        if peak is not None and math.isfinite(achieved):
            out["peak"] = peak
            out["mfu_pct"] = 100 * achieved / peak["flops_per_s"]
        return out
