"""Distil a small student of a finished run's sentiment classifier, for serving.

    python tools/distil_student.py --run runs/musical-20261201-130000 --layers 2
    python tools/distil_student.py --run RUN --layers 3 --set sentiment.student_epochs=3
    python tools/distil_student.py --run COPY --layers 1 --validation-only --set ...
    python tools/distil_student.py --run COPY --measure-test
    python tools/distil_student.py --run RUN --layers 3 \
        --set sentiment.student_extra_texts=other_reviews.csv.zip,more_reviews.json.gz

What `tools/train.py --set sentiment.student_layers=N` does in its sentiment stage, for
a run trained without it (`pipeline.train_sentiment.add_student`): the student keeps the
teacher's bottom N transformer layers and learns the teacher's calibrated
probabilities and embeddings on the run's training reviews (`sentiment/student.py`),
read from the run's score cache, so the teacher does not score them again, and on
other review files' texts with `sentiment.student_extra_texts`. After each
epoch the student is measured on the run's validation part and the best epoch kept (by
its agreement with the teacher there, or its macro-F1 against the stars:
`sentiment.student_selection`); compare settings (`--set`) on that, not on the test part. Writes
`RUN/sentiment/student/` (replacing one there), adds the student's validation- and
test-part metrics to `RUN/sentiment/metrics.json` / `.md` (the teacher beside it, and
VADER on the test part; the run's other facts kept) and records the student's settings
in `RUN/config.json`. Then
`tools/export.py --run RUN --sentiment-model student` serves it, and
`bench/serving_speed.py --sizes "" --index-sizes "" --student-run RUN` times it against
the teacher.

To compare settings, distil each with `--validation-only` (in copies of the run
folder), then read the test part once for the chosen one with `--measure-test`.

Prints the validation part's macro-F1 of teacher and student (and, per epoch, the
macro-F1 that chose the epoch: `sentiment.student_selection`), the student's agreement
with the teacher there (its classes against the teacher's: macro-F1, accuracy, recall
of each class the teacher gave), what other review files added, the test part's
macro-F1 of teacher, student and VADER, the student's shares of the teacher's and the
distillation time; its last line is one JSON object with the same.

Only the `sentiment.student_*` fields can be changed with `--set`: the rest of the
config made the run's split and teacher. Exit status: 0 on success, 1 when the run
folder lacks its config, split, teacher (or, with `--measure-test`, student) or its
tables cannot be opened, 2 for bad arguments (a missing `sentiment.student_extra_texts`
file among them, as for `tools/train.py`) or a layer count the teacher cannot give (not
below its own).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ToolArgumentParser

# The only section.field prefix `--set` may change on a finished run.
STUDENT_FIELDS = "sentiment.student_"
# What chose the epoch (`sentiment.student_selection`), as the per-epoch line says it.
SELECTIONS = {"agreement": "agreement macro-F1 with the teacher",
              "macro_f1": "macro-F1 against the stars"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True,
                        help="a finished run folder (config.json, data/, sentiment/model)")
    parser.add_argument("--layers", type=int, default=None,
                        help="the student's transformer layers (sentiment.student_layers; "
                             "default: the run config's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a sentiment.student_* field, e.g. "
                             "sentiment.student_epochs=3; repeatable")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--validation-only", action="store_true",
                      help="measure the student on the validation part only (to compare "
                           "settings); the test part is not read")
    mode.add_argument("--measure-test", action="store_true",
                      help="no distillation: measure the run's student (chosen on the "
                           "validation part) on the test part, once, and record it")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def student_config(args: argparse.Namespace) -> config_lib.RunConfig:
    """The run's config with the student's settings from the flags.

    Raises:
        ConfigError: an unreadable config, a `--set` outside `sentiment.student_*`, a
            value a field does not allow, or a `student_extra_texts` file that is missing.
        FileNotFoundError: the run has no config.json.
    """
    for override in args.set:
        if not override.startswith(STUDENT_FIELDS):
            raise config_lib.ConfigError(
                f"only {STUDENT_FIELDS}* fields can change for a finished run (the rest "
                "made its split and teacher)", "--set", override)
    path = args.run / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --run must be a run folder")
    overrides = ([f"sentiment.student_layers={args.layers}"] if args.layers is not None
                 else []) + args.set
    config = config_lib.apply_overrides(config_lib.load(path), overrides)
    if not config.sentiment.student_layers:
        raise config_lib.ConfigError("give the student's layers (--layers N, N >= 1)",
                                     "sentiment.student_layers", 0)
    from tfrec_sentiment.sentiment.distillation_texts import check_files

    check_files(config.sentiment.student_extra_texts)  # a bad argument, as in tools/train.py
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = student_config(args)
    except config_lib.ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from tfrec_sentiment.pipeline.train_sentiment import add_student, measure_student
    from tfrec_sentiment.privacy import EncryptedTableError, KeySourceError, check_privacy

    try:
        encryption = check_privacy(config, export=False)
        if args.measure_test:
            result = measure_student(config, args.run, progress=not args.quiet,
                                     encryption=encryption)
            line = test_line(result, config.sentiment.student_layers)
            print(json.dumps({"student": str(args.run / "sentiment" / "student"), **line}))
            return 0
        result = add_student(config, args.run, progress=not args.quiet,
                             encryption=encryption, test=not args.validation_only)
    except ValueError as error:  # layers the teacher cannot give
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, EncryptedTableError, KeySourceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    config_lib.save(config, args.run / "config.json")
    summary = result["summary"]
    validation = {key: metrics["macro_f1"] for key, metrics in result["validation"].items()}
    if validation:
        per_epoch = ", ".join(f"{f1:.3f}" for f1 in summary["validation_per_epoch"])
        print(f"validation part macro-F1: teacher {validation['bert']:.3f}, student "
              f"{validation['student']:.3f} ({validation['student'] / validation['bert']:.1%} "
              f"of the teacher's; {SELECTIONS[summary['selection']]} per epoch {per_epoch}, "
              f"epoch {summary['best_epoch']} kept"
              + (f", stopped early after epoch {summary['stopped_early']}"
                 if summary.get("stopped_early") else "") + ")")
    line = {"student": str(args.run / "sentiment" / "student")}
    if validation:
        line.update(validation_macro_f1={"teacher": validation["bert"],
                                         "student": validation["student"]},
                    validation_share_of_teacher=validation["student"] / validation["bert"])
    if "agreement" in result:
        line["validation_agreement"] = agreement_line(result["agreement"])
    if "student" in result:  # the test part was read
        line.update(test_line(result, summary["layers"]))
    if "extra_texts" in summary:
        from tfrec_sentiment.sentiment.labels import LABELS

        extra = summary["extra_texts"]
        files = len(extra["files"])
        print(f"distilled on {summary['texts']:,} texts: the training reviews and "
              f"{sum(extra['kept']):,} texts of {files} other review file{'s' * (files > 1)} "
              f"({extra['read']:,} read, of which {extra['repeated']:,} repeats, "
              f"{extra['empty']:,} empty and {extra['in_run']:,} texts of the run's own "
              f"reviews left out; {extra['drawn']:,} drawn; kept per teacher's class "
              + ", ".join(f"{name} {kept:,} of {drawn:,}" for name, kept, drawn in zip(
                  LABELS, extra["kept"], extra["teacher_classes"], strict=True)) + ")")
    print(f"distilled in {summary['seconds']:.0f} s ({summary['cpu_seconds']:.0f} CPU-s)")
    print(json.dumps({**line, **summary}))
    return 0


def agreement_line(metrics: dict) -> dict:
    """Prints the student's agreement with the teacher on the validation part (the
    teacher's classes as labels); returns its JSON fields."""
    recall = {name: values["recall"] for name, values in metrics["per_class"].items()}
    print(f"agreement with the teacher on the validation part: macro-F1 "
          f"{metrics['macro_f1']:.3f}, accuracy {metrics['accuracy']:.3f}, recall of the "
          "teacher's classes " + ", ".join(f"{k} {v:.2f}" for k, v in recall.items()))
    return {"macro_f1": metrics["macro_f1"], "accuracy": metrics["accuracy"],
            "recall": recall}


def test_line(result: dict, layers: int) -> dict:
    """Prints the test part's macro-F1 line; returns its JSON fields."""
    teacher, student, vader = (result[key]["macro_f1"] for key in ("bert", "student", "vader"))
    print(f"test part macro-F1: teacher {teacher:.3f}, {layers}-layer student {student:.3f} "
          f"({student / teacher:.1%} of the teacher's), VADER {vader:.3f}")
    return {"macro_f1": {"teacher": teacher, "student": student, "vader": vader},
            "share_of_teacher": student / teacher}


if __name__ == "__main__":
    sys.exit(main())
