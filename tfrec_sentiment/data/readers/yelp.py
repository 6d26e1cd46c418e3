"""Yelp reviews: the Kaggle CSV (`yelp.csv`, also zipped) and the academic JSON lines.

Both spell the fields the same way: `user_id`, `business_id` (the item), `stars`,
`text`, `date` ("2011-01-26" or "2016-03-09 00:00:00", taken as UTC) and `useful`
(the helpful-vote count). Yelp has no titles and no verified flag.

Example:

>>> YELP_CSV.parse({"user_id": "u", "business_id": "b", "stars": "4", "text": "Nice.",
...                 "date": "2011-01-26", "useful": "5"}).timestamp
1296000000
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfrec_sentiment.data.readers.fields import (
    optional_text,
    parse_count,
    parse_epoch,
    parse_rating,
    require_id,
)
from tfrec_sentiment.data.readers.format import Review, ReviewFormat

YELP_REQUIRED = ("user_id", "business_id", "stars", "text", "date")


def parse_yelp(record: Mapping[str, Any]) -> Review:
    """One Yelp review (CSV row or JSON object) -> Review."""
    return Review(
        user_id=require_id(record, "user_id", "user_id"),
        item_id=require_id(record, "business_id", "item_id"),
        rating=parse_rating(record.get("stars"), "stars"),
        text=optional_text(record, "text", "text"),
        title="",
        helpful_votes=parse_count(record.get("useful"), "useful"),
        timestamp=parse_epoch(record.get("date"), "date"),
        verified=None,
    )


YELP = ReviewFormat("yelp", "auto", parse_yelp, required=YELP_REQUIRED,
                    description="Yelp reviews, CSV (Kaggle) or JSON lines (academic), by content")
YELP_CSV = YELP.with_container("csv")
YELP_JSON = YELP.with_container("jsonl")
