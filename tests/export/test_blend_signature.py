"""The exported learned score: `score` / `recommend` compute the fitted blend in-graph."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from tests.export.conftest import TOP_K
from tests.recsys.trained_fixture import synthetic_split
from tfrec_sentiment.export.saved_model import METADATA_FILE
from tfrec_sentiment.pipeline.guardrail import load_published


def test_saved_model_serves_the_blend_by_bucket_and_the_guardrail_reads_it(
        learned, learned_exported):
    # The blend (tests/export/conftest.py `learned`): popularity alone for unknown
    # users, distinct mixes of all four components in the other buckets. The version
    # ranks through the partitioned index probing every partition (the same top K as
    # the exact index: tests/export/test_partitioned_index.py), shared with that test.
    version = learned_exported
    # The guardrail's reader of a published version; `loaded` is its
    # `tf.saved_model.load` of the folder (one load, which restores and retraces every
    # signature, serves both the signature calls here and its `score_items` below).
    published = load_published(version)
    loaded = published.loaded
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
    validation = synthetic_split().split.validation["user_id"].unique()[:4]
    np.testing.assert_allclose(published.score_items(validation, catalogue),
                               learned.score_items(validation, catalogue), atol=1e-4)
