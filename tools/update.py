"""Fold new feedback into a finished run; publish the next version if it is not worse.

    python tools/update.py --run runs/demo-20260101-120000 --feedback new_reviews.jsonl
    python tools/update.py --run runs/musical-20260101-120000 \\
        --feedback more/reviews_2015.json.gz --format amazon2014 --tolerance 0.01 --keep 3
    python tools/update.py --run RUN --feedback a.csv b.csv --set epochs=5 --force

Ingests the feedback files like training data, scores their sentiment with the
run's classifier (cached), refreshes the feature tables, warm-starts the recommender
(old users' and items' embeddings kept, new ids added), then scores the candidate
and the currently published version on the newest share of the new reviews. The
candidate becomes `<root>/<name>/<version + 1>/` only if the evaluation slice holds
enough evidence (`--min-eval-rows`, `--min-eval-users`) and no guarded metric is
worse beyond the relative tolerance (`--force` publishes anyway); the newest
`--keep` versions stay. Writes a new run folder (default: beside RUN) with the
lineage, so a later update can start from it. See `tfrec_sentiment.pipeline.update`.

Re-running an update whose version is already live (e.g. after it was killed while
writing its records) publishes nothing again: it completes that run's records and
reports the version (exit 0).

Exit status: 0 published (or already published), 3 refused by the guardrail (nothing
published; the reason is on stderr and in the run's decision.json), 1 the update
failed (the message names the file or folder), 2 bad arguments (also: every feedback
line rejected by the reader, an export folder that is not writable or too full, or a
model name whose newest version comes from another training run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: selects Keras 2 for tf.keras)
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ToolArgumentParser
from tfrec_sentiment.pipeline.config import UpdateConfig

REFUSED = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run folder")
    parser.add_argument("--feedback", required=True, nargs="+", type=Path, metavar="FILE",
                        help="review files (any supported format)")
    parser.add_argument("--format", help="reader name of the feedback (default: guessed)")
    parser.add_argument("--columns", help="csv/parquet column map, e.g. user_id=uid,text=body")
    parser.add_argument("--force", action="store_true",
                        help="publish even if the guardrail refuses, too little evidence "
                             "included (recorded as forced)")
    parser.add_argument("--min-eval-rows", type=int,
                        help="least evaluation-slice rows to compare on (default 20)")
    parser.add_argument("--min-eval-users", type=int,
                        help="least evaluation-slice users to compare on (default 5)")
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
                  "tolerance": args.tolerance, "min_eval_rows": args.min_eval_rows,
                  "min_eval_users": args.min_eval_users}
    overrides = [f"{k}={v}" for k, v in shorthands.items() if v is not None] + args.set
    return config_lib.apply_overrides(config, overrides)  # checked field by field


def export_flags(args: argparse.Namespace) -> dict:
    """`--root` / `--name` as ExportConfig fields."""
    return {k: v for k, v in (("root", args.root), ("model_name", args.name)) if v is not None}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = resolve(args)
        missing = [str(p) for p in args.feedback if not p.is_file()]
        if missing:
            raise ValueError(f"feedback file(s) not found: {', '.join(missing)}")
        if (args.run / "config.json").is_file():  # a hand-edited value or a bad --name
            dataclasses.replace(config_lib.load(args.run / "config.json").export,
                                **export_flags(args))
    except (ValueError, config_lib.ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from tfrec_sentiment.data.readers.sources import ReaderError
    from tfrec_sentiment.export.ops import OpAuditError
    from tfrec_sentiment.export.preflight import ExportRootError, write_error_cause
    from tfrec_sentiment.export.saved_model import ExportError
    from tfrec_sentiment.pipeline.feedback import FeedbackError, FeedbackRejectedError
    from tfrec_sentiment.pipeline.update import (
        OtherLineageError,
        UpdateError,
        load_parent_config,
        run_update,
    )
    from tfrec_sentiment.pipeline.update_report import check_line
    from tfrec_sentiment.privacy import EncryptedTableError, KeySourceError

    try:
        export = load_parent_config(args.run).export
        export = dataclasses.replace(export, **export_flags(args))
        result = run_update(args.run, args.feedback, config, format=args.format,
                            columns=args.columns.split(",") if args.columns else None,
                            export=export, run_dir=args.run_dir, progress=not args.quiet)
    # wrong --format; export folder; another lineage's model name
    except (FeedbackRejectedError, ExportRootError, OtherLineageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (UpdateError, FeedbackError, ReaderError, OpAuditError, ExportError,
            FileNotFoundError, EncryptedTableError, KeySourceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # no space / no permission while publishing: one line
        if write_error_cause(error) is None:
            raise
        print(f"error: cannot write: {write_error_cause(error)}", file=sys.stderr)
        return 2
    decision = result.decision
    if result.already_published:
        print(f"already published: {result.version_dir} was made by {result.run_dir} from "
              f"this feedback; nothing published again", file=sys.stderr)
    for check in decision.checks:
        print(check_line(check))
    print(f"{decision.status}: {decision.reason}")
    if not decision.publish or decision.version is None:
        print(f"refused: {decision.reason} (nothing published; see "
              f"{result.run_dir / 'decision.json'})", file=sys.stderr)
    elif decision.forced and decision.reason.startswith("forced"):
        print(f"warning: {decision.reason}", file=sys.stderr)
    print(json.dumps({"run_dir": str(result.run_dir), "status": decision.status,
                      "version_dir": str(result.version_dir) if result.version_dir else None,
                      "pruned": decision.pruned, "timing": result.timing}))
    return 0 if decision.publish and decision.version is not None else REFUSED


if __name__ == "__main__":
    sys.exit(main())
