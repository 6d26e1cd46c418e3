"""The distilled student: truncation, distillation, its folder, serving in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.export.wire import decode, encode
from tests.sentiment.conftest import NEGATIVE_TEXTS, POSITIVE_TEXTS
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.saved_model import ExportError, export_run
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.model import SentimentModel
from tfrec_sentiment.sentiment.student import (
    SoftTargetCrossEntropy,
    distill,
    truncated_student,
)

SERVER = Path(__file__).parents[1] / "export" / "standalone_server.py"
TEXTS = POSITIVE_TEXTS[:4] + NEGATIVE_TEXTS[:4]


def test_the_student_is_the_teachers_bottom_layers_and_learns_its_answers(tmp_path):
    config = SentimentConfig(preset="tiny", tiny_layers=2, tiny_hidden_dim=8, sequence_length=16)
    teacher = SentimentModel.from_config(config)
    teacher.set_temperature(2.0)
    student = truncated_student(teacher, num_layers=1)
    teacher_fingerprint = teacher.fingerprint()
    small, big = student.classifier.backbone, teacher.classifier.backbone
    assert small.num_layers == 1 and student.temperature == 2.0
    for name in ("token_embedding", "transformer_layer_0", "pooled_dense"):
        for mine, theirs in zip(small.get_layer(name).get_weights(),
                                big.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match=r"num_layers must be in \[1, 2\)"):
        truncated_student(teacher, num_layers=2)

    texts = TEXTS * 4
    dense = teacher.output_dense  # the teacher's answers now differ: something to learn
    dense.kernel.assign(dense.kernel.numpy() * 40.0)
    teacher.set_temperature(2.0)
    targets = teacher.score(texts)
    gap_before = np.abs(student.score(texts).probabilities - targets.probabilities).mean()
    history = distill(teacher, student, texts + [""], _with_empty(targets), epochs=4,
                      batch_size=8, learning_rate=3e-3)["loss_per_epoch"]
    gap_after = np.abs(student.score(texts).probabilities - targets.probabilities).mean()
    assert len(history) == 4 and history[-1] < history[0]
    assert gap_after < 0.7 * gap_before, (gap_before, gap_after)
    assert student.temperature == 2.0  # its logits / T learnt the calibrated answers

    # Saved and served alone: the exported module in a fresh process (no Keras, no
    # package) gives the student's scores.
    student.save(tmp_path / "student")
    restored = SentimentModel.load(tmp_path / "student")
    assert restored.describe()["student_of"] == teacher_fingerprint
    assert restored.describe()["layers"] == 1
    module = restored.as_module()
    tf.saved_model.save(module, str(tmp_path / "served"),
                        signatures={"sentiment": module.__call__.get_concrete_function()})
    requests = tmp_path / "requests.json"
    requests.write_text(json.dumps([{"signature": "sentiment",
                                     "inputs": {"text": encode(tf.constant(TEXTS))}}]))
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    served = subprocess.run([sys.executable, str(SERVER), str(tmp_path / "served"),
                             str(requests)], capture_output=True, text=True, timeout=300,
                            env=env)
    assert served.returncode == 0, served.stderr[-3000:]
    answer = json.loads(served.stdout.strip().splitlines()[-1])
    assert answer["ops"]["unknown"] == []
    np.testing.assert_allclose(decode(answer["results"][0]["probabilities"]),
                               student.score(TEXTS).probabilities, atol=1e-5)


def test_the_best_epoch_by_validation_is_kept():
    config = SentimentConfig(preset="tiny", tiny_layers=2, tiny_hidden_dim=8, sequence_length=16)
    teacher = SentimentModel.from_config(config)
    student = truncated_student(teacher, num_layers=1)
    weights, scores = [], iter([0.4, 0.6, 0.6, 0.5])  # epoch 2 best, tied by epoch 3

    def validation():
        weights.append(student.classifier.get_weights())
        return next(scores)

    result = distill(teacher, student, TEXTS, epochs=4, batch_size=8, learning_rate=1e-2,
                     temperature=2.0, validation=validation)
    assert result["validation_per_epoch"] == [0.4, 0.6, 0.6, 0.5]
    assert result["best_epoch"] == 2 and len(result["loss_per_epoch"]) == 4
    assert result["stopped_early"] is None
    assert not np.array_equal(weights[1][0], weights[3][0])  # it did train on
    for kept, epoch_2 in zip(student.classifier.get_weights(), weights[1], strict=True):
        np.testing.assert_array_equal(kept, epoch_2)

    # With a patience of 2 the tie (epoch 3) and the drop (epoch 4) end it after
    # epoch 4 of 6; with 1, after epoch 3; the best epoch is the same.
    for patience, ran in ((2, 4), (1, 3)):
        weights.clear()
        scores = iter([0.4, 0.6, 0.6, 0.5, 0.9, 0.9])
        result = distill(teacher, student, TEXTS, epochs=6, batch_size=8,
                         learning_rate=1e-2, validation=validation, patience=patience)
        assert result["validation_per_epoch"] == [0.4, 0.6, 0.6, 0.5, 0.9, 0.9][:ran]
        assert (result["best_epoch"], result["stopped_early"]) == (2, ran)
        assert len(result["loss_per_epoch"]) == len(weights) == ran


@pytest.mark.parametrize("class_weighting", ["none", "balanced", "sqrt"])
def test_each_text_is_weighted_by_the_teachers_class(monkeypatch, class_weighting):
    from tfrec_sentiment.sentiment.labels import class_weights
    from tfrec_sentiment.sentiment.scores import Scores

    config = SentimentConfig(preset="tiny", tiny_layers=2, tiny_hidden_dim=8, sequence_length=16)
    teacher = SentimentModel.from_config(config)
    student = truncated_student(teacher, num_layers=1)
    classes = np.array([2, 2, 2, 2, 2, 0, 0, 1])  # the teacher's answers: mostly positive
    probabilities = np.full((len(TEXTS), 3), 0.1, np.float32)
    probabilities[np.arange(len(TEXTS)), classes] = 0.8
    scores = Scores(probabilities, np.zeros((len(TEXTS), teacher.embedding_dim), np.float32))
    seen, train_on_batch = [], keras.Model.train_on_batch

    def recording(model, x, y=None, sample_weight=None, **kwargs):
        seen.append(np.asarray(sample_weight))
        return train_on_batch(model, x, y, sample_weight=sample_weight, **kwargs)

    monkeypatch.setattr(keras.Model, "train_on_batch", recording)
    distill(teacher, student, TEXTS, scores, epochs=1, batch_size=3,
            class_weighting=class_weighting)
    expected = class_weights(classes, class_weighting)[classes]
    np.testing.assert_allclose(np.sort(np.concatenate(seen)), np.sort(expected), rtol=1e-6)
    assert np.concatenate(seen).mean() == pytest.approx(1.0)  # the unweighted loss scale
    if class_weighting == "balanced":  # each class carries the same total weight
        assert expected[classes == 0].sum() == pytest.approx(expected[classes == 2].sum())


def test_soft_targets_at_a_temperature():
    teacher = np.array([[0.7, 0.2, 0.1], [0.05, 0.15, 0.8]], np.float32)
    student = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]], np.float32)
    plain = keras.losses.CategoricalCrossentropy()(teacher, student)
    np.testing.assert_allclose(SoftTargetCrossEntropy(1.0)(teacher, student), plain, rtol=1e-5)
    # At T both rows are softmax(log p / T); the loss is T^2 times their cross-entropy.
    t = 3.0
    soft_t = tf.nn.softmax(np.log(teacher) / t)
    soft_s = tf.nn.softmax(np.log(student) / t)
    expected = t * t * keras.losses.CategoricalCrossentropy()(soft_t, soft_s)
    np.testing.assert_allclose(SoftTargetCrossEntropy(t)(teacher, student), expected, rtol=1e-5)
    assert SoftTargetCrossEntropy.from_config(SoftTargetCrossEntropy(t).get_config()
                                              ).temperature == t
    with pytest.raises(ValueError, match="temperature must be > 0"):
        SoftTargetCrossEntropy(0.0)


def test_a_student_export_needs_the_runs_student(tmp_path):
    with pytest.raises(ExportError, match="sentiment.student_layers > 0"):
        export_run(tmp_path, ExportConfig(root=str(tmp_path / "saved"),
                                          sentiment_model="student"))


def _with_empty(scores):
    """The teacher's scores with one more row, for the empty text distil() skips."""
    from tfrec_sentiment.sentiment.scores import Scores

    return Scores(np.concatenate([scores.probabilities, scores.probabilities[:1]]),
                  np.concatenate([scores.embedding, scores.embedding[:1]]))
