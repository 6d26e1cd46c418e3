"""Evaluate aspect extraction and aspect polarity on SemEval-2014 Task 4; print the table.

    python tools/eval_aspects.py                                  # VADER only, both sets
    python tools/eval_aspects.py --model runs/sentiment-sst3/model --contexts clause,sentence
    python tools/eval_aspects.py --sets laptops --set size=200 --set background=none

`--data` is the folder with `Laptop_Train_v2.xml` and `Restaurants_Train_v2.xml`
(default ../shared/data/absa). `--model` is a fine-tuned `SentimentModel` folder (e.g.
the `model/` of `tools/train_sentiment.py --dataset sst3`); without it only VADER
scores polarity. `--set FIELD=VALUE` overrides an `AspectConfig` field. The table is
printed (markdown) and, with `--out`, the full results are written as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)
from tfrec_sentiment.aspects.config import CONTEXTS, AspectConfig
from tfrec_sentiment.config import ConfigError, apply_overrides
from tfrec_sentiment.config_checks import ToolArgumentParser

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("TFREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def parse_args(argv: list[str] | None = None):
    from tfrec_sentiment.aspects.semeval import SETS

    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "absa",
                        help="folder of the SemEval-2014 Task 4 XML files (default %(default)s)")
    parser.add_argument("--sets", default=",".join(SETS),
                        help=f"comma-separated, of {', '.join(SETS)} (default all)")
    parser.add_argument("--model", type=Path, default=None,
                        help="fine-tuned SentimentModel folder for BERT polarity, e.g. "
                             "runs/<run>/sentiment/model (default: none, VADER only)")
    parser.add_argument("--contexts", default="sentence",
                        help=f"comma-separated, of {', '.join(CONTEXTS)} (default sentence)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an AspectConfig field, e.g. --set size=200")
    parser.add_argument("--batch-size", type=int, default=32, help="BERT scoring batch")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from tfrec_sentiment.aspects.semeval import SETS

    args = parse_args(argv)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    contexts = [c.strip() for c in args.contexts.split(",") if c.strip()]
    unknown = [s for s in sets if s not in SETS] + [c for c in contexts if c not in CONTEXTS]
    if unknown or not sets or not contexts:
        print(f"error: unknown set or context {unknown}; sets: {', '.join(SETS)}; "
              f"contexts: {', '.join(CONTEXTS)}", file=sys.stderr)
        return 2
    try:
        config = apply_overrides(AspectConfig(), args.set)
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = [args.data / SETS[s] for s in sets if not (args.data / SETS[s]).is_file()]
    if missing:
        print(f"error: {', '.join(map(str, missing))} not found", file=sys.stderr)
        return 2
    from tfrec_sentiment.aspects.mentions import AspectExtractor
    from tfrec_sentiment.aspects.semeval import evaluate_semeval, results_table

    model = None
    if args.model is not None:
        from tfrec_sentiment.sentiment.inference import use_bfloat16
        from tfrec_sentiment.sentiment.model import SentimentModel

        model = SentimentModel.load(args.model)
    options = {"batch_size": args.batch_size}
    if model is not None:
        options["bfloat16"] = use_bfloat16(True)
    extractor = AspectExtractor(config)
    results = {name: evaluate_semeval(args.data / SETS[name], config, model, contexts,
                                      progress=not args.quiet, extractor=extractor, **options)
               for name in sets}
    print(results_table(results))
    for name, result in results.items():
        print(f"{name}: top terms {', '.join(result['vocabulary']['aspects'][:10])}; "
              f"{result['seconds']}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        body = {"config": dataclasses.asdict(config), "model": str(args.model),
                "results": results}
        args.out.write_text(json.dumps(body, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
