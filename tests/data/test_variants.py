"""Duplicates and Amazon 2018 variant copies: dropped, traced, items grouped into products.

A copy is one user's review with the same text, day and stars under another item; only
non-stock copies link items (case `stock_text_two_products_2018.json`).
"""

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
    DAY_SECONDS,
    EXACT,
    VARIANT,
    VariantRules,
    deduplicate,
    drop_exact_duplicates,
    group_items,
    stock_texts,
)

DAY = DAY_SECONDS
LONG = "the blue one fits my desk well"  # 7 words: never a stock text


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """(user, item, text, title, timestamp[, rating]) rows -> a small canonical-ish table."""
    rows = [row if len(row) == 6 else (*row, 5.0) for row in rows]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "text", "title", "timestamp",
                                        "rating"])
    return frame.assign(helpful_votes=0, source="t", line=np.arange(1, len(rows) + 1))


def _mapping(result) -> dict[str, str]:
    return dict(zip(result.item_map["source_item_id"], result.item_map["item_id"]))


def test_exact_duplicates_keep_the_first_line():
    frame = _frame([("u", "A", "x", "", 1), ("u", "A", "x", "", 1), ("u", "A", "x", "", 2),
                    ("v", "A", "x", "", 1), ("u", "A", "x", "", 1)])
    kept, removed = drop_exact_duplicates(frame)
    assert kept["line"].tolist() == [1, 3, 4]  # line 3 differs in time, line 4 in user
    assert removed[["line", "kept_line"]].values.tolist() == [[2, 1], [5, 1]]
    assert set(removed["kind"]) == {EXACT}


def test_variant_copies_collapse_and_chain_items_into_one_product():
    frame = _frame([
        ("u1", "B3", "great colour, soft and warm", "", 10),
        ("u1", "B2", "great colour, soft and warm", "", 500),  # same day: u1 links B3-B2
        ("u2", "B2", "runs two sizes too small", "", 20),
        ("u2", "B1", "runs two sizes too small", "", 20),      # u2 links B2-B1: one product
        ("u2", "B9", "unrelated words about a lamp", "", 30),
        ("u3", "B9", "runs two sizes too small", "", 40),      # same text, other user
    ])
    result = deduplicate(frame, collapse_variants=True)
    assert _mapping(result) == {"B1": "B1", "B2": "B1", "B3": "B1", "B9": "B9"}
    assert result.reviews["line"].tolist() == [1, 3, 5, 6]
    assert result.reviews["item_id"].tolist() == ["B1", "B1", "B9", "B9"]
    assert result.removed[["line", "kept_line"]].values.tolist() == [[2, 1], [4, 3]]
    assert result.counts == {VARIANT: 2}
    assert len(result.reviews) + len(result.removed) == len(frame)
    stats = result.variant_stats
    assert stats["variant_linking_groups"] == 2 and stats["variant_products_merged"] == 1
    assert stats["largest_products"][0] == {"item_id": "B1", "source_items": 3, "reviews": 2}


def test_a_copy_shares_the_day_and_the_stars():
    frame = _frame([
        ("u", "B1", LONG, "", 3 * DAY, 5.0),
        ("u", "B2", LONG, "", 3 * DAY + 7200, 5.0),  # same day, same stars: a copy
        ("u", "B3", LONG, "", 40 * DAY, 5.0),        # written again 37 days later
        ("u", "B4", LONG, "", 3 * DAY, 3.0),         # same day, other stars
    ])
    result = deduplicate(frame, collapse_variants=True)
    assert _mapping(result) == {"B1": "B1", "B2": "B1", "B3": "B3", "B4": "B4"}
    assert result.reviews["line"].tolist() == [1, 3, 4]
    assert result.removed[["line", "kept_line"]].values.tolist() == [[2, 1]]
    assert result.variant_stats["variant_linking_groups"] == 1
    # One (user, text) under 4 items whose rows differ in day or stars: 1 repeat.
    assert result.variant_stats["variant_repeats_not_linked"] == {
        "day_or_stars_differ": 1, "stock_text": 0}


def test_stock_texts():
    texts = pd.Series(["", "Five Stars", "A+", "👍👍👍", "don't know why",
                       "Leaves my hair soft", "great product"])
    assert stock_texts(texts, 3).tolist() == [True, True, True, True, True, False, True]
    assert stock_texts(texts, 0).tolist() == [True, False, False, True, False, False, False]


