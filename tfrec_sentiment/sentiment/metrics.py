"""Classification metrics of the sentiment model (and its baselines), in numpy.

Accuracy, macro-F1, per-class precision/recall/F1/support, the confusion matrix and
the expected calibration error (ECE: the support-weighted mean gap between the
top-class confidence and the accuracy, over equal-width confidence bins).

Binary sets (SST-2, UCI) have no neutral class. The 3-class output is mapped to
negative vs positive by renormalising over those two classes:
P(pos | binary) = p_pos / (p_neg + p_pos); the neutral mass is dropped, not split.

Example:

>>> y = np.array([0, 1, 1])
>>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
>>> round(classification_metrics(y, p, ("neg", "pos"))["accuracy"], 3)
0.667
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfrec_sentiment.sentiment.labels import NEGATIVE, POSITIVE


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [num_classes, num_classes]: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return matrix


def expected_calibration_error(y_true: np.ndarray, probabilities: np.ndarray,
                               bins: int = 15) -> float:
    """ECE of the top-class confidence over `bins` equal-width bins in (0, 1].

    Args:
        y_true: int class ids [N].
        probabilities: float [N, K], rows summing to 1.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if len(probabilities) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == np.asarray(y_true)).astype(np.float64)
    # Bin b holds confidences in (b/bins, (b+1)/bins]; a confidence of 0 joins bin 0.
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(confidence[members].mean() - correct[members].mean())
    return float(error)


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray,
                           class_names: Sequence[str], bins: int = 15) -> dict:
    """All metrics for one data set, as a JSON-ready dict.

    Args:
        y_true: int class ids [N] in range(len(class_names)).
        probabilities: float [N, len(class_names)]; the prediction is the arg-max.
        class_names: names of the columns.

    Returns:
        dict with `n`, `accuracy`, `macro_f1`, `per_class` {name: precision, recall,
        f1, support}, `confusion_matrix` (rows true, columns predicted) and `ece`.
        A class that is never predicted has precision 0; one absent from `y_true`
        has recall 0 and is left out of the macro average.
    """
    y_true = np.asarray(y_true, np.int64)
    probabilities = np.asarray(probabilities, np.float64)
    k = len(class_names)
    if probabilities.shape != (len(y_true), k):
        raise ValueError(f"probabilities shape {probabilities.shape} != ({len(y_true)}, {k})")
    matrix = confusion_matrix(y_true, probabilities.argmax(axis=1), k)
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    precision = np.divide(true_positive, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros(k), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(k), where=denominator > 0)
    present = support > 0
    return {
        "n": int(len(y_true)),
        "accuracy": float(true_positive.sum() / max(len(y_true), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": matrix.tolist(),
        "ece": expected_calibration_error(y_true, probabilities, bins),
    }


def to_binary(probabilities: np.ndarray) -> np.ndarray:
    """3-class probabilities [N, 3] -> [N, 2] (negative, positive), neutral mass dropped.

    Rows whose negative and positive mass are both 0 become (0.5, 0.5).
    """
    probabilities = np.asarray(probabilities, np.float64)
    pair = probabilities[:, [NEGATIVE, POSITIVE]]
    total = pair.sum(axis=1, keepdims=True)
    return np.divide(pair, total, out=np.full_like(pair, 0.5), where=total > 0)


def markdown_table(results: dict[str, dict[str, dict]]) -> str:
    """A short markdown table: one row per (data set, model) with the headline metrics.

    Args:
        results: {dataset: {model: classification_metrics(...)}}.
    """
    lines = [
        "| data set | model | n | accuracy | macro-F1 | ECE (uncalibrated) | recall per class |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for dataset, models in results.items():
        for model, metrics in models.items():
            recalls = ", ".join(
                f"{name} {values['recall']:.2f}" for name, values in metrics["per_class"].items()
            )
            lines.append(
                f"| {dataset} | {model} | {metrics['n']} | {metrics['accuracy']:.3f} | "
                f"{metrics['macro_f1']:.3f} | {metrics['ece']:.3f}{_before(metrics)} | "
                f"{recalls} |"
            )
    return "\n".join(lines) + "\n"


def _before(metrics: dict) -> str:
    """" (0.123)": the ECE before temperature scaling, where the model was calibrated."""
    return f" ({metrics['ece_uncalibrated']:.3f})" if "ece_uncalibrated" in metrics else ""
