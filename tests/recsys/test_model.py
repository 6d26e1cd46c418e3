import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import assert_allclose_nested, run_config_round_trip
from tests.recsys.trained_fixture import synthetic_split, tiny_config
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.tables import build_feature_tables
from tfrec_sentiment.recsys.build import build_model
from tfrec_sentiment.recsys.data import make_dataset, select_inputs
from tfrec_sentiment.recsys.train import catalogue_inputs
from tfrec_sentiment.recsys.trained import build_model_variables


def _batch(config, size=16):
    data = synthetic_split()
    examples = select_inputs(data.tables.training_examples(), config)
    # Rows with distinct items, so no in-batch accidental hits.
    _, first = np.unique(examples["item_id"], return_index=True)
    rows = first[:size]
    return {k: tf.constant(v[rows]) for k, v in examples.items()}, data.tables


def _model(config, tables):
    model = build_model(config, tables)
    build_model_variables(model, tables, config)
    return model


NO_RIDGE = dict(id_l2=0.0, bias_l2=0.0, history_l2=0.0, feature_l2=0.0, head_l2=0.0,
                dropout=0.0, id_dropout=0.0)


def test_config_round_trip_rebuilds_the_same_model():
    config = tiny_config(pairwise_weight=0.5, rating_loss="huber", temperature=0.5,
                         topk_ks=(5,), retrieval_sample_weight="rating")
    batch, tables = _batch(config)
    model = _model(config, tables)
    rebuilt = run_config_round_trip(model, tf.keras)  # same config, a fixed point
    assert (rebuilt.rating_loss, rebuilt.topk_ks, rebuilt.pairwise_task is not None) == (
        "huber", (5,), True)
    rebuilt(batch)
    rebuilt.set_weights(model.get_weights())
    assert_allclose_nested(rebuilt(batch), model(batch))
    np.testing.assert_allclose(rebuilt.compute_loss(batch), model.compute_loss(batch),
                               rtol=1e-6)


def test_rating_loss_is_the_mse_of_the_predicted_rating():
    config = tiny_config(retrieval_weight=0.0, **NO_RIDGE)
    batch, tables = _batch(config)
    model = _model(config, tables)
    loss = model.compute_loss(batch, training=False)
    predicted = model(batch)["rating"]
    np.testing.assert_allclose(loss, np.mean((predicted - batch["rating"]) ** 2), rtol=1e-5)


def test_retrieval_loss_is_logq_corrected_in_batch_softmax_over_static_candidates():
    config = tiny_config(rating_weight=0.0, retrieval_weight=1.0, temperature=0.5, **NO_RIDGE)
    batch, tables = _batch(config)
    model = _model(config, tables)
    user = model.user_tower(batch)
    # Candidates are the items' full features, not the rows' held-out ones.
    static = {k[len("candidate_"):]: v for k, v in batch.items() if k.startswith("candidate_")}
    assert static and not np.allclose(static["item_rating"], batch["item_rating"])
    item = model.item_tower({"item_id": batch["item_id"], **static})
    logits = (user["embedding"] @ tf.transpose(item["embedding"])).numpy() / 0.5
    logits -= np.log(batch["item_probability"].numpy())[None, :]
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -np.mean(np.diag(log_softmax))
    np.testing.assert_allclose(model.compute_loss(batch), expected, rtol=1e-4)


def test_catalogue_retrieval_loss_is_the_exact_softmax_over_every_item():
    config = tiny_config(rating_weight=0.0, retrieval_candidates="catalogue", temperature=0.5,
                         **NO_RIDGE)
    batch, tables = _batch(config)
    model = _model(config, tables)
    with pytest.raises(ValueError, match="set_retrieval_catalogue"):
        model.compute_loss(batch)
    catalogue = catalogue_inputs(tables, config)
    model.set_retrieval_catalogue(catalogue)
    user = model.user_tower(batch)["embedding"].numpy()
    items = model.item_tower(catalogue)["embedding"].numpy()
    logits = user @ items.T / 0.5  # no sampling correction: nothing is sampled
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    position = tables.index_of("item", batch["item_id"].numpy().astype(str))
    expected = -np.mean(log_softmax[np.arange(len(position)), position])
    np.testing.assert_allclose(model.compute_loss(batch), expected, rtol=1e-4)


def test_pairwise_loss_is_bpr_against_the_previous_rows_item():
    config = tiny_config(rating_weight=0.0, retrieval_weight=0.0, pairwise_weight=1.0,
                         **NO_RIDGE)
    batch, tables = _batch(config)
    model = _model(config, tables)
    user, item = model.towers(batch)
    positive = model.rate(user, item).numpy()
    negative = model.rate(user, {k: tf.roll(v, 1, 0) for k, v in item.items()}).numpy()
    bpr = np.log1p(np.exp(-(positive - negative)))
    np.testing.assert_allclose(model.compute_loss(batch), np.mean(bpr), rtol=1e-4)


def test_ridge_terms():
    weights = dict(id_l2=3.0, bias_l2=2.0, history_l2=7.0, feature_l2=0.5, head_l2=0.25)
    config = tiny_config(rating_weight=0.0, retrieval_weight=0.0,
                         **{**NO_RIDGE, **weights})
    batch, tables = _batch(config)
    model = _model(config, tables)
    towers = (model.user_tower, model.item_tower)

    def squares(variables):
        return sum(float(np.sum(np.square(v.numpy()))) for v in variables)

    n = len(tables.rows["rating"])
    expected = (3.0 / n * squares([t for tw in towers for t in tw.embedding_tables()])
                + 2.0 / n * squares([t for tw in towers for t in tw.bias_tables()])
                + 7.0 / n * squares(model.user_tower.history_tables())
                + 0.5 * squares([k for tw in towers for k in tw.profile_kernels()])
                + 0.25 * squares([v for v in model.rating_head.trainable_variables
                                  if "kernel" in v.name]))
    assert len(towers[0].profile_kernels()) == 4  # fusion, text, projection, bias
    assert len(model.user_tower.history_tables()) == 1 and not model.item_tower.history_tables()
    np.testing.assert_allclose(model.compute_loss(batch), expected, rtol=1e-4)


def test_factorized_topk_metrics_are_off_until_asked():
    config = tiny_config()
    data = synthetic_split()
    model = _model(config, data.tables)
    model.compile(optimizer="adam")
    dataset = make_dataset(data.tables.lookup_examples(data.split.validation), config, False)
    plain = model.evaluate(dataset, verbose=0, return_dict=True)
    assert not any("top_" in k for k in plain)
    model.set_topk_candidates(catalogue_inputs(data.tables, config))
    with_topk = model.evaluate(dataset, verbose=0, return_dict=True)
    hit10 = with_topk["factorized_top_k/top_10_categorical_accuracy"]
    hit50 = with_topk["factorized_top_k/top_50_categorical_accuracy"]
    assert 0.0 <= hit10 <= hit50 == pytest.approx(1.0)  # 40 items: top 50 holds all
    assert with_topk["rmse"] == pytest.approx(plain["rmse"], rel=1e-5)
    model.set_topk_candidates(None)
    assert not any("top_" in k for k in model.evaluate(dataset, verbose=0, return_dict=True))


def test_variant_needing_absent_groups_is_refused():
    data = synthetic_split()
    plain = build_feature_tables(data.split.train, None, None,
                                 FeatureConfig(use_sentiment=False, use_text=False))
    with pytest.raises(ValueError, match="sentiment"):
        build_model(tiny_config(variant="full"), plain)
    build_model(tiny_config(variant="ratings"), plain)
