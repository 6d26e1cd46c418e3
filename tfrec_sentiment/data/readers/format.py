"""What a review format is: a container (JSON lines, CSV, Parquet) and a record parser.

A `ReviewFormat.parse` maps one raw record (a dict from a JSON line or a CSV row) to a
`Review` with canonical values, or raises `FieldError` naming the source field and the
reason. The readers in this package share the containers and differ only in `parse`.

Example:

>>> fmt = ReviewFormat("toy", "jsonl", parse=lambda r: Review("u", "i", 5.0, "ok", "", 0, 0, None))
>>> fmt.parse({}).rating
5.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

CONTAINERS = ("jsonl", "csv", "parquet", "auto")  # auto: JSON lines or CSV, by content


class Review(NamedTuple):
    """One parsed review in canonical order (see tfrec_sentiment.data.schema)."""

    user_id: str
    item_id: str
    rating: float
    text: str
    title: str
    helpful_votes: int
    timestamp: int  # seconds, UTC
    verified: bool | None


@dataclasses.dataclass(frozen=True)
class ReviewFormat:
    """A named review format.

    Attributes:
        name: the `--format` name.
        container: one of CONTAINERS.
        parse: raw record -> Review; raises FieldError for a bad record.
        required: source columns a CSV / Parquet header must have (clear error if not).
        source: the canonical `source` value; defaults to `name`.
        copies_variants: the format copies one review onto several item ids
            (Amazon 2018), so variant collapse is on by default.
        description: one line for `--help` and error messages.
    """

    name: str
    container: str
    parse: Callable[[Mapping[str, Any]], Review]
    required: tuple[str, ...] = ()
    source: str = ""
    copies_variants: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.container not in CONTAINERS:
            raise ValueError(f"container {self.container!r} is not one of {CONTAINERS}")
        if not self.source:
            object.__setattr__(self, "source", self.name)

    def with_container(self, container: str) -> ReviewFormat:
        """The same format read from another container (e.g. Yelp CSV vs JSON lines)."""
        return dataclasses.replace(self, container=container)
