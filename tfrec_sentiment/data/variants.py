"""Duplicate reviews: exact copies, and one review copied onto several product variants.

The Amazon 2018 release copies each review onto every variant (size, colour) of a
product, each under its own asin. Left in, a per-user split by time puts a verbatim copy
of the test review in the training set. `deduplicate` therefore

1. drops exact duplicates (every canonical field equal), keeping the first line;
2. with `collapse_variants`, finds **copies**: rows of one user with the same text, the
   same day (UTC, `timestamp // 86400`) and the same stars. A real variant copy carries
   the review's time and stars onto every asin (its helpful votes may differ); the same
   words written again on another day or with other stars are another review.
3. groups the item ids that copies link into products: the connected components of the
   graph whose edges are "one copy group appears under both items" (union-find). A
   product is named by its smallest source item id, so ids stay readable.
4. keeps the first line of each copy group within one product; the others are dropped
   as `variant_copy`.

**Stock texts never link items on their own.** A copy group whose text is *stock* —
the text is empty (only a title such as Amazon's automatic "Five Stars"; the title is
then the text that is compared), or it has at most `VariantRules.stock_max_words` words
(3 by default: "good", "Great product", "as advertised"; a word is a run of non-space
characters holding a letter or digit, so "👍👍" has none) — creates no edge: one
shopper's "Five Stars" on a shampoo and on a hair dryer bought the same day is no
evidence that they are one product. Such rows still collapse where other copies have
already put their items in one product (or they share the item), so short genuine copies
inside a product are not double-counted. Measured on the shared Amazon 2018 files:
stock-text copies never change the products of All_Beauty_5 or AMAZON_FASHION_5, where
longer copies link the same items.

Repeats that are not copies (another day or other stars) stay as separate reviews; the
split keeps one user's rows sharing a text together (`splits.leak_units`), so no
(user, text) pair lands on both sides of a split.

Every dropped row is listed with the line of the row it duplicates, so each input line
stays accounted for; `DedupeResult.variant_stats` counts the linking groups, the repeats
left apart and lists the largest products (`variant_stats.py`).

Example:

>>> import pandas as pd
>>> frame = pd.DataFrame({"user_id": ["u", "u", "v", "v"], "item_id": ["B2", "B1", "B3", "B4"],
...                       "text": ["the blue one fits well"] * 2 + ["good"] * 2,
...                       "title": "", "rating": 5.0, "timestamp": 86_400,
...                       "line": [1, 2, 3, 4]})
>>> result = deduplicate(frame, collapse_variants=True)
>>> result.reviews["item_id"].tolist(), result.counts["variant_copy"]
(['B1', 'B3', 'B4'], 1)
>>> dict(zip(result.item_map["source_item_id"], result.item_map["item_id"]))
{'B1': 'B1', 'B2': 'B1', 'B3': 'B3', 'B4': 'B4'}
>>> result.variant_stats["variant_linking_groups"]
1
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pandas as pd

from tfrec_sentiment.data.schema import CANONICAL_COLUMNS
from tfrec_sentiment.data.variant_stats import compared_text, variant_stats

EXACT = "exact_duplicate"
VARIANT = "variant_copy"
ITEM_MAP_COLUMNS = ("source_item_id", "item_id")
REMOVED_COLUMNS = ("line", "kept_line", "kind")
DAY_SECONDS = 86_400
# A word of a stock text: a run of non-space characters holding a letter or a digit.
_WORD = r"\S*[^\W_]\S*"
# Columns a copy is compared on (besides the title, used when the text is empty).
_COPY_COLUMNS = ("user_id", "item_id", "text", "rating", "timestamp")


@dataclasses.dataclass
class VariantRules:
    """Which rows are copies of one review, and which copies may link items.

    Attributes:
        stock_max_words: a non-empty text of at most this many words is a stock text
            ("good", "Great product"); 0 = only empty texts (title-only reviews) are
            stock. Stock copies never link two items into one product.
        largest_products: how many of the largest products `variant_stats` lists.

    Raises:
        ValueError: a negative or non-integer value, naming the field.
    """

    stock_max_words: int = 3
    largest_products: int = 5

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"VariantRules.{field.name}={value!r}: must be an int >= 0")


@dataclasses.dataclass
class DedupeResult:
    """What `deduplicate` kept and dropped.

    Attributes:
        reviews: the kept rows, in input order, `item_id` replaced by the product id.
        item_map: one row per source item id: `source_item_id` -> `item_id` (product).
        removed: one row per dropped review: its `line`, the `kept_line` it duplicates,
            and `kind` (EXACT or VARIANT).
        variant_stats: with collapsing, what linked items (see `variant_stats`); else {}.
    """

    reviews: pd.DataFrame
    item_map: pd.DataFrame
    removed: pd.DataFrame
    variant_stats: dict = dataclasses.field(default_factory=dict)

    @property
    def counts(self) -> Counter:
        """kind -> number of rows dropped."""
        return Counter(self.removed["kind"].tolist())


def deduplicate(frame: pd.DataFrame, collapse_variants: bool,
                rules: VariantRules | None = None) -> DedupeResult:
    """Drops exact duplicates and, optionally, collapses variant copies.

    Args:
        frame: canonical review table (user_id, item_id, rating, text, timestamp and,
            if present, title are used) with a `line` column (positions if absent).
        collapse_variants: also collapse copies (same user, text, day and stars) and
            merge the items that non-stock copies link into products.
        rules: stock-text threshold and summary size; VariantRules() if None.

    Returns:
        DedupeResult; `len(reviews) + len(removed) == len(frame)`.

    Raises:
        ValueError: with `collapse_variants`, a column a copy is compared on is missing.
    """
    frame = _with_lines(frame)
    kept, exact = drop_exact_duplicates(frame)
    if not collapse_variants:
        return DedupeResult(kept, identity_item_map(frame["item_id"]), exact)
    collapsed, item_map, copies, stats = collapse_variant_copies(kept, rules)
    removed = pd.concat([exact, copies], ignore_index=True).sort_values("line", kind="stable")
    return DedupeResult(collapsed, item_map, removed.reset_index(drop=True), stats)


def drop_exact_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keeps the first of every set of rows equal in all canonical columns present.

    Returns:
        `(kept, removed)`; `removed` has REMOVED_COLUMNS with kind EXACT.
    """
    frame = _with_lines(frame)
    columns = [c for c in CANONICAL_COLUMNS if c in frame.columns]
    group = frame.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    return _keep_first_of_groups(frame, group, EXACT)


