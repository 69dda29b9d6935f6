"""One run on two processes (torchrun, gloo on the CPU) trains as one process with the whole batch."""

import json
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from ganzoo.cli import main as cli
from ganzoo.errors import GanzooError
from ganzoo.training.distributed import CrossReplicaBatchNorm, Ranks, cross_replica_batch_norm, start

# PacGAN's G has batch norm in every layer; the 2D ring needs no data files and evaluates fast.
# On the CPU (gloo) even where a GPU is present: a machine with one GPU cannot hold two
# NCCL ranks, and ganzoo refuses that by name.
RUN = [
    "--arch",
    "pacgan-mlp.test",
    "--data",
    "ring8",
    "--batch-size",
    "32",
    "--log-every",
    "10",
    "--eval-every",
    "40",
    "--eval-samples",
    "500",
    "--no-progress",
    "--seed",
    "3",
    "--device",
    "cpu",
]


def torchrun(nproc, *args, program=("-m", "ganzoo", "train")):
    env = {k: v for k, v in os.environ.items() if k != "GANZOO_PLUGINS"}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            str(nproc),
            *program,
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def losses(run_dir):
    lines = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in lines]


@pytest.mark.slow
def test_two_processes_with_half_batches_train_as_one_and_resume(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli.main(["train", *RUN, "--steps", "40", "--out", str(one)]) == 0
    # Two processes, stopped at step 20 and resumed to 40: the same 40 steps as one process.
    torchrun(2, *RUN, "--steps", "20", "--checkpoint-every", "10", "--out", str(two))
    done = torchrun(2, *RUN, "--steps", "40", "--resume", "--out", str(two))
    assert "latest samples:" in done.stdout  # rank 0's last words, flushed before it left

    single, split = losses(one), losses(two)
    assert [s for s, _, _ in split] == [10, 20, 30, 40]  # rank 0 alone logged
    for (_, d1, g1), (_, d2, g2) in zip(single, split):
        # The same batches, latents and batch statistics; only summation order differs.
        assert d2 == pytest.approx(d1, rel=2e-3) and g2 == pytest.approx(g1, rel=2e-3)
    config = json.loads((two / "config.json").read_text())
    assert config["distributed"] == {"world_size": 2, "backend": "gloo", "cross_replica_batch_norm": True}
    checkpoint = torch.load(two / "checkpoints" / "latest.pt", weights_only=False)
    assert len(checkpoint["ranks"]) == 2  # each rank's own random state, for the resume
    assert not torch.equal(checkpoint["ranks"][0]["torch_rng"], checkpoint["ranks"][1]["torch_rng"])
    assert json.loads((two / "summary.json").read_text())["steps"] == 40


def test_a_process_that_joined_a_group_leaves_with_its_exit_handlers_run_and_its_output_flushed(tmp_path):
    # Without the interpreter's teardown (see distributed.leave): what the teardown did must still happen.
    script = f"""
import atexit, torch.distributed as dist
from ganzoo.training.distributed import leave
dist.init_process_group("gloo", init_method="file://{tmp_path / "store"}", rank=0, world_size=1)
gathered = [None]
dist.all_gather_object(gathered, "a collective, as a run's last")
atexit.register(print, "exit handlers ran")
print("output flushed;", end=" ")
leave(3)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (3, "output flushed; exit handlers ran"), done.stderr


@pytest.mark.parametrize("exit_with,status,said", [("4", 4, ""), ("'a message'", 1, "a message")])
def test_a_sys_exit_after_joining_a_group_keeps_its_status_and_prints_no_traceback(tmp_path, exit_with, status, said):
    script = f"""
import sys, torch.distributed as dist
import ganzoo.cli.main as cli
dist.init_process_group("gloo", init_method="file://{tmp_path / "store"}", rank=0, world_size=1)
cli.main = lambda: sys.exit({exit_with})  # a plugin's sys.exit, after the run joined its group
cli.entry_point()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr.strip()) == (status, said), done.stderr


def test_a_batch_that_does_not_split_over_the_processes_is_refused():
    with pytest.raises(GanzooError, match="does not split over 3 processes.*multiple of 3"):
        start(Ranks(rank=0, world=3), torch.device("cpu"), 64)


@pytest.mark.slow
def test_cross_replica_batch_norm_back_propagates_as_one_process_with_the_whole_batch(tmp_path):
    # Each rank's samples move the shared batch statistics, so each rank's inputs get gradient
    # from every rank's outputs: summed over the ranks in the backward pass.
    script = tmp_path / "two_halves.py"
    script.write_text("""
import torch
from torch import nn
from ganzoo.training.distributed import cross_replica_batch_norm, leave, ranks_from_environment, start, synchronised

def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))

x = torch.randn(16, 3, generator=torch.Generator().manual_seed(1))
ranks = ranks_from_environment()
start(ranks, torch.device("cpu"), len(x))
halves = cross_replica_batch_norm(model())
ddp = synchronised(halves, ranks, torch.device("cpu"))  # held: DDP averages the gradients in backward
ddp(ranks.local(x)).square().mean().backward()
whole = model()
whole(x).square().mean().backward()
for name, a, b in zip(dict(whole.named_parameters()), halves.parameters(), whole.parameters()):
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-6, msg=name)
leave(0)
""")
    torchrun(2, program=[str(script)])


def test_cross_replica_batch_norm_keeps_the_layer_state():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4, eps=1e-3, momentum=0.01),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 36, 8),
        nn.BatchNorm1d(8),
    )
    x = torch.randn(16, 1, 8, 8)
    model(x)  # running statistics away from their start
    model.eval()
    expected = model(x)
    converted = cross_replica_batch_norm(model)
    assert isinstance(converted[1], CrossReplicaBatchNorm) and isinstance(converted[5], CrossReplicaBatchNorm)
    assert (converted[1].eps, converted[1].momentum) == (1e-3, 0.01)
    assert torch.equal(converted(x), expected)
