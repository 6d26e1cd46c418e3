"""The stand-alone sentiment run: data -> fine-tune -> save -> evaluate (with VADER).

`tools/train_sentiment.py` is a thin command line over `run_sentiment`.

Data sets (`dataset`):
- "sst2": SST train sentences (binary), the last 10% of the trees held out for model
  selection; SST-2 dev is evaluation only.
- "sst2-phrases": the same, but training on every phrase of the training trees, as
  GLUE's SST-2 does (77.6k distinct phrases here; GLUE counts 67.3k).
- "sst3", "sst3-phrases": the same with three classes (fine-grained labels 0-1
  negative, 2 neutral, 3-4 positive), for short texts that may be neutral.
- "demo", a review file, or a data set name: read with
  `tfrec_sentiment.data.prepare.load_dataset`, labels from stars, split by one global
  time cut-off (`tfrec_sentiment.data.splits.time_cutoff`): train on the oldest 80%,
  select on the next 10%, evaluate on the newest 10%.

Every run is also evaluated on the public sets found in `public_dir` (SST-2 dev, UCI).
With `config.first_stage` the classifier is fine-tuned on SST first (`first_stage.py`).

Example (the SST files and a fine-tuning run of many minutes, so not run by the tests:
`+SKIP`):

>>> summary = run_sentiment("sst2", SentimentConfig(epochs=3), "runs/sst2",  # doctest: +SKIP
...                         public_dir="../shared/data/sentiment")
>>> summary["results"]["sst2-dev"]["bert"]["accuracy"] > 0.85  # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.datasets import SST_DATASETS, LabelledTexts, sst_training_data
from tfrec_sentiment.sentiment.evaluate import (
    compute_record,
    data_record,
    evaluate_sets,
    labelled_reviews,
    public_sets,
    write_report,
)
from tfrec_sentiment.sentiment.first_stage import first_stage
from tfrec_sentiment.sentiment.inference import ScoreCache, scoring_options
from tfrec_sentiment.sentiment.training import train_classifier


@dataclasses.dataclass
class SentimentData:
    """Train / validation texts and the held-out sets specific to the data set."""

    train: LabelledTexts
    validation: LabelledTexts
    held_out: list[LabelledTexts]
    train_available: int  # training texts before `max_train_examples` kept `train`
    kept: str = "the newest"  # which ones the cap keeps (`evaluate.data_record`)


def load_sentiment_data(dataset: str, config: SentimentConfig, public_dir: Path | None,
                        data_format: str | None = None, seed: int = 0) -> SentimentData:
    """Builds the fine-tuning data for `dataset` (see the module docstring)."""
    if dataset in SST_DATASETS:
        path = Path(public_dir or ".") / "sst" / "train.txt"
        train, validation = sst_training_data(dataset, path)
        # SST has no time order and its file runs in label blocks: a cap takes an even
        # stride over the file, not its tail.
        return SentimentData(_head(train, config.max_train_examples), validation, [],
                             len(train), "an even stride over the file")
    from tfrec_sentiment.data.prepare import load_dataset
    from tfrec_sentiment.data.splits import time_cutoff

    reviews = load_dataset(dataset, format=data_format, seed=seed).reviews
    split = time_cutoff(reviews)
    name = Path(dataset).name.split(".")[0] if Path(dataset).suffix else dataset
    train = labelled_reviews(split.train.sort_values("timestamp", kind="stable"),
                             f"{name}-train", config.label_column)
    validation = labelled_reviews(split.validation, f"{name}-validation", config.label_column)
    test = labelled_reviews(split.test, f"{name}-test (time split)", config.label_column)
    return SentimentData(train.newest(config.max_train_examples), validation, [test],
                         len(train))


def run_sentiment(dataset: str, config: SentimentConfig, out_dir: str | Path,
                  public_dir: str | Path | None = None, data_format: str | None = None,
                  strategy: tf.distribute.Strategy | None = None, seed: int = 0,
                  verbose: int | str = "auto", max_eval: int | None = None) -> dict:
    """Fine-tunes on `dataset`, saves the model, evaluates it and VADER; returns metrics.

    Writes into `out_dir`: `checkpoints/`, `model/` (the best epoch, `SentimentModel`
    format), `scores/` (score cache), `metrics.json` and `metrics.md`.

    Args:
        max_eval: score at most this many texts of each evaluation set (a quick look);
            None = all.
    """
    out_dir = Path(out_dir)
    public_dir = Path(public_dir) if public_dir is not None else None
    started = time.time()
    data = load_sentiment_data(dataset, config, public_dir, data_format, seed)
    start, first = first_stage(config, out_dir, strategy=strategy, seed=seed, verbose=verbose)
    result = train_classifier(start, data.train, data.validation, out_dir, strategy=strategy,
                              seed=seed, verbose=verbose)
    trained = time.time()
    result.model.save(out_dir / "model")
    sets = data.held_out + (public_sets(public_dir) if public_dir is not None else [])
    sets = [_head(s, max_eval) for s in sets]
    options = scoring_options(config)
    results = evaluate_sets(result.model, sets, cache=ScoreCache(out_dir / "scores"),
                            progress=verbose != 0, **options)
    summary = {
        "dataset": dataset,
        **data_record(data.train_available, data.train, data.validation,
                      config.max_train_examples, data.kept),
        "class_weights": result.class_weights,
        "best_epoch": result.best_epoch,
        "best_validation_macro_f1": result.best_macro_f1,
        "stopped_early": result.stopped_early,
        "history": result.history,
        **first,
        "calibration": result.calibration,
        "compute": compute_record(options, result),
        "fingerprint": result.model.fingerprint(),
        "seconds": {"train": round(trained - started, 1),
                    "evaluate": round(time.time() - trained, 1)},
    }
    write_report(results, out_dir, extra=summary)
    return {**summary, "results": results}


def _head(data: LabelledTexts, limit: int | None) -> LabelledTexts:
    if limit is None or len(data) <= limit:
        return data
    # A fixed stride keeps both classes of label-sorted files.
    index = np.linspace(0, len(data) - 1, limit).astype(np.int64)
    return LabelledTexts(data.name, [data.texts[i] for i in index], data.labels[index],
                         data.binary)
