"""Search blocks in the report, as Lucic et al. 2018 showed their study: the distribution
of the final score over a random search (one box per loss), and the best score against
the number of trials, with bootstrap bands (their Figure 4: for a budget of k trials,
draw k of the trials with replacement, keep the best; mean and 95% interval over many
draws). A trial's score is the mean over its seeds."""

from __future__ import annotations

import random
import statistics

from ganzoo.report.page import Page
from ganzoo.report.results import TableColumn, table_columns, value
from ganzoo.util.plots import plt, save_figure

BOOTSTRAP_DRAWS = 2000


def trial_records(records: list[dict]) -> list[dict]:
    return [r for r in records if "trial" in r]


def scored_columns() -> list[TableColumn]:
    """The metrics' table columns with a direction (lower or higher is better)."""
    return [column for column in table_columns() if column.metric != "throughput" and column.better]


def score_column(records: list[dict]) -> tuple[str, str, str, int, int] | None:
    """The first scored column that these runs have."""
    return next((c for c in scored_columns() if any(value(r, c.metric, c.key) is not None for r in records)), None)


def trials_by_group(records: list[dict], metric: str, key: str) -> dict[tuple, list[dict]]:
    """(block, architecture, loss) -> one entry per trial: its index, draws, values over seeds
    and score (their mean; None when no seed has a value)."""
    out: dict[tuple, dict[int, dict]] = {}
    for r in records:
        trial = out.setdefault((r["block"], r["arch"], r["loss"]), {}).setdefault(
            r["trial"]["index"], {"index": r["trial"]["index"], "draws": r["trial"]["draws"], "values": []}
        )
        v = value(r, metric, key) if r["status"] == "ok" else None
        if v is not None:
            trial["values"].append(v)
    return {
        group: [
            {**t, "score": statistics.fmean(t["values"]) if t["values"] else None} for _, t in sorted(trials.items())
        ]
        for group, trials in out.items()
    }


def best_of(trials: list[dict], better: int) -> dict | None:
    """The trial with the best score (the lowest trial number on a tie); None when none has one."""
    scored = [t for t in trials if t["score"] is not None]
    return min(scored, key=lambda t: (-better * t["score"], t["index"])) if scored else None


def best_of_k(scores: list[float], better: int, seed: int = 0) -> list[tuple[int, float, float, float]]:
    """(k, mean, 2.5th and 97.5th percentile) of the best of k trials drawn with replacement."""
    rng = random.Random(seed)
    pick = min if better < 0 else max
    out = []
    for k in range(1, len(scores) + 1):
        bests = sorted(pick(rng.choices(scores, k=k)) for _ in range(BOOTSTRAP_DRAWS))
        out.append(
            (k, statistics.fmean(bests), bests[int(0.025 * BOOTSTRAP_DRAWS)], bests[int(0.975 * BOOTSTRAP_DRAWS) - 1])
        )
    return out


def study_section(page: Page, data: str, records: list[dict], figures) -> None:
    records = [r for r in trial_records(records) if r["data"] == data]
    column = score_column(records)
    if column is None:
        return
    metric, key, label, decimals, better = column
    groups = trials_by_group(records, metric, key)
    page.heading(f"{data}: search blocks ({label}, {'lower' if better < 0 else 'higher'} is better)", 3)
    rows = []
    for (block, arch, loss), trials in groups.items():
        scored = [t for t in trials if t["score"] is not None]
        if not scored:
            rows.append([block, arch, loss, f"0/{len(trials)}", "–", "–", "–", "–"])
            continue
        best = best_of(trials, better)
        assert best is not None  # scored is not empty
        rows.append(
            [
                block,
                arch,
                loss,
                f"{len(scored)}/{len(trials)}",
                f"{best['score']:,.{decimals}f} (trial {best['index']})",
                f"{statistics.median(t['score'] for t in scored):,.{decimals}f}",
                f"{(max if better < 0 else min)(t['score'] for t in scored):,.{decimals}f}",
                ", ".join(f"{k} = {_short(v)}" for k, v in best["draws"].items()),
            ]
        )
    page.table(
        [
            "block",
            "architecture",
            "loss",
            "trials with a score",
            f"best {label}",
            "median",
            "worst",
            "best trial's draws",
        ],
        rows,
    )
    page.para(
        "Each trial's score is the mean over its seeds. A block whose best trial is re-run over more "
        "seeds (`best_seeds` in its search table) appears in the tables above as BLOCK-best."
    )
    _figures(page, data, groups, label, better, figures)


def _short(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _figures(page: Page, data: str, groups: dict, label: str, better: int, figures) -> None:
    named = [
        (f"{block}: {loss}" if block != loss else loss, [t["score"] for t in trials if t["score"] is not None])
        for (block, _, loss), trials in groups.items()
    ]
    named = [(name, scores) for name, scores in named if scores]
    if not named:
        return
    fig, (box, budget) = plt.subplots(1, 2, figsize=(12, 4.2))
    box.boxplot([scores for _, scores in named], showfliers=False)
    jitter = random.Random(0)
    for i, (_, scores) in enumerate(named, 1):
        box.scatter([i + jitter.uniform(-0.12, 0.12) for _ in scores], scores, s=10, alpha=0.6, zorder=3)
    box.set_xticks(range(1, len(named) + 1), [name for name, _ in named], rotation=20, ha="right", fontsize=8)
    box.set_ylabel(f"final {label}")
    box.set_title("distribution over the trials", fontsize=9)
    colors = plt.get_cmap("tab10")
    for i, (name, scores) in enumerate(named):
        curve = best_of_k(scores, better)
        ks = [k for k, *_ in curve]
        budget.plot(ks, [m for _, m, _, _ in curve], marker="o", ms=3, color=colors(i % 10), label=name)
        budget.fill_between(
            ks, [lo for *_, lo, _ in curve], [hi for *_, hi in curve], color=colors(i % 10), alpha=0.15, lw=0
        )
    budget.set_xlabel("number of trials (the search's budget)")
    budget.set_ylabel(f"best {label}")
    budget.set_title("best of k trials: mean and 95% bootstrap interval", fontsize=9)
    budget.legend(fontsize=7)
    for ax in (box, budget):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{data}: random search, {label}", fontsize=10)
    path = figures / f"{data}-search.png"
    save_figure(fig, path)
    page.image(path, f"{data}: {label} over the trials of each search, and the best against the number of trials")
