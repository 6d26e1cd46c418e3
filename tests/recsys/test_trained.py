import dataclasses

import numpy as np
import pytest

from tests.recsys.trained_fixture import synthetic_split, trained_full
from tfrec_sentiment.evaluation.protocol import Recommender
from tfrec_sentiment.recsys.trained import TrainedRecommender


def _pairs():
    test = synthetic_split().split.test
    users = np.append(test["user_id"].to_numpy()[:20], "never-seen-user")
    items = np.append(test["item_id"].to_numpy()[:20], "never-seen-item")
    return users, items


def test_implements_the_evaluation_protocol():
    trained = trained_full()
    assert isinstance(trained, Recommender)
    users, items = _pairs()
    ratings = trained.predict_rating(users, items)
    assert ratings.shape == (21,) and np.isfinite(ratings).all()
    catalogue = synthetic_split().tables.ids["item"]
    scores = trained.score_items(np.unique(users), np.append(catalogue, "never-seen-item"))
    assert scores.shape == (len(np.unique(users)), len(catalogue) + 1)
    assert np.isfinite(scores).all()


def test_score_items_is_the_tower_dot_product_and_modes_differ():
    trained = trained_full()
    users, items = _pairs()
    scores = trained.score_items(users[:3], items[:5])
    user = trained.serving.user_tower(users[:3])["embedding"].numpy()
    item = trained.serving.item_tower(items[:5])["embedding"].numpy()
    np.testing.assert_allclose(scores, user @ item.T, rtol=1e-5, atol=1e-5)
    for mode in ("rating", "blend"):
        other = TrainedRecommender(trained.model, trained.tables,
                                   dataclasses.replace(trained.config, score_mode=mode))
        mode_scores = other.score_items(users[:3], items[:5])
        assert not np.allclose(mode_scores, scores)
        if mode == "rating":  # the rating mode ranks by the (unclipped) predicted rating
            predicted = other.predict_rating(np.repeat(users[:3], 5), np.tile(items[:5], 3))
            np.testing.assert_allclose(np.clip(mode_scores, 1, 5).ravel(), predicted,
                                       atol=1e-4)


def test_save_load_round_trip(tmp_path):
    # Tables not saved anywhere yet (other tests' runs saved the shared ones).
    trained = trained_full()
    trained = trained.with_tables(dataclasses.replace(trained.tables, path=None))
    users, items = _pairs()
    trained.save(tmp_path / "recsys")
    assert (tmp_path / "recsys" / "features" / "features.json").exists()
    loaded = TrainedRecommender.load(tmp_path / "recsys")
    np.testing.assert_allclose(loaded.predict_rating(users, items),
                               trained.predict_rating(users, items), atol=1e-5)
    np.testing.assert_allclose(loaded.score_items(users[:4], items),
                               trained.score_items(users[:4], items), atol=1e-5)
    assert loaded.config == trained.config
    assert loaded.history["val_rmse"] == pytest.approx(trained.history["val_rmse"])


def test_saved_tables_elsewhere_are_referenced_not_copied(tmp_path):
    trained = trained_full()
    tables = dataclasses.replace(trained.tables, path=None)
    tables.save(tmp_path / "features")
    trained = trained.with_tables(tables)
    trained.save(tmp_path / "recsys")
    assert not (tmp_path / "recsys" / "features").exists()
    loaded = TrainedRecommender.load(tmp_path / "recsys")
    assert loaded.tables.path.resolve() == (tmp_path / "features").resolve()
    users, items = _pairs()
    np.testing.assert_allclose(loaded.predict_rating(users, items),
                               trained.predict_rating(users, items), atol=1e-5)
