"""One run on many processes: `torchrun --nproc-per-node N -m ganzoo train ...`.

torchrun starts N copies of the command and tells each its place (RANK, LOCAL_RANK,
WORLD_SIZE). Each process then trains one slice of every batch; DistributedDataParallel
averages G's and D's gradients over them, so the N processes take the step that one
process would take on the whole batch:

- The data and latent streams are the run's, drawn whole on every rank and sliced
  (rank r keeps rows r*B/N to (r+1)*B/N of the batch of B), so N processes train on
  the batches a single process of the same seed trains on. What a rank draws alone
  (augmentations, noise inside the models) comes from its own seed.
- Batch norm normalises over the whole batch, not each rank's slice: every batch-norm
  layer becomes a `CrossReplicaBatchNorm` (BigGAN's cross-replica batch norm) whose
  statistics are summed over the ranks. torch's SyncBatchNorm would do this on GPUs
  only; this one runs on the CPU's gloo backend too, which is how the tests check it.
- Buffers are not broadcast in every forward (DDP's `forward_sync_buffers=False`): the
  ranks hold the same weights, batch-norm statistics and spectral-norm vectors because
  they apply the same averaged updates, and broadcasting in every forward would overwrite
  spectral norm's vectors that a second D forward of the step still needs. `check_in_step`
  proves it at every checkpoint.
- Rank 0 alone writes (config, logs, checkpoints, samples, metrics); the others wait
  for it at the evaluations.
"""

from __future__ import annotations

import atexit
import datetime
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
from torch import nn

from ganzoo.errors import GanzooError

#: How far one rank's seed for its own draws is from the next rank's.
RANK_SEED_STRIDE = 1_000_003

#: Whether this process has joined a process group (then `leave` skips the interpreter's teardown).
_joined_a_group = False


@dataclass
class Ranks:
    """Where this process stands in the run: rank `rank` of `world`."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None
    flags_group: Any = None  # a gloo group for the per-step stop flag (no GPU sync)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def describe(self) -> dict:
        return {"world_size": self.world, "backend": self.backend, "cross_replica_batch_norm": self.active}

    def local(self, batch):
        """This rank's rows of a batch drawn whole (None stays None)."""
        if batch is None or not self.active:
            return batch
        size = batch.shape[0] // self.world
        return batch[self.rank * size : (self.rank + 1) * size]

    def own_seed(self, seed: int) -> int:
        """The seed of what this rank draws alone; rank 0 keeps the run's, as a single process."""
        return seed + self.rank * RANK_SEED_STRIDE

    # --- collectives; each is a no-op in a single process ----------------------------------------
    def mean(self, values: torch.Tensor) -> torch.Tensor:
        if self.active:
            values = values.clone()
            torch.distributed.all_reduce(values)
            values /= self.world
        return values

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on one; over the CPU (gloo) group: no device sync."""
        if not self.active:
            return flag
        value = torch.tensor([int(flag)])
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX, group=self.flags_group)
        return bool(value.item())

    def gather(self, value) -> list:
        """Every rank's `value` (any picklable object), on every rank."""
        if not self.active:
            return [value]
        out = [None] * self.world
        torch.distributed.all_gather_object(out, value, group=self.flags_group)
        return out

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier(group=self.flags_group)


def ranks_from_environment() -> Ranks:
    """A single process, or this process's place in a torchrun launch."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    return Ranks(rank=int(os.environ["RANK"]), world=world, local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def start(ranks: Ranks, device: torch.device, batch_size: int) -> torch.device:
    """Join the process group (nccl on CUDA, gloo on the CPU); returns this rank's device."""
    if not ranks.active:
        return device
    if batch_size % ranks.world:
        raise GanzooError(
            f"--batch-size {batch_size} does not split over {ranks.world} processes: each trains "
            f"batch-size / nproc-per-node samples of every batch. Choose a multiple of {ranks.world}."
        )
    if device.type == "cuda":
        if torch.cuda.device_count() <= ranks.local_rank:
            raise GanzooError(
                f"torchrun started local rank {ranks.local_rank}, but PyTorch sees "
                f"{torch.cuda.device_count()} GPU(s) here. Use --nproc-per-node "
                f"{torch.cuda.device_count()} or fewer."
            )
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    ranks.backend = "nccl" if device.type == "cuda" else "gloo"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(ranks.backend, timeout=datetime.timedelta(hours=2))  # evaluations
    global _joined_a_group
    _joined_a_group = True
    ranks.flags_group = torch.distributed.new_group(backend="gloo") if ranks.backend != "gloo" else None
    return device


