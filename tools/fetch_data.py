"""Download public review data sets into the local cache (resumable, checked).

    python tools/fetch_data.py amazon2018 All_Beauty
    python tools/fetch_data.py amazon2014 Musical_Instruments --cache-dir data/cache

Sources and remote layouts are listed in `tfrec_sentiment/data/fetch.py`; base URLs
can be changed with `--base-url` or `TFREC_AMAZON2018_BASE` / `TFREC_AMAZON2014_BASE`,
the cache with `--cache-dir` or `TFREC_CACHE_DIR`. Prints each cached file's path on
stdout; a failed download prints one `error: ...` line on stderr and exits with 1
(rerun the same command to resume a partial file). Train on a fetched set with
`python tools/train.py --data amazon2018/All_Beauty`.
"""

from __future__ import annotations

import argparse
import sys

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)
from tfrec_sentiment.config_checks import ToolArgumentParser
from tfrec_sentiment.data import fetch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", choices=sorted(fetch.SOURCES), help="data set family")
    parser.add_argument("names", nargs="+", help="category names, e.g. All_Beauty")
    parser.add_argument("--base-url", default=None, help="replaces the source's base URL")
    parser.add_argument("--cache-dir", default=None,
                        help=f"cache root (default {fetch.default_cache_dir()})")
    parser.add_argument("--force", action="store_true", help="download even if cached")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--timeout", type=float, default=30.0, help="network timeout (s)")
    parser.add_argument("--retries", type=int, default=3,
                        help="resumes after a dropped connection")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout={args.timeout}: must be > 0")
    if args.retries < 0:
        parser.error(f"--retries={args.retries}: must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in args.names:
        try:
            path = fetch.fetch(f"{args.source}/{name}", args.cache_dir, args.base_url,
                               force=args.force, progress=not args.no_progress,
                               timeout=args.timeout, retries=args.retries)
        except (fetch.FetchError, fetch.UnknownDatasetError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("error: interrupted; the partial file is kept, rerun to resume",
                  file=sys.stderr)
            return 130
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
