"""Shared, cached training runs for the recommender tests (one per session)."""

from __future__ import annotations

import functools
import types

import numpy as np

from tests.features.synthetic import leave_last_out, synthetic_reviews
from tfrec_sentiment.features.tables import build_feature_tables
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.train import train_recommender

TINY = dict(embedding_dim=8, output_dim=8, fusion_units=8, text_units=4, hidden_units=(16,),
            history_dim=8, batch_size=64, learning_rate=0.01, early_stopping_patience=3,
            monitor="val_rmse", score_mode="retrieval")  # tests of "learned": test_blend.py


@functools.cache
def synthetic_split(num_users: int = 150, num_items: int = 40, per_user: int = 10,
                    seed: int = 0) -> types.SimpleNamespace:
    reviews = synthetic_reviews(num_users, num_items, per_user, text_dim=8, seed=seed)
    split = leave_last_out(reviews.frame)
    rows = split.train_rows
    tables = build_feature_tables(split.train, reviews.probabilities[rows],
                                  reviews.embeddings[rows])
    return types.SimpleNamespace(reviews=reviews, split=split, tables=tables)


def tiny_config(**overrides) -> RecsysConfig:
    return RecsysConfig(**{**TINY, "epochs": 12, **overrides})


@functools.cache
def trained_full():
    data = synthetic_split()
    return train_recommender(tiny_config(), data.split, data.tables, seed=0)


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))
