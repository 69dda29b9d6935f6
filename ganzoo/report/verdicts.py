"""The verdict engine: how ganzoo turns seeds into a sentence beside a paper's number, or
beside another configuration's. `ganzoo report` and `ganzoo compare` both call it.

The rules, in the words docs/benchmarks.md uses for them:

- **An estimate** is a mean over n runs with its standard error s / sqrt(n) and a 95%
  t-interval on n - 1 degrees of freedom. One run has no error bar.
- **Ties** never give a zero-width interval: the standard deviation is taken as at least
  r / sqrt(12), where r is the metric's resolution (1 for a count of modes, 0.04 points for
  a percentage of 2,500 samples). That is the spread a value recorded on a grid of step r
  has from its rounding alone, so three seeds at 8, 8, 8 modes say "about 8", not "exactly 8".
- **Differs**: Welch's t-test (unequal variances, Welch-Satterthwaite degrees of freedom)
  of the two means, two-sided. A published mean without an error bar is taken as exact (a
  one-sample t-test), and the verdict row says so.
- **Agrees** means equivalent within a declared margin m: two one-sided Welch tests (TOST)
  that the difference is above -m and below +m, i.e. its 90% interval lies inside +-m.
  "No difference shown" is never printed as "agrees".
- **Several comparisons** in one table are corrected by Holm's step-down method, the
  difference tests and the equivalence tests each as one family, at alpha = 0.05.
- A comparison that is neither shown to differ nor shown to agree is **inconclusive**, with
  the number of seeds that would likely settle it (the same spread and difference assumed).
- A comparison the convergence rule or the protocol guard rules out is **not comparable**,
  with the reasons, and no test is run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

ALPHA = 0.05
MAX_SEEDS = 1000  # beyond this many seeds, "no number of seeds settles it"


def _t():
    from scipy import stats  # scipy is a dependency; imported on use, as `ganzoo report` alone needs it

    return stats.t


@dataclass(frozen=True)
class Estimate:
    """A mean over n runs with its standard error. `se` None: no error bar (one run, or a
    published mean given without one); `n` None: a published error bar whose number of runs
    is not known (its degrees of freedom are then taken as unlimited)."""

    mean: float
    n: int | None
    se: float | None
    floored: bool = False  # the tie rule raised the standard deviation

    @property
    def sd(self) -> float | None:
        return None if self.se is None or not self.n else self.se * math.sqrt(self.n)

    @property
    def df(self) -> float:
        return self.n - 1 if self.n else math.inf

    def interval(self, level: float = 0.95) -> tuple[float, float] | None:
        """The t-interval for the mean on n - 1 degrees of freedom; None without an error bar."""
        if self.se is None or (self.n is not None and self.n < 2):
            return None
        half = _t().ppf(0.5 + level / 2, self.df) * self.se
        return self.mean - half, self.mean + half


def tie_floor(resolution: float | None) -> float:
    """The smallest standard deviation the tie rule allows: r / sqrt(12)."""
    return resolution / math.sqrt(12) if resolution else 0.0


def estimate(values, resolution: float | None = None) -> Estimate | None:
    """ganzoo's runs: mean, sample standard deviation (n - 1) floored at r / sqrt(12)."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None
    n = len(xs)
    mean = math.fsum(xs) / n
    if n < 2:
        return Estimate(mean, n, None)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    floor = tie_floor(resolution)
    return Estimate(mean, n, max(sd, floor) / math.sqrt(n), floored=sd < floor)


def published(mean: float, se: float | None = None, n: int | None = None) -> Estimate:
    """A paper's mean ± standard error over its n runs (either may be unknown)."""
    return Estimate(float(mean), None if n is None else int(n), None if se is None else float(se))


@dataclass(frozen=True)
class Difference:
    """B − A with its standard error and Welch-Satterthwaite degrees of freedom."""

    diff: float
    se: float
    df: float

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        half = _t().ppf(0.5 + level / 2, self.df) * self.se if self.se > 0 else 0.0
        return self.diff - half, self.diff + half

    def p_differs(self) -> float:
        """Two-sided Welch test of B − A = 0."""
        if self.se == 0:
            return 0.0 if self.diff else 1.0
        return float(2 * _t().sf(abs(self.diff) / self.se, self.df))

    def p_equivalent(self, margin: float) -> float:
        """TOST: the larger of the one-sided p-values for B − A > −margin and B − A < margin."""
        if self.se == 0:
            return 0.0 if abs(self.diff) < margin else 1.0
        t = _t()
        above = t.sf((self.diff + margin) / self.se, self.df)  # H0: diff <= -margin
        below = t.cdf((self.diff - margin) / self.se, self.df)  # H0: diff >= +margin
        return float(max(above, below))


def difference(a: Estimate, b: Estimate) -> Difference | None:
    """B − A; None when neither side has an error bar (nothing to test against)."""
    parts = [(e.se, e.df) for e in (a, b) if e.se is not None]  # (se, df) of each side with an error bar
    if not parts:
        return None
    var = sum(se**2 for se, _ in parts)
    if var == 0:
        return Difference(b.mean - a.mean, 0.0, math.inf)
    # Welch-Satterthwaite; a side without n (a published se alone) has unlimited df.
    denominator = sum(se**4 / df for se, df in parts if df < math.inf)
    df = var**2 / denominator if denominator > 0 else math.inf
    return Difference(b.mean - a.mean, math.sqrt(var), df)


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None entries are left out of the family)."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m = len(order)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


