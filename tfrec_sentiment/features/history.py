"""Review histories: for each user (or training row), its most recent earlier reviews.

A history is a fixed-width row of review positions, most recent first, padded with
-1. The user tower embeds the reviewed items (a bag of items, as item-based
collaborative filtering uses), optionally signed by how the user felt about each
(its rating, or its sentiment polarity). Three flavours, matching the features:

- `latest_rows`: per group (user), the `length` latest reviews (serving);
- `past_rows`: per row, the latest reviews of its group strictly before the row's
  time (point-in-time training examples);
- `other_rows`: per row, the latest reviews of its group outside the row's pair
  (leave-one-out training examples).

`past_sums` adds up a signal over the same point-in-time rows as `past_rows` (the
per-user and per-item aggregates of `tables.py`); all of them share `group_by_time`.

Example:

>>> key = np.array([0, 0, 0, 1]); time = np.array([5, 1, 3, 2])
>>> past_rows(key, time, length=2).tolist()
[[2, 1], [-1, -1], [1, -1], [-1, -1]]
"""

from __future__ import annotations

import numpy as np


def group_by_time(key: np.ndarray, timestamp: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows sorted by (key, time), and where each sorted row's blocks start and end.

    Args:
        key: int [N] group (user or item index); timestamp: int [N].

    Returns:
        (order, group_start, time_start, group_end), int [N] each: `order` sorts the
        rows by key, then time (stably); for sorted position p, the first position of
        its key, the first position of its (key, time) block and the last position of
        its key.
    """
    n = len(key)
    order = np.lexsort((timestamp, key))
    k, t = key[order], timestamp[order]
    position = np.arange(n)
    new_key = np.r_[True, k[1:] != k[:-1]] if n else np.zeros(0, bool)
    new_time = new_key | (np.r_[True, t[1:] != t[:-1]] if n else new_key)
    group_start = np.maximum.accumulate(np.where(new_key, position, 0)) if n else position
    time_start = np.maximum.accumulate(np.where(new_time, position, 0)) if n else position
    last = np.r_[new_key[1:], True] if n else new_key
    group_end = np.minimum.accumulate(np.where(last, position, n)[::-1])[::-1] if n else position
    return order, group_start, time_start, group_end


def past_rows(key: np.ndarray, timestamp: np.ndarray, length: int) -> np.ndarray:
    """Per row, the rows of its key strictly earlier in time, latest first. int64 [N, length]."""
    order, group_start, time_start, _ = group_by_time(key, timestamp)
    ordered = np.full((len(key), length), -1, np.int64)
    for j in range(length):
        position = time_start - 1 - j
        ordered[:, j] = np.where(position >= group_start, order[np.maximum(position, 0)], -1)
    out = np.empty_like(ordered)
    out[order] = ordered
    return out


def past_sums(key: np.ndarray, timestamp: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the sum of `values` over rows with the same key and an EARLIER time.

    The sums of the rows `past_rows` lists (without its length limit). Rows of one
    key at the same time (Amazon stores days) do not see each other.

    Args:
        key: int [N] group (user or item index); timestamp: int [N]; values: [N, K].

    Returns:
        float32 [N, K] (summed in float64).

    Example:
        >>> past_sums(np.array([0, 0, 0]), np.array([1, 2, 2]), np.ones((3, 1))).tolist()
        [[0.0], [1.0], [1.0]]
    """
    order, group_start, time_start, _ = group_by_time(key, timestamp)
    ordered = values[order].astype(np.float64)
    exclusive = np.cumsum(ordered, axis=0) - ordered
    # Sum before the first row of this (key, time) block, minus everything of earlier keys.
    prefix = exclusive[time_start] - exclusive[group_start]
    out = np.empty_like(prefix)
    out[order] = prefix
    return out.astype(np.float32)


def latest_rows(key: np.ndarray, timestamp: np.ndarray, num_groups: int,
                length: int) -> np.ndarray:
    """Per group 0..num_groups-1, its latest rows, latest first. int64 [num_groups, length]."""
    order, group_start, _, group_end = group_by_time(key, timestamp)
    out = np.full((num_groups, length), -1, np.int64)
    if not len(key):
        return out
    firsts = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1]])
    groups, start, end = key[order][firsts], group_start[firsts], group_end[firsts]
    for j in range(length):
        position = end - j
        out[groups, j] = np.where(position >= start, order[np.maximum(position, 0)], -1)
    return out


def other_rows(key: np.ndarray, timestamp: np.ndarray, pair: np.ndarray,
               length: int) -> np.ndarray:
    """Per row, the latest rows of its key outside the row's own pair. int64 [N, length]."""
    repeats = int(np.bincount(np.unique(pair, return_inverse=True)[1]).max()) if len(pair) else 0
    candidates = latest_rows(key, timestamp, int(key.max()) + 1 if len(key) else 0,
                             length + repeats)[key]
    keep = (candidates >= 0) & (pair[np.maximum(candidates, 0)] != pair[:, None])
    # Stable sort moves dropped entries to the end, keeping the latest-first order.
    rank = np.argsort(~keep, axis=1, kind="stable")
    kept = np.take_along_axis(np.where(keep, candidates, -1), rank, axis=1)
    return kept[:, :length]


def gather_history(rows: np.ndarray, item_index: np.ndarray,
                   values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """History arrays from row positions (-1 = padding).

    Args:
        rows: int [M, L] review positions; item_index: int [N] item of each review;
        values: name -> float [N] per-review signal (e.g. "rating", "sentiment").

    Returns:
        "items": int64 [M, L] item index + 1 (0 = padding), and each value float32 [M, L]
        (0 at padding).
    """
    valid = rows >= 0
    safe = np.maximum(rows, 0)
    out = {"items": np.where(valid, item_index[safe] + 1, 0).astype(np.int64)}
    for name, value in values.items():
        out[name] = np.where(valid, value[safe], 0.0).astype(np.float32)
    return out
