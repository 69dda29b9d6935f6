"""`ganzoo bench --executor ray` against a Ray instance the test starts on this machine."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import run_cli

from ganzoo.bench import ray_cells
from ganzoo.bench.ray_cells import MARKER, StorageNotShared, check_shared
from ganzoo.cli import main as cli
from ganzoo.util.files import read_jsonl

pytest.importorskip("ray")

DIES_ONCE_LOSS = """
    import os
    from pathlib import Path

    import ganzoo
    from ganzoo.zoo.losses import NonSaturatingLoss

    class DiesOnce(NonSaturatingLoss):
        def discriminator_loss(self, real_logits, fake_logits):
            marker = Path(os.environ["GANZOO_TEST_MARKER"])
            if not marker.exists():
                marker.write_text("died")
                os._exit(3)  # below Python, as a segfault or the OOM killer would
            return super().discriminator_loss(real_logits, fake_logits)

    @ganzoo.hookimpl
    def ganzoo_register_losses(register):
        register("dies-once", DiesOnce, description="kills its process the first time it trains")
"""

SUITE = """
name = "ray-cells"
[[block]]
name = "toy"
architectures = ["mlp.test"]
losses = ["non-saturating", "dies-once"]
data = ["ring8"]
seeds = [0]
steps = 30
eval_every = 30
metrics = ["mode-coverage"]
[[block]]
name = "bad"
architectures = ["mlp.test"]
losses = ["non-saturating"]
data = ["ring8"]
seeds = [0]
steps = 30
loss_options = { bogus = 1 }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(install_fake_plugin):
    """A one-node Ray cluster of 2 CPUs whose workers can import the test's plugin. Started in
    the foreground (--block) in a session of its own, and stopped by signalling that session
    alone: `ray stop` would stop every Ray node of this user on the machine."""
    site = install_fake_plugin("dies_once_loss", DIES_ONCE_LOSS)
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must fit in 107 characters
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "RAY_AUTH_MODE": "disabled",
        "RAY_worker_niceness": "0",
    }  # Ray's default, 15, starves its workers beside the other tests
    ray = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen(
        [
            ray,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=2",
            "--num-gpus=0",
            "--include-dashboard=false",
            f"--temp-dir={temp}",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True).returncode:
            assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(1)
        yield address, site
    finally:
        os.killpg(head.pid, signal.SIGKILL)  # SIGTERM: Ray's orderly shutdown takes half a minute
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_cells_run_as_ray_tasks_a_dead_worker_reruns_and_the_bench_resumes(tmp_path, ray_head, monkeypatch, capsys):
    address, site = ray_head
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    out = tmp_path / "results"
    env = {"PYTHONPATH": str(site), "RAY_AUTH_MODE": "disabled", "GANZOO_TEST_MARKER": str(tmp_path / "died")}
    command = ("bench", str(suite), "--out", str(out), "--executor", "ray", "--ray-address", address, "--no-report")
    first = run_cli(*command, env=env)
    assert first.returncode == 1, first.stdout + first.stderr  # one cell failed
    assert "3 to run (as Ray tasks)" in first.stdout
    records = {r["cell"]: r for r in read_jsonl(out / "results.jsonl")}
    assert len(records) == 3  # gathered into the one results file, once each
    assert records["toy--mlp.test--non-saturating--ring8--seed0"]["status"] == "ok"
    # Its worker died once (the marker says so); Ray ran the cell again, and it finished.
    assert (tmp_path / "died").read_text() == "died"
    again = records["toy--mlp.test--dies-once--ring8--seed0"]
    assert again["status"] == "ok" and again["final"]["mode-coverage"]["num_modes"] == 8
    bad = records["bad--mlp.test--non-saturating--ring8--seed0"]
    assert bad["status"] == "failed" and "has no option 'bogus'" in bad["reason"]
    assert "Traceback" not in first.stderr

    resumed = run_cli(*command, env=env)  # recorded cells are not run again
    assert "3 already recorded, 0 to run" in resumed.stdout, resumed.stdout + resumed.stderr
    assert len(read_jsonl(out / "results.jsonl")) == 3
    check_an_unshared_results_folder_stops_the_bench(address, tmp_path, monkeypatch, capsys)  # the same Ray head


def check_an_unshared_results_folder_stops_the_bench(address, tmp_path, monkeypatch, capsys):
    """As if the tasks' node saw another folder at --out: the bench's marker never reaches it."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setattr(ray_cells, "_write_marker", lambda out_dir: "a token no node can read")
    suite = tmp_path / "unshared.toml"
    suite.write_text(SUITE.split('[[block]]\nname = "bad"')[0].replace(', "dies-once"', ""))
    out = tmp_path / "unshared"
    assert (
        cli.main(["bench", str(suite), "--out", str(out), "--executor", "ray", "--ray-address", address, "--no-report"])
        == 2
    )
    err = capsys.readouterr().err
    assert "is not shared with Ray node" in err and "every node mounts" in err and "Traceback" not in err
    assert not (out / "results.jsonl").exists() or not read_jsonl(out / "results.jsonl")
    assert not (out / MARKER).exists()


def test_a_node_that_does_not_see_the_results_folder_is_named(tmp_path):
    with pytest.raises(StorageNotShared, match=r"not shared with Ray node .*does not see the folder.*--out"):
        check_shared(str(tmp_path), "token")
    (tmp_path / MARKER).write_text("another bench's token")  # a node-local folder at the same path
    with pytest.raises(StorageNotShared, match="finds another bench's marker"):
        check_shared(str(tmp_path), "token")
    (tmp_path / MARKER).write_text("token")
    check_shared(str(tmp_path), "token")


def test_ray_address_without_the_ray_executor_is_refused(tmp_path, capsys):
    assert cli.main(["bench", "quick", "--out", str(tmp_path), "--ray-address", "auto"]) == 2
    assert "add --executor ray" in capsys.readouterr().err
