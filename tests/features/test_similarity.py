import numpy as np
import pandas as pd
import pytest

from tests.features.synthetic import leave_last_out, synthetic_reviews
from tfrec_sentiment.features import similarity as similarity_lib
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.tables import FeatureTables, build_feature_tables

SHRINK = 2.0


@pytest.fixture(scope="module")
def data():
    reviews = synthetic_reviews(num_users=25, num_items=10, per_user=6, text_dim=4, seed=3)
    split = leave_last_out(reviews.frame)
    rows = split.train_rows
    tables = build_feature_tables(
        split.train, reviews.probabilities[rows], reviews.embeddings[rows],
        FeatureConfig(history_length=4, similarity_shrinkage=SHRINK))
    return split, tables


def _reference_profile(train: pd.DataFrame, user: str, history_items: list[str],
                       catalogue: np.ndarray) -> np.ndarray:
    """Mean cosine similarity, counted by loops over the OTHER users' item sets."""
    others = train[train["user_id"] != user].groupby("user_id")["item_id"].agg(set)
    reviewers = {i: sum(i in s for s in others) for i in catalogue}
    out = np.zeros(len(catalogue))
    for j in history_items:
        for c_pos, c in enumerate(catalogue):
            both = sum(j in s and c in s for s in others)
            if c != j and both:
                out[c_pos] += both / (np.sqrt(reviewers[j] * reviewers[c]) + SHRINK)
    return out / max(len(history_items), 1)


def test_co_reviews_by_hand():
    user = np.array([0, 0, 0, 1, 1, 2])
    item = np.array([0, 1, 1, 1, 2, 2])  # user 0 reviewed item 1 twice: one co-review
    co = similarity_lib.co_reviews(user, item, 4)
    expected = np.array([[1, 1, 0, 0], [1, 2, 1, 0], [0, 1, 2, 0], [0, 0, 0, 0]], float)
    np.testing.assert_array_equal(co, expected)


def test_training_profiles_leave_the_user_out(data):
    split, tables = data
    examples = tables.training_examples()
    catalogue = tables.ids["item"]
    history = examples["user_history"]
    for row in (0, 7, 40, len(split.train) - 1):
        user = tables.ids["user"][tables.rows["user_index"][row]]
        items = [catalogue[i - 1] for i in history[row] if i > 0]
        expected = _reference_profile(split.train, user, items, catalogue)
        np.testing.assert_allclose(examples["user_similarity"][row], expected, atol=1e-5)
    # Some profiles are non-zero, so the comparison above can fail.
    assert (examples["user_similarity"] > 0).any(axis=1).mean() > 0.5


def test_served_profiles_use_the_latest_history_and_leave_the_user_out(data):
    split, tables = data
    table = tables.feature_table("user")
    catalogue = tables.ids["item"]
    assert table["similarity"].shape == (len(tables.ids["user"]) + 1, len(catalogue))
    np.testing.assert_array_equal(table["similarity"][0], 0.0)  # the unknown user
    for u in (0, 5, len(tables.ids["user"]) - 1):
        items = [catalogue[i - 1] for i in table["history"][u + 1] if i > 0]
        expected = _reference_profile(split.train, tables.ids["user"][u], items, catalogue)
        np.testing.assert_allclose(table["similarity"][u + 1], expected, atol=1e-5)
    looked_up = tables.lookup_examples(split.validation.iloc[:3])
    users = tables.index_of("user", split.validation["user_id"].to_numpy()[:3])
    np.testing.assert_allclose(looked_up["user_similarity"], table["similarity"][users + 1])


