"""The protocol guard and the papers file: a difference of protocol is found, named and
weighed before any verdict; a malformed papers file is refused with what to fix."""

import json
import shutil
from pathlib import Path

import pytest

import ganzoo
from ganzoo.report.papers import load_papers
from ganzoo.report.protocol_guard import cell_protocol, check_protocol_spec, differences

REPO = Path(__file__).resolve().parents[1]
OLD_RUN = REPO / "docs" / "results" / "reproduce-2d-long" / "runs" / "gan--pacgan-mlp--non-saturating--grid25--seed0"
QUICK_RUN = REPO / "docs" / "results" / "quick" / "runs" / "mnist--dcgan--non-saturating--mnist--seed0"


def test_fields_that_match_pass_and_each_kind_of_difference_is_named():
    recorded = {
        "train.steps": 100_000,
        "train.betas": [0.2, 0.999],
        "arch.name": "pacgan-mlp",
        "arch.pack": 2,
        "metric.num_samples": 2500,
    }
    spec = {
        "runs": 10,
        "notes": ["x"],
        "arch.name": "pacgan-mlp",
        "metric.num_samples": 2500,
        "train.steps": {"value": 400_000, "effect": "convergence", "why": "400 epochs"},
        "train.betas": {"any_of": [[0.2, 0.999], [0.8, 0.999]], "why": "Blocks' convention"},
        "arch.pack": 1,
        "train.precision": "fp32",
    }
    found = {d.field: d for d in differences(spec, {}, recorded)}
    assert set(found) == {"train.steps", "train.betas", "arch.pack", "train.precision"}
    assert (
        found["train.steps"].effect == "convergence" and "comparable only at plateau" in found["train.steps"].describe()
    )
    assert found["train.betas"].effect == "ambiguous" and "(0.2, 0.999) or (0.8, 0.999)" in found["train.betas"].paper
    assert found["arch.pack"].effect == "decisive" and "not comparable" in found["arch.pack"].describe()
    assert found["train.precision"].ours == "not recorded"  # a field the run does not record cannot pass
    # A row's overrides replace the protocol's fields; a value outside any_of is decisive.
    found = {d.field: d for d in differences(spec, {"arch.pack": 2}, {**recorded, "train.betas": [0.5, 0.999]})}
    assert "arch.pack" not in found and found["train.betas"].effect == "decisive"


def test_a_plateau_is_not_carried_over_a_schedule_many_times_the_runs():
    spec = {"train.steps": {"value": 400_000, "effect": "convergence", "why": "400 epochs"}}
    quarter = differences(spec, {}, {"train.steps": 100_000})[0]  # reproduce-2d-long: 4 times
    assert quarter.times == 4 and not quarter.too_short
    assert quarter.describe().endswith("(comparable only at plateau: 400 epochs)")
    short = differences(spec, {}, {"train.steps": 5_000})[0]  # reproduce-2d: 80 times
    assert short.times == 80 and short.too_short
    assert "not comparable: the paper's is 80 times the run's, more than 4" in short.describe()
    # only a convergence field, and only where both values are numbers, is weighed this way
    unstated = {"train.steps": {"value": "not stated here", "effect": "convergence"}}
    assert not differences(unstated, {}, {"train.steps": 5_000})[0].too_short
    assert not differences({"train.steps": 400_000}, {}, {"train.steps": 5_000})[0].too_short  # decisive anyway


def test_a_run_recorded_before_an_option_existed_reads_as_that_options_default():
    fields = cell_protocol(OLD_RUN, "mode-coverage")
    assert "bn_groups" not in json.loads((OLD_RUN / "config.json").read_text())["architecture"]
    assert fields["arch.bn_groups"] == 1 and fields["arch.pack"] == 1 and fields["train.precision"] == "fp32"
    assert fields["metric.num_samples"] == 2500 and fields["train.steps"] == 100_000


