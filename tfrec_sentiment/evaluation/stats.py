"""Uncertainty: Student-t intervals over seeds and a paired bootstrap over users.

Two sources of noise, two tools:

- Seeds (training randomness): `mean_ci` gives the mean over seeds and a two-sided
  Student-t interval, mean +- t(level, n - 1) * s / sqrt(n). With 3 seeds the t factor
  is 4.30, so these intervals are wide by design.
- Users (which people happened to be in the test set): `paired_bootstrap` resamples test
  users with replacement, the same resample for both models, and reports the
  difference candidate - reference of a metric with a percentile interval and the
  two-sided bootstrap share (twice the smaller share of resampled differences on either
  side of zero, capped at 1): a p-value-like number, not an exact test.
- What the users can tell apart: `BootstrapDiff.detectable` is the minimum detectable
  difference, (z(1 - alpha/2) + z(power)) * SE with SE the standard deviation of the
  resampled differences: a true difference this large would come out beyond the
  interval with probability `power` (normal approximation; Bloom, "Minimum Detectable
  Effects", Evaluation Review 19(5), 1995). A goal smaller than it is a coin toss on
  these users whatever the model.

Both are deterministic given their inputs and `seed`. The t quantile is scipy's
(`scipy.stats.t.ppf`).

Example:

>>> interval = mean_ci([1.0, 2.0, 3.0])
>>> round(interval.mean, 3), round(interval.half_width, 3)  # 4.303 * 1 / sqrt(3)
(2.0, 2.484)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

# A paired statistic: per-resample index matrix int [R, n] -> statistic float [R].
Statistic = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class MeanCI:
    """Mean of n values and its two-sided interval; low/high are NaN when n < 2."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return float(self.high - self.low) / 2.0

    def to_dict(self) -> dict:
        return {"mean": self.mean, "ci": [self.low, self.high], "n": self.n, "level": self.level}


