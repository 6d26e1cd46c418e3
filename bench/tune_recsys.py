"""One recommender setting scored on the VALIDATION part: how the defaults were chosen.

    python bench/tune_recsys.py --run runs/real/musical --tag w5 \\
        --set recsys.similarity_weight=5 --seeds 0,1,2 --variants full,ids

A hand-picked setting, against `tools/tune.py`'s search: both read a finished run
folder and train and score through `tfrec_sentiment.pipeline.tuning` (`load_run`:
the split and the run's cached sentiment scores, nothing fine-tuned again, the test
part never opened; `validation_metrics`: train one variant with one seed, score it
on validation). Appends one JSON line per variant to `--log` (default
`bench/results/recsys_tuning_<run name>.jsonl`): the mean validation NDCG@10 and
RMSE over the seeds, epochs and seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS)

# isort: split
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.pipeline.tuning import (
    FeatureTableCache,
    load_run,
    mean_metrics,
    validation_metrics,
)

REPO = Path(__file__).resolve().parents[1]


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
    inputs = load_run(args.run)
    config = config_lib.apply_overrides(inputs.config, args.overrides)  # a checked copy
    log = args.log or REPO / "bench" / "results" / f"recsys_tuning_{args.run.name}.jsonl"
    tables = FeatureTableCache(inputs).get(config.features)
    for variant in args.variants.split(","):
        rows = [validation_metrics(inputs, config, seed=seed, variant=variant, tables=tables)
                for seed in map(int, args.seeds.split(","))]
        mean = mean_metrics(rows)
        line = {"tag": args.tag, "variant": variant, "sets": args.overrides, "n": len(rows),
                "val_ndcg": round(mean["ndcg@10"], 4), "val_rmse": round(mean["rmse"], 4),
                "epochs": round(mean["epochs"], 4), "sec": round(mean["seconds"], 4),
                "per_seed_val_ndcg": [round(r["ndcg@10"], 4) for r in rows]}
        print(json.dumps(line), flush=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            out.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
