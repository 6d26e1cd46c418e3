import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_config_round_trip, run_save_load
from tfrec_sentiment.recsys.head import RatingHead
from tfrec_sentiment.recsys.towers import ItemTower, UserTower

VOCAB = ["a", "b", "c"]
STATS = {"rating": {"mean": [0.0, 3.0, 1.0], "variance": [1.0, 2.0, 0.5]},
         "text": {"mean": [0.0] * 4, "variance": [1.0] * 4}}


def _inputs(side, ids, seed=0):
    rng = np.random.default_rng(seed)
    n = len(ids)
    return {f"{side}_id": tf.constant(ids),
            f"{side}_rating": rng.normal(size=(n, 3)).astype("float32"),
            f"{side}_helpful": rng.normal(size=(n, 3)).astype("float32"),
            f"{side}_text": rng.normal(size=(n, 4)).astype("float32")}


@pytest.mark.parametrize("cls,side", [(UserTower, "user"), (ItemTower, "item")])
def test_tower_outputs_and_oov(cls, side):
    tower = cls(vocabulary=VOCAB, embedding_dim=4, output_dim=5, feature_groups=("rating",),
                use_text=True, fusion_units=3, text_units=2, statistics=STATS)
    inputs = _inputs(side, ["a", "new1", "new2"])
    inputs[f"{side}_rating"][2] = inputs[f"{side}_rating"][1]
    inputs[f"{side}_text"][2] = inputs[f"{side}_text"][1]
    out = tower(inputs)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "embedding": (3, 5), "latent": (3, 5), "features": (3, 5), "bias": (3,)}
    # Two unknown ids with equal features share the OOV row: same outputs.
    np.testing.assert_allclose(out["embedding"][1], out["embedding"][2])
    # An unknown id with different features (cold start) still gets its own output.
    inputs[f"{side}_text"][2] = inputs[f"{side}_text"][0]
    assert not np.allclose(tower(inputs)["embedding"][2], out["embedding"][1])


def test_ids_only_tower_has_no_features():
    tower = UserTower(vocabulary=VOCAB, embedding_dim=3, output_dim=3)
    out = tower({"user_id": tf.constant(["a", "b"])})
    assert out["features"].shape == (2, 0)
    assert tower.profile_kernels() == []
    np.testing.assert_allclose(
        out["embedding"], tower.projection(tower.ids.embedding(tower.ids.lookup(["a", "b"]))))


def test_history_is_a_signed_bag_of_items():
    tower = UserTower(vocabulary=VOCAB, embedding_dim=2, output_dim=3, history_size=5,
                      history_dim=4, history_signals=("rating",))
    inputs = {"user_id": tf.constant(["a", "a", "a"]),
              "user_history": tf.constant([[1, 2, 0], [2, 1, 0], [1, 2, 9]], tf.int64),
              "user_history_rating": tf.constant([[1.0, -1.0, 0.0], [1.0, -1.0, 0.0],
                                                  [1.0, -1.0, 5.0]])}
    features = tower(inputs)["features"].numpy()
    table = tower.history.embedding.embeddings.numpy()
    np.testing.assert_allclose(features[0, :4], (table[1] + table[2]) / 2, atol=1e-6)
    np.testing.assert_allclose(features[0, 4:], (table[1] - table[2]) / 2, atol=1e-6)
    # Order does not matter; the sign does; padding and unknown items (9) are ignored.
    np.testing.assert_allclose(features[1, :4], features[0, :4], atol=1e-6)
    np.testing.assert_allclose(features[1, 4:], -features[0, 4:], atol=1e-6)
    np.testing.assert_allclose(features[2], features[0], atol=1e-6)


def test_id_dropout_only_in_training():
    tower = UserTower(vocabulary=VOCAB, embedding_dim=3, output_dim=3, id_dropout=1.0)
    inputs = {"user_id": tf.constant(["a", "b", "zzz"])}
    inference = tower(inputs, training=False)["embedding"].numpy()
    training = tower(inputs, training=True)["embedding"].numpy()
    assert not np.allclose(inference[0], inference[1])
    # Every id dropped: all fall in the single OOV row, like the unknown "zzz".
    np.testing.assert_allclose(training, np.repeat(inference[2:], 3, axis=0), atol=1e-6)