@dataclasses.dataclass(frozen=True)
class BootstrapDiff:
    """Paired bootstrap of `metric(candidate) - metric(reference)` over resampled users."""

    metric: str
    candidate: str
    reference: str
    difference: float  # on the full test set
    low: float
    high: float
    share: float  # two-sided bootstrap share of differences across zero
    n_users: int
    n_resamples: int
    lower_is_better: bool
    population: str = "all"  # the users compared: "all" or a slice name
    standard_error: float = math.nan  # standard deviation of the resampled differences
    level: float = 0.95  # the interval's coverage

    def detectable(self, power: float = 0.8) -> float:
        """The minimum detectable difference (same units as the metric, >= 0): a true
        difference of this size lands beyond the two-sided `level` interval with
        probability `power`, (z(0.5 + level / 2) + z(power)) * SE (normal
        approximation; NaN where the difference is undefined).

        Example:

        >>> diff = BootstrapDiff("ndcg@10", "a", "b", 0.01, -0.002, 0.022, 0.1, 500, 2000,
        ...                      False, standard_error=0.006)
        >>> round(diff.detectable(), 4)  # (1.960 + 0.842) * 0.006
        0.0168
        """
        if not 0.0 < power < 1.0:
            raise ValueError(f"power must be in (0, 1), got {power}")
        z = scipy_stats.norm.ppf
        return float((z(0.5 + self.level / 2) + z(power)) * self.standard_error)

    @property
    def candidate_better(self) -> bool:
        """True when the whole interval lies on the candidate's better side of zero."""
        return self.high < 0 if self.lower_is_better else self.low > 0

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "candidate_better": self.candidate_better,
                "detectable_80": self.detectable()}

    @classmethod
    def from_dict(cls, values: Mapping) -> BootstrapDiff:
        """The inverse of `to_dict`, also as the reports' JSON holds it (NaN written
        as null); the derived keys are ignored, and a missing `standard_error` (files
        written before it) reads NaN."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: math.nan if value is None else value
                      for name, value in values.items() if name in fields})


@functools.lru_cache(maxsize=256)
def t_quantile(probability: float, df: float) -> float:
    """Quantile of Student's t distribution with `df` degrees of freedom.

    `scipy.stats.t.ppf`, with the arguments checked first.

    Args:
        probability: in (0, 1).
        df: degrees of freedom > 0.

    Example:
        >>> round(t_quantile(0.975, 4), 3)
        2.776
    """
    if not 0.0 < probability < 1.0 or df <= 0:
        raise ValueError(f"need 0 < probability < 1 and df > 0, got {probability}, {df}")
    return float(scipy_stats.t.ppf(probability, df))


def mean_ci(values: Sequence[float], level: float = 0.95) -> MeanCI:
    """Mean and two-sided Student-t confidence interval of values (e.g. one per seed).

    Args:
        values: float [n]; NaN values are an error (a metric that failed to compute).
        level: coverage of the interval.

    Returns:
        `MeanCI`; low/high are NaN for n < 2 (one seed says nothing about seed noise).
    """
    array = np.asarray(values, np.float64)
    if array.size == 0 or np.isnan(array).any():
        raise ValueError(f"mean_ci needs non-empty, non-NaN values, got {array.tolist()}")
    mean = float(array.mean())
    if array.size < 2:
        return MeanCI(mean, math.nan, math.nan, 1, level)
    spread = float(array.std(ddof=1)) / math.sqrt(array.size)
    half = t_quantile(0.5 + level / 2, array.size - 1) * spread
    return MeanCI(mean, mean - half, mean + half, int(array.size), level)


def paired_bootstrap(candidate: Statistic, reference: Statistic, n_users: int, *,
                     metric: str = "", names: tuple[str, str] = ("candidate", "reference"),
                     lower_is_better: bool = False, n_resamples: int = 2000, seed: int = 0,
                     level: float = 0.95, max_elements: int = 1 << 22,
                     population: str = "all") -> BootstrapDiff:
    """Paired bootstrap of the difference of a statistic between two models.

    Args:
        candidate: the candidate's statistic of a set of users, int [R, n] -> float [R]
            (row r lists the users of resample r; see `UserMetrics.statistic`).
        reference: the same for the reference model; users in the same order.
        n_users: n, the number of test users both statistics index.
        metric: metric name, for the report.
        names: (candidate, reference) model names, for the report.
        lower_is_better: the metric's direction (True for RMSE/MAE).
        n_resamples: R, bootstrap resamples.
        seed: seeds the resampling; same seed, same answer.
        level: coverage of the percentile interval.
        max_elements: resamples are drawn in blocks of at most this many indices.
        population: which users these are ("all" or a slice name), for the report.

    Example:
        >>> a, b = np.arange(10.0), np.arange(10.0) + 1
        >>> diff = paired_bootstrap(lambda i: b[i].mean(1), lambda i: a[i].mean(1), 10)
        >>> diff.difference, round(diff.low, 9), round(diff.high, 9)
        (1.0, 1.0, 1.0)
    """
    return paired_bootstraps({metric: (candidate, reference, lower_is_better)}, n_users,
                             names=names, n_resamples=n_resamples, seed=seed, level=level,
                             max_elements=max_elements, population=population)[0]


def paired_bootstraps(statistics: Mapping[str, tuple[Statistic, Statistic, bool]],
                      n_users: int, *, names: tuple[str, str] = ("candidate", "reference"),
                      n_resamples: int = 2000, seed: int = 0, level: float = 0.95,
                      max_elements: int = 1 << 22, population: str = "all"
                      ) -> list[BootstrapDiff]:
    """`paired_bootstrap` of several metrics on ONE set of resamples (drawn once).

    Args:
        statistics: metric -> (candidate statistic, reference statistic, lower_is_better).
        n_users, names, n_resamples, seed, level, max_elements, population: as in
            `paired_bootstrap`; each metric gets exactly the answer `paired_bootstrap`
            gives it alone with the same seed.

    Returns:
        One `BootstrapDiff` per metric, in the order of `statistics` (see `bootstrap_diff`
        for metrics undefined on some resamples).

    Example:
        >>> a, b = np.arange(10.0), np.arange(10.0) + 1
        >>> stats = {"x": (lambda i: b[i].mean(1), lambda i: a[i].mean(1), False)}
        >>> paired_bootstraps(stats, 10)[0].difference
        1.0
    """
    flat = {(metric, side): pair[side] for metric, pair in statistics.items() for side in (0, 1)}
    for (metric, side), statistic in flat.items():
        if not callable(statistic):
            raise TypeError(
                f"{metric or 'the metric'}: the {('candidate', 'reference')[side]} must be a "
                f"statistic, a function of an int [R, n] matrix of user indices giving float "
                f"[R] (e.g. lambda i: values[i].mean(1)), not {type(statistic).__name__}")
    values = resample_statistics(flat, n_users, n_resamples=n_resamples, seed=seed,
                                 max_elements=max_elements)
    return [bootstrap_diff(values[(metric, 0)], values[(metric, 1)], n_users, metric=metric,
                           names=names, lower_is_better=lower, level=level,
                           population=population)
            for metric, (_, _, lower) in statistics.items()]


def resample_statistics(statistics: Mapping[Hashable, Statistic], n_users: int, *,
                        n_resamples: int = 2000, seed: int = 0, max_elements: int = 1 << 22
                        ) -> dict[Hashable, np.ndarray]:
    """Every statistic on the full set and on the same bootstrap resamples of users.

    Resampling is the costly part of a bootstrap; drawing the users once and scoring
    every model's every metric on them makes each model's values shared by all the
    comparisons it takes part in (a model compared with 8 others is resampled once).

    Args:
        statistics: any key -> statistic (int [R, n] index rows -> float [R]).
        n_users: n.
        n_resamples: R.
        seed: seeds the draw; the same seed gives the same resamples in every call.
        max_elements: resamples are drawn in blocks of at most this many indices.

    Returns:
        key -> float [1 + R]: the value on all users first, then one per resample.

    Example:
        >>> a = np.arange(4.0)
        >>> values = resample_statistics({"a": lambda i: a[i].mean(1)}, 4, n_resamples=3)
        >>> values["a"].shape, float(values["a"][0])
        ((4,), 1.5)
    """
    if n_users < 1:
        raise ValueError("paired_bootstrap needs at least one user")
    everyone = np.arange(n_users)[None, :]
    rng = np.random.default_rng(seed)
    block = max(1, max_elements // n_users)
    parts: dict[Hashable, list[np.ndarray]] = {key: [stat(everyone)]
                                                for key, stat in statistics.items()}
    for begin in range(0, n_resamples, block):
        index = rng.integers(0, n_users, size=(min(block, n_resamples - begin), n_users))
        for key, stat in statistics.items():
            parts[key].append(stat(index))
    return {key: np.concatenate(values).astype(np.float64) for key, values in parts.items()}


def bootstrap_diff(candidate: np.ndarray, reference: np.ndarray, n_users: int, *,
                   metric: str = "", names: tuple[str, str] = ("candidate", "reference"),
                   lower_is_better: bool = False, level: float = 0.95,
                   population: str = "all") -> BootstrapDiff:
    """The paired difference from two models' `resample_statistics` values (float [1 + R]).

    A resample on which the metric is undefined for either model (NaN: no user of the
    resample qualifies) is left out; when it is NaN on all users, the difference and
    interval are NaN (and `candidate_better` is False).
    """
    observed = float(candidate[0] - reference[0])
    diff = candidate[1:] - reference[1:]
    diff = diff[~np.isnan(diff)]
    if math.isnan(observed) or diff.size == 0:
        low = high = share = spread = math.nan
    else:
        low, high = np.quantile(diff, [(1 - level) / 2, (1 + level) / 2])
        share = min(1.0, 2 * min(np.mean(diff <= 0), np.mean(diff >= 0)))
        spread = float(diff.std(ddof=1)) if diff.size > 1 else math.nan
    return BootstrapDiff(metric=metric, candidate=names[0], reference=names[1],
                         difference=observed, low=float(low), high=float(high),
                         share=float(share), n_users=n_users,
                         n_resamples=len(candidate) - 1, lower_is_better=lower_is_better,
                         population=population, standard_error=spread, level=level)
