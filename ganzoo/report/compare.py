"""`ganzoo compare`: two results folders, metric by metric, with a Welch t-test over seeds
saying whether each difference is within the noise."""

from __future__ import annotations

from ..errors import GanzooError
from .results import fmt_stats, grouped, load, row_names, stats, table_columns, value


def compare(dir_a, dir_b, alpha: float = 0.05) -> str:
    """Markdown: each shared (data, architecture, loss) and metric, A against B, with a Welch
    t-test over seeds saying whether the difference is within noise."""
    from scipy import stats as sstats

    _, records_a = load(dir_a)
    _, records_b = load(dir_b)
    ga, gb = grouped(records_a), grouped(records_b)
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
                    if p >= alpha:
                        verdict = "within noise"
                    else:
                        direction = "better" if diff * better > 0 else "worse" if diff * better < 0 else "differs"
                        verdict = f"B {direction}" if better else "differs"
                rows.append([names[key], label, fmt_stats(sa, decimals, 0) + f" ({sa['n']})",
                             fmt_stats(sb, decimals, 0) + f" ({sb['n']})", f"{diff:+,.{decimals}f}",
                             "–" if p is None else f"{p:.3g}", verdict])
        if rows:
            shared += 1
            lines += [f"## {data}", "", "| configuration | metric | A | B | Δ | p | verdict |",
                      "|---|---|---|---|---|---|---|"]
            lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
            lines.append("")
    if not shared:
        raise GanzooError(f"{dir_a} and {dir_b} share no (data set, architecture, loss) with results; "
                          "nothing to compare.")
    return "\n".join(lines)
