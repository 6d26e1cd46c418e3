"""A first fine-tuning stage on SST sentences before the reviews (`sentiment.first_stage`).

Stars are a noisy label for what a review says (a 3-star review often reads positive
or negative), and a run fine-tunes on a few thousand of them. The Stanford Sentiment
Treebank (Socher et al., EMNLP 2013) labels sentences by what they say, with a neutral
class (fine-grained 0-1 negative, 2 neutral, 3-4 positive). With `first_stage="sst3"`
the classifier is fine-tuned on SST's training sentences first (the last 10% of the
trees held out to pick the epoch, as `tools/train_sentiment.py --dataset sst3` does),
then on the reviews from those weights, head included; the reviews' settings
(epochs, learning rate, class weights, calibration) apply to the second stage only.
The first stage shares the run's `sequence_length` and buckets, so the second stage
packs texts the same way, and computes no calibration (the second stage fits it).

Stage folder: `<stage dir>/first_stage/` (checkpoints, `model/`, `summary.json`); a
rerun with the same folder reuses the finished model if its settings (data set,
epochs, preset, sequence length, learning rate, seed, `train_bfloat16`, dropout,
`attention_dropout`, `train_token_embeddings`) are the same,
else trains again.
The SST files are read from `first_stage_data` (a folder holding `sst/train.txt`, the
layout of `../shared/data/sentiment`); where that file is missing, the stage is skipped
with a warning and `summary["first_stage"]["skipped"]` says why. The "tiny" preset (random
weights, a toy vocabulary: the tests' and benchmarks' model) skips it too.

Example (fine-tunes MiniLM on 8k SST sentences, minutes: `+SKIP`):

>>> config = SentimentConfig(first_stage="sst3")  # doctest: +SKIP
>>> review_config, summary = first_stage(config, "runs/x/sentiment")  # doctest: +SKIP
>>> review_config.preset  # doctest: +SKIP
'runs/x/sentiment/first_stage/model'
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import tensorflow as tf

from tfrec_sentiment.io import atomic_write
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.datasets import sst_training_data
from tfrec_sentiment.sentiment.model import METADATA_FILE
from tfrec_sentiment.sentiment.presets import TINY
from tfrec_sentiment.sentiment.training import train_classifier

STAGE_FOLDER = "first_stage"
SUMMARY_FILE = "summary.json"


def first_stage(config: SentimentConfig, directory: str | Path,
                strategy: tf.distribute.Strategy | None = None, seed: int = 0,
                verbose: int | str = 0) -> tuple[SentimentConfig, dict]:
    """Runs the first stage named by `config.first_stage` (if any) in `directory`.

    Args:
        config: the run's sentiment settings; `first_stage`, `first_stage_data` and
            `first_stage_epochs` shape the first stage, the rest the reviews' stage.
        directory: the sentiment stage's folder (the stage writes `first_stage/` in it).
        strategy, seed, verbose: as `training.train_classifier`.

    Returns:
        (the config the reviews fine-tune with: `config` with `preset` set to the
        first stage's saved model, or `config` itself when there is no first stage;
        {"first_stage": its summary} or {} for "none").
    """
    if config.first_stage == "none":
        return config, {}
    if config.preset == TINY:  # random weights and a toy vocabulary: nothing to adapt
        return config, {"first_stage": {"name": config.first_stage,
                                        "skipped": "the tiny preset (tests and benchmarks)"}}
    path = Path(config.first_stage_data) / "sst" / "train.txt"
    if not path.is_file():
        reason = f"no SST trees at {path} (sentiment.first_stage_data)"
        warnings.warn(f"sentiment.first_stage={config.first_stage} skipped: {reason}; "
                      "the reviews fine-tune from the pretrained weights", stacklevel=2)
        return config, {"first_stage": {"name": config.first_stage, "skipped": reason}}
    folder = Path(directory) / STAGE_FOLDER
    model_dir = folder / "model"
    summary_path = folder / SUMMARY_FILE
    stage = dataclasses.replace(
        config, first_stage="none", epochs=config.first_stage_epochs,
        class_weighting=config.first_stage_class_weighting,
        max_train_examples=None, calibration="none", student_layers=0, model_dir=None)
    settings = {"preset": config.preset, "sequence_length": config.sequence_length,
                "learning_rate": config.learning_rate, "seed": seed,
                "train_bfloat16": config.train_bfloat16, "dropout": config.dropout,
                "attention_dropout": config.attention_dropout,
                "train_token_embeddings": config.train_token_embeddings,
                "class_weighting": stage.class_weighting}
    if summary_path.is_file():
        done = json.loads(summary_path.read_text())
        if (done.get("name"), done.get("epochs"), done.get("settings")) != (
                config.first_stage, stage.epochs, settings):
            shutil.rmtree(folder)  # another first stage's folder: trained again
    if not ((model_dir / METADATA_FILE).is_file() and summary_path.is_file()):
        train, validation = sst_training_data(config.first_stage, path)
        if verbose:
            print(f"sentiment: first stage, {config.first_stage} ({len(train):,} SST "
                  f"sentences, {stage.epochs} epoch(s)), then the reviews", flush=True)
        result = train_classifier(stage, train, validation, folder,
                                  strategy=strategy, seed=seed, verbose=verbose)
        result.model.save(model_dir)
        summary = {"name": config.first_stage, "data": str(path),
                   "train_rows": len(train), "validation_rows": len(validation),
                   "epochs": stage.epochs, "best_epoch": result.best_epoch,
                   "stopped_early": result.stopped_early,
                   "best_validation_macro_f1": result.best_macro_f1,
                   "settings": settings, "history": result.history}
        atomic_write(summary_path, json.dumps(summary, indent=2) + "\n")
    summary = json.loads(summary_path.read_text())
    return dataclasses.replace(config, preset=str(model_dir)), {"first_stage": summary}
