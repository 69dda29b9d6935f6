"""Metrics, regularisers and data sets on the public path: the registry decides what
applies by what data offer; the new metrics (density and coverage, FD-DINOv2); the
plugin and package behind everything a run used."""

import json
import math

import pytest
import torch
from conftest import need_data_root, run_cli

import ganzoo
import ganzoo.testing
from ganzoo.core.data import Dataset, SampledBatches
from ganzoo.evaluation import extractors
from ganzoo.evaluation.density_coverage import density_coverage, expected_coverage
from ganzoo.evaluation.plan import EvalSettings, applicable_metrics, eval_default_metrics, plan_evaluation
from ganzoo.plugin.registry import Entry


class Square(Dataset):
    """Not a ganzoo mixture class: four modes it offers by duck typing."""

    name, sample_shape, offers = "square", (2,), frozenset({"modes"})
    centers = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    std = 0.1
    mode_weights = torch.full((4,), 0.25, dtype=torch.float64)

    def batches(self, batch_size, device, seed):
        def draw(n, rng):
            modes = torch.randint(4, (n,), generator=rng)
            return self.centers[modes] + self.std * torch.randn(n, 2, generator=rng), None

        return SampledBatches(draw, batch_size, device, seed)


class Plain(Square):
    offers = frozenset()


def test_what_applies_follows_what_the_data_offer_not_their_class():
    builtin = [
        m
        for m in applicable_metrics(Square())
        if ganzoo.plugin.manager.registry("metric").get(m).plugin == "ganzoo.zoo.metrics"
    ]
    assert builtin == ["mode-coverage"]  # (the example plugin adds one that also needs modes)
    assert applicable_metrics(Plain()) == []
    with pytest.raises(ganzoo.GanzooError, match="needs data that offer modes, and 'square' offers nothing"):
        plan_evaluation(Plain(), EvalSettings(metrics=["mode-coverage"]), lambda split: None)


def test_a_data_set_of_any_class_gets_mode_coverage_in_training(tmp_path):
    registry = ganzoo.plugin.manager.registry("dataset")
    registry.add(Entry("dataset", "square", Square, "test"))
    ganzoo.train(
        ganzoo.TrainConfig(arch="mlp.test", data="square", steps=4, batch_size=16, eval_every=2),
        tmp_path / "run",
        progress=False,
    )
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["metric"] for r in records] == ["mode-coverage"] * 3
    assert records[-1]["results"]["num_modes"] == 4 and records[-1]["protocol"]["data"]["std"] == 0.1
    assert (tmp_path / "run" / "samples" / "step-00000004.png").is_file()


@pytest.mark.slow
def test_list_shows_metrics_and_regularizers_with_their_plugins():
    result = run_cli("list", "metrics", "--json")
    assert result.returncode == 0, result.stderr
    metrics = {e["name"]: e["plugin"] for e in json.loads(result.stdout)}
    assert {"mode-coverage", "fid", "density-coverage", "fd-dinov2", "class-coverage"} <= set(metrics)
    assert metrics["fid"] == "ganzoo.zoo.metrics"
    needs = {e["name"]: e["needs"] for e in json.loads(result.stdout)}
    assert needs["mode-coverage"] == ["modes"] and needs["class-coverage"] == ["images", "digit-classes"]
    result = run_cli("list", "regularizers")
    assert result.returncode == 0 and "r1" in result.stdout and "gradient-penalty" in result.stdout
    with pytest.raises(ganzoo.UnknownNameError, match="Did you mean: r1"):
        ganzoo.create_regularizer("r11")


# --- density and coverage ---------------------------------------------------------------


def test_density_and_coverage_by_hand():
    # Reals on a line at 0, 1, 2, 10; k = 1: radii (nearest other real) 1, 1, 1, 8.
    real = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    generated = torch.tensor([[0.5], [9.0], [30.0]])
    out = density_coverage(real, generated, k=1)
    # 0.5 lies in the balls of 0 and 1 (strictly); 9 in the ball of 10; 30 in none.
    assert out["density"] == pytest.approx(3 / (1 * 3))
    assert out["coverage"] == pytest.approx(3 / 4)  # 0, 1 and 10 are covered; 2 is not (|2 - 0.5| = 1.5)


