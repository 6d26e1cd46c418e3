"""Fold new feedback into a finished run; publish the next version if it is not worse.

    python tools/update.py --run runs/demo-20260101-120000 --feedback new_reviews.jsonl
    python tools/update.py --run runs/musical-20260101-120000 \\
        --feedback more/reviews_2015.json.gz --format amazon2014 --tolerance 0.01 --keep 3
    python tools/update.py --run RUN --feedback a.csv b.csv --set epochs=5 --force

Ingests the feedback files like training data, scores their sentiment with the
run's classifier (cached), refreshes the feature tables, warm-starts the recommender
(old users' and items' embeddings kept, new ids added), then scores the candidate
and the currently published version on the newest share of the new reviews. The
candidate becomes `<root>/<name>/<version + 1>/` only if no guarded metric is worse
beyond the relative tolerance (`--force` publishes anyway); the newest `--keep`
versions stay. Writes a new run folder (default: beside RUN) with the lineage, so a
later update can start from it. See `tfrec_sentiment.pipeline.update`.

Exit status: 0 published, 3 refused by the guardrail (nothing published), 1 the
update failed (the message names the file or folder), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: selects Keras 2 for tf.keras)
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.pipeline.config import UpdateConfig

REFUSED = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run folder")
    parser.add_argument("--feedback", required=True, nargs="+", type=Path, metavar="FILE",
                        help="review files (any supported format)")
    parser.add_argument("--format", help="reader name of the feedback (default: guessed)")
    parser.add_argument("--columns", help="csv/parquet column map, e.g. user_id=uid,text=body")
    parser.add_argument("--force", action="store_true",
                        help="publish even if the guardrail refuses (recorded as forced)")
    parser.add_argument("--keep", type=int, help="versions to keep (default 5)")
    parser.add_argument("--tolerance", type=float,
                        help="relative slack of the guardrail (default 0.02 = 2%%)")
    parser.add_argument("--run-dir", type=Path, help="the updated run folder")
    parser.add_argument("--root", help="saved models folder (default: the run's)")
    parser.add_argument("--name", help="model name (default: the run's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an UpdateConfig field (e.g. epochs=5); repeatable")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def resolve(args: argparse.Namespace) -> UpdateConfig:
    """UpdateConfig defaults, then the shorthand flags, then `--set` overrides."""
    config = UpdateConfig()
    shorthands = {"force": True if args.force else None, "keep_versions": args.keep,
                  "tolerance": args.tolerance}
    overrides = [f"{k}={v}" for k, v in shorthands.items() if v is not None] + args.set
    for override in overrides:
        config_lib.apply_override(config, override)
    return UpdateConfig(**dataclasses.asdict(config))  # validates the result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = resolve(args)
        missing = [str(p) for p in args.feedback if not p.is_file()]
        if missing:
            raise ValueError(f"feedback file(s) not found: {', '.join(missing)}")
    except (ValueError, config_lib.ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from tfrec_sentiment.data.readers.sources import ReaderError
    from tfrec_sentiment.export.ops import OpAuditError
    from tfrec_sentiment.export.saved_model import ExportError
    from tfrec_sentiment.pipeline.feedback import FeedbackError
    from tfrec_sentiment.pipeline.update import UpdateError, load_parent_config, run_update

    try:
        export = load_parent_config(args.run).export
        export = dataclasses.replace(export, **{k: v for k, v in (
            ("root", args.root), ("model_name", args.name)) if v is not None})
        result = run_update(args.run, args.feedback, config, format=args.format,
                            columns=args.columns.split(",") if args.columns else None,
                            export=export, run_dir=args.run_dir, progress=not args.quiet)
    except (UpdateError, FeedbackError, ReaderError, OpAuditError, ExportError,
            FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    decision = result.decision
    for check in decision.checks:
        print(f"  {check.metric}: candidate {check.candidate:.4f}, published "
              f"{check.published:.4f}, limit {check.limit:.4f} "
              f"{'ok' if check.passed else 'WORSE'}")
    print(f"{decision.status}: {decision.reason}")
    print(json.dumps({"run_dir": str(result.run_dir), "status": decision.status,
                      "version_dir": str(result.version_dir) if result.version_dir else None,
                      "pruned": decision.pruned, "timing": result.timing}))
    return 0 if decision.publish else REFUSED


if __name__ == "__main__":
    sys.exit(main())
