"""The convergence rule on synthetic curves whose answer is known: rising, flat, noisy but
flat, oscillating, collapsing late; and on the seeds of a row."""

import math
import random

import pytest

from ganzoo.report.convergence import (
    AT_PLATEAU,
    STILL_MOVING,
    UNSETTLED,
    cell_plateau,
    parse_margin,
    row_plateau,
    windows,
)

STEPS = list(range(0, 100_001, 2_500))  # reproduce-2d-long's evaluations: 41, 13 in each third


def curve(f, noise=0.0, seed=0):
    rng = random.Random(seed)
    return [f(s) + rng.gauss(0, noise) for s in STEPS]


def test_the_windows_are_the_middle_and_last_thirds():
    middle, last = windows(STEPS)
    assert [STEPS[i] for i in middle] == list(range(35_000, 65_001, 2_500))
    assert [STEPS[i] for i in last] == list(range(67_500, 100_001, 2_500))


def test_a_rising_curve_is_still_moving():
    p = cell_plateau(STEPS, curve(lambda s: 100 * (1 - math.exp(-s / 80_000)), noise=1.0), margin=5)
    assert p.status == STILL_MOVING and p.drift > 5 and p.interval[0] > 0


def test_a_flat_curve_is_at_plateau_even_when_every_value_ties():
    assert cell_plateau(STEPS, curve(lambda s: 95.0, noise=0.3), margin=5).status == AT_PLATEAU
    tied = cell_plateau(STEPS, [8.0] * len(STEPS), margin=0.5, resolution=1)
    assert tied.status == AT_PLATEAU and tied.drift == 0 and tied.interval[0] < 0 < tied.interval[1]


def test_a_noisy_flat_curve_is_at_plateau_when_its_windows_pin_the_level():
    p = cell_plateau(STEPS, curve(lambda s: 90.0, noise=3.0, seed=1), margin=5)
    assert p.status == AT_PLATEAU and abs(p.drift) < 3


def test_a_wide_oscillation_is_not_called_a_plateau():
    """Swings of ±30 points: thirteen evaluations cannot pin the level to ±5."""
    p = cell_plateau(STEPS, curve(lambda s: 60 + 30 * math.sin(s / 7_000)), margin=5)
    assert p.status == UNSETTLED


def test_a_late_collapse_is_still_moving():
    values = curve(lambda s: 95.0 if s < 85_000 else 5.0, noise=1.0)
    p = cell_plateau(STEPS, values, margin=5)
    assert p.status == STILL_MOVING and p.drift < -5


def test_too_few_evaluations_are_unsettled():
    p = cell_plateau([0, 50_000, 100_000], [1.0, 2.0, 2.0], margin=5)
    assert p.status == UNSETTLED and p.drift is None and "fewer than 3" in p.describe()


def test_a_rows_drift_is_averaged_over_seeds_with_a_t_interval():
    flat = [(STEPS, curve(lambda s: 90.0, noise=8.0, seed=k)) for k in range(8)]
    row = row_plateau(flat, margin=5)
    cells = [cell_plateau(s, v, margin=5) for s, v in flat]
    assert row.drift == pytest.approx(sum(c.drift for c in cells) / len(cells))
    assert row.status == AT_PLATEAU  # each seed alone is too noisy to say so
    assert sum(c.status == AT_PLATEAU for c in cells) < len(cells)
    rising = [(STEPS, curve(lambda s: s / 1_000, noise=2.0, seed=k)) for k in range(3)]
    assert row_plateau(rising, margin=5).status == STILL_MOVING


def test_relative_margins():
    assert parse_margin("5%", level=40.0) == pytest.approx(2.0)
    assert parse_margin(0.5) == 0.5 and parse_margin(None) is None and parse_margin("5%") is None
