"""Feature stage config (owned by tfrec_sentiment.features)."""

from __future__ import annotations

import dataclasses

from tfrec_sentiment.config_checks import check_fields

# Allowed `training_features` values, dispatched in features/leakage.py.
TRAINING_FEATURES: tuple[str, ...] = ("past_only", "leave_one_out")


@dataclasses.dataclass
class FeatureConfig:
    """How sentiment, ratings and helpful votes are fused into features.

    Attributes:
        use_sentiment: build the sentiment feature group (needs per-review
            probabilities). Off: the tables hold only rating and helpful-vote groups.
        use_text: build the mean text embedding of each user's and item's reviews.
        prior_strength: pseudo-count `k` of the shrinkage towards the training-wide
            mean: a profile mean is `(sum + k * prior) / (count + k)`. It keeps
            profiles of users and items with few reviews near the global mean and
            gives users/items with no reviews (cold start, leave-one-out of a single
            review) a defined profile: the prior itself.
        training_features: which reviews a TRAINING row's features may use (the
            row's own review never): "past_only" - the user's and the item's reviews
            strictly before the row's time; "leave_one_out" - all other reviews of
            the user / item (leaks through id embeddings: see features/leakage.py).
            Validation, test and serving rows always get all training reviews.
        history_length: how many of a user's latest reviews form the user's review
            history (the reviewed items, signed by rating and by sentiment), the
            bag-of-items input of the user tower; 0 = none.
        item_similarity: build the item co-review matrix of the training split and
            each user's similarity profile (features/similarity.py: the mean
            leave-user-out cosine similarity of the history items to every
            catalogue item), the item-kNN signal the recommender's item-to-item
            retrieval term reads. Needs a history (history_length > 0).
        similarity_shrinkage: added to the cosine's denominator, so that item pairs
            resting on few co-reviews count less.
        similarity_max_items: refuse to build the [I, I] co-review matrix (and the
            [users, I] profiles, which the export stores as well) for a larger
            catalogue; `tools/train.py` switches item_similarity off there by itself.
            5,000 items x 50,000 users of profiles are 0.93 GiB of float32. At least 1.
        similarity_max_gb: `tools/train.py` also switches item_similarity off when its
            dense profiles (training rows and users x items, float32, kept twice)
            would take more than this many GiB (2**30 bytes; pipeline/memory.py).
            Must be > 0, like the other limits: 0 is refused rather than read as "no
            limit" or "never"; to never build the term set `item_similarity=False`
            here and in `RecsysConfig`.

    Example:

    >>> FeatureConfig(similarity_max_gb=0)
    Traceback (most recent call last):
    ...
    tfrec_sentiment.config_checks.ConfigError: similarity_max_gb=0.0: must be > 0.0; ...
    """

    use_sentiment: bool = True
    use_text: bool = True
    prior_strength: float = dataclasses.field(default=2.0, metadata={"min": 0.0})
    training_features: str = dataclasses.field(default="past_only",
                                               metadata={"choices": TRAINING_FEATURES})
    history_length: int = dataclasses.field(default=20, metadata={"min": 0})
    item_similarity: bool = True
    similarity_shrinkage: float = dataclasses.field(default=5.0, metadata={"min": 0.0})
    similarity_max_items: int = dataclasses.field(default=5_000, metadata={"min": 1})
    similarity_max_gb: float = dataclasses.field(default=2.0, metadata={
        "above": 0.0,
        "hint": "to never build the item-to-item term set features.item_similarity=false "
                "and recsys.item_similarity=false"})

    def __post_init__(self) -> None:
        check_fields(self)
