"""Search blocks in suites: distributions, draws fixed by the suite text, resuming a search."""

import math
import random
import textwrap

import pytest
from conftest import run_cli

import ganzoo
from ganzoo.bench.search import parse_search
from ganzoo.bench.suite import expand, load_suite
from ganzoo.report.compare import compare
from ganzoo.util.files import read_jsonl

SEARCH_SUITE = """
name = "study"

[[block]]
name = "ns"
architectures = ["mlp.test"]
losses = ["non-saturating"]
data = ["ring8"]
seeds = [0]
steps = 4
eval_every = 4
log_every = 2
batch_size = 32
eval_samples = 200
metrics = ["mode-coverage"]
train = { betas = [0.5, 0.999] }
[block.search]
trials = TRIALS
seed = 7
[block.search.space]
"g_lr,d_lr" = "loguniform(1e-5, 1e-2)"
"betas.0" = "uniform(0, 1)"
n_d = [1, 2]
"arch_options.g_hidden" = "intuniform(8, 16)"
"""


def suite_file(tmp_path, trials=3, text=SEARCH_SUITE):
    path = tmp_path / f"study-{trials}.toml"
    path.write_text(textwrap.dedent(text).replace("TRIALS", str(trials)))
    return path


def test_distributions_draw_within_their_ranges_and_on_their_scales():
    search = parse_search(
        "test",
        {
            "trials": 1,
            "space": {"lr": "loguniform(1e-5, 1e-2)", "b": "uniform(0, 1)", "k": "intuniform(1, 5)", "c": ["a", "b"]},
        },
    )
    rng = random.Random(0)
    draws = {key: [dist.draw(rng) for _ in range(4000)] for key, dist in search.space.items()}
    assert all(1e-5 <= v <= 1e-2 for v in draws["lr"])
    log_lr = [math.log10(v) for v in draws["lr"]]
    assert abs(sum(log_lr) / len(log_lr) + 3.5) < 0.05  # uniform in log10: mean -3.5
    assert sum(v < 1e-4 for v in draws["lr"]) / 4000 == pytest.approx(1 / 3, abs=0.03)
    assert abs(sum(draws["b"]) / 4000 - 0.5) < 0.02
    assert set(draws["k"]) == {1, 2, 3, 4, 5} and set(draws["c"]) == {"a", "b"}


def test_a_trial_sets_tied_nested_and_paired_options(tmp_path):
    cells = expand(load_suite(str(suite_file(tmp_path))), {})
    assert [c.id for c in cells] == [f"ns-trial{k:03d}--mlp.test--non-saturating--ring8--seed0" for k in range(3)]
    for cell in cells:
        draws, train = cell.trial["draws"], cell.train
        assert train["g_lr"] == train["d_lr"] == draws["g_lr,d_lr"]  # one draw for both rates
        assert train["betas"] == [draws["betas.0"], 0.999]
        assert train["arch_options"] == {"g_hidden": draws["arch_options.g_hidden"]}
        assert train["n_d"] in (1, 2) and 8 <= train["arch_options"]["g_hidden"] <= 16
    assert len({c.train["g_lr"] for c in cells}) == 3


def test_draws_depend_on_the_suite_alone_so_more_trials_keep_the_first_ones(tmp_path):
    three = expand(load_suite(str(suite_file(tmp_path, 3))), {})
    again = expand(load_suite(str(suite_file(tmp_path, 3))), {})
    five = expand(load_suite(str(suite_file(tmp_path, 5))), {})
    assert [c.train for c in three] == [c.train for c in again] == [c.train for c in five[:3]]
    other_seed = expand(load_suite(str(suite_file(tmp_path, 3, SEARCH_SUITE.replace("seed = 7", "seed = 8")))), {})
    assert all(a.train["g_lr"] != b.train["g_lr"] for a, b in zip(three, other_seed))


