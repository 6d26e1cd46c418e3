"""Ingest one review file: clean canonical Parquet table + report + rejected records.

    python tools/prepare_data.py --input reviews_Musical_Instruments_5.json.gz \\
        --format amazon2014 --out prepared/musical

writes `reviews.parquet`, `report.json`, `rejected.jsonl`, `item_map.parquet` and
`duplicates.parquet` into `--out`, and prints the report as ONE JSON line, last on
stdout: `lines`, `accepted`, `rejected` (reason -> count), `duplicates`, `cleaning`, ...
with lines == accepted + sum(rejected) + duplicates.

Formats: amazon2014, amazon2018, amazon2023, yelp (CSV or JSON lines), yelp_csv,
yelp_json, and csv / parquet / jsonl with `--columns user_id=uid,item_id=product,...`.
Without `--format` the format is guessed from the first record. Files are read as
UTF-8 unless `--encoding NAME` (any ASCII-compatible Python codec, e.g. cp1252) says
otherwise; records that do not decode are rejected and a warning names the encoding
they most likely are in. A record longer than `--max-record-bytes` (default 16 MiB) is
set aside alone as `record_too_long`.

Exit status: 0 when the file was read (even with rejected records), 1 when the file
itself cannot be read or lacks a required column, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)
from tfrec_sentiment.config_checks import ConfigError, ToolArgumentParser
from tfrec_sentiment.data.config import PSEUDONYMIZE_KEY_ENV, DataConfig
from tfrec_sentiment.data.pseudonymize import PseudonymKeyError
from tfrec_sentiment.data.readers import FORMAT_NAMES, ReaderError, parse_columns
from tfrec_sentiment.data.readers.encoding import check_encoding
from tfrec_sentiment.data.readers.sources import MAX_RECORD_BYTES


def encoding_arg(name: str) -> str:
    """argparse type of `--encoding`: the codec name, checked before anything is read."""
    try:
        return check_encoding(name)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="review file (plain, .gz, .zip, ...)")
    parser.add_argument("--format", choices=FORMAT_NAMES, default=None,
                        help="reader; default: guessed from the first record")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--columns", default=None,
                        help="csv/parquet/jsonl column mapping: canonical=source,... "
                             "(user_id, item_id, rating, text, timestamp or timestamp_ms, "
                             "title, helpful_votes, verified)")
    parser.add_argument("--encoding", type=encoding_arg, default=None,
                        help="text encoding of the file, e.g. cp1252 (default: UTF-8; records "
                             "that fail are rejected and the likely encoding is named)")
    parser.add_argument("--max-record-bytes", type=_positive, default=MAX_RECORD_BYTES,
                        help="a longer record is set aside alone as record_too_long "
                             "(default %(default)s)")
    collapse = parser.add_mutually_exclusive_group()
    collapse.add_argument("--collapse-variants", dest="collapse", action="store_true",
                          default=None, help="merge one review copied onto several items "
                                             "(default: on for amazon2018 only)")
    collapse.add_argument("--no-collapse-variants", dest="collapse", action="store_false")
    parser.add_argument("--pseudonymize-key", default=None,
                        help="key for keyed hashing of user ids (prefer the env variable: "
                             "a flag is visible to other users of the machine)")
    parser.add_argument("--pseudonymize-key-env", default=PSEUDONYMIZE_KEY_ENV,
                        help="environment variable holding the key (default %(default)s); "
                             "user ids are pseudonymised when it is set")
    parser.add_argument("--chunk-size", type=int, default=DataConfig.chunk_size,
                        help="records per streamed chunk (default %(default)s)")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="always show the progress bar (default: on a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    try:
        args.columns = tuple(f"{k}={v}" for k, v in parse_columns(args.columns).items())
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = DataConfig(dataset=args.input, format=args.format, columns=args.columns,
                            collapse_variants=args.collapse, chunk_size=args.chunk_size,
                            pseudonymize_key_env=args.pseudonymize_key_env,
                            encoding=args.encoding)
    except ConfigError as error:  # before any record is read
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The cleaning steps import TensorFlow: only once the arguments are known good.
    from tfrec_sentiment.data.prepare import prepare_reviews

    try:
        prepared = prepare_reviews(args.input, config=config, progress=args.progress,
                                   pseudonymize_key=args.pseudonymize_key,
                                   max_record_bytes=args.max_record_bytes)
    except (ReaderError, PseudonymKeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out = prepared.save(args.out)
    for warning in prepared.report.extra.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {prepared.report.accepted} reviews to {out}", file=sys.stderr)
    print(prepared.report.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
