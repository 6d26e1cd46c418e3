"""Comment-only feedback (issue 10): every model trained with the stars hidden.

Many platforms (video, news, social) have comments but no stars. This protocol asks
what sentiment is worth when it is the only graded signal:

- **Hidden stars.** `comment_only_split` returns a copy of the split whose `train` and
  `validation` parts have their `rating` column replaced by a pseudo-rating read from
  the review's text alone, and their `helpful_votes` set to 0 (interactions + text
  only); `cold` is dropped. Every model of the protocol, its feature tables, its early
  stopping and every setting it chooses read only that copy. The `test` part keeps its
  stars: only the evaluation reads them (`evaluate.evaluate_split` through
  `ablation.run_ablation`: Liked NDCG@10, Disliked@10, ... as in the main table).
- **Pseudo-rating** (`pseudo_ratings`): the expected stars under the classifier's
  class probabilities, sum_c p_c * stars_c with stars_c =
  `EvalConfig.comment_only_class_stars` (default 1, 3, 5 for negative, neutral,
  positive: the fixed map the serving module's `impute_ratings` falls back to, here
  without its least-squares calibration, which would be fitted on stars). With
  (1, 3, 5) it is 3 + 2 (p_pos - p_neg).
- **Where the sentiment comes from.** The run's classifier, fine-tuned on the
  training period's stars (its early stopping reads the validation stars); it never
  saw a test star. Its scores of the training rows come from the run's score cache,
  the validation rows are scored (once) with the same model. Limit: on a platform
  without any stars the classifier would have to be trained elsewhere (another
  domain, or labelled comments); here the training-period stars stand in for that
  outside supervision, and no recommender sees them. The CLI's `--sentiment vader`
  uses the VADER lexicon instead (`sentiment.baselines`: it never saw a star at all;
  no text embedding, so the text features are off).

Models (all fitted on the star-free copy, trained with `EvalConfig.comment_only_seeds`):

- **popularity**, **item-kNN** (`baselines`, item-kNN's settings chosen on validation
  NDCG@10 of any item: star-free);
- **implicit ids only**: the ids variant, every comment a positive interaction:
  retrieval loss only (`rating_weight=0`), unweighted, ranked by the retrieval score;
- **sentiment-graded** candidates (`CANDIDATES`): the ids variant with each
  comment's retrieval loss weighted by its sentiment (`recsys.retrieval_sample_weight
  = "rating"`: `retrieval_weight_floor` for a certainly negative comment, 1 for a
  certainly positive one), and the full variant (rating features and rating target
  = pseudo-ratings, sentiment and text features) without and with those weights,
  ranked by the retrieval score (`DEFAULT_CANDIDATES`; a fourth, ranked by the blend
  with the predicted pseudo-rating, is opt-in: `--candidates`).
  One candidate is chosen on VALIDATION with a star-free criterion: Liked NDCG@10
  where "liked" = validation comments whose pseudo-rating is >= `liked_min_rating`
  (the classifier reads them positive), ties broken by NDCG@10 of any item. That
  candidate is "the sentiment-graded model"; all candidates stay in the table.

The paired bootstrap compares the chosen candidate with implicit ids only and the
baselines. The star-free split is `pseudo_ratings.py`, the result and its report
`comment_only_report.py` (both re-exported here); this module runs the protocol.
`CommentOnlyResult.save` writes `comment_only.md` and `comment_only.json` (into the
run's `evaluation/`); the CLI runs the protocol on a finished run folder:

    python -m tfrec_sentiment.evaluation.comment_only --run runs/<run>

Example:

>>> import numpy as np
>>> pseudo_ratings(np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]]))
array([5. , 3. , 3.6], dtype=float32)
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfrec_sentiment.evaluation.ablation import Variant, run_ablation
from tfrec_sentiment.evaluation.baselines import baseline_variants
from tfrec_sentiment.evaluation.comment_only_inputs import (
    SENTIMENT_SOURCES,
    load_run_scores,
    score_reviews,
)
from tfrec_sentiment.evaluation.comment_only_report import (
    GOAL,
    IMPLICIT,
    REPORT_FILES,
    CommentOnlyResult,
)
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import evaluate_split
from tfrec_sentiment.evaluation.protocol import Recommender
from tfrec_sentiment.evaluation.pseudo_ratings import comment_only_split, pseudo_ratings

__all__ = ["BASELINES", "CANDIDATES", "DEFAULT_CANDIDATES", "GOAL", "IMPLICIT",
           "IMPLICIT_SETTINGS", "ITEM_KNN", "POPULARITY", "REPORT_FILES", "SENTIMENT_SOURCES",
           "CommentOnlyResult", "choose_candidate", "comment_only_split", "comment_only_stage",
           "load_run_scores", "main", "pseudo_ratings", "run_comment_only", "score_reviews"]

POPULARITY = "popularity"
ITEM_KNN = "item-kNN"
BASELINES = (POPULARITY, ITEM_KNN)
# RecsysConfig overrides of each model (on top of the run's recsys settings).
IMPLICIT_SETTINGS: dict[str, Any] = {
    "variant": "ids", "rating_weight": 0.0, "pairwise_weight": 0.0,
    "retrieval_sample_weight": "none", "score_mode": "retrieval"}
CANDIDATES: dict[str, dict[str, Any]] = {
    "ids + sentiment weights": {**IMPLICIT_SETTINGS, "retrieval_sample_weight": "rating"},
    "full + pseudo-ratings": {"variant": "full", "retrieval_sample_weight": "none",
                              "score_mode": "retrieval"},
    "full + pseudo-ratings + sentiment weights": {
        "variant": "full", "retrieval_sample_weight": "rating", "score_mode": "retrieval"},
    "full + pseudo-ratings + sentiment weights, blend": {
        "variant": "full", "retrieval_sample_weight": "rating", "score_mode": "blend"},
}
# The candidates a run tries. The "blend" one is opt-in (`--candidates`): its early
# stopping ranks validation by the rating head over every user x item pair each epoch,
# 310 s of a 719 s stage on Musical Instruments, and it was the validation's worst
# candidate there (Liked NDCG@10 0.0669 vs 0.0818-0.0868 for the other three).
DEFAULT_CANDIDATES: tuple[str, ...] = (
    "ids + sentiment weights", "full + pseudo-ratings",
    "full + pseudo-ratings + sentiment weights")


def run_comment_only(config: Any, split: Any, train_scores: Any, validation_scores: Any,
                     out_dir: str | Path | None = None, *, strategy: Any = None,
                     progress: bool = False,
                     candidates: Mapping[str, Mapping[str, Any]] | None = None,
                     sentiment_source: str = "classifier") -> CommentOnlyResult:
    """The comment-only protocol on one split (see the module docstring).

    Args:
        config: the run's `RunConfig` (features, recsys and evaluation settings; seeds
            = `evaluation.comment_only_seeds`).
        split: the run's `Split`, with its stars (train and validation stars are
            replaced before anything is fitted).
        train_scores, validation_scores: the classifier's `Scores` of `split.train` /
            `split.validation` (probabilities [N, 3], embeddings [N, D]), row-aligned.
        out_dir: where `comment_only.md` / `.json` go; None = nowhere.
        strategy: the `tf.distribute.Strategy` to train in (default: the current one).
        progress: progress bars.
        candidates: name -> RecsysConfig overrides of the sentiment-graded candidates;
            default the `DEFAULT_CANDIDATES` of `CANDIDATES`.
        sentiment_source: where the scores came from ("classifier" or "vader"), for
            the report.

    Returns:
        `CommentOnlyResult`.

    Example:
        >>> result = run_comment_only(config, split, train_scores, validation_scores,
        ...                           "runs/x/evaluation")  # doctest: +SKIP
    """
    from tfrec_sentiment.features.tables import build_feature_tables

    settings: EvalConfig = config.evaluation
    if candidates is None:
        candidates = {name: CANDIDATES[name] for name in DEFAULT_CANDIDATES}
    candidates = dict(candidates)
    if not candidates:
        raise ValueError("run_comment_only needs at least one sentiment-graded candidate")
    seeds = list(settings.comment_only_seeds)
    stars = tuple(settings.comment_only_class_stars)
    free = comment_only_split(split, train_scores.probabilities,
                              validation_scores.probabilities, stars)
    features = config.features
    tables = build_feature_tables(
        free.train, train_scores.probabilities if features.use_sentiment else None,
        train_scores.embedding if features.use_text else None, features)
    trained: dict[tuple[str, int], Recommender] = {}
    train_seconds: dict[tuple[str, int], float] = {}

    def recsys(name: str, overrides: Mapping[str, Any]) -> Variant:
        recsys_config = dataclasses.replace(config.recsys, **overrides)

        def train(seed: int) -> Recommender:
            if (name, seed) not in trained:
                start = time.perf_counter()
                trained[(name, seed)] = _train(recsys_config, free, tables, strategy, seed,
                                               progress)
                train_seconds[(name, seed)] = time.perf_counter() - start
            return trained[(name, seed)]

        return Variant(train)

    variants = {name: variant for name, variant in baseline_variants(
        free, mf_factors=settings.mf_factors).items() if name in BASELINES}
    variants[IMPLICIT] = recsys(IMPLICIT, IMPLICIT_SETTINGS)
    graded = {name: recsys(name, overrides) for name, overrides in candidates.items()}
    selection = {name: _validation_metrics(variant.train(seeds[0]), free, settings)
                 for name, variant in graded.items()}
    chosen = choose_candidate(selection, settings.k)
    pretrained = dict(train_seconds)  # trained for the choice: run_ablation reuses them
    variants.update(graded)
    pairs = [(chosen, IMPLICIT), *((chosen, b) for b in variants if b in BASELINES),
             *((name, IMPLICIT) for name in graded if name != chosen)]
    ablation = run_ablation(variants, free, config=settings, seeds=seeds, compare=pairs,
                            title=f"comment-only: {config.title}",
                            progress=progress)
    for name, variant in ablation.variants.items():  # seconds = train + evaluate, as elsewhere
        variant.seconds = [s + pretrained.get((name, seed), 0.0)
                           for s, seed in zip(variant.seconds, variant.seeds)]
    labels = np.argmax(np.asarray(train_scores.probabilities), axis=1)
    pseudo = {"mean": float(free.train["rating"].mean()),
              **{name: float(np.mean(labels == c))
                 for c, name in enumerate(("negative", "neutral", "positive"))}}
    result = CommentOnlyResult(ablation, chosen, selection, pseudo, stars, sentiment_source)
    if out_dir is not None:
        result.save(out_dir)
    return result


def choose_candidate(selection: Mapping[str, Mapping[str, float]], k: int = 10) -> str:
    """The candidate with the best validation Liked NDCG@k (pseudo), then NDCG@k; the
    first listed wins a tie. NaN (no validation comment read as liked) ranks last.

    Example:
        >>> choose_candidate({"a": {"liked_ndcg@10": 0.1, "ndcg@10": 0.2},
        ...                   "b": {"liked_ndcg@10": 0.3, "ndcg@10": 0.1}})
        'b'
    """
    def key(name: str) -> tuple[float, float]:
        values = selection[name]
        return tuple(-math.inf if math.isnan(v) else v
                     for v in (values[f"liked_ndcg@{k}"], values[f"ndcg@{k}"]))

    return max(selection, key=key)  # max keeps the first of equal keys


def comment_only_skip_reason(config: Any) -> str | None:
    """Why the comment-only protocol does not run for the run config `config`, or None.

    Example:
        >>> from tfrec_sentiment import config as config_lib
        >>> comment_only_skip_reason(config_lib.resolve("demo", ["evaluation.comment_only=false"]))
        'evaluation.comment_only is off'
    """
    return None if config.evaluation.comment_only else "evaluation.comment_only is off"


def comment_only_stage(config: Any, split: Any, sentiment: Any, train_scores: Any,
                       run_dir: str | Path, strategy: Any = None,
                       progress: bool = False) -> CommentOnlyResult | None:
    """The pipeline's call: scores the validation rows with the run's classifier (through
    its score cache) and runs the protocol into `run_dir/evaluation/`.

    Args:
        config: the run's `RunConfig`; nothing runs when `evaluation.comment_only` is off.
        split: the run's `Split`.
        sentiment: the run's `SentimentModel`.
        train_scores: its `Scores` of `split.train` (the sentiment stage's output).
        run_dir: the run folder (score cache in `sentiment/scores` unless
            `sentiment.cache_dir` is set).

    Returns:
        `CommentOnlyResult`, or None when switched off.

    Example:
        >>> comment_only_stage(config, split, sentiment, train_scores, run_dir)  # doctest: +SKIP
    """
    if comment_only_skip_reason(config) is not None:
        return None
    validation_scores = score_reviews(sentiment, split.validation, config, run_dir, progress)
    return run_comment_only(config, split, train_scores, validation_scores,
                            Path(run_dir) / "evaluation", strategy=strategy, progress=progress)


def _train(recsys_config: Any, split: Any, tables: Any, strategy: Any, seed: int,
           progress: bool) -> Recommender:
    from tfrec_sentiment.recsys.train import train_recommender

    return train_recommender(recsys_config, split, tables, strategy, seed=seed,
                             progress=progress)


def _validation_metrics(model: Recommender, split: Any, settings: EvalConfig
                        ) -> dict[str, float]:
    """Validation metrics against the pseudo-ratings (the star-free choice)."""
    undefined = {f"liked_ndcg@{settings.k}": math.nan, f"ndcg@{settings.k}": math.nan}
    if len(split.validation) == 0:
        return undefined
    try:
        return evaluate_split(model, split, on="validation", k=settings.k,
                              drop_unknown_items=settings.drop_unknown_items,
                              max_elements=settings.max_elements, config=settings).metrics
    except ValueError:  # no validation item among the training items
        return undefined


def main(argv: Sequence[str] | None = None,
         run: Callable[..., CommentOnlyResult] = run_comment_only) -> int:
    """Runs the comment-only protocol on a finished run folder and prints the report."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--run", required=True, help="a run folder (tools/train.py)")
    parser.add_argument("--out", default=None, help="default: RUN/evaluation")
    parser.add_argument("--seeds", default=None,
                        help="e.g. 0,1,2 (default: evaluation.comment_only_seeds)")
    parser.add_argument("--sentiment", default="classifier", choices=SENTIMENT_SOURCES,
                        help="the run's fine-tuned classifier, or the VADER lexicon")
    parser.add_argument("--candidates", default=None,
                        help=f"sentiment-graded candidates, ';'-separated, of: "
                        f"{'; '.join(CANDIDATES)} (default: {'; '.join(DEFAULT_CANDIDATES)})")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        metavar="SECTION.FIELD=VALUE", help="config override, e.g. "
                        "recsys.retrieval_weight_floor=0")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from tfrec_sentiment import config as config_lib

    names = [n.strip() for n in (args.candidates or "").split(";") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidate(s) {unknown}; choose from {list(CANDIDATES)}")
    config, split, train_scores, validation_scores = load_run_scores(args.run, args.sentiment)
    overrides = list(args.overrides)
    if args.seeds:
        overrides.append(f"evaluation.comment_only_seeds={args.seeds}")
    config = config_lib.apply_overrides(config, overrides)
    result = run(config, split, train_scores, validation_scores,
                 args.out or Path(args.run) / "evaluation", progress=not args.quiet,
                 candidates={n: CANDIDATES[n] for n in names} if names else None,
                 sentiment_source=args.sentiment)
    print(result.to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
