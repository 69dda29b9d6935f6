"""`ganzoo bench`, `report` and `compare`: the matrix, failures, resuming, the report."""

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, run_cli

import ganzoo
import ganzoo.report.page
import ganzoo.report.results
from ganzoo.bench.suite import builtin_suites, expand, load_suite
from ganzoo.core.config import TrainConfig
from ganzoo.report.compare import compare
from ganzoo.report.papers import load_papers, papers_file_for
from ganzoo.training.resolve import resolve
from ganzoo.util.files import read_jsonl

SUITE = """
name = "tiny"
description = "a test suite"

[[block]]
name = "toy"
architectures = ["mlp.test"]
losses = ["minimax", "h*"]
data = ["ring8"]
seeds = [0, 1]
steps = 12
eval_every = 6
log_every = 3
batch_size = 32
eval_samples = 200
metrics = ["mode-coverage"]

[[block]]
name = "broken"
architectures = ["mlp.test"]
losses = ["least-squares"]
loss_options = { no_such_option = 1 }
data = ["grid25"]
seeds = [0]
steps = 4
"""


def write_suite(tmp_path, text=SUITE) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_suites_expand_wildcards_and_skip_test_variants(tmp_path):
    cells = expand(load_suite(str(write_suite(tmp_path))), {"device": "cpu"})
    assert [(c.arch, c.loss, c.seed) for c in cells[:4]] == [
        ("mlp.test", "minimax", 0),
        ("mlp.test", "minimax", 1),
        ("mlp.test", "hinge", 0),
        ("mlp.test", "hinge", 1),
    ]
    assert len(cells) == 5 and all(c.train["device"] == "cpu" for c in cells)
    quick = expand(load_suite("quick"), {})
    assert {(c.block, c.data, c.loss) for c in quick} == {
        ("mnist", "mnist", "non-saturating"),
        ("ring", "ring8", "non-saturating"),
    }
    assert len(quick) == 3 + 3 and quick[0].block == "mnist"  # the longest cells start first
    standard = expand(load_suite("standard"), {})
    assert {"sngan-resnet", "wgan-gp-resnet", "sngan-projection", "dcgan", "r3gan", "biggan", "stylegan2"} <= {
        c.arch for c in standard
    }
    assert not any(c.arch.endswith(".test") for c in standard)


@pytest.mark.parametrize("name", builtin_suites())
def test_every_built_in_suite_expands_into_cells_that_resolve_and_its_papers_name_its_rows(name):
    """A typo in a shipped suite (an option, a value out of range, a reference to a block or
    data set the suite does not train) fails here, not hours into a user's run."""
    suite = load_suite(name)
    cells = expand(suite, {"device": "cpu"})
    assert cells and not any(c.arch.endswith(".test") for c in cells)
    for cell in cells:
        resolve(TrainConfig(arch=cell.arch, loss=cell.loss, data=cell.data, seed=cell.seed, **cell.train))
    path = papers_file_for(name)
    if path is not None:
        papers = load_papers(path)
        trained = {(c.block, c.data) for c in cells}
        rows = [(r["block"], r["data"], r["source"]) for r in papers.references]
        inherited, own = rows[: papers.inherited], rows[papers.inherited :]
        assert [row for row in own if row[:2] not in trained] == []
        if inherited:  # another suite's file that this one extends: it trains some of those rows
            assert any(row[:2] in trained for row in inherited)


@pytest.mark.parametrize(
    "text, message",
    [
        ("name = 'x'\n", r"names no \[\[block\]\]"),
        (
            "[[block]]\narchitectures = ['mlp']\nlosses = ['minimax']\ndata = ['ring8']\nseeds = [0]\nstep = 3\n",
            "unknown key",
        ),
        ("[[block]]\narchitectures = ['mlpp']\nlosses = ['minimax']\ndata = ['ring8']\nseeds = [0]\n", "Did you mean"),
        (
            "[[block]]\narchitectures = ['mlp']\nlosses = ['minimax']\ndata = ['ring8']\nseeds = [0]\n"
            "train = { lr = 1 }\n",
            "unknown training option",
        ),
        ("[[block\n", "not a valid suite file"),
    ],
)
def test_bad_suites_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ganzoo.GanzooError, match=message):
        expand(load_suite(str(write_suite(tmp_path, text))), {})


