"""--precision and --compile: what runs in which precision, the refusals, fp16's loss scaling
through a resume, and compiled steps against eager ones."""

import json
import warnings

import pytest
import torch
from conftest import run_cli

import ganzoo.training.precision as precision_module
from ganzoo.bench.suite import Cell
from ganzoo.core.config import TrainConfig
from ganzoo.errors import GanzooError, GanzooWarning
from ganzoo.report.protocol_guard import differences
from ganzoo.training.compiling import compiled
from ganzoo.training.ensemble import build_ensemble
from ganzoo.training.loop import train
from ganzoo.training.opening import open_dataset
from ganzoo.training.players import build_training
from ganzoo.training.resolve import resolve
from ganzoo.training.step import train_step
from ganzoo.util.files import load_checkpoint

CPU = torch.device("cpu")
ONE_CELL = 'name = "s"\n[[block]]\nname = "{block}"\narchitectures = ["mlp.test"]\nlosses = ["non-saturating"]\n'
ONE_CELL += 'data = ["ring8"]\nseeds = [0]\n'
TINY_2D = dict(arch="pacgan-mlp.test", data="ring8", batch_size=32, device="cpu")  # batch norm in G


def first_linear(module):
    return next(m for m in module.modules() if isinstance(m, torch.nn.Linear))


def build(**options):
    cfg = resolve(TrainConfig(**{**TINY_2D, **options}))
    return build_training(cfg, open_dataset(cfg), CPU)


def test_bf16_runs_the_forward_passes_in_bf16_and_keeps_everything_else_in_fp32():
    t = build(precision="bf16", regularizer="r1", ema_decay=0.9)
    made = {"G": set(), "D": set(), "loss inputs": set()}
    first_linear(t.G).register_forward_hook(lambda m, i, out: made["G"].add(out.dtype))
    first_linear(t.D).register_forward_hook(lambda m, i, out: made["D"].add(out.dtype))
    losses = t.loss.discriminator_loss

    def watched(real_logits, fake_logits):
        made["loss inputs"] |= {real_logits.dtype, fake_logits.dtype}
        return losses(real_logits, fake_logits)

    t.loss.discriminator_loss = watched
    d_loss, g_loss = train_step(t)

    assert made["G"] == {torch.bfloat16}
    # D's passes for the losses in bf16; R1's own pass through D (the gradient penalty) in fp32.
    assert made["D"] == {torch.bfloat16, torch.float32}
    assert made["loss inputs"] == {torch.float32}
    assert d_loss.dtype == g_loss.dtype == torch.float32
    models = (t.G, t.D, t.ema)
    assert {p.dtype for model in models for p in model.parameters()} == {torch.float32}
    statistics = [b for model in models for b in model.buffers() if b.is_floating_point()]  # G's batch norm
    assert statistics and {b.dtype for b in statistics} == {torch.float32}
    assert {p.grad.dtype for p in [*t.G.parameters(), *t.D.parameters()] if p.grad is not None} == {torch.float32}
    moments = [v for opt in (t.g_opt, t.d_opt) for s in opt.state.values() for v in s.values() if v.dim() > 0]
    assert moments and {v.dtype for v in moments} == {torch.float32}


def test_bf16_trains_close_to_fp32_and_differs_from_it():
    """The same run's first steps in bf16 follow fp32's closely, not exactly: autocast is on."""
    fp32, bf16 = build(), build(precision="bf16")
    for _ in range(3):
        a, b = train_step(fp32), train_step(bf16)
    assert torch.allclose(a[0], b[0], rtol=0.05) and torch.allclose(a[1], b[1], rtol=0.05)
    assert not torch.equal(a[0], b[0])


@pytest.mark.slow
def test_fp16_on_a_cpu_is_refused_in_one_paragraph_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    done = run_cli("train", "--precision", "fp16", "--steps", "2", "--out", str(out), "--device", "cpu")
    assert done.returncode == 2
    assert "needs a CUDA GPU" in done.stderr and "--precision bf16" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()

    suite = tmp_path / "s.toml"
    suite.write_text(ONE_CELL.format(block="b"))
    bench = tmp_path / "bench"
    done = run_cli("bench", str(suite), "--precision", "fp16", "--device", "cpu", "--out", str(bench))
    assert done.returncode == 2 and "block 'b'" in done.stderr and "needs a CUDA GPU" in done.stderr
    assert "Traceback" not in done.stderr and not bench.exists()


