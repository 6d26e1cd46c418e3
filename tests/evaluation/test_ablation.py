"""The ablation runner and its files: metrics.json, report.md, ablation.png."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from tests.evaluation.synthetic import synthetic_ratings
from tfrec_sentiment.data.splits import leave_last_out
from tfrec_sentiment.evaluation.ablation import (
    FULL,
    IDS_ONLY,
    Variant,
    compare_variants,
    load_metrics,
    run_ablation,
)
from tfrec_sentiment.evaluation.ablation_report import detectable_row
from tfrec_sentiment.evaluation.baselines import (
    MatrixFactorization,
    UserItemBias,
    baseline_variants,
)
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import metric_names
from tfrec_sentiment.evaluation.stats import BootstrapDiff

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def split():
    data = synthetic_ratings(users=120, items=40, per_user=15, factors=3, noise=0.2, seed=0)
    return leave_last_out(data.frame)


@pytest.fixture(scope="module")
def ablation(split, tmp_path_factory):
    variants = {
        **baseline_variants(split, mf_factors=3),
        # Stand-ins for the TFRS variants: a weaker and a stronger model of the same data.
        IDS_ONLY: Variant(lambda seed: UserItemBias(reg=2.0).fit(split.train)),
        FULL: lambda seed: MatrixFactorization(3, reg=1.0, sweeps=10, seed=seed).fit(split.train),
    }
    out = tmp_path_factory.mktemp("evaluation")
    # Items average 39 training reviews here: the item slice takes those with <= 20.
    config = EvalConfig(n_resamples=300, mf_factors=3, few_reviews_max=20)
    result = run_ablation(variants, split, out, config=config, seeds=(0, 1, 2),
                          title="synthetic", progress=False)
    return result, out


def test_files_are_written_and_not_empty(ablation):
    _, out = ablation
    for name in ("metrics.json", "report.md", "ablation.png"):
        assert (out / name).stat().st_size > 200, name
    assert (out / "ablation.png").read_bytes()[:8] == PNG_MAGIC


def test_metrics_json_holds_per_seed_values_means_and_intervals(ablation):
    result, out = ablation
    metrics = load_metrics(out)
    assert metrics == json.loads((out / "metrics.json").read_text())
    assert list(metrics["variants"]) == list(result.variants)
    full = metrics["variants"][FULL]
    assert full["seeds"] == [0, 1, 2] and len(full["per_seed"]) == 3
    rmse_values = [run["rmse"] for run in full["per_seed"]]
    assert full["mean"]["rmse"] == pytest.approx(np.mean(rmse_values))
    low, high = full["ci"]["rmse"]
    assert low <= min(rmse_values) <= max(rmse_values) <= high  # t(2) interval is wide
    bias = metrics["variants"]["user + item bias"]
    assert bias["deterministic"] and bias["seeds"] == [0] and len(bias["per_seed"]) == 1
    assert bias["ci"]["rmse"] == [bias["mean"]["rmse"]] * 2
    assert metrics["counts"]["users"] == metrics["split_rows"]["test"]


def test_bootstrap_compares_full_with_every_other_variant(ablation):
    result, _ = ablation
    others = [name for name in result.variants if name != FULL]
    pairs = list(dict.fromkeys((c.candidate, c.reference) for c in result.comparisons))
    assert pairs[0] == (FULL, IDS_ONLY) and sorted(pairs) == sorted((FULL, n) for n in others)
    assert len(result.comparisons) == len(metric_names(10)) * len(others)  # every metric
    assert {c.population for c in result.comparisons} == {"all"}
    rmse = next(c for c in result.comparisons if c.metric == "rmse" and c.reference == IDS_ONLY)
    full_mean = result.variants[FULL].summary(0.95)["rmse"].mean
    ids_mean = result.variants[IDS_ONLY].summary(0.95)["rmse"].mean
    assert rmse.difference < 0 and rmse.candidate_better  # MF fits low-rank data far better
    assert rmse.low <= rmse.difference <= rmse.high
    # The bootstrap uses the seed-averaged per-user errors: its RMSE is near the mean RMSE.
    assert rmse.difference == pytest.approx(full_mean - ids_mean, abs=0.02)


def test_report_lists_every_variant_and_the_comparison(ablation):
    result, out = ablation
    report = (out / "report.md").read_text()
    for name in result.variants:
        assert f"| {name} |" in report
    assert "| user + item bias | 1 (deterministic) |" in report
    assert f"| {FULL} | 3 |" in report and "±" in report
    assert "± = half-width of the 95% Student-t interval over seeds" in report
    assert "no spread over seeds" not in report
    assert f"{FULL} − {IDS_ONLY}" in report and "NDCG@10" in report
    # Each bootstrap table ends with what its users can show, one cell per metric.
    rows = [line for line in report.splitlines()
            if line.startswith("| smallest difference detectable (80% power")]
    cells = rows[0].strip("|").split("|")[1:]
    assert len(cells) == len(metric_names(result.config.k)) and all(
        float(cell) > 0 for cell in cells if cell.strip() != "–")
    full_ids = [d for d in result.comparisons if (d.candidate, d.reference) == (FULL, IDS_ONLY)]
    assert all(d.detectable() > 0 for d in full_ids)


def test_detectable_row_leaves_out_comparisons_of_identical_models():
    def diff(difference, spread):
        return BootstrapDiff("ndcg@10", "a", "b", difference, difference, difference, 1.0, 9,
                             100, False, standard_error=spread)

    # Identical on every user (0 everywhere): no information, left out of the median.
    same, shifted, noisy = diff(0.0, 0.0), diff(0.01, 0.0), diff(0.0, 0.01)
    assert detectable_row([{"ndcg@10": same}], ["ndcg@10"]).endswith("| – |")
    row = detectable_row([{"ndcg@10": same}, {"ndcg@10": noisy}], ["ndcg@10"])
    assert row.endswith(f"| {noisy.detectable():.4f} |")
    # A constant non-zero shift is detectable at any size: it stays, as 0.
    assert detectable_row([{"ndcg@10": shifted}], ["ndcg@10"]).endswith("| 0.0000 |")


def test_one_seed_has_no_spread_note_and_a_count_of_one_is_singular(split):
    test = split.test.copy()
    test.loc[test.index[0], "item_id"] = "an item no one reviewed in training"
    variants = {IDS_ONLY: lambda seed: UserItemBias(reg=2.0).fit(split.train),
                FULL: lambda seed: MatrixFactorization(3, reg=1.0, sweeps=3,
                                                       seed=seed).fit(split.train)}
    result = run_ablation(variants, dataclasses.replace(split, test=test), seeds=(0,),
                          progress=False,
                          config=EvalConfig(n_resamples=20, bootstrap_slices=False))
    report = result.to_markdown()
    assert result.counts["dropped_unknown_item"] == 1
    assert "(1 row dropped: item not in training)" in report
    assert f"| {FULL} | 1 |" in report
    # one seed: no interval over seeds, so no "±" in a cell or in the legend
    assert "±" not in report and "One seed per model: no spread over seeds" in report


def test_unknown_comparison_names_fail_early(split):
    with pytest.raises(KeyError, match="nope"):
        run_ablation({"a": baseline_variants(split)["global mean"]}, split,
                     compare=[("a", "nope")], progress=False)


def test_deterministic_variants_are_trained_once(split):
    calls = []

    def train(seed):
        calls.append(seed)
        return UserItemBias(reg=1.0).fit(split.train)

    result = run_ablation({"det": Variant(train, deterministic=True), "rand": train}, split,
                          seeds=(5, 6), progress=False)
    assert calls == [5, 5, 6]
    assert result.variants["det"].seeds == [5] and result.comparisons == []


def test_new_metrics_reach_metrics_json_with_intervals(ablation):
    result, out = ablation
    metrics = load_metrics(out)
    full = metrics["variants"][FULL]
    for metric in ("liked_recall@10", "liked_ndcg@10", "disliked@10", "disliked_cond@10"):
        values = [run[metric] for run in full["per_seed"]]
        assert full["mean"][metric] == pytest.approx(np.mean(values))
        low, high = full["ci"][metric]
        assert low <= min(values) <= max(values) <= high
    assert metrics["counts"]["liked_users"] + metrics["counts"]["disliked_users"] <= \
        metrics["counts"]["users"]
    assert set(metrics["protocols"]) == {"any", "liked", "disliked", "slices"}
    bootstrapped = {(c["reference"], c["metric"]) for c in metrics["comparisons"]}
    assert (IDS_ONLY, "disliked@10") in bootstrapped
    disliked = next(c for c in result.comparisons if c.metric == "disliked@10")
    assert disliked.lower_is_better and not next(
        c for c in result.comparisons if c.metric == "liked_ndcg@10").lower_is_better


def test_every_slice_has_its_means_table_and_bootstrap(ablation):
    result, out = ablation
    metrics = load_metrics(out)
    slices = list(metrics["slice_counts"])
    # Every synthetic user has 13 training rows; the popularity skew leaves rare items.
    assert slices == ["user_history=5+", "item_reviews<=20"]
    for name in result.variants:
        assert set(metrics["variants"][name]["slices"]) == set(slices)
    # One history bucket holds every user: its numbers are those of all users.
    everyone = metrics["variants"][FULL]["mean"]
    assert metrics["variants"][FULL]["slices"]["user_history=5+"]["mean"] == \
        pytest.approx(everyone, nan_ok=True)
    report = (out / "report.md").read_text()
    assert "### Users with 5+ training reviews" in report
    assert "### Held-out items with at most 20 training reviews" in report
    assert "Disliked@10 ↓" in report and "Liked NDCG@10" in report
    populations = {c.population for c in result.slice_comparisons}
    assert populations == set(slices)
    others = len(result.variants) - 1
    assert len(result.slice_comparisons) == len(slices) * others * len(metric_names(10))


def test_slice_bootstrap_can_be_switched_off(split):
    variants = {IDS_ONLY: Variant(lambda seed: UserItemBias(reg=2.0).fit(split.train), True),
                FULL: Variant(lambda seed: UserItemBias(reg=1.0).fit(split.train), True)}
    result = run_ablation(variants, split, seeds=(0,), progress=False,
                          config=EvalConfig(n_resamples=50, bootstrap_slices=False))
    assert result.slice_comparisons == [] and len(result.comparisons) == len(metric_names(10))
    assert result.slice_counts  # the slice tables are still there


def test_shared_resamples_give_the_pairwise_answers(ablation):
    result, _ = ablation
    config = result.config
    for population, diffs in (("all", result.comparisons),
                              ("item_reviews<=20", result.slice_comparisons)):
        alone = compare_variants(result.variants[FULL], result.variants["popularity"], config,
                                 population)
        shared = [d for d in diffs if d.reference == "popularity" and d.population == population]
        assert [d.to_dict() for d in shared] == [d.to_dict() for d in alone]