def collapse_variant_copies(
    frame: pd.DataFrame, rules: VariantRules | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Groups items linked by non-stock copies into products; keeps one row per copy.

    Args:
        frame: review table without exact duplicates (see `deduplicate`).
        rules: VariantRules() if None.

    Returns:
        `(kept, item_map, removed, stats)`: kept rows with product ids in `item_id`;
        the source item -> product map (ITEM_MAP_COLUMNS); dropped rows (kind VARIANT);
        the `variant_stats` summary.
    """
    rules = rules or VariantRules()
    frame = _with_lines(frame)
    copies = copy_groups(frame)
    stock = stock_texts(frame["text"], rules.stock_max_words)
    # A stock row gets a group of its own, so it links nothing.
    linking = np.where(stock, len(frame) + np.arange(len(frame)), copies)
    products = group_items(frame["item_id"].to_numpy(dtype=object), linking)
    item_map = pd.DataFrame({"source_item_id": list(products),
                             "item_id": list(products.values())}, dtype=object)
    item_map = item_map.sort_values(["item_id", "source_item_id"], ignore_index=True)
    renamed = frame.assign(item_id=frame["item_id"].map(products).astype(object))
    product = renamed["item_id"].to_numpy(dtype=object)
    collapse = pd.DataFrame({"copy": copies, "product": product}).groupby(
        ["copy", "product"], sort=False).ngroup().to_numpy()
    kept, removed = _keep_first_of_groups(renamed, collapse, VARIANT)
    stats = variant_stats(frame, copies, stock, product, kept, item_map,
                          rules.largest_products)
    return kept, item_map, removed, stats


def copy_groups(frame: pd.DataFrame) -> np.ndarray:
    """Group number per row of (user_id, text, day, stars): rows of a group are copies.

    An empty text is compared by its title instead (cleaning has removed reviews with
    neither); the day is `timestamp // 86400` (UTC).

    Returns:
        int64 [N] group numbers, in order of first appearance.

    Raises:
        ValueError: a column of `_COPY_COLUMNS` is missing.
    """
    missing = [c for c in _COPY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"variant copies are compared on {list(_COPY_COLUMNS)}; "
                         f"the table lacks {missing}")
    keys = pd.DataFrame({
        "user": frame["user_id"].to_numpy(dtype=object),
        "text": compared_text(frame),
        "day": frame["timestamp"].to_numpy(dtype=np.int64) // DAY_SECONDS,
        "stars": frame["rating"].to_numpy(dtype=np.float64),
    })
    return keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()


def stock_texts(texts: pd.Series, max_words: int) -> np.ndarray:
    """Which texts are stock: empty, or at most `max_words` words.

    Args:
        texts: cleaned review texts, shape [N].
        max_words: the `VariantRules.stock_max_words` threshold.

    Returns:
        bool [N].

    Example:

    >>> stock_texts(pd.Series(["", "Five Stars", "A+", "soft, smells of rain"]), 3).tolist()
    [True, True, True, False]
    """
    texts = texts.astype(str)
    words = texts.str.count(_WORD).to_numpy()
    return ((texts == "").to_numpy() | (words <= max_words)).astype(bool)


def group_items(items: np.ndarray, groups: np.ndarray) -> dict[str, str]:
    """Connected components of items linked by sharing a review group (union-find).

    Args:
        items: item id per row, shape [N].
        groups: review group number per row, shape [N]; rows of one group are copies.

    Returns:
        source item id -> product id (the smallest item id of its component), for
        every distinct item in `items`.
    """
    codes, uniques = pd.factorize(items)
    parent = np.arange(len(uniques))
    for a, b in _links(codes, groups):
        root_a, root_b = _find(parent, a), _find(parent, b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    roots = np.array([_find(parent, i) for i in range(len(uniques))], dtype=np.int64)
    names = np.asarray(uniques, dtype=object)
    smallest = pd.Series(names).groupby(roots).min()
    return dict(zip(names, smallest.loc[roots].to_numpy()))


def identity_item_map(items: pd.Series) -> pd.DataFrame:
    """The item map when no items are merged: every item is its own product."""
    names = sorted(pd.unique(items.astype(object)))
    return pd.DataFrame({"source_item_id": names, "item_id": names}, dtype=object)


def _links(codes: np.ndarray, groups: np.ndarray) -> list[tuple[int, int]]:
    """Edges between consecutive distinct items inside each review group."""
    order = np.lexsort((codes, groups))
    codes, groups = codes[order], groups[order]
    same_group = groups[1:] == groups[:-1]
    new_item = codes[1:] != codes[:-1]
    pick = np.flatnonzero(same_group & new_item)
    return list(zip(codes[pick].tolist(), codes[pick + 1].tolist()))


def _find(parent: np.ndarray, node: int) -> int:
    while parent[node] != node:
        parent[node] = parent[parent[node]]  # path halving keeps trees shallow
        node = parent[node]
    return int(node)


def _keep_first_of_groups(frame: pd.DataFrame, group: np.ndarray,
                          kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    # "First" is by position (file order), so repeated line numbers cannot confuse it.
    position = np.arange(len(frame))
    first = pd.Series(position).groupby(group).transform("min").to_numpy()
    duplicate = position != first
    lines = frame["line"].to_numpy(dtype=np.int64)
    removed = pd.DataFrame({
        "line": lines[duplicate],
        "kept_line": lines[first[duplicate]],
        "kind": pd.Series([kind] * int(duplicate.sum()), dtype=object),
    }, columns=list(REMOVED_COLUMNS))
    return frame.loc[~duplicate].reset_index(drop=True), removed


def _with_lines(frame: pd.DataFrame) -> pd.DataFrame:
    if "line" in frame.columns:
        return frame
    return frame.assign(line=np.arange(1, len(frame) + 1, dtype=np.int64))
