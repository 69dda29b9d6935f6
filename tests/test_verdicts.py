"""The verdict engine against scipy's own tests, and its decisions on cases a reviewer would
check by hand: ties, missing error bars, "no difference shown" against "agrees", Holm."""

import math

import pytest
from scipy import stats

from ganzoo.report.verdicts import (
    Comparison,
    Estimate,
    difference,
    estimate,
    holm,
    judge,
    published,
    seeds_needed,
    tie_floor,
)

SEEDS = [6.0, 7.0, 8.0, 6.5, 7.5]


def test_the_interval_is_scipys_t_interval_on_n_minus_1_degrees_of_freedom():
    e = estimate(SEEDS)
    low, high = e.interval()
    ref = stats.t.interval(0.95, len(SEEDS) - 1, loc=stats.tmean(SEEDS), scale=stats.sem(SEEDS))
    assert (low, high) == pytest.approx(ref, rel=1e-12)
    assert e.se == pytest.approx(stats.sem(SEEDS), rel=1e-12)
    # With 3 seeds the 95% interval is the mean ± 4.30 standard errors, not ± 2.
    e3 = estimate([1.0, 2.0, 4.0])
    assert (e3.interval()[1] - e3.mean) / e3.se == pytest.approx(4.3027, abs=1e-4)
    assert estimate([5.0]).interval() is None and estimate([]) is None


def test_ties_never_give_a_zero_width_interval():
    e = estimate([8, 8, 8], resolution=1)
    assert e.floored and e.sd == pytest.approx(1 / math.sqrt(12))
    low, high = e.interval()
    assert low < 8 < high and high - low == pytest.approx(2 * 4.3027 * (1 / math.sqrt(12)) / math.sqrt(3), rel=1e-4)
    # The floor only ever raises a standard deviation: a real spread is kept as it is.
    assert not estimate(SEEDS, resolution=1).floored
    assert estimate(SEEDS, resolution=1).se == pytest.approx(stats.sem(SEEDS))
    assert tie_floor(None) == 0 and estimate([3, 3], resolution=None).se == 0


def test_the_difference_test_is_welchs():
    a, b = [1.0, 2.5, 2.0, 3.1], [2.9, 3.5, 4.4, 3.0, 3.3, 5.0]
    d = difference(estimate(a), estimate(b))
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert d.p_differs() == pytest.approx(ref.pvalue, rel=1e-10)
    assert d.diff / d.se == pytest.approx(ref.statistic, rel=1e-10)
    # Against a paper's mean ± se over its n runs: scipy's test from those summary statistics.
    paper = published(2.0, se=0.3, n=10)
    d = difference(paper, estimate(b))
    ref = stats.ttest_ind_from_stats(
        stats.tmean(b), stats.tstd(b), len(b), 2.0, 0.3 * math.sqrt(10), 10, equal_var=False
    )
    assert d.p_differs() == pytest.approx(ref.pvalue, rel=1e-10)


def test_a_published_mean_without_an_error_bar_is_a_one_sample_test():
    d = difference(published(3.0), estimate(SEEDS))
    assert d.df == pytest.approx(len(SEEDS) - 1)
    assert d.p_differs() == pytest.approx(stats.ttest_1samp(SEEDS, 3.0).pvalue, rel=1e-10)
    assert difference(published(3.0), estimate([4.0])) is None  # one run and no error bar: nothing to test


def test_equivalence_is_two_one_sided_welch_tests():
    a, b = [7.9, 8.0, 7.8, 8.1, 7.95], [8.0, 8.05, 7.9, 8.1]
    margin = 0.5
    d = difference(estimate(a), estimate(b))
    sa, sb = (stats.tmean(a), stats.tstd(a), len(a)), (stats.tmean(b), stats.tstd(b), len(b))
    above = stats.ttest_ind_from_stats(sb[0] + margin, sb[1], sb[2], *sa, equal_var=False, alternative="greater")
    below = stats.ttest_ind_from_stats(sb[0] - margin, sb[1], sb[2], *sa, equal_var=False, alternative="less")
    assert d.p_equivalent(margin) == pytest.approx(max(above.pvalue, below.pvalue), rel=1e-10)
    # Equivalent at 5% exactly when the 90% interval of the difference lies inside the margin.
    low, high = d.interval(0.90)
    assert (d.p_equivalent(margin) < 0.05) == (-margin < low and high < margin)


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([None, 0.2]) == [None, 0.2]
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9]) and holm([0.5, 0.9]) == [1.0, 1.0]  # monotone, capped


