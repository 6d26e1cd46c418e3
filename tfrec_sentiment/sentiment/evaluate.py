"""Evaluation of the sentiment model and the VADER baseline on labelled sets.

Each set is scored by the model and by VADER in the same run and measured with
`metrics.classification_metrics`. Binary sets (SST-2, UCI) are measured as negative vs
positive, with the 3-class output renormalised over those two classes
(`metrics.to_binary`); 3-class sets (Amazon stars) on all three.

Example (a trained model and the SST files, so not run by the tests: `+SKIP`):

>>> from tfrec_sentiment.sentiment.model import SentimentModel
>>> model = SentimentModel.load("runs/x/sentiment/model")  # doctest: +SKIP
>>> results = evaluate_sets(model, [read_sst("sst/dev.txt")])  # doctest: +SKIP
>>> sorted(results["sst2-dev"])  # doctest: +SKIP
['bert', 'vader']
>>> json_path, md_path = write_report(results, "runs/x/sentiment",  # doctest: +SKIP
...                                   extra={"dataset": "sst2"})
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tfrec_sentiment.sentiment.baselines import vader_probabilities
from tfrec_sentiment.sentiment.calibration import temper
from tfrec_sentiment.sentiment.datasets import LabelledTexts, read_sst, read_uci_folder
from tfrec_sentiment.sentiment.labels import LABELS, POSITIVE, labels_from_frame, review_texts
from tfrec_sentiment.sentiment.metrics import classification_metrics, markdown_table, to_binary

if TYPE_CHECKING:
    from tfrec_sentiment.sentiment.training import TrainResult

BINARY_NAMES = ("negative", "positive")
METRICS_JSON = "metrics.json"
METRICS_MD = "metrics.md"


def labelled_reviews(frame: pd.DataFrame, name: str,
                     label_column: str | None = None) -> LabelledTexts:
    """A canonical review table as labelled texts (title + text; labels from stars)."""
    return LabelledTexts(name, review_texts(frame), labels_from_frame(frame, label_column),
                         binary=False)


def public_sets(folder: str | Path) -> list[LabelledTexts]:
    """SST-2 dev and the UCI sentences from a `sentiment/` data folder (those present)."""
    folder = Path(folder)
    sets = []
    if (folder / "sst" / "dev.txt").is_file():
        sets.append(read_sst(folder / "sst" / "dev.txt", binary=True))
    if (folder / "uci_labelled_sentences").is_dir():
        sets.append(read_uci_folder(folder / "uci_labelled_sentences"))
    return sets


def measure(data: LabelledTexts, probabilities: np.ndarray) -> dict:
    """Metrics of 3-class `probabilities` [N, 3] on `data` (binary sets: neg vs pos)."""
    if data.binary:
        truth = (np.asarray(data.labels) == POSITIVE).astype(np.int64)
        return classification_metrics(truth, to_binary(probabilities), BINARY_NAMES)
    return classification_metrics(data.labels, probabilities, LABELS)


def evaluate_sets(model, sets: Sequence[LabelledTexts], batch_size: int = 32,
                  cache=None, vader: bool = True, progress: bool = False,
                  jit_compile: bool = False, bfloat16: bool = False,
                  runtime: str = "tensorflow") -> dict[str, dict[str, dict]]:
    """{set name: {"bert": metrics, "vader": metrics}} for every set.

    Args:
        model: a `SentimentModel`.
        sets: labelled sets; binary ones are measured as negative vs positive.
        cache: optional `ScoreCache` for the model's scores.
        vader: also score the VADER lexicon baseline.
        jit_compile: XLA-compile the model's forward pass.
        bfloat16: score in bfloat16 compute (see `inference.bfloat16_copy`).
        runtime: "tensorflow" or "openvino" (see `inference.score_texts`).
    """
    results: dict[str, dict[str, dict]] = {}
    for data in sets:
        scores = model.score(data.texts, batch_size=batch_size, cache=cache, progress=progress,
                             jit_compile=jit_compile, bfloat16=bfloat16, runtime=runtime)
        results[data.name] = {"bert": measure(data, scores.probabilities)}
        if model.temperature != 1.0:  # calibrated: the ECE it had before, beside
            before = measure(data, temper(scores.probabilities, 1.0 / model.temperature))
            results[data.name]["bert"]["ece_uncalibrated"] = before["ece"]
            results[data.name]["bert"]["temperature"] = model.temperature
        if vader:
            results[data.name]["vader"] = measure(data, vader_probabilities(data.texts))
    return results


def data_record(available: int, used: LabelledTexts, validation: LabelledTexts,
                cap: int | None, kept: str = "the newest") -> dict:
    """What the fine-tune read: `train_rows` of the `available` training texts
    (`max_train_examples` = `cap`, None = all; `kept` says which: reviews keep the
    newest, SST an even stride), their `train_class_counts` [negative, neutral,
    positive], and the `validation_rows` that chose the epoch. The entries of
    `metrics.json` that `write_report` states in `metrics.md`, so a cap never drops
    rows unsaid."""
    return {"train_rows": len(used), "train_rows_available": available,
            "max_train_examples": cap, "kept": kept, "validation_rows": len(validation),
            "train_class_counts": np.bincount(used.labels, minlength=3).tolist()}


def compute_record(options: dict, trained: TrainResult | None) -> dict:
    """How the model was fine-tuned and scored on this machine, as resolved:
    `train_bfloat16` and `frozen_token_embeddings` (from `trained`; False for a model not
    trained here, `trained=None`), `runtime` and `bfloat16` (`options`, from
    `inference.scoring_options`). The `compute` entry of `metrics.json`, which
    `write_report` states in `metrics.md`."""
    return {"train_bfloat16": bool(trained and trained.bfloat16),
            "frozen_token_embeddings": bool(trained and trained.frozen_token_embeddings),
            "runtime": options["runtime"], "bfloat16": options["bfloat16"]}


def write_report(results: dict[str, dict[str, dict]], directory: str | Path,
                 extra: dict | None = None) -> tuple[Path, Path]:
    """Writes `metrics.json` (results + `extra`) and `metrics.md` into `directory`;
    `extra["compute"]` (`compute_record`) is said in a line of `metrics.md`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {**(extra or {}), "results": results,
               "binary_mapping": "P(pos) = p_pos / (p_neg + p_pos); neutral mass dropped"}
    json_path = directory / METRICS_JSON
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    md_path = directory / METRICS_MD
    first = (extra or {}).get("first_stage")
    stage = ""
    if first:
        stage = (f"First stage: {first['name']} skipped ({first['skipped']}).\n\n"
                 if "skipped" in first else
                 f"First stage: {first['name']}, {first['train_rows']:,} SST sentences, best "
                 f"epoch {first['best_epoch']} (held-out macro-F1 "
                 f"{first['best_validation_macro_f1']:.3f}); then the reviews.\n\n")
    rows = (extra or {}).get("train_rows_available")
    if rows is not None:  # data_record: how many texts the fine-tune read, of how many
        counts = ", ".join(f"{n:,} {name}" for n, name in
                           zip(extra["train_class_counts"], LABELS, strict=True))
        stage += (f"Fine-tuned on {extra['train_rows']:,} of {rows:,} training texts "
                  f"({extra['kept']}; max_train_examples={extra['max_train_examples']}): "
                  f"{counts}; {extra['validation_rows']:,} validation texts chose the "
                  "epoch.\n\n")
    if (extra or {}).get("history"):  # the review stage's epochs, as `train_classifier` ran them
        ran = len(extra["history"])
        stopped = extra.get("stopped_early")
        stage += (f"Best epoch {extra['best_epoch']} of {ran} run (validation macro-F1 "
                  f"{extra['best_validation_macro_f1']:.3f})"
                  + (f"; stopped early after epoch {stopped}, "
                     f"{stopped - extra['best_epoch']} without improvement" if stopped else "")
                  + ".\n\n")
    compute = (extra or {}).get("compute")
    if compute:  # what "auto" and the bfloat16 switches resolved to on this machine
        frozen = " (word-piece table frozen)" if compute.get("frozen_token_embeddings") else ""
        stage += (f"Fine-tuned in {'bfloat16' if compute['train_bfloat16'] else 'float32'}"
                  f"{frozen}; "
                  f"scored with {compute['runtime']}"
                  f"{' in bfloat16' if compute['bfloat16'] else ''}.\n\n")
    md_path.write_text(
        "# Sentiment evaluation\n\n" + stage + markdown_table(results)
        + "\nBinary sets: negative vs positive, the 3-class output renormalised over those "
        "two classes. VADER: compound score as pseudo-probabilities (see baselines.py).\n"
    )
    return json_path, md_path
