"""`ganzoo compare`: two results folders, metric by metric, through the verdict engine
(verdicts.py): Welch's test says whether B differs from A, an equivalence test within a
margin the user declares (`--margin KEY=VALUE`) whether they agree, and every test of the
output is one family for Holm's correction. For two studies, the re-runs of each search's
best trial are matched by search (their drawn settings differ by design), and the searches'
score distributions over trials are compared with a Mann-Whitney U test, Holm-corrected
as a family of their own."""

from __future__ import annotations

import statistics
from typing import cast

from ganzoo.errors import GanzooError
from ganzoo.report.comparable import last_protocol, protocol_differences
from ganzoo.report.convergence import parse_margin
from ganzoo.report.judged import metric_conventions
from ganzoo.report.results import fmt_stats, grouped, load, row_names, stats, table_columns, value
from ganzoo.report.study import score_column, trial_records, trials_by_group
from ganzoo.report.verdicts import Comparison, estimate, holm, judge
from ganzoo.runs.resultsdir import is_external


def _comparable(records: list[dict]) -> list[dict]:
    """Plain cells as they are; a search's best re-run named by its search, not its draws; no trials."""
    return [
        {**r, "setting": {"best trial of search": r["best_of"]["block"]}} if "best_of" in r else r
        for r in records
        if "trial" not in r
    ]


def compare(dir_a, dir_b, alpha: float = 0.05, margins: dict | None = None, across: tuple = ()) -> str:
    """Markdown: each shared (data, architecture, loss) and metric, A against B. `margins`:
    result key -> the difference within which A and B count as equivalent (a number, or
    "5%" of A's mean); without one, "agrees" is never said, only "no difference shown".
    `across`: settings in which the two sides may differ (e.g. precision), the question asked."""
    margins = margins or {}
    _, records_a = load(dir_a)
    _, records_b = load(dir_b)
    ga = grouped(_without(_comparable(records_a), across))
    gb = grouped(_without(_comparable(records_b), across))
    columns = table_columns()  # from the metric registry: built once, not per row
    conventions = metric_conventions()
    pending = []  # (data, row cells, comparison): judged together, one Holm family
    ruled_out = []  # (data, row cells, why): protocols that measured different quantities, not tested
    for data in ga:
        if data not in gb:
            continue
        for key_a, key_b in _pairs(ga[data], gb[data]):
            a_ok = [r for r in ga[data][key_a] if r["status"] == "ok"]
            b_ok = [r for r in gb[data][key_b] if r["status"] == "ok"]
            name = row_names({key_a: None})[key_a] + (
                "" if key_a == key_b else f" vs {row_names({key_b: None})[key_b]}"
            )
            for metric, k, label, decimals, better in columns:
                resolution = conventions.get((metric, k), (None, None))[0]
                ea = estimate([value(r, metric, k) for r in a_ok], resolution)
                eb = estimate([value(r, metric, k) for r in b_ok], resolution)
                if ea is None or eb is None:
                    continue
                sa, sb = stats([value(r, metric, k) for r in a_ok]), stats([value(r, metric, k) for r in b_ok])
                margin = parse_margin(margins.get(k), level=ea.mean)
                cells = [
                    name,
                    label,
                    fmt_stats(sa, decimals, 0) + f" ({sa['n']})",
                    fmt_stats(sb, decimals, 0) + f" ({sb['n']})",
                    f"{eb.mean - ea.mean:+,.{decimals}f}",
                    "–" if margin is None else f"±{margin:g}",
                ]
                differ = protocol_differences(
                    last_protocol(dir_a, a_ok[0], metric), last_protocol(dir_b, b_ok[0], metric)
                )
                if differ:
                    ruled_out.append((data, cells, "not comparable: " + "; ".join(differ[:3])))
                    continue
                pending.append((data, cells, Comparison(ea, eb, margin, better)))
    verdicts = judge([c for _, _, c in pending], alpha, subject="B", both_sides=True)
    family = sum(v.p_differs is not None for v in verdicts)
    lines = [
        f"# ganzoo compare: A = {dir_a}, B = {dir_b}",
        "",
        f"Mean ± std over seeds (n); Δ = B − A. *B higher/lower*: Welch's t-test; *agrees*: an equivalence "
        f"test (two one-sided Welch tests) within the margin shown (`--margin KEY=VALUE`; without one, "
        f"agreement is never claimed); both Holm-corrected over the {family} comparisons below (α = {alpha}); "
        "p is the corrected p of the difference test. *Inconclusive*: neither shown, with the seeds per side "
        "that would likely settle it. *Not comparable*: the two sides' metric protocols differ (sample counts, "
        "real images, extractor weights...): no test. Standard deviations of tied seeds are floored at the metric's "
        'resolution / √12 (docs/benchmarks.md, "How a verdict is reached").',
        "",
    ]
    shared = 0
    for data in dict.fromkeys(d for d, _, _ in pending + ruled_out):
        rows = [
            cells + ["–" if v.p_differs is None else f"{v.p_differs:.3g}", v.text]
            for (d, cells, _), v in zip(pending, verdicts)
            if d == data
        ] + [cells + ["–", why] for d, cells, why in ruled_out if d == data]
        shared += 1
        lines += _section(f"## {data}", None, "configuration", "Δ", rows, margin=True)
    searches = _searches(records_a, records_b, alpha)
    lines += searches
    if not shared and not searches:
        raise GanzooError(
            f"{dir_a} and {dir_b} share no (data set, architecture, loss) with results; nothing to compare."
        )
    return "\n".join(lines)


