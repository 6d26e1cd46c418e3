"""Recommender stage config (owned by tfrec_sentiment.recsys)."""

from __future__ import annotations

import dataclasses

from tfrec_sentiment.config_checks import ConfigError, check_fields

# Ablation variants: which feature groups the towers read.
# Signals that sign the user's review history, per variant.
VARIANT_HISTORY_SIGNALS: dict[str, tuple[str, ...]] = {
    "ids": (),
    "ratings": ("rating",),
    "full": ("rating", "sentiment"),
    "aspects": ("rating", "sentiment"),
}
VARIANT_GROUPS: dict[str, tuple[str, ...]] = {
    "ids": (),
    "ratings": ("activity", "rating", "helpful"),
    "full": ("activity", "rating", "helpful", "sentiment"),
    # full + the aspect profiles of features/aspects.py (needs the aspects stage)
    "aspects": ("activity", "rating", "helpful", "sentiment", "aspect"),
}
# Variants that read the review text (the mean text embedding, with use_text).
TEXT_VARIANTS: tuple[str, ...] = ("full", "aspects")
VARIANTS: tuple[str, ...] = tuple(VARIANT_GROUPS)
# Allowed values of the string fields, used where each is dispatched (recsys/model.py,
# recsys/serving.py, pipeline/guardrail.py).
RATING_LOSSES = ("mse", "huber")
RETRIEVAL_CANDIDATES = ("batch", "catalogue")
SCORE_MODES = ("retrieval", "rating", "blend", "learned")
BLEND_RULES = ("one_se", "best", "cross_fit")  # recsys.blend.fit_blend
NEW_USER_GIVEN = ("first", "latest")  # TrainedRecommender.fit_new_user_blend
RETRIEVAL_SAMPLE_WEIGHTS = ("none", "rating")


