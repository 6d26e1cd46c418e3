"""Macro-F1 as a compiled Keras 3 metric, over the classes present in the labels.

`keras.metrics.F1Score(average="macro")` averages over every class, so on a binary
set (no neutral rows) a 3-class model loses a third of its score to the empty class;
this metric leaves classes without true rows out of the average, exactly like
`metrics.classification_metrics`. State is a confusion matrix, summed across replicas.

Example:

>>> metric = MacroF1(num_classes=3)
>>> metric.update_state([[1, 0, 0], [0, 0, 1]], [[2.0, 0.0, 1.0], [0.0, 0.0, 3.0]])
>>> float(metric.result())
1.0
"""

from __future__ import annotations

import keras
from keras import ops

from tfrec_sentiment.sentiment.preprocessor import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class MacroF1(keras.metrics.Metric):
    """Unweighted mean F1 over classes that have true rows; prediction = arg-max.

    Args:
        num_classes: K, the width of one-hot labels and predictions.

    Call arguments (`update_state`):
        y_true: one-hot labels [B, K].
        y_pred: scores [B, K] (logits or probabilities).
        sample_weight: ignored on purpose; model selection wants the plain F1.
    """

    def __init__(self, num_classes: int = 3, name: str = "macro_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.matrix = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", dtype="float32",
            aggregation="sum", name="confusion_matrix",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        del sample_weight
        truth = ops.cast(ops.convert_to_tensor(y_true), "float32")
        predicted = ops.one_hot(ops.argmax(ops.convert_to_tensor(y_pred), axis=-1),
                                self.num_classes, dtype="float32")
        self.matrix.assign_add(ops.matmul(ops.transpose(truth), predicted))

    def result(self):
        matrix = ops.convert_to_tensor(self.matrix)
        true_positive = ops.diagonal(matrix)
        support = ops.sum(matrix, axis=1)
        predicted = ops.sum(matrix, axis=0)
        precision = ops.divide_no_nan(true_positive, predicted)
        recall = ops.divide_no_nan(true_positive, support)
        f1 = ops.divide_no_nan(2 * precision * recall, precision + recall)
        present = ops.cast(support > 0, "float32")
        return ops.divide_no_nan(ops.sum(f1 * present), ops.sum(present))

    def reset_state(self):
        self.matrix.assign(ops.zeros((self.num_classes, self.num_classes), "float32"))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"num_classes": self.num_classes})
        return config
