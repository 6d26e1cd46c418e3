"""Duplicate reviews: exact copies, and one review copied onto several product variants.

The Amazon 2018 release copies each review onto every variant (size, colour) of a
product, each under its own asin. Left in, a per-user split by time puts a verbatim copy
of the test review in the training set. `deduplicate` therefore

1. drops exact duplicates (every canonical field equal), keeping the first line;
2. with `collapse_variants`, keeps ONE review per (user, text) pair — the first line —
   and groups the item ids such copies link into one product: the connected components
   of the graph whose edges are "one (user, text) review appears under both items"
   (union-find). A product is named by its smallest source item id, so ids stay readable.

An empty `text` never links items: its key is the title instead (cleaning has removed
reviews with neither). The (user, text) key cannot tell a copy from a user who wrote the
same short text twice ("Great gift" on two gift cards, months apart); such repeats are
collapsed too (Gift_Cards_5: 70 dropped rows differ in time from their kept row,
Appliances_5: 16), since keeping both could put a verbatim copy on both sides of a split.

Every dropped row is listed with the line of the row it duplicates, so each input line
stays accounted for.

Example:

>>> import pandas as pd
>>> frame = pd.DataFrame({"user_id": ["u", "u", "v"], "item_id": ["B2", "B1", "B3"],
...                       "text": ["same words", "same words", "other"], "title": "",
...                       "line": [1, 2, 3]})
>>> result = deduplicate(frame, collapse_variants=True)
>>> result.reviews["item_id"].tolist(), result.counts["variant_copy"]
(['B1', 'B3'], 1)
>>> dict(zip(result.item_map["source_item_id"], result.item_map["item_id"]))
{'B1': 'B1', 'B2': 'B1', 'B3': 'B3'}
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pandas as pd

from tfrec_sentiment.data.schema import CANONICAL_COLUMNS

EXACT = "exact_duplicate"
VARIANT = "variant_copy"
ITEM_MAP_COLUMNS = ("source_item_id", "item_id")
REMOVED_COLUMNS = ("line", "kept_line", "kind")


@dataclasses.dataclass
class DedupeResult:
    """What `deduplicate` kept and dropped.

    Attributes:
        reviews: the kept rows, in input order, `item_id` replaced by the product id.
        item_map: one row per source item id: `source_item_id` -> `item_id` (product).
        removed: one row per dropped review: its `line`, the `kept_line` it duplicates,
            and `kind` (EXACT or VARIANT).
    """

    reviews: pd.DataFrame
    item_map: pd.DataFrame
    removed: pd.DataFrame

    @property
    def counts(self) -> Counter:
        """kind -> number of rows dropped."""
        return Counter(self.removed["kind"].tolist())


def deduplicate(frame: pd.DataFrame, collapse_variants: bool) -> DedupeResult:
    """Drops exact duplicates and, optionally, collapses variant copies.

    Args:
        frame: canonical review table with a `line` column (positions are used if absent).
        collapse_variants: also keep one review per (user, text) and merge the items
            such copies link into products.

    Returns:
        DedupeResult; `len(reviews) + len(removed) == len(frame)`.
    """
    frame = _with_lines(frame)
    kept, exact = drop_exact_duplicates(frame)
    if not collapse_variants:
        return DedupeResult(kept, identity_item_map(frame["item_id"]), exact)
    collapsed, item_map, copies = collapse_variant_copies(kept)
    removed = pd.concat([exact, copies], ignore_index=True).sort_values("line", kind="stable")
    return DedupeResult(collapsed, item_map, removed.reset_index(drop=True))


def drop_exact_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keeps the first of every set of rows equal in all canonical columns present.

    Returns:
        `(kept, removed)`; `removed` has REMOVED_COLUMNS with kind EXACT.
    """
    frame = _with_lines(frame)
    columns = [c for c in CANONICAL_COLUMNS if c in frame.columns]
    group = frame.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    return _keep_first_of_groups(frame, group, EXACT)


def collapse_variant_copies(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame,
                                                          pd.DataFrame]:
    """Keeps one review per (user, text) and renames items to their variant group.

    Returns:
        `(kept, item_map, removed)`: kept rows with product ids in `item_id`; the
        source item -> product map (ITEM_MAP_COLUMNS); dropped rows (kind VARIANT).
    """
    frame = _with_lines(frame)
    review = review_key_groups(frame)
    products = group_items(frame["item_id"].to_numpy(dtype=object), review)
    item_map = pd.DataFrame({"source_item_id": list(products),
                             "item_id": list(products.values())}, dtype=object)
    item_map = item_map.sort_values(["item_id", "source_item_id"], ignore_index=True)
    renamed = frame.assign(item_id=frame["item_id"].map(products).astype(object))
    kept, removed = _keep_first_of_groups(renamed, review, VARIANT)
    return kept, item_map, removed


def review_key_groups(frame: pd.DataFrame) -> np.ndarray:
    """Group number per row of (user_id, text), the title standing in for an empty text."""
    titles = frame["title"] if "title" in frame.columns else frame["text"]
    # "\0" cannot occur in cleaned text, so a title key never equals a text key.
    key = [text if text else "\0title\0" + title
           for text, title in zip(frame["text"].tolist(), titles.tolist())]
    keys = pd.DataFrame({"user": frame["user_id"].to_numpy(dtype=object),
                         "key": pd.Series(key, dtype=object)})
    return keys.groupby(["user", "key"], sort=False).ngroup().to_numpy()


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
