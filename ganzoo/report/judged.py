"""The report's judgements: each row's convergence, and each row beside a paper's number,
through the convergence rule (convergence.py), the protocol guard (protocol_guard.py) and
the verdict engine (verdicts.py). Every comparison of a report is one family for Holm's
correction."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ganzoo.evaluation.plan import registered_metrics
from ganzoo.report.convergence import AT_PLATEAU, STILL_MOVING, Plateau, cell_plateau, parse_margin, row_plateau
from ganzoo.report.page import Page
from ganzoo.report.protocol_guard import MAX_EXTRAPOLATION, FieldDifference, cell_protocol, differences
from ganzoo.report.results import metric_series, row_names, table_columns, value
from ganzoo.report.verdicts import Comparison, Estimate, Verdict, estimate, judge, published

ENGINE_DOC = 'docs/benchmarks.md, "How a verdict is reached"'


def metric_conventions() -> dict[tuple[str, str], tuple[float | None, object]]:
    """(metric, key) -> (resolution, default margin), as each registered metric declares them
    (the resolution defaults to the column's last shown decimal)."""

    out: dict[tuple[str, str], tuple[float | None, object]] = {}
    for name, metric in registered_metrics().items():
        for key, _label, decimals, _better in metric.columns:
            out[name, key] = (metric.resolutions.get(key, 10.0**-decimals), metric.margins.get(key))
    return out


def curves_of(records: list[dict], results_dir: Path, metric: str, key: str) -> list[tuple[list[int], list[float]]]:
    out = []
    for r in records:
        series = metric_series(results_dir / r["run_dir"], metric, key)
        if series:
            out.append(([s for s, _, _ in series], [v for _, _, v in series]))
    return out


@dataclass
class RowConvergence:
    row: Plateau
    cells: list[Plateau]

    def still_moving(self) -> int:
        return sum(c.status == STILL_MOVING for c in self.cells)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for c in self.cells:
            counts[c.status] = counts.get(c.status, 0) + 1
        return ", ".join(f"{n} {status}" for status, n in counts.items())


def convergence(
    records: list[dict], results_dir: Path, metric: str, key: str, margin: float, resolution: float | None
) -> RowConvergence | None:
    curves = curves_of(records, results_dir, metric, key)
    if not curves:
        return None
    return RowConvergence(
        row_plateau(curves, margin, resolution), [cell_plateau(s, v, margin, resolution) for s, v in curves]
    )


@dataclass
class PaperRow:
    """One published number beside one of ganzoo's rows."""

    data: str
    name: str  # the ganzoo row's name
    ref: dict
    key: str
    label: str
    decimals: int
    ours: Estimate | None
    paper: Estimate
    plateau: RowConvergence | None
    protocol: list[FieldDifference]
    comparison: Comparison | None = None
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)


def paper_rows(papers, plain: dict, results_dir: Path) -> list[PaperRow]:
    """Every (reference, ganzoo row, result key), with its convergence, protocol differences
    and verdict; the whole report one family."""
    conventions = metric_conventions()
    spec = {(m, k): (label, decimals, better) for m, k, label, decimals, better in table_columns()}
    rows: list[PaperRow] = []
    for ref in papers.references:
        groups = plain.get(ref["data"], {})
        names = row_names(groups) if groups else {}
        protocol = papers.protocols[ref["protocol"]]
        for key_, rs in groups.items():
            good = [r for r in rs if r["status"] == "ok" and r["block"] == ref["block"]]
            if not good:
                continue
            found: dict[str, FieldDifference] = {}
            for r in good:  # every seed's record: a guard that read one seed could miss another's difference
                for d in differences(
                    protocol,
                    ref.get("protocol_overrides", {}),
                    cell_protocol(results_dir / r["run_dir"], ref["metric"]),
                ):
                    found.setdefault(d.field, d)
            for key, numbers in ref["values"].items():
                label, decimals, better = spec.get((ref["metric"], key), (key, 3, 0))
                resolution, default_margin = conventions.get((ref["metric"], key), (None, None))
                paper = published(numbers[0], numbers[1] if len(numbers) > 1 else None, papers.runs(ref))
                margin = parse_margin(papers.margin(ref["data"], key), level=paper.mean)
                ours = estimate([value(r, ref["metric"], key) for r in good], resolution)
                plateau_margin = (
                    margin if margin is not None else parse_margin(default_margin, level=ours.mean if ours else None)
                )
                plateau = (
                    convergence(good, results_dir, ref["metric"], key, plateau_margin, resolution)
                    if plateau_margin is not None
                    else None
                )
                row = PaperRow(
                    ref["data"], names[key_], ref, key, label, decimals, ours, paper, plateau, list(found.values())
                )
                row.reasons = _reasons(row)
                if ours is not None:
                    row.comparison = Comparison(paper, ours, margin, better, row.reasons)
                rows.append(row)
    judged = [(r, r.comparison) for r in rows if r.comparison is not None]
    for (row, _), verdict in zip(judged, judge([c for _, c in judged])):
        row.verdict = verdict
    return rows