def test_stock_texts_never_link_items_on_their_own():
    frame = _frame([
        ("u", "SHAMPOO", "", "Five Stars", 5 * DAY),   # title only, same day and stars
        ("u", "DRYER", "", "Five Stars", 5 * DAY),
        ("v", "SOCKS", "Great product", "ok", 9 * DAY),
        ("v", "KETTLE", "Great product", "ok", 9 * DAY),
    ])
    result = deduplicate(frame, collapse_variants=True)
    assert _mapping(result) == {k: k for k in ("DRYER", "KETTLE", "SHAMPOO", "SOCKS")}
    assert result.reviews["line"].tolist() == [1, 2, 3, 4] and result.removed.empty
    assert result.variant_stats["variant_repeats_not_linked"] == {
        "day_or_stars_differ": 0, "stock_text": 2}
    # With stock_max_words=0 only empty texts are stock: "Great product" links then.
    loose = deduplicate(frame, collapse_variants=True, rules=VariantRules(stock_max_words=0))
    assert _mapping(loose)["SOCKS"] == "KETTLE" and loose.reviews["line"].tolist() == [1, 2, 3]


def test_stock_copies_collapse_inside_a_product_that_other_copies_link():
    frame = _frame([
        ("u", "A", LONG, "", DAY), ("u", "B", LONG, "", DAY),     # links A-B
        ("v", "A", "love it", "", DAY), ("v", "B", "love it", "", DAY),  # copy inside A+B
        ("v", "C", "love it", "", DAY),                           # C stays apart
        ("w", "A", "", "Five Stars", DAY), ("w", "B", "", "Five Stars", DAY),
    ])
    result = deduplicate(frame, collapse_variants=True)
    assert _mapping(result) == {"A": "A", "B": "A", "C": "C"}
    assert result.reviews["line"].tolist() == [1, 3, 5, 6]
    assert result.removed[["line", "kept_line"]].values.tolist() == [[2, 1], [4, 3], [7, 6]]
    assert result.variant_stats["variant_linking_groups"] == 1
    assert result.variant_stats["variant_repeats_not_linked"]["stock_text"] == 1


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_variant_rules_reject_bad_values(value):
    with pytest.raises(ValueError, match=r"VariantRules.stock_max_words=.*int >= 0"):
        VariantRules(stock_max_words=value)


def test_copies_need_time_and_stars_columns():
    frame = _frame([("u", "A", LONG, "", 1)]).drop(columns=["timestamp"])
    with pytest.raises(ValueError, match=r"lacks \['timestamp'\]"):
        deduplicate(frame, collapse_variants=True)


def test_an_empty_table_collapses_to_nothing():
    result = deduplicate(_frame([("u", "A", LONG, "", 1)]).iloc[:0], collapse_variants=True)
    assert result.reviews.empty and result.removed.empty and result.item_map.empty
    assert result.variant_stats["variant_linking_groups"] == 0
    assert result.variant_stats["largest_products"] == []


def test_without_collapse_only_exact_copies_go():
    frame = _frame([("u", "B2", "same", "", 1), ("u", "B1", "same", "", 1),
                    ("u", "B2", "same", "", 1)])
    result = deduplicate(frame, collapse_variants=False)
    assert result.reviews["item_id"].tolist() == ["B2", "B1"]
    assert result.counts == {EXACT: 1}
    assert result.item_map["source_item_id"].tolist() == result.item_map["item_id"].tolist()
    assert result.variant_stats == {}


# === The case: one shopper's stock text on two unrelated products ===

def _case_lines() -> list[dict]:
    """Equivalent of ../shared/cases/stock_text_two_products_2018.json (8 lines)."""
    def row(user, asin, overall, time, summary, text=None, **extra):
        record = {"overall": overall, "verified": True, "reviewerID": user, "asin": asin,
                  "summary": summary, "unixReviewTime": time, "reviewTime": "01 1, 2017",
                  **extra}
        return record if text is None else {**record, "reviewText": text}
    return [
        row("ASHOPPER01", "B0SHAMPOO1", 5.0, 1483228800, "Five Stars"),
        row("ASHOPPER02", "B0SHAMPOO1", 4.0, 1485907200, "Nice",
            "Leaves my hair soft, nice smell."),
        row("ASHOPPER03", "B0SHAMPOO1", 2.0, 1488326400, "Itchy", "Made my scalp itch."),
        row("ASHOPPER01", "B0DRYER001", 4.0, 1527811200, "Five Stars"),
        row("ASHOPPER04", "B0DRYER001", 1.0, 1530403200, "Dead",
            "Stopped heating after a month.", vote="5"),
        row("ASHOPPER05", "B0DRYER001", 5.0, 1533081600, "Great", "Dries fast, quiet motor."),
        row("ASHOPPER06", "B0SOCKS001", 5.0, 1500000000, "ok", "Great product"),
        row("ASHOPPER06", "B0KETTLE01", 3.0, 1540000000, "ok", "Great product"),
    ]