def _without(records: list[dict], settings: tuple) -> list[dict]:
    """Records whose rows pair across `settings`: those left out of each record's setting."""
    if not settings:
        return records
    return [{**r, "setting": {k: v for k, v in (r.get("setting") or {}).items() if k not in settings}} for r in records]


def _pairs(groups_a: dict, groups_b: dict) -> list[tuple]:
    """The rows to compare on one data set: the same (architecture, loss, setting) on both sides;
    and an external entry (samples made elsewhere) against every row of the other side, since
    its label names a model that ganzoo's rows cannot share."""
    external_a = [k for k, rows in groups_a.items() if all(is_external(r) for r in rows)]
    external_b = [k for k, rows in groups_b.items() if all(is_external(r) for r in rows)]
    pairs = [(k, k) for k in groups_a if k in groups_b]
    pairs += [(k, e) for e in external_b for k in groups_a]
    pairs += [(e, k) for e in external_a for k in groups_b if k not in external_b]
    return list(dict.fromkeys(pairs))


def _searches(records_a: list[dict], records_b: list[dict], alpha: float) -> list[str]:
    """Per data set and search (block, architecture, loss) in both: the scores of A's trials
    against B's, by a two-sided Mann-Whitney U test (no assumption of normal scores)."""
    from scipy import stats as sstats

    found = []
    trials_a, trials_b = trial_records(records_a), trial_records(records_b)
    for data in dict.fromkeys(r["data"] for r in trials_a):
        in_a = [r for r in trials_a if r["data"] == data]
        in_b = [r for r in trials_b if r["data"] == data]
        column = score_column(in_a + in_b)
        if column is None:
            continue
        metric, key, label, decimals, better = column
        ga, gb = trials_by_group(in_a, metric, key), trials_by_group(in_b, metric, key)
        for group in ga:
            if group not in gb:
                continue
            sa = [t["score"] for t in ga[group] if t["score"] is not None]
            sb = [t["score"] for t in gb[group] if t["score"] is not None]
            if len(sa) < 2 or len(sb) < 2:
                continue
            p = float(sstats.mannwhitneyu(sa, sb, alternative="two-sided").pvalue)
            median_a, median_b = statistics.median(sa), statistics.median(sb)
            found.append(
                (
                    data,
                    [
                        " / ".join(group),
                        label,
                        f"{median_a:,.{decimals}f} ({len(sa)})",
                        f"{median_b:,.{decimals}f} ({len(sb)})",
                        f"{median_b - median_a:+,.{decimals}f}",
                    ],
                    p,
                    median_b - median_a,
                    better,
                )
            )
    # holm gives None only for a None p-value, and every search found has one
    adjusted = cast("list[float]", holm([p for _, _, p, _, _ in found]))
    lines = []
    for data in dict.fromkeys(d for d, *_ in found):
        rows = [
            cells + [f"{p:.3g}", _verdict(p, alpha, diff, better)]
            for (d, cells, _, diff, better), p in zip(found, adjusted)
            if d == data
        ]
        lines += _section(
            f"## {data}: searches",
            "Median score over trials (number of trials); Mann-Whitney U "
            f"test, Holm-corrected over the {len(found)} searches compared (p shown corrected); a "
            f"difference is called real when p < {alpha}.",
            "search (block / architecture / loss)",
            "Δ median",
            rows,
        )
    return lines


def _verdict(p: float, alpha: float, diff: float, better: int) -> str:
    """No difference shown, or which way B differs from A (better: +1 higher is better, -1 lower, 0 neither)."""
    if p >= alpha:
        return "no difference shown"
    if not better:
        return "differs"
    return "B better" if diff * better > 0 else "B worse" if diff * better < 0 else "B differs"


def _section(
    heading: str, intro: str | None, first: str, delta: str, rows: list[list], margin: bool = False
) -> list[str]:
    """A heading, an optional sentence and the A-against-B table, as Markdown lines."""
    header = [first, "metric", "A", "B", delta] + (["margin"] if margin else []) + ["p", "verdict"]
    return (
        [heading, ""]
        + ([intro, ""] if intro else [])
        + ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        + ["| " + " | ".join(map(str, row)) + " |" for row in rows]
        + [""]
    )
