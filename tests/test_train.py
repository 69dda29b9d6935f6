"""The training loop: run directory, determinism, resume, divergence."""

import dataclasses
import json
import os
import signal

import pytest
import torch

import ganzoo
import ganzoo.training.loop
import ganzoo.training.players
import ganzoo.training.step
from ganzoo import TrainConfig, train
from ganzoo.errors import NonFiniteLossError
from ganzoo.training.resolve import resolve
from ganzoo.util.files import load_checkpoint, read_jsonl


def tiny(**overrides) -> TrainConfig:
    settings = dict(
        arch="mlp.test",
        loss="non-saturating",
        data="ring8",
        steps=20,
        batch_size=32,
        log_every=5,
        eval_every=10,
        eval_samples=200,
        checkpoint_every=10,
        device="cpu",
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def weights(run_dir):
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    return checkpoint


def assert_same_state(a, b):
    assert a["step"] == b["step"]
    for part in ("generator", "discriminator"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs"
    for part in ("g_opt", "d_opt"):
        for idx, state in a[part]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, b[part]["state"][idx][key]), f"{part} state differs"
    if a["ema"] is not None:
        for key in a["ema"]:
            assert torch.equal(a["ema"][key], b["ema"][key])


def test_run_directory_contents(tmp_path):
    summary = train(tiny(), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["arch"] == "mlp.test" and config["train"]["g_lr"] == 1e-3  # resolved from the arch
    assert config["architecture"]["name"] == "mlp.test" and config["architecture"]["data_shape"] == [2]
    assert config["environment"]["torch"] == torch.__version__
    # Enough to rebuild the models by name and load the weights.
    arch = dict(config["architecture"])
    G, _, _ = ganzoo.create_architecture(arch.pop("name"), **arch)
    G.load_state_dict(weights(run)["generator"])
    log = read_jsonl(run / "train_log.jsonl")
    assert [r["step"] for r in log] == [5, 10, 15, 20]
    metrics = read_jsonl(run / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [0, 10, 20]
    assert all(m["metric"] == "mode-coverage" and m["protocol"]["num_samples"] == 200 for m in metrics)
    assert summary["metrics"]["mode-coverage"] == metrics[-1]["results"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-00000000.png",
        "step-00000010.png",
        "step-00000020.png",
    ]
    assert (run / "samples" / "step-00000020.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_gives_the_same_weights_bit_for_bit(tmp_path):
    train(tiny(seed=3, ema_decay=0.9), tmp_path / "a", progress=False)
    train(tiny(seed=3, ema_decay=0.9), tmp_path / "b", progress=False)
    assert_same_state(weights(tmp_path / "a"), weights(tmp_path / "b"))
    train(tiny(seed=4), tmp_path / "c", progress=False)
    c = weights(tmp_path / "c")
    assert not torch.equal(c["generator"]["net.0.weight"], weights(tmp_path / "a")["generator"]["net.0.weight"])


def crash_then_resume(monkeypatch, tmp_path, config: TrainConfig, crash_step: int):
    """Train `config` to the end; train it again with an evaluation every step
    that raises at `crash_step`, as a crash would; resume that run. Returns the
    uninterrupted run's final checkpoint, the step the crashed run had saved,
    and the resumed run's final checkpoint."""
    train(config, tmp_path / "whole", progress=False)
    real_evaluate = ganzoo.training.loop.evaluate

    def crash(generator, dataset, step, *args, **kwargs):
        if step == crash_step:
            raise RuntimeError("simulated crash")
        return real_evaluate(generator, dataset, step, *args, **kwargs)

    monkeypatch.setattr(ganzoo.training.loop, "evaluate", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(dataclasses.replace(config, eval_every=1), tmp_path / "crashed", progress=False)
    saved_step = weights(tmp_path / "crashed")["step"]
    monkeypatch.setattr(ganzoo.training.loop, "evaluate", real_evaluate)
    train(None, tmp_path / "crashed", resume=True, progress=False)
    return weights(tmp_path / "whole"), saved_step, weights(tmp_path / "crashed")


@pytest.mark.slow
@pytest.mark.parametrize(
    "loss,extra",
    [
        ("non-saturating", {"ema_decay": 0.9}),
        ("wgan-gp", {}),
        ("rpgan", {"regularizer": "r1,r2", "regularizer_options": {"gamma": 0.1}}),
        ("hinge", {"lr_schedule": "linear-decay"}),
        ("minimax", {"update": "simultaneous", "regularizer": "r1"}),
    ],
    ids=["non-saturating-ema", "wgan-gp", "rpgan-r1-r2", "hinge-linear-decay", "simultaneous-r1"],
)
def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, monkeypatch, loss, extra):
    whole, saved_step, resumed = crash_then_resume(monkeypatch, tmp_path, tiny(loss=loss, steps=30, **extra), 25)
    assert saved_step == 20  # the last interval checkpoint before the crash
    assert_same_state(whole, resumed)
    # Log lines the crashed run wrote after its checkpoint are not duplicated.
    steps = [r["step"] for r in read_jsonl(tmp_path / "crashed" / "train_log.jsonl")]
    assert steps == sorted(set(steps)) and steps[-1] == 30
    evaluated = [r["step"] for r in read_jsonl(tmp_path / "crashed" / "metrics.jsonl")]
    assert evaluated == sorted(set(evaluated))


def test_lazy_regularisation_penalises_every_kth_d_step_weighted_by_k(tmp_path, monkeypatch):
    """StyleGAN2's lazy R1: with --reg-every 4 the penalty is computed at D steps 0, 4, 8, ...
    (n_d 2: two D steps per G step) and counts 4 times; the loss's own penalty stays every step."""
    from ganzoo.zoo.regularizers import GradientPenalty, R1Penalty

    calls = []
    real_r1, real_gp = R1Penalty.__call__, GradientPenalty.__call__
    monkeypatch.setattr(R1Penalty, "__call__", lambda self, *a, **k: calls.append("r1") or real_r1(self, *a, **k))
    monkeypatch.setattr(GradientPenalty, "__call__", lambda self, *a, **k: calls.append("gp") or real_gp(self, *a, **k))
    train(
        tiny(loss="wgan-gp", regularizer="r1", reg_every=4, n_d=2, steps=6, eval_every=6),
        tmp_path / "lazy",
        progress=False,
    )
    assert calls.count("gp") == 12 and calls.count("r1") == 3  # D steps 0, 4, 8 of 12

    t = ganzoo.training.players.build_training(
        resolve(tiny(regularizer="r1", reg_every=4)),
        ganzoo.training.opening.open_dataset(resolve(tiny())),
        torch.device("cpu"),
    )
    (r1,) = t.chosen_regularizers
    seen = []
    monkeypatch.setattr(
        ganzoo.training.players, "penalties", lambda regs, *a: seen.append(list(regs)) or torch.zeros(())
    )
    for step in range(4):
        t.step = step
        ganzoo.training.step.train_step(t)
    assert [regs for regs in seen if regs] == [[r1]]  # one of the four D steps


@pytest.mark.slow
def test_a_lazily_regularised_run_resumes_exactly(tmp_path, monkeypatch):
    whole, saved_step, resumed = crash_then_resume(
        monkeypatch, tmp_path, tiny(regularizer="r1", reg_every=3, steps=30), 25
    )
    assert saved_step == 20
    assert_same_state(whole, resumed)


def test_linear_decay_reaches_zero_and_fixes_the_length(tmp_path):
    cfg = resolve(tiny(steps=10, lr_schedule="linear-decay"))
    t = ganzoo.training.players.build_training(cfg, ganzoo.training.opening.open_dataset(cfg), torch.device("cpu"))
    rates = []
    for step in range(cfg.steps):
        ganzoo.training.step.set_learning_rates(t, step)
        rates.append((t.g_opt.param_groups[0]["lr"], t.d_opt.param_groups[0]["lr"]))
    assert rates[0] == (cfg.g_lr, cfg.d_lr)
    assert rates[-1] == pytest.approx((cfg.g_lr / 10, cfg.d_lr / 10))
    assert all(a[0] > b[0] for a, b in zip(rates, rates[1:]))
    train(tiny(steps=10, lr_schedule="linear-decay"), tmp_path / "run", progress=False)
    with pytest.raises(ganzoo.GanzooError, match="lr-schedule linear-decay"):
        train(tiny(steps=20, lr_schedule="linear-decay"), tmp_path / "run", resume=True, progress=False)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_checkpoints_the_current_step_and_resumes(tmp_path, monkeypatch, stop):
    """Ctrl-C, and the SIGTERM that Slurm, Kubernetes and Ray send, stop the run cleanly."""
    train(tiny(steps=30), tmp_path / "whole", progress=False)
    real_evaluate = ganzoo.training.loop.evaluate

    def press_ctrl_c(generator, dataset, step, *args, **kwargs):
        if step == 5:  # an evaluation step between two checkpoints
            os.kill(os.getpid(), stop)  # handled: finish this step, checkpoint, stop
        return real_evaluate(generator, dataset, step, *args, **kwargs)

    monkeypatch.setattr(ganzoo.training.loop, "evaluate", press_ctrl_c)
    with pytest.raises(KeyboardInterrupt, match="interrupted at step 5; checkpoint saved"):
        train(tiny(steps=30, eval_every=5), tmp_path / "stopped", progress=False)
    assert weights(tmp_path / "stopped")["step"] == 5
    monkeypatch.setattr(ganzoo.training.loop, "evaluate", real_evaluate)
    train(tiny(steps=30, eval_every=5), tmp_path / "stopped", resume=True, progress=False)
    assert_same_state(weights(tmp_path / "whole"), weights(tmp_path / "stopped"))


def test_resume_can_extend_but_not_change_the_experiment(tmp_path):
    train(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ganzoo.GanzooError, match="already holds a run.*--resume"):
        train(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ganzoo.GanzooError, match="trained with loss='non-saturating'.*'minimax'"):
        train(tiny(loss="minimax"), tmp_path / "run", resume=True, progress=False)
    train(tiny(steps=30), tmp_path / "run", resume=True, progress=False)
    assert weights(tmp_path / "run")["step"] == 30


def test_nan_stops_the_run_with_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = ganzoo.zoo.losses.NonSaturatingLoss.generator_loss

    def poisoned(self, fake_logits, real_logits=None):
        calls["n"] += 1
        value = real(self, fake_logits, real_logits)
        return value * float("nan") if calls["n"] > 13 else value

    monkeypatch.setattr(ganzoo.zoo.losses.NonSaturatingLoss, "generator_loss", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"NaN or infinite between step 10 and step 15.*step 10\)"):
        train(tiny(), tmp_path / "run", progress=False)
    checkpoint = weights(tmp_path / "run")
    assert checkpoint["step"] == 10
    assert all(torch.isfinite(v).all() for v in checkpoint["generator"].values())


def test_a_damaged_checkpoint_resumes_from_the_previous_one_or_is_a_clear_error(tmp_path):
    train(tiny(steps=30), tmp_path / "whole", progress=False)
    train(tiny(), tmp_path / "run", progress=False)
    checkpoints = tmp_path / "run" / "checkpoints"
    (checkpoints / "latest.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match=r"corrupt or not a ganzoo checkpoint.*previous\.pt \(step 10\)"):
        train(tiny(steps=30), tmp_path / "run", resume=True, progress=False)
    assert_same_state(weights(tmp_path / "whole"), weights(tmp_path / "run"))  # steps 10-20 trained again
    for name in ("latest.pt", "previous.pt"):
        (checkpoints / name).write_bytes(b"not a checkpoint")
    with pytest.raises(ganzoo.GanzooError, match="corrupt or not a ganzoo checkpoint.*no good previous"):
        train(tiny(steps=40), tmp_path / "run", resume=True, progress=False)


def test_resume_never_shortens_or_rewrites_a_run(tmp_path):
    run = tmp_path / "run"
    train(tiny(), run, progress=False)
    before = {name: (run / name).read_bytes() for name in ("config.json", "summary.json", "train_log.jsonl")}
    with pytest.raises(ganzoo.GanzooError, match="already trained 20 steps; --steps 10 would shorten it"):
        train(tiny(steps=10), run, resume=True, progress=False)
    summary = train(None, run, resume=True, progress=False)  # finished: nothing to do
    assert summary["metrics"]["mode-coverage"]["num_modes"] == 8
    assert {name: (run / name).read_bytes() for name in before} == before


def test_resume_removes_what_a_killed_writer_left(tmp_path):
    train(tiny(steps=10), tmp_path / "run", progress=False)
    orphans = [tmp_path / "run" / "checkpoints" / ".latest.pt.abc123.tmp", tmp_path / "run" / ".summary.json.x.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"half a file")
    train(tiny(steps=20), tmp_path / "run", resume=True, progress=False)
    assert not any(orphan.exists() for orphan in orphans)


def test_bad_values_are_clear_errors(tmp_path):
    for bad, message in [
        ({"steps": 0}, "steps must be a positive"),
        ({"g_lr": 5.0}, "g-lr must be"),
        ({"optimizer": "sgd"}, "Unknown optimizer 'sgd'"),
        ({"arch": "mlpp"}, "Did you mean: mlp"),
        ({"data_options": {"std": -1.0}}, "std.*must be a finite number >= 0"),
        ({"regularizer": "r3"}, "Unknown regularizer .r3."),
    ]:
        with pytest.raises(ganzoo.GanzooError, match=message):
            train(tiny(**bad), tmp_path / "bad", progress=False)


def test_the_loop_adds_the_architectures_own_penalty_to_gs_loss(monkeypatch):
    """Generator.penalty (BigGAN's orthogonal, StyleGAN2's path length) is asked at every G
    step with that step and the batch size, and joins G's loss."""
    cfg = resolve(tiny())
    t = ganzoo.training.players.build_training(cfg, ganzoo.training.opening.open_dataset(cfg), torch.device("cpu"))
    asked = []
    monkeypatch.setattr(
        type(t.G),
        "penalty",
        lambda self, step, batch_size, generator=None: asked.append((step, batch_size)) or torch.tensor(1e6),
    )
    for step in range(2):
        t.step = step
        _, g_loss = ganzoo.training.step.train_step(t)
        assert g_loss > 1e5
    assert asked == [(0, 32), (1, 32)]
