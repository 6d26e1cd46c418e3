"""Cold-start users (issue 10): rank a new user's later items from their first k reviews.

The split holds out a share of users whole (`DataConfig.cold_user_share`, `Split.cold`):
none of their rows is in train, validation or test, so they are in no feature table,
no model and no exported vocabulary. For each such user with at least k + 1 reviews:

- the **given** reviews are their first k by time (ties ordered as the split orders
  them, `data.splits.tie_break_keys`): text, stars and item;
- the **later** reviews are the rest; their items are the held-out relevance sets of
  `evaluate.evaluate` (any item; liked: stars >= `liked_min_rating`; disliked: stars
  <= `disliked_max_rating`).

Every model ranks the same catalogue (the training items of the feature tables), with
the given items excluded, through `evaluate.evaluate` (so `metrics.Ranking`, the
per-user arrays and the slices are those of the main table), for k in
`EvalConfig.cold_start_ks`:

- **popularity**: training review counts (`baselines.Popularity`);
- **item-kNN (given items)**: `baselines.ItemKNN` fitted on train, scoring from the
  given items (`ItemKNN.score_histories`);
- **ids only (OOV)**: the ids-only recommender asked with the user's (unknown) id, so
  it answers from its out-of-vocabulary row: the same list for every new user;
- **text-aware (from reviews)**: the full model through the code of the exported
  `recommend_from_reviews` signature (`export.module.ServingModule._score_new_users`:
  sentiment of the given texts, the given stars, zero helpful votes, dated at the end
  of training, aggregated by the recommender's `ReviewProfile`; the given items,
  latest first, as the user's review history and its item-to-item similarity
  profile, and the given reviews' count as the learned score's history bucket:
  `recsys.serving`). As in that signature, the given items are also excluded.

Models are compared with the paired bootstrap over users (`stats.paired_bootstraps`).
The models that answer from given reviews are `cold_start_models.py`, one k's result,
its table and the report files `cold_start_report.py` (both re-exported here).
`run_cold_start` writes `cold_start.md` and `cold_start.json`; the CLI runs it on a
finished run folder (an encrypted one with the key source of its config.json):

    python -m tfrec_sentiment.evaluation.cold_start --run runs/<run>

Example:

>>> import pandas as pd
>>> cold = pd.DataFrame({"user_id": ["c", "c", "c"], "item_id": ["x", "y", "z"],
...                      "timestamp": [3, 1, 2]})
>>> task = cold_start_task(cold, k=1)
>>> task.given["item_id"].tolist(), task.later["item_id"].tolist()
(['y'], ['z', 'x'])
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec_sentiment.data.splits import tie_break_keys
from tfrec_sentiment.evaluation.cold_start_models import FromReviews, GivenItemsKNN
from tfrec_sentiment.evaluation.cold_start_report import (
    REPORT_FILES,
    ColdStartResult,
    save_cold_start,
)
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import (
    LOWER_IS_BETTER,
    evaluate_many,
)
from tfrec_sentiment.evaluation.protocol import Recommender
from tfrec_sentiment.evaluation.stats import paired_bootstraps

__all__ = ["IDS_OOV", "ITEM_KNN", "MODELS", "PAIRS", "POPULARITY", "REPORT_FILES",
           "TEXT_AWARE", "ColdStartModels", "ColdStartResult", "ColdStartTask",
           "FromReviews", "GivenItemsKNN", "cold_start_task", "evaluate_cold_start", "main",
           "run_cold_start", "save_cold_start"]

POPULARITY = "popularity"
ITEM_KNN = "item-kNN (given items)"
IDS_OOV = "ids only (OOV)"
TEXT_AWARE = "text-aware (from reviews)"
MODELS = (POPULARITY, ITEM_KNN, IDS_OOV, TEXT_AWARE)
# (candidate, reference) pairs of the bootstrap table.
PAIRS = ((TEXT_AWARE, POPULARITY), (TEXT_AWARE, ITEM_KNN), (TEXT_AWARE, IDS_OOV),
         (ITEM_KNN, POPULARITY))


@dataclasses.dataclass
class ColdStartTask:
    """The given and later reviews of the cold users with at least k + 1 reviews.

    Attributes:
        k: reviews given per user.
        given: the first k rows of each user (canonical columns, time order per user).
        later: the user's other rows, the ones to predict.
        counts: cold_users, users (eligible), too_few_reviews, seen_in_training
            (skipped: their id is a training user's, e.g. after an update), given_rows,
            later_rows.
    """

    k: int
    given: pd.DataFrame
    later: pd.DataFrame
    counts: dict[str, int]


def cold_start_task(cold: pd.DataFrame, k: int,
                    known_users: Sequence[str] | np.ndarray = ()) -> ColdStartTask:
    """Cuts each cold user's reviews into the first k (given) and the rest (later).

    Args:
        cold: the cold users' rows (`Split.cold`; `user_id`, `item_id`, `timestamp`).
        k: reviews given per user, >= 1.
        known_users: ids the models were trained with; a cold user among them is
            skipped and counted (never happens for a fresh split).

    Returns:
        `ColdStartTask`; users with at most k reviews are left out and counted.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    users = cold["user_id"].astype(str).to_numpy()
    seen = np.isin(users, np.asarray(known_users, dtype=object).astype(str))
    order = pd.DataFrame({"user": users, "time": cold["timestamp"].to_numpy(np.int64),
                          "tie": tie_break_keys(cold), "row": np.arange(len(cold))})
    order = order[~seen].sort_values(["user", "time", "tie"], kind="stable")
    position = order.groupby("user", sort=False).cumcount().to_numpy()
    size = order.groupby("user", sort=False)["row"].transform("size").to_numpy()
    eligible = size > k
    given_rows = order["row"].to_numpy()[eligible & (position < k)]
    later_rows = order["row"].to_numpy()[eligible & (position >= k)]
    per_user = order.groupby("user", sort=False).size()
    counts = {"cold_users": int(pd.unique(users).size),
              "users": int((per_user > k).sum()),
              "too_few_reviews": int((per_user <= k).sum()),
              "seen_in_training": int(pd.unique(users[seen]).size),
              "given_rows": len(given_rows), "later_rows": len(later_rows)}
    return ColdStartTask(k, cold.iloc[given_rows].reset_index(drop=True),
                         cold.iloc[later_rows].reset_index(drop=True), counts)


def evaluate_cold_start(models: Mapping[str, Recommender], train: pd.DataFrame,
                        task: ColdStartTask, catalogue: np.ndarray,
                        config: EvalConfig | None = None) -> ColdStartResult:
    """Ranks the later items of `task` with every model; bootstraps the `PAIRS` present.

    Args:
        models: name -> a `Recommender` answering for the task's users (see the
            wrappers above; popularity and the ids-only model need none).
        train: the training rows (their item counts make the few-reviews slice).
        task: `cold_start_task(split.cold, k)`.
        catalogue: str [I], the items ranked (the feature tables' items).
        config: k, thresholds, slices, bootstrap settings.

    Returns:
        `ColdStartResult` (ranking metrics only: RMSE / MAE are not asked).

    Raises:
        ValueError: the task has no user, or no later item is in the catalogue.
    """
    config = config or EvalConfig()
    if task.counts["users"] == 0:
        raise ValueError(f"no cold user has more than {task.k} reviews")
    # One preparation of the held-out sets for every model (`evaluate_many`).
    results = dict(zip(models, evaluate_many(
        models.values(), train, task.later, seen=(task.given,), k=config.k,
        catalogue=catalogue, drop_unknown_items=True, max_elements=config.max_elements,
        liked_min_rating=config.liked_min_rating,
        disliked_max_rating=config.disliked_max_rating, history_bounds=config.history_bounds,
        few_reviews_max=config.few_reviews_max, ratings=False, max_users=config.max_users),
        strict=True))
    first = next(iter(results.values()))
    counts = {**task.counts, "evaluated_users": first.counts["users"],
              "dropped_unknown_item": first.counts["dropped_unknown_item"],
              "catalogue": first.counts["catalogue"]}
    result = ColdStartResult(task.k, config.k, counts, results, [])
    statistics = {}
    for candidate, reference in PAIRS:
        if candidate in results and reference in results:
            for metric in result.metric_keys:
                statistics[(candidate, reference, metric)] = (
                    results[candidate].per_user.statistic(metric),
                    results[reference].per_user.statistic(metric), metric in LOWER_IS_BETTER)
    for candidate, reference in dict.fromkeys(key[:2] for key in statistics):
        pair = {m: s for (c, r, m), s in statistics.items() if (c, r) == (candidate, reference)}
        result.comparisons += paired_bootstraps(
            pair, len(first.per_user.user_ids), names=(candidate, reference),
            n_resamples=config.n_resamples, seed=config.bootstrap_seed, level=config.level,
            max_elements=config.max_elements)
    return result


@dataclasses.dataclass
class ColdStartModels:
    """The fitted pieces of the four models, shared by every k.

    Attributes:
        popularity: `baselines.Popularity` fitted on train.
        knn: `baselines.ItemKNN` fitted on train, its settings tuned on validation as
            the in-run baseline's are.
        ids_only: the ids-only `TrainedRecommender` (None: that row is left out).
        module: the `export.module.ServingModule` of the text-aware model.
    """

    popularity: Recommender
    knn: object
    ids_only: Recommender | None
    module: object

    @classmethod
    def build(cls, split, recommender, sentiment, ids_only=None,
              top_k: int = 10) -> ColdStartModels:
        """Fits the baselines on `split.train` and composes the serving module.

        Args:
            split: the run's `Split`.
            recommender: the full (text-aware) `TrainedRecommender`.
            sentiment: the run's `SentimentModel`.
            ids_only: the ids-only `TrainedRecommender`, or None.
            top_k: K of the serving module (the scores do not depend on it).
        """
        from tfrec_sentiment.evaluation.baselines import ItemKNN, Popularity
        from tfrec_sentiment.export.module import build_serving_module

        validation = split.validation if len(split.validation) else None
        return cls(Popularity().fit(split.train), ItemKNN().fit(split.train, validation),
                   ids_only, build_serving_module(sentiment, recommender, top_k))

    def for_task(self, task: ColdStartTask) -> dict[str, Recommender]:
        """name -> `Recommender` answering for the task's users, in `MODELS` order."""
        models: dict[str, Recommender] = {
            POPULARITY: self.popularity, ITEM_KNN: GivenItemsKNN(self.knn, task.given)}
        if self.ids_only is not None:
            models[IDS_OOV] = self.ids_only
        models[TEXT_AWARE] = FromReviews(self.module, task.given)
        return models


def cold_start_skip_reason(config, split) -> str | None:
    """Why the run's cold-start protocol has nothing to do, or None (`run_cold_start`)."""
    if not config.evaluation.cold_start_ks:
        return "evaluation.cold_start_ks is empty"
    if len(split.cold) == 0:
        share = config.data.cold_user_share
        return ("no cold-start users (data.cold_user_share=0)" if share == 0 else
                f"no user of the data falls in data.cold_user_share={share:g}")
    return None


def run_cold_start(config, split, tables, recommender, sentiment, out_dir: str | Path,
                   *, ids_only=None, strategy=None, progress: bool = False
                   ) -> dict[int, ColdStartResult]:
    """The cold-start protocol of a run, for every k of `config.evaluation.cold_start_ks`.

    Args:
        config: the run's `RunConfig`.
        split: the run's `Split`, with its `cold` users.
        tables: the run's `FeatureTables` (built from `split.train`).
        recommender: the full `TrainedRecommender` (the one exported).
        sentiment: the run's `SentimentModel`.
        out_dir: where `cold_start.md` and `cold_start.json` go (the run's evaluation/).
        ids_only: the ids-only `TrainedRecommender`; None = trained here with the
            run's seed (`recsys.variant="ids"`).
        strategy, progress: for that training.

    Returns:
        k -> `ColdStartResult`; {} (and nothing written) when the split has no cold
        user or no k is configured.

    Example:
        >>> run_cold_start(config, run.split, run.tables, run.recommender,
        ...                run.sentiment, run.run_dir / "evaluation")  # doctest: +SKIP
    """
    settings = config.evaluation
    if cold_start_skip_reason(config, split) is not None:
        return {}
    catalogue = np.asarray(tables.ids["item"], dtype=object).astype(str)
    known = np.asarray(tables.ids["user"], dtype=object).astype(str)
    if ids_only is None:
        from tfrec_sentiment.recsys.train import train_recommender

        ids_only = train_recommender(dataclasses.replace(config.recsys, variant="ids"),
                                     split, tables, strategy, seed=config.seed,
                                     progress=progress)
    models = ColdStartModels.build(split, recommender, sentiment, ids_only,
                                   config.export.top_k)
    results = {}
    for k in settings.cold_start_ks:
        task = cold_start_task(split.cold, k, known_users=known)
        if task.counts["users"] == 0:
            continue
        results[k] = evaluate_cold_start(models.for_task(task), split.train, task,
                                         catalogue, settings)
    save_cold_start(results, out_dir, title=config.title)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the cold-start protocol on a finished run folder and prints the tables."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--run", required=True, help="a run folder (tools/train.py)")
    parser.add_argument("--out", default=None, help="default: RUN/evaluation")
    parser.add_argument("--ks", default=None, help="given reviews, e.g. 1,3 "
                        "(default: evaluation.cold_start_ks of the run's config)")
    args = parser.parse_args(argv)
    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.data.splits import Split
    from tfrec_sentiment.features.tables import FeatureTables
    from tfrec_sentiment.privacy import table_encryption
    from tfrec_sentiment.recsys.trained import TrainedRecommender
    from tfrec_sentiment.sentiment.model import SentimentModel

    run = Path(args.run)
    config = config_lib.load(run / "config.json")
    if args.ks:
        config = dataclasses.replace(config, evaluation=dataclasses.replace(
            config.evaluation, cold_start_ks=tuple(int(k) for k in args.ks.split(","))))
    encryption = table_encryption(config.privacy)  # an encrypted run's key source
    split = Split.load(run / "data", encryption)
    if len(split.cold) == 0:
        parser.error(f"{run / 'data'} holds no cold users (data.cold_user_share was 0, or "
                     f"the run predates it): retrain with a share > 0")
    tables = FeatureTables.load(run / "features", encryption)
    recommender = TrainedRecommender.load(run / "recsys", tables)
    sentiment = SentimentModel.load(run / "sentiment" / "model")
    # The ids-only model of the ablation is not saved in the run folder: trained again.
    results = run_cold_start(config, split, tables, recommender, sentiment,
                             args.out or run / "evaluation")
    for result in results.values():
        print(result.to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