def test_density_and_coverage_meet_their_expectations_on_one_distribution():
    """Naeem et al. 2020, Lemmas 1-2: with real and generated from one distribution,
    E[density] = 1 and E[coverage] = 1 - prod_i (N - i) / (N + M - i)."""
    rng = torch.Generator().manual_seed(0)
    runs = [density_coverage(torch.randn(600, 8, generator=rng), torch.randn(600, 8, generator=rng)) for _ in range(12)]
    density = sum(r["density"] for r in runs) / len(runs)
    coverage = sum(r["coverage"] for r in runs) / len(runs)
    assert density == pytest.approx(1.0, abs=0.04)
    assert coverage == pytest.approx(expected_coverage(600, 600), abs=0.01)
    assert expected_coverage(10_000, 10_000) == pytest.approx(1 - 1 / 32, abs=1e-3)
    shifted = density_coverage(torch.randn(600, 8, generator=rng), torch.randn(600, 8, generator=rng) + 4)
    assert shifted["density"] < 0.01 and shifted["coverage"] < 0.01


# --- FD-DINOv2 ----------------------------------------------------------------------------


def test_fd_dinov2_offline_says_what_to_put_where(tmp_path, monkeypatch):
    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(extractors, "_download_dinov2", offline)
    with pytest.raises(ganzoo.GanzooError) as error:
        extractors.resolve_extractor("dinov2-vit-l-14")
    message = str(error.value)
    assert "network unreachable" in message and "dinov2_vitl14_pretrain.pth" in message
    assert str(tmp_path / "hub" / "facebookresearch_dinov2_main") in message and "$TORCH_HOME" in message


@pytest.mark.slow
def test_fd_dinov2_from_a_local_hub_cache(dinov2_stand_in):
    """The whole path (hub cache, torch-fidelity's DINOv2 forward, the Frechet distance) with a
    stand-in network in place of the 1.2 GB one."""
    root = need_data_root()
    mnist = ganzoo.create_dataset("mnist", root=str(root), split="test", download=False)
    assert "fd-dinov2" in applicable_metrics(mnist) and "fd-dinov2" not in eval_default_metrics(mnist)
    (record,) = ganzoo.testing.check_metric(
        "fd-dinov2", "mnist", num_samples=64, root=str(root), split="test", download=False
    )
    assert math.isfinite(record["results"]["fd_dinov2"]) and record["results"]["fd_dinov2"] > 0
    assert record["protocol"]["extractor"]["name"] == "dinov2-vit-l-14"
    assert record["protocol"]["reference"] == "Stein et al. 2023"


# --- provenance ---------------------------------------------------------------------------


@pytest.mark.slow
def test_runs_record_the_package_behind_everything_and_name_it_when_it_is_gone(tmp_path):
    run = tmp_path / "run"
    ganzoo.train(
        ganzoo.TrainConfig(arch="mlp.test", data="ring8", steps=2, batch_size=16, regularizer="r1"), run, progress=False
    )
    config = json.loads((run / "config.json").read_text())
    used = config["provenance"]
    assert used["architecture"] == {
        "name": "mlp.test",
        "plugin": "ganzoo.zoo.architectures.mlp",
        "package": "pyganzoo",
        "version": used["architecture"]["version"],
    }
    assert [r["plugin"] for r in used["regularizer"]] == ["ganzoo.zoo.regularizers"]
    assert [m["name"] for m in used["metric"]] == ["mode-coverage"]
    assert json.loads((run / "summary.json").read_text())["provenance"] == used

    used["architecture"].update(name="gone-gan", plugin="gone", package="ganzoo-gone", version="2.1")
    (run / "config.json").write_text(json.dumps(config))
    result = run_cli("sample", str(run), "--out", str(tmp_path / "s.png"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "architecture 'gone-gan' from plugin 'gone' (package ganzoo-gone 2.1), which is not installed" in result.stderr
    )


# --- optimisers ---------------------------------------------------------------------------


def test_a_plugins_optimizer_trains_and_the_unrolled_gan_refuses_it_by_name(install_fake_plugin, tmp_path):
    install_fake_plugin(
        "nesterov",
        """
        import torch
        import ganzoo

        def sgd(params, lr, betas=(0.5, 0.999)):
            return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)

        @ganzoo.hookimpl
        def ganzoo_register_optimizers(register):
            register("nesterov-sgd", sgd, description="SGD with Nesterov momentum")
    """,
    )
    assert "nesterov-sgd" in ganzoo.list_optimizers()
    ganzoo.testing.check_optimizer("nesterov-sgd")
    config = dict(arch="mlp.test", data="ring8", steps=4, batch_size=16, optimizer="nesterov-sgd", g_lr=0.01, d_lr=0.01)
    summary = ganzoo.train(ganzoo.TrainConfig(**config), tmp_path / "run", progress=False)
    assert summary["steps"] == 4
    with pytest.raises(ganzoo.GanzooError, match="Unrolled GAN supports D optimisers Adam and RMSprop, not SGD"):
        ganzoo.train(ganzoo.TrainConfig(**config, unroll_steps=2), tmp_path / "unrolled", progress=False)
