import json

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from tests.features.synthetic import leave_last_out, synthetic_reviews
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.tables import FeatureTables, build_feature_tables
from tfrec_sentiment.features.text_similarity import fit_text_similarity

WEIGHT, NEIGHBOURS = 0.5, 3
THEMES = ["guitar string", "guitar pedal", "drum stick", "drum skin", "cable jack",
          "cable plug", "piano key", "piano bench", "mic stand", "mic clip"]


@pytest.fixture(scope="module")
def data():
    reviews = synthetic_reviews(num_users=25, num_items=10, per_user=6, text_dim=4, seed=3)
    frame = reviews.frame
    item = frame["item_id"].str[1:].astype(int)
    # Each review names its item's theme and a word of its own writer's, so a user's
    # words link the documents of the items that user reviewed.
    frame = frame.assign(text=[f"{THEMES[i]} tone{u[-2:]}" for i, u in
                               zip(item, frame["user_id"], strict=True)])
    split = leave_last_out(frame)
    rows = split.train_rows
    tables = build_feature_tables(
        split.train, reviews.probabilities[rows], reviews.embeddings[rows],
        FeatureConfig(history_length=4, similarity_shrinkage=2.0,
                      text_similarity_weight=WEIGHT, text_similarity_neighbours=NEIGHBOURS))
    plain = build_feature_tables(
        split.train, reviews.probabilities[rows], reviews.embeddings[rows],
        FeatureConfig(history_length=4, similarity_shrinkage=2.0, text_similarity_weight=0.0))
    return split, tables, plain


def _documents(train: pd.DataFrame, catalogue: np.ndarray, without: str | None = None
               ) -> list[str]:
    kept = train if without is None else train[train["user_id"] != without]
    text = (kept["title"].fillna("") + " " + kept["text"]).groupby(kept["item_id"]).agg(" ".join)
    return [text.get(i, "") for i in catalogue]


def _reference_text(train: pd.DataFrame, catalogue: np.ndarray, user: str | None):
    """[I, I] cosines of the items' documents without `user`'s reviews, by scikit-learn's
    TfidfVectorizer fitted on all the documents (its vocabulary and idf)."""
    vectorizer = TfidfVectorizer(stop_words="english", min_df=2, max_df=0.5, sublinear_tf=True)
    vectorizer.fit(_documents(train, catalogue))
    vectors = vectorizer.transform(_documents(train, catalogue, user))
    cosine = (vectors @ vectors.T).toarray()
    np.fill_diagonal(cosine, 0.0)
    return cosine


def test_matrix_is_the_documents_top_cosines_symmetric(data):
    split, tables, _ = data
    text = tables.text_similarity
    matrix = text.matrix.toarray()
    full = _reference_text(split.train, tables.ids["item"], None)
    np.testing.assert_array_equal(matrix, matrix.T)
    np.testing.assert_array_equal(np.diag(matrix), 0.0)
    stored = matrix > 0
    np.testing.assert_allclose(matrix[stored], full[stored], atol=1e-6)
    # Every item keeps its NEIGHBOURS largest (the union with the other side's choices).
    for row in range(len(matrix)):
        top = np.sort(full[row])[::-1][:NEIGHBOURS]
        assert (np.sort(matrix[row])[::-1][:NEIGHBOURS] >= top - 1e-6).all()
    assert stored.sum() >= NEIGHBOURS * len(matrix)


def test_leave_user_out_values_match_documents_without_the_user(data):
    split, tables, _ = data
    text, catalogue = tables.text_similarity, tables.ids["item"]
    checked, lowered = 0, 0
    for user in tables.ids["user"][:8]:
        code = int(np.flatnonzero(tables.ids["user"] == user)[0])
        reference = _reference_text(split.train, catalogue, user)
        items = np.unique(tables.rows["item_index"][tables.rows["user_index"] == code])
        j, c = np.meshgrid(items, items, indexing="ij")
        j, c = j.ravel(), c.ravel()
        stored = text.matrix.toarray()[j, c]
        keep = (j != c) & (stored > 0)
        values = text.own_value(np.full(keep.sum(), code), j[keep], c[keep], stored[keep])
        np.testing.assert_allclose(values, reference[j[keep], c[keep]], atol=1e-6)
        checked += keep.sum()
        # The user's own word made their items look alike: without it they are less so.
        assert (values <= stored[keep] + 1e-6).all()
        lowered += (values < stored[keep] - 1e-3).sum()
    assert checked > 10 and lowered > 0


def test_profiles_add_the_weighted_left_out_text(data):
    split, tables, plain = data
    with_text = tables.training_examples()["user_similarity"]
    without = plain.training_examples()["user_similarity"]
    history = tables.training_examples()["user_history"]
    matrix = tables.text_similarity.matrix.toarray()
    for row in (0, 9, 40, len(split.train) - 1):
        code = tables.rows["user_index"][row]
        user = tables.ids["user"][code]
        reference = _reference_text(split.train, tables.ids["item"], user)
        mine = set(tables.rows["item_index"][tables.rows["user_index"] == code])
        entries = [i - 1 for i in history[row] if i > 0]
        expected = np.zeros(len(tables.ids["item"]))
        for j in entries:
            for c in range(len(expected)):
                if matrix[j, c] > 0:
                    both = j in mine and c in mine
                    expected[c] += reference[j, c] if both else matrix[j, c]
        expected = WEIGHT * expected / max(len(entries), 1)
        np.testing.assert_allclose(with_text[row] - without[row], expected, atol=1e-5)
    assert (with_text != without).any()


def test_only_text_variants_see_it_and_it_round_trips(data, tmp_path):
    _, tables, plain = data
    view = tables.for_variant(False)
    assert view.text_similarity is None and tables.for_variant(True) is tables
    np.testing.assert_allclose(view.feature_table("user")["similarity"],
                               plain.feature_table("user")["similarity"])
    np.testing.assert_allclose(
        tables.item_similarity().toarray() - plain.item_similarity().toarray(),
        WEIGHT * tables.text_similarity.matrix.toarray(), atol=1e-6)
    loaded = FeatureTables.load(tables.save(tmp_path / "features"))
    np.testing.assert_array_equal(loaded.text_similarity.matrix.toarray(),
                                  tables.text_similarity.matrix.toarray())
    np.testing.assert_allclose(loaded.feature_table("user")["similarity"],
                               tables.feature_table("user")["similarity"])


def test_tables_saved_before_the_term_keep_it_off(data, tmp_path):
    _, tables, _ = data
    folder = tables.save(tmp_path / "features")
    meta = json.loads((folder / "features.json").read_text())
    del meta["config"]["text_similarity_weight"], meta["config"]["text_similarity_neighbours"]
    (folder / "features.json").write_text(json.dumps(meta))
    arrays = dict(np.load(folder / "arrays.npz"))
    np.savez(folder / "arrays.npz", **{k: v for k, v in arrays.items()
                                      if not k.startswith("text_similarity")})
    old = FeatureTables.load(folder)
    assert old.text_similarity is None and old.config.text_similarity_weight == 0.0


def test_no_vocabulary_means_no_term():
    texts = np.array(["same words", "same words"])
    assert fit_text_similarity(texts, np.array([0, 1]), np.array([0, 1]), 2, 3, 0.5) is None
