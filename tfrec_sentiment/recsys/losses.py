"""Per-example weights of the recommender's retrieval loss (`RecommenderModel.compute_loss`)."""

from __future__ import annotations

import tensorflow as tf

from tfrec_sentiment.data.schema import RATING_MAX, RATING_MIN
from tfrec_sentiment.recsys.config import RETRIEVAL_SAMPLE_WEIGHTS


def retrieval_example_weights(rating: tf.Tensor, mode: str = "none",
                              floor: float = 0.1) -> tf.Tensor:
    """Each example's weight in the retrieval loss, float32 [B].

    Args:
        rating: float [B], the example's rating (stars, or the comment-only protocol's
            sentiment pseudo-rating, `evaluation.comment_only`).
        mode: "none" (every example weighs 1: each review is a positive interaction)
            or "rating" (graded: `floor` at 1 star, 1 at 5 stars, linear between;
            ratings outside [1, 5] are clipped).
        floor: the weight of a 1-star example, in [0, 1].

    Raises:
        ValueError: an unknown mode.

    Example:
        >>> w = retrieval_example_weights(tf.constant([1.0, 3.0, 5.0]), "rating", 0.2)
        >>> [round(float(v), 2) for v in w]
        [0.2, 0.6, 1.0]
    """
    rating = tf.cast(tf.reshape(rating, [-1]), tf.float32)
    if mode == "none":
        return tf.ones_like(rating)
    if mode != "rating":
        raise ValueError(f"retrieval_sample_weight {mode!r} not in {RETRIEVAL_SAMPLE_WEIGHTS}")
    share = (tf.clip_by_value(rating, RATING_MIN, RATING_MAX) - RATING_MIN) / (
        RATING_MAX - RATING_MIN)
    return floor + (1.0 - floor) * share
