"""The ablation runner and its files: metrics.json, report.md, ablation.png."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.evaluation.synthetic import synthetic_ratings
from tfrec_sentiment.data.splits import leave_last_out
from tfrec_sentiment.evaluation.ablation import (
    FULL,
    IDS_ONLY,
    Variant,
    load_metrics,
    run_ablation,
)
from tfrec_sentiment.evaluation.baselines import (
    MatrixFactorization,
    UserItemBias,
    baseline_variants,
)
from tfrec_sentiment.evaluation.config import EvalConfig

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
    config = EvalConfig(n_resamples=300, mf_factors=3)
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
    assert len(result.comparisons) == 5 * len(others)  # every metric
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
    assert f"{FULL} − {IDS_ONLY}" in report and "NDCG@10" in report


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
