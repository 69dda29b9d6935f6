"""FLOPs per training step (FlopCounterMode), achieved GFLOP/s and MFU in the throughput record."""

import contextlib
import json
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.training.flops import StepFlops, device_peak


@pytest.fixture(autouse=True)
def counting_on(monkeypatch):
    monkeypatch.setenv("GANZOO_FLOPS", "1")  # tests/conftest.py turns it off for the rest of the suite


def tiny_mlp_run(tmp_path, name, **train):
    """G: z 3 -> 5 -> 2, D: 2 -> 5 -> 1 (one hidden layer each), batches of 4."""
    settings = {"steps": 2, "batch_size": 4, "log_every": 1, "eval_every": 2, **train}
    config = ganzoo.TrainConfig(
        arch="mlp",
        data="ring8",
        device="cpu",
        arch_options={"latent_dim": 3, "g_hidden": 5, "d_hidden": 5, "g_layers": 1, "d_layers": 1},
        **settings,
    )
    return ganzoo.train(config, tmp_path / name, progress=False)["throughput"]


def test_a_step_is_counted_as_by_hand(tmp_path):
    """A linear layer in -> out on B rows costs 2*B*in*out forward, as much again for its weight
    gradient, and again for its input gradient when one is needed. With latent L, width H, batch B:
    D step: G forward 2B(LH + 2H); D on reals and fakes 2 * 2B(2H + H); D's backward, twice:
    2BH + 2BH (head) + 2B*2H (first layer: weights only, its inputs need no gradient) = 16BH.
    G step: G forward 2B(LH + 2H); D on fakes 6BH; backward through D's head 2BH and first layer
    4BH (input gradients only, D is fixed), G's output layer 4BH + 4BH, its first layer 2BLH.
    Together 6BLH + 56BH = 1,480 for L = 3, H = 5, B = 4."""
    L, H, B = 3, 5, 4
    record = tiny_mlp_run(tmp_path, "plain")
    assert record["flops_per_step"] == 6 * B * L * H + 56 * B * H == 1_480
    assert record["flops_counted_steps"] == 1 and record["flops_counter"].endswith("FlopCounterMode")
    assert record["gflops_per_s"] == pytest.approx(1_480 * record["steps_per_s"] / 1e9)
    assert "mfu_pct" not in record  # a CPU has no peak in the table


def test_lazy_regularisers_are_averaged_over_their_period(tmp_path):
    plain = tiny_mlp_run(tmp_path, "plain")
    every_step = tiny_mlp_run(tmp_path, "every-step", regularizer="r1", log_every=2)
    lazy = tiny_mlp_run(tmp_path, "lazy", regularizer="r1", reg_every=2, log_every=2)
    assert lazy["flops_counted_steps"] == 2  # one step with R1's double backward, one without
    assert lazy["flops_per_step"] == pytest.approx((plain["flops_per_step"] + every_step["flops_per_step"]) / 2)
    assert every_step["flops_per_step"] > plain["flops_per_step"]


def test_counting_leaves_the_training_bit_for_bit_the_same(tmp_path, monkeypatch):
    tiny_mlp_run(tmp_path, "counted", regularizer="r1")
    monkeypatch.setattr(StepFlops, "around_step", lambda self, warming_up: contextlib.nullcontext())
    tiny_mlp_run(tmp_path, "uncounted", regularizer="r1")
    logs = [
        [json.loads(line)["d_loss"] for line in (tmp_path / name / "train_log.jsonl").open()]
        for name in ("counted", "uncounted")
    ]
    assert logs[0] == logs[1]


def test_mfu_uses_the_listed_gpus_dense_peak_for_the_arithmetic_in_use(monkeypatch):
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch, "get_float32_matmul_precision", lambda: "highest")
    assert device_peak(cuda) == {"device_name": "NVIDIA H100 80GB HBM3", "kind": "fp32", "flops_per_s": 67e12}
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)  # PyTorch's default for convolutions
    assert device_peak(cuda)["kind"] == "tf32" and device_peak(cuda)["flops_per_s"] == 494.7e12
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 PCIe")
    assert device_peak(cuda)["flops_per_s"] == 378e12
    counted = StepFlops(1)
    counted.total, counted.counted_steps = 3.78e12, 1
    record = counted.add_to({"steps_per_s": 10.0}, cuda)
    assert record["gflops_per_s"] == pytest.approx(37_800) and record["mfu_pct"] == pytest.approx(10.0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Some Future GPU")
    assert device_peak(cuda) is None and "mfu_pct" not in counted.add_to({"steps_per_s": 10.0}, cuda)
    assert device_peak(torch.device("cpu")) is None


def test_the_report_shows_gflops_and_leaves_out_an_empty_mfu_column():
    from ganzoo.report.page import Page
    from ganzoo.report.results import grouped
    from ganzoo.report.write import _data_table

    records = [
        {
            "cell": f"c{i}",
            "arch": "mlp",
            "loss": "hinge",
            "data": "ring8",
            "seed": i,
            "status": "ok",
            "final": {},
            "throughput": {"images_per_s": 1000.0, "gflops_per_s": 2.5 + i},
        }
        for i in range(2)
    ]
    page = Page("flops")
    _data_table(page, grouped(records)["ring8"])
    text = page.markdown(Path("."))
    assert "| GFLOP/s |" in text and "3.00 ± 0.71" in text and "MFU" not in text
    assert "FlopCounterMode" in text  # the column's note says how it was counted


def test_a_small_mfu_is_shown_to_two_significant_digits_not_as_zero():
    from ganzoo.report.results import fmt_stats, stats

    # The quick suite's DCGAN on an H100 (docs/results/gpu-h100): 0.040, 0.048 and 0.042%.
    assert fmt_stats(stats([0.0400, 0.0484, 0.0424]), 1, 3) == "0.044 ± 0.004"
    assert fmt_stats(stats([12.34, 12.36]), 1, 2) == "12.3 ± 0.0"  # a value the decimals show keeps them
    assert fmt_stats(stats([0.0, 0.0]), 1, 2) == "0.0 ± 0.0"


def test_ganzoo_flops_0_turns_the_count_off(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_FLOPS", "0")
    record = tiny_mlp_run(tmp_path, "off")
    assert record["flops_per_step"] is None and "gflops_per_s" not in record
    assert record["flops_error"] == "not counted: GANZOO_FLOPS=0" and record["steps_per_s"] > 0
