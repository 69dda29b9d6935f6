"""`ganzoo bench SUITE --executor ray`: the suite's cells as Ray tasks.

Ray schedules the cells over a cluster (or this machine) and re-runs a task whose worker
process or node died; ganzoo keeps everything else as the local executor does. The bench
process stays the only writer of `results.jsonl`, recording each cell as its task
returns, so a re-run of the command skips the recorded cells and an interrupted cell
resumes from its checkpoint. Cells write their run directories under the results
folder themselves: on a cluster, that folder must be on a file system every node
mounts (see docs/scaling.md), and each task checks that its node sees it.
"""

from __future__ import annotations

import os
import platform
import secrets
from pathlib import Path

from ganzoo.bench.cells import run_cells
from ganzoo.errors import GanzooError
from ganzoo.runs.resultsdir import ResultsDir

#: Times Ray runs a cell again after its worker process (or node) died while training it.
RETRIES_AFTER_A_DEATH = 2

#: Written by the bench into the results folder, with a token of this bench's own; a task
#: that cannot read it back runs on a node that does not see the folder.
MARKER = ".ganzoo-shared-storage"


class StorageNotShared(GanzooError):
    """A task's node does not see the bench's results folder."""


def _write_marker(out_dir: Path) -> str:
    token = secrets.token_hex(16)
    (out_dir / MARKER).write_text(token)
    return token


def check_shared(out_dir: str, token: str) -> None:
    """Raise StorageNotShared unless this node reads the bench's own marker in `out_dir`."""
    try:
        seen = (Path(out_dir) / MARKER).read_text()
    except OSError:
        seen = None
    if seen != token:
        sees = "finds another bench's marker in it" if seen else "does not see the folder"
        raise StorageNotShared(
            f"The results folder {out_dir} is not shared with Ray node {platform.node()}: that node {sees}, so "
            "its cells would write their run directories to its own disk, out of the bench's reach. Put --out "
            "on a file system that every node mounts at the same path (NFS, Lustre, a cluster's home or "
            "scratch), e.g. --out /shared/results/STUDY; see docs/scaling.md."
        )


def _unit_task(cells, out_dir: str, token: str, threads: int | None):
    check_shared(out_dir, token)
    return run_cells(cells, ResultsDir(out_dir).runs, threads)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise GanzooError(
            "--executor ray needs Ray, which is not installed here. Install it with "
            "`pip install 'pyganzoo[ray]'` (on every node of a cluster), or leave out --executor "
            "to run the cells in local worker processes."
        ) from None
    return ray


def start_ray(address: str | None):
    """Join the cluster at `address` ('auto': the one this node belongs to; HOST:PORT), or start
    a Ray instance on this machine for the bench's lifetime when None."""
    ray = _import_ray()
    # The cells' tasks see the settings ganzoo reads from the environment (data root, plugins...).
    env = {k: v for k, v in os.environ.items() if k.startswith("GANZOO_")}
    if address is None:  # the cells are this machine's job: Ray's default niceness, 15, would yield them to any
        os.environ.setdefault("RAY_worker_niceness", "0")
    try:
        ray.init(
            address=address,
            runtime_env={"env_vars": env} if env else None,
            log_to_driver=False,
            **({} if address else {"include_dashboard": False}),
        )
    except ConnectionError as exc:
        raise GanzooError(
            f"Cannot reach a Ray cluster at --ray-address {address}: {exc}. Start one (`ray start "
            "--head` on the head node) or check the address; leave out --ray-address to start Ray "
            "on this machine."
        ) from None
    return ray


def cluster_has_gpus(ray) -> bool:
    return ray.cluster_resources().get("GPU", 0) > 0


def run_on_ray(ray, units: list[list], out_dir: Path, *, threads: int | None, gpu: bool, finish, died) -> None:
    """Run each work unit (a cell, or a seed-batched ensemble's cells) as a Ray task asking for
    `threads` CPUs (1 if None) and, with `gpu`, one GPU; `finish(record)` for each cell as its
    task returns; `died(cell)` is the record of one whose worker died more often than Ray
    re-runs it."""
    task = ray.remote(_unit_task).options(
        num_cpus=threads or 1, num_gpus=1 if gpu else 0, max_retries=RETRIES_AFTER_A_DEATH, retry_exceptions=False
    )
    out_dir = Path(out_dir).resolve()
    token = _write_marker(out_dir)
    pending = {task.remote(unit, str(out_dir), token, threads): unit for unit in units}
    try:
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            unit = pending.pop(ready)
            try:
                records = ray.get(ready)
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError):
                records = [died(cell) for cell in unit]
            except StorageNotShared as exc:  # Ray's wrapper of the task's error is an instance of it too
                raise StorageNotShared(str(getattr(exc, "cause", exc))) from None
            for record in records:
                finish(record)
    except (KeyboardInterrupt, GanzooError):
        for ref in pending:  # a cancelled cell gets KeyboardInterrupt: it checkpoints and stops
            ray.cancel(ref)
        raise
    finally:
        (out_dir / MARKER).unlink(missing_ok=True)
