"""Fine-tuning: batch order, pipeline shapes, checkpoints, resume, 2 replicas."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.sentiment.conftest import labelled
from tfrec_sentiment.distribute.strategy import make_strategy
from tfrec_sentiment.sentiment.checkpoints import read_state
from tfrec_sentiment.sentiment.labels import class_weights
from tfrec_sentiment.sentiment.metrics import classification_metrics
from tfrec_sentiment.sentiment.training import (
    epoch_order,
    train_classifier,
    training_dataset,
)


def test_epoch_order_is_a_deterministic_length_sorted_permutation():
    lengths = np.random.default_rng(0).integers(3, 128, size=1003)
    order = epoch_order(lengths, batch_size=10, seed=7, epoch=2, pool_batches=20)
    assert sorted(order.tolist()) == list(range(1003))
    np.testing.assert_array_equal(order, epoch_order(lengths, 10, 7, 2, 20))
    assert not np.array_equal(order, epoch_order(lengths, 10, 7, 3, 20))
    batches = order[:1000].reshape(100, 10)
    spread = np.ptp(lengths[batches], axis=1).mean()
    random_spread = np.ptp(lengths[np.arange(1000).reshape(100, 10)], axis=1).mean()
    assert spread < random_spread / 4  # sorting in pools makes batches length-homogeneous


def test_training_dataset_yields_each_epoch_in_full(tiny_model):
    data = labelled()
    lengths = np.arange(len(data)) % 7 + 3
    weights = class_weights(data.labels)
    dataset = training_dataset(data, lengths, weights, batch_size=8, seed=0, epochs=[0, 1])
    batches = list(dataset)
    per_epoch = -(-len(data) // 8)
    assert len(batches) == 2 * per_epoch
    texts, onehot, sample_weight = batches[0]
    assert texts.dtype == tf.string and onehot.shape == (8, 3)
    seen = [t.decode() for b in batches[:per_epoch] for t in b[0].numpy()]
    assert sorted(seen) == sorted(data.texts)
    np.testing.assert_allclose(sample_weight, weights[np.argmax(onehot, axis=1)])
    features, _, _ = tiny_model.preprocessor(texts, onehot, sample_weight)
    assert features["padding_mask"].dtype == tf.int32


class StopAfterFirstEpoch(keras.callbacks.Callback):
    """Simulates a crash once epoch 1's checkpoint is on disk."""

    def __init__(self):
        super().__init__()
        self.logs = []  # epoch 1's logs as the interrupted run saw them

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append({k: float(v) for k, v in (logs or {}).items()})
        raise KeyboardInterrupt("simulated crash")


def small(config):
    """The tiny config made smaller still: one layer, one padded length, fewer steps.

    Each `train_classifier` call's cost is mostly tracing, which grows with the
    number of ops and of distinct batch shapes (the toy texts fit in 16 tokens).
    """
    return dataclasses.replace(config, tiny_layers=1, tiny_hidden_dim=8, sequence_length=16,
                               bucket_boundaries=(16,), inference_batch_size=20)


def test_interrupted_run_resumes_where_it_stopped(tiny_config, tmp_path):
    data, validation = labelled(2), labelled(1, "validation")
    # dropout 0: the comparison below is exact only without dropout noise
    tiny_config = dataclasses.replace(small(tiny_config), dropout=0.0, batch_size=8)
    straight = train_classifier(tiny_config, data, validation, tmp_path / "straight",
                                seed=3, verbose=0)
    # Fine-tuning sets the empty-text answer from its training labels (12 negative,
    # 8 neutral, 12 positive). Formerly tests/sentiment/test_empty_text.py, which
    # fine-tuned a model of its own for it.
    prior = [12 / 32, 8 / 32, 12 / 32]
    np.testing.assert_allclose(straight.model.class_prior, prior)
    np.testing.assert_allclose(straight.model.score([""]).probabilities, [prior], atol=1e-7)
    crash = StopAfterFirstEpoch()
    with pytest.raises(KeyboardInterrupt):
        train_classifier(tiny_config, data, validation, tmp_path / "resumed", seed=3,
                         verbose=0, callbacks=[crash])
    state = read_state(tmp_path / "resumed" / "checkpoints")
    assert state["epochs_done"] == 1 and state["last_checkpoint"] == "epoch-001.weights.h5"
    resumed = train_classifier(tiny_config, data, validation, tmp_path / "resumed", seed=3,
                               verbose=0)
    assert resumed.epochs_run == 1 and straight.epochs_run == 2
    assert len(resumed.history) == len(straight.history) == 2
    # The whole history survives the resume: epoch 1 as the interrupted run logged it.
    assert set(resumed.history[0]) >= {"loss", "val_loss", "val_macro_f1"}
    assert resumed.history[0] == pytest.approx(crash.logs[0])
    assert resumed.history[0] == pytest.approx(straight.history[0], rel=1e-4)
    final = read_state(tmp_path / "resumed" / "checkpoints")["last_checkpoint"]
    assert final == "epoch-002.weights.h5"
    assert sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()) == [
        "best.weights.h5", "epoch-002.weights.h5", "state.json"]
    # Same batches, same optimizer state: the resumed run ends where the straight one did.
    for a, b in zip(resumed.history[-1].values(), straight.history[-1].values()):
        assert a == pytest.approx(b, rel=1e-4)
    texts = validation.texts
    np.testing.assert_allclose(resumed.model.score(texts).probabilities,
                               straight.model.score(texts).probabilities, atol=1e-5)
    # Nothing left to do: a third call trains no epoch.
    again = train_classifier(tiny_config, data, validation, tmp_path / "resumed", seed=3,
                             verbose=0)
    assert again.epochs_run == 0


