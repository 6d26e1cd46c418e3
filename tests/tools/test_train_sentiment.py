"""tools/train_sentiment.py end to end on tiny data: config, metrics, model, resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tools"))

import train_sentiment  # noqa: E402

TREE_POS = "(4 (3 (2 a) (4 great) (2 film)) (2 .))"
TREE_NEG = "(0 (1 (2 a) (0 bad) (2 film)) (2 .))"


@pytest.fixture
def eval_data(tmp_path: Path) -> Path:
    folder = tmp_path / "sentiment"
    (folder / "sst").mkdir(parents=True)
    (folder / "sst" / "train.txt").write_text("\n".join([TREE_POS, TREE_NEG] * 10) + "\n")
    (folder / "sst" / "dev.txt").write_text("\n".join([TREE_POS, TREE_NEG] * 3) + "\n")
    (folder / "uci_labelled_sentences").mkdir()
    (folder / "uci_labelled_sentences" / "yelp_labelled.txt").write_text(
        "Great food.\t1\nAwful service.\t0\n")
    return folder


def test_sst2_run_writes_config_metrics_and_model(eval_data, tmp_path):
    out = tmp_path / "run"
    argv = ["--dataset", "sst2", "--preset", "tiny", "--epochs", "1", "--out", str(out),
            "--eval-data", str(eval_data), "--set", "batch_size=4", "--quiet",
            # a one-layer, 8-wide tiny BERT on short texts: tracing its graphs is most of
            # the cost, and nothing below depends on its size
            "--set", "tiny_layers=1", "--set", "tiny_hidden_dim=8", "--set", "sequence_length=16"]
    assert train_sentiment.main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["sentiment"]["preset"] == "tiny" and config["sentiment"]["epochs"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == {"sst2-dev", "uci-sentences"}
    assert metrics["results"]["sst2-dev"]["bert"]["n"] == 6
    assert metrics["train_rows"] == 18 and metrics["validation_rows"] == 2
    assert "| sst2-dev | vader |" in (out / "metrics.md").read_text()
    assert (out / "model" / "sentiment.json").is_file()
    # Same folder again: every epoch is done, so it resumes straight to evaluation.
    assert train_sentiment.main(argv) == 0
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 1


def test_bad_override_exits_2(eval_data, tmp_path, capsys):
    argv = ["--dataset", "sst2", "--set", "class_weighting=inverse", "--out", str(tmp_path)]
    assert train_sentiment.main(argv) == 2
    assert "class_weighting" in capsys.readouterr().err