def test_an_fid_computed_another_way_is_not_set_beside_a_published_fid():
    recorded = cell_protocol(QUICK_RUN, "fid")
    spec = {
        "metric.extractor.name": {"value": "inception-v3-compat", "why": "the paper's FID uses InceptionV3"},
        "metric.real.num_samples": 50_000,
        "metric.generated.num_samples": 50_000,
        "metric.real.split": "train",
    }
    found = {d.field: d for d in differences(spec, {}, recorded)}
    assert set(found) == {"metric.extractor.name", "metric.real.num_samples", "metric.generated.num_samples"}
    assert all(d.effect == "decisive" for d in found.values())
    assert found["metric.extractor.name"].ours == "ganzoo-mnist-classifier"


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"steps": 3}, "not a dotted path"),
        ({"model.width": 3}, "not a dotted path"),
        ({"train.steps": {"value": 3, "any_of": [3]}}, "exactly one of value or any_of"),
        ({"train.steps": {"value": 3, "effect": "maybe"}}, "effect 'maybe'"),
    ],
)
def test_a_malformed_protocol_is_refused(spec, message):
    with pytest.raises(ganzoo.GanzooError, match=message):
        check_protocol_spec(spec, "papers.toml")


ENTRY = """
[[reference]]
block = "gan"
data = "ring8"
metric = "mode-coverage"
protocol = "p"
source = "s"
values = { modes_covered = [7.0, 0.1] }
"""


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[protocols.p]\nruns = 3\n" + ENTRY.replace('protocol = "p"', 'protocol = "q"'),
            "protocol 'q' is not defined",
        ),
        ("[protocols.p]\n[margins.ring8]\nmodes_covered = -1\n" + ENTRY, "give a positive number"),
        ("[protocols.p]\n[margins.ring8]\nmodes_covered = 'lots'\n" + ENTRY, "give a positive number"),
        ("[protocols.p]\n" + ENTRY.replace("[[reference]]", "[[reference]]\nseeds = 3"), "unknown key"),
        ("[protocols.p]\n" + ENTRY.replace('protocol = "p"\n', ""), "missing protocol"),
        ('extends = "nowhere.toml"\n[protocols.p]\n' + ENTRY, "not a file beside it"),
        ('extends = "papers.toml"\n[protocols.p]\n' + ENTRY, "itself extended by this file"),
        ("[protocol.p]\n" + ENTRY, "unknown table"),
    ],
)
def test_a_malformed_papers_file_is_refused_with_what_to_fix(tmp_path, text, message):
    path = tmp_path / "papers.toml"
    path.write_text(text)
    with pytest.raises(ganzoo.GanzooError, match=message):
        load_papers(path)


def test_a_papers_file_extends_another_and_adds_its_own_rows(tmp_path):
    (tmp_path / "base.toml").write_text("[protocols.p]\nruns = 10\n[margins.ring8]\nmodes_covered = 0.5\n" + ENTRY)
    (tmp_path / "more.toml").write_text('extends = "base.toml"\n' + ENTRY.replace('"gan"', '"gan2"'))
    papers = load_papers(tmp_path / "more.toml")
    assert [r["block"] for r in papers.references] == ["gan", "gan2"] and papers.inherited == 1
    assert papers.runs(papers.references[1]) == 10 and papers.margin("ring8", "modes_covered") == 0.5


def test_the_report_cli_names_a_broken_papers_file(tmp_path):
    from conftest import run_cli

    results = tmp_path / "results"
    shutil.copytree(
        REPO / "docs" / "results" / "reproduce-2d-long",
        results,
        ignore=shutil.ignore_patterns("figures", "report.*", "runs"),
    )
    (tmp_path / "p.toml").write_text("[protocols.p]\n" + ENTRY.replace('protocol = "p"', 'protocol = "x"'))
    result = run_cli("report", str(results), "--papers", str(tmp_path / "p.toml"))
    assert result.returncode == 2 and "protocol 'x' is not defined" in result.stderr
    assert "Traceback" not in result.stderr
