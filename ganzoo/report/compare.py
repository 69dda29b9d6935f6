"""`ganzoo compare`: two results folders, metric by metric, with a Welch t-test over seeds
saying whether each difference is within the noise. For two studies, the re-runs of each
search's best trial are matched by search (their drawn settings differ by design), and
the searches' score distributions over trials are compared with a Mann-Whitney U test."""

from __future__ import annotations

import statistics

from ..errors import GanzooError
from .results import fmt_stats, grouped, load, row_names, stats, table_columns, value
from .study import score_column, trial_records, trials_by_group


def _comparable(records: list[dict]) -> list[dict]:
    """Plain cells as they are; a search's best re-run named by its search, not its draws; no trials."""
    return [{**r, "setting": {"best trial of search": r["best_of"]["block"]}} if "best_of" in r else r
            for r in records if "trial" not in r]


def compare(dir_a, dir_b, alpha: float = 0.05) -> str:
    """Markdown: each shared (data, architecture, loss) and metric, A against B, with a Welch
    t-test over seeds saying whether the difference is within noise."""
    from scipy import stats as sstats

    _, records_a = load(dir_a)
    _, records_b = load(dir_b)
    ga, gb = grouped(_comparable(records_a)), grouped(_comparable(records_b))
    columns = table_columns()  # from the metric registry: built once, not per row
    lines = [f"# ganzoo compare: A = {dir_a}, B = {dir_b}", "",
             f"Mean ± std over seeds (n); Δ = B − A; Welch's t-test, a difference is called real when "
             f"p < {alpha}. With fewer than 2 seeds on a side no test is possible.", ""]
    shared = 0
    for data in ga:
        if data not in gb:
            continue
        rows = []
        names = row_names({k: None for k in ga[data] if k in gb[data]})
        for key in ga[data]:
            if key not in gb[data]:
                continue
            a_ok = [r for r in ga[data][key] if r["status"] == "ok"]
            b_ok = [r for r in gb[data][key] if r["status"] == "ok"]
            for metric, k, label, decimals, better in columns:
                sa, sb = stats([value(r, metric, k) for r in a_ok]), stats([value(r, metric, k) for r in b_ok])
                if sa["mean"] is None or sb["mean"] is None:
                    continue
                diff = sb["mean"] - sa["mean"]
                if sa["n"] < 2 or sb["n"] < 2:
                    verdict, p = "too few seeds", None
                elif (sa["std"] or 0) == 0 and (sb["std"] or 0) == 0:
                    verdict, p = ("identical" if diff == 0 else "differs (no spread)"), None
                else:
                    p = float(sstats.ttest_ind_from_stats(sa["mean"], sa["std"], sa["n"], sb["mean"], sb["std"],
                                                          sb["n"], equal_var=False).pvalue)
                    verdict = _verdict(p, alpha, diff, better)
                rows.append([names[key], label, fmt_stats(sa, decimals, 0) + f" ({sa['n']})",
                             fmt_stats(sb, decimals, 0) + f" ({sb['n']})", f"{diff:+,.{decimals}f}",
                             "–" if p is None else f"{p:.3g}", verdict])
        if rows:
            shared += 1
            lines += _section(f"## {data}", None, "configuration", "Δ", rows)
    searches = _searches(records_a, records_b, alpha)
    lines += searches
    if not shared and not searches:
        raise GanzooError(f"{dir_a} and {dir_b} share no (data set, architecture, loss) with results; "
                          "nothing to compare.")
    return "\n".join(lines)


def _searches(records_a: list[dict], records_b: list[dict], alpha: float) -> list[str]:
    """Per data set and search (block, architecture, loss) in both: the scores of A's trials
    against B's, by a two-sided Mann-Whitney U test (no assumption of normal scores)."""
    from scipy import stats as sstats

    lines = []
    trials_a, trials_b = trial_records(records_a), trial_records(records_b)
    for data in dict.fromkeys(r["data"] for r in trials_a):
        in_a = [r for r in trials_a if r["data"] == data]
        in_b = [r for r in trials_b if r["data"] == data]
        column = score_column(in_a + in_b)
        if column is None:
            continue
        metric, key, label, decimals, better = column
        ga, gb = trials_by_group(in_a, metric, key), trials_by_group(in_b, metric, key)
        rows = []
        for group in ga:
            if group not in gb:
                continue
            sa = [t["score"] for t in ga[group] if t["score"] is not None]
            sb = [t["score"] for t in gb[group] if t["score"] is not None]
            if len(sa) < 2 or len(sb) < 2:
                continue
            p = float(sstats.mannwhitneyu(sa, sb, alternative="two-sided").pvalue)
            median_a, median_b = statistics.median(sa), statistics.median(sb)
            diff = median_b - median_a
            rows.append([" / ".join(group), label, f"{median_a:,.{decimals}f} ({len(sa)})",
                         f"{median_b:,.{decimals}f} ({len(sb)})", f"{diff:+,.{decimals}f}", f"{p:.3g}",
                         _verdict(p, alpha, diff, better)])
        if rows:
            lines += _section(f"## {data}: searches", "Median score over trials (number of trials); Mann-Whitney "
                              f"U test, a difference is called real when p < {alpha}.",
                              "search (block / architecture / loss)", "Δ median", rows)
    return lines


def _verdict(p: float, alpha: float, diff: float, better: int) -> str:
    """Within noise, or which way B differs from A (better: +1 higher is better, -1 lower, 0 neither)."""
    if p >= alpha:
        return "within noise"
    if not better:
        return "differs"
    return "B better" if diff * better > 0 else "B worse" if diff * better < 0 else "B differs"


def _section(heading: str, intro: str | None, first: str, delta: str, rows: list[list]) -> list[str]:
    """A heading, an optional sentence and the A-against-B table, as Markdown lines."""
    return ([heading, ""] + ([intro, ""] if intro else []) + [f"| {first} | metric | A | B | {delta} | p | verdict |",
            "|---|---|---|---|---|---|---|"] + ["| " + " | ".join(map(str, row)) + " |" for row in rows] + [""])

