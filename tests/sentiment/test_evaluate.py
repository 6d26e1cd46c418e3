"""Evaluation report: binary mapping, both models per set, JSON + markdown written."""

from __future__ import annotations

import json

import numpy as np

from tfrec_sentiment.sentiment.datasets import LabelledTexts
from tfrec_sentiment.sentiment.evaluate import data_record, evaluate_sets, measure, write_report


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


def test_data_record_counts_what_the_capped_fine_tune_read_and_the_report_says_it(tmp_path):
    # Five training texts in time order, capped to the newest three.
    train = LabelledTexts("train", list("abcde"), np.array([0, 1, 2, 2, 1]), False)
    validation = LabelledTexts("validation", ["f", "g"], np.array([2, 0]), False)
    used = train.newest(3)
    record = data_record(len(train), used, validation, cap=3)
    assert record == {"train_rows": 3, "train_rows_available": 5, "max_train_examples": 3,
                      "kept": "the newest", "validation_rows": 2,
                      "train_class_counts": [0, 1, 2]}
    _, md_path = write_report({}, tmp_path, extra=record)
    assert ("Fine-tuned on 3 of 5 training texts (the newest; max_train_examples=3): "
            "0 negative, 1 neutral, 2 positive; 2 validation texts chose the epoch."
            in md_path.read_text())
    # No cap: every text read, and the report says so.
    _, md_path = write_report({}, tmp_path, extra=data_record(5, train, validation, None))
    assert "Fine-tuned on 5 of 5 training texts (the newest; max_train_examples=None)" in (
        md_path.read_text())


def test_report_says_the_best_epoch_and_an_early_stop(tmp_path):
    history = [{"val_macro_f1": f1} for f1 in (0.61, 0.66, 0.64)]
    extra = {"history": history, "best_epoch": 2, "best_validation_macro_f1": 0.66}
    md_path = write_report({}, tmp_path, extra={**extra, "stopped_early": 3})[1]
    assert ("Best epoch 2 of 3 run (validation macro-F1 0.660); stopped early after "
            "epoch 3, 1 without improvement." in md_path.read_text())
    md_path = write_report({}, md_path.parent, extra={**extra, "stopped_early": None})[1]
    assert "Best epoch 2 of 3 run (validation macro-F1 0.660)." in md_path.read_text()
    assert "stopped early" not in md_path.read_text()
