"""Tune the recommender's and the features' hyper-parameters on a run's validation part.

    python tools/tune.py --run runs/musical --trials 20
    python tools/tune.py --run runs/musical --trials 20 --objective val_liked_ndcg_at_10 \
        --space my_space.yaml --seed 0 --timeout 3600
    python tools/tune.py --run runs/musical --trials 10 --resume     # ten more trials
    python tools/train.py --config runs/musical/tuning/best_config.json   # reads test once

Reads a finished `tools/train.py` run folder (its config, train and validation parts,
and the cached sentiment scores of its training reviews: nothing is fine-tuned
again, and the test part is never opened), then runs Optuna trials (seeded TPE,
median pruning on the per-epoch objective): each trial trains the full recommender
with sampled `features.*` / `recsys.*` values and scores it on validation. The first
trial of a new study is the run's own config. Writes `<run>/tuning/`: `study.db`
(resumable), `trials.jsonl`, `best_config.json` (a full run config for
`tools/train.py --config`), `best.json` and `trials.png`. The work is in
`tfrec_sentiment.pipeline.tuning`, which also says why Optuna and not KerasTuner.

A bad flag, objective or space file exits with status 2 and one `error: ...` line
naming the file, the field and what is allowed, before any training.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: selects Keras 2 for tf.keras)
from tfrec_sentiment.config_checks import ConfigError, ToolArgumentParser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run folder")
    parser.add_argument("--trials", type=int, default=20, help="trials to run (default 20)")
    parser.add_argument("--objective", default="val_ndcg_at_10",
                        help="validation metric: val_ndcg_at_10 (default), "
                             "val_liked_ndcg_at_10, val_recall_at_10, val_rmse, ...")
    parser.add_argument("--space", type=Path,
                        help="search space file, JSON or YAML (default: the built-in space)")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    parser.add_argument("--train-seeds",
                        help="recommender seeds per trial, e.g. 0,1,2; the objective is their "
                             "mean (default: the run's seed)")
    parser.add_argument("--timeout", type=float, help="stop starting trials after S seconds")
    parser.add_argument("--out", type=Path,
                        help="best config file (default: RUN/tuning/best_config.json)")
    parser.add_argument("--resume", action="store_true", help="continue RUN/tuning/study.db")
    parser.add_argument("--no-prune", action="store_true", help="no median pruning")
    parser.add_argument("--no-baseline", action="store_true",
                        help="do not start a new study with the run's own config")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error(f"argument --trials: must be >= 1, got {args.trials}")
    try:
        args.train_seeds = [int(s) for s in args.train_seeds.split(",")] \
            if args.train_seeds else None
    except ValueError:
        parser.error(f"argument --train-seeds: expected integers like 0,1,2, got "
                     f"{args.train_seeds!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tfrec_sentiment.pipeline import tuning
    from tfrec_sentiment.privacy import EncryptedTableError, KeySourceError

    try:
        tuning.Objective.parse(args.objective)
        space = tuning.SearchSpace.load(args.space) if args.space else None
        result = tuning.tune(args.run, trials=args.trials, objective=args.objective,
                             space=space, seed=args.seed, timeout=args.timeout, out=args.out,
                             resume=args.resume, train_seeds=args.train_seeds,
                             prune=not args.no_prune, baseline=not args.no_baseline)
    except (ConfigError, tuning.TuningError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (EncryptedTableError, KeySourceError) as error:  # the run's encrypted tables
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
