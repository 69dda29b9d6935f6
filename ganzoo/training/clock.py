"""Training time and step speed, apart from evaluation and checkpoints.

The loop runs in windows: the steps between two bookkeeping points (log, evaluation,
checkpoint). Only the windows count as training time. The first window after a start
or a resume is warm-up (allocations, autotuning) and is left out of the speed.
"""

from __future__ import annotations

import contextlib
import platform
import time

import torch


class TrainingClock:
    def __init__(self, train_seconds: float = 0.0):
        self.train_seconds = train_seconds  # a resumed run keeps counting its time
        self.window_start, self.window_steps = time.perf_counter(), 0
        self.log_steps, self.log_seconds = 0, 0.0
        self.warmed_up, self.warmup_steps = False, 0
        self.timed_steps, self.timed_seconds = 0, 0.0
        self.first_step_seconds: float | None = None

    @contextlib.contextmanager
    def first_step(self, is_first: bool, device: torch.device):
        """Times the process's first step on its own: it holds one-off work (torch.compile's
        compilation, cuDNN's autotuning, allocations) that the throughput reports apart."""
        if not is_first:
            yield
            return
        started = time.perf_counter()
        yield
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        self.first_step_seconds = time.perf_counter() - started

    def count_step(self) -> None:
        self.window_steps += 1
        self.log_steps += 1

    def close_window(self) -> None:
        """End the current window (call once the device has finished its steps)."""
        elapsed = time.perf_counter() - self.window_start
        self.train_seconds += elapsed
        self.log_seconds += elapsed
        if self.warmed_up:
            self.timed_steps, self.timed_seconds = self.timed_steps + self.window_steps, self.timed_seconds + elapsed
        else:
            self.warmup_steps = self.window_steps
        self.warmed_up, self.window_steps = True, 0

    def open_window(self) -> None:
        self.window_start = time.perf_counter()

    def take_log_interval(self) -> tuple[int, float | None]:
        """Steps since the last log line and their speed (steps/s); starts a new interval."""
        steps, seconds = self.log_steps, self.log_seconds
        self.log_steps, self.log_seconds = 0, 0.0
        return steps, (steps / seconds if seconds > 0 else None)

    def throughput(self, cfg, device: torch.device) -> dict:
        """Speed of the training step alone (no evaluation, no checkpoints, warm-up excluded).
        images/s counts real images shown to D, as StyleGAN's kimg does."""
        steps, seconds = self.timed_steps, self.timed_seconds
        rate = steps / seconds if seconds > 0 and steps else None
        out = {
            "steps_per_s": rate,
            "images_per_s": rate * cfg.batch_size * cfg.n_d if rate else None,
            "timed_steps": steps,
            "timed_seconds": round(seconds, 4),
            "warmup_steps": self.warmup_steps,
            "first_step_seconds": None if self.first_step_seconds is None else round(self.first_step_seconds, 4),
            "precision": cfg.precision,
            "batch_size": cfg.batch_size,
            "n_d": cfg.n_d,
            "device": str(device),
        }
        if cfg.compile:  # the first step compiles G and D; the speed above leaves it out (warm-up)
            out["compile_seconds"] = out["first_step_seconds"]
        if device.type == "cuda":
            out["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        else:  # the process's peak resident memory: an upper bound for this run on CPU
            import resource

            scale = 1 if platform.system() == "Darwin" else 1024  # bytes on macOS, KiB on Linux
            out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, 1)
        return out