@dataclass
class Comparison:
    """One number set against another: B (ganzoo's seeds) against A (a paper's mean, or
    configuration A in `ganzoo compare`), so that B − A reads "ganzoo minus paper"."""

    reference: Estimate  # A: the paper's, or configuration A in `ganzoo compare`
    ours: Estimate  # B
    margin: float | None = None  # the declared equivalence margin; None: "agrees" cannot be shown
    better: int = 0  # +1 higher is better, -1 lower, 0 neither
    not_comparable: list[str] = field(default_factory=list)  # reasons from the guard and convergence


@dataclass
class Verdict:
    label: str  # "agrees", "higher", "lower", "inconclusive", "not comparable", "no error bar"
    text: str  # the sentence the report prints
    difference: Difference | None = None
    p_differs: float | None = None  # Holm-adjusted
    p_equivalent: float | None = None  # Holm-adjusted
    seeds_needed: int | None = None


def judge(
    comparisons: list[Comparison], alpha: float = ALPHA, subject: str = "ganzoo", both_sides: bool = False
) -> list[Verdict]:
    """A verdict for each comparison, the family corrected by Holm (differences and
    equivalences each as one family). `subject` names side B in the sentences; `both_sides`:
    both sides are runs that more seeds would add to (`ganzoo compare`), not a paper's table."""
    diffs: list[Difference | None] = []
    for c in comparisons:
        # One seed has no error bar; in `ganzoo compare` neither side is a published, exact value.
        untestable = c.ours.se is None or (both_sides and c.reference.se is None)
        diffs.append(None if c.not_comparable or untestable else difference(c.reference, c.ours))
    raw_diff = [d.p_differs() if d else None for d in diffs]
    raw_equiv = [d.p_equivalent(c.margin) if d and c.margin is not None else None for c, d in zip(comparisons, diffs)]
    adj_diff, adj_equiv = holm(raw_diff), holm(raw_equiv)
    family = max(1, sum(p is not None for p in raw_diff))
    verdicts = []
    for c, d, pd, pe in zip(comparisons, diffs, adj_diff, adj_equiv):
        if c.not_comparable:
            verdicts.append(Verdict("not comparable", "not comparable: " + "; ".join(c.not_comparable)))
            continue
        if d is None:
            who = "a side" if both_sides else subject
            verdicts.append(Verdict("no error bar", f"one seed on {who}: no error bar, no test"))
            continue
        if pe is not None and pe < alpha:
            assert c.margin is not None  # an equivalence p-value is computed only against a margin
            text = f"agrees (within ±{_num(c.margin)})"
            verdicts.append(Verdict("agrees", text, d, pd, pe))
            continue
        assert pd is not None  # d is not None: its difference test has a p-value
        if pd < alpha:
            direction = "higher" if d.diff > 0 else "lower"
            quality = "" if not c.better else (" (better)" if d.diff * c.better > 0 else " (worse)")
            verdicts.append(Verdict(direction, f"{subject} {direction}{quality}", d, pd, pe))
            continue
        needed = seeds_needed(c, alpha / family, both_sides)
        if needed is None:
            why = (
                "no number of seeds settles it: the other side's own error bar is too wide"
                if c.margin is not None and not both_sides
                else "no number of seeds up to 1,000 settles it"
                if c.margin is not None
                else "no margin declared, so only a difference could be shown, and none is large enough"
            )
        else:
            why = f"about {needed} {'seeds per side' if both_sides else subject + ' seeds'} would likely settle it"
        verdicts.append(Verdict("inconclusive", f"inconclusive ({why})", d, pd, pe, needed))
    return verdicts


def seeds_needed(c: Comparison, alpha: float, both_sides: bool = False) -> int | None:
    """The fewest seeds on B's side (A's kept as they are; with `both_sides`, on each side)
    with which, at the same standard deviations and mean difference, the difference or the
    equivalence test would pass at `alpha` (the family's Bonferroni level, a little stricter
    than Holm's); None if none up to MAX_SEEDS would."""
    t = _t()
    sd = c.ours.sd
    assert sd is not None, "B must be runs with an error bar (verdicts.estimate of two or more)"
    diff = c.ours.mean - c.reference.mean
    n_now = max(c.ours.n or 1, c.reference.n or 1) if both_sides else c.ours.n or 1
    for n in _candidate_counts(n_now + 1):
        reference = c.reference
        if both_sides and c.reference.sd is not None:
            reference = Estimate(c.reference.mean, n, c.reference.sd / math.sqrt(n))
        d = difference(reference, Estimate(c.ours.mean, n, sd / math.sqrt(n)))
        if d is None or d.se == 0:
            return n
        if abs(diff) > t.ppf(1 - alpha / 2, d.df) * d.se:
            return n
        if c.margin is not None and abs(diff) + t.ppf(1 - alpha, d.df) * d.se < c.margin:
            return n
    return None


def _candidate_counts(start: int):
    """start, start+1, ... up to 50, then coarser steps to MAX_SEEDS (the answer is "about")."""
    n = start
    while n <= MAX_SEEDS:
        yield n
        n += 1 if n < 50 else 10 if n < 200 else 50


def _num(x: float) -> str:
    return f"{x:g}"
