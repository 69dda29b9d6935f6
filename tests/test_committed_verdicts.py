"""The committed reports' verdicts, checked as a skeptical reviewer would, from the files
alone and without the verdict engine: every "agrees" is an equivalence that scipy confirms
from results.jsonl within the papers file's margin, and no row whose curve is not at its
plateau carries a verdict."""

import json
import math
from pathlib import Path

import pytest
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
REPORTS = sorted(p for p in (REPO / "docs" / "results").glob("*/report.md") if "Beside the papers" in p.read_text())
LABEL_KEYS = {
    "modes": "modes_covered",
    "HQ %": "high_quality_pct",
    "reverse KL": "reverse_kl",
    "modes /1000": "modes_covered",
    "KL(modes‖U)": "kl_uniform",
}


def _paper_rows(report: Path) -> list[dict]:
    """The rows of every 'Beside the papers' table, as dicts by column name."""
    lines = report.read_text().splitlines()
    rows = []
    for i, line in enumerate(lines):
        if line.startswith("| configuration | metric | ganzoo:"):
            header = [c.strip() for c in line.strip("|").split(" | ")]
            for row in lines[i + 2 :]:
                if not row.startswith("| "):
                    break
                rows.append(dict(zip(header, [c.strip() for c in row.strip().strip("|").split(" | ")])))
    return rows


def test_there_are_committed_reports_with_verdicts():
    assert {p.parent.name for p in REPORTS} >= {"reproduce-2d", "reproduce-2d-long", "reproduce-stacked-mnist"}


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.parent.name)
def test_no_verdict_is_given_for_a_curve_that_is_not_at_its_plateau(report):
    rows = _paper_rows(report)
    assert rows
    for row in rows:
        if row["curve"] != "at plateau":
            assert row["verdict"].startswith(("not comparable", "no ganzoo value")), row
        verdict = row["verdict"]
        if verdict.startswith(("agrees", "ganzoo higher", "ganzoo lower", "inconclusive")):
            assert row["curve"] == "at plateau", row


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.parent.name)
def test_every_agreement_is_an_equivalence_scipy_confirms(report):
    folder = report.parent
    latest = {}
    for line in (folder / "results.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            latest[record["cell"]] = record
    meta = json.loads((folder / "bench.json").read_text())
    current = meta.get("cell_protocols", {})
    for row in _paper_rows(report):
        if not row["verdict"].startswith("agrees"):
            continue
        block = row["configuration"].split(":")[0]
        key = LABEL_KEYS[row["metric"]]
        margin = float(row["margin"].lstrip("±"))
        ours = [
            r["final"][m][key]
            for r in latest.values()
            for m in r.get("final", {})
            if r["block"] == block
            and r["status"] == "ok"
            and key in r["final"][m]
            and (r["cell"] not in current or r.get("protocol_sha") == current[r["cell"]])
            and row["configuration"].split(": ", 1)[1].startswith(r["arch"])
        ]
        paper_mean, paper_se, paper_n = _paper(row["paper: mean ± se (n)"])
        n = len(ours)
        mean, sd = sum(ours) / n, stats.tstd(ours)
        se2 = sd**2 / n
        var = se2 + paper_se**2
        df = var**2 / (se2**2 / (n - 1) + (paper_se**4 / (paper_n - 1) if paper_n else 0))
        half = stats.t.ppf(0.95, df) * math.sqrt(var)  # the 90% interval of the difference
        diff = mean - paper_mean
        assert -margin < diff - half and diff + half < margin, (report, row, ours)


def _paper(text: str) -> tuple[float, float, int | None]:
    """'6.3 ± 0.5 (n=10)' -> (6.3, 0.5, 10)."""
    mean, _, rest = text.partition(" ± ")
    se, _, n = rest.partition(" (n=")
    return float(mean.replace(",", "")), float(se.replace(",", "")), int(n.rstrip(")")) if n else None
