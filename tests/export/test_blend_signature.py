"""The exported learned score: `score` / `recommend` compute the fitted blend in-graph."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import tensorflow as tf

from tests.export.conftest import TOP_K
from tests.recsys.trained_fixture import synthetic_split
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.saved_model import METADATA_FILE, export_run
from tfrec_sentiment.pipeline.guardrail import load_published
from tfrec_sentiment.recsys.blend import BlendWeights
from tfrec_sentiment.recsys.trained import TrainedRecommender


def test_saved_model_serves_the_blend_by_bucket_and_the_guardrail_reads_it(
        tiny_sentiment, trained, tmp_path):
    learned = TrainedRecommender(trained.model, trained.tables,
                                 dataclasses.replace(trained.config, score_mode="learned"))
    # Distinct weights per bucket, so a wrong bucket shows: "0" popularity only,
    # "1" and "2-4" retrieval only, "5+" an even mix of rating and kNN.
    learned.blend = BlendWeights(learned.serving.components, (1, 2, 5), np.array(
        [[0, 0, 1, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0.5, 0, 0.5]], np.float32))
    learned._serving = None
    config = ExportConfig(root=str(tmp_path / "models"), top_k=TOP_K)
    version = export_run(tmp_path / "run", config, sentiment=tiny_sentiment,
                         recommender=learned)  # audits the ops: core TF only
    loaded = tf.saved_model.load(str(version))
    catalogue = learned.tables.ids["item"].astype(str)
    users = np.array(["u001", "u042", "nobody", ""])
    scores = loaded.signatures["score"](user_id=tf.constant(users),
                                        item_id=tf.constant(catalogue))["scores"].numpy()
    parts = learned.components(users, catalogue)
    assert parts["history"].tolist()[2:] == [0, 0] and parts["history"][0] >= 5
    np.testing.assert_allclose(scores, learned.blend.apply(parts, parts["history"]), atol=1e-4)
    # Unknown users (bucket "0") rank by popularity alone: z of log(1 + reviews).
    counts = np.bincount(learned.tables.rows["item_index"], minlength=len(catalogue))
    z = np.log1p(counts) - np.log1p(counts).mean()
    np.testing.assert_allclose(scores[2], z / np.sqrt((z ** 2).mean()), atol=1e-4)
    # `recommend` is the top K of those scores without the user's reviewed items.
    top = loaded.signatures["recommend"](user_id=tf.constant(users[2:3]))
    want = catalogue[np.argsort(-scores[2], kind="stable")[:TOP_K]]
    assert set(v.decode() for v in top["item_ids"].numpy()[0]) == set(want)
    facts = json.loads((version / "assets.extra" / METADATA_FILE).read_text())
    assert facts["recommender"]["config"]["score_mode"] == "learned"
    published = load_published(version)
    validation = synthetic_split().split.validation["user_id"].unique()[:4]
    np.testing.assert_allclose(published.score_items(validation, catalogue),
                               learned.score_items(validation, catalogue), atol=1e-4)
