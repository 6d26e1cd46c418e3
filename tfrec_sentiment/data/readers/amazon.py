"""Amazon review dumps: the 2014, 2018 (McAuley lab) and 2023 (McAuley lab) releases.

| release | user       | item                    | stars   | helpful votes        | time           |
|---------|------------|-------------------------|---------|----------------------|----------------|
| 2014    | reviewerID | asin                    | overall | helpful[0] of [h, n] | unixReviewTime |
| 2018    | reviewerID | asin                    | overall | vote, "1,341" string | unixReviewTime |
| 2023    | user_id    | parent_asin (else asin) | rating  | helpful_vote         | timestamp (ms) |

2014 and 2018 fall back to `reviewTime` ("02 28, 2014") when `unixReviewTime` is absent.
Title: `summary` (2014, 2018) or `title` (2023). Verified: 2018 `verified`, 2023
`verified_purchase`, unknown in 2014.

Example:

>>> AMAZON_2018.parse({"reviewerID": "U", "asin": "A", "overall": 5.0, "vote": "1,341",
...                    "unixReviewTime": 1472688000, "verified": True}).helpful_votes
1341
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tfrec_sentiment.data.readers.fields import (
    FieldError,
    optional_text,
    parse_count,
    parse_epoch,
    parse_flag,
    parse_rating,
    parse_us_date,
    require_id,
    shorten,
)
from tfrec_sentiment.data.readers.format import Review, ReviewFormat


def _review_time(record: Mapping[str, Any]) -> int:
    if record.get("unixReviewTime") is not None:
        return parse_epoch(record["unixReviewTime"], "unixReviewTime")
    return parse_us_date(record.get("reviewTime"), "reviewTime")


def _helpful_pair(value: Any) -> int:
    """2014 `helpful` is [helpful votes, total votes]; missing means no votes."""
    if value is None:
        return 0
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise FieldError("helpful_votes_invalid", "helpful", shorten(value))
    helpful = parse_count(value[0], "helpful")
    if helpful > parse_count(value[1], "helpful"):
        raise FieldError("helpful_votes_invalid", "helpful", shorten(value))
    return helpful


def _mcauley_2014_2018(record: Mapping[str, Any], votes: Callable[[Mapping[str, Any]], int],
                       verified: Callable[[Mapping[str, Any]], bool | None]) -> Review:
    """The fields the 2014 and 2018 releases share, checked in the same order; `votes`
    and `verified` read the two that differ."""
    return Review(
        user_id=require_id(record, "reviewerID", "user_id"),
        item_id=require_id(record, "asin", "item_id"),
        rating=parse_rating(record.get("overall"), "overall"),
        text=optional_text(record, "reviewText", "text"),
        title=optional_text(record, "summary", "title"),
        helpful_votes=votes(record),
        timestamp=_review_time(record),
        verified=verified(record),
    )


def parse_amazon_2014(record: Mapping[str, Any]) -> Review:
    """One Amazon 2014 review line -> Review."""
    return _mcauley_2014_2018(record, lambda r: _helpful_pair(r.get("helpful")),
                              lambda r: None)


def parse_amazon_2018(record: Mapping[str, Any]) -> Review:
    """One Amazon 2018 review line -> Review (`vote` "1,341" -> 1341, missing -> 0)."""
    return _mcauley_2014_2018(record, lambda r: parse_count(r.get("vote"), "vote"),
                              lambda r: parse_flag(r.get("verified"), "verified"))


def parse_amazon_2023(record: Mapping[str, Any]) -> Review:
    """One Amazon 2023 review line -> Review; the item is the parent (product) asin."""
    has_parent = isinstance(record.get("parent_asin"), str) and record["parent_asin"].strip()
    return Review(
        user_id=require_id(record, "user_id", "user_id"),
        item_id=require_id(record, "parent_asin" if has_parent else "asin", "item_id"),
        rating=parse_rating(record.get("rating"), "rating"),
        text=optional_text(record, "text", "text"),
        title=optional_text(record, "title", "title"),
        helpful_votes=parse_count(record.get("helpful_vote"), "helpful_vote"),
        timestamp=parse_epoch(record.get("timestamp"), "timestamp", unit="ms"),
        verified=parse_flag(record.get("verified_purchase"), "verified_purchase"),
    )


AMAZON_2014 = ReviewFormat(
    "amazon2014", "jsonl", parse_amazon_2014,
    description="Amazon Reviews 2014 JSON lines (reviewerID, asin, overall, helpful, ...)")
AMAZON_2018 = ReviewFormat(
    "amazon2018", "jsonl", parse_amazon_2018, copies_variants=True,
    description="Amazon Reviews 2018 JSON lines (reviewerID, asin, overall, vote, verified)")
AMAZON_2023 = ReviewFormat(
    "amazon2023", "jsonl", parse_amazon_2023,
    description="Amazon Reviews 2023 JSONL (user_id, parent_asin, rating, timestamp ms)")
