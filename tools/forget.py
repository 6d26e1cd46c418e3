"""Forget users: erase their reviews from a run, publish a version without them, clean up.

    python tools/forget.py --run runs/demo-20260101-120000 --user A2IBPI20UZIR0U
    python tools/forget.py --run RUN --users-file requests.txt --cleanup list
    python tools/forget.py --run RUN --user u_3f2a9c0d1e4b5a67 --user A14VAT5EAX3D9S \\
        --unknown-ids count --set epochs=5

Removes every review of the users from the run's data (all parts), rebuilds the
score cache and the feature tables without them (item aggregates, popularity,
histories and similarity included), warm-starts the recommender with their
embedding rows dropped and publishes the result as the next version, always: the
guardrail's checks are recorded but cannot refuse an erasure. Once that version is
live, the older versions and run folders that still hold the users are deleted
(`--cleanup list`: listed for the operator instead). Ids may be raw or
pseudonymised; with the pseudonymisation key set (the run's
`data.pseudonymize_key_env`, TFREC_PSEUDONYMIZE_KEY by default) raw ids are mapped
to the run's pseudonyms. No id is printed, logged or written anywhere: the new
run's lineage records that an erasure happened, when, and how many users. See
`tfrec_sentiment.pipeline.forget`.

`--users-file`: one id per line; blank lines and lines starting with "#" are skipped.

Exit status: 0 published (a warning on stderr if the guardrail alone would have
refused), 1 the erasure failed (the message names the file or folder), 2 bad
arguments (also: ids the run does not know, reported by position, unless
`--unknown-ids count`; an unusable export folder; a model name whose newest version
comes from another training run).
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
from tfrec_sentiment.pipeline.config import CLEANUP_MODES, UNKNOWN_ID_MODES, ForgetConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run folder")
    parser.add_argument("--user", action="append", default=[], metavar="ID",
                        help="a user id to forget, raw or pseudonymised; repeatable")
    parser.add_argument("--users-file", type=Path, metavar="FILE",
                        help="ids to forget, one per line (# comments, blank lines skipped)")
    parser.add_argument("--cleanup", choices=CLEANUP_MODES,
                        help="delete the older versions and run folders that hold the users "
                             "(default), or list them for the operator")
    parser.add_argument("--unknown-ids", choices=UNKNOWN_ID_MODES,
                        help="an id the run does not know: stop (error, default) or count it")
    parser.add_argument("--keep", type=int, help="versions to keep (default 5)")
    parser.add_argument("--run-dir", type=Path, help="the new run folder")
    parser.add_argument("--root", help="saved models folder (default: the run's)")
    parser.add_argument("--name", help="model name (default: the run's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a ForgetConfig field (e.g. epochs=5); repeatable")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not args.user and args.users_file is None:
        parser.error("give the users to forget: --user ID (repeatable) or --users-file FILE")
    return args


def resolve(args: argparse.Namespace) -> ForgetConfig:
    """ForgetConfig defaults, then the shorthand flags, then `--set` overrides."""
    shorthands = {"cleanup": args.cleanup, "unknown_ids": args.unknown_ids,
                  "keep_versions": args.keep}
    overrides = [f"{k}={v}" for k, v in shorthands.items() if v is not None] + args.set
    return config_lib.apply_overrides(ForgetConfig(), overrides)  # checked field by field


def read_users(args: argparse.Namespace) -> list[str]:
    """`--user` values, then the ids of `--users-file` (never echoed in an error)."""
    users = [u.strip() for u in args.user if u.strip()]
    if args.users_file is not None:
        if not args.users_file.is_file():
            raise ValueError(f"--users-file {args.users_file} is not a file")
        lines = args.users_file.read_text(encoding="utf-8").splitlines()
        users += [line.strip() for line in lines
                  if line.strip() and not line.lstrip().startswith("#")]
    if not users:
        raise ValueError("no user id given (the --users-file holds none)")
    return users


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = resolve(args)
        users = read_users(args)
        if (args.run / "config.json").is_file():  # a hand-edited value or a bad --name
            dataclasses.replace(config_lib.load(args.run / "config.json").export,
                                **export_flags(args))
    except (ValueError, OSError, config_lib.ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from tfrec_sentiment.export.ops import OpAuditError
    from tfrec_sentiment.export.preflight import ExportRootError, write_error_cause
    from tfrec_sentiment.export.saved_model import ExportError
    from tfrec_sentiment.pipeline.forget import UnknownUsersError, run_forget
    from tfrec_sentiment.pipeline.update import (
        OtherLineageError,
        UpdateError,
        load_parent_config,
    )
    from tfrec_sentiment.pipeline.update_report import check_line

    try:
        export = load_parent_config(args.run).export
        export = dataclasses.replace(export, **export_flags(args))
        result = run_forget(args.run, users, config, export=export, run_dir=args.run_dir,
                            progress=not args.quiet)
    except (UnknownUsersError, ExportRootError, OtherLineageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (UpdateError, OpAuditError, ExportError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # no space / no permission while publishing: one line
        if write_error_cause(error) is None:
            raise
        print(f"error: cannot write: {write_error_cause(error)}", file=sys.stderr)
        return 2
    decision, cleanup = result.decision, result.cleanup
    for check in decision.checks:
        print(check_line(check))
    print(f"{decision.status}: {decision.reason}")
    if any(not c.passed for c in decision.checks) or "would refuse" in decision.reason:
        print(f"warning: {decision.reason}", file=sys.stderr)
    for line in cleanup_lines(cleanup, result.run_dir / "erasure.json"):
        print(line, file=sys.stderr)
    print(json.dumps({"run_dir": str(result.run_dir), "status": decision.status,
                      "version_dir": str(result.version_dir), "users": result.erasure["users"],
                      "unknown_ids": result.erasure["unknown_ids"],
                      "rows_removed": result.erasure["rows_removed"],
                      "cleanup": cleanup.to_dict(), "timing": result.timing}))
    return 0


def cleanup_lines(cleanup, record: Path) -> list[str]:
    """One plain line saying what the cleanup deleted, or what the operator must delete
    (mode "list"); none when nothing outside the new run held the users."""
    if not (cleanup.versions or cleanup.runs or cleanup.score_cache):
        return []
    cache = (f", {cleanup.cache_entries} entries of the score cache {cleanup.score_cache}"
             if cleanup.score_cache else "")
    what = f"versions {cleanup.versions}, run folders {cleanup.runs}{cache}"
    if cleanup.done:
        return [f"deleted (they held the erased users; see {record}): {what}"]
    return [f"to delete by the operator (they still hold the erased users; see {record}): "
            f"{what}"]


def export_flags(args: argparse.Namespace) -> dict:
    """`--root` / `--name` as ExportConfig fields."""
    return {k: v for k, v in (("root", args.root), ("model_name", args.name)) if v is not None}


if __name__ == "__main__":
    sys.exit(main())
