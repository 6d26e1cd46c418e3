"""SentimentModel: outputs, consistency with the classifier, save/load, fingerprint."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.sentiment.conftest import NEGATIVE_TEXTS, POSITIVE_TEXTS
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.model import SentimentModel

TEXTS = POSITIVE_TEXTS[:3] + NEGATIVE_TEXTS[:3] + [""]


def test_scores_have_contract_shapes_and_are_normalised(tiny_model):
    scores = tiny_model.score(TEXTS)
    assert scores.probabilities.shape == (len(TEXTS), 3)
    assert scores.embedding.shape == (len(TEXTS), tiny_model.embedding_dim)
    assert scores.probabilities.dtype == scores.embedding.dtype == np.float32
    np.testing.assert_allclose(scores.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # The empty text (last) has the defined answer: zero embedding, label "none".
    np.testing.assert_allclose(np.linalg.norm(scores.embedding, axis=1),
                               [1.0] * (len(TEXTS) - 1) + [0.0], rtol=1e-5)
    assert set(scores.labels[:-1]) <= {"negative", "neutral", "positive"}
    assert scores.labels[-1] == "none"


def test_scorer_probabilities_are_the_classifier_softmax(tiny_model):
    # The scorer reuses the classifier's layers: same weights, same answer (but the
    # class prior for the empty text).
    logits = tiny_model.classifier.predict(np.array(TEXTS), verbose=0)
    expected = keras.ops.softmax(logits).numpy()
    expected[-1] = tiny_model.class_prior
    np.testing.assert_allclose(tiny_model.score(TEXTS).probabilities, expected, atol=1e-5)


def test_save_load_round_trip_keeps_scores_and_fingerprint(tiny_model, tmp_path):
    tiny_model.save(tmp_path / "model")
    restored = SentimentModel.load(tmp_path / "model")
    assert restored.fingerprint() == tiny_model.fingerprint()
    assert restored.metadata["labels"] == ["negative", "neutral", "positive"]
    before, after = tiny_model.score(TEXTS), restored.score(TEXTS)
    np.testing.assert_allclose(after.probabilities, before.probabilities, atol=1e-6)
    np.testing.assert_allclose(after.embedding, before.embedding, atol=1e-6)
    # A saved folder is itself a preset: building from it loads it.
    again = SentimentModel.from_config(SentimentConfig(preset=str(tmp_path / "model"),
                                                       sequence_length=32,
                                                       bucket_boundaries=(8, 16, 32)))
    assert again.fingerprint() == tiny_model.fingerprint()


def test_fingerprint_follows_the_weights():
    model = SentimentModel.from_config(SentimentConfig(preset="tiny", sequence_length=16))
    first = model.fingerprint()
    dense = model.output_dense
    dense.kernel.assign(dense.kernel.numpy() + 1.0)
    assert model.fingerprint() != first


def test_tail_tokens_reach_a_loaded_model_and_its_fingerprint(tiny_model, tmp_path):
    tiny_model.save(tmp_path / "model")
    long_text = " ".join(["great"] * 40 + ["broke"])
    loaded = SentimentModel.from_config(SentimentConfig(preset=str(tmp_path / "model"),
                                                        sequence_length=32, tail_tokens=4))
    assert loaded.preprocessor.tail_tokens == 4
    # The last token is read now: another input, another fingerprint (score cache key).
    assert loaded.preprocessor.token_ids([long_text]).to_list()[0][-1] != \
        tiny_model.preprocessor.token_ids([long_text]).to_list()[0][-1]
    assert loaded.fingerprint() != tiny_model.fingerprint()
    loaded.save(tmp_path / "tail")
    assert SentimentModel.load(tmp_path / "tail").preprocessor.tail_tokens == 4


def test_a_saved_model_fine_tuned_further_takes_the_configs_length(tiny_model, tmp_path):
    # tools/train_sentiment.py --set preset=<first stage> --set sequence_length=L once
    # kept the folder's length and recorded L in its config.
    tiny_model.save(tmp_path / "model")
    long_text = " ".join(["great"] * 40)
    assert tiny_model.preprocessor.packed_lengths([long_text]).numpy().tolist() == [32]
    shorter = SentimentModel.from_config(SentimentConfig(
        preset=str(tmp_path / "model"), sequence_length=16, bucket_boundaries=(8,)))
    assert shorter.preprocessor.sequence_length == 16
    assert shorter.preprocessor.packed_lengths([long_text]).numpy().tolist() == [16]
    features = shorter.preprocessor(tf.constant([long_text, "ok"]))
    assert features["token_ids"].shape == (2, 16)
    assert shorter.preprocessor(tf.constant(["ok"]))["token_ids"].shape == (1, 8)
    assert shorter.fingerprint() != tiny_model.fingerprint()  # another score cache key
    shorter.save(tmp_path / "short")
    assert SentimentModel.load(tmp_path / "short").preprocessor.sequence_length == 16
    # The tiny backbone has 32 positions: a longer setting is refused, not truncated.
    with pytest.raises(ValueError, match="sequence_length 64 exceeds the backbone's 32"):
        SentimentModel.from_config(SentimentConfig(preset=str(tmp_path / "model"),
                                                   sequence_length=64))


def test_missing_folder_and_too_long_sequences_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved SentimentModel"):
        SentimentModel.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="not 'minilm'"):
        SentimentModel.from_config(SentimentConfig(preset="bert_base_en"))
