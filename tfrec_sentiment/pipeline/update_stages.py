"""The update's data, sentiment, features and recsys stages (`pipeline.update`).

    parent run + feedback --(feedback_stage)--> data/ (history with the feedback folded in)
    training reviews --(sentiment_stage: parent's classifier, linked score cache)--> scores
    scores + split --(train_and_judge: features, warm-started recsys, guardrail)--> candidate

The parent's classifier is not retrained: its folder and its score cache are
hard-linked into the new run (`link_tree`), so only new texts cost a BERT pass and
new scores go to the new run's cache. `train_and_judge` is shared with the erasure
(`pipeline.forget`), which prepares the data and the scores its own way.

Example:

>>> import tempfile
>>> source = Path(tempfile.mkdtemp()) / "scores"
>>> source.mkdir()
>>> _ = (source / "part-0.parquet").write_bytes(b"scores")
>>> copy = link_tree(source, source.parent / "linked")
>>> (copy / "part-0.parquet").read_bytes(), (copy / "part-0.parquet").samefile(
...     source / "part-0.parquet")
(b'scores', True)
>>> shutil.rmtree(source.parent)
>>> data = feedback_stage(parent, run_dir, ["feedback.jsonl"], UpdateConfig(),  # doctest: +SKIP
...                       run_config, None, None)
>>> model, scores = sentiment_stage(parent, run_dir, data.split.train,          # doctest: +SKIP
...                                 run_config, progress=False)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.io import read_table, write_table
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.feedback import FeedbackData, fold_feedback
from tfrec_sentiment.pipeline.stages import StageTimer, write_json
from tfrec_sentiment.pipeline.update_guardrail import guardrail_stage
from tfrec_sentiment.privacy import table_encryption
from tfrec_sentiment.recsys.trained import TrainedRecommender
from tfrec_sentiment.recsys.warm_start import refresh_tables, warm_start_recommender
from tfrec_sentiment.sentiment.inference import ScoreCache, score_reviews
from tfrec_sentiment.sentiment.model import Scores, SentimentModel

if TYPE_CHECKING:
    from tfrec_sentiment.pipeline.update import Hook, UpdateState


def feedback_stage(parent: Path, run_dir: Path, paths: Sequence, config: UpdateConfig,
                   run_config: config_lib.RunConfig, format: str | None,
                   columns: Sequence[str] | None) -> FeedbackData:
    """Folds the feedback into the parent's history; writes `data/` (encrypted as the
    parent's config says, `privacy`)."""
    encryption = table_encryption(run_config.privacy)
    parent_split = Split.load(parent / "data", encryption)
    history = pd.concat(list(parent_split.parts.values()), ignore_index=True)
    item_map = read_table(parent / "data" / "item_map.parquet", encryption).astype(object)
    data = fold_feedback(history, item_map, paths, config, format=format, columns=columns,
                         data_config=run_config.data)
    data.split.cold = parent_split.cold  # the parent's cold-start users stay held out
    folder = run_dir / "data"
    for index, prepared in enumerate(data.prepared):
        prepared.save(folder / "feedback" / str(index), encryption)
    data.split.save(folder, encryption)
    write_table(data.reviews, folder / "reviews.parquet", encryption)
    write_table(data.item_map, folder / "item_map.parquet", encryption)
    write_json(folder / "update.json", {"files": data.files, "counts": data.counts,
                                        "split": data.split.summary()})
    return data


def sentiment_stage(parent: Path, run_dir: Path, train: pd.DataFrame,
                    run_config: config_lib.RunConfig,
                    progress: bool) -> tuple[SentimentModel, Scores]:
    """Scores the training reviews with the parent's classifier and its score cache.

    The classifier folder and the cache are hard-linked into `run_dir/sentiment`
    (copied where links are impossible); new scores go to the new run's cache only.
    The parent's aspect profiles (`aspects/`) are linked too, so the update's version
    keeps the `explain` signature: feedback adds no mention (no spaCy here), so new
    users get the population's attention and new items no aspect.
    """
    settings = run_config.sentiment
    folder = run_dir / "sentiment"
    link_classifiers(parent, run_dir)
    if (parent / "aspects").is_dir():  # the explain signature's tables, as trained
        link_tree(parent / "aspects", run_dir / "aspects")
    model = SentimentModel.load(folder / "model")
    cache_dir = settings.cache_dir
    if cache_dir is None:
        cache_dir = folder / "scores"
        if (parent / "sentiment" / "scores").is_dir():
            link_tree(parent / "sentiment" / "scores", cache_dir)
    cache = ScoreCache(cache_dir, table_encryption(run_config.privacy))
    scores = score_reviews(model, train, settings, cache, progress)
    write_json(folder / "update.json", {"scored": len(train), "cache": dict(cache.stats),
                                        "fingerprint": model.fingerprint()})
    return model, scores


def train_and_judge(run_config: config_lib.RunConfig, config: UpdateConfig,
                    export: ExportConfig, state: UpdateState, scores: Scores,
                    timer: StageTimer, strategy: tf.distribute.Strategy, progress: bool,
                    hook: Hook) -> None:
    """Stages 3-5 (features, recsys, guardrail) on `state.feedback.split`.

    `scores` are the sentiment scores of the split's training rows. Writes
    `features/`, `config.json` (the parent's, with the warm-start recsys settings,
    seed and `export`) and `recsys/`; sets `state.tables`, `state.candidate` and
    `state.evaluation`. Shared by the feedback update and the erasure
    (`pipeline.forget`), which prepare the data and the scores each their way.
    """
    parent, run_dir, split = state.parent, state.run_dir, state.feedback.split
    with timer("features"):
        encryption = table_encryption(run_config.privacy)
        parent_recommender = TrainedRecommender.load(parent / "recsys", encryption=encryption)
        state.tables = refresh_tables(parent_recommender.tables, split.train,
                                      scores.probabilities, scores.embedding)
        state.tables.save(run_dir / "features", encryption)
    with timer("recsys"):
        recsys = dataclasses.replace(
            parent_recommender.config, epochs=config.epochs,
            learning_rate=config.learning_rate or parent_recommender.config.learning_rate)
        seed = run_config.seed if config.seed is None else config.seed
        config_lib.save(dataclasses.replace(run_config, recsys=recsys, seed=seed,
                                            export=export), run_dir / "config.json")
        state.candidate = warm_start_recommender(
            parent_recommender, recsys, split, state.tables, strategy, run_dir / "recsys",
            seed=seed, progress=progress)
    hook("trained", state)
    model_dir = Path(export.root) / export.model_name
    with timer("guardrail"):
        state.evaluation = guardrail_stage(state.candidate, split, model_dir, config, run_dir)
    hook("evaluated", state)


def link_classifiers(parent: Path, run_dir: Path) -> None:
    """Links the parent's fine-tuned classifier (`sentiment/model`) and, if it has one,
    its distilled student (`sentiment/student`, the served one) into `run_dir`."""
    link_tree(parent / "sentiment" / "model", run_dir / "sentiment" / "model")
    if (parent / "sentiment" / "student").is_dir():
        link_tree(parent / "sentiment" / "student", run_dir / "sentiment" / "student")


def link_tree(source: Path, target: Path) -> Path:
    """Copies a folder of immutable files by hard links (plain copies where impossible)."""
    shutil.copytree(source, target, copy_function=_link_or_copy, dirs_exist_ok=True)
    return target


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
