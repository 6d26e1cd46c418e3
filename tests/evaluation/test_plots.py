"""PNG writers: training curves and the ablation chart."""

from __future__ import annotations

import pytest

from tfrec_sentiment.evaluation.plots import plot_ablation, plot_training_curves
from tfrec_sentiment.evaluation.stats import MeanCI, mean_ci

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_training_curves_png(tmp_path):
    history = {"loss": [1.0, 0.7, 0.5], "val_loss": [1.1, 0.8, 0.75],
               "rmse": [1.2, 1.0, 0.9], "val_rmse": [1.3, 1.1, 1.0], "lr": [0.1, 0.1, 0.05]}
    path = plot_training_curves(history, tmp_path / "deep" / "curves.png", title="demo")
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5_000


def test_training_curves_need_values(tmp_path):
    with pytest.raises(ValueError, match="no values"):
        plot_training_curves({"loss": []}, tmp_path / "x.png")


def test_ablation_chart_png(tmp_path):
    summaries = {
        "global mean": {"rmse": MeanCI(1.0, 1.0, 1.0, 1), "ndcg@10": MeanCI(0.01, 0.01, 0.01, 1)},
        "full": {"rmse": mean_ci([0.95, 0.96, 0.97]), "ndcg@10": mean_ci([0.05, 0.06, 0.055])},
        "one seed": {"rmse": mean_ci([0.97]), "ndcg@10": mean_ci([0.04])},  # NaN interval
    }
    path = plot_ablation(summaries, ("rmse", "ndcg@10"), tmp_path / "ablation.png")
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5_000


def test_ablation_chart_leaves_out_undefined_metrics(tmp_path):
    nan = MeanCI(float("nan"), float("nan"), float("nan"), 1)
    summaries = {
        "a": {"rmse": MeanCI(1.0, 1.0, 1.0, 1), "liked_ndcg@10": nan, "disliked@10": nan},
        "b": {"rmse": mean_ci([0.9, 0.95]), "liked_ndcg@10": MeanCI(0.1, 0.1, 0.1, 1),
              "disliked@10": nan},  # no user qualifies for any model
    }
    path = plot_ablation(summaries, ("rmse", "liked_ndcg@10", "disliked@10"),
                         tmp_path / "ablation.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