def test_early_stopping_ends_after_patience_epochs_and_survives_a_resume(tiny_config,
                                                                         tmp_path):
    data, validation = labelled(2), labelled(1, "validation")
    # A step size of 1e-12 leaves every prediction as it was: validation macro-F1 never
    # rises after epoch 1, so epoch 1 stays the best and the patience is what decides.
    config = dataclasses.replace(small(tiny_config), epochs=4, learning_rate=1e-12,
                                 early_stopping_patience=2, batch_size=8)
    stopped = train_classifier(config, data, validation, tmp_path, seed=0, verbose=0)
    scores = [epoch["val_macro_f1"] for epoch in stopped.history]
    assert len(scores) == 3 and len(set(scores)) == 1  # epochs 2 and 3 did not improve
    assert (stopped.best_epoch, stopped.stopped_early, stopped.epochs_run) == (1, 3, 3)
    state = read_state(tmp_path / "checkpoints")
    assert state["stopped_early"] == 3 and state["epochs_done"] == 3
    # A second call with the same settings resumes into the same decision: nothing runs.
    again = train_classifier(config, data, validation, tmp_path, seed=0, verbose=0)
    assert (again.epochs_run, again.stopped_early, len(again.history)) == (0, 3, 3)
    # Without early stopping the resumed run finishes the planned epochs.
    unbounded = dataclasses.replace(config, early_stopping_patience=None)
    rest = train_classifier(unbounded, data, validation, tmp_path, seed=0, verbose=0)
    assert (rest.epochs_run, rest.stopped_early, len(rest.history)) == (1, None, 4)
    assert "stopped_early" not in read_state(tmp_path / "checkpoints")


def test_two_replicas_train_and_select_by_true_macro_f1(tiny_config, tmp_path):
    strategy = make_strategy("mirrored", replicas=2)
    assert strategy.num_replicas_in_sync == 2
    data, validation = labelled(3), labelled(1, "validation")
    tiny_config = dataclasses.replace(small(tiny_config), epochs=2)
    result = train_classifier(tiny_config, data, validation, tmp_path, strategy=strategy,
                              seed=0, verbose=0)
    losses = [epoch["loss"] for epoch in result.history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    best = max(range(2), key=lambda e: state["history"][e]["val_macro_f1"])
    assert result.best_epoch == best + 1
    # The compiled metric, summed over replicas, equals numpy's macro-F1 of the predictions
    # of the best weights (which the returned model holds).
    expected = classification_metrics(
        validation.labels, result.model.score(validation.texts).probabilities,
        ("negative", "neutral", "positive"))["macro_f1"]
    assert result.best_macro_f1 == pytest.approx(expected, abs=1e-5)


def test_bfloat16_fine_tuning_trains_a_mixed_copy_and_returns_float32_weights(tiny_config,
                                                                             tmp_path):
    data, validation = labelled(2), labelled(1, "validation")
    config = dataclasses.replace(small(tiny_config), dropout=0.0, batch_size=8,
                                 train_bfloat16=True)
    result = train_classifier(config, data, validation, tmp_path / "bf16", seed=3, verbose=0)
    from tfrec_sentiment.sentiment.inference import native_bfloat16

    assert result.bfloat16 == native_bfloat16()  # asked for; float32 where emulated
    backbone = result.model.classifier.backbone
    assert backbone.dtype_policy.name == "float32"  # scored, saved, exported in float32
    assert all(w.dtype == "float32" for w in result.model.classifier.weights)
    # Its weights are the mixed copy's best epoch: loaded into such a copy, the same.
    from tfrec_sentiment.sentiment.inference import bfloat16_copy

    mixed = bfloat16_copy(result.model)
    assert mixed.classifier.backbone.dtype_policy.name == "mixed_bfloat16"
    # (Checkpoints are the fitted model's: `trainer.build_trainer` on the classifier.)
    from tfrec_sentiment.sentiment.trainer import build_trainer

    build_trainer(mixed.classifier).load_weights(
        tmp_path / "bf16" / "checkpoints" / "best.weights.h5")
    for a, b in zip(mixed.classifier.get_weights(), result.model.classifier.get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    # It trained: the weights moved from the ones the same seed starts from.
    from tfrec_sentiment.sentiment.model import SentimentModel

    keras.utils.set_random_seed(3)
    start = SentimentModel.from_config(config)
    assert all(np.isfinite(epoch["loss"]) for epoch in result.history)
    assert not np.allclose(result.model.output_dense.get_weights()[0],
                           start.output_dense.get_weights()[0])