@pytest.mark.slow
def test_bench_runs_records_failures_resumes_and_reports(tmp_path):
    suite, out = write_suite(tmp_path), tmp_path / "results"
    # An interrupted first attempt at one cell: its checkpoint at step 6 must be resumed.
    interrupted = out / "runs" / "toy--mlp.test--minimax--ring8--seed1"
    ganzoo.train(
        ganzoo.TrainConfig(
            arch="mlp.test",
            loss="minimax",
            data="ring8",
            seed=1,
            steps=6,
            eval_every=6,
            log_every=3,
            batch_size=32,
            eval_samples=200,
            device="cpu",
            eval_metrics=["mode-coverage"],
        ),
        interrupted,
        progress=False,
    )
    first = run_cli("bench", str(suite), "--out", str(out), "--device", "cpu", "--jobs", "2")
    assert first.returncode == 1 and "1 cell(s) failed: broken--mlp.test" in first.stderr, first.stderr
    records = read_jsonl(out / "results.jsonl")
    assert sorted(r["status"] for r in records) == ["failed", "ok", "ok", "ok", "ok"]
    [failed] = [r for r in records if r["status"] == "failed"]
    assert "no_such_option" in failed["reason"] and failed["error"] == "GanzooError"
    resumed = [line["step"] for line in read_jsonl(interrupted / "train_log.jsonl")]
    assert resumed == [3, 6, 9, 12]  # the first two lines come from the interrupted attempt
    for record in records:
        if record["status"] == "ok":
            assert record["final"]["mode-coverage"]["num_modes"] == 8
            assert record["throughput"]["steps_per_s"] > 0 and record["throughput"]["warmup_steps"] > 0
    meta = json.loads((out / "bench.json").read_text())
    assert meta["jobs"] == 2 and meta["suite"]["name"] == "tiny" and meta["environment"]["torch"]
    report = (out / "report.md").read_text()
    assert "| mlp.test | minimax | 2/2 | 0 |" in report and "no_such_option" in report
    assert (out / "figures" / "ring8-mode-coverage.png").is_file()
    html = (out / "report.html").read_text()
    assert "data:image/jpeg;base64" in html and 'src="figures/' not in html  # self-contained

    again = run_cli("bench", str(suite), "--out", str(out), "--device", "cpu", "--jobs", "1", "--no-report")
    assert again.returncode == 1 and "5 already recorded, 0 to run" in again.stdout  # still one failed
    assert len(read_jsonl(out / "results.jsonl")) == 5

    # A changed block reruns its own cells only; the old run directory is kept aside, not mixed in.
    changed = write_suite(
        tmp_path, SUITE.replace('losses = ["minimax", "h*"]', 'losses = ["minimax"]').replace("steps = 4", "steps = 5")
    )
    rerun = run_cli("bench", str(changed), "--out", str(out), "--device", "cpu", "--no-report")
    assert rerun.returncode == 1 and "3 cells, 2 already recorded, 1 to run" in rerun.stdout, rerun.stdout
    assert not (out / "runs-superseded").exists()  # the broken cell never made a run directory
    history = json.loads((out / "bench.json").read_text())["history"]
    assert len(history) == 1 and history[0]["sha256"] == meta["suite"]["sha256"]
    retuned = write_suite(
        tmp_path,
        SUITE.replace('losses = ["minimax", "h*"]', 'losses = ["minimax"]')
        .replace("steps = 4", "steps = 5")
        .replace("steps = 12", "steps = 13"),
    )
    rerun = run_cli("bench", str(retuned), "--out", str(out), "--device", "cpu", "--no-report")
    assert rerun.returncode == 1 and "3 cells, 1 already recorded, 2 to run" in rerun.stdout, rerun.stdout
    assert len(list((out / "runs-superseded").iterdir())) == 2  # the minimax cells' old runs
    latest = {r["cell"]: r for r in read_jsonl(out / "results.jsonl")}
    assert latest["toy--mlp.test--minimax--ring8--seed0"]["steps"] == 13
    # The report shows the suite as it is now: the dropped hinge cells are left out.
    _, reported = ganzoo.report.results.load(out)
    assert {r["loss"] for r in reported} == {"minimax", "least-squares"}
    # ... and a cell changed since its run (retired, waiting to run again) shows no old numbers.
    from ganzoo.bench.run import prepare

    waiting = write_suite(
        tmp_path,
        SUITE.replace('losses = ["minimax", "h*"]', 'losses = ["minimax"]')
        .replace("steps = 4", "steps = 5")
        .replace("steps = 12", "steps = 14"),
    )
    prepare(load_suite(str(waiting)), out, overrides={"device": "cpu"})
    _, reported = ganzoo.report.results.load(out)
    assert {r["loss"] for r in reported} == {"least-squares"}

    # A folder of results from before per-cell hashes cannot say which still hold: refused.
    legacy = tmp_path / "legacy"
    shutil.copytree(out, legacy)
    lines = [{k: v for k, v in r.items() if k != "protocol_sha"} for r in read_jsonl(legacy / "results.jsonl")]
    (legacy / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    original = tmp_path / "original.toml"
    original.write_text(textwrap.dedent(SUITE))
    refused = run_cli("bench", str(original), "--out", str(legacy), "--device", "cpu")
    assert refused.returncode == 2 and "another version of suite" in refused.stderr

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:  # the report as a real browser shows it
        sys.path.insert(0, str(REPO / "scripts"))
        from check_report import check

        loaded, total = check(out / "report.html", tmp_path / "shot.png")
        assert loaded == total > 0 and (tmp_path / "shot.png").stat().st_size > 10_000


def fake_results(folder: Path, fids: list[float], modes: list[int]) -> Path:
    folder.mkdir()
    (folder / "bench.json").write_text(json.dumps({"suite": {"name": "x"}}))
    lines = [
        {
            "cell": f"c{i}",
            "arch": "dcgan",
            "loss": "hinge",
            "data": "mnist",
            "seed": i,
            "status": "ok",
            "final": {"fid": {"fid": f}, "stacked-mnist-modes": {"modes_covered": m}},
        }
        for i, (f, m) in enumerate(zip(fids, modes))
    ]
    (folder / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


@pytest.mark.slow
def test_compare_tells_real_differences_from_noise(tmp_path):
    a = fake_results(tmp_path / "a", [10.0, 11.0, 12.0], [990, 995, 1000])
    b = fake_results(tmp_path / "b", [20.0, 21.0, 22.5], [1000, 985, 998])
    text = compare(a, b)
    fid_row = next(line for line in text.splitlines() if "| FID |" in line)
    modes_row = next(line for line in text.splitlines() if "| modes /1000 |" in line)
    assert "B higher (worse)" in fid_row and "+10.17" in fid_row
    assert "inconclusive" in modes_row and "no margin declared" in modes_row  # never "agrees" without a margin
    assert "Holm-corrected over the 2 comparisons" in text
    # With a margin, the modes (992 ± 5 against 994 ± 8) can be shown equivalent, given enough seeds.
    text = compare(a, b, margins={"modes_covered": 50})
    assert "agrees (within ±50)" in next(line for line in text.splitlines() if "| modes /1000 |" in line)
    text = compare(a, b, margins={"modes_covered": 5})
    assert "seeds per side would likely settle it" in next(
        line for line in text.splitlines() if "| modes /1000 |" in line
    )
    result = run_cli("compare", str(a), str(b), "--margin", "modes_covered=5%")
    assert result.returncode == 0 and "±49.75" in result.stdout  # 5% of A's 995
    result = run_cli("compare", str(a), str(b), "--margin", "modes_covered=-1")
    assert (
        result.returncode == 2 and "a margin is a positive number" in result.stderr and "Traceback" not in result.stderr
    )
    result = run_cli("compare", str(a), str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no bench results" in result.stderr


def test_tensorboard_logs_losses_metrics_and_samples(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ganzoo.train(
        ganzoo.TrainConfig(
            arch="mlp.test",
            steps=6,
            eval_every=3,
            log_every=3,
            batch_size=32,
            eval_samples=100,
            device="cpu",
            tensorboard=True,
        ),
        tmp_path / "run",
        progress=False,
    )
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    assert {"loss/d", "loss/g", "mode-coverage/modes_covered"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("mode-coverage/modes_covered")] == [0, 3, 6]
    assert "samples" in tags["images"]


@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="needs chromium (apt-get install chromium)",
)
def test_wide_tables_fit_a_1280_pixel_window(tmp_path):
    """The committed quick report's widest table (13 columns) shows every column in a
    1280-pixel window; a table that cannot fit is detected as cut off."""
    sys.path.insert(0, str(REPO / "scripts"))
    from check_report import inspect

    from ganzoo.report.page import Page
    from ganzoo.report.write import write_report

    _, page = write_report(REPO / "docs" / "results" / "quick", tmp_path / "quick")
    assert inspect(page)["tables_cut"] == 0
    too_wide = Page("too wide")
    too_wide.table([f"column {i}" for i in range(40)], [[f"{1234567.891 * i:,.3f}" for i in range(40)]])
    (tmp_path / "wide.html").write_text(too_wide.html())
    assert inspect(tmp_path / "wide.html")["tables_cut"] == 1


CRASHING_LOSS = """
    import os

    import ganzoo
    from ganzoo.zoo.losses import NonSaturatingLoss

    class Crash(NonSaturatingLoss):
        def discriminator_loss(self, real_logits, fake_logits):
            os._exit(3)  # dies below Python: no exception reaches the bench

    @ganzoo.hookimpl
    def ganzoo_register_losses(register):
        register("crash", Crash, description="kills its process")
"""


@pytest.mark.slow
def test_a_cell_that_kills_its_worker_fails_alone(tmp_path, install_fake_plugin):
    site = install_fake_plugin("crashing_loss", CRASHING_LOSS)
    crash = (
        '[[block]]\nname = "crash"\narchitectures = ["mlp.test"]\nlosses = ["crash"]\ndata = ["ring8"]\nseeds = [0]\n'
    )
    suite = write_suite(tmp_path, SUITE.replace('losses = ["minimax", "h*"]', 'losses = ["non-saturating"]') + crash)
    out = tmp_path / "results"
    result = run_cli(
        "bench",
        str(suite),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--jobs",
        "2",
        "--no-report",
        env={"PYTHONPATH": str(site)},
    )
    assert result.returncode == 1, result.stderr
    latest = {r["cell"]: r for r in read_jsonl(out / "results.jsonl")}
    assert len(latest) == 4  # every cell has its record, none twice
    died = [cell for cell, r in latest.items() if r.get("error") == "WorkerDied"]
    assert died == ["crash--mlp.test--crash--ring8--seed0"]
    assert all(latest[f"toy--mlp.test--non-saturating--ring8--seed{s}"]["status"] == "ok" for s in range(2))
    assert "worker process died" in latest["crash--mlp.test--crash--ring8--seed0"]["reason"]
    assert "Traceback" not in result.stderr


def test_the_report_names_each_machine_its_cells_trained_on(tmp_path):
    """A results folder resumed or extended on another machine: the header names each machine,
    from the runs' own config.json, not only the one that started the folder."""
    from ganzoo.report.write import _hardware

    example = next((REPO / "docs" / "results" / "reproduce-2d-long" / "runs").glob("*/config.json"))
    records = []
    for name, processor in (("a", "AMD EPYC"), ("b", "Intel Xeon"), ("c", "Intel Xeon")):
        config = json.loads(example.read_text())
        config["environment"]["processor"] = processor
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "config.json").write_text(json.dumps(config))
        records.append({"run_dir": f"runs/{name}"})
    meta = {"environment": {"processor": "AMD EPYC", "device": "cpu"}, "cpu_count": 2}
    assert _hardware(meta, records, tmp_path).startswith("AMD EPYC for 1 cell(s), Intel Xeon for 2 cell(s)")
    assert _hardware(meta, records[1:], tmp_path) == "Intel Xeon (2 CPU cores)"
    assert _hardware(meta, [{"run_dir": "runs/gone"}], tmp_path) == "AMD EPYC (2 CPU cores)"


# Two working blocks: toy (minimax on ring8, 2 seeds), then other (least squares on grid25).
TWO_BLOCKS = (
    SUITE.replace('losses = ["minimax", "h*"]', 'losses = ["minimax"]')
    .replace('name = "broken"', 'name = "other"')
    .replace("loss_options = { no_such_option = 1 }\n", "")
)


@pytest.mark.slow
def test_a_run_first_block_starts_before_the_others_and_the_report_keeps_the_suite_order(tmp_path):
    from ganzoo.bench.run import run_suite

    text = TWO_BLOCKS.replace('name = "other"', 'name = "other"\nrun_first = true')
    out = tmp_path / "results"
    said = []
    records = run_suite(
        load_suite(str(write_suite(tmp_path, text))), out, overrides={"device": "cpu"}, echo=said.append
    )
    assert said[0].endswith("; other first (run_first)")
    assert [r["cell"] for r in records] == [
        "other--mlp.test--least-squares--grid25--seed0",
        *(f"toy--mlp.test--minimax--ring8--seed{s}" for s in (0, 1)),
    ]
    run_cli("report", str(out))
    report = (out / "report.md").read_text()
    assert report.index("Data set: ring8") < report.index("Data set: grid25")
    with pytest.raises(ganzoo.GanzooError, match=r"block 2: 'run_first' must be true or false .*not 'yes'"):
        load_suite(str(write_suite(tmp_path, text.replace("run_first = true", 'run_first = "yes"'))))
    with pytest.raises(ganzoo.GanzooError, match=r"block 2: 'seed_batched' must be true or false .*not 'false'"):
        load_suite(str(write_suite(tmp_path, text.replace("run_first = true", 'seed_batched = "false"'))))


@pytest.mark.slow
def test_data_runs_one_data_set_of_a_suite_and_refuses_one_it_does_not_train(tmp_path):
    """`--data`: the cells of the chosen data sets alone, from every block (and with
    --blocks, only those in both); a name the suite does not train is refused with its list."""
    from ganzoo.bench.run import run_suite

    suite, out, said = load_suite(str(write_suite(tmp_path, TWO_BLOCKS))), tmp_path / "results", []
    first = run_suite(suite, out, overrides={"device": "cpu"}, echo=said.append, data=["grid*"], jobs=2)
    assert [r["cell"] for r in first] == ["other--mlp.test--least-squares--grid25--seed0"]
    assert "1 to run" in said[0] and "2 cells of other data sets left for later" in said[0]
    # 2 jobs, but one cell to run: it gets the idle worker's threads too
    config = json.loads((out / "runs" / first[0]["cell"] / "config.json").read_text())
    assert config["environment"]["torch_threads"] == max(1, (os.cpu_count() or 1) // 2) * 2
    assert run_suite(suite, out, echo=lambda line: None, blocks=["other"], data=["ring8"]) == []
    with pytest.raises(
        ganzoo.GanzooError,
        match=r"trains no data set 'rings'\. Did you mean: ring8\? "
        r"Its data sets: ring8, grid25",
    ):
        run_suite(suite, out, data=["rings"])
    result = run_cli("bench", str(write_suite(tmp_path, TWO_BLOCKS)), "--out", str(out), "--data", "mnist")
    assert result.returncode != 0 and "trains no data set 'mnist'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_blocks_run_part_of_a_suite_and_a_later_run_adds_the_rest(tmp_path):
    """`--blocks`: a long suite in parts, into one folder. Only the chosen blocks train; the
    report calls itself partial; the next run without --blocks trains just what is missing,
    and the report then lists the blocks in the suite's order, not in the order they ran."""
    from ganzoo.bench.run import run_suite

    suite, out, said = load_suite(str(write_suite(tmp_path, TWO_BLOCKS))), tmp_path / "results", []
    first = run_suite(suite, out, overrides={"device": "cpu"}, echo=said.append, blocks=["oth*"])
    assert [r["cell"] for r in first] == ["other--mlp.test--least-squares--grid25--seed0"]
    assert "1 to run" in said[0] and "2 cells of other blocks left for later" in said[0]
    run_cli("report", str(out))
    assert "1 of the suite's 3 cells finished, 2 not run yet" in (out / "report.md").read_text()
    rest = run_suite(suite, out, overrides={"device": "cpu"}, echo=lambda line: None)
    assert sorted(r["cell"] for r in rest) == [f"toy--mlp.test--minimax--ring8--seed{s}" for s in (0, 1)]
    run_cli("report", str(out))  # in the suite's order (toy's ring8, then other's grid25), not the runs'
    report = (out / "report.md").read_text()
    assert "3 of 3 cells finished" in report and report.index("Data set: ring8") < report.index("Data set: grid25")
    with pytest.raises(ganzoo.GanzooError, match=r"no block 'toys'\. Did you mean: toy\? Its blocks: toy, other"):
        run_suite(suite, out, blocks=["toys"])
    result = run_cli("bench", str(write_suite(tmp_path, TWO_BLOCKS)), "--out", str(out), "--blocks", "gan")
    assert result.returncode != 0 and "has no block 'gan'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "extra, message",
    [
        ("tuning_seeds = [0, 7]\n", r"seeds \[0\] chose this configuration"),
        ("tuning_seeds = []\n", "non-empty list of whole numbers"),
        (
            "[block.search]\ntrials = 2\nbest_seeds = [0, 1]\n[block.search.space]\ng_lr = 'loguniform(1e-4, 1e-3)'\n",
            r"best_seeds \[0\] also train its trials",
        ),
    ],
)
def test_a_tuned_configuration_is_never_reported_on_the_seeds_that_chose_it(tmp_path, extra, message):
    path = tmp_path / "s.toml"
    path.write_text(
        "[[block]]\nname = 'best'\narchitectures = ['mlp.test']\nlosses = ['minimax']\n"
        "data = ['ring8']\nseeds = [0]\n" + extra
    )
    with pytest.raises(ganzoo.GanzooError, match=message):
        load_suite(str(path))


def test_the_report_names_the_seeds_that_chose_a_tuned_configuration(tmp_path):
    from ganzoo.report.write import _held_out

    suite = (
        "[[block]]\nname = 'best'\nseeds = [5, 6, 7]\ntuning_seeds = [0, 1, 2, 3, 4]\n"
        "[[block]]\nname = 'plain'\nseeds = [0]\n"
    )
    page = ganzoo.report.page.Page("t")
    _held_out(page, {"suite": {"text": suite}}, {("mlp", "minimax", ""): [{"block": "best"}, {"block": "plain"}]})
    [(_, text)] = page.blocks
    assert "`best` was chosen on runs with seeds 0–4 and is reported on seeds 5–7 only" in text
    assert "plain" not in text


# Blocks whose configuration changed after their committed cells ran (the report leaves those
# cells out until they run again): reproduce-2d's and reproduce-2d-long's pacgan blocks gained
# bn_groups, Stacked MNIST's evaluation options changed.
RETIRED_BLOCKS = {
    "reproduce-2d": {"pacgan2", "pacgan3", "pacgan4"},
    "reproduce-2d-long": {"pacgan2"},
    "reproduce-stacked-mnist": None,
}  # None: every block


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (REPO / "docs" / "results").glob("*/bench.json")))
def test_committed_cells_keep_their_configuration_hash(folder):
    """A refactoring must not change any cell's `protocol_sha`: a changed hash retires a
    committed result (and would make a running study start its cells over)."""
    from ganzoo.runs.resultsdir import completed, read_bench_meta

    results = REPO / "docs" / "results" / folder
    meta = read_bench_meta(results)
    done = completed(results)
    cells = expand(load_suite(meta["suite"]["name"]), meta.get("overrides", {}), done)
    retired = RETIRED_BLOCKS.get(meta["suite"]["name"], set())
    checked = [c for c in cells if c.id in done and (retired is not None and c.block not in retired)]
    assert all(done[c.id]["protocol_sha"] == c.protocol_sha for c in checked), folder
    assert checked or retired is None


