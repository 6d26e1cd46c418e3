"""Batch inference: order, duplicates, padding invariance, and the score cache."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.sentiment.conftest import NEGATIVE_TEXTS, NEUTRAL_TEXTS, POSITIVE_TEXTS
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.inference import (
    ScoreCache,
    forward_function,
    packed_lengths,
    predict_sorted,
    score_texts,
    token_ids,
)
from tfrec_sentiment.sentiment.model import SentimentModel

TEXTS = POSITIVE_TEXTS + NEGATIVE_TEXTS + NEUTRAL_TEXTS


def test_sorted_batches_return_rows_in_input_order(tiny_model):
    one_by_one = predict_sorted(tiny_model, TEXTS, batch_size=1).probabilities
    batched = predict_sorted(tiny_model, TEXTS, batch_size=4)
    # Different batch companions and bucket lengths, same per-text answer.
    np.testing.assert_allclose(batched.probabilities, one_by_one, atol=1e-5)
    lengths = packed_lengths(tiny_model, TEXTS)
    assert lengths.min() >= 2 and lengths.max() <= 32


def test_scores_from_ids_tokenized_once_equal_the_preprocessors_call(tiny_model):
    texts = TEXTS + ["<p>Great strings!</p> 👍", "", "the cable broke " * 20]
    sorted_scores = predict_sorted(tiny_model, texts, batch_size=3)
    # The whole list through the preprocessor's call: one batch, one padded length.
    direct = forward_function(tiny_model)(tiny_model.preprocessor(tf.constant(texts)))
    np.testing.assert_allclose(sorted_scores.probabilities,
                               direct["probabilities"].numpy(), atol=1e-5)
    np.testing.assert_allclose(sorted_scores.embedding, direct["embedding"].numpy(), atol=1e-4)
    ids = token_ids(tiny_model, texts, batch_size=4)  # batches joined in order
    assert ids.nrows() == len(texts)
    np.testing.assert_array_equal(ids.row_lengths().numpy() + 2,
                                  packed_lengths(tiny_model, texts))


def test_cache_counts_hits_and_skips_known_texts(tiny_model, tmp_path):
    cache = ScoreCache(tmp_path)
    first = score_texts(tiny_model, TEXTS[:6] + TEXTS[:2], cache=cache)
    assert cache.stats == {"hits": 0, "misses": 6}  # duplicates scored once
    fresh = ScoreCache(tmp_path)  # a new process: reads the shards from disk
    second = score_texts(tiny_model, TEXTS[:8], cache=fresh)
    assert fresh.stats == {"hits": 6, "misses": 2}
    np.testing.assert_allclose(second.probabilities[:6], first.probabilities[:6], atol=0)
    direct = score_texts(tiny_model, TEXTS[:8])
    np.testing.assert_allclose(second.embedding, direct.embedding, atol=1e-5)


def test_other_weights_never_read_cached_scores(tiny_model, tmp_path):
    cache = ScoreCache(tmp_path)
    score_texts(tiny_model, TEXTS[:3], cache=cache)
    other = SentimentModel.from_config(SentimentConfig(preset="tiny", sequence_length=32,
                                                 tiny_layers=1, tiny_hidden_dim=16))
    score_texts(other, TEXTS[:3], cache=cache)
    assert cache.stats == {"hits": 0, "misses": 6}
    assert len(list(tmp_path.iterdir())) == 2  # one folder per fingerprint


def test_empty_input_gives_empty_arrays(tiny_model):
    scores = score_texts(tiny_model, [])
    assert scores.probabilities.shape == (0, 3)
    assert scores.embedding.shape == (0, tiny_model.embedding_dim)


def test_bfloat16_scores_are_close_and_cached_apart(tiny_model, tmp_path):
    cache = ScoreCache(tmp_path)
    full = score_texts(tiny_model, TEXTS, cache=cache)
    half = score_texts(tiny_model, TEXTS, cache=cache, bfloat16=True)
    assert cache.stats == {"hits": 0, "misses": 2 * len(set(TEXTS))}
    assert 0 < np.abs(half.probabilities - full.probabilities).max() < 2e-2
    np.testing.assert_allclose(half.probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_pipeline_bfloat16_only_where_native(monkeypatch):
    from tfrec_sentiment.sentiment import inference

    monkeypatch.setattr(inference, "native_bfloat16", lambda: False)
    with pytest.warns(UserWarning, match="no native bfloat16"):
        assert inference.use_bfloat16(True) is False
    with pytest.warns(UserWarning, match=r"^sentiment.train_bfloat16: .* fine-tuning in float32"):
        assert inference.use_bfloat16(True, "sentiment.train_bfloat16", "fine-tuning") is False
    assert inference.use_bfloat16(False) is False
    monkeypatch.setattr(inference, "native_bfloat16", lambda: True)
    assert inference.use_bfloat16(True) is True
