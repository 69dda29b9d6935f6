"""What a checkpoint holds: everything that decides the rest of a run after a step (weights,
optimiser moments, EMA, every random generator, the data position), so that a resumed run
ends in the same state, bit for bit on CPU, as one that never stopped."""

from __future__ import annotations

import torch

from ganzoo.errors import GanzooError
from ganzoo.training.players import Training


def training_state(t: Training, step: int) -> dict:
    """Everything that decides the rest of the run after `step` steps: what a checkpoint holds."""
    return {
        "step": step,
        "generator": t.G.state_dict(),
        "discriminator": t.D.state_dict(),
        "g_opt": t.g_opt.state_dict(),
        "d_opt": t.d_opt.state_dict(),
        "ema": t.ema.state_dict() if t.ema is not None else None,
        "batches": t.batches.state_dict(),
        "latent_rng": t.latent_rng.get_state(),
        "augment_state": t.augment.state_dict() if hasattr(t.augment, "state_dict") else None,
        "grad_scalers": t.precision.state_dict() if t.precision is not None else [],  # fp16's loss scales
        **own_random_state(t),  # torch_rng, cuda_rng, augment_rng
        "config": t.cfg.to_dict(),
    }


def restore_training_state(t: Training, checkpoint: dict) -> int:
    """Put a checkpoint's state back; returns its step."""
    try:
        t.G.load_state_dict(checkpoint["generator"])
        t.D.load_state_dict(checkpoint["discriminator"])
        t.g_opt.load_state_dict(checkpoint["g_opt"])
        t.d_opt.load_state_dict(checkpoint["d_opt"])
        if t.ema is not None:
            t.ema.load_state_dict(checkpoint["ema"])
        t.batches.load_state_dict(checkpoint["batches"])
        if t.precision is not None:
            t.precision.load_state_dict(checkpoint.get("grad_scalers"))
        t.latent_rng.set_state(checkpoint["latent_rng"])
        if t.augment_rng is not None:
            t.augment_rng.set_state(checkpoint["augment_rng"])
        if hasattr(t.augment, "load_state_dict") and checkpoint.get("augment_state") is not None:
            t.augment.load_state_dict(checkpoint["augment_state"])
        torch.set_rng_state(checkpoint["torch_rng"])
        if checkpoint.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(checkpoint["cuda_rng"], t.device)
        if t.ranks.active:
            _restore_own_random_state(t, checkpoint.get("ranks"), int(checkpoint["step"]))
        return int(checkpoint["step"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise GanzooError(
            f"The checkpoint does not match this run's models ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0]}). It was written by another configuration or version; "
            "train into a new --out instead of resuming."
        ) from None


def own_random_state(t: Training) -> dict:
    """The generators a process draws from alone (a checkpoint keeps every rank's)."""
    return {
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(t.device) if t.device.type == "cuda" else None,
        "augment_rng": t.augment_rng.get_state() if t.augment_rng is not None else None,
    }


def _restore_own_random_state(t: Training, saved: list | None, step: int) -> None:
    """This rank's generators as the checkpoint left them; a run resumed on another number of
    processes seeds them afresh from (seed, rank, step)."""
    if saved is not None and len(saved) == t.ranks.world:
        mine = saved[t.ranks.rank]
        torch.set_rng_state(mine["torch_rng"])
        if mine["cuda_rng"] is not None:
            torch.cuda.set_rng_state(mine["cuda_rng"], t.device)
        if t.augment_rng is not None and mine["augment_rng"] is not None:
            t.augment_rng.set_state(mine["augment_rng"])
        return
    seed = t.ranks.own_seed(t.cfg.seed) + step
    torch.manual_seed(seed)
    if t.augment_rng is not None:
        t.augment_rng.manual_seed(seed + 3)
