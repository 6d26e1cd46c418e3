"""`python -m tfrec_sentiment.evaluation --data SPEC`: the baseline table of a data set.

Loads and splits the reviews as a run would (`load_dataset`, `split_reviews`), runs
every baseline of `baselines.baseline_variants` and prints the markdown table.

Example:

    python -m tfrec_sentiment.evaluation \
        --data ../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz \
        --format amazon2014 --out /tmp/baselines
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.data.prepare import load_dataset
from tfrec_sentiment.data.splits import split_reviews
from tfrec_sentiment.evaluation.baselines import baseline_report
from tfrec_sentiment.evaluation.config import EvalConfig


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the baseline table of a data set (and writes the report files with --out)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", required=True,
                        help='"demo", a review file, or a downloaded data set name')
    parser.add_argument("--format", default=None, help="reader name; default: guessed")
    parser.add_argument("--out", default=None, help="write metrics.json, report.md, ablation.png")
    parser.add_argument("--k", type=int, default=EvalConfig.k)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated MF seeds")
    parser.add_argument("--split", default="leave_last_out",
                        choices=("leave_last_out", "time_cutoff"))
    parser.add_argument("--validation-per-user", type=int, default=1,
                        help="leave_last_out: reviews per user held out for validation "
                             "(0 = train/test only, the protocol of the issue's references)")
    args = parser.parse_args(argv)
    data_config = DataConfig(dataset=args.data, format=args.format, split=args.split,
                             split_validation_per_user=args.validation_per_user)
    reviews = load_dataset(args.data, args.format, config=data_config, progress=None).reviews
    split = split_reviews(reviews, data_config)
    config = EvalConfig(k=args.k, seeds=tuple(int(s) for s in args.seeds.split(",") if s))
    result = baseline_report(split, args.out, config, title=f"baselines: {args.data}")
    print(result.to_markdown(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
