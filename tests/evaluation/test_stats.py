"""Student-t intervals and the paired bootstrap: known quantiles, coverage, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tfrec_sentiment.evaluation.stats import (
    BootstrapDiff,
    mean_ci,
    paired_bootstrap,
    paired_bootstraps,
    resample_statistics,
    t_quantile,
)


@pytest.mark.parametrize("df, expected", [
    (1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (29, 2.045), (120, 1.980),
])
def test_t_quantile_matches_printed_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=6e-4)


def test_t_quantile_matches_closed_forms():
    # df = 1 is the Cauchy: tan(pi (p - 1/2)); df = 2: (2p - 1) / sqrt(2 p (1 - p)).
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-10)
    assert t_quantile(0.975, 2) == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025),
                                                 rel=1e-10)  # 4.302653
    assert t_quantile(0.995, 10) == pytest.approx(3.169273, abs=1e-6)  # printed tables
    with pytest.raises(ValueError, match="probability"):
        t_quantile(1.0, 3)


def test_t_quantile_is_symmetric_and_monotone():
    assert t_quantile(0.025, 5) == pytest.approx(-t_quantile(0.975, 5))
    assert t_quantile(0.5, 3) == pytest.approx(0.0, abs=1e-9)
    assert t_quantile(0.9, 3) < t_quantile(0.95, 3) < t_quantile(0.99, 3)


def test_mean_ci_by_hand():
    values = [0.90, 0.95, 1.00]
    interval = mean_ci(values)
    spread = np.std(values, ddof=1) / math.sqrt(3)
    assert interval.mean == pytest.approx(0.95)
    assert interval.half_width == pytest.approx(4.3027 * spread, rel=1e-4)
    assert interval.low < interval.mean < interval.high


def test_mean_ci_of_one_value_has_no_interval():
    interval = mean_ci([0.5])
    assert interval.mean == 0.5 and math.isnan(interval.low) and math.isnan(interval.high)
    with pytest.raises(ValueError):
        mean_ci([0.5, float("nan")])


def test_mean_ci_coverage_with_three_seeds():
    rng = np.random.default_rng(0)
    trials = 4000
    samples = rng.normal(1.0, 0.2, (trials, 3))
    covered = 0
    for row in samples:
        interval = mean_ci(row)
        covered += interval.low <= 1.0 <= interval.high
    # Binomial sd at 0.95 and 4000 trials is 0.0034: allow about 4 sd.
    assert covered / trials == pytest.approx(0.95, abs=0.015)


def _mean_statistic(values):
    return lambda index: values[index].mean(axis=1)


def test_bootstrap_is_deterministic_given_the_seed():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 300), rng.normal(0.1, 1, 300)
    first = paired_bootstrap(_mean_statistic(b), _mean_statistic(a), 300, seed=7)
    again = paired_bootstrap(_mean_statistic(b), _mean_statistic(a), 300, seed=7)
    other = paired_bootstrap(_mean_statistic(b), _mean_statistic(a), 300, seed=8)
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.difference == pytest.approx(b.mean() - a.mean())


def test_bootstrap_blocks_do_not_change_the_answer():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 50), rng.normal(0, 1, 50)
    whole = paired_bootstrap(_mean_statistic(b), _mean_statistic(a), 50, n_resamples=500)
    blocks = paired_bootstrap(_mean_statistic(b), _mean_statistic(a), 50, n_resamples=500,
                              max_elements=50 * 7)
    assert (whole.low, whole.high, whole.share) == pytest.approx(
        (blocks.low, blocks.high, blocks.share))


def test_pairing_removes_shared_user_noise():
    # Users differ a lot; the candidate is better by exactly 0.01 for every user.
    rng = np.random.default_rng(3)
    reference = rng.normal(0, 5, 200)
    candidate = reference + 0.01
    diff = paired_bootstrap(_mean_statistic(candidate), _mean_statistic(reference), 200)
    assert diff.low == pytest.approx(0.01) and diff.high == pytest.approx(0.01)
    assert diff.candidate_better and diff.share == 0.0


def test_bootstrap_interval_coverage_and_share():
    rng = np.random.default_rng(4)
    true_shift, n_users, trials = 0.2, 150, 200
    covered, small_share_null = 0, 0
    for trial in range(trials):
        reference = rng.normal(0, 1, n_users)
        candidate = reference + true_shift + rng.normal(0, 1, n_users)
        diff = paired_bootstrap(_mean_statistic(candidate), _mean_statistic(reference), n_users,
                                n_resamples=400, seed=trial)
        covered += diff.low <= true_shift <= diff.high
        null = paired_bootstrap(_mean_statistic(reference + rng.normal(0, 1, n_users)),
                                _mean_statistic(reference), n_users, n_resamples=400, seed=trial)
        small_share_null += null.share < 0.05
    assert covered / trials >= 0.88  # nominal 0.95; percentile intervals run a bit narrow
    assert small_share_null / trials <= 0.12  # about 5% false alarms under no difference


def test_detectable_is_the_power_formula_over_the_resampled_spread():
    rng = np.random.default_rng(6)
    reference = rng.normal(0, 1, 120)
    candidate = reference + rng.normal(0.1, 1, 120)
    diff = paired_bootstrap(_mean_statistic(candidate), _mean_statistic(reference), 120,
                            n_resamples=500, seed=2)
    values = resample_statistics({"c": _mean_statistic(candidate),
                                  "r": _mean_statistic(reference)}, 120, n_resamples=500,
                                 seed=2)
    spread = np.std(values["c"][1:] - values["r"][1:], ddof=1)
    assert diff.standard_error == pytest.approx(spread)
    # z(0.975) = 1.959964, z(0.8) = 0.841621, z(0.9) = 1.281552 (printed normal tables)
    assert diff.detectable() == pytest.approx((1.959964 + 0.841621) * spread, rel=1e-6)
    assert diff.detectable(0.9) == pytest.approx((1.959964 + 1.281552) * spread, rel=1e-6)
    assert diff.to_dict()["detectable_80"] == pytest.approx(diff.detectable())
    # The bootstrap SE of a mean is close to the textbook one, sd / sqrt(n).
    assert spread == pytest.approx(np.std(candidate - reference, ddof=1) / math.sqrt(120),
                                   rel=0.15)
    with pytest.raises(ValueError, match="power"):
        diff.detectable(1.0)


def test_a_true_difference_of_the_detectable_size_is_found_about_80_percent_of_the_time():
    rng = np.random.default_rng(7)
    n_users, trials, found = 150, 200, 0
    # SE of the mean difference = 1 / sqrt(150); the detectable size at 80% power:
    shift = (1.959964 + 0.841621) / math.sqrt(n_users)
    for trial in range(trials):
        reference = rng.normal(0, 1, n_users)
        candidate = reference + shift + rng.normal(0, 1, n_users)
        diff = paired_bootstrap(_mean_statistic(candidate), _mean_statistic(reference),
                                n_users, n_resamples=400, seed=trial)
        assert diff.detectable() == pytest.approx(shift, rel=0.2)
        found += diff.candidate_better
    assert 0.68 <= found / trials <= 0.92  # nominal 0.80


def test_from_dict_inverts_to_dict_through_json():
    rng = np.random.default_rng(8)
    reference = rng.normal(0, 1, 50)
    diff = paired_bootstrap(_mean_statistic(reference + 0.1), _mean_statistic(reference), 50,
                            metric="ndcg@10", n_resamples=100)
    assert BootstrapDiff.from_dict(json.loads(json.dumps(diff.to_dict()))) == diff
    # JSON null is NaN; a file written before `standard_error` existed reads NaN for it.
    old = {k: v for k, v in diff.to_dict().items() if k not in ("standard_error", "level")}
    read = BootstrapDiff.from_dict({**old, "low": None})
    assert math.isnan(read.low) and math.isnan(read.detectable()) and read.level == 0.95


def test_arrays_instead_of_statistics_are_a_clear_error():
    values = np.arange(5.0)
    with pytest.raises(TypeError, match=r"reference must be a statistic.*lambda i"):
        paired_bootstrap(_mean_statistic(values), values, 5)


def test_an_undefined_difference_has_no_detectable_size():
    never = paired_bootstrap(lambda i: np.full(len(i), np.nan), _mean_statistic(np.ones(5)), 5,
                             n_resamples=20)
    assert math.isnan(never.detectable())


def test_direction_of_better():
    rng = np.random.default_rng(5)
    errors = rng.uniform(0.5, 1.5, 100)
    lower = paired_bootstrap(_mean_statistic(errors - 0.3), _mean_statistic(errors), 100,
                             lower_is_better=True)
    assert lower.difference == pytest.approx(-0.3) and lower.candidate_better
    higher = paired_bootstrap(_mean_statistic(errors - 0.3), _mean_statistic(errors), 100)
    assert not higher.candidate_better


def test_several_metrics_share_one_draw_and_match_single_runs():
    rng = np.random.default_rng(4)
    a, b, c = rng.random(40), rng.random(40), rng.random(40)
    stats = {"x": (lambda i: a[i].mean(1), lambda i: b[i].mean(1), False),
             "y": (lambda i: c[i].mean(1), lambda i: b[i].mean(1), True)}
    both = paired_bootstraps(stats, 40, n_resamples=300, seed=7, population="slice")
    for diff, (metric, (ours, theirs, lower)) in zip(both, stats.items()):
        alone = paired_bootstrap(ours, theirs, 40, metric=metric, lower_is_better=lower,
                                 n_resamples=300, seed=7)
        assert (diff.low, diff.high, diff.share) == (alone.low, alone.high, alone.share)
        assert diff.metric == metric and diff.population == "slice"


def test_a_metric_undefined_on_some_resamples_skips_them():
    # One qualifying user of 3 (NaN elsewhere): resamples without it are left out.
    values = np.array([0.5, np.nan, np.nan])

    def stat(index):
        picked = values[index]
        with np.errstate(invalid="ignore"):
            return np.nansum(picked, 1) / (~np.isnan(picked)).sum(1)

    diff = paired_bootstrap(stat, lambda i: np.zeros(len(i)), 3, n_resamples=100)
    assert diff.difference == 0.5 and diff.low == diff.high == 0.5
    never = paired_bootstrap(lambda i: np.full(len(i), np.nan), lambda i: np.zeros(len(i)), 3)
    assert math.isnan(never.difference) and math.isnan(never.low) and not never.candidate_better