@dataclasses.dataclass
class RecsysConfig:
    """The TFRS retrieval + ranking model and its training.

    Model:
        variant: ablation switch: "ids" (id embeddings only), "ratings" (+ the
            interaction aggregates: review count and times, ratings, helpful votes),
            "full" (+ the sentiment group and, with use_text, the text embedding),
            "aspects" (full + the "aspect" group: the user's aspect attention, the
            item's aspect quality; features/aspects.py, needs the aspects stage).
        use_text: towers also read the mean review text embedding (only with
            variants "full" and "aspects"; the text is the review, so it belongs to
            "sentiment").
        embedding_dim: id embedding width; output_dim: tower output width (the
            retrieval embedding); fusion_units / text_units: fused feature widths.
        num_oov_buckets: StringLookup OOV buckets for unknown ids.
        history_dim: width of the user tower's bag-of-items embedding of the user's
            review history (0 = no history); the variant decides its signs (ids:
            none, ratings: + rating, full: + rating and sentiment).
        item_similarity: an item-to-item retrieval term: score(u, i) += w * the
            user's similarity profile at i (the mean leave-user-out cosine
            similarity of the user's history items to i, from the training
            period's co-reviews: features/similarity.py, the item-kNN signal), w a
            trainable scalar. Both retrieval embeddings grow by I columns (the
            user: w * profile; the item: its one-hot), or by r above
            `FeatureConfig.similarity_max_items` items (the user: w * profile @ Q;
            the item: Q[i], Q the top-r eigenvectors of the similarity). Needs the
            tables' similarity profiles (FeatureConfig.item_similarity).
        similarity_weight: the initial w, in retrieval-score units (the softmax
            divides by `temperature`). The softmax likelihood alone moves w slowly
            and towards a flatter ranking than top-10 metrics want, so the start
            matters: chosen on validation NDCG@10 (see the README).
        id_dropout: share of training examples whose id is replaced by the OOV
            bucket, so the OOV path learns to score from features (cold start).
        normalize_embeddings: L2-normalise both towers' outputs (cosine retrieval
            scores; use with a temperature).
        retrieval_bias: retrieval scores get a learned item bias (an extra
            embedding column: 1 for users, the bias for items), which learns the
            popularity that ridge-shrunk embeddings under-express; with
            bias_init it starts at temperature * log(popularity share).
        profile_in_embedding: the profile (fused features, text) also enters the
            retrieval embedding; off, it reaches retrieval only through the item
            retrieval bias (and rating through the biases and the head).
        cross_layers, hidden_units, dropout: the ranking head (DCN Cross + MLP).
        id_l2: ridge weight on the id (and history) embedding tables, in the
            units of the bias baseline's `reg` (b = sum(residual) / (n + reg)).
        bias_l2: ridge weight on the id bias tables (the bias baseline's `reg`).
        history_l2: ridge weight on the history item embedding table (shared by
            every user who reviewed the item, so it needs less than an id).
        head_l2: L2 weight on the rating head's dense and cross kernels.
        feature_l2: L2 weight on the towers' profile-path kernels (fusion, text
            and feature projections): profile features nearly identify an id, so
            this path needs about as much shrinkage as an id embedding.
        bias_init: start the id biases at the closed-form ridge biases (the bias
            baseline, reg = bias_l2); the head's output starts at zero, so the
            untrained model IS the bias baseline and training learns the residual.

    Losses:
        retrieval_weight, rating_weight, pairwise_weight: weights of the
            softmax retrieval loss, the rating regression loss and the BPR-style
            pairwise loss (observed item vs an in-batch other item, on the
            ranking head's output). A weight of 0 turns that loss off.
        rating_loss: "mse" or "huber".
        sampling_correction: subtract log(item popularity) from the in-batch
            logits (logQ correction), so retrieval scores keep popularity.
        temperature: softmax temperature of the retrieval loss (None = 1).
        retrieval_candidates: the softmax's candidates: "batch" (the other items of
            the batch, logQ-corrected by `sampling_correction`) or "catalogue"
            (every catalogue item: the exact softmax, affordable for catalogues of a
            few thousand items).
        retrieval_sample_weight: each example's weight in the retrieval loss:
            "none" (1: every review a positive interaction) or "rating" (graded
            implicit feedback: `retrieval_weight_floor` at 1 star, rising linearly
            to 1 at 5 stars; in the comment-only protocol the rating is the
            sentiment pseudo-rating, `evaluation.comment_only`).
        retrieval_weight_floor: the "rating" weight of a 1-star example, in [0, 1]
            (0: the most negative reviews are not positives at all).

    Training:
        epochs, batch_size (GLOBAL, split over replicas), learning_rate,
        steps_per_execution, early_stopping_patience, monitor (the validation
        metric early stopping follows, restoring its best epoch: the default,
        "val_ndcg_at_10", is the evaluation's own NDCG@10 over the full catalogue
        without the user's training items (`train.RankingMonitor`; any
        "val_ndcg_at_<k>" works); the FactorizedTopK hit rate
        "val_factorized_top_k/top_10_categorical_accuracy" ranks the training
        items too; "val_rmse" or "val_total_loss" also work),
        monitor_max_users (the "val_ndcg_at_<k>" monitor ranks at most this many
        validation users, the same each epoch, first by a fixed hash of the id:
        its cost is users x items per epoch; none = all; 10,000 keeps every
        validation user of the packaged real data sets),
        topk_metrics_in_training (FactorizedTopK metrics in every validation
        pass; they cost a catalogue scoring per pass, and are switched on by
        themselves when `monitor` names them).

    Scoring:
        score_mode: how `score_items` ranks: "retrieval" (tower dot product),
            "rating" (ranking head), or "blend" (retrieval score standardised per
            user + score_blend * predicted rating), or "learned" (per user-history
            bucket, a weighted sum of the per-user standardised retrieval score,
            predicted rating, item popularity and item-kNN profile, the weights
            fitted on the validation part after training: `recsys.blend`; the
            default: on validation it is never below its single signals).
        blend_history_bounds: lower bounds of the learned score's user-history
            buckets (`evaluation.evaluate.history_buckets`; the default gives "0"
            (unknown user), "1", "2-4", "5+", as `EvalConfig.history_bounds`).
        blend_steps: the learned score's weight grid on the simplex has step
            1 / blend_steps.
        blend_min_users: a bucket with fewer validation users than this takes the
            weights fitted on all validation users.
        blend_rule: how a weight vector is chosen from the grid: "best" (the
            default: the best mean, ties to the earlier grid point) or "one_se"
            (the vector with the fewest components whose validation
            objective is within one paired standard error of the best's, and a
            bucket keeps the pooled weights unless its own beat them by more than
            one; the one-standard-error rule, Hastie, Tibshirani & Friedman, The
            Elements of Statistical Learning, 2nd ed., section 7.10). On Musical
            Instruments "one_se" tied "best" (README); on the update tests' tiny data
            it made warm-started candidates pick other weights than their parent and
            fail the guardrail, so it is opt-in until measured on a sparse data set.
            "cross_fit": the way of fitting ("best" per bucket, one pooled
            point, or a single component) chosen by two-way cross-fitting over the
            validation users (`recsys.blend_cross_fit`); opt-in (README).
        blend_max_scores: a weight fit (known users, and new users) ranks at most
            this many validation scores per component: above it, the
            `blend_max_scores // I` validation users (at least `blend_min_users`)
            first by a fixed hash of their id (`ValidationSet.sample`). Bounds the fit's
            memory (5 float64 [users, I] copies) and time (one full ranking per grid
            point); the default (4,194,304) keeps every validation user of Musical
            Instruments and Subscription_Boxes.
        new_user_given: which n_b training reviews a validation user is given when
            the new users' weights of bucket b are fitted
            (`TrainedRecommender.fit_new_user_blend`): "first" (default: their
            first n_b, as the cold-start protocol gives a new user's first k) or
            "latest" (the n_b just before their validation item, as a new user asks
            right after writing; opt-in). On Musical Instruments' validation part
            item-kNN from a user's first review ranks their validation item at
            NDCG@10 0.025 (popularity 0.046), from their latest at 0.054, so
            "first" gives item-kNN no weight at k = 1; "latest" gives it 0.2, yet
            read cold-start NDCG@10 0.0964 / 0.1013 at k = 1 / 3 against 0.1072 /
            0.1099 (README, "Cold-start users").
    """

    epochs: int = dataclasses.field(default=40, metadata={"min": 1})
    variant: str = dataclasses.field(default="full", metadata={"choices": VARIANTS})
    use_text: bool = True
    embedding_dim: int = dataclasses.field(default=16, metadata={"min": 1})
    output_dim: int = dataclasses.field(default=16, metadata={"min": 1})
    fusion_units: int = dataclasses.field(default=16, metadata={"min": 1})
    text_units: int = dataclasses.field(default=8, metadata={"min": 1})
    num_oov_buckets: int = dataclasses.field(default=1, metadata={"min": 1})
    normalize_embeddings: bool = False
    retrieval_bias: bool = False
    profile_in_embedding: bool = True
    history_dim: int = dataclasses.field(default=16, metadata={"min": 0})
    item_similarity: bool = True
    similarity_weight: float = 5.0
    id_dropout: float = dataclasses.field(default=0.1, metadata={"min": 0.0, "below": 1.0})
    cross_layers: int = dataclasses.field(default=1, metadata={"min": 0})
    hidden_units: tuple[int, ...] = dataclasses.field(default=(32,), metadata={"min": 1})
    dropout: float = dataclasses.field(default=0.1, metadata={"min": 0.0, "below": 1.0})
    id_l2: float = dataclasses.field(default=200.0, metadata={"min": 0.0})
    bias_l2: float = dataclasses.field(default=8.0, metadata={"min": 0.0})
    history_l2: float = dataclasses.field(default=200.0, metadata={"min": 0.0})
    head_l2: float = dataclasses.field(default=0.03, metadata={"min": 0.0})
    feature_l2: float = dataclasses.field(default=0.3, metadata={"min": 0.0})
    bias_init: bool = True
    retrieval_weight: float = dataclasses.field(default=1.0, metadata={"min": 0.0})
    rating_weight: float = dataclasses.field(default=1.0, metadata={"min": 0.0})
    pairwise_weight: float = dataclasses.field(default=0.0, metadata={"min": 0.0})
    rating_loss: str = dataclasses.field(default="mse", metadata={"choices": RATING_LOSSES})
    sampling_correction: bool = True
    temperature: float | None = dataclasses.field(default=0.1, metadata={"above": 0.0})
    retrieval_candidates: str = dataclasses.field(
        default="batch", metadata={"choices": RETRIEVAL_CANDIDATES})
    retrieval_sample_weight: str = dataclasses.field(
        default="none", metadata={"choices": RETRIEVAL_SAMPLE_WEIGHTS})
    retrieval_weight_floor: float = dataclasses.field(default=0.1,
                                                      metadata={"min": 0.0, "max": 1.0})
    batch_size: int = dataclasses.field(default=256, metadata={"min": 1})
    learning_rate: float = dataclasses.field(default=0.005, metadata={"above": 0.0})
    steps_per_execution: int = dataclasses.field(default=1, metadata={"min": 1})
    early_stopping_patience: int = dataclasses.field(default=10, metadata={"min": 0})
    monitor: str = "val_ndcg_at_10"
    monitor_max_users: int | None = dataclasses.field(default=10_000, metadata={"min": 1})
    topk_metrics_in_training: bool = False
    topk_ks: tuple[int, ...] = dataclasses.field(default=(10, 50), metadata={"min": 1})
    score_mode: str = dataclasses.field(default="learned", metadata={"choices": SCORE_MODES})
    score_blend: float = 1.0
    blend_history_bounds: tuple[int, ...] = dataclasses.field(default=(1, 2, 5),
                                                              metadata={"min": 0})
    blend_steps: int = dataclasses.field(default=10, metadata={"min": 1})
    blend_min_users: int = dataclasses.field(default=30, metadata={"min": 1})
    blend_rule: str = dataclasses.field(default="best", metadata={"choices": BLEND_RULES})
    blend_max_scores: int = dataclasses.field(default=1 << 22, metadata={"min": 1})
    new_user_given: str = dataclasses.field(default="first",
                                            metadata={"choices": NEW_USER_GIVEN})

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def feature_groups(self) -> tuple[str, ...]:
        """Fused groups of the variant, e.g. ("rating", "helpful", "sentiment")."""
        _check_variant(self.variant)
        return VARIANT_GROUPS[self.variant]

    @property
    def history_signals(self) -> tuple[str, ...]:
        """Signals that sign the review history for this variant."""
        _check_variant(self.variant)
        return VARIANT_HISTORY_SIGNALS[self.variant]

    @property
    def reads_review_text(self) -> bool:
        """Whether the variant reads review text in any form (the text embedding with
        `use_text`, the text term of the item-to-item similarity)."""
        _check_variant(self.variant)
        return self.variant in TEXT_VARIANTS

    @property
    def text_enabled(self) -> bool:
        return self.use_text and self.variant in TEXT_VARIANTS


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ConfigError(f"choose one of {', '.join(VARIANTS)}", "variant", variant)
