"""Seed-batched training: N seeds in one vmapped model train as N separate runs would."""

import json
import os
import signal
import statistics

import pytest
import torch

from ganzoo.bench.cells import run_cells, work_units
from ganzoo.bench.suite import Cell
from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError
from ganzoo.training.loop import train, train_ensemble
from ganzoo.util.files import load_checkpoint


def log(run_dir):
    return [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


def config(seed, **options):
    return TrainConfig(
        **{
            "seed": seed,
            "data": "ring8",
            "log_every": 5,
            "eval_every": 30,
            "steps": 30,
            "device": "cpu",
            "eval_metrics": ["mode-coverage"],
            "eval_samples": 500,
            **options,
        }
    )


@pytest.mark.parametrize(
    "arch, options",
    [
        ("mlp.test", {}),
        ("pacgan-mlp.test", {}),  # pacgan-mlp: batch norm in G, per seed
        ("pacgan-mlp.test", {"arch_options": {"pack": 2, "bn_groups": 2}, "batch_size": 32}),  # ... and per group
        ("pacgan-mlp.test", {"update": "simultaneous", "arch_options": {"pack": 2}, "batch_size": 32}),  # PacGAN's
        ("mlp.test", {"n_d": 2, "ema_decay": 0.9}),
    ],
)
def test_each_seed_of_an_ensemble_trains_as_its_own_run(tmp_path, arch, options):
    seeds = [0, 1]
    summaries = train_ensemble([config(s, arch=arch, **options) for s in seeds], [tmp_path / f"e{s}" for s in seeds])
    for seed, summary in zip(seeds, summaries):
        alone = train(config(seed, arch=arch, **options), tmp_path / f"alone{seed}", progress=False)
        batched, single = log(tmp_path / f"e{seed}"), log(tmp_path / f"alone{seed}")
        assert [r["step"] for r in batched] == [r["step"] for r in single]
        for b, s in zip(batched, single):  # the same weights, data and latents: only summation order differs
            assert b["d_loss"] == pytest.approx(s["d_loss"], rel=1e-4, abs=1e-6)
            assert b["g_loss"] == pytest.approx(s["g_loss"], rel=1e-4, abs=1e-6)
        assert summary["metrics"] == alone["metrics"]
        assert summary["throughput"]["ensemble_size"] == 2
        saved = json.loads((tmp_path / f"e{seed}" / "config.json").read_text())
        assert saved["train"]["seed"] == seed and saved["ensemble"]["seeds"] == seeds


@pytest.mark.slow
def test_an_ensemble_matches_separate_runs_in_distribution_on_the_ring(tmp_path):
    """Long enough for float differences to grow: the seeds' outcomes, not their trajectories."""
    seeds = [0, 1, 2]
    options = dict(arch="mlp.test", steps=250, eval_every=250, log_every=50, batch_size=64, g_lr=3e-3, d_lr=3e-3)
    batched = train_ensemble([config(s, **options) for s in seeds], [tmp_path / f"e{s}" for s in seeds])
    alone = [train(config(s, **options), tmp_path / f"alone{s}", progress=False) for s in seeds]

    def outcome(summaries, key):
        return [s["metrics"]["mode-coverage"][key] for s in summaries]

    for key, tolerance in (("modes_covered", 1.0), ("high_quality_pct", 10.0)):
        assert statistics.mean(outcome(batched, key)) == pytest.approx(
            statistics.mean(outcome(alone, key)), abs=tolerance
        )
    final = [log(tmp_path / f"e{s}")[-1]["d_loss"] for s in seeds]
    assert statistics.mean(final) == pytest.approx(
        statistics.mean(log(tmp_path / f"alone{s}")[-1]["d_loss"] for s in seeds), rel=0.05
    )


def test_an_interrupted_ensemble_resumes_from_its_seeds_checkpoints(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_ensemble([config(s, arch="pacgan-mlp.test") for s in (0, 1)], [straight / f"s{s}" for s in (0, 1)])
    train_ensemble([config(s, arch="pacgan-mlp.test", steps=15) for s in (0, 1)], [resumed / f"s{s}" for s in (0, 1)])
    train_ensemble([config(s, arch="pacgan-mlp.test") for s in (0, 1)], [resumed / f"s{s}" for s in (0, 1)])
    for s in (0, 1):
        assert log(resumed / f"s{s}")[-1]["d_loss"] == pytest.approx(log(straight / f"s{s}")[-1]["d_loss"], rel=1e-5)


def test_what_an_ensemble_cannot_train_is_refused_by_name(tmp_path):
    with pytest.raises(GanzooError, match="does not support D penalties.*drop seed_batched"):
        train_ensemble([config(s, arch="mlp.test", loss="wgan-gp") for s in (0, 1)], [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(GanzooError, match="does not support unrolled D steps"):
        train_ensemble([config(s, arch="mlp.test", unroll_steps=2) for s in (0, 1)], [tmp_path / "e", tmp_path / "f"])
    with pytest.raises(GanzooError, match="differ in more than their seed"):
        train_ensemble(
            [config(0, arch="mlp.test"), config(1, arch="mlp.test", g_lr=1e-2)], [tmp_path / "c", tmp_path / "d"]
        )


def test_an_ensemble_refuses_torchrun_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(GanzooError, match="ensemble runs in one process"):
        train_ensemble([config(s, arch="mlp.test") for s in (0, 1)], [tmp_path / "a", tmp_path / "b"])
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_checkpoints_an_ensemble_and_it_resumes_exactly(tmp_path, monkeypatch, stop):
    """The loop that trains one run trains the ensemble: a stop signal checkpoints every seed at
    the current step, and the resumed seeds end where uninterrupted ones do, bit for bit."""
    import ganzoo.training.loop

    seeds = (0, 1)
    train_ensemble(
        [config(s, arch="pacgan-mlp.test", ema_decay=0.9) for s in seeds], [tmp_path / f"whole{s}" for s in seeds]
    )
    real_evaluate = ganzoo.training.loop.evaluate
    pressed = []

    def press_ctrl_c(generator, dataset, step, *args, **kwargs):
        if step == 10 and not pressed:  # the first seed's evaluation, once (a second signal stops at once)
            pressed.append(step)
            os.kill(os.getpid(), stop)
        return real_evaluate(generator, dataset, step, *args, **kwargs)

    monkeypatch.setattr(ganzoo.training.loop, "evaluate", press_ctrl_c)
    stopped = [config(s, arch="pacgan-mlp.test", ema_decay=0.9, eval_every=10, checkpoint_every=30) for s in seeds]
    with pytest.raises(KeyboardInterrupt, match="interrupted at step 10; checkpoint saved"):
        train_ensemble(stopped, [tmp_path / f"stopped{s}" for s in seeds])
    assert [load_checkpoint(tmp_path / f"stopped{s}" / "checkpoints" / "latest.pt")["step"] for s in seeds] == [10, 10]
    monkeypatch.setattr(ganzoo.training.loop, "evaluate", real_evaluate)
    train_ensemble(stopped, [tmp_path / f"stopped{s}" for s in seeds])
    for s in seeds:
        whole = load_checkpoint(tmp_path / f"whole{s}" / "checkpoints" / "latest.pt")
        resumed = load_checkpoint(tmp_path / f"stopped{s}" / "checkpoints" / "latest.pt")
        for part in ("generator", "discriminator", "ema"):
            for name, value in whole[part].items():
                assert torch.equal(value, resumed[part][name]), (s, part, name)


def test_an_ensemble_counts_its_flops_and_records_its_throughput(tmp_path, monkeypatch):
    """The step's FLOPs, not the tracing of the stacked calls on the first step: N seeds' worth."""
    monkeypatch.setenv("GANZOO_FLOPS", "1")
    summaries = train_ensemble([config(s, arch="mlp.test") for s in (0, 1)], [tmp_path / "a", tmp_path / "b"])
    alone = train(config(0, arch="mlp.test"), tmp_path / "alone", progress=False)
    throughput = summaries[0]["throughput"]
    assert throughput["flops_per_step"] == 2 * alone["throughput"]["flops_per_step"] > 0
    assert throughput["ensemble_size"] == 2
    assert throughput["ensemble_images_per_s"] == pytest.approx(2 * throughput["images_per_s"])


def test_an_ensemble_of_one_seed_is_still_an_ensemble(tmp_path):
    """A seed-batched block's leftover seed (a resumed bench) trains, and refuses, as the block would."""
    train_ensemble([config(0, arch="mlp.test")], [tmp_path / "one"])
    saved = json.loads((tmp_path / "one" / "config.json").read_text())
    assert saved["ensemble"]["seeds"] == [0] and log(tmp_path / "one")[-1]["ensemble_size"] == 1
    with pytest.raises(GanzooError, match="does not support D penalties"):
        train_ensemble([config(0, arch="mlp.test", loss="wgan-gp")], [tmp_path / "refused"])


def test_spectral_norm_is_refused_by_name_rather_than_failing_inside_vmap():
    import torch
    from conftest import need_data_root

    from ganzoo.training.ensemble import build_ensemble
    from ganzoo.training.opening import open_dataset
    from ganzoo.training.resolve import resolve

    cfgs = [
        resolve(
            TrainConfig(
                arch="sngan-resnet.test",
                data="mnist",
                data_options={"resolution": 32},
                data_root=str(need_data_root()),
                batch_size=4,
                seed=s,
                device="cpu",
            )
        )
        for s in (0, 1)
    ]
    with pytest.raises(GanzooError, match=r"does not support spectral norm \(its power iteration"):
        build_ensemble(cfgs, open_dataset(cfgs[0]), torch.device("cpu"))


def test_the_bench_trains_a_seed_batched_blocks_seeds_together(tmp_path):
    cells = [
        Cell("b", "mlp.test", "non-saturating", "ring8", s, {"steps": 10, "eval_every": 10}, seed_batched=True)
        for s in (0, 1, 2)
    ]
    plain = Cell("p", "mlp.test", "non-saturating", "ring8", 0, {"steps": 10, "eval_every": 10})
    units = work_units([*cells, plain])
    assert [[c.id for c in unit] for unit in units] == [[c.id for c in cells], [plain.id]]
    records = run_cells(units[0], tmp_path / "runs")
    assert [r["status"] for r in records] == ["ok"] * 3 and all(r["seed_batched"] for r in records)
    assert [r["cell"] for r in records] == [c.id for c in cells]
    assert all((tmp_path / "runs" / c.id / "checkpoints" / "latest.pt").exists() for c in cells)


def test_a_stacked_network_is_traced_once_per_kind_of_call_and_computes_what_vmap_computes():
    import torch

    from ganzoo.training.ensemble import build_ensemble
    from ganzoo.training.opening import open_dataset
    from ganzoo.training.resolve import resolve

    cfgs = [
        resolve(TrainConfig(arch="pacgan-mlp.test", data="ring8", batch_size=8, seed=s, device="cpu")) for s in range(3)
    ]
    G = build_ensemble(cfgs, open_dataset(cfgs[0]), torch.device("cpu")).G  # batch norm in every layer
    z = torch.randn(3, 8, G.params["net.0.weight"].shape[-1])  # each seed's latents

    def run(call):
        buffers = {k: v.clone() for k, v in G.buffers.items()}
        out = call()
        (out**2).sum().backward()
        grads = {k: p.grad.clone() for k, p in G.params.items()}
        for p in G.params.values():
            p.grad = None
        updated = {k: v.clone() for k, v in G.buffers.items()}
        for k, v in G.buffers.items():
            v.copy_(buffers[k])
        return out.detach(), grads, updated

    traced = run(lambda: G(z))
    assert list(G._graphs.values()) != [None] and len(G._graphs) == 1  # traced, not the vmap fallback
    run(lambda: G(z))
    assert len(G._graphs) == 1  # the same kind of call reuses its graph
    plain = run(lambda: G._calls[False](G.params, G.buffers, z, None))
    torch.testing.assert_close(traced[0], plain[0])
    for mine, theirs in zip(traced[1:], plain[1:]):  # the gradients, and the running statistics' update
        assert mine.keys() == theirs.keys()
        for k in mine:
            torch.testing.assert_close(mine[k], theirs[k])
    assert not torch.equal(traced[2]["net.1.running_mean"], G.buffers["net.1.running_mean"])  # it did update


def test_each_seed_of_an_ensemble_is_a_run_to_the_lifecycle_hooks(tmp_path, monkeypatch):
    """Trackers and TensorBoard see a seed-batched cell's seeds as they see `ganzoo train` runs."""
    import ganzoo.plugin.manager

    log = tmp_path / "tracked.jsonl"
    monkeypatch.setenv("GANZOO_EXAMPLE_TRACKER", str(log))
    ganzoo.plugin.manager.reset()
    train_ensemble([config(s, tensorboard=True) for s in (0, 1)], [tmp_path / f"e{s}" for s in (0, 1)])
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events[:2]] == ["started", "started"]
    assert {e["out_dir"] for e in events[:2]} == {str(tmp_path / "e0"), str(tmp_path / "e1")}
    checkpoints = {e["path"] for e in events if e["event"] == "checkpoint"}
    assert checkpoints == {str(tmp_path / f"e{s}" / "checkpoints" / "latest.pt") for s in (0, 1)}
    assert [e["event"] for e in events].count("finished") == 2 and events[-1]["event"] == "finished"
    for seed in (0, 1):
        assert list((tmp_path / f"e{seed}" / "tensorboard").glob("events.out.tfevents.*"))
