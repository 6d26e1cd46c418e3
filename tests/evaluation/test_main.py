"""`python -m tfrec_sentiment.evaluation`: the baseline table of a data set."""

from __future__ import annotations

from tfrec_sentiment.evaluation.__main__ import main
from tfrec_sentiment.evaluation.ablation import load_metrics


def test_prints_the_baseline_table_and_writes_the_files(tmp_path, capsys):
    assert main(["--data", "demo", "--seeds", "0", "--k", "5", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| user + item bias | 1 (deterministic) |" in printed and "NDCG@5" in printed
    metrics = load_metrics(tmp_path)
    assert metrics["k"] == 5 and set(metrics["variants"]) >= {"global mean", "popularity"}
    # The demo data has users with tastes: the bias model must beat the global mean.
    variants = metrics["variants"]
    assert variants["user + item bias"]["mean"]["rmse"] < variants["global mean"]["mean"]["rmse"]
    assert (tmp_path / "ablation.png").stat().st_size > 0
