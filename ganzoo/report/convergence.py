"""The convergence rule: has a curve reached its plateau, or is it still moving?

A verdict compares the final value of a run with a paper's; it means something only if
training longer would not move that value by more than the margin the comparison uses. The
rule, for one metric's curve of evaluations over training steps (run length T):

1. Take the evaluations in the last third of training (steps above 2T/3) and those in the
   third before it (T/3 < step <= 2T/3): at least MIN_EVALUATIONS in each.
2. The drift is the mean of the last third minus the mean of the middle third, with its 95%
   interval (Welch, each window's spread floored by the tie rule, verdicts.tie_floor).
3. **at plateau**: the whole interval lies inside ±margin. **still moving**: the interval
   excludes 0 and the drift is larger than the margin. Otherwise **unsettled**: the curve
   is too noisy, or has too few evaluations, to say either.

Means of thirds rather than a fitted slope: the GAN curves this is for swing by 10-30
points between evaluations, and a window's mean is estimated about twice as precisely as a
slope from the same points; and a linear slope extrapolated over the rest of a paper's
schedule (300,000 more steps, say) says more about the straight line than about the curve.

A row (the seeds of one configuration) is at plateau when its seeds' drifts, averaged,
have a 95% t-interval (n - 1 degrees of freedom, across seeds, which also absorbs the
correlation of neighbouring evaluations) inside ±margin; still moving when that interval
excludes 0 and the mean drift is beyond the margin. A row with one seed uses its cell's rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ganzoo.report.verdicts import Difference, Estimate, difference, estimate

MIN_EVALUATIONS = 3
AT_PLATEAU, STILL_MOVING, UNSETTLED = "at plateau", "still moving", "unsettled"


@dataclass(frozen=True)
class Plateau:
    status: str  # AT_PLATEAU, STILL_MOVING or UNSETTLED
    drift: float | None  # mean of the last third minus mean of the middle third
    interval: tuple[float, float] | None  # its 95% interval
    margin: float
    windows: tuple[tuple[int, int], tuple[int, int]] | None  # (first, last step) of the middle and last thirds
    reason: str = ""  # why unsettled without a drift (too few evaluations)

    def describe(self, decimals: int = 2) -> str:
        if self.drift is None:
            return f"{self.status} ({self.reason})"
        assert self.interval is not None  # a plateau with a drift always has its interval
        low, high = self.interval
        return (
            f"{self.status}: drift over the last third {self.drift:+.{decimals}f} "
            f"[{low:+.{decimals}f}, {high:+.{decimals}f}], margin ±{self.margin:g}"
        )


def windows(steps: list[int]) -> tuple[list[int], list[int]]:
    """Indices of the evaluations in the middle third and in the last third of training."""
    if not steps:
        return [], []
    end = max(steps)
    middle = [i for i, s in enumerate(steps) if end / 3 < s <= 2 * end / 3]
    last = [i for i, s in enumerate(steps) if s > 2 * end / 3]
    return middle, last


def _decide(drift: float, interval: tuple[float, float], margin: float) -> str:
    low, high = interval
    if -margin < low and high < margin:
        return AT_PLATEAU
    if (low > 0 or high < 0) and abs(drift) > margin:
        return STILL_MOVING
    return UNSETTLED


def cell_plateau(steps: list[int], values: list[float], margin: float, resolution: float | None = None) -> Plateau:
    """The rule on one run's curve."""
    middle, last = windows(steps)
    if len(middle) < MIN_EVALUATIONS or len(last) < MIN_EVALUATIONS:
        return Plateau(
            UNSETTLED,
            None,
            None,
            margin,
            None,
            f"fewer than {MIN_EVALUATIONS} evaluations in each of the last two thirds",
        )
    a = estimate([values[i] for i in middle], resolution)
    b = estimate([values[i] for i in last], resolution)
    assert a is not None and b is not None  # each window holds MIN_EVALUATIONS values or more
    d = _welch(a, b)
    interval = d.interval(0.95)
    return Plateau(
        _decide(d.diff, interval, margin),
        d.diff,
        interval,
        margin,
        ((steps[middle[0]], steps[middle[-1]]), (steps[last[0]], steps[last[-1]])),
    )


def row_plateau(curves: list[tuple[list[int], list[float]]], margin: float, resolution: float | None = None) -> Plateau:
    """The rule on the seeds of one configuration: each seed's drift, then their mean and its
    t-interval across seeds."""
    cells = [cell_plateau(s, v, margin, resolution) for s, v in curves]
    if len(cells) == 1:
        return cells[0]
    measured = [c for c in cells if c.drift is not None]
    if len(measured) < len(cells) or not measured:
        return Plateau(
            UNSETTLED,
            None,
            None,
            margin,
            None,
            f"a seed has fewer than {MIN_EVALUATIONS} evaluations in each of the last two thirds",
        )
    drifts = estimate([c.drift for c in measured])
    assert drifts is not None  # measured holds two seeds or more, each with a drift
    interval = drifts.interval(0.95) if drifts.se else (drifts.mean, drifts.mean)
    assert interval is not None  # two drifts or more give an error bar
    return Plateau(_decide(drifts.mean, interval, margin), drifts.mean, interval, margin, measured[0].windows)


def _welch(a: Estimate, b: Estimate) -> Difference:
    d = difference(a, b)
    return d if d is not None else Difference(b.mean - a.mean, 0.0, math.inf)


def parse_margin(margin, level: float | None = None) -> float | None:
    """A declared margin: a number, or a string like "5%" relative to `level` (a curve's
    recent mean, a paper's value)."""
    if margin is None:
        return None
    if isinstance(margin, str) and margin.endswith("%"):
        if level is None:
            return None
        return abs(level) * float(margin[:-1]) / 100
    return float(margin)
