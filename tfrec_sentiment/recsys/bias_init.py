"""Where training starts: the id biases at the bias baseline, the retrieval bias at popularity.

The rating biases come from `features.biases.ridge_biases`, the function the bias
baseline (`evaluation.baselines.UserItemBias`) fits with: the untrained model's
mu + b_u + b_i is the baseline's prediction (to the baseline's tolerance).

Example:

>>> initialize_biases(build_model(config, tables), tables, config.bias_l2)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfrec_sentiment.features.biases import ridge_biases
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.recsys.model import RecommenderModel


def closed_form_biases(tables: FeatureTables, reg: float,
                       sweeps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Ridge user and item rating biases of the training rows (alternating updates).

    b_i = sum(r - mean - b_u) / (n_i + reg), b_u = sum(r - mean - b_i) / (n_u + reg):
    the bias baseline (`features.biases.ridge_biases`, `sweeps` of them). Used to start
    the model's id biases at that optimum, so training begins from the baseline and the
    other parts learn the residual.

    Returns:
        user biases [U], item biases [I] (float32, in `tables.ids` order).
    """
    user_bias, item_bias = ridge_biases(
        tables.rows["user_index"], tables.rows["item_index"],
        tables.rows["rating"].astype(np.float64) - tables.global_mean,
        len(tables.ids["user"]), len(tables.ids["item"]), reg, max_sweeps=sweeps)
    return user_bias.astype(np.float32), item_bias.astype(np.float32)


def initialize_biases(model: RecommenderModel, tables: FeatureTables, reg: float) -> None:
    """Starts the biases where the simple baselines are (OOV rows stay 0).

    Both towers' rating biases get `closed_form_biases`; the item retrieval bias
    (with `retrieval_bias`) gets the popularity prior, temperature * log(share of
    training reviews) centred on the items: what the softmax's item bias converges to
    when nothing personal is known, so training starts from the popularity ranking
    instead of walking there for many epochs.
    """
    for tower, bias in zip((model.user_tower, model.item_tower),
                           closed_form_biases(tables, reg)):
        _assign_known_rows(tower, tower.id_bias.embeddings, bias)
    tower = model.item_tower
    if tower.retrieval_bias_table is not None:
        log_share = np.log(np.maximum(tables.item_probability, 1e-12))
        prior = (model.temperature or 1.0) * (log_share - log_share.mean())
        _assign_known_rows(tower, tower.retrieval_bias_table.embeddings, prior)


def _assign_known_rows(tower: tf.keras.layers.Layer, table: tf.Variable,
                       values: np.ndarray) -> None:
    oov = tower.num_oov_buckets
    table.assign(tf.concat([tf.zeros([oov, 1]), tf.constant(values, tf.float32)[:, None]],
                           axis=0))
