"""Fault injection at small size: real processes killed the way machines and schedulers kill
them, then resumed. Nothing may be lost, and a resumed run must end bit-identical to one
that was never interrupted."""

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_train import assert_same_state  # noqa: E402  (tests/ is on sys.path under pytest)

from ganzoo.util.files import load_checkpoint, read_jsonl

TRAIN = [
    "train",
    "--arch",
    "mlp.test",
    "--data",
    "ring8",
    "--steps",
    "600",
    "--batch-size",
    "32",
    "--log-every",
    "10",
    "--eval-every",
    "300",
    "--eval-samples",
    "200",
    "--checkpoint-every",
    "25",
    "--device",
    "cpu",
    "--no-progress",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
ENV.pop("GANZOO_PLUGINS", None)


def ganzoo(*args, env=None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ganzoo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or ENV,
        **kwargs,
    )


def logged_step(run: Path) -> int:
    records = read_jsonl(run / "train_log.jsonl")
    return records[-1]["step"] if records else 0


def wait_for_step(process: subprocess.Popen, run: Path, step: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while logged_step(run) < step:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no step {step} in {timeout} s"
        time.sleep(0.002)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("whole") / "run"
    process = ganzoo(*TRAIN, "--out", str(run))
    assert process.wait(timeout=300) == 0, process.communicate()
    return load_checkpoint(run / "checkpoints" / "latest.pt")


@pytest.mark.slow
def test_sigkill_at_random_steps_then_resume_is_bit_exact(tmp_path, uninterrupted):
    run = tmp_path / "run"
    rng = random.Random(11)
    kills = sorted(rng.sample(range(30, 560), 3))
    for i, step in enumerate(kills):
        process = ganzoo(*TRAIN, "--out", str(run), *(["--resume"] if i else []))
        wait_for_step(process, run, step)
        process.kill()  # SIGKILL: no handler runs, whatever was being written stays half-written
        process.wait()
    process = ganzoo(*TRAIN, "--out", str(run), "--resume")
    assert process.wait(timeout=300) == 0, process.communicate()
    assert_same_state(uninterrupted, load_checkpoint(run / "checkpoints" / "latest.pt"))
    steps = [r["step"] for r in read_jsonl(run / "train_log.jsonl")]
    assert steps == sorted({*range(10, 601, 10), *range(25, 601, 25)})  # each log and checkpoint once


@pytest.mark.slow
def test_sigterm_checkpoints_and_exits_then_resumes(tmp_path, uninterrupted):
    run = tmp_path / "run"
    process = ganzoo(*TRAIN, "--out", str(run))
    wait_for_step(process, run, 110)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "checkpoint saved" in err and "Traceback" not in err
    stopped = load_checkpoint(run / "checkpoints" / "latest.pt")["step"]
    assert 110 <= stopped < 600 and stopped == logged_step(run)  # the step it was on, not the last interval
    process = ganzoo(*TRAIN, "--out", str(run), "--resume")
    assert process.wait(timeout=300) == 0
    assert_same_state(uninterrupted, load_checkpoint(run / "checkpoints" / "latest.pt"))


KILL_DURING_WRITE = """
import os, signal, sys
import ganzoo.util.files
real_replace, writes = os.replace, []
def replace(src, dst):
    if str(dst).endswith("latest.pt"):
        writes.append(dst)
        if len(writes) == 3:  # the new checkpoint is on disk under its temporary name
            os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
ganzoo.util.files.os.replace = replace
from ganzoo.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_write_loses_nothing(tmp_path, uninterrupted):
    run = tmp_path / "run"
    killed = subprocess.run(
        [sys.executable, "-c", KILL_DURING_WRITE, *TRAIN, "--out", str(run)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL
    assert list((run / "checkpoints").glob(".latest.pt.*.tmp"))  # the half-done write
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == 25
    process = ganzoo(*TRAIN, "--out", str(run), "--resume")
    assert process.wait(timeout=300) == 0
    assert not list(run.rglob("*.tmp"))
    assert_same_state(uninterrupted, load_checkpoint(run / "checkpoints" / "latest.pt"))


# The bench tests kill a bench while both of its first two cells train. A fast machine (16
# cores, say) trains mlp.test's 600 steps in under a second, sooner than the second worker
# starts, so these cells are paced: each D step waits GANZOO_TEST_PACE seconds. The resumed
# bench runs unpaced.
PACED_LOSS = """
    import os
    import time

    import ganzoo
    from ganzoo.zoo.losses import NonSaturatingLoss

    class Paced(NonSaturatingLoss):
        def discriminator_loss(self, real_logits, fake_logits):
            time.sleep(float(os.environ.get("GANZOO_TEST_PACE", "0")))
            return super().discriminator_loss(real_logits, fake_logits)

    @ganzoo.hookimpl
    def ganzoo_register_losses(register):
        register("paced", Paced, description="non-saturating, each D step GANZOO_TEST_PACE seconds slower")
"""

SUITE = """
name = "faults"
[[block]]
name = "ring"
architectures = ["mlp.test"]
losses = ["paced"]
data = ["ring8"]
seeds = [0, 1, 2]
steps = 600
batch_size = 32
eval_every = 600
log_every = 10
eval_samples = 200
"""


def _state_and_parent(pid) -> tuple[str, int] | None:
    """Linux: a process's state letter and its parent's pid; None once it is gone."""
    try:
        state, parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
        return state, int(parent)
    except (OSError, IndexError, ValueError):
        return None


def still_running(pids) -> list[int]:
    """Those of `pids` still running (neither gone nor zombies)."""
    return [pid for pid in pids if (s := _state_and_parent(pid)) and s[0] not in "ZX"]


def live_children(pid: int) -> list[int]:
    """The running processes whose parent is `pid`."""
    return still_running(
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and (s := _state_and_parent(p.name)) and s[1] == pid
    )


def start_two_cell_bench(tmp_path: Path, install_fake_plugin):
    """`ganzoo bench` of SUITE with 2 jobs, paced, once its first two cells have trained 20
    steps (the third waits for a free worker): (suite file, results folder, the bench process,
    the two running cells' run directories, the unpaced environment to resume in)."""
    env = {**ENV, "PYTHONPATH": str(install_fake_plugin("paced_loss", PACED_LOSS))}
    suite = tmp_path / "faults.toml"
    suite.write_text(SUITE)
    out = tmp_path / "results"
    process = ganzoo(
        "bench", str(suite), "--out", str(out), "--jobs", "2", "--no-report", env={**env, "GANZOO_TEST_PACE": "0.01"}
    )
    runs = [out / "runs" / f"ring--mlp.test--paced--ring8--seed{seed}" for seed in (0, 1)]
    for run in runs:
        wait_for_step(process, run, 20)
    return suite, out, process, runs, env


@pytest.mark.slow
def test_a_bench_stopped_by_sigterm_checkpoints_its_running_cells_and_resumes(tmp_path, install_fake_plugin):
    suite, out, process, runs, env = start_two_cell_bench(tmp_path, install_fake_plugin)
    process.send_signal(signal.SIGTERM)  # to the bench alone, as a scheduler would
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "Run the same command again to resume" in err, err
    for run in runs:  # each worker finished its step and checkpointed before stopping
        stopped = load_checkpoint(run / "checkpoints" / "latest.pt")["step"]
        assert 20 <= stopped < 600 and stopped == logged_step(run)
    assert not read_jsonl(out / "results.jsonl")
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(run.name for run in runs)  # no third started
    process = ganzoo("bench", str(suite), "--out", str(out), "--jobs", "2", "--no-report", env=env)
    out_text, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert sorted(r["status"] for r in read_jsonl(out / "results.jsonl")) == ["ok", "ok", "ok"]


def _small_tmpfs(path: Path, options: str = "size=40k") -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir()
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0
    )


@pytest.mark.slow
def test_a_full_disk_is_a_clear_error_and_leaves_no_half_file(tmp_path):
    disk = tmp_path / "disk"
    if not _small_tmpfs(disk):
        pytest.skip("needs root and tmpfs to make a small disk")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ganzoo", *TRAIN, "--out", str(disk / "run")],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=300,
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert os.strerror(errno.ENOSPC) in result.stderr and "free some space" in result.stderr
        assert not list(disk.rglob("*.tmp"))
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.slow
def test_a_bench_killed_mid_suite_leaves_no_worker_training_and_resumes(tmp_path, install_fake_plugin):
    """SIGKILL to the bench: no handler runs in it, but its workers are told (SIGTERM on the
    parent's death, once), checkpoint and stop; a re-run finishes every cell."""
    suite, out, process, runs, env = start_two_cell_bench(tmp_path, install_fake_plugin)
    workers = live_children(process.pid)
    assert workers
    process.kill()
    process.wait()
    # Each orphaned worker checkpoints, stops and exits rather than wait for work. Waiting for
    # the exits, not for the files to go quiet: a checkpoint's fsync can take seconds on a
    # loaded disk (seen on a lent GPU machine).
    deadline = time.monotonic() + 60
    while still_running(workers):
        assert time.monotonic() < deadline, f"workers {still_running(workers)} outlived the bench"
        time.sleep(0.1)
    last = [(logged_step(run), load_checkpoint(run / "checkpoints" / "latest.pt")["step"]) for run in runs]
    assert all(logged == checkpointed < 600 for logged, checkpointed in last), last  # stopped where it checkpointed
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(run.name for run in runs)  # no third started
    process = ganzoo("bench", str(suite), "--out", str(out), "--jobs", "2", "--no-report", env=env)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert sorted(r["status"] for r in read_jsonl(out / "results.jsonl")) == ["ok", "ok", "ok"]


# A worker of a bench with many threads (as a bench has: the pool's manager, queue feeders):
# the kernel sends the parent-death signal once per exiting thread of the killed bench.
BENCH_WITH_THREADS = """
import subprocess, sys, threading, time
for _ in range(32):
    threading.Thread(target=time.sleep, args=(300,), daemon=True).start()
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
time.sleep(300)
"""
WORKER_COUNTING_SIGTERMS = """
import signal, sys, time
from pathlib import Path
from ganzoo.bench.pool import stop_with_parent
stop_with_parent()
told = []
signal.signal(signal.SIGTERM, lambda signum, frame: told.append(signum))
Path(sys.argv[1]).write_text("ready")
start = time.monotonic()
while time.monotonic() - start < 3:
    sum(range(1000))  # Python between short C calls, so each delivery runs the handler
Path(sys.argv[1]).write_text(str(len(told)))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's (prctl)")
def test_a_killed_bench_tells_its_worker_to_stop_once_not_once_per_thread(tmp_path):
    """Twice would be "stop at once": the cell would stop without its checkpoint."""
    said = tmp_path / "said"
    bench = subprocess.Popen([sys.executable, "-c", BENCH_WITH_THREADS, WORKER_COUNTING_SIGTERMS, str(said)], env=ENV)
    deadline = time.monotonic() + 60
    while not said.exists() or said.read_text() != "ready":
        assert time.monotonic() < deadline and bench.poll() is None
        time.sleep(0.01)
    bench.kill()
    bench.wait()
    while said.read_text() == "ready":
        assert time.monotonic() < deadline + 10
        time.sleep(0.05)
    assert said.read_text() == "1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's (prctl)")
def test_a_worker_whose_bench_died_before_it_started_stops_at_once():
    """The kernel sends no parent-death signal for a parent already gone when prctl runs."""
    orphan = """
import multiprocessing, time, types
import ganzoo.bench.pool
multiprocessing.parent_process = lambda: types.SimpleNamespace(pid=-1)  # not its parent now
ganzoo.bench.pool.stop_with_parent()
time.sleep(60)
"""
    result = subprocess.run([sys.executable, "-c", orphan], env=ENV, timeout=120)
    assert result.returncode == -signal.SIGTERM


@pytest.mark.slow
def test_one_process_at_a_time_trains_a_run_directory(tmp_path):
    run = tmp_path / "run"
    long = [("1000000" if arg == "600" else arg) for arg in TRAIN]  # still training when the second asks
    first = ganzoo(*long, "--out", str(run))
    wait_for_step(first, run, 20)
    second = subprocess.run(
        [sys.executable, "-m", "ganzoo", *long, "--out", str(run), "--resume"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert second.returncode == 2 and "is being trained by another process right now" in second.stderr
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=60)
    resumed = ganzoo(*TRAIN, "--out", str(run), "--resume", "--steps", str(logged_step(run) + 10))
    assert resumed.wait(timeout=300) == 0  # the lock went with the process


@pytest.mark.slow
def test_a_read_only_folder_is_a_clear_error(tmp_path):
    """Root writes through permissions, not through a read-only file system."""
    disk = tmp_path / "readonly"
    if not _small_tmpfs(disk, "ro,size=40k"):
        pytest.skip("needs root and tmpfs to make a read-only file system")
    try:
        for command in (TRAIN, ["theory", "--only", "1"], ["bench", "quick"]):
            result = subprocess.run(
                [sys.executable, "-m", "ganzoo", *command, "--out", str(disk / "out")],
                capture_output=True,
                text=True,
                env=ENV,
                timeout=300,
            )
            assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
            assert "read-only" in result.stderr and "--out" in result.stderr
    finally:
        subprocess.run(["umount", str(disk)], check=False)