def test_a_subset_of_rows_is_the_same_rows_of_the_full_table(data):
    split, tables = data
    full = tables.feature_table("user")
    index = np.array([3, -1, 0, 3, len(tables.ids["user"]) - 1])  # repeats and unknown
    subset = tables.feature_table("user", index)
    assert set(subset) == set(full)
    for group, values in full.items():
        np.testing.assert_array_equal(subset[group], values[index + 1])
    frame = split.validation.assign(user_id=["nobody"] + list(split.validation["user_id"][1:]))
    both = tables.lookup_examples(frame)
    items_only = tables.lookup_examples(frame, sides=("item",))
    assert not any(k.startswith("user_") for k in items_only if k != "user_id")
    for key, values in items_only.items():
        np.testing.assert_array_equal(values, both[key])
    users = tables.index_of("user", frame["user_id"].to_numpy())
    np.testing.assert_array_equal(both["user_similarity"], full["similarity"][users + 1])


def test_similarity_round_trips_and_grows(data, tmp_path):
    split, tables = data
    loaded = FeatureTables.load(tables.save(tmp_path / "features"))
    np.testing.assert_array_equal(loaded.co_reviews.toarray(), tables.co_reviews.toarray())
    np.testing.assert_allclose(loaded.feature_table("user")["similarity"],
                               tables.feature_table("user")["similarity"])
    fresh = pd.DataFrame({"user_id": ["u000", "newbie"], "item_id": ["brand-new", "i001"],
                          "rating": [5.0, 4.0], "helpful_votes": [0, 0],
                          "timestamp": [1_500_000_000, 1_500_000_000]})
    grown = tables.with_reviews(fresh, np.full((2, 3), 1 / 3, np.float32),
                                np.zeros((2, 4), np.float32))
    table = grown.feature_table("user")["similarity"]
    assert table.shape == (len(grown.ids["user"]) + 1, len(grown.ids["item"]))
    assert np.isfinite(table).all()
    # The new item has no co-reviews yet: nobody is similar to it.
    np.testing.assert_array_equal(table[:, -1], 0.0)


def test_similarity_off_and_projected_above_the_catalogue_limit(data, tmp_path):
    split, _ = data
    plain = build_feature_tables(split.train, None, None, FeatureConfig(
        use_sentiment=False, use_text=False, item_similarity=False))
    assert not plain.has_similarity and "user_similarity" not in plain.training_examples()
    projected = build_feature_tables(split.train, None, None, FeatureConfig(
        use_sentiment=False, use_text=False, history_length=4, similarity_max_items=3,
        similarity_rank=4))
    items = len(projected.ids["item"])
    assert projected.similarity_basis.shape == (items, 4) and projected.similarity_width == 4
    examples = projected.training_examples()
    assert examples["user_similarity"].shape == (len(split.train), 4)
    np.testing.assert_array_equal(examples["item_similarity"],
                                  projected.similarity_basis[projected.rows["item_index"]])
    assert projected.feature_table("item")["similarity"].shape == (items + 1, 4)
    loaded = FeatureTables.load(projected.save(tmp_path / "projected"))
    np.testing.assert_array_equal(loaded.similarity_basis, projected.similarity_basis)
    np.testing.assert_array_equal(loaded.feature_table("user")["similarity"],
                                  projected.feature_table("user")["similarity"])


def test_saving_the_tables_forms_no_similarity_profile(data, tmp_path, monkeypatch):
    # The saved user table holds the fused groups only: forming every user's profile
    # there (a cost that grows with each history item's co-reviews) was wasted work.
    split, _ = data
    tables = build_feature_tables(split.train, None, None, FeatureConfig(
        use_sentiment=False, use_text=False, history_length=4))
    assert tables.has_similarity
    expected = tables.feature_table("user")
    assert "similarity" in expected
    without = tables.feature_table("user", profiles=False)
    assert "similarity" not in without and without.keys() == expected.keys() - {"similarity"}

    def formed(*args, **kwargs):
        raise AssertionError("a similarity profile was formed")

    monkeypatch.setattr(FeatureTables, "_similarity_profiles", formed)
    loaded = FeatureTables.load(tables.save(tmp_path / "tables"))
    monkeypatch.undo()
    np.testing.assert_array_equal(loaded.feature_table("user")["similarity"],
                                  expected["similarity"])