@pytest.mark.parametrize("cls,side", [(UserTower, "user"), (ItemTower, "item")])
def test_tower_config_round_trip_and_save_load(cls, side, tmp_path):
    tower = cls(vocabulary=VOCAB, embedding_dim=4, output_dim=3, num_oov_buckets=2,
                feature_groups=("rating", "helpful"), use_text=True, statistics=STATS,
                id_dropout=0.2, dropout=0.1, history_size=4, history_dim=2,
                history_signals=("sentiment",), normalize=True, similarity_size=3,
                name=f"{side}_tower")
    rebuilt = run_config_round_trip(tower, tf.keras)
    assert rebuilt.statistics == tower.statistics
    assert set(rebuilt.statistics) == {"rating", "text"}  # only what it reads
    symbolic = {f"{side}_id": tf.keras.Input([], dtype=tf.string, name=f"{side}_id")}
    symbolic.update({f"{side}_{g}": tf.keras.Input([d], name=f"{side}_{g}")
                     for g, d in (("rating", 3), ("helpful", 3), ("text", 4),
                                  ("history_sentiment", 2), ("similarity", 3))})
    symbolic[f"{side}_history"] = tf.keras.Input([2], dtype=tf.int64, name=f"{side}_history")
    model = tf.keras.Model(symbolic, tower(symbolic))
    data = _inputs(side, ["b", "unseen"])
    data[f"{side}_history"] = np.array([[1, 3], [0, 0]])
    data[f"{side}_history_sentiment"] = np.array([[0.5, -1.0], [0.0, 0.0]], "float32")
    data[f"{side}_similarity"] = np.array([[0.5, 0.0, 0.2], [0.0, 0.0, 0.0]], "float32")
    run_save_load(model, data, tmp_path, tf.keras)


def test_rating_head_config_round_trip_and_save_load(tmp_path):
    head = RatingHead(hidden_units=(6, 4), cross_layers=2, projection_dim=2, dropout=0.1)
    run_config_round_trip(head, tf.keras)
    x = tf.keras.Input([7])
    model = tf.keras.Model(x, head(x))
    restored = run_save_load(model, np.random.default_rng(0).normal(size=(5, 7)), tmp_path,
                             tf.keras)
    assert len(restored.layers[-1].crosses) == 2


def test_rating_head_without_cross_or_hidden_is_linear():
    head = RatingHead(hidden_units=(), cross_layers=0)
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    out = head(x).numpy()
    kernel, bias = head.output_layer.get_weights()
    np.testing.assert_allclose(out, x @ kernel[:, 0] + bias[0], atol=1e-5)


def test_retrieval_bias_column_adds_an_item_bias_to_dot_products():
    user = UserTower(vocabulary=VOCAB, embedding_dim=3, output_dim=4, retrieval_bias=True)
    item = ItemTower(vocabulary=VOCAB, embedding_dim=3, output_dim=4, retrieval_bias=True,
                     feature_groups=("rating",), profile_in_embedding=False)
    users = user({"user_id": tf.constant(["a", "b"])})["embedding"].numpy()
    inputs = _inputs("item", ["a", "c"])
    items = item(inputs)["embedding"].numpy()
    assert users.shape == items.shape == (2, 5)
    np.testing.assert_array_equal(users[:, -1], 1.0)
    item.retrieval_bias_table.embeddings.assign(np.arange(4, dtype="float32")[:, None])
    moved = item(inputs)["embedding"].numpy()
    scores, before = users @ moved.T, users @ items.T
    np.testing.assert_allclose(scores - before, np.broadcast_to([1.0, 3.0], (2, 2)), atol=1e-5)
    # With the profile kept out of the embedding, features move only the bias column.
    other = dict(inputs, item_rating=inputs["item_rating"] + 1.0)
    item.feature_retrieval_bias.kernel.assign(tf.ones([item.fusion_units, 1]))
    changed = item(other)["embedding"].numpy()
    np.testing.assert_allclose(changed[:, :-1], moved[:, :-1], atol=1e-6)


def test_similarity_block_adds_the_users_profile_at_the_items_position():
    user = UserTower(vocabulary=VOCAB, embedding_dim=3, output_dim=4, similarity_size=3)
    item = ItemTower(vocabulary=VOCAB, embedding_dim=3, output_dim=4, similarity_size=3,
                     num_oov_buckets=2)
    # A profile wider than the tower's catalogue (tables grown after training): the
    # columns of later items are cut off.
    profile = np.array([[0.1, 0.2, 0.3, 9.0], [0.0, 0.5, 0.0, 9.0]], "float32")
    users = user({"user_id": tf.constant(["a", "b"]), "user_similarity": profile})
    items = item({"item_id": tf.constant(["c", "a", "unknown"])})
    assert users["embedding"].shape == (2, 7) and users["latent"].shape == (2, 4)
    np.testing.assert_array_equal(items["embedding"][:, 4:], [[0, 0, 1], [1, 0, 0], [0, 0, 0]])
    user.similarity.weight.assign(2.0)
    users = user({"user_id": tf.constant(["a", "b"]), "user_similarity": profile})
    scores = users["embedding"].numpy() @ items["embedding"].numpy().T
    latent = users["latent"].numpy() @ items["latent"].numpy().T
    np.testing.assert_allclose(scores - latent, 2.0 * np.array([[0.3, 0.1, 0.0], [0.0, 0.0, 0.0]]),
                               atol=1e-6)
    with pytest.raises(ValueError, match="catalogue size"):
        ItemTower(vocabulary=VOCAB, similarity_size=5)({"item_id": tf.constant(["a"])})
