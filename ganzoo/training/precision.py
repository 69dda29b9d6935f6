"""Mixed precision (`--precision fp32|bf16|fp16`): the arithmetic of G's and D's forward passes,
and the loss scaling fp16 needs.

fp32 is every run's default. bf16 and fp16 run G's and D's forward passes in the training
step under `torch.autocast` (matrix products and convolutions in the low precision, what
autocast keeps in fp32 in fp32). Everything else stays fp32, as StyleGAN2-ADA and R3GAN
keep it:
- the weights, their gradients and the optimisers' state (autocast computes on cast copies);
- the losses: the players hand them fp32 logits and samples (`as_fp32`);
- the gradient penalties (R1, R2, WGAN-GP) and G's own (path length, orthogonal): they run
  the networks again, outside autocast;
- batch norm's running statistics (buffers stay fp32) and the EMA of G;
- every metric: evaluation samples G outside autocast.
fp16's narrow exponent flushes small gradients to zero, so each optimiser gets its own
gradient scaler (`torch.amp.GradScaler`), whose state a checkpoint keeps for exact resume.

Precision changes numbers, so it is part of a run's protocol: config.json records it, and
the report's protocol guard treats a precision other than a paper's as a difference.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable

import torch

from ganzoo.errors import GanzooError, GanzooWarning

LOW_PRECISION_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def precision_problem(precision: str, device: torch.device) -> str | None:
    """Why `device` cannot train in `precision`, or None if it can."""
    if precision == "fp16" and device.type != "cuda":
        return (
            f"--precision fp16 needs a CUDA GPU, and this run is on {device.type}: CPUs have no fast "
            "fp16 arithmetic, and fp16's loss scaling is a GPU practice. Use --precision bf16 on a CPU "
            "(fast on CPUs with AMX or AVX-512-BF16), or fp32."
        )
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        return (
            f"--precision bf16 needs a GPU with bfloat16 arithmetic (NVIDIA Ampere or newer); "
            f"{torch.cuda.get_device_name(device)} has none. Use --precision fp16 there, or fp32."
        )
    return None


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX-512-BF16 or AMX, as oneDNN reports it;
    the check honours ONEDNN_MAX_CPU_ISA). Unknown counts as yes: no warning on a guess."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


def precision_warning(precision: str, device: torch.device) -> str | None:
    """Why `precision` will be slow on `device` though it runs, or None."""
    if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        return (
            "--precision bf16 on a CPU without bf16 arithmetic (no AVX-512-BF16 or AMX): the step "
            "runs, under the same protocol, but emulated and far slower than fp32 (the dcgan step "
            "took 17x as long as in fp32 with oneDNN limited to AVX2). Use fp32 on this machine "
            "unless the run must match a bf16 protocol."
        )
    return None


class Precision:
    """How a run's step computes: the forward passes' autocast, and the backward pass and
    optimiser step of each player (through its gradient scaler under fp16)."""

    def __init__(self, name: str, device: torch.device, optimizers: Iterable[torch.optim.Optimizer] = ()):
        problem = precision_problem(name, device)
        if problem is not None:
            raise GanzooError(problem)
        slow = precision_warning(name, device)
        if slow is not None:
            warnings.warn(slow, GanzooWarning, stacklevel=2)
        self.name = name
        self.device_type = device.type
        self.dtype = LOW_PRECISION_DTYPES.get(name)
        self.scalers = {opt: torch.amp.GradScaler(device.type) for opt in optimizers} if name == "fp16" else {}

    def autocast(self) -> contextlib.AbstractContextManager:
        """What a forward pass of G or D runs under (nothing, in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, **kwargs) -> None:
        """`loss.backward(**kwargs)`, scaled by `optimizer`'s scaler under fp16."""
        scaler = self.scalers.get(optimizer)
        (loss if scaler is None else scaler.scale(loss)).backward(**kwargs)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """`optimizer.step()`; under fp16 its gradients are unscaled first, and a step whose
        gradients overflowed is skipped while the scale shrinks (GradScaler's rule)."""
        scaler = self.scalers.get(optimizer)
        if scaler is None:
            optimizer.step()
            return
        scaler.step(optimizer)
        scaler.update()

    def state_dict(self) -> list[dict]:
        return [scaler.state_dict() for scaler in self.scalers.values()]

    def load_state_dict(self, states: list[dict] | None) -> None:
        if not self.scalers:
            return
        if not states or len(states) != len(self.scalers):
            raise GanzooError(
                "The checkpoint holds no fp16 gradient scalers, but this run trains in fp16: it was "
                "written by a run in another precision. Resume with that run's --precision, or train "
                "into a new --out."
            )
        for scaler, state in zip(self.scalers.values(), states):
            scaler.load_state_dict(state)


def as_fp32(x: torch.Tensor) -> torch.Tensor:
    """A forward pass's output as the losses take it: fp32 where autocast made it bf16 or fp16,
    else the tensor itself."""
    return x.float() if x.dtype in LOW_PRECISION_DTYPES.values() else x
