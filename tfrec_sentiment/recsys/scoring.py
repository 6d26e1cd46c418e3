"""The scoring rules on tower outputs: rating and score matrices, the standardisation.

The one place serving (`serving.py`), evaluation and the training-time ranking
monitor (`train.py`) turn user and item tower outputs into scores.

Example:

>>> scores = score_matrix(model, user_outputs, item_outputs, "blend", 1.0)  # doctest: +SKIP
"""

from __future__ import annotations

import tensorflow as tf

from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.recsys.blend_weights import COMPONENTS, standardize_tensor_rows
from tfrec_sentiment.recsys.model import RecommenderModel

# User x item pairs one scoring call may form (`users_per_call`): the learned score's
# [U, I] component matrices (~40 bytes per pair in all) and the rating head's blocks
# inside the call (`RATING_BLOCK_PAIRS`, which bound its ~1.5 KiB per pair). Before any
# bound 256 users x 14,706 items (300k synthetic reviews) took ~5 GiB in one call; at
# 2^17 pairs (when the head ran on the whole call at once) a 48,901-item catalogue
# left 2 users per call, and the evaluation's 10,000 users took ~90 s per model in
# calls' overhead; 2^20 gives 21.
MAX_PAIRS_PER_CALL = 1 << 20
# Pairs the rating head takes at once inside `rating_matrix` (its `tf.while_loop`). Its
# work on a pair is mostly moving ~1.5 KiB of intermediate tensors (tiled tower outputs,
# the cross and hidden layers), so blocks that stay nearer the CPU caches are faster:
# 256 users x 4,906 items (100k synthetic reviews, the smoke head) took 0.77 s in blocks
# of 2^17 pairs, 0.52 s in blocks of 2^14 and of 2^12 (same scores, 2 cores).
RATING_BLOCK_PAIRS = 1 << 14


def users_per_call(num_items: int, users_per_batch: int = 256) -> int:
    """Users one call of `rating_matrix` (`score_items`, `score_components`) may score
    against `num_items` items: `users_per_batch`, fewer where the pairs would exceed
    `MAX_PAIRS_PER_CALL`, at least 1.

    Example:
        >>> users_per_call(894), users_per_call(48_901), users_per_call(10**7)
        (256, 21, 1)
    """
    return max(1, min(users_per_batch, MAX_PAIRS_PER_CALL // max(1, num_items)))


def rating_matrix(model: RecommenderModel, user: dict, item: dict) -> tf.Tensor:
    """Predicted ratings [U, I] of every user x item pair (unclipped).

    The pairs go through the rating head at most `RATING_BLOCK_PAIRS` at a time (blocks
    of users, in a `tf.while_loop` in graph mode), so a call's memory stays bounded
    whatever U x I: this covers the exported signatures too, where a client may send
    many users against a large catalogue. The result is the same as one call. A block
    holds at least one user, so one user against more than `RATING_BLOCK_PAIRS` items
    is still one block.

    Args:
        model: the `RecommenderModel`.
        user: user tower outputs ("latent" [U, E], "features" [U, F], "bias" [U]).
        item: item tower outputs, the same keys with I rows.

    Returns:
        float32 [U, I].
    """
    keys = ("latent", "features", "bias")
    num_users, num_items = tf.shape(user["bias"])[0], tf.shape(item["bias"])[0]
    step = tf.maximum(1, RATING_BLOCK_PAIRS // tf.maximum(1, num_items))
    blocks = tf.maximum(1, (num_users + step - 1) // step)  # one block when U = 0

    def block(index: tf.Tensor) -> tf.Tensor:
        begin = index * step
        part = {k: user[k][begin:tf.minimum(begin + step, num_users)] for k in keys}
        return _pair_ratings(model, part, item)

    if tf.executing_eagerly():
        if int(blocks) <= 1:
            return _pair_ratings(model, user, item)
        return tf.concat([block(tf.constant(b)) for b in range(int(blocks))], 0)
    parts = tf.TensorArray(tf.float32, size=blocks, infer_shape=False,
                           element_shape=tf.TensorShape([None, None]))
    _, parts = tf.while_loop(lambda b, _: b < blocks,
                             lambda b, out: (b + 1, out.write(b, block(b))),
                             (tf.constant(0), parts))
    return tf.reshape(parts.concat(), [num_users, num_items])


def _pair_ratings(model: RecommenderModel, user: dict, item: dict) -> tf.Tensor:
    """`rating_matrix` in one call: the head on every tiled pair, float32 [U, I]."""
    num_users, num_items = tf.shape(user["bias"])[0], tf.shape(item["bias"])[0]

    def tile(values: tf.Tensor, repeat_users: bool) -> tf.Tensor:
        if repeat_users:  # row u * I + i holds user u
            return tf.repeat(values, num_items, axis=0)
        return tf.tile(values, tf.concat([[num_users], tf.ones_like(tf.shape(values)[1:])], 0))

    keys = ("latent", "features", "bias")
    pairs_user = {k: tile(user[k], True) for k in keys}
    pairs_item = {k: tile(item[k], False) for k in keys}
    rating = model.rate(pairs_user, pairs_item, training=False)
    return tf.reshape(rating, [num_users, num_items])


def candidate_ratings(model: RecommenderModel, user: dict, item: dict) -> tf.Tensor:
    """Predicted ratings [B, C] of user b and its own candidates (item outputs [B, C, ...])."""
    count = tf.shape(item["bias"])[1]
    keys = ("latent", "features", "bias")
    pairs_user = {k: tf.repeat(user[k], count, axis=0) for k in keys}
    pairs_item = {k: tf.reshape(item[k], [-1] + item[k].shape[2:].as_list()) for k in keys}
    return tf.reshape(model.rate(pairs_user, pairs_item, training=False), [-1, count])


def profile_at(padded: tf.Tensor, item_index: tf.Tensor, per_row: bool = False) -> tf.Tensor:
    """Similarity profile values at feature-table rows: [U, I' + 1] at int64 [I] ->
    [U, I], or at [U, C] -> [U, C] (`per_row`); rows beyond the profile give 0."""
    width = tf.cast(tf.shape(padded)[1], tf.int64)
    inside = tf.where(item_index < width, item_index, tf.zeros_like(item_index))
    if per_row:
        return tf.gather(padded, inside, batch_dims=1)
    return tf.gather(padded, inside, axis=1)


def score_matrix(model: RecommenderModel, user: dict, item: dict, score_mode: str,
                 score_blend: float = 1.0) -> tf.Tensor:
    """Scores [U, I] of every user x item pair by `score_mode` (see `RecsysConfig`).

    The one scoring rule of serving, evaluation and the training-time ranking
    monitor: "retrieval" = dot product of the tower embeddings, "rating" = the
    predicted rating, "blend" = both standardised per user, the rating weighted
    by `score_blend`. "learned" ranks here by retrieval: its weights are fitted
    after training (`recsys.blend`), so the training-time monitor follows the
    trained score; `RecommenderServing` applies the fitted blend.
    """
    retrieval = tf.matmul(user["embedding"], item["embedding"], transpose_b=True)
    if score_mode in ("retrieval", "learned"):
        return retrieval
    rating = rating_matrix(model, user, item)
    if score_mode == "rating":
        return rating
    return standardize_tensor_rows(retrieval) + score_blend * standardize_tensor_rows(rating)


def blend_components(tables: FeatureTables) -> tuple[str, ...]:
    """The learned score's components for these tables ("knn" needs similarity profiles)."""
    return tuple(c for c in COMPONENTS if c != "knn" or tables.has_similarity)