def test_fp16_scales_each_players_loss_and_resumes_exactly(tmp_path, monkeypatch):
    """fp16's path, run on the CPU (whose autocast has fp16) with the refusal lifted: each
    optimiser has its own gradient scaler, a checkpoint keeps them, and a resumed run ends where
    one that never stopped does."""
    monkeypatch.setattr(precision_module, "precision_problem", lambda precision, device: None)
    options = dict(TINY_2D, precision="fp16", steps=6, log_every=3, eval_every=3, eval_metrics=[])
    train(TrainConfig(**options), tmp_path / "straight", progress=False)
    train(TrainConfig(**{**options, "steps": 3}), tmp_path / "resumed", progress=False)
    train(TrainConfig(**options), tmp_path / "resumed", resume=True, progress=False)
    straight = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    resumed = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "latest.pt")
    assert len(straight["grad_scalers"]) == 2 and all(s["scale"] > 0 for s in straight["grad_scalers"])
    assert straight["grad_scalers"] == resumed["grad_scalers"]
    for key in ("generator", "discriminator"):
        assert all(torch.equal(straight[key][k], resumed[key][k]) for k in straight[key])


def test_a_checkpoint_of_another_precision_is_refused_in_fp16(tmp_path, monkeypatch):
    monkeypatch.setattr(precision_module, "precision_problem", lambda precision, device: None)
    scaled = precision_module.Precision("fp16", CPU, [torch.optim.SGD([torch.zeros(1, requires_grad=True)])])
    with pytest.raises(GanzooError, match="another precision"):
        scaled.load_state_dict([])


@pytest.mark.slow
def test_precision_is_recorded_in_the_configuration_the_throughput_and_the_report(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        ONE_CELL.format(block="ring")
        + 'steps = 20\neval_every = 20\nlog_every = 10\nmetrics = ["mode-coverage"]\neval_samples = 200\n'
    )
    done = run_cli("bench", str(suite), "--precision", "bf16", "--jobs", "1", "--out", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "b" / "results.jsonl").read_text().splitlines()[0])
    assert record["setting"]["precision"] == "bf16" and record["throughput"]["precision"] == "bf16"
    assert record["throughput"]["first_step_seconds"] > 0
    config = json.loads((tmp_path / "b" / record["run_dir"] / "config.json").read_text())
    assert config["train"]["precision"] == "bf16"
    report = (tmp_path / "b" / "report.md").read_text()
    assert "precision bf16 in every block" in report


def test_precision_is_part_of_a_cells_protocol():
    fp32 = Cell("b", "mlp", "non-saturating", "ring8", 0, {})
    bf16 = Cell("b", "mlp", "non-saturating", "ring8", 0, {"precision": "bf16"})
    compiled = Cell("b", "mlp", "non-saturating", "ring8", 0, {"compile": True})
    assert fp32.protocol_sha != bf16.protocol_sha
    assert fp32.protocol_sha == compiled.protocol_sha  # compiling changes speed, not what is measured


def test_the_protocol_guard_rules_out_a_precision_other_than_the_papers():
    (difference,) = differences({"train.precision": "fp32"}, {}, {"train.precision": "bf16"})
    assert difference.effect == "decisive" and "paper fp32, here bf16" in difference.describe()


def test_an_ensemble_trains_in_bf16_and_refuses_fp16_and_compile(monkeypatch):
    cfgs = [resolve(TrainConfig(arch="mlp.test", data="ring8", seed=s, precision="bf16", device="cpu")) for s in (0, 1)]
    ensemble = build_ensemble(cfgs, open_dataset(cfgs[0]), CPU)
    d_loss, g_loss = train_step(ensemble)
    alone = build_training(cfgs[1], open_dataset(cfgs[1]), CPU)
    d_alone, g_alone = train_step(alone)
    assert d_loss.shape == (2,) and torch.allclose(d_loss[1], d_alone, rtol=0.02)
    monkeypatch.setattr(precision_module, "precision_problem", lambda precision, device: None)
    for refused, option in (("fp16", {"precision": "fp16"}), ("--compile", {"compile": True})):
        cfgs = [resolve(TrainConfig(arch="mlp.test", data="ring8", seed=s, device="cpu", **option)) for s in (0, 1)]
        with pytest.raises(GanzooError, match=refused):
            build_ensemble(cfgs, open_dataset(cfgs[0]), CPU)


