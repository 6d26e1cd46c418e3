"""The model fine-tuning fits: the classifier's logits, its weights, frozen embeddings."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.sentiment.conftest import labelled
from tfrec_sentiment.sentiment.model import SentimentModel
from tfrec_sentiment.sentiment.trainer import (
    build_trainer,
    frozen_token_embeddings,
    preprocessed,
)
from tfrec_sentiment.sentiment.training import train_classifier

TEXTS = tf.constant(["great strings, they hold their tune", "it broke", ""])


def test_logits_are_the_classifiers_on_its_own_weights(tiny_config):
    model = SentimentModel.from_config(tiny_config)
    trainer = build_trainer(model.classifier, attention_dropout=0.0)
    features = model.preprocessor(TEXTS)
    np.testing.assert_allclose(trainer(features), model.classifier(features), atol=1e-5)
    # Shared, not copied: the same variables, so training the trainer trains the classifier.
    assert {id(v) for v in trainer.weights} == {id(v) for v in model.classifier.weights}
    # With dropout, training differs from inference; the dropout is the classifier's.
    dropped = build_trainer(SentimentModel.from_config(
        dataclasses.replace(tiny_config, dropout=0.5)).classifier)
    assert dropped.get_layer("encoder").attention_dropout is None
    assert not np.allclose(dropped(features, training=True), dropped(features), atol=1e-4)


def test_preprocessed_maps_texts_to_the_classifiers_features(tiny_config):
    model = SentimentModel.from_config(tiny_config)
    labels = tf.one_hot([2, 0, 1], 3)
    dataset = preprocessed(tf.data.Dataset.from_tensor_slices((TEXTS, labels)).batch(3),
                           model.preprocessor)
    features, batch_labels = next(iter(dataset))
    expected = model.preprocessor(TEXTS)
    for name, value in expected.items():
        np.testing.assert_array_equal(features[name], value)
    np.testing.assert_array_equal(batch_labels, labels)


def test_frozen_token_embeddings_stay_pretrained_and_the_flag_is_restored(tiny_config,
                                                                          tmp_path):
    # One small layer and one padded length: two fine-tunes below, each mostly tracing.
    tiny_config = dataclasses.replace(tiny_config, tiny_layers=1, tiny_hidden_dim=8,
                                      sequence_length=16, bucket_boundaries=(16,))
    model = SentimentModel.from_config(tiny_config)
    with frozen_token_embeddings(model.classifier, True):
        assert not model.classifier.backbone.token_embedding.trainable
        trainer = build_trainer(model.classifier)
        assert len(trainer.trainable_weights) == len(model.classifier.weights) - 1
    assert model.classifier.backbone.token_embedding.trainable  # saved as trainable
    # A fine-tune with the option, from saved weights (what a preset gives): the table
    # is the saved one, the rest moved.
    model.save(tmp_path / "pretrained")
    config = dataclasses.replace(tiny_config, preset=str(tmp_path / "pretrained"), epochs=1,
                                 train_token_embeddings=False, train_bfloat16=False)
    result = train_classifier(config, labelled(2), labelled(1, "validation"),
                              tmp_path / "frozen", seed=5, verbose=0)
    start, trained = model.classifier.backbone, result.model.classifier.backbone
    np.testing.assert_array_equal(trained.token_embedding.get_weights()[0],
                                  start.token_embedding.get_weights()[0])
    assert not np.allclose(trained.pooled_dense.get_weights()[0],
                           start.pooled_dense.get_weights()[0])
    assert trained.token_embedding.trainable and result.frozen_token_embeddings
    # The "tiny" preset's random table is not pre-trained: it trains whatever the option.
    tiny = dataclasses.replace(config, preset="tiny")
    result = train_classifier(tiny, labelled(2), labelled(1, "validation"), tmp_path / "tiny",
                              seed=5, verbose=0)
    keras.utils.set_random_seed(5)
    initial = SentimentModel.from_config(tiny).classifier.backbone.token_embedding
    assert not np.allclose(result.model.classifier.backbone.token_embedding.get_weights()[0],
                           initial.get_weights()[0])
    assert not result.frozen_token_embeddings

def test_a_checkpoint_of_another_model_is_refused_naming_the_folder(tiny_config, tmp_path):
    # As written before fine-tuning ran through the trainer: the classifier's own weights.
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    SentimentModel.from_config(tiny_config).classifier.save_weights(
        checkpoints / "epoch-001.weights.h5")
    (checkpoints / "state.json").write_text(json.dumps(
        {"epochs_done": 1, "last_checkpoint": "epoch-001.weights.h5"}))
    with pytest.raises(ValueError, match="not a checkpoint of this fine-tuning model.*"
                                         f"remove {checkpoints}"):
        train_classifier(dataclasses.replace(tiny_config, epochs=2), labelled(1),
                         labelled(1, "validation"), tmp_path, seed=0, verbose=0)