@pytest.mark.parametrize(
    "space,message",
    [
        ('{ g_lr = "lognormal(1, 2)" }', "not a distribution.*loguniform"),
        ('{ g_lr = "loguniform(0, 1)" }', "low > 0"),
        ('{ g_lr = "uniform(2, 1)" }', "low < high"),
        ('{ n_d = "intuniform(1, 2.5)" }', "whole numbers"),
        ("{ n_d = [] }", "empty list"),
        ('{ "betas.1" = "uniform(0.9, 0.999)" }', "does not set in full.*betas = \\[0.5, 0.999\\]"),
        ("{ no_such_option = [1, 2] }", "unknown training option.*no_such_option"),
    ],
)
def test_bad_search_spaces_say_what_is_wrong(tmp_path, space, message):
    text = SEARCH_SUITE.replace("train = { betas = [0.5, 0.999] }\n", "")
    text = text[: text.index("[block.search.space]")] + f"space = {space}\n"
    with pytest.raises(ganzoo.GanzooError, match=message):
        expand(load_suite(str(suite_file(tmp_path, 2, text))), {})


@pytest.mark.slow
def test_a_search_runs_records_its_draws_reruns_its_best_and_resumes_without_redrawing(tmp_path):
    best = SEARCH_SUITE.replace(
        "seed = 7\n", 'seed = 7\nbest_seeds = [1, 2]\nbest_by = "mode-coverage.high_quality_pct"\n'
    )
    out = tmp_path / "results"
    first = run_cli("bench", str(suite_file(tmp_path, 2, best)), "--out", str(out), "--device", "cpu", "--jobs", "1")
    assert first.returncode == 0, first.stderr
    records = {r["cell"]: r for r in read_jsonl(out / "results.jsonl")}
    trials = expand(load_suite(str(suite_file(tmp_path, 2, best))), {})
    for cell in trials:
        record = records[cell.id]
        assert record["status"] == "ok" and record["trial"] == cell.trial
        assert record["setting"]["g_lr"] == cell.trial["draws"]["g_lr,d_lr"]  # the resolved setting agrees
    # Once both trials were recorded, the better one (by HQ %; the first on a tie) ran again with seeds 1 and 2.
    hq = [records[c.id]["final"]["mode-coverage"]["high_quality_pct"] for c in trials]
    winner = 1 if hq[1] > hq[0] else 0
    reruns = [r for r in records.values() if r["block"] == "ns-best"]
    assert sorted(r["seed"] for r in reruns) == [1, 2] and all(r["status"] == "ok" for r in reruns)
    assert all(r["best_of"]["trial"] == winner and r["best_of"]["score"] == hq[winner] for r in reruns)
    assert all(r["setting"] == {**records[trials[winner].id]["setting"]} for r in reruns)

    # The report shows the search's distribution and budget curve; the best re-run is a row of its own.
    report = (out / "report.md").read_text()
    assert "ring8: search blocks" in report and (out / "figures" / "ring8-search.png").is_file()
    assert report.count("\n| mlp.test | non-saturating |") == 1  # the re-run's row; trials are not rows
    assert "| ns | mlp.test | non-saturating | 2/2 |" in report

    # More trials: the two recorded ones are kept, one more runs, and the best is chosen again.
    more = run_cli(
        "bench", str(suite_file(tmp_path, 3, best)), "--out", str(out), "--device", "cpu", "--jobs", "1", "--no-report"
    )
    assert more.returncode == 0, more.stderr
    # The first pass lists the trials only: the re-runs wait until the new trial is recorded.
    assert "3 cells, 2 already recorded, 1 to run (1 at a time)" in more.stdout, more.stdout
    assert "2 re-run(s) of best trials wait for their searches" in more.stdout
    assert len([r for r in read_jsonl(out / "results.jsonl") if "trial" in r]) == 3

    # compare on two studies: the searches are set side by side, trial scores against trial scores.
    text = compare(out, out)
    assert "ring8: searches" in text and "| ns / mlp.test / non-saturating |" in text
    assert "no difference shown" in text and "Holm-corrected" in text