@pytest.mark.slow
def test_a_compiled_step_trains_as_the_eager_one_and_reports_its_compile_time(tmp_path):
    options = dict(TINY_2D, steps=8, log_every=4, eval_every=8, eval_metrics=[])
    train(TrainConfig(**options), tmp_path / "eager", progress=False)
    summary = train(TrainConfig(**options, compile=True), tmp_path / "compiled", progress=False)
    eager = load_checkpoint(tmp_path / "eager" / "checkpoints" / "latest.pt")
    compiled = load_checkpoint(tmp_path / "compiled" / "checkpoints" / "latest.pt")
    for key in ("generator", "discriminator"):  # fused kernels round differently: close, not equal
        for name, value in eager[key].items():
            assert torch.allclose(value, compiled[key][name], rtol=1e-3, atol=1e-5), (key, name)
    throughput = summary["throughput"]
    assert throughput["compile_seconds"] > 0 and throughput["steps_per_s"] > 0
    assert throughput["compiled"] == ["generator", "discriminator"]
    assert (
        throughput["flops_per_step"]
        == train(  # counted on a step after the one that compiles
            TrainConfig(**{**options, "steps": 4}), tmp_path / "eager-again", progress=False
        )["throughput"]["flops_per_step"]
    )


def test_a_spectrally_normalised_network_stays_eager_under_compile():
    """Its power iteration updates a vector in place at each call, which a compiled backward refuses."""
    plain = torch.nn.Linear(2, 1)
    normed = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(2, 1))
    assert compiled(normed, CPU) is normed
    assert compiled(plain, CPU) is not plain


def test_the_speed_table_reads_every_figure_from_the_benchmark_files(tmp_path):
    """scripts/precision_table.py: each row's share is of the peak of its own run, a later file
    replaces a row measured again, and the alternate timings are listed under the table."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
    from precision_table import main

    machine = {"device": "Test CPU", "cpu_flags": ["avx512_bf16"], "threads": 1, "torch": "2.x"}

    def peak(precision, gflops, kernel):
        info = {**machine, "precision": precision, "peak_gflops": gflops, "peak_kernel": kernel}
        return {"group": "peak", "extra_info": info, "stats": {"median": 1.0}}

    def step(variant, implementation, precision, median_s, flops=1e9):
        info = {**machine, "arch": "dcgan", "variant": variant, "implementation": implementation}
        info.update(precision=precision, flops_per_step=flops)
        return {"group": "step-dcgan", "extra_info": info, "stats": {"median": median_s}}

    interleaved = {"group": "bf16-speedup-interleaved", "stats": {"median": 0.05}}
    interleaved["extra_info"] = {**machine, "arch": "dcgan", "speedup": 2.0}
    interleaved["extra_info"].update(median_fp32_s=0.1, median_bf16_s=0.05)
    first = {
        "datetime": "2026-12-03T16:00:00",
        "version": "5.3.1",
        "benchmarks": [
            peak("fp32", 100.0, "conv3x3 256ch"),
            peak("bf16", 400.0, "matmul 1024"),
            step("fp32", "ganzoo", "fp32", 0.020),
            step("fp32", "plain", "fp32", 0.025),
            step("bf16", "ganzoo", "bf16", 0.010),
        ],
    }
    against = {"group": "against-plain-alternately", "stats": {"median": 0.04}}
    against["extra_info"] = {**machine, "arch": "dcgan", "variant": "bf16", "plain_over_ganzoo": 1.25}
    against["extra_info"].update(median_ganzoo_s=0.04, median_plain_s=0.05)
    later = {"datetime": "2026-12-03T17:00:00", "version": "5.3.1", "benchmarks": [interleaved, against]}
    later["benchmarks"] += [peak("fp32", 200.0, "matmul 2048"), step("fp32", "ganzoo", "fp32", 0.040)]
    paths = []
    for index, data in enumerate((first, later)):
        paths.append(tmp_path / f"run{index}.json")
        paths[-1].write_text(json.dumps(data))
    table = main([str(p) for p in paths])
    assert "fp32 100 GFLOP/s (conv3x3 256ch)" in table and "fp32 200 GFLOP/s (matmul 2048)" in table
    rows = {line.split(" | ")[1]: line for line in table.splitlines() if line.startswith("| dcgan")}
    # fp32 replaced by the later run: 40 ms, 25 GFLOP/s = 12.5% of that run's 200; plain from run 1
    assert rows["fp32"] == "| dcgan | fp32 | 40.00 | 25.00 | 0.62 | 1.00x | 25.0 | 12.5 | 2 |"
    assert rows["bf16"] == "| dcgan | bf16 | 10.00 | - | - | 4.00x | 100.0 | 25.0 | 1 |"
    assert "- dcgan, run 2: 2.00x (fp32 100.0 ms, bf16 50.0 ms)" in table
    assert "- dcgan bf16, run 2: 1.25 (ganzoo 40.0 ms, plain 50.0 ms)" in table


def test_bf16_on_a_cpu_without_bf16_arithmetic_warns_that_it_is_slow(monkeypatch):
    device = torch.device("cpu")
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: False)
    with pytest.warns(GanzooWarning, match="without bf16 arithmetic"):
        precision_module.Precision("bf16", device)
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        precision_module.Precision("bf16", device)
        precision_module.Precision("fp32", device)
