"""Export a finished training run as the next TF Serving version.

    python tools/export.py --run runs/demo-20260101-120000
    python tools/export.py --run runs/demo-20260101-120000 --root saved_models \\
        --name tfrec_sentiment --top-k 20 --base-path /srv/models/tfrec_sentiment

Loads the run's sentiment model (`RUN/sentiment/model`) and recommender
(`RUN/recsys`, with its feature tables in `RUN/features`), composes them into one
SavedModel and writes `<root>/<name>/<next version>/` plus `<root>/<name>/models.config`.
Defaults come from the run's `config.json` (its `export` section), then the flags.
Prints the version folder, its signatures and the minimum TF Serving release.

Exit status: 0 on success, 1 when the run folder is incomplete or the export fails
(e.g. an op TF Serving cannot run), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.export.config import ExportConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run folder")
    parser.add_argument("--root", default=None, help="saved models folder (default: the "
                        "run config's, else saved_models)")
    parser.add_argument("--name", default=None, help="model name (TF Serving's)")
    parser.add_argument("--top-k", type=int, default=None, help="recommendations per user")
    parser.add_argument("--base-path", default=None,
                        help="the model folder as the server sees it, for models.config "
                             "(default /models/<name>, the Docker image's layout)")
    return parser.parse_args(argv)


def resolve_config(args: argparse.Namespace) -> ExportConfig:
    """The run's export section (if it has a config.json), overridden by the flags."""
    saved = args.run / "config.json"
    config = config_lib.load(saved).export if saved.is_file() else ExportConfig()
    overrides = {"root": args.root, "model_name": args.name, "top_k": args.top_k,
                 "base_path": args.base_path}
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = resolve_config(args)
    except (ValueError, config_lib.ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from tfrec_sentiment.export.ops import OpAuditError
    from tfrec_sentiment.export.saved_model import METADATA_FILE, ExportError, export_run

    try:
        version_dir = export_run(args.run, config)
    except (FileNotFoundError, OpAuditError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    facts = json.loads((version_dir / "assets.extra" / METADATA_FILE).read_text())
    print(f"wrote {version_dir}")
    for name, spec in facts["signatures"].items():
        inputs = ", ".join(f"{k}: {v['dtype']}{v['shape']}" for k, v in spec["inputs"].items())
        outputs = ", ".join(f"{k}: {v['dtype']}{v['shape']}" for k, v in spec["outputs"].items())
        print(f"  {name}({inputs}) -> {outputs}")
    print(f"non-core ops: {', '.join(facts['ops']['non_core_ops']) or 'none'}; "
          f"minimum TF Serving: {facts['min_tf_serving']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
