"""The local executor: a suite's cells in long-lived worker processes on this machine,
with the signal handling that lets a stopped or killed bench lose nothing (each running
cell checkpoints and stops; a worker whose bench died exits)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ganzoo.bench.cells import died_record, run_cells
from ganzoo.bench.suite import Cell
from ganzoo.runs.resultsdir import ResultsDir

_stopping = False  # in a worker: a stop signal has reached it


_bench_died = False  # in a worker: the parent-death signal has reached it (`_parent_died`)


def _worker_cell(args):
    """Run a cell in a worker process. Once a stop signal has interrupted one cell, the worker
    starts no other: the pool hands each worker its next cell before the current one ends,
    and that cell cannot be cancelled from the bench any more. A worker whose bench has died
    exits, where it would otherwise wait for work forever."""
    global _stopping
    cells, runs, threads = args
    if _stopping:
        raise KeyboardInterrupt
    marker = ResultsDir(Path(runs).parent).in_flight / str(os.getpid())  # read if this worker dies
    marker.write_text("\n".join(c.id for c in cells))
    try:
        return run_cells(cells, runs, threads)
    except KeyboardInterrupt:
        _stopping = True
        if _bench_died or _orphaned():
            os._exit(130)  # the checkpoint is written; nobody is left to hear the result
        raise
    finally:
        marker.unlink(missing_ok=True)


def run_locally(units: list[list[Cell]], out_dir: Path, *, threads: int | None, finish, jobs: int) -> None:
    """The local executor: the work units in this process for one job, else in `jobs`
    long-lived worker processes (each imports torch and the plugins once, then trains unit
    after unit). A cell that kills its worker (a segfault, the out-of-memory killer, os._exit)
    fails alone: the pool is rebuilt, the units that were in flight when it broke are each run
    again on their own (resuming their checkpoints), and one whose lone worker dies too is
    recorded as failed. `finish(record)` for each cell as it ends."""
    if jobs <= 1:
        for unit in units:
            for record in run_cells(unit, ResultsDir(out_dir).runs):
                finish(record)
        return
    queue, alone = list(units), list[list[Cell]]()
    while queue or alone:
        if alone:  # suspected of killing a worker: on its own, so a crash names its cell
            batch, workers = [alone.pop(0)], 1
        else:
            batch, workers, queue = queue, min(jobs, len(queue)), []
        # Fewer units than jobs: the threads of the workers not started go to the others (a lone
        # 5-seed ensemble of PacGAN's networks trains 1.4x faster on 2 threads than on 1). Not
        # at a long queue's end: a unit's threads are set when it starts.
        shared = max(1, threads * jobs // workers) if threads else None
        broken = _run_pool(batch, out_dir, workers, shared, finish)
        if broken is None:
            continue
        in_flight, not_started = broken
        if workers == 1:
            for cell in batch[0]:
                finish(died_record(cell))
        elif in_flight:
            alone += in_flight
            queue = not_started + queue
        else:  # no cell named itself: a worker died between cells; try each alone, so none loops forever
            alone += not_started


def _run_pool(batch: list[list[Cell]], out_dir: Path, workers: int, threads: int | None, finish):
    """Run `batch`'s work units in a pool of `workers` processes. None when it finished; after a
    worker died, (the units that were in flight, the units not started)."""

    markers = ResultsDir(out_dir).in_flight
    shutil.rmtree(markers, ignore_errors=True)
    markers.mkdir(parents=True)
    with (
        ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=stop_with_parent
        ) as pool,
        _forward_sigterm(pool),
    ):
        futures = {pool.submit(_worker_cell, (unit, ResultsDir(out_dir).runs, threads)): unit for unit in batch}
        finished = set()
        try:
            for future in as_completed(futures):
                try:
                    records = future.result()
                except BrokenProcessPool:
                    running = {line for m in markers.iterdir() for line in m.read_text().splitlines()}
                    left = [unit for f, unit in futures.items() if f not in finished]
                    return ([u for u in left if u[0].id in running], [u for u in left if u[0].id not in running])
                finished.add(future)
                for record in records:
                    finish(record)
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise
    shutil.rmtree(markers, ignore_errors=True)
    return None


#: What the kernel sends a worker when its bench dies. Not SIGTERM itself: the kernel sends it
#: again each time one of the dead bench's threads exits (the child is handed from thread to
#: thread), and a second SIGTERM means "stop at once", before the checkpoint.
PARENT_DIED = signal.SIGUSR1


def stop_with_parent() -> None:
    """In a worker: when the bench dies, even by SIGKILL, receive one SIGTERM, so the running
    cell checkpoints and stops instead of training on unseen (and racing a re-run of the
    bench), and the worker then exits (`_worker_cell`).
    Linux only (prctl); elsewhere the run-directory lock keeps a re-run from colliding."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        signal.signal(PARENT_DIED, _parent_died)
        with contextlib.suppress(OSError, AttributeError):
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, PARENT_DIED)
        if _orphaned():  # the bench died before prctl took hold
            _parent_died(PARENT_DIED, None)


def _orphaned() -> bool:
    """In a worker: whether its parent is no longer the bench that started it."""
    bench = multiprocessing.parent_process()
    return bench is not None and os.getppid() != bench.pid


def _parent_died(signum, frame) -> None:
    """Once: a repeat can arrive before SIG_IGN takes hold and run this handler again, nested
    within itself. The first of the bench's threads has exited; others may live a moment
    longer, so the worker's parent may still be the bench when the cell has stopped."""
    global _bench_died
    if not _bench_died:
        _bench_died = True
        signal.signal(signum, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def _forward_sigterm(pool):
    """SIGTERM (a scheduler stopping the job) reaches the bench alone, not its workers: pass it
    on, so that each running cell finishes its step and checkpoints, and stop like Ctrl-C
    (which the terminal sends to every process of the group by itself)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGTERM)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