def _write(path, records: list[dict]):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _assert_case_kept_apart(prepared):
    report = prepared.report
    assert report.balanced and report.lines == report.accepted == 8
    assert report.duplicates == 0 and prepared.duplicates.empty
    assert report.extra["items"] == report.extra["source_items"] == 4
    assert set(prepared.item_map["source_item_id"]) == set(prepared.item_map["item_id"])
    assert report.extra["variant_linking_groups"] == 0
    assert report.extra["variant_products_merged"] == 0
    # ASHOPPER01's "Five Stars" and ASHOPPER06's "Great product": another day, other stars.
    assert report.extra["variant_repeats_not_linked"] == {"day_or_stars_differ": 2,
                                                          "stock_text": 0}
    largest = report.extra["largest_products"]
    assert [(p["item_id"], p["source_items"], p["reviews"]) for p in largest[:2]] == [
        ("B0DRYER001", 1, 3), ("B0SHAMPOO1", 1, 3)]


def test_case_built_here_keeps_products_apart(tmp_path):
    prepared = prepare_reviews(_write(tmp_path / "case.json", _case_lines()), "amazon2018")
    _assert_case_kept_apart(prepared)


def test_case_file_keeps_products_apart(shared_cases):
    path = shared_cases / "stock_text_two_products_2018.json"
    with open(path, encoding="utf-8") as handle:
        assert [json.loads(line) for line in handle] == _case_lines()  # the same input
    _assert_case_kept_apart(prepare_reviews(path, "amazon2018"))


def test_genuine_copies_in_the_case_still_collapse(tmp_path):
    lines = _case_lines()
    # ASHOPPER02's review copied onto a second shampoo size: same day, same stars.
    copy = {**lines[1], "asin": "B0SHAMPOO2", "vote": "2"}
    prepared = prepare_reviews(_write(tmp_path / "case.json", [*lines, copy]), "amazon2018")
    assert prepared.report.balanced and prepared.report.accepted == 8
    assert prepared.duplicates[["line", "kept_line", "kind"]].values.tolist() == [
        [9, 2, VARIANT]]
    mapping = dict(zip(prepared.item_map["source_item_id"], prepared.item_map["item_id"]))
    assert mapping["B0SHAMPOO2"] == mapping["B0SHAMPOO1"] == "B0SHAMPOO1"
    assert mapping["B0DRYER001"] == "B0DRYER001" and mapping["B0KETTLE01"] == "B0KETTLE01"
    assert prepared.report.extra["variant_linking_groups"] == 1
    assert prepared.report.extra["largest_products"][0] == {
        "item_id": "B0SHAMPOO1", "source_items": 2, "reviews": 3}


def test_report_fields_survive_save_and_load(tmp_path):
    from tfrec_sentiment.data.prepare import PreparedReviews

    prepared = prepare_reviews(_write(tmp_path / "case.json", _case_lines()), "amazon2018")
    loaded = PreparedReviews.load(prepared.save(tmp_path / "out"))
    for key in ("variant_linking_groups", "variant_repeats_not_linked", "largest_products"):
        assert loaded.report.extra[key] == prepared.report.extra[key]


def test_split_keeps_repeats_that_are_not_copies_together(tmp_path):
    from tfrec_sentiment.data.splits import leaked_pairs, leave_last_out

    # ASHOPPER06 wrote "Great product" twice (not a copy) and one review in between.
    lines = [*_case_lines(), {**_case_lines()[1], "reviewerID": "ASHOPPER06",
                              "asin": "B0DRYER001", "unixReviewTime": 1520000000}]
    prepared = prepare_reviews(_write(tmp_path / "case.json", lines), "amazon2018")
    split = leave_last_out(prepared.reviews, validation_per_user=0)
    texts = split.test.loc[split.test["user_id"] == "ASHOPPER06", "text"].tolist()
    assert sorted(texts) == ["Great product", "Great product"]  # the unit moves whole
    assert leaked_pairs(split) == {"user_item": 0, "user_text": 0}


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


