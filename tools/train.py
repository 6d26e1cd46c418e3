"""Train and export the whole chain: data -> sentiment -> features -> recsys ->
evaluation -> export.

With no arguments it runs on the embedded synthetic `demo` data, offline:

    python tools/train.py
    python tools/train.py --data ../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz \
        --format amazon2014 --name musical
    python tools/train.py --data amazon2018/All_Beauty          # after tools/fetch_data.py
    python tools/train.py --strategy mirrored --replicas 2 --set recsys.epochs=10
    python tools/train.py --config runs/musical/tuning/best_config.json   # tools/tune.py's

Every run writes `runs/<name>-<timestamp>/` with the resolved config, metrics, a
markdown report and plots, and exports `saved_models/<name>/<version>/`.

It prints the ablation table and the stage times (a stage that did not run says
"skipped" and why), then, as its last line, one JSON object: `run_dir`, `export_dir`
(null with `--no-export`), `report` (the run's report.md) and `timing` (timing.json).
`--quiet` prints that line only, with no progress bars and no TensorFlow log lines
(`tfrec_sentiment/quiet.py`); warnings and errors still go to stderr.

A bad flag or `--set` value exits with status 2 and one `error: ...` line naming the
field, the value and what is allowed, before any data is read or folder written. A
run that would need more memory than it may use (`memory_budget_gb`, default what the
machine has free; `pipeline/memory.py`) exits with status 3 after the data stage,
with the estimate by part and what to change.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

import tfrec_sentiment  # noqa: F401  (first: selects Keras 2 for tf.keras)
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ToolArgumentParser

if TYPE_CHECKING:  # imports TensorFlow: only after --quiet has had its say
    from tfrec_sentiment.pipeline.train import TrainRun


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--preset", default="demo", choices=config_lib.PRESETS,
                       help="named config to start from (default: demo)")
    start.add_argument("--config", help="a run config file to start from instead of a preset "
                                        "(a run's config.json, tools/tune.py's best_config.json)")
    parser.add_argument("--data", help="'demo', a review file, or a fetched data set name")
    parser.add_argument("--format", help="reader name (default: guessed from the file)")
    parser.add_argument("--columns", help="csv/parquet column map, e.g. user_id=uid,text=body")
    parser.add_argument("--encoding", help="text encoding of the review file, e.g. cp1252 "
                                           "(default: UTF-8)")
    parser.add_argument("--name", help="run and exported model name")
    parser.add_argument("--strategy", choices=config_lib.STRATEGIES)
    parser.add_argument("--replicas", type=int,
                        help="mirrored: N logical CPUs (default: all GPUs, or 1 CPU)")
    parser.add_argument("--seeds", help="evaluation seeds, e.g. 0,1,2")
    parser.add_argument("--run-dir", help="run folder (default: runs/<name>-<timestamp>)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="override any config field; repeatable")
    parser.add_argument("--no-export", action="store_true", help="stop before the export")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars, no TensorFlow log lines, no tables: stdout "
                             "is the JSON summary line only (run_dir, export_dir, report, "
                             "timing); warnings and errors still go to stderr")
    return parser.parse_args(argv)


def overrides_from_flags(args: argparse.Namespace) -> list[str]:
    """Flags are shorthands for `--set` overrides, applied before the explicit ones."""
    shorthands = {
        "data.dataset": args.data, "data.format": args.format, "data.columns": args.columns,
        "data.encoding": args.encoding,
        "name": args.name, "export.model_name": args.name, "strategy": args.strategy,
        "replicas": args.replicas, "evaluation.seeds": args.seeds,
    }
    return [f"{key}={value}" for key, value in shorthands.items() if value is not None]


def config_from_args(args: argparse.Namespace) -> config_lib.RunConfig:
    """The run config: `--config FILE` or `--preset`, then flags, then `--set` overrides.

    Raises:
        ConfigError: an unreadable file, or a value a field does not allow (one line).
    """
    overrides = [*overrides_from_flags(args), *args.set]
    if args.config is None:
        return config_lib.resolve(args.preset, overrides)
    try:
        config = config_lib.load(args.config)
    except OSError as error:
        raise config_lib.ConfigError(f"cannot read the config ({error.strerror})",
                                     source=args.config) from None
    return config_lib.apply_overrides(config, overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except config_lib.ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.quiet:  # before TensorFlow is imported
        from tfrec_sentiment.quiet import quiet_tensorflow

        quiet_tensorflow()
    from tfrec_sentiment.pipeline.train import check_multi_worker, run_training
    from tfrec_sentiment.privacy import check_privacy
    from tfrec_sentiment.sentiment.distillation_texts import check_files

    try:
        check_multi_worker(config, args.run_dir)
        check_privacy(config, export=not args.no_export)
        if config.sentiment.student_layers:
            check_files(config.sentiment.student_extra_texts)
    except ValueError as error:  # ConfigError too
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.strategy == "mirrored" and config.replicas:
        # Logical CPU devices must exist before TensorFlow's runtime starts.
        from tfrec_sentiment.distribute.strategy import configure_cpu_replicas

        configure_cpu_replicas(config.replicas)

    from tfrec_sentiment.export.preflight import ExportRootError
    from tfrec_sentiment.pipeline.memory import MemoryBudgetError

    try:
        run = run_training(config, args.run_dir, progress=not args.quiet,
                           export=not args.no_export)
    except ExportRootError as error:  # checked before training; or the export's write failed
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MemoryBudgetError as error:  # checked after the data stage, before the rest
        print(f"error: {error}", file=sys.stderr)
        return 3
    if not args.quiet:
        from tfrec_sentiment.pipeline.stages import TIMING_HEADING, timing_table

        print(run.ablation.to_markdown())
        print(f"## {TIMING_HEADING}\n\n{timing_table(run.timing)}", end="\n\n")
    print(summary_line(run))
    return 0


def summary_line(run: TrainRun) -> str:
    """The last stdout line, one JSON object, for scripts: where the run and the export
    went, the report, and the stage times (`timing.json`)."""
    return json.dumps({"run_dir": str(run.run_dir),
                       "export_dir": str(run.export_dir) if run.export_dir else None,
                       "report": str(run.run_dir / "report.md"), "timing": run.timing})


if __name__ == "__main__":
    sys.exit(main())
