"""The cold-start protocol: given / later reviews, hand-computed metrics, and no leak
of a held-out user into training or features (nor into an exported model:
tests/pipeline/test_train_pipeline.py, on its run's export)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.data import splits
from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.evaluation import cold_start
from tfrec_sentiment.evaluation.baselines import ItemKNN, Popularity
from tfrec_sentiment.evaluation.config import EvalConfig


def _rows(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_task_gives_the_first_k_reviews_by_time_with_the_split_tie_order():
    cold = _rows([("c", "x", 5.0, 30), ("c", "y", 4.0, 10), ("c", "z", 3.0, 20),
                  ("d", "p", 5.0, 10), ("d", "q", 5.0, 10),  # a tie on the day
                  ("e", "only", 5.0, 10)])
    task = cold_start.cold_start_task(cold, k=1)
    first_d = "p" if splits.tie_break_keys(cold.iloc[3:5])[0] < \
        splits.tie_break_keys(cold.iloc[3:5])[1] else "q"
    assert dict(zip(task.given["user_id"], task.given["item_id"])) == {"c": "y", "d": first_d}
    assert sorted(task.later.loc[task.later["user_id"] == "c", "item_id"]) == ["x", "z"]
    assert task.counts == {"cold_users": 3, "users": 2, "too_few_reviews": 1,
                           "seen_in_training": 0, "given_rows": 2, "later_rows": 3}
    shuffled = cold_start.cold_start_task(cold.sample(frac=1.0, random_state=3), k=1)
    assert sorted(shuffled.given["item_id"]) == sorted(task.given["item_id"])
    three = cold_start.cold_start_task(cold, k=3)
    assert three.counts["users"] == 0 and three.counts["too_few_reviews"] == 3
    skipped = cold_start.cold_start_task(cold, k=1, known_users=["c"])
    assert skipped.counts["seen_in_training"] == 1 and set(skipped.given["user_id"]) == {"d"}
    with pytest.raises(ValueError, match="k must be >= 1"):
        cold_start.cold_start_task(cold, k=0)


def test_metrics_on_a_hand_made_case():
    # Training counts a=3, b=3, c=2, d=1; co-reviews of a: c twice, b once.
    train = _rows([("t1", "a", 4.0, 1), ("t1", "c", 4.0, 2), ("t2", "a", 4.0, 1),
                   ("t2", "c", 4.0, 2), ("t3", "a", 4.0, 1), ("t3", "b", 4.0, 2),
                   ("t4", "b", 4.0, 1), ("t4", "d", 4.0, 2), ("t5", "b", 4.0, 1)])
    # The cold user is given "a"; later reviews "c" (5 stars) and "z" (no training row).
    cold = _rows([("new", "a", 5.0, 10), ("new", "c", 5.0, 20), ("new", "z", 1.0, 30)])
    task = cold_start.cold_start_task(cold, k=1)
    models = {cold_start.POPULARITY: Popularity().fit(train),
              cold_start.ITEM_KNN: cold_start.GivenItemsKNN(
                  ItemKNN(shrinkage=0.0, popularity_weight=0.0, bias_reg=1.0).fit(train),
                  task.given)}
    config = EvalConfig(k=2, n_resamples=20)
    result = cold_start.evaluate_cold_start(models, train, task,
                                            np.array(["a", "b", "c", "d"]), config)
    popularity = result.results[cold_start.POPULARITY].metrics
    knn = result.results[cold_start.ITEM_KNN].metrics
    # Popularity, "a" excluded: b (3), c (2), d (1): c is second -> NDCG 1 / log2(3).
    assert popularity["ndcg@2"] == pytest.approx(1 / math.log2(3))
    assert popularity["recall@2"] == popularity["hitrate@2"] == 1.0
    assert popularity["liked_ndcg@2"] == pytest.approx(1 / math.log2(3))
    # kNN from "a": sim(a, c) = 2 / sqrt(3 * 2) > sim(a, b) = 1 / 3 > sim(a, d) = 0.
    assert knn["ndcg@2"] == knn["liked_ndcg@2"] == 1.0
    # "z" is outside the catalogue: dropped (so no disliked item is left).
    assert result.counts["dropped_unknown_item"] == 1 and result.counts["evaluated_users"] == 1
    assert knn["disliked@2"] == 0.0 and math.isnan(knn["disliked_cond@2"])
    (diff,) = [d for d in result.comparisons if d.metric == "ndcg@2"]
    assert (diff.candidate, diff.reference) == (cold_start.ITEM_KNN, cold_start.POPULARITY)
    assert diff.difference == pytest.approx(1 - 1 / math.log2(3))
    assert diff.low == pytest.approx(diff.difference)  # one user: every resample is the same
    markdown = result.to_markdown()
    assert "| popularity | 1.0000 | 0.6309 |" in markdown
    assert ("| item-kNN (given items) − popularity | +0.0000 [+0.0000, +0.0000] | "
            "+0.3691 [+0.3691, +0.3691] ✔ |") in markdown


def test_item_knn_scores_a_history_as_it_scores_the_user_with_it():
    train = _rows([("t1", "a", 4.0, 1), ("t1", "c", 2.0, 2), ("t2", "a", 5.0, 1),
                   ("t2", "b", 4.0, 2), ("t3", "b", 3.0, 1), ("t3", "c", 4.0, 2)])
    knn = ItemKNN(shrinkage=1.0, popularity_weight=0.1, bias_reg=1.0).fit(train)
    items = np.array(["a", "b", "c", "unknown"])
    np.testing.assert_array_equal(knn.score_histories([np.array(["a", "c"])], items),
                                  knn.score_items(np.array(["t1"]), items))
    # An item unknown to training adds nothing; no history = the popularity prior.
    np.testing.assert_array_equal(knn.score_histories([np.array(["a", "c", "zz"]),
                                                       np.array([], str)], items),
                                  knn.score_items(np.array(["t1", "nobody"]), items))


# --- the whole chain on tiny synthetic data --------------------------------------------


@pytest.fixture(scope="module")
def chain():
    """A split with cold users, tables, a tiny full and ids-only model, a tiny BERT.

    (That an export holds no cold user is checked on the exported run of
    tests/pipeline/test_train_pipeline.py: no export of its own here.)
    """
    from tests.features.synthetic import synthetic_reviews
    from tests.recsys.trained_fixture import tiny_config
    from tfrec_sentiment.features.tables import build_feature_tables
    from tfrec_sentiment.recsys.train import train_recommender
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.model import SentimentModel

    reviews = synthetic_reviews(num_users=60, num_items=20, per_user=6, text_dim=8, seed=1)
    frame = reviews.frame.assign(
        user_id=[f"person-{u}" for u in reviews.frame["user_id"]],
        text=[f"review {n} good" if r >= 4 else f"review {n} bad"
              for n, r in enumerate(reviews.frame["rating"])])
    split = splits.split_reviews(frame, DataConfig(cold_user_share=0.25))
    position = pd.Series(np.arange(len(frame)),
                         index=pd.MultiIndex.from_frame(frame[["user_id", "item_id"]]))
    rows = position.loc[list(zip(split.train["user_id"], split.train["item_id"]))].to_numpy()
    tables = build_feature_tables(split.train, reviews.probabilities[rows],
                                  reviews.embeddings[rows])
    full = train_recommender(tiny_config(epochs=1), split, tables, seed=0)
    ids_only = train_recommender(tiny_config(epochs=1, variant="ids"), split, tables, seed=0)
    sentiment = SentimentModel.from_config(SentimentConfig(
        preset="tiny", tiny_hidden_dim=8, tiny_heads=2, tiny_layers=1, sequence_length=16,
        bucket_boundaries=(8, 16)))
    return split, tables, full, ids_only, sentiment


def test_cold_users_leak_into_no_training_part_or_feature(chain):
    split, tables, full, _, _ = chain
    cold_users = sorted(set(split.cold["user_id"]))
    assert len(cold_users) >= 5
    for name in splits.PARTS:
        assert not set(cold_users) & set(getattr(split, name)["user_id"]), name
    assert not set(cold_users) & {str(u) for u in tables.ids["user"]}
    assert not set(cold_users) & {str(u) for u in full.tables.ids["user"]}


def test_text_aware_model_scores_as_the_exported_signature(chain):
    import tensorflow as tf

    from tfrec_sentiment.sentiment.labels import review_texts

    split, _, full, ids_only, sentiment = chain
    task = cold_start.cold_start_task(split.cold, k=3)
    models = cold_start.ColdStartModels.build(split, full, sentiment, ids_only, top_k=5)
    text_aware = models.for_task(task)[cold_start.TEXT_AWARE]
    users = np.unique(task.given["user_id"].to_numpy(str))[:4]
    catalogue = np.array(sorted(map(str, full.tables.ids["item"])))
    scores = text_aware.score_items(users, catalogue)
    assert scores.shape == (4, len(catalogue)) and np.isfinite(scores).all()
    given = task.given[task.given["user_id"].isin(users)]
    index = pd.Index(users).get_indexer(given["user_id"].to_numpy(str)).astype(np.int32)
    served = models.module.recommend_from_reviews(
        tf.constant(review_texts(given)), tf.constant(index),
        tf.constant(given["rating"].to_numpy(np.float32)),
        tf.constant(given["item_id"].to_numpy(str)))
    for row, user in enumerate(users):
        mine = given.loc[given["user_id"] == user, "item_id"].to_numpy(str)
        allowed = ~np.isin(catalogue, mine)
        order = np.argsort(-scores[row][allowed], kind="stable")[:5]
        np.testing.assert_allclose(np.sort(scores[row][allowed][order]),
                                   np.sort(served["scores"].numpy()[row]), rtol=1e-5)
        top = {i.decode() for i in served["item_ids"].numpy()[row]}
        assert not top & set(mine)


def test_protocol_runs_every_model_on_the_same_users(chain, tmp_path):
    split, tables, full, ids_only, sentiment = chain
    models = cold_start.ColdStartModels.build(split, full, sentiment, ids_only, top_k=5)
    catalogue = np.asarray(tables.ids["item"], dtype=object).astype(str)
    results = {}
    for k in (1, 3):
        task = cold_start.cold_start_task(split.cold, k, known_users=tables.ids["user"])
        results[k] = cold_start.evaluate_cold_start(
            models.for_task(task), split.train, task, catalogue,
            EvalConfig(n_resamples=50))
        assert list(results[k].results) == list(cold_start.MODELS)
        users = [r.per_user.user_ids for r in results[k].results.values()]
        assert all(np.array_equal(users[0], u) for u in users[1:])
        assert results[k].counts["users"] == split.cold["user_id"].nunique()
        ids_rank = results[k].results[cold_start.IDS_OOV]
        assert 0.0 <= ids_rank.metrics["ndcg@10"] <= 1.0
    paths = cold_start.save_cold_start(results, tmp_path, title="tiny")
    text = paths["markdown"].read_text()
    assert "## k = 1 given review" in text and "## k = 3 given reviews" in text
    assert "text-aware (from reviews) − item-kNN (given items)" in text
    assert text.count("| smallest difference detectable (80% power") == 2  # one per k


def test_cli_runs_the_protocol_on_an_encrypted_run_folder(chain, tmp_path, capsys):
    import dataclasses

    from tests.recsys.trained_fixture import tiny_config
    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.io import encryption_facts
    from tfrec_sentiment.privacy import PrivacyConfig, create_key_file, table_encryption

    split, tables, full, _, sentiment = chain
    run = tmp_path / "run"
    # The run's tables are encrypted: the CLI opens them with the config's key source.
    privacy = PrivacyConfig(key_file=str(create_key_file(tmp_path / "keys.json")))
    encryption = table_encryption(privacy)
    split.save(run / "data", encryption)
    tables.save(run / "features", encryption)
    full.save(run / "recsys")
    sentiment.save(run / "sentiment" / "model")
    assert encryption_facts(run / "data" / "cold.parquet") == {"footer": "encrypted"}
    config = config_lib.resolve("smoke")
    config = dataclasses.replace(
        config, recsys=tiny_config(epochs=1), privacy=privacy,
        evaluation=dataclasses.replace(config.evaluation, n_resamples=50))
    config_lib.save(config, run / "config.json")
    assert cold_start.main(["--run", str(run), "--ks", "2"]) == 0
    report = (run / "evaluation" / "cold_start.md").read_text()
    assert "## k = 2 given reviews" in report and "| ids only (OOV) |" in report
    assert "## k = 2 given reviews" in capsys.readouterr().out
    # A run folder without cold users is refused with the reason.
    (run / "data" / "cold.parquet").unlink()
    with pytest.raises(SystemExit):
        cold_start.main(["--run", str(run)])
    assert "holds no cold users" in capsys.readouterr().err
