"""The theory lab: every experiment's claim, at reduced sizes, with the tolerance it states.

Each test runs the experiment's own `run` (the code `ganzoo theory` runs) on fewer steps
or points than the report, and asserts the same claim plus the numbers behind it.
"""

import math
import subprocess
import sys

import pytest
import torch

import ganzoo
from ganzoo.theory import (
    disjoint,
    fixed_point,
    lab,
    mle,
    mode_collapse,
    numerics,
    optimal_discriminator,
    saturation,
    value_jsd,
)
from ganzoo.zoo.datasets.toy1d import GaussianMixture1D, Uniform1D


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: as the lab runs them
    yield
    torch.set_num_threads(previous)


# --- densities and quadrature ---------------------------------------------------------------


def test_1d_densities_are_registered_and_normalised():
    assert {"mixture1d", "uniform1d"} <= set(ganzoo.list_datasets("*1d"))
    mixture = ganzoo.create_dataset("mixture1d", weights=[0.3, 0.7])
    grid = numerics.grid_for(mixture)
    assert grid.integrate(mixture.pdf(grid.x)) == pytest.approx(1.0, abs=1e-9)
    samples = mixture.draw(400_000, torch.Generator().manual_seed(0))
    assert float(samples.mean()) == pytest.approx(mixture.mean(), abs=0.01)
    assert float(samples.std()) == pytest.approx(mixture.std(), abs=0.01)
    # the cdf is the integral of the pdf
    assert float(mixture.cdf(torch.tensor([0.25]))) == pytest.approx(
        numerics.Grid(grid.lo, 0.25, grid.h).integrate(mixture.pdf(numerics.Grid(grid.lo, 0.25, grid.h).x)), abs=1e-6
    )
    batch, labels = mixture.batches(8, "cpu", seed=0).next()
    assert batch.shape == (8, 1) and batch.dtype == torch.float32 and labels is None


def test_training_on_a_1d_density_draws_its_histogram(tmp_path):
    summary = ganzoo.train(
        ganzoo.TrainConfig(arch="mlp.test", data="mixture1d", steps=4, eval_every=4), tmp_path, progress=False
    )
    assert summary["steps"] == 4
    assert (tmp_path / "samples" / "step-00000004.png").stat().st_size > 5_000


def test_bad_1d_density_options_are_user_errors():
    with pytest.raises(ganzoo.GanzooError, match="same non-zero length"):
        ganzoo.create_dataset("mixture1d", weights=[1.0], means=[0.0, 1.0])
    with pytest.raises(ganzoo.GanzooError, match="high must be greater"):
        ganzoo.create_dataset("uniform1d", low=1.0, high=0.0)


def test_quadrature_matches_closed_forms():
    p = GaussianMixture1D((1.0,), (0.0,), (1.0,))
    q = GaussianMixture1D((1.0,), (1.0,), (2.0,))
    grid = numerics.grid_for(p, q)
    exact_kl = math.log(2.0) + (1 + 1) / (2 * 4) - 0.5  # KL(N(0,1) || N(1, 2^2))
    assert numerics.kl(p.pdf(grid.x), q.pdf(grid.x), grid) == pytest.approx(exact_kl, abs=1e-6)
    assert numerics.jsd(p.pdf(grid.x), p.pdf(grid.x), grid) == pytest.approx(0.0, abs=1e-12)
    assert numerics.w1(p, p.shifted(2.5), numerics.grid_for(p, p.shifted(2.5))) == pytest.approx(2.5, abs=1e-6)
    # JSD of non-overlapping supports is log 2 for every distance, within 1e-3 (the tolerance)
    u = Uniform1D(0.0, 1.0)
    for d in (1.0, 1.5, 3.0, 10.0, 40.0):
        g = numerics.grid_for(u, u.shifted(d))
        assert abs(numerics.jsd(u.pdf(g.x), u.shifted(d).pdf(g.x), g) - numerics.LOG2) < 1e-3
        assert numerics.w1(u, u.shifted(d), g) == pytest.approx(d, abs=1e-9)
    # overlapping uniforms: JSD = theta log 2 for a shift theta < 1
    g = numerics.grid_for(u, u.shifted(0.3))
    assert numerics.jsd(u.pdf(g.x), u.shifted(0.3).pdf(g.x), g) == pytest.approx(0.3 * numerics.LOG2, abs=1e-9)