def _reasons(row: PaperRow) -> list[str]:
    """Why a row cannot be set beside the paper's number, if it cannot."""
    reasons = [
        f"{d.field} differs ({d.paper} in the paper, {d.ours} here)" for d in row.protocol if d.effect == "decisive"
    ]
    reasons += [
        f"the paper's {d.field} is {d.times:,.0f} times the run's ({d.paper} against {d.ours}): a plateau "
        f"in the run is not carried over more than {MAX_EXTRAPOLATION:g} times its length"
        for d in row.protocol
        if d.too_short
    ]
    if row.plateau is None:
        reasons.append("no convergence margin declared for this metric, so no plateau can be shown")
    elif row.plateau.row.status != AT_PLATEAU:
        reasons.append(f"the curve is {row.plateau.row.describe(_decimals(row.decimals))}")
    elif row.plateau.still_moving():
        reasons.append(f"{row.plateau.still_moving()} of {len(row.plateau.cells)} seeds still moving")
    return reasons


def _decimals(decimals: int) -> int:
    return max(decimals, 1)


def render_paper_rows(page: Page, rows: list[PaperRow], family: int) -> None:
    if not rows:
        return
    page.para(
        "**Beside the papers.** ganzoo's mean ± standard error over seeds, its 95% t-interval (n − 1 "
        "degrees of freedom) and the paper's mean ± standard error over its runs. A verdict is given only "
        "where the row's curve is at its plateau and the protocols do not differ in a way that changes the "
        "quantity; *differs* is Welch's test, *agrees* an equivalence test within the margin shown, both "
        f"Holm-corrected over the report's {family} comparisons (α = 0.05); otherwise *inconclusive* "
        f"(with the seeds that would likely settle it) or *not comparable* (with why). The rules: {ENGINE_DOC}."
    )
    table = []
    for r in rows:
        d = _decimals(r.decimals)
        ours = "–" if r.ours is None else _estimate(r.ours, d, with_interval=True)
        paper = _estimate(r.paper, d, with_interval=False)
        diff = "–"
        if r.verdict is not None and r.verdict.difference is not None:
            low, high = r.verdict.difference.interval()
            diff = f"{r.verdict.difference.diff:+,.{d}f} [{low:+,.{d}f}, {high:+,.{d}f}]"
        curve = (
            "–"
            if r.plateau is None
            else r.plateau.row.status
            + (f" ({r.plateau.still_moving()} seed(s) still moving)" if r.plateau.still_moving() else "")
        )
        margin = r.comparison.margin if r.comparison is not None else None
        verdict = "no ganzoo value" if r.verdict is None else r.verdict.text
        table.append(
            [
                f"{r.ref['block']}: {r.name}",
                r.label,
                ours,
                paper,
                diff,
                "–" if margin is None else f"±{margin:g}",
                curve,
                r.ref["source"],
                verdict,
            ]
        )
    page.table(
        [
            "configuration",
            "metric",
            "ganzoo: mean ± se [95% CI] (n)",
            "paper: mean ± se (n)",
            "ganzoo − paper [95% CI]",
            "margin",
            "curve",
            "source",
            "verdict",
        ],
        table,
    )
    notes = []
    seen = set()
    for r in rows:
        key = (r.ref["source"], r.ref["block"])
        if key in seen:
            continue
        seen.add(key)
        listed = [d.describe() for d in r.protocol]
        if listed:
            notes.append(f"{r.ref['source']} beside `{r.ref['block']}`: " + "; ".join(listed) + ".")
    if notes:
        page.para("**Protocol differences** (each paper's protocol is in the suite's papers file):")
        page.bullets(notes)


def _estimate(e: Estimate, d: int, with_interval: bool) -> str:
    text = f"{e.mean:,.{d}f}"
    if e.se is not None:
        text += f" ± {e.se:,.{d}f}"
    interval = e.interval() if with_interval else None
    if interval is not None:
        text += f" [{interval[0]:,.{d}f}, {interval[1]:,.{d}f}]"
    if e.n:
        text += f" (n={e.n}{', tie floor' if e.floored else ''})"
    elif e.se is None:
        text += " (no error bar)"
    return text


def convergence_table(page: Page, groups, results_dir: Path, margins: dict) -> None:
    """The convergence rule for every row and every result with a margin (the papers file's for
    this data set, else the metric's own)."""
    conventions = metric_conventions()
    labels = {(m, k): label for m, k, label, _, _ in table_columns()}
    names = row_names(groups)
    table = []
    for (metric, key), (resolution, default_margin) in conventions.items():
        for group, rs in groups.items():
            good = [r for r in rs if r["status"] == "ok"]
            values = [value(r, metric, key) for r in good]
            if not any(v is not None for v in values):
                continue
            overall = estimate(values)
            assert overall is not None  # one value or more exists
            margin = parse_margin(margins.get(key, default_margin), level=overall.mean)
            if margin is None:
                continue
            conv = convergence(good, results_dir, metric, key, margin, resolution)
            if conv is None:
                continue
            table.append([names[group], labels.get((metric, key), key), conv.row.describe(3), conv.summary()])
    if table:
        page.para(
            "**Convergence.** For each row and result, the drift between the middle and the last third of "
            "training (mean of the seeds' drifts, 95% t-interval across seeds) against the margin: *at "
            "plateau* when the whole interval lies inside it, *still moving* when the interval excludes 0 and "
            "the drift exceeds it, *unsettled* otherwise; then each seed by the same rule on its own curve "
            f"({ENGINE_DOC}). The curves below shade the two thirds compared."
        )
        page.table(["configuration", "result", "row", "seeds"], table)
