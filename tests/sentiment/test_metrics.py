"""Metric maths against small hand-computed cases, and the compiled MacroF1."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.layer_test_case import run_config_round_trip
from tfrec_sentiment.sentiment.macro_f1 import MacroF1
from tfrec_sentiment.sentiment.metrics import (
    classification_metrics,
    confusion_matrix,
    expected_calibration_error,
    markdown_table,
    to_binary,
)


def test_confusion_precision_recall_f1_by_hand():
    # true:  0 0 1 1 2 2 ; predicted: 0 1 1 1 2 0
    y = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    probabilities = np.eye(3)[predicted] * 0.7 + 0.1
    metrics = classification_metrics(y, probabilities, ("a", "b", "c"))
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # a: precision 1/2, recall 1/2; b: 2/3, 1; c: 1, 1/2.
    per = metrics["per_class"]
    assert per["a"]["precision"] == pytest.approx(0.5) and per["a"]["recall"] == 0.5
    assert per["b"]["precision"] == pytest.approx(2 / 3) and per["b"]["recall"] == 1.0
    assert per["c"]["precision"] == 1.0 and per["c"]["recall"] == 0.5
    f1 = [0.5, 0.8, 2 / 3]
    assert metrics["macro_f1"] == pytest.approx(np.mean(f1))
    assert metrics["accuracy"] == pytest.approx(4 / 6)


def test_absent_class_is_left_out_of_the_macro_average():
    y = np.array([0, 0, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8],
                              [0.1, 0.1, 0.8]])
    metrics = classification_metrics(y, probabilities, ("neg", "neu", "pos"))
    # neg: p 1, r 0.5 -> f1 2/3; pos: p 1, r 1 -> 1; neu has no rows.
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
    assert metrics["per_class"]["neu"]["support"] == 0


def test_ece_by_hand():
    # Two bins used: confidences 0.9 (both right) and 0.6 (one of two right).
    y = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.6, 0.4]])
    expected = 0.5 * abs(0.9 - 1.0) + 0.5 * abs(0.6 - 0.5)
    assert expected_calibration_error(y, probabilities, bins=10) == pytest.approx(expected)


def test_binary_mapping_drops_neutral_mass():
    binary = to_binary(np.array([[0.2, 0.7, 0.1], [0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(binary, [[2 / 3, 1 / 3], [0.5, 0.5]])
    assert confusion_matrix(np.array([1]), np.array([0]), 2).tolist() == [[0, 0], [1, 0]]


def test_markdown_table_has_one_row_per_model():
    metrics = classification_metrics(np.array([0, 1]), np.eye(2), ("n", "p"))
    table = markdown_table({"set": {"bert": metrics, "vader": metrics}})
    assert table.count("| set |") == 2 and "1.000" in table


def test_keras_macro_f1_matches_numpy():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, size=50)
    y[y == 1] = 2  # no neutral rows: the binary-set case
    logits = rng.normal(size=(50, 3)).astype(np.float32)
    metric = MacroF1(num_classes=3)
    metric.update_state(np.eye(3)[y[:20]], logits[:20])
    metric.update_state(np.eye(3)[y[20:]], logits[20:])
    expected = classification_metrics(y, keras.ops.softmax(logits).numpy(), ("a", "b", "c"))
    assert float(metric.result()) == pytest.approx(expected["macro_f1"], rel=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    run_config_round_trip(metric, keras)