def test_histogram_density_integrates_to_one():
    p = GaussianMixture1D()
    grid = numerics.grid_for(p, margin=1.0)
    estimate = numerics.histogram_density(p.sample(200_000, torch.Generator().manual_seed(1)), grid, 20)
    assert grid.integrate(estimate) == pytest.approx(1.0, abs=1e-3)
    assert numerics.jsd(p.pdf(grid.x), estimate, grid) < 2e-3


# --- the seven claims ---------------------------------------------------------------------------


def test_1_maximum_likelihood_is_minimum_kl(tmp_path):
    result = mle.run(mle.Settings(sample_sizes=(1_000, 100_000), repeats=3), tmp_path)
    m = result["measured"]
    assert result["passed"]
    assert m["gap_at_largest_m"] <= 0.02
    assert m["kl_minimiser_vs_moments"] < 1e-6 and m["mle_vs_closed_form"] < 1e-6
    assert (tmp_path / "mle-is-min-kl.png").stat().st_size > 10_000


def test_2_trained_discriminator_is_the_optimal_one(tmp_path):
    result = optimal_discriminator.run(optimal_discriminator.Settings(steps=800), tmp_path)
    assert result["passed"], result["summary"]
    assert result["measured"]["weighted_abs_error"] <= 0.01


@pytest.mark.slow
def test_3_value_with_trained_d_is_minus_log4_plus_2jsd(tmp_path):
    settings = value_jsd.Settings(shifts=(0.0, 1.0, 6.0), steps=600, eval_samples=100_000)
    result = value_jsd.run(settings, tmp_path)
    points = result["measured"]["points"]
    assert result["passed"] and result["measured"]["max_abs_difference"] <= 0.05
    assert points[0]["estimate"] == pytest.approx(-math.log(4), abs=0.01)  # identical densities
    assert points[-1]["jsd"] == pytest.approx(math.log(2), abs=1e-3)  # far apart: JSD -> log 2, V -> 0


@pytest.mark.slow
def test_4_gan_reaches_the_fixed_point(tmp_path):
    settings = fixed_point.Settings(steps=1200, snapshots=(0, 300), track_every=300, fresh_d_steps=600)
    result = fixed_point.run(settings, tmp_path)
    m = result["measured"]
    assert result["passed"], result["summary"]
    assert abs(m["fresh_d_value"] + math.log(4)) <= 0.02
    assert m["fresh_d_flatness"] <= 0.03 and m["final_flatness_gan_d"] <= 0.03
    assert m["track"][0]["jsd"] > 0.5 > 0.02 > m["final_jsd_histogram"]


@pytest.mark.slow
def test_5_minimax_saturates_and_non_saturating_does_not(tmp_path):
    # exact: per sample, d loss / d logit is -D for minimax and -(1 - D) for non-saturating
    logits = torch.linspace(-12, 12, 49, requires_grad=True)
    d = torch.sigmoid(logits).detach()
    for name, expected in (("minimax", -d), ("non-saturating", -(1 - d))):
        (grad,) = torch.autograd.grad(ganzoo.create_loss(name).generator_loss(logits) * len(logits), logits)
        assert torch.allclose(grad, expected, atol=1e-6)
    settings = saturation.Settings(
        d_checkpoints=(0, 20, 200, 500), pretrain_d_steps=200, train_steps=300, track_every=100
    )
    result = saturation.run(settings, tmp_path)
    m = result["measured"]
    assert result["passed"], result["summary"]
    assert m["max_ratio_when_confident"] < 0.02
    assert m["fraction_of_w1_removed"]["sgd/minimax"] < 0.05 < 0.5 < m["fraction_of_w1_removed"]["sgd/non-saturating"]


@pytest.mark.slow
def test_6_disjoint_supports(tmp_path):
    result = disjoint.run(disjoint.Settings(distances=(2.0, 4.0, 8.0), steps=500), tmp_path)
    m = result["measured"]
    assert result["passed"], result["summary"]
    assert m["max_abs_jsd_minus_log2"] < 1e-3 and m["max_abs_value"] < 0.05
    assert m["max_abs_minimax_gradient"] < 0.01 < 0.5 < m["min_abs_critic_gradient"]
    estimates = [p["critic"] for p in m["points"]]
    assert estimates == sorted(estimates)
    for p in m["points"]:  # the gradient-penalty critic's optimum, d (1 + d / 2 lambda), within 3%
        assert p["critic"] == pytest.approx(p["d"] * (1 + p["d"] / 20), rel=0.03)


