"""Writes this folder: a tiny recommender saved by the code on PYTHONPATH, and its outputs.

The committed copy was written by main at 1eef038 (the towers as one flat layer,
weights format 1), from the repository root:

    PYTHONPATH=. python tests/recsys/data/format_1_run/make_fixture.py \
        tests/recsys/data/format_1_run

Every weight is set to a random non-zero value, so that one left behind by a load
changes the outputs. tests/recsys/test_weights_format.py loads it with the current
code and compares.
"""
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

import tfrec_sentiment  # noqa: F401
from tests.features.synthetic import leave_last_out, synthetic_reviews
from tfrec_sentiment.features.tables import build_feature_tables
from tfrec_sentiment.recsys.build import build_model
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.trained import TrainedRecommender, build_model_variables

out = Path(sys.argv[1])
reviews = synthetic_reviews(num_users=10, num_items=6, per_user=4, text_dim=4, seed=3)
split = leave_last_out(reviews.frame)
tables = build_feature_tables(split.train, reviews.probabilities[split.train_rows],
                              reviews.embeddings[split.train_rows])
config = RecsysConfig(embedding_dim=3, output_dim=3, fusion_units=2, text_units=2,
                      hidden_units=(4,), history_dim=2, retrieval_bias=True,
                      score_mode="retrieval", epochs=1)
model = build_model(config, tables)
build_model_variables(model, tables, config)
rng = np.random.default_rng(0)
for v in model.variables:  # every weight non-zero, so that a weight left behind shows
    v.assign(rng.normal(scale=0.5, size=v.shape).astype(v.dtype.as_numpy_dtype))
trained = TrainedRecommender(model, tables, config)
trained.save(out / "recsys")
users = np.append(tables.ids["user"][:5], "never-seen-user")
items = np.append(tables.ids["item"], "never-seen-item")
expected = {
    "rating": trained.predict_rating(np.repeat(users, len(items)), np.tile(items, len(users))),
    "scores": trained.score_items(users, items),
}
for side, ids in (("user", users), ("item", items)):
    tower = getattr(trained.serving, f"{side}_tower")(tf.constant(ids))
    for key, value in tower.items():
        expected[f"{side}_{key}"] = value.numpy()
np.savez(out / "expected.npz", users=users.astype(str), items=items.astype(str), **expected)
print({k: v.shape for k, v in expected.items()})
print(sorted(n for n, _ in tf.train.list_variables(str(out / "recsys/weights/model"))))
