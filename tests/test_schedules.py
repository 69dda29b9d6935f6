"""Hyper-parameter schedules: their shapes, their checks, and a run that follows and resumes them."""

import math

import pytest
import torch
from test_train import assert_same_state, crash_then_resume, tiny

import ganzoo
from ganzoo.training.schedules import parse_schedule
from ganzoo.util.files import read_jsonl
from ganzoo.zoo.augmentations import DiffAugment


def test_cosine_and_linear_move_from_start_to_end_then_hold():
    cosine = parse_schedule("g_lr", "cosine:2e-4:5e-5:2e7")  # R3GAN's CIFAR-10 learning rate
    assert cosine.value(0) == pytest.approx(2e-4)
    assert cosine.value(1e7) == pytest.approx((2e-4 + 5e-5) / 2)
    assert cosine.value(0.25 * 2e7) == pytest.approx(2e-4 + (5e-5 - 2e-4) * (1 - math.cos(math.pi / 4)) / 2)
    assert cosine.value(2e7) == cosine.value(9e9) == pytest.approx(5e-5)
    linear = parse_schedule("augment.p", "linear:0:0.55:1000")
    assert [linear.value(i) for i in (0, 500, 1000, 4000)] == pytest.approx([0, 0.275, 0.55, 0.55])


@pytest.mark.parametrize(
    "text,match",
    [
        ("cos:1:2:3", "SHAPE:FROM:TO:OVER"),
        ("cosine:1:2", "SHAPE:FROM:TO:OVER"),
        ("linear:a:2:3", "not a number"),
        ("linear:1:2:0", "OVER > 0"),
    ],
)
def test_a_malformed_schedule_is_refused_with_an_example(text, match):
    with pytest.raises(ganzoo.GanzooError, match=match):
        parse_schedule("g_lr", text)


def test_a_run_follows_its_schedules_and_logs_them(tmp_path):
    # 20 steps of 32 images: the schedules end at step 20 (640 images).
    config = tiny(
        regularizer="r1",
        log_every=5,
        schedules={"g_lr": "linear:1e-3:1e-4:640", "beta2": "cosine:0.9:0.99:640", "r1.gamma": "cosine:1:0.1:640"},
    )
    ganzoo.train(config, tmp_path / "run", progress=False)
    logged = {r["step"]: r["scheduled"] for r in read_jsonl(tmp_path / "run" / "train_log.jsonl")}
    # The record at step 10 holds the values step 10 trained with (0-based step 9, 288 images).
    t = 9 * 32 / 640
    assert logged[10]["g_lr"] == pytest.approx(1e-3 + (1e-4 - 1e-3) * t)
    assert logged[10]["beta2"] == pytest.approx(0.9 + 0.09 * (1 - math.cos(math.pi * t)) / 2)
    assert logged[10]["r1.gamma"] == pytest.approx(1 + (0.1 - 1) * (1 - math.cos(math.pi * t)) / 2)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "latest.pt", weights_only=False)
    group = checkpoint["g_opt"]["param_groups"][0]
    assert group["lr"] == pytest.approx(1e-3 + (1e-4 - 1e-3) * 19 * 32 / 640) and group["betas"][1] < 0.99


@pytest.mark.slow
def test_a_scheduled_run_resumes_exactly(tmp_path, monkeypatch):
    config = tiny(
        loss="rpgan",
        regularizer="r1,r2",
        steps=30,
        schedules={"lr": "cosine:2e-3:5e-4:800", "regularizer.gamma": "cosine:0.5:0.05:800"},
    )
    whole, saved_step, resumed = crash_then_resume(monkeypatch, tmp_path, config, 25)
    assert saved_step == 20
    assert_same_state(whole, resumed)


def test_the_ema_half_life_schedule_sets_the_decay_per_step(tmp_path):
    """R3GAN ramps the EMA's half-life, in images, from 0: at 0 the EMA is G itself."""
    config = tiny(ema_decay=0.999, steps=10, schedules={"ema_half_life": "linear:0:320:320"})
    ganzoo.train(config, tmp_path / "run", progress=False)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "latest.pt", weights_only=False)
    # Step 9 (288 images): half-life 288, decay 0.5 ** (32 / 288) per step, not 0.999.
    logged = read_jsonl(tmp_path / "run" / "train_log.jsonl")[-1]["scheduled"]
    assert logged["ema_half_life"] == pytest.approx(288)
    first = {k: v for k, v in checkpoint["ema"].items()}
    assert any(not torch.equal(first[k], checkpoint["generator"][k]) for k in first)  # averaged by then
    config = tiny(ema_decay=0.999, steps=1, eval_every=1, schedules={"ema_half_life": "linear:0:320:320"})
    ganzoo.train(config, tmp_path / "one", progress=False)
    one = torch.load(tmp_path / "one" / "checkpoints" / "latest.pt", weights_only=False)
    assert all(torch.equal(one["ema"][k], one["generator"][k]) for k in one["ema"])  # half-life 0: the EMA is G
    with pytest.raises(ganzoo.GanzooError, match="keeps none; add --ema-decay"):
        ganzoo.train(tiny(schedules={"ema_half_life": "linear:0:1:1"}), tmp_path / "none", progress=False)


def test_what_cannot_be_scheduled_is_refused_naming_what_can(tmp_path):
    with pytest.raises(ganzoo.GanzooError, match="'r2.gamma' to schedule.*g_lr, d_lr, lr, beta1, beta2, r1.gamma"):
        ganzoo.train(tiny(regularizer="r1", schedules={"r2.gamma": "cosine:1:0:100"}), tmp_path / "a", progress=False)
    with pytest.raises(ganzoo.GanzooError, match="both set the learning rate"):
        ganzoo.train(
            tiny(lr_schedule="linear-decay", schedules={"g_lr": "cosine:1e-3:0:100"}), tmp_path / "b", progress=False
        )


def test_diffaugment_p_is_the_share_of_images_augmented():
    images = torch.rand(400, 1, 8, 8) + 1  # translation and cutout leave zeros; these images have none
    rng = torch.Generator().manual_seed(0)
    assert torch.equal(DiffAugment(policy="translation,cutout", p=0.0)(images, rng), images)
    out = DiffAugment(policy="translation,cutout", p=0.3)(images, rng)
    changed = (out != images).flatten(1).any(1).float().mean().item()
    assert changed == pytest.approx(0.3, abs=0.07)
