"""Export a finished training run as the next TF Serving version.

    python tools/export.py --run runs/demo-20260101-120000
    python tools/export.py --run runs/demo-20260101-120000 --root saved_models \\
        --name tfrec_sentiment --top-k 20 --base-path /srv/models/tfrec_sentiment
    python tools/export.py --clean --root saved_models --name tfrec_sentiment

Loads the run's sentiment model (`RUN/sentiment/model`) and recommender
(`RUN/recsys`, with its feature tables in `RUN/features`), composes them into one
SavedModel and writes `<root>/<name>/<next version>/` plus `<root>/<name>/models.config`.
Defaults come from the run's `config.json` (its `export` section), then the flags.
Prints the version folder, its signatures and the minimum TF Serving release. The
`explain` signature is added when the run has aspect profiles (`RUN/aspects/`); without
them the tool says why it is missing.

Every export first deletes the leftovers of killed exports and prunes in the model
folder (`.staging-*`, `.deleting-*` folders whose owner process is gone); `--clean`
does only that (with `--run` or `--root`/`--name` naming the folder) and lists what
it removed and what it kept (a live owner, or another host's).

Exit status: 0 on success, 1 when the run folder is incomplete, its encrypted tables
cannot be opened (`privacy`), or the export fails (e.g. an op TF Serving cannot run, or
raw user ids under `export.require_pseudonyms`), 2 for bad arguments or an export folder that cannot
be created, is not writable or lacks the space (checked before the export starts).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ToolArgumentParser
from tfrec_sentiment.export.config import SENTIMENT_MODELS, ExportConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a finished run folder (required unless "
                        "--clean names the model folder with --root/--name)")
    parser.add_argument("--root", default=None, help="saved models folder (default: the "
                        "run config's, else saved_models)")
    parser.add_argument("--name", default=None, help="model name (TF Serving's)")
    parser.add_argument("--top-k", type=int, default=None, help="recommendations per user")
    parser.add_argument("--base-path", default=None,
                        help="the model folder as the server sees it, for models.config "
                             "(default /models/<name>, the Docker image's layout)")
    parser.add_argument("--sentiment-model", choices=SENTIMENT_MODELS, default=None,
                        help="the classifier served by sentiment / recommend_from_reviews: "
                             "the run's teacher or its distilled student (a run trained "
                             "with sentiment.student_layers); default: the run config's")
    parser.add_argument("--clean", action="store_true",
                        help="only delete leftovers of killed exports and prunes whose "
                             "owner process is gone, then exit")
    args = parser.parse_args(argv)
    if args.run is None and not args.clean:
        parser.error("--run is required (unless --clean)")
    return args


def resolve_config(args: argparse.Namespace) -> ExportConfig:
    """The run's export section (if it has a config.json), overridden by the flags."""
    saved = args.run / "config.json" if args.run is not None else None
    config = config_lib.load(saved).export if saved and saved.is_file() else ExportConfig()
    overrides = {"root": args.root, "model_name": args.name, "top_k": args.top_k,
                 "base_path": args.base_path, "sentiment_model": args.sentiment_model}
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = resolve_config(args)
    except (ValueError, config_lib.ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.clean:
        return clean(Path(config.root) / config.model_name)
    from tfrec_sentiment.export import preflight
    from tfrec_sentiment.export.ops import OpAuditError
    from tfrec_sentiment.export.saved_model import METADATA_FILE, ExportError, export_run
    from tfrec_sentiment.privacy import EncryptedTableError, KeySourceError

    model_dir = Path(config.root) / config.model_name
    try:
        preflight.check_export_root(model_dir, preflight.estimate_saved_run_bytes(args.run))
        with preflight.export_write_errors(model_dir):
            version_dir = export_run(args.run, config)
    except preflight.ExportRootError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, OpAuditError, ExportError, EncryptedTableError,
            KeySourceError) as error:  # KeySourceError: the run's tables' key source
        print(f"error: {error}", file=sys.stderr)
        return 1
    facts = json.loads((version_dir / "assets.extra" / METADATA_FILE).read_text())
    print(f"wrote {version_dir}")
    for name, spec in facts["signatures"].items():
        inputs = ", ".join(f"{k}: {v['dtype']}{v['shape']}" for k, v in spec["inputs"].items())
        outputs = ", ".join(f"{k}: {v['dtype']}{v['shape']}" for k, v in spec["outputs"].items())
        print(f"  {name}({inputs}) -> {outputs}")
    explain = facts.get("explain", {})
    if not explain.get("served", True):
        print(f"  no explain signature: {explain.get('reason')}")
    print(f"non-core ops: {', '.join(facts['ops']['non_core_ops']) or 'none'}; "
          f"minimum TF Serving: {facts['min_tf_serving']}")
    return 0


def clean(model_dir: Path) -> int:
    """Deletes the orphaned work folders of `model_dir`; prints each one removed or kept."""
    from tfrec_sentiment.export.versions import remove_leftovers

    if not model_dir.is_dir():
        print(f"error: {model_dir} is not a folder", file=sys.stderr)
        return 1
    result = remove_leftovers(model_dir)
    for name in result.removed:
        print(f"removed {model_dir / name} ({result.reasons[name]})")
    for name in result.kept:
        print(f"kept {model_dir / name} ({result.reasons[name]})")
    print(f"{model_dir}: {len(result.removed)} leftover(s) removed, {len(result.kept)} kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
