"""Any CSV, Parquet or JSON-lines review table, with a column mapping.

The mapping says which source column holds each canonical field, as
`canonical=source` pairs (`user_id=uid,item_id=product,rating=stars`). Canonical fields
not named map to a column of the same name. `timestamp` holds epoch seconds or an ISO
date; map `timestamp_ms=col` instead for epoch milliseconds.

Required: user_id, item_id, rating, text, timestamp (a CSV / Parquet file without one
of them is refused with the file and column named). Optional: title, helpful_votes,
verified (used when present).

Example:

>>> fmt = generic_format("csv", "user_id=uid,item_id=product,rating=stars")
>>> fmt.required
('uid', 'product', 'stars', 'text', 'timestamp')
>>> fmt.parse({"uid": "u1", "product": "p9", "stars": "4", "text": "ok",
...            "timestamp": "1300000000"}).item_id
'p9'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfrec_sentiment.data.readers.fields import (
    optional_text,
    parse_count,
    parse_epoch,
    parse_flag,
    parse_rating,
    require_id,
)
from tfrec_sentiment.data.readers.format import Review, ReviewFormat

REQUIRED_FIELDS = ("user_id", "item_id", "rating", "text", "timestamp")
OPTIONAL_FIELDS = ("title", "helpful_votes", "verified")
MAPPABLE_FIELDS = (*REQUIRED_FIELDS, "timestamp_ms", *OPTIONAL_FIELDS)

ColumnSpec = str | Sequence[str] | Mapping[str, str] | None


def parse_columns(spec: ColumnSpec) -> dict[str, str]:
    """Column mapping from "a=b,c=d", ["a=b", "c=d"] or a dict; canonical -> source.

    Raises:
        ValueError: a pair is malformed or names an unknown canonical field.
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        pairs = list(spec.items())
    else:
        items = spec.split(",") if isinstance(spec, str) else list(spec)
        pairs = [_split_pair(item) for item in items if item.strip()]
    mapping = {}
    for canonical, source in pairs:
        if canonical not in MAPPABLE_FIELDS:
            raise ValueError(f"column mapping names unknown field {canonical!r}; "
                             f"map one of {list(MAPPABLE_FIELDS)}")
        mapping[canonical] = source
    if "timestamp" in mapping and "timestamp_ms" in mapping:
        raise ValueError("map either timestamp (seconds or ISO dates) or timestamp_ms, not both")
    return mapping


def _split_pair(item: str) -> tuple[str, str]:
    canonical, sep, source = item.partition("=")
    if not sep or not canonical.strip() or not source.strip():
        raise ValueError(f"column mapping {item!r} is not of the form canonical=source")
    return canonical.strip(), source.strip()


def generic_format(container: str, columns: ColumnSpec = None) -> ReviewFormat:
    """A ReviewFormat reading `container` ("csv", "parquet" or "jsonl") with a mapping."""
    mapping = parse_columns(columns)
    unit = "ms" if "timestamp_ms" in mapping else "s"
    names = {field: mapping.get(field, field) for field in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)}
    if unit == "ms":
        names["timestamp"] = mapping["timestamp_ms"]
    explicit_optional = tuple(names[f] for f in OPTIONAL_FIELDS if f in mapping)

    def parse(record: Mapping[str, Any]) -> Review:
        return Review(
            user_id=require_id(record, names["user_id"], "user_id"),
            item_id=require_id(record, names["item_id"], "item_id"),
            rating=parse_rating(record.get(names["rating"]), names["rating"]),
            text=optional_text(record, names["text"], "text"),
            title=optional_text(record, names["title"], "title"),
            helpful_votes=parse_count(record.get(names["helpful_votes"]), names["helpful_votes"]),
            timestamp=parse_epoch(record.get(names["timestamp"]), names["timestamp"], unit),
            verified=parse_flag(record.get(names["verified"]), names["verified"]),
        )

    required = tuple(names[f] for f in REQUIRED_FIELDS) + explicit_optional
    return ReviewFormat(container, container, parse, required=required,
                        description=f"generic {container} with a column mapping")
