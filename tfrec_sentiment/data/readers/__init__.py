"""Review-file readers: every supported format into the canonical review table.

| format       | file                                                                 |
|--------------|----------------------------------------------------------------------|
| `amazon2014` | Amazon Reviews 2014 JSON lines                                       |
| `amazon2018` | Amazon Reviews 2018 JSON lines (variant copies collapsed later)      |
| `amazon2023` | Amazon Reviews 2023 JSONL (item = parent_asin, time in ms)           |
| `yelp`       | Yelp Kaggle CSV or academic JSON lines, told apart by content        |
| `yelp_csv`, `yelp_json` | the same, forced                                          |
| `csv`, `parquet`, `jsonl` | any table, with a `canonical=source` column mapping     |

Plain files and gzip / bz2 / xz / single-member zip archives are all read as streams.
`read_reviews` returns the accepted rows (with their `line`) and a `Rejection` for
every other record; `guess_format` names a format from the first record.

Records never lose sync (a CSV record is framed before it is parsed; one over
`max_record_bytes` is set aside alone), times must be plausible (1995 to tomorrow, with
a per-file check of the unit), and text is UTF-8 unless an `encoding` is given (the
likely encoding is named when records fail): see `sources`, `fields.parse_epoch` and
`encoding`.

Example:

>>> from tfrec_sentiment.data.readers import read_reviews
>>> result = read_reviews("All_Beauty_5.json.gz", "amazon2018")  # doctest: +SKIP
>>> result.lines == len(result.reviews) + len(result.rejections)  # doctest: +SKIP
True
"""

from tfrec_sentiment.data.readers.fields import FieldError
from tfrec_sentiment.data.readers.format import Review, ReviewFormat
from tfrec_sentiment.data.readers.generic import generic_format, parse_columns
from tfrec_sentiment.data.readers.reader import (
    FORMAT_NAMES,
    FORMATS,
    GENERIC_FORMATS,
    ReadChunk,
    ReadResult,
    guess_format,
    iter_review_chunks,
    read_reviews,
    resolve_format,
)
from tfrec_sentiment.data.readers.sources import ReaderError

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "GENERIC_FORMATS",
    "FieldError",
    "ReadChunk",
    "ReadResult",
    "ReaderError",
    "Review",
    "ReviewFormat",
    "generic_format",
    "guess_format",
    "iter_review_chunks",
    "parse_columns",
    "read_reviews",
    "resolve_format",
]
