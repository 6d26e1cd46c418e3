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
        similarity_max_items: the largest catalogue whose item-to-item block is
            exact: profiles over the whole catalogue (width I) and the item's
            one-hot. Above it the block is projected on the top `similarity_rank`
            eigenvectors Q of the similarity (features/similarity.py): profile @ Q
            for the user, Q[i] for the item (width r), so memory grows with N x r,
            not N x I, and no dense [I, I] is formed. 5,000 items x 50,000 users of
            exact profiles are 0.93 GiB of float32. At least 1 (1 projects always).
        similarity_rank: r of that projection. 64: on Musical Instruments the
            item-kNN profile projected on r eigenvectors ranked the validation items
            (NDCG@10, leave-last-out) at 0.059 (r = 16), 0.068 (32), 0.072 (64),
            0.071 (128), 0.070 (256, 512) against 0.068 exact (a measurement outside
            the repository): 32 already matches the exact profile, 64 scored best
            with a margin over 32, and a larger r added nothing; it widens each
            embedding by 64 columns. At least 1.
        similarity_max_gb: `tools/train.py` projects an exact block (lowers
            similarity_max_items below the catalogue) when its dense profiles
            (training rows and users x items, float32, kept twice) would take more
            than this many GiB (2**30 bytes; pipeline/memory.py), and switches the
            term off when even the projected ones would.
            Must be > 0, like the other limits: 0 is refused rather than read as "no
            limit" or "never"; to never build the term set `item_similarity=False`
            here and in `RecsysConfig`.
        text_similarity_weight: w of the review-text term of the item-to-item
            similarity (features/text_similarity.py): shrunk co-review cosine +
            w * the TF-IDF cosine of the items' training reviews, leave-user-out;
            read only by the variants that read text ("full", "aspects"), and built
            only for the exact block (catalogues up to `similarity_max_items`). 0 =
            co-reviews alone. 0.5: on Musical Instruments' validation part, a
            profile of mean co-review cosine + w * text (and a popularity prior)
            ranked best at w = 0.5 among 0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2
            (NDCG@10 0.0676 at 0, 0.0832 at 0.5, 0.0761 at 1; README, "The text
            term of the item-to-item similarity").
        text_similarity_neighbours: text values kept per item (the k largest; then
            made symmetric). At least 1.

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
    similarity_rank: int = dataclasses.field(default=64, metadata={"min": 1})
    similarity_max_gb: float = dataclasses.field(default=2.0, metadata={
        "above": 0.0,
        "hint": "to never build the item-to-item term set features.item_similarity=false "
                "and recsys.item_similarity=false"})

    text_similarity_weight: float = dataclasses.field(default=0.5, metadata={"min": 0.0})
    text_similarity_neighbours: int = dataclasses.field(default=20, metadata={"min": 1})

    def __post_init__(self) -> None:
        check_fields(self)
