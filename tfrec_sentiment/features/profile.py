"""Review profiles: the ONE aggregation of reviews into user and item features.

A profile summarises a set of reviews (one user's, or one item's) by additive
sufficient statistics ("signals" summed over the reviews), then turns the sums into
features. Because the sums are additive, the same code serves three callers:

- table building: sums per user / item over the training split (`segment_ids`);
- leave-one-out training features: `finalize(sums_of_user - sums_of_this_pair)`;
- serving a brand-new user in-graph (`recommend_from_reviews`): sums over the
  user's raw reviews' sentiment outputs and ratings, then the same `finalize`.

Everything is TensorFlow ops, so `ReviewProfile` runs eagerly on numpy arrays and
inside a `tf.function` of a SavedModel alike.

Feature groups (dims fixed by `GROUP_FEATURES`):

| group     | features                                                             |
|-----------|----------------------------------------------------------------------|
| activity  | log(1 + count), mean review time, spread of review times (years)     |
| rating    | mean rating, rating spread (std)                                     |
| helpful   | share of reviews with >= 1 helpful vote, mean log(1 + votes),        |
|           | log(1 + total votes)                                                 |
| sentiment | mean polarity (p_pos - p_neg), polarity spread, mean p_neg/p_neu/p_pos,|
|           | helpfulness-weighted polarity, mean gap polarity - (rating - 3) / 2  |
| text      | mean review text embedding [D]                                       |

Means are shrunk towards the training-wide prior with pseudo-count `k`:
`(sum + k * prior) / (count + k)`, so an empty profile is the prior itself.

Example:

>>> import numpy as np
>>> reviews = {"probabilities": np.array([[0.1, 0.2, 0.7]], "float32"),
...            "rating": np.array([4.0], "float32"),
...            "helpful_votes": np.array([3.0], "float32"),
...            "timestamp": np.array([1_400_000_000])}
>>> profile = ReviewProfile(signal_prior=ReviewProfile.fit_prior(reviews))
>>> features = profile(reviews)
>>> sorted(features), tuple(features["sentiment"].shape)
(['activity', 'helpful', 'rating', 'sentiment'], (1, 7))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

SIGNALS: tuple[str, ...] = (
    "count",
    "time",
    "time_sq",
    "rating",
    "rating_sq",
    "helpful_any",
    "helpful_log",
    "helpful_votes",
    "weight",
    "polarity",
    "polarity_sq",
    "p_negative",
    "p_neutral",
    "p_positive",
    "weighted_polarity",
    "gap",
)
SENTIMENT_SIGNALS: frozenset[str] = frozenset(
    {"polarity", "polarity_sq", "p_negative", "p_neutral", "p_positive",
     "weighted_polarity", "gap"}
)
GROUP_FEATURES: dict[str, tuple[str, ...]] = {
    "activity": ("log_count", "time_mean", "time_std"),
    "rating": ("rating_mean", "rating_std"),
    "helpful": ("helpful_rate", "helpful_log_mean", "helpful_log_total"),
    "sentiment": ("polarity_mean", "polarity_std", "p_negative", "p_neutral", "p_positive",
                  "polarity_helpful_weighted", "polarity_rating_gap"),
}
FUSED_GROUPS: tuple[str, ...] = ("activity", "rating", "helpful", "sentiment")
# Review times enter as years since 2010-01-01: centred near review data of this era,
# the float32 variance E[t^2] - E[t]^2 keeps its precision.
_EPOCH_SECONDS = 1_262_304_000.0
_YEAR_SECONDS = 31_557_600.0
_INDEX = {name: i for i, name in enumerate(SIGNALS)}


def review_signals(
    rating: tf.Tensor,
    helpful_votes: tf.Tensor,
    timestamp: tf.Tensor,
    probabilities: tf.Tensor | None = None,
) -> tf.Tensor:
    """Per-review additive signals whose sums define a profile.

    Args:
        rating: float [N], stars 1..5.
        helpful_votes: float or int [N], >= 0.
        timestamp: int or float [N], seconds since the Unix epoch (for fresh
            reviews of a new user: the request time).
        probabilities: float [N, 3] (negative, neutral, positive), or None when
            sentiment is not used (its signals are then zeros).

    Returns:
        float32 [N, len(SIGNALS)], columns in `SIGNALS` order.
    """
    rating = tf.cast(tf.reshape(rating, [-1]), tf.float32)
    votes = tf.maximum(tf.cast(tf.reshape(helpful_votes, [-1]), tf.float32), 0.0)
    if probabilities is None:
        probabilities = tf.zeros([tf.shape(rating)[0], 3], tf.float32)
    probabilities = tf.cast(probabilities, tf.float32)
    p_neg, p_neu, p_pos = tf.unstack(probabilities, 3, axis=-1)
    polarity = p_pos - p_neg
    years = (tf.cast(tf.reshape(timestamp, [-1]), tf.float64) - _EPOCH_SECONDS) / _YEAR_SECONDS
    years = tf.cast(years, tf.float32)
    helpful_log = tf.math.log1p(votes)
    # Reviews others found helpful count more in the weighted polarity.
    weight = 1.0 + helpful_log
    columns = {
        "count": tf.ones_like(rating),
        "time": years,
        "time_sq": tf.square(years),
        "rating": rating,
        "rating_sq": tf.square(rating),
        "helpful_any": tf.cast(votes > 0, tf.float32),
        "helpful_log": helpful_log,
        "helpful_votes": votes,
        "weight": weight,
        "polarity": polarity,
        "polarity_sq": tf.square(polarity),
        "p_negative": p_neg,
        "p_neutral": p_neu,
        "p_positive": p_pos,
        "weighted_polarity": weight * polarity,
        # Words kinder (> 0) or harsher (< 0) than the stars, both on a [-1, 1] scale.
        "gap": polarity - (rating - 3.0) / 2.0,
    }
    return tf.stack([columns[name] for name in SIGNALS], axis=-1)


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class ReviewProfile(tf.keras.layers.Layer):
    """Aggregates reviews into profile feature groups (no trainable weights).

    Args:
        signal_prior: per-review mean of each signal over the training split,
            length `len(SIGNALS)` (see `fit_prior`).
        text_prior: mean text embedding over the training split [D], or None
            when text embeddings are not used.
        prior_strength: pseudo-count `k` of the shrinkage towards the prior (> 0).
        use_sentiment: output the sentiment group (inputs need `probabilities`).
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call inputs: a dict with `rating` [N], `helpful_votes` [N], `timestamp` [N]
    (seconds), and
    `probabilities` [N, 3] when `use_sentiment`, `embedding` [N, D] when
    `text_prior` is set. `segment_ids` [N] int (0..G-1) and `num_segments` G group
    the reviews into G profiles; without them all N reviews form one profile.

    Returns:
        dict group -> float32 [G, dim]: "activity" [G, 3], "rating" [G, 2], "helpful" [G, 3],
        "sentiment" [G, 7] (if used), "text" [G, D] (if used).
    """

    def __init__(
        self,
        signal_prior: Sequence[float],
        text_prior: Sequence[float] | None = None,
        prior_strength: float = 2.0,
        use_sentiment: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if len(signal_prior) != len(SIGNALS):
            raise ValueError(f"signal_prior has {len(signal_prior)} values, need {len(SIGNALS)}")
        if prior_strength <= 0:
            raise ValueError(f"prior_strength must be > 0, got {prior_strength}")
        self.signal_prior = [float(v) for v in signal_prior]
        self.text_prior = None if text_prior is None else [float(v) for v in text_prior]
        self.prior_strength = float(prior_strength)
        self.use_sentiment = bool(use_sentiment)

    @staticmethod
    def fit_prior(reviews: Mapping[str, np.ndarray]) -> list[float]:
        """Per-review mean of every signal over `reviews` (the training split)."""
        signals = review_signals(reviews["rating"], reviews["helpful_votes"],
                                 reviews["timestamp"], reviews.get("probabilities"))
        return tf.reduce_mean(signals, axis=0).numpy().tolist()

    @property
    def groups(self) -> tuple[str, ...]:
        fused = FUSED_GROUPS if self.use_sentiment else FUSED_GROUPS[:-1]
        return fused + (("text",) if self.text_prior is not None else ())

    @property
    def text_dim(self) -> int:
        return 0 if self.text_prior is None else len(self.text_prior)

    def summarize(
        self,
        reviews: Mapping[str, tf.Tensor],
        segment_ids: tf.Tensor | None = None,
        num_segments: int | tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        """Sums of signals (and text embeddings) per segment.

        Returns:
            {"signals": float32 [G, S]} plus {"text": float32 [G, D]} when text is used.
        """
        if self.use_sentiment and reviews.get("probabilities") is None:
            raise ValueError("ReviewProfile(use_sentiment=True) needs inputs['probabilities']")
        signals = review_signals(
            reviews["rating"], reviews["helpful_votes"], reviews["timestamp"],
            reviews.get("probabilities") if self.use_sentiment else None,
        )
        values = {"signals": signals}
        if self.text_prior is not None:
            if reviews.get("embedding") is None:
                raise ValueError("ReviewProfile with text_prior needs inputs['embedding']")
            values["text"] = tf.cast(reviews["embedding"], tf.float32)
        if segment_ids is None:
            return {k: tf.reduce_sum(v, axis=0, keepdims=True) for k, v in values.items()}
        return {
            k: tf.math.unsorted_segment_sum(v, segment_ids, num_segments)
            for k, v in values.items()
        }

    def finalize(self, sums: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Turns signal sums [G, S] (and text sums [G, D]) into feature groups [G, dim]."""
        sums_signals = tf.cast(sums["signals"], tf.float32)
        k = self.prior_strength
        prior = tf.constant(self.signal_prior, tf.float32)
        count = sums_signals[:, _INDEX["count"]]
        # Shrunk means of every signal: an empty profile equals the prior.
        shrunk = (sums_signals + k * prior) / (count[:, None] + k)

        def col(name: str) -> tf.Tensor:
            return shrunk[:, _INDEX[name]]

        def spread(name: str) -> tf.Tensor:
            variance = col(f"{name}_sq") - tf.square(col(name))
            return tf.sqrt(tf.maximum(variance, 0.0))

        total_votes = sums_signals[:, _INDEX["helpful_votes"]]
        features = {
            "activity": tf.stack([tf.math.log1p(count), col("time"), spread("time")], -1),
            "rating": tf.stack([col("rating"), spread("rating")], -1),
            "helpful": tf.stack(
                [col("helpful_any"), col("helpful_log"), tf.math.log1p(total_votes)], -1
            ),
        }
        if self.use_sentiment:
            weighted = col("weighted_polarity") / col("weight")
            features["sentiment"] = tf.stack(
                [col("polarity"), spread("polarity"), col("p_negative"), col("p_neutral"),
                 col("p_positive"), weighted, col("gap")], -1
            )
        if self.text_prior is not None:
            text_prior = tf.constant(self.text_prior, tf.float32)
            features["text"] = (tf.cast(sums["text"], tf.float32) + k * text_prior) / (
                count[:, None] + k
            )
        return features

    def call(
        self,
        inputs: Mapping[str, tf.Tensor],
        segment_ids: tf.Tensor | None = None,
        num_segments: int | tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        return self.finalize(self.summarize(inputs, segment_ids, num_segments))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            signal_prior=self.signal_prior,
            text_prior=self.text_prior,
            prior_strength=self.prior_strength,
            use_sentiment=self.use_sentiment,
        )
        return config
