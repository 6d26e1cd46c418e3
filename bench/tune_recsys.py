"""Recommender settings compared on the VALIDATION part only: how the defaults were chosen.

    python bench/tune_recsys.py --run runs/real/musical --tag w5 \\
        --set recsys.similarity_weight=5 --seeds 0,1,2 --variants full,ids

Reads a finished run folder (its split, and the sentiment scores of its training
rows through the run's score cache, so nothing is fine-tuned again), rebuilds the
feature tables with the given overrides, trains each variant with each seed and
appends one JSON line per variant to `--log` (default
`bench/results/recsys_tuning_<run name>.jsonl`): the mean validation NDCG@10 and
RMSE, epochs and seconds. The test part is never read here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS)

# isort: split
import numpy as np

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.evaluate import evaluate_split
from tfrec_sentiment.features.tables import build_feature_tables
from tfrec_sentiment.recsys.train import train_recommender
from tfrec_sentiment.sentiment.inference import ScoreCache
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.model import SentimentModel

REPO = Path(__file__).resolve().parents[1]


def load_run(run_dir: Path) -> tuple[config_lib.RunConfig, Split, np.ndarray, np.ndarray]:
    """The run's config, split and training-row sentiment (probabilities, embeddings)."""
    config = config_lib.load(run_dir / "config.json")
    split = Split.load(run_dir / "data")
    model = SentimentModel.load(run_dir / "sentiment" / "model")
    settings = config.sentiment
    scores = model.score(review_texts(split.train),
                         cache=ScoreCache(settings.cache_dir or run_dir / "sentiment" / "scores"),
                         batch_size=settings.inference_batch_size,
                         jit_compile=settings.jit_compile, bfloat16=settings.inference_bfloat16)
    return config, split, scores.probabilities, scores.embedding


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run folder")
    parser.add_argument("--tag", required=True, help="name of this setting in the log")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        metavar="SECTION.FIELD=VALUE", help="features.* / recsys.* override")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default="full", help="comma-separated: ids,ratings,full")
    parser.add_argument("--log", type=Path, help="JSON lines file to append to")
    args = parser.parse_args()
    config, split, probabilities, embeddings = load_run(args.run)
    config = config_lib.apply_overrides(config, args.overrides)  # a checked copy
    log = args.log or REPO / "bench" / "results" / f"recsys_tuning_{args.run.name}.jsonl"
    tables = build_feature_tables(split.train, probabilities, embeddings, config.features)
    for variant in args.variants.split(","):
        settings = dataclasses.replace(config.recsys, variant=variant)
        rows = []
        for seed in map(int, args.seeds.split(",")):
            start = time.perf_counter()
            model = train_recommender(settings, split, tables, seed=seed)
            metrics = evaluate_split(model, split, on="validation").metrics
            rows.append({"val_ndcg": metrics["ndcg@10"], "val_rmse": metrics["rmse"],
                         "epochs": model.metrics["epochs_run"],
                         "sec": time.perf_counter() - start})
        line = {"tag": args.tag, "variant": variant, "sets": args.overrides, "n": len(rows),
                **{k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]},
                "per_seed_val_ndcg": [round(r["val_ndcg"], 4) for r in rows]}
        print(json.dumps(line), flush=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            out.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
