"""The fixed keys of the time splits: tie order, leak units, cold-user hash.

Each depends on the rows' ids (and texts) alone, never on the file's row order, the
machine or the run: `tie_break_keys` orders one user's reviews with equal timestamps,
`leak_units` groups the rows that must stay in one part, `user_hash_share` places each
user in [0, 1) for the cold-user hold-out and the learned blend's user sample.
`splits.py` uses them (and re-exports them).

Example:

>>> frame = pd.DataFrame({"user_id": ["u", "u", "u"], "item_id": ["a", "a", "b"],
...                       "text": ["x", "y", "y"]})
>>> leak_units(frame).tolist()  # a re-review and a copied text join one unit
[0, 0, 0]
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from tfrec_sentiment.data.ids import normalize_id

# Salt of the cold-user hash: changing it changes which users are held out.
COLD_USER_SALT = b"tfrec_sentiment/cold-users/v1\x1f"


def tie_break_keys(frame: pd.DataFrame) -> np.ndarray:
    """The fixed hash that orders one user's reviews with equal timestamps.

    Returns:
        uint64 [N]: BLAKE2b-64 of `user_id` and `item_id`, joined by U+001F. The text
        is left out on purpose: a change to cleaning must not move the held-out review.
    """
    keys = frame["user_id"].astype(str) + "\x1f" + frame["item_id"].astype(str)
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(k.encode("utf-8"), digest_size=8).digest(), "big")
         for k in keys),
        dtype=np.uint64, count=len(frame))


def leak_units(frame: pd.DataFrame) -> np.ndarray:
    """Connected groups of one user's rows that share an item or a non-empty text.

    Returns:
        int64 [N]: a unit id per row (the smallest row position in its unit).
    """
    n = len(frame)
    labels = np.arange(n, dtype=np.int64)
    by_item = frame.groupby(["user_id", "item_id"], sort=False).ngroup().to_numpy()
    by_text = frame.groupby(["user_id", "text"], sort=False).ngroup().to_numpy().copy()
    empty = (frame["text"].astype(str) == "").to_numpy()
    by_text[empty] = n + np.arange(int(empty.sum()))  # an empty text links nothing
    keys = [key for key in (by_item, by_text) if len(np.unique(key)) < n]
    while keys:  # label propagation: each round takes the minimum over shared keys
        updated = labels
        for key in keys:
            updated = pd.Series(updated).groupby(key).transform("min").to_numpy()
        if np.array_equal(updated, labels):
            break
        labels = updated
    return labels


def user_hash_share(user_ids: np.ndarray | pd.Series) -> np.ndarray:
    """Each user id's fixed position in [0, 1), from a salted SHA-256 of the normalised id.

    The id is normalised as ingestion stores it (`data.ids.normalize_id`), prefixed with
    `COLD_USER_SALT`, hashed with SHA-256, and the first 8 bytes (big-endian) are divided
    by 2**64. The value depends on the id alone: not on the row order, the other users,
    the machine or the run.

    Args:
        user_ids: str [N].

    Returns:
        float64 [N] in [0, 1).

    Example:
        >>> shares = user_hash_share(np.array(["u1", " u1", "u2"]))
        >>> bool(shares[0] == shares[1]), bool(0.0 <= shares.min() and shares.max() < 1.0)
        (True, True)
    """
    ids = pd.Series(np.asarray(user_ids, dtype=object)).astype(str)
    unique, inverse = np.unique(ids.to_numpy(str), return_inverse=True)
    values = np.fromiter(
        (int.from_bytes(hashlib.sha256(COLD_USER_SALT + normalize_id(u).encode("utf-8"))
                        .digest()[:8], "big") for u in unique),
        dtype=np.float64, count=len(unique)) / 2.0 ** 64
    # Rounding a value just below 2**64 could give 1.0; keep the interval half-open.
    values = np.minimum(values, np.nextafter(1.0, 0.0))
    return values[inverse.reshape(-1)]


def cold_user_mask(frame: pd.DataFrame, share: float) -> np.ndarray:
    """The rows of the cold-start users: those whose `user_hash_share` is below `share`.

    Args:
        frame: a canonical review table (`user_id` used).
        share: the expected share of users held out, in [0, 1); 0 = none.

    Returns:
        bool [N]; every row of a chosen user is True.
    """
    if not 0.0 <= share < 1.0:
        raise ValueError(f"cold user share must be in [0, 1), got {share}")
    if share == 0.0 or len(frame) == 0:
        return np.zeros(len(frame), bool)
    return user_hash_share(frame["user_id"].to_numpy()) < share


def user_sample_mask(user_ids: np.ndarray | pd.Series, max_users: int | None) -> np.ndarray:
    """The rows of at most `max_users` distinct users: those first by `user_hash_share`.

    A fixed sample for work that ranks every user against the whole catalogue (the
    evaluation's test users, the training monitor's and the blend fit's validation
    users): its cost is users x items, so with both growing with the data it grows as
    the square; a fixed number of users makes it linear. The choice depends on the ids
    alone, so every model of a run, and a rerun, ranks the same users.

    Args:
        user_ids: str [N], one per row (a user may repeat).
        max_users: the cap; None keeps every row.

    Returns:
        bool [N]; every row of a kept user is True.

    Raises:
        ValueError: `max_users` < 1.

    Example:
        >>> user_sample_mask(np.array(["u1", "u2", "u1"]), 5).tolist()
        [True, True, True]
        >>> int(user_sample_mask(np.array(["a", "b", "c", "a"]), 2).sum()) in (2, 3)
        True
    """
    if max_users is not None and max_users < 1:
        raise ValueError(f"max_users must be >= 1 or None, got {max_users}")
    unique, inverse = np.unique(np.asarray(user_ids, str), return_inverse=True)
    if max_users is None or len(unique) <= max_users:
        return np.ones(len(inverse), bool)
    keep = np.zeros(len(unique), bool)
    keep[np.argsort(user_hash_share(unique), kind="stable")[:max_users]] = True
    return keep[inverse.reshape(-1)]