def test_a_setting_given_as_a_block_key_and_in_train_is_refused(tmp_path):
    """Before, `train = {...}` silently won over the block's own key; now every TrainConfig
    field may be a block key, and one given twice is an error naming it."""
    suite = tmp_path / "twice.toml"
    suite.write_text(
        textwrap.dedent("""
        name = "twice"
        [[block]]
        architectures = ["mlp.test"]
        losses = ["non-saturating"]
        data = ["ring8"]
        seeds = [0]
        steps = 5
        update = "simultaneous"
        train = { steps = 10 }
    """)
    )
    with pytest.raises(ganzoo.GanzooError, match="steps given both as a block key and inside train"):
        load_suite(str(suite))
    suite.write_text(suite.read_text().replace("train = { steps = 10 }", "train = { g_lr = 1e-3 }"))
    [cell] = expand(load_suite(str(suite)), {})
    assert cell.train == {"steps": 5, "update": "simultaneous", "g_lr": 1e-3}


def test_rows_group_records_written_before_and_after_a_setting_existed():
    """A record whose setting holds `recipe: None` (written after recipes came) and one without
    the key (before) are one experiment: one row."""
    from ganzoo.report.results import grouped

    old = {"data": "ring8", "arch": "mlp", "loss": "minimax", "setting": {"betas": [0.5, 0.999]}}
    new = {**old, "setting": {"betas": [0.5, 0.999], "recipe": None, "schedules": {}}}
    assert len(grouped([old, new])["ring8"]) == 1
