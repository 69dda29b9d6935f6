"""`--compile`: G's and D's forward passes in the training step through `torch.compile`.

A small GAN's step is mostly per-operation overhead: Python, the dispatcher and, on a GPU,
kernel launches. TorchInductor fuses the elementwise work into a few generated kernels; on
CUDA, `mode="reduce-overhead"` also records the step's kernels as CUDA graphs and replays
them with one launch. The weights stay the module's own (the compiled call shares them), so
checkpoints, evaluation, the EMA and the gradient penalties see the plain modules, run
eagerly. Compiling takes seconds to a minute, at a network's first calls (the warm-up the
speed leaves out: the throughput record reports it apart, `compile_seconds`). TorchDynamo
keeps what it compiled for the process, keyed by the networks' code, so a worker that trains
several cells of one architecture compiles it once and only re-checks its guards after.

A spectrally normalised network (SNGAN's D, BigGAN's G and D) stays eager: its power
iteration updates a vector in place at every call, which the compiled backward pass refuses
(a version-counter error) when D is called twice before it. The throughput record lists the
networks that were compiled (`compiled`).

Compiled and eager steps agree to floating-point rounding (fused kernels sum in another
order), so --compile is not part of a run's protocol; tests/test_precision.py checks the
agreement.
"""

from __future__ import annotations

import logging
import shutil

import torch

from ganzoo.errors import GanzooError

# A persistent worker compiles each architecture's G and D, each with and without gradients
# for its weights (D's and G's updates): well over torch's default of 8 entries per network's
# code once a few cells have run. A network past the limit would silently run eagerly.
RECOMPILES_PER_NETWORK = 64


def compile_mode(device: torch.device) -> str:
    """CUDA graphs where kernel launches dominate (a GPU); Inductor's default elsewhere."""
    return "reduce-overhead" if device.type == "cuda" else "default"


def check_compiler(device: torch.device) -> None:
    """TorchInductor writes C++ for a CPU: say so before the first step if no compiler is there."""
    if device.type == "cpu" and not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")):
        raise GanzooError(
            "--compile on a CPU needs a C++ compiler (TorchInductor generates C++ kernels), and none "
            "(g++, c++, clang++) is on the PATH. Install one (e.g. `apt install g++`) or drop --compile."
        )


def spectrally_normed(network: torch.nn.Module) -> bool:
    """Whether any layer has spectral norm, as a parametrisation or as the older hook."""
    for module in network.modules():
        if hasattr(module, "weight_orig"):  # torch.nn.utils.spectral_norm
            return True
        for chain in getattr(module, "parametrizations", {}).values():
            if any(type(p).__name__ == "_SpectralNorm" for p in chain):
                return True
    return False


def compiled(network: torch.nn.Module, device: torch.device, plain: torch.nn.Module | None = None):
    """`network` called through torch.compile (same weights, same results to rounding), or
    `network` itself when it cannot be (spectral norm, above). `plain`: the module inside a
    wrapper such as DDP, to look for spectral norm in."""
    if spectrally_normed(plain if plain is not None else network):
        return network
    import torch._dynamo

    if device.type == "cpu":  # its "No CUDA runtime is found" at the first compilation means nothing here
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, RECOMPILES_PER_NETWORK)
    return torch.compile(network, mode=compile_mode(device))


def mark_step_begin(device: torch.device) -> None:
    """Before each step under CUDA graphs: the previous step's outputs may be overwritten."""
    if device.type == "cuda":
        torch.compiler.cudagraph_mark_step_begin()
