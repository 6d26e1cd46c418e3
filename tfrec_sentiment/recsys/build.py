"""The factory of the recommender: `build_model` (towers, head, model), its variables
(`build_model_variables`) and its optimizer.

Example:

>>> model = build_model(RecsysConfig(), tables)                 # doctest: +SKIP
>>> model.compile(optimizer=make_optimizer(RecsysConfig()))     # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd
import tensorflow as tf

from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.data import select_inputs
from tfrec_sentiment.recsys.head import RatingHead
from tfrec_sentiment.recsys.inputs import history_inputs
from tfrec_sentiment.recsys.model import RecommenderModel
from tfrec_sentiment.recsys.towers import ItemTower, UserTower


def build_model(config: RecsysConfig, tables: FeatureTables) -> RecommenderModel:
    """Builds the recommender for `config` over `tables` (vocabularies, statistics).

    Raises:
        ValueError: the variant needs a feature group the tables lack.
    """
    groups = config.feature_groups
    missing = [g for g in groups + (("text",) if config.text_enabled else ())
               if g not in tables.groups]
    if missing:
        raise ValueError(
            f"variant {config.variant!r} needs feature group(s) {missing}, but the "
            f"feature tables only have {list(tables.groups)} (see FeatureConfig)")
    history = history_inputs(config, tables)
    missing = [g for g in history if g not in tables.history_groups]
    if missing:
        raise ValueError(f"variant {config.variant!r} needs history input(s) {missing}; the "
                         f"feature tables have {list(tables.history_groups)}")
    # The item-to-item block: width I exact, r projected (FeatureTables.similarity_width).
    similarity = (tables.similarity_width or len(tables.ids["item"])
                  if config.item_similarity else 0)
    if similarity and not tables.has_similarity:
        raise ValueError("item_similarity needs the similarity profiles of the feature tables "
                         "(FeatureConfig.item_similarity with a history_length > 0)")
    towers = {}
    for side, cls in (("user", UserTower), ("item", ItemTower)):
        with_history = side == "user" and bool(history)
        towers[side] = cls(
            vocabulary=tables.ids[side].tolist(), embedding_dim=config.embedding_dim,
            output_dim=config.output_dim, num_oov_buckets=config.num_oov_buckets,
            feature_groups=groups, use_text=config.text_enabled,
            fusion_units=config.fusion_units, text_units=config.text_units,
            statistics=tables.statistics[side], id_dropout=config.id_dropout,
            dropout=config.dropout,
            history_size=len(tables.ids["item"]) + 1 if with_history else 0,
            history_dim=config.history_dim, history_signals=config.history_signals,
            normalize=config.normalize_embeddings, retrieval_bias=config.retrieval_bias,
            profile_in_embedding=config.profile_in_embedding,
            similarity_size=similarity, similarity_weight=config.similarity_weight,
            name=f"{side}_tower",
        )
    head = RatingHead(hidden_units=config.hidden_units, cross_layers=config.cross_layers,
                      dropout=config.dropout, name="rating_head")
    return RecommenderModel(
        towers["user"], towers["item"], head, global_mean=tables.global_mean,
        retrieval_weight=config.retrieval_weight, rating_weight=config.rating_weight,
        pairwise_weight=config.pairwise_weight, id_l2=config.id_l2, bias_l2=config.bias_l2,
        history_l2=config.history_l2,
        num_examples=len(tables.rows["rating"]), head_l2=config.head_l2,
        feature_l2=config.feature_l2,
        rating_loss=config.rating_loss, sampling_correction=config.sampling_correction,
        temperature=config.temperature, retrieval_candidates=config.retrieval_candidates,
        topk_ks=config.topk_ks, retrieval_sample_weight=config.retrieval_sample_weight,
        retrieval_weight_floor=config.retrieval_weight_floor,
    )


def make_optimizer(config: RecsysConfig) -> tf.keras.optimizers.Optimizer:
    """Adam; regularisation is in the loss (`*_l2` of the config), not in the optimizer."""
    return tf.keras.optimizers.Adam(learning_rate=config.learning_rate)


def build_model_variables(model: RecommenderModel, tables: FeatureTables,
                          config: RecsysConfig) -> None:
    """Creates the model's variables by running it on one (known user, known item) pair."""
    pair = pd.DataFrame({"user_id": tables.ids["user"][:1], "item_id": tables.ids["item"][:1]})
    sample = select_inputs(tables.lookup_examples(pair), config)
    model({k: tf.constant(v) for k, v in sample.items()}, training=False)
