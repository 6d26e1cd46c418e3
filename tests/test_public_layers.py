"""Every public layer through the shared runners: JSON round trip and bfloat16.

`CASES` lists each name exported by `tfrec_sentiment.layers` (tf-keras) and
`tfrec_sentiment.layers.keras3` (Keras 3) with a tiny constructor, inputs, and what it
does under a bfloat16 policy (tests/layer_test_case.py, `run_bfloat16_check`); a test
checks that the list and the exports are the same set, so a new public layer cannot
skip the runners. The stage tests (tests/features, tests/recsys, tests/sentiment) run
the config round trip and save/load on richer configurations.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfrec_sentiment.layers as layers
from tests.layer_test_case import run_bfloat16_check, run_json_round_trip

keras3 = importlib.import_module("tfrec_sentiment.layers.keras3")

RNG = np.random.default_rng(0)
STATISTICS = {"rating": {"mean": [3.0, 1.0], "variance": [1.0, 0.25]},
              "text": {"mean": [0.0] * 4, "variance": [1.0] * 4}}
TOWER = dict(vocabulary=["a", "b", "c"], embedding_dim=4, output_dim=3,
             feature_groups=("rating",), use_text=True, fusion_units=3, text_units=2,
             statistics=STATISTICS, history_size=2, history_dim=2,
             history_signals=("rating",))
# Sublayers built without the layer's dtype policy compute in float32.
TF_KERAS_FLOAT32 = ("its sublayers are built with the default float32 policy and the "
                    "inputs are standardised in float32 (features.fusion.standardize)")


def _tower_inputs(side: str) -> dict[str, Any]:
    return {f"{side}_id": tf.constant(["a", "unknown"]),
            f"{side}_rating": RNG.normal(size=(2, 2)).astype("float32"),
            f"{side}_text": RNG.normal(size=(2, 4)).astype("float32"),
            f"{side}_history": tf.constant([[1, 2], [3, 0]], tf.int64),
            f"{side}_history_rating": np.array([[1.0, -1.0], [0.5, 0.0]], "float32")}


def _reviews() -> dict[str, np.ndarray]:
    return {"probabilities": RNG.dirichlet(np.ones(3), 4).astype("float32"),
            "rating": np.array([5.0, 4.0, 1.0, 3.0], "float32"),
            "helpful_votes": np.array([0.0, 2.0, 1.0, 0.0], "float32"),
            "timestamp": np.array([1_400_000_000, 1_410_000_000, 1_420_000_000,
                                   1_430_000_000]),
            "embedding": RNG.normal(size=(4, 4)).astype("float32")}


def _lookup(**kwargs):
    lookup = layers.FeatureLookup(vocabulary=["u1", "u2"], group_dims={"rating": 2},
                                  integer_groups=(), **kwargs)
    lookup.set_tables({"rating": np.array([[3.0, 1.0], [4.5, 0.5], [2.0, 1.5]], "float32")})
    return lookup


def _profile(**kwargs):
    return layers.ReviewProfile(signal_prior=layers.ReviewProfile.fit_prior(_reviews()),
                                text_prior=[0.0] * 4, **kwargs)


def _preprocessor(**kwargs):
    from tfrec_sentiment.sentiment.preprocessor import tiny_tokenizer

    return keras3.SentimentPreprocessor(tiny_tokenizer(), sequence_length=16,
                                        bucket_boundaries=(8,), **kwargs)


def _encoder(**kwargs):
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=12, num_layers=1, num_heads=2, hidden_dim=4, intermediate_dim=8,
        max_sequence_length=8, dtype=kwargs.get("dtype"))
    return keras3.BertInferenceEncoder(backbone, **kwargs)


@dataclasses.dataclass(frozen=True)
class Case:
    """A public layer's tiny instance for the runners.

    Attributes:
        make: builds the layer; takes `dtype` (and nothing else).
        inputs: as `layer_test_case.call_layer` takes them (tuple = positional).
        keras_module: `tf.keras` or `keras` (Keras 3).
        float_outputs / reason: what it does under bfloat16 (`run_bfloat16_check`).
    """

    make: Callable[..., Any]
    inputs: Any
    keras_module: Any
    float_outputs: str | None = "compute"
    reason: str = ""


CASES: dict[str, Case] = {
    # --- tf-keras (tfrec_sentiment.layers) ---
    "SentimentFusion": Case(
        lambda **kw: layers.SentimentFusion(units=3, groups=("rating",),
                                            statistics=STATISTICS, **kw),
        {"rating": RNG.normal(size=(2, 2)).astype("float32")}, tf.keras,
        "float32", TF_KERAS_FLOAT32),
    "FeatureLookup": Case(
        _lookup, tf.constant(["u2", "unknown"]), tf.keras, "float32",
        "a table lookup, nothing to compute: outputs are the tables' values in their "
        "own dtype (float32, or int64 for integer groups) whatever the policy"),
    "ReviewProfile": Case(
        _profile, _reviews(), tf.keras, "float32",
        "sums of review signals over a profile: computed in float32 (float64 for "
        "times), where bfloat16's 8 bits of mantissa would lose the sums"),
    "UserTower": Case(lambda **kw: layers.UserTower(**TOWER, **kw), _tower_inputs("user"),
                      tf.keras, "float32", TF_KERAS_FLOAT32),
    "ItemTower": Case(lambda **kw: layers.ItemTower(**TOWER, **kw), _tower_inputs("item"),
                      tf.keras, "float32", TF_KERAS_FLOAT32),
    "IdEmbedding": Case(
        lambda **kw: layers.IdEmbedding(vocabulary=["a", "b"], embedding_dim=3,
                                        num_oov_buckets=2, id_dropout=0.5, **kw),
        tf.constant(["b", "unknown"]), tf.keras, "float32",
        "its table is built with the default float32 policy"),
    "HistoryBag": Case(
        lambda **kw: layers.HistoryBag(history_size=3, history_dim=2,
                                       history_signals=("rating",), **kw),
        {"history": tf.constant([[1, 2], [2, 0]], tf.int64),
         "history_rating": np.array([[1.0, -1.0], [0.5, 0.0]], "float32")}, tf.keras,
        "float32", "its table is built with the default float32 policy and the means "
        "are taken in float32"),
    "ProfilePath": Case(
        lambda **kw: layers.ProfilePath(feature_groups=("rating",), use_text=True,
                                        fusion_units=3, text_units=2,
                                        statistics=STATISTICS, **kw),
        {"rating": RNG.normal(size=(2, 2)).astype("float32"),
         "text": RNG.normal(size=(2, 4)).astype("float32")}, tf.keras,
        "float32", TF_KERAS_FLOAT32),
    "SimilarityProfile": Case(
        lambda **kw: layers.SimilarityProfile(size=3, initial_weight=2.0, **kw),
        RNG.random(size=(2, 4)).astype("float32"), tf.keras, "float32",
        "a float32 scalar times a float32 profile: the item-kNN scores are kept exact"),
    "CatalogueOneHot": Case(
        lambda **kw: layers.CatalogueOneHot(size=3, num_oov_buckets=1, **kw),
        tf.constant([2, 0, 3], tf.int64), tf.keras, "float32",
        "a one-hot of integer rows: exact in float32, nothing to compute"),
    "RatingHead": Case(
        lambda **kw: layers.RatingHead(hidden_units=(4,), cross_layers=1, **kw),
        RNG.normal(size=(3, 5)).astype("float32"), tf.keras, "float32",
        "casts its input to float32 and builds its sublayers with the default float32 "
        "policy"),
    # --- Keras 3 (tfrec_sentiment.layers.keras3) ---
    "SentimentPreprocessor": Case(
        _preprocessor, tf.constant(["great strings", "the cable broke down"]), keras, None,
        "strings to token ids and masks: int32 outputs only"),
    "SingleSegmentPacker": Case(
        lambda **kw: keras3.SingleSegmentPacker(2, 3, 0, sequence_length=8,
                                                bucket_boundaries=(4,), **kw),
        tf.ragged.constant([[11, 12], [13]], dtype=tf.int32), keras, None,
        "packs token ids: int32 outputs only"),
    "MaskedMeanPooling": Case(
        lambda **kw: keras3.MaskedMeanPooling(normalize=True, **kw),
        (RNG.normal(size=(2, 3, 4)).astype("float32"),
         tf.constant([[1, 1, 0], [1, 0, 0]], tf.int32)), keras, "float32",
        "pools in float32 on purpose: bfloat16 sums over 128 tokens lose too many "
        "digits (sentiment/pooling.py)"),
    "EmptyTextAnswer": Case(
        lambda **kw: keras3.EmptyTextAnswer([0.2, 0.3, 0.5], **kw),
        (tf.constant([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]),
         tf.constant(RNG.normal(size=(2, 4)).astype("float32")),
         tf.constant([[1, 1, 1], [1, 1, 0]], tf.int32)), keras),
    "TemperatureScaling": Case(
        lambda **kw: keras3.TemperatureScaling(0.5, **kw),
        RNG.normal(size=(2, 3)).astype("float32"), keras, "float32",
        "divides logits in float32: the softmax after it reads calibrated float32 logits"),
    "BertInferenceEncoder": Case(
        _encoder, {"token_ids": tf.constant([[2, 7, 3, 0], [2, 3, 0, 0]]),
                   "padding_mask": tf.constant([[1, 1, 1, 0], [1, 1, 0, 0]]),
                   "segment_ids": tf.zeros([2, 4], tf.int32)}, keras),
}


def test_every_exported_layer_has_a_case():
    exported = set(layers.__all__) | set(keras3.__all__)
    assert set(CASES) == exported, (sorted(exported - set(CASES)),
                                    sorted(set(CASES) - exported))
    for name, case in CASES.items():
        home = keras3 if case.keras_module is keras else layers
        assert name in home.__all__, f"{name}: its case names the wrong Keras world"


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_round_trip_keeps_config_and_outputs(name):
    case = CASES[name]
    layer = case.make()
    rebuilt = run_json_round_trip(layer, case.keras_module, case.inputs)
    assert type(rebuilt) is getattr(layers if case.keras_module is tf.keras else keras3, name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bfloat16_policy_gives_the_declared_output_dtypes(name):
    case = CASES[name]
    run_bfloat16_check(case.make, case.inputs, case.float_outputs, case.reason)