# === Real data: the shared Amazon 2018 files ===

def _normal(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", html.unescape(text or "")).split())


def _copy_key(record: dict) -> tuple:
    """(user, text or title, day, stars) from a raw 2018 record, without the package."""
    text = _normal(record.get("reviewText")) or "title:" + _normal(record.get("summary"))
    return (record["reviewerID"], text, record["unixReviewTime"] // DAY, record["overall"])


def _is_stock(record: dict) -> bool:
    words = _normal(record.get("reviewText")).split()
    return sum(any(c.isalnum() for c in word) for word in words) <= 3


def _raw_and_prepared(shared_data, name):
    path = shared_data / "amazon2018" / f"{name}_5.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = [json.loads(line) for line in handle]
    return raw, prepare_reviews(path, "amazon2018")


@pytest.fixture(scope="module")
def all_beauty(shared_data):
    return _raw_and_prepared(shared_data, "All_Beauty")


@pytest.mark.large
@pytest.mark.real_data
def test_all_beauty_keeps_one_review_per_copy_group(all_beauty):
    raw, prepared = all_beauty
    assert len(raw) == prepared.report.lines == 5269  # the README's line count
    # No stock copy is left across products here, so one review per copy key survives.
    assert prepared.report.extra["variant_repeats_not_linked"]["stock_text"] == 0
    assert prepared.report.accepted == len({_copy_key(r) for r in raw}) == 1378
    product = dict(zip(prepared.item_map["source_item_id"], prepared.item_map["item_id"]))
    for line, kept_line in prepared.duplicates[["line", "kept_line"]].itertuples(index=False):
        dropped, kept = raw[line - 1], raw[kept_line - 1]
        assert _copy_key(dropped) == _copy_key(kept)
        assert product[dropped["asin"]] == product[kept["asin"]]


@pytest.mark.large
@pytest.mark.real_data
def test_all_beauty_products_are_the_components_of_non_stock_copies(all_beauty):
    raw, prepared = all_beauty
    keys = {}
    groups = [keys.setdefault(_copy_key(r), len(keys)) if not _is_stock(r) else -1 - n
              for n, r in enumerate(raw)]
    components = _components([r["asin"] for r in raw], groups)
    assert prepared.report.extra["items"] == len(components) == 56
    assert prepared.report.extra["source_items"] == len({r["asin"] for r in raw}) == 85
    assert set(prepared.reviews["item_id"]) <= {min(c) for c in components}
    largest = prepared.report.extra["largest_products"][0]
    assert largest["source_items"] == max(len(c) for c in components) == 24


@pytest.mark.large
@pytest.mark.real_data
@pytest.mark.parametrize("name, differ", [("Gift_Cards", 46), ("Appliances", 8)])
def test_repeats_on_other_days_or_stars_stay_apart(shared_data, name, differ):
    raw, prepared = _raw_and_prepared(shared_data, name)
    # The data README's count: one user's text under several asins, differing in day/stars.
    assert prepared.report.extra["variant_repeats_not_linked"]["day_or_stars_differ"] == differ
    product = dict(zip(prepared.item_map["source_item_id"], prepared.item_map["item_id"]))
    for line, kept_line in prepared.duplicates[["line", "kept_line"]].itertuples(index=False):
        dropped, kept = raw[line - 1], raw[kept_line - 1]
        assert _copy_key(dropped) == _copy_key(kept) or dropped == kept
        assert product[dropped["asin"]] == product[kept["asin"]]


@pytest.mark.large
@pytest.mark.real_data
@pytest.mark.parametrize("name", ["All_Beauty", "AMAZON_FASHION", "Gift_Cards", "Appliances"])
def test_no_user_text_pair_on_both_sides_of_a_split(shared_data, name):
    from tfrec_sentiment.data.splits import leaked_pairs, leave_last_out, time_cutoff

    _, prepared = _raw_and_prepared(shared_data, name)
    for split in (leave_last_out(prepared.reviews), time_cutoff(prepared.reviews)):
        assert leaked_pairs(split) == {"user_item": 0, "user_text": 0}
        pairs = {name: {(user, text) for user, text in zip(part["user_id"], part["text"])
                        if text}  # an empty text (title-only review) carries no words
                 for name, part in split.parts.items()}
        assert not pairs["train"] & (pairs["validation"] | pairs["test"])
        assert not pairs["validation"] & pairs["test"]
