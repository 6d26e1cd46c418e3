"""A small finished run and its feedback, for the update tests (tiny BERT, tiny recommender).

The demo reviews are cut by time: the older 70% form the parent run's data (a CSV
file, trained through the training pipeline's own stage functions, minus the
ablation), the newer 30% are the feedback, in two JSON-lines files (an older and a newer half,
for two successive updates). In the feedback,
four users and three items are renamed to ids the run never saw, so the update
must grow both vocabularies.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.demo import generate_demo
from tfrec_sentiment.recsys.blend import BlendWeights

NEW_USERS = 4
NEW_ITEMS = 3
RECSYS = ["recsys.embedding_dim=8", "recsys.output_dim=8", "recsys.fusion_units=8",
          "recsys.text_units=4", "recsys.hidden_units=16", "recsys.history_dim=8",
          "recsys.batch_size=64", "recsys.learning_rate=0.01", "recsys.epochs=4",
          "recsys.monitor=val_rmse", "recsys.early_stopping_patience=2"]
COLUMNS = ["user_id", "item_id", "rating", "text", "title", "helpful_votes", "timestamp"]


def demo_logs(folder: Path, users: int = 90, items: int = 40) -> types.SimpleNamespace:
    """Writes `parent.csv` (older reviews) and `feedback_{a,b}.jsonl` (newer, with new ids)."""
    frame = generate_demo(seed=0, users=users, items=items).sort_values(
        "timestamp", kind="stable", ignore_index=True)
    cut = int(frame["timestamp"].quantile(0.7))
    old, new = frame[frame["timestamp"] < cut], frame[frame["timestamp"] >= cut].copy()
    renamed_users = sorted(new["user_id"].unique())[:NEW_USERS]
    renamed_items = sorted(new["item_id"].unique())[:NEW_ITEMS]
    new["user_id"] = new["user_id"].map(
        lambda u: f"NEWUSER{renamed_users.index(u)}" if u in renamed_users else u)
    new["item_id"] = new["item_id"].map(
        lambda i: f"NEWITEM{renamed_items.index(i)}" if i in renamed_items else i)
    folder.mkdir(parents=True, exist_ok=True)
    parent_file = folder / "parent.csv"
    old[COLUMNS].to_csv(parent_file, index=False)
    # Two feedback files, one after the other in time: two successive updates.
    middle = int(new["timestamp"].median())
    files = []
    for name, part in (("a", new[new["timestamp"] < middle]),
                       ("b", new[new["timestamp"] >= middle])):
        files.append(folder / f"feedback_{name}.jsonl")
        part[COLUMNS].to_json(files[-1], orient="records", lines=True)
    return types.SimpleNamespace(parent=parent_file, feedback_a=files[0], feedback_b=files[1],
                                 new_users=[f"NEWUSER{k}" for k in range(NEW_USERS)],
                                 new_items=[f"NEWITEM{k}" for k in range(NEW_ITEMS)])


def tiny_sentiment_dir(folder: Path) -> Path:
    """A tiny random BERT saved as a SentimentModel folder (the run reuses it)."""
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.model import SentimentModel

    config = SentimentConfig(preset="tiny", tiny_hidden_dim=8, tiny_heads=2, tiny_layers=1,
                             sequence_length=32, bucket_boundaries=(16, 32))
    return SentimentModel.from_config(config).save(folder / "tiny_sentiment")


def parent_run(folder: Path, logs: types.SimpleNamespace, saved_models: Path,
               extra: tuple[str, ...] = ()) -> Path:
    """Trains and exports a finished run on `logs.parent` (a CSV file; `extra`: more
    config overrides, e.g. a column map); returns the run folder."""
    from tfrec_sentiment.distribute.strategy import make_strategy
    from tfrec_sentiment.pipeline import train as pipeline

    overrides = [f"data.dataset={logs.parent}", "data.format=csv",
                 f"sentiment.model_dir={tiny_sentiment_dir(folder)}", "sentiment.preset=tiny",
                 "sentiment.sequence_length=32", "sentiment.inference_bfloat16=false",
                 f"export.root={saved_models}", "export.model_name=shop", "export.top_k=5",
                 *RECSYS, *extra]
    config = config_lib.resolve("smoke", overrides)
    run_dir = folder / "parent-run"
    run_dir.mkdir(parents=True)
    config_lib.save(config, run_dir / "config.json")
    strategy = make_strategy("default")
    _, split = pipeline.data_stage(config, run_dir)
    sentiment, scores = pipeline.sentiment_stage(config, split, run_dir, strategy, False)
    tables = pipeline.feature_stage(config, split, scores, run_dir)
    recommender = pipeline.recsys_stage(config, split, tables, run_dir, strategy, False)
    pipeline.export_stage(config, run_dir, sentiment, recommender)
    return run_dir


def tree_snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns) of every file under `folder` (hidden included)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def spoil(candidate) -> None:
    """Makes a trained recommender deterministically bad: shuffled item rows, 1-star ratings.

    The item id embeddings and biases are permuted (each item scored as another
    one), the rating head's output bias is lowered by 6 stars (every prediction
    clips to 1 star: a raise could clip to 5 and match data that is mostly 5
    stars, so the RMSE check would pass by chance) and the learned score
    ranks by those towers alone. Call it before the
    recommender's serving module is built (it caches the catalogue's embeddings).
    """
    tower = candidate.model.item_tower
    rng = np.random.default_rng(0)
    for table in tower.embedding_tables() + tower.bias_tables():
        values = table.numpy()
        table.assign(values[rng.permutation(len(values))] * 5.0)
    head = candidate.model.rating_head.trainable_variables[-1]
    head.assign(head - 6.0)
    if candidate.blend is not None:  # rank by the spoiled towers alone: the learned
        # score could otherwise lean on popularity / item-kNN and hide the damage
        candidate.blend = BlendWeights.single("retrieval", candidate.blend.components,
                                              candidate.blend.bounds)
    candidate._serving = None