def test_verdicts_agree_only_within_the_margin_and_say_inconclusive_otherwise():
    paper = published(7.9, se=0.1, n=10)
    tight = estimate([8, 8, 8, 8, 8, 8, 8, 8, 8, 8], resolution=1)
    [v] = judge([Comparison(paper, tight, margin=0.5, better=1)])
    assert v.label == "agrees" and v.text == "agrees (within ±0.5)"
    # A wide spread: no difference is shown, and that is not agreement.
    wide = estimate([3, 8, 8], resolution=1)
    [v] = judge([Comparison(paper, wide, margin=0.5, better=1)])
    assert v.label == "inconclusive" and "seeds would likely settle it" in v.text
    # A clear difference, with its direction and whether it is better.
    [v] = judge([Comparison(published(6.3, 0.5, 10), tight, margin=0.5, better=1)])
    assert v.label == "higher" and v.text == "ganzoo higher (better)"
    # Ruled out before any test.
    [v] = judge([Comparison(paper, tight, margin=0.5, not_comparable=["still moving"])])
    assert v.label == "not comparable" and v.p_differs is None and "still moving" in v.text


def test_holm_can_take_a_difference_back_in_a_family():
    paper = published(0.0, se=0.05, n=10)
    borderline = estimate([0.2, 0.35, 0.1, 0.3, 0.15])  # p about 0.01 alone
    alone = judge([Comparison(paper, borderline)])[0]
    assert alone.label == "higher"
    null = estimate([0.01, -0.02, 0.03, 0.0, -0.01])
    family = judge([Comparison(paper, borderline)] + [Comparison(paper, null)] * 9)
    assert family[0].p_differs == pytest.approx(min(1, 10 * alone.p_differs)) and family[0].label == "inconclusive"


def test_the_seeds_needed_would_settle_it():
    paper = published(95.6, se=1.0, n=10)
    ours = estimate([90.1, 96.0, 93.2], resolution=0.04)
    c = Comparison(paper, ours, margin=5.0)
    n = seeds_needed(c, 0.05)
    assert n is not None and n > 3
    more = Comparison(paper, Estimate(ours.mean, n, ours.sd / math.sqrt(n)), margin=5.0)
    assert judge([more])[0].label != "inconclusive"
    fewer = Comparison(paper, Estimate(ours.mean, n - 1, ours.sd / math.sqrt(n - 1)), margin=5.0)
    assert judge([fewer])[0].label == "inconclusive"
    # When the paper's own error bar exceeds the margin, no number of seeds shows agreement.
    hopeless = Comparison(published(50.0, se=10.0, n=10), estimate([50.0, 51.0, 49.0]), margin=1.0)
    assert seeds_needed(hopeless, 0.05) is None
    assert "no number of seeds" in judge([hopeless])[0].text


def test_one_seed_gets_no_test():
    [v] = judge([Comparison(published(7.9, 0.1, 10), estimate([8.0]), margin=0.5)])
    assert v.label == "no error bar" and v.p_differs is None and "one seed on ganzoo" in v.text
    # In `ganzoo compare` a single seed of A is not an exact value either.
    [v] = judge(
        [
            Comparison(estimate([8.0]), estimate([8.0, 7.0, 8.0])),
            Comparison(estimate([1.0, 2.0]), estimate([1.5, 2.5])),
        ],
        subject="B",
        both_sides=True,
    )[:1]
    assert v.label == "no error bar" and "one seed on a side" in v.text
