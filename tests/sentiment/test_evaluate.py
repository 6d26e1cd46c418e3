"""Evaluation report: binary mapping, both models per set, JSON + markdown written."""

from __future__ import annotations

import json

import numpy as np

from tfrec_sentiment.sentiment.datasets import LabelledTexts
from tfrec_sentiment.sentiment.evaluate import evaluate_sets, measure, write_report


def test_binary_sets_are_measured_negative_vs_positive():
    data = LabelledTexts("b", ["x", "y"], np.array([0, 2]), binary=True)
    # Neutral dominates both rows, yet the neg/pos renormalisation gets both right.
    metrics = measure(data, np.array([[0.3, 0.6, 0.1], [0.1, 0.6, 0.3]]))
    assert metrics["accuracy"] == 1.0
    assert list(metrics["per_class"]) == ["negative", "positive"]


def test_report_holds_bert_and_vader_for_every_set(tiny_model, tmp_path):
    sets = [LabelledTexts("toy", ["love it", "it broke", "ok"], np.array([2, 0, 1]), False)]
    results = evaluate_sets(tiny_model, sets)
    assert sorted(results["toy"]) == ["bert", "vader"]
    json_path, md_path = write_report(results, tmp_path, extra={"dataset": "toy"})
    payload = json.loads(json_path.read_text())
    assert payload["dataset"] == "toy" and payload["results"]["toy"]["vader"]["n"] == 3
    assert "| toy | bert | 3 |" in md_path.read_text()
