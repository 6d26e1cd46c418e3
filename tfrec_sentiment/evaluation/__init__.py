"""Evaluation stage: metrics, baselines, statistics and the ablation report.

Every model, baseline or TFRS, implements `Recommender` (`predict_rating`,
`score_items`). `evaluate_split` scores one model on a time split; `run_ablation`
trains named variants over seeds on one split and writes `metrics.json`, `report.md`
and `ablation.png`; `baseline_variants` gives the in-run baselines.

Example:

>>> from tfrec_sentiment.evaluation import baseline_variants, run_ablation
>>> result = run_ablation(baseline_variants(split), split, "runs/x/evaluation")  # doctest: +SKIP
"""

from tfrec_sentiment.evaluation.ablation import (
    FULL,
    IDS_ONLY,
    AblationResult,
    Variant,
    compare_variants,
    load_metrics,
    run_ablation,
)
from tfrec_sentiment.evaluation.baselines import (
    GlobalMean,
    ItemKNN,
    ItemMean,
    MatrixFactorization,
    Popularity,
    UserItemBias,
    baseline_report,
    baseline_variants,
)
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import EvalResult, UserMetrics, evaluate, evaluate_split
from tfrec_sentiment.evaluation.plots import plot_ablation, plot_training_curves
from tfrec_sentiment.evaluation.protocol import FittableRecommender, Recommender
from tfrec_sentiment.evaluation.stats import mean_ci, paired_bootstrap

__all__ = [
    "FULL",
    "IDS_ONLY",
    "AblationResult",
    "EvalConfig",
    "EvalResult",
    "FittableRecommender",
    "GlobalMean",
    "ItemKNN",
    "ItemMean",
    "MatrixFactorization",
    "Popularity",
    "Recommender",
    "UserItemBias",
    "UserMetrics",
    "Variant",
    "baseline_report",
    "baseline_variants",
    "compare_variants",
    "evaluate",
    "evaluate_split",
    "load_metrics",
    "mean_ci",
    "paired_bootstrap",
    "plot_ablation",
    "plot_training_curves",
    "run_ablation",
]