def stop(ranks: Ranks) -> None:
    if ranks.active and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def joined_a_group() -> bool:
    """Whether this process has been in a process group (ganzoo's or one its caller made)."""
    return _joined_a_group or (torch.distributed.is_available() and torch.distributed.is_initialized())


def leave(code: int) -> NoReturn:
    """End this process with exit status `code`.

    A process that joined a process group runs the exit handlers, flushes its output and
    ends without the interpreter's teardown, as multiprocessing's child processes end.
    Gloo's worker threads let go of the tensors of the last collective a moment after the
    collective returns, and letting go takes the GIL. If that moment falls in the teardown,
    the thread is stopped inside a C++ destructor and the process aborts (SIGABRT,
    "terminate called without an active exception"): torchrun then reports a finished run
    as failed, about one launch in 25 on a busy 2-core machine. destroy_process_group does
    not end those threads: they live as long as anything else still holds the group.
    """
    if not joined_a_group():
        sys.exit(code)
    atexit._run_exitfuncs()  # what the teardown would have run first (logging's flush, for one)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


# torch 2.14 renamed broadcast_buffers to forward_sync_buffers, which also broadcasts the buffers
# once when DDP starts: harmless here, as every rank builds (or loads) the same weights.
_DDP_OPTIONS = inspect.signature(nn.parallel.DistributedDataParallel).parameters
_NO_BUFFER_BROADCAST: dict[str, Any] = (
    {"forward_sync_buffers": False} if "forward_sync_buffers" in _DDP_OPTIONS else {"broadcast_buffers": False}
)


def synchronised(model: nn.Module, ranks: Ranks, device: torch.device) -> nn.Module:
    """The model as the training step calls it: DDP averaging its gradients, or itself alone."""
    if not ranks.active:
        return model
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[device] if device.type == "cuda" else None, **_NO_BUFFER_BROADCAST
    )


class _SumOverRanks(torch.autograd.Function):
    """all_reduce (sum) that autograd differentiates: each rank's input reaches every rank's
    output, so each input's gradient is the sum of the outputs' gradients over the ranks."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        total = x.clone(memory_format=torch.contiguous_format)
        torch.distributed.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _SumOverRanks.apply(grad)


class CrossReplicaBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the whole batch of all ranks: sums and squared sums all-reduced, with
    gradients, so that N ranks normalise, and back-propagate, as one process with the whole
    batch would. In eval mode it is plain batch norm with the running statistics."""

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not torch.distributed.is_initialized():
            return super().forward(x)
        channels = x.shape[1]
        dims = [0, *range(2, x.dim())]
        count = x.new_tensor([x.numel() / channels])
        totals = _SumOverRanks.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        n = totals[-1]
        mean = totals[:channels] / n
        var = (totals[channels : 2 * channels] / n - mean * mean).clamp_min(0)  # biased, as batch norm uses
        if self.track_running_stats:
            assert (
                self.num_batches_tracked is not None and self.running_mean is not None and self.running_var is not None
            ), "tracked statistics are buffers batch norm made"
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1), momentum)
        shape = (1, channels) + (1,) * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def cross_replica_batch_norm(module: nn.Module) -> nn.Module:
    """Every batch-norm layer of `module` replaced by a CrossReplicaBatchNorm holding its state."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, CrossReplicaBatchNorm):
        replacement = CrossReplicaBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        replacement.load_state_dict(module.state_dict())
        return replacement.train(module.training)
    for name, child in module.named_children():
        setattr(module, name, cross_replica_batch_norm(child))
    return module


def check_in_step(ranks: Ranks, models: dict[str, nn.Module], step: int) -> None:
    """Every rank holds the same weights and buffers; raise, naming the model, if not."""
    if not ranks.active:
        return
    prints = {
        name: [float(t.detach().double().abs().sum()) for t in [*m.parameters(), *m.buffers()] if t.is_floating_point()]
        for name, m in models.items()
    }
    everyone = ranks.gather(prints)
    for name in models:
        if any(other[name] != everyone[0][name] for other in everyone[1:]):
            raise GanzooError(
                f"At step {step} the ranks hold different {name} weights or buffers: a layer "
                "updates state that DDP does not average (a buffer changed from each rank's own "
                "data). Train this architecture in one process, or make that state the same on "
                "every rank."
            )
