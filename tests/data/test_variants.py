"""Duplicates and Amazon 2018 variant copies: dropped, traced, items grouped into products."""

from __future__ import annotations

import gzip
import html
import json
import unicodedata
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.data.prepare import prepare_reviews
from tfrec_sentiment.data.variants import (
    EXACT,
    VARIANT,
    deduplicate,
    drop_exact_duplicates,
    group_items,
)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """(user, item, text, title, timestamp) rows -> a small canonical-ish table."""
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "text", "title", "timestamp"])
    return frame.assign(rating=5.0, helpful_votes=0, source="t",
                        line=np.arange(1, len(rows) + 1))


def test_exact_duplicates_keep_the_first_line():
    frame = _frame([("u", "A", "x", "", 1), ("u", "A", "x", "", 1), ("u", "A", "x", "", 2),
                    ("v", "A", "x", "", 1), ("u", "A", "x", "", 1)])
    kept, removed = drop_exact_duplicates(frame)
    assert kept["line"].tolist() == [1, 3, 4]  # line 3 differs in time, line 4 in user
    assert removed[["line", "kept_line"]].values.tolist() == [[2, 1], [5, 1]]
    assert set(removed["kind"]) == {EXACT}


def test_variant_copies_collapse_and_chain_items_into_one_product():
    frame = _frame([
        ("u1", "B3", "great colour", "", 10),
        ("u1", "B2", "great colour", "", 10),  # u1 links B3-B2
        ("u2", "B2", "too small", "", 20),
        ("u2", "B1", "too small", "", 20),     # u2 links B2-B1: B1, B2, B3 are one product
        ("u2", "B9", "unrelated", "", 30),
        ("u3", "B9", "too small", "", 40),     # same text, other user: links nothing
    ])
    result = deduplicate(frame, collapse_variants=True)
    mapping = dict(zip(result.item_map["source_item_id"], result.item_map["item_id"]))
    assert mapping == {"B1": "B1", "B2": "B1", "B3": "B1", "B9": "B9"}
    assert result.reviews["line"].tolist() == [1, 3, 5, 6]
    assert result.reviews["item_id"].tolist() == ["B1", "B1", "B9", "B9"]
    assert result.removed[["line", "kept_line"]].values.tolist() == [[2, 1], [4, 3]]
    assert result.counts == {VARIANT: 2}
    assert len(result.reviews) + len(result.removed) == len(frame)


def test_empty_texts_link_by_title_only():
    frame = _frame([("u", "A", "", "Five Stars", 1), ("u", "B", "", "One Star", 2),
                    ("u", "C", "", "Five Stars", 1)])
    result = deduplicate(frame, collapse_variants=True)
    assert result.reviews["line"].tolist() == [1, 2]  # only the same title collapsed
    mapping = dict(zip(result.item_map["source_item_id"], result.item_map["item_id"]))
    assert mapping == {"A": "A", "B": "B", "C": "A"}


def test_without_collapse_only_exact_copies_go():
    frame = _frame([("u", "B2", "same", "", 1), ("u", "B1", "same", "", 1),
                    ("u", "B2", "same", "", 1)])
    result = deduplicate(frame, collapse_variants=False)
    assert result.reviews["item_id"].tolist() == ["B2", "B1"]
    assert result.counts == {EXACT: 1}
    assert result.item_map["source_item_id"].tolist() == result.item_map["item_id"].tolist()


def _components(items: list[str], groups: list[int]) -> list[set[str]]:
    """Connected components by breadth-first search (independent of union-find)."""
    neighbours = defaultdict(set)
    by_group = defaultdict(set)
    for item, group in zip(items, groups):
        by_group[group].add(item)
        neighbours[item]
    for members in by_group.values():
        for item in members:
            neighbours[item] |= members
    seen, components = set(), []
    for start in neighbours:
        if start in seen:
            continue
        component, frontier = set(), [start]
        while frontier:
            node = frontier.pop()
            if node not in component:
                component.add(node)
                frontier.extend(neighbours[node] - component)
        seen |= component
        components.append(component)
    return components


def test_group_items_matches_breadth_first_components():
    rng = np.random.default_rng(3)
    items = [f"I{n:03d}" for n in rng.integers(0, 200, size=600)]
    groups = rng.integers(0, 400, size=600).tolist()
    products = group_items(np.array(items, dtype=object), np.array(groups))
    for component in _components(items, groups):
        assert {products[item] for item in component} == {min(component)}


# === Real data: Amazon 2018 All_Beauty ===

def _normal(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", html.unescape(text or "")).split())


@pytest.fixture(scope="module")
def all_beauty(shared_data):
    path = shared_data / "amazon2018" / "All_Beauty_5.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = [json.loads(line) for line in handle]
    return raw, prepare_reviews(path, "amazon2018")


@pytest.mark.large
@pytest.mark.real_data
def test_all_beauty_collapses_to_one_review_per_user_and_text(all_beauty):
    raw, prepared = all_beauty
    assert len(raw) == prepared.report.lines == 5269  # the README's line count
    pairs = {(r["reviewerID"], _normal(r.get("reviewText"))) for r in raw}
    assert prepared.report.accepted == len(pairs)
    reviews = prepared.reviews
    assert not reviews.duplicated(["user_id", "text"]).any()
    # Every dropped line duplicates its kept line: same user, same text, linked products.
    product = dict(zip(prepared.item_map["source_item_id"], prepared.item_map["item_id"]))
    for line, kept_line in prepared.duplicates[["line", "kept_line"]].itertuples(index=False):
        dropped, kept = raw[line - 1], raw[kept_line - 1]
        assert dropped["reviewerID"] == kept["reviewerID"]
        assert _normal(dropped.get("reviewText")) == _normal(kept.get("reviewText"))
        assert product[dropped["asin"]] == product[kept["asin"]]


@pytest.mark.large
@pytest.mark.real_data
def test_all_beauty_products_are_the_connected_components(all_beauty):
    raw, prepared = all_beauty
    keys = {}
    groups = [keys.setdefault((r["reviewerID"], _normal(r.get("reviewText"))), len(keys))
              for r in raw]
    components = _components([r["asin"] for r in raw], groups)
    assert prepared.report.extra["items"] == len(components)
    assert prepared.report.extra["source_items"] == len({r["asin"] for r in raw})
    assert set(prepared.reviews["item_id"]) <= {min(c) for c in components}


@pytest.mark.large
@pytest.mark.real_data
def test_no_user_text_pair_on_both_sides_of_a_leave_last_out_split(all_beauty):
    from tfrec_sentiment.data.splits import leave_last_out

    _, prepared = all_beauty
    split = leave_last_out(prepared.reviews)
    # After collapsing, most of the 991 users have one review left; some are held out.
    assert len(split.test) > 50 and len(split.validation) > 50
    train = set(zip(split.train["user_id"], split.train["text"]))
    for part in (split.validation, split.test):
        held = set(zip(part["user_id"], part["text"]))
        assert not (train & held)
    test_texts = set(zip(split.test["user_id"], split.test["text"]))
    assert not (test_texts & set(zip(split.validation["user_id"], split.validation["text"])))