@pytest.mark.slow
def test_7_packing_counters_early_collapse_on_the_ring(tmp_path):
    suite = tmp_path / "modes.toml"
    block = (
        'architectures = ["mlp"]\ndata = ["ring8"]\nseeds = [1]\nsteps = 600\neval_every = 100\n'
        'metrics = ["mode-coverage"]\n'
    )
    suite.write_text(
        f'name = "modes-test"\n[[block]]\nname = "gan"\nlosses = ["non-saturating"]\n{block}'
        f'[[block]]\nname = "pacgan"\narch_options = {{ pack = 2 }}\nlosses = ["non-saturating"]\n{block}'
    )
    figures = tmp_path / "figures"
    figures.mkdir()
    result = mode_collapse.run(mode_collapse.Settings(suite=str(suite)), figures, tmp_path)
    m = result["measured"]
    assert m["ring8_mean_coverage_pacgan"] - m["ring8_mean_coverage_non_saturating"] >= 1
    # one seed a side: a gain but no interval, so the claim is not shown
    assert not result["passed"] and m["ring8_gain_interval_95"] is None
    assert "too few seeds for an interval" in result["summary"]
    assert (figures / "mode-collapse.png").exists() and len(result["figures"]) == 5  # curves + 2 per variant


def test_7_cells_get_the_bench_threads_rule(tmp_path, monkeypatch):
    # one job: torch's default (which honours OMP_NUM_THREADS beside other work); several:
    # the cores shared among them. The lab used to force cores // jobs threads, so with
    # OMP_NUM_THREADS=1 beside two busy processes a cell ran 25x slower.
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    settings = mode_collapse.Settings()
    cells, threads = mode_collapse.pending_cells(settings, tmp_path / "one", jobs=1)
    assert threads is None and len(cells) == 40
    assert mode_collapse.pending_cells(settings, tmp_path / "two", jobs=2)[1] == 2


def test_7_the_claim_needs_the_whole_interval_of_the_gain_above_the_margin():
    from scipy import stats

    packed, plain = [4.1, 3.6, 4.8, 4.4, 3.9], [0.7, 0.4, 1.1, 0.6, 0.9]
    gain, (low, high), shown = mode_collapse.packing_gain(packed, plain, min_gain=1.0)
    welch = stats.ttest_ind(packed, plain, equal_var=False).confidence_interval(0.95)
    assert gain == pytest.approx(3.42) and (low, high) == pytest.approx((welch.low, welch.high))
    assert shown
    # the same gain in the means, but too noisy to put the whole interval above 1
    gain, (low, _), shown = mode_collapse.packing_gain([0.6, 7.5, 2.0], [0.0, 1.2, 0.3], min_gain=1.0)
    assert gain > 1 and low < 1 and not shown
    # a gain whose interval lies above 0 but not above the margin
    gain, (low, _), shown = mode_collapse.packing_gain([1.9, 2.1, 1.8, 2.2], [0.7, 0.8, 0.75, 0.65], min_gain=1.0)
    assert gain > 1 and 0 < low < 1 and not shown
    # fewer than 2 seeds a side: no interval, not shown
    assert mode_collapse.packing_gain([5.0], [0.5, 0.7], min_gain=1.0) == (pytest.approx(4.4), (None, None), False)


# --- the command -----------------------------------------------------------------------------


@pytest.mark.slow
def test_theory_command_writes_report_and_resumes(tmp_path):
    out = tmp_path / "theory"
    command = [sys.executable, "-m", "ganzoo", "theory", "--out", str(out), "--only", "1", "--jobs", "1"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "1 of 1 claims hold" in first.stdout
    records = lab.latest_records(out)
    assert set(records) == {"mle-is-min-kl"} and records["mle-is-min-kl"]["passed"]
    assert records["mle-is-min-kl"]["environment"]["torch"] == torch.__version__
    html = (out / "report.html").read_text()
    assert "Maximum likelihood is minimum KL" in html and "data:image/png;base64," in html
    assert "figures/mle-is-min-kl.png" in (out / "report.md").read_text()
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert "1 already recorded" in again.stdout and again.returncode == 0
    assert len((out / "theory.jsonl").read_text().splitlines()) == 1


def test_unknown_experiment_is_a_one_paragraph_error(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "ganzoo", "theory", "--out", str(tmp_path), "--only", "fixed-pont"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "fixed-point" in run.stderr  # the close name
