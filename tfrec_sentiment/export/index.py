"""Brute-force top-k over the whole catalogue, without the items a user already reviewed.

`CatalogueIndex` is the exact index the export serves (no ScaNN: stock TF Serving has
no ScaNN ops). It holds the catalogue's item ids in score-column order and, for every
user of the training period, the columns of the items they reviewed, as a CSR table
(row splits [U + 1], item columns [nnz]), so exclusion costs O(reviewed items) per
request, never a dense [B, I] mask.

Top-k with exclusion (`top_k`): with S the largest number of excluded items of a row in
the batch, the K best items that are not excluded are among the K + S best items
overall. So one `tf.math.top_k` of depth K + S over the scores, a [B, K + S, S]
comparison against the excluded columns, and a second top-k of depth K over those
K + S candidates give the exact answer (ties: the lower column first, as
`tf.math.top_k`). `top_k_among` does the same over each row's own candidate columns
(the partitioned index's second stage, `export.partitioned_index`). Rows with fewer
than K eligible items are padded with item id ""
and score `EMPTY_SCORE` (the lowest float32: finite, so REST/JSON can carry it).

Example:

>>> index = CatalogueIndex(["a", "b", "c"], ["u1"], seen_splits=[0, 1], seen_items=[0], k=2)
>>> ids, scores = index.top_k(tf.constant([[3.0, 2.0, 1.0]]), index.seen(tf.constant(["u1"])))
>>> ids.numpy().tolist()
[[b'b', b'c']]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfrec_sentiment.data.ids import normalize_ids

EMPTY_SCORE = float(np.finfo(np.float32).min)


class CatalogueIndex(tf.Module):
    """Item ids, each known user's reviewed items, and exact top-k with exclusion.

    Args:
        item_ids: str [I], the catalogue in score-column order.
        user_ids: str [U], the users whose reviewed items are excluded.
        seen_splits: int [U + 1], CSR row splits: user u reviewed
            `seen_items[seen_splits[u]:seen_splits[u + 1]]`.
        seen_items: int [nnz], item columns (0..I-1).
        k: recommendations per user, fixed at export.
        name: module name.
    """

    def __init__(self, item_ids: Sequence[str], user_ids: Sequence[str],
                 seen_splits: Sequence[int], seen_items: Sequence[int], k: int,
                 name: str = "catalogue_index") -> None:
        super().__init__(name=name)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        splits = np.asarray(seen_splits, np.int64)
        if len(splits) != len(user_ids) + 1 or splits[0] != 0 or np.any(np.diff(splits) < 0):
            raise ValueError(f"seen_splits must be {len(user_ids) + 1} non-decreasing offsets "
                             f"from 0, got {len(splits)}")
        items = np.asarray(seen_items, np.int32)
        if len(items) != splits[-1] or (len(items) and not 0 <= items.min() <= items.max()
                                        < len(item_ids)):
            raise ValueError("seen_items must hold seen_splits[-1] columns in [0, I)")
        self.k = int(k)
        self.num_items = len(item_ids)
        self.item_ids = tf.Variable(tf.constant(_utf8(item_ids), tf.string),
                                    trainable=False, name="item_ids")
        self.seen_splits = tf.Variable(splits, trainable=False, name="seen_splits")
        self.seen_items = tf.Variable(items, trainable=False, name="seen_items")
        self.user_rows = _id_table(user_ids)
        self.item_columns = _id_table(item_ids)

    @classmethod
    def from_interactions(cls, item_ids: Sequence[str], user_ids: Sequence[str],
                          user_index: np.ndarray, item_index: np.ndarray,
                          k: int) -> CatalogueIndex:
        """Builds the CSR table from (user row, item column) pairs, e.g. training reviews.

        Args:
            item_ids: str [I]; user_ids: str [U].
            user_index: int [N] rows into `user_ids`; item_index: int [N] columns into
                `item_ids` (repeats are collapsed).
            k: recommendations per user.
        """
        user_index = np.asarray(user_index, np.int64)
        item_index = np.asarray(item_index, np.int64)
        pairs = np.unique(user_index * max(len(item_ids), 1) + item_index)
        users, items = np.divmod(pairs, max(len(item_ids), 1))
        splits = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=len(user_ids)))])
        return cls(item_ids, user_ids, splits, items, k)

    def seen(self, user_id: tf.Tensor) -> tf.RaggedTensor:
        """Columns each user reviewed: string [B] -> ragged int32 [B, None] (unknown: []).

        Ids are normalised first, as ingestion did (`data.ids.normalize_ids`).
        """
        row = self.user_rows.lookup(normalize_ids(tf.reshape(user_id, [-1])))
        known = row >= 0
        safe = tf.where(known, row, 0)
        starts = tf.gather(self.seen_splits, safe)
        lengths = tf.where(known, tf.gather(self.seen_splits, safe + 1) - starts, 0)
        positions = tf.ragged.range(starts, starts + lengths)
        return tf.gather(self.seen_items, positions)

    def columns_by_user(self, item_id: tf.Tensor, user_index: tf.Tensor,
                        num_users: tf.Tensor) -> tf.RaggedTensor:
        """Groups known item ids by user: [N], int32 [N] in [0, G) -> ragged [G, None].

        Item ids are normalised first (`data.ids.normalize_ids`); unknown ones are dropped.
        """
        column = tf.cast(self.item_columns.lookup(normalize_ids(tf.reshape(item_id, [-1]))),
                         tf.int32)
        known = column >= 0
        column, user_index = column[known], tf.cast(user_index[known], tf.int64)
        order = tf.argsort(user_index, stable=True)
        return tf.RaggedTensor.from_value_rowids(
            tf.gather(column, order), tf.gather(user_index, order),
            nrows=tf.cast(num_users, tf.int64))

    def top_k(self, scores: tf.Tensor,
              excluded: tf.RaggedTensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The k best non-excluded items per row.

        Args:
            scores: float32 [B, I], column j = `item_ids[j]`.
            excluded: ragged int [B, None] columns to leave out per row.

        Returns:
            item ids string [B, k] and their scores float32 [B, k], best first;
            missing slots are "" / EMPTY_SCORE.
        """
        return self._top_k(scores, None, excluded)

    def top_k_among(self, scores: tf.Tensor, columns: tf.Tensor,
                    excluded: tf.RaggedTensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The k best non-excluded items per row among each row's own candidates.

        The second stage of a partitioned index (`export.partitioned_index`): the
        same exclusion and top-k as `top_k`, over C candidate columns per row.

        Args:
            scores: float32 [B, C], the score of candidate `columns[b, c]`.
            columns: int32 [B, C] catalogue columns; -1 = no candidate (never picked).
            excluded: ragged int [B, None] columns to leave out per row.

        Returns:
            as `top_k`.
        """
        scores = tf.where(columns >= 0, scores, tf.constant(-np.inf, scores.dtype))
        return self._top_k(scores, tf.cast(columns, tf.int32), excluded)

    def _top_k(self, scores: tf.Tensor, candidates: tf.Tensor | None,
               excluded: tf.RaggedTensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`top_k` (candidates None: column = score position) and `top_k_among`."""
        num_items = tf.shape(scores)[1]
        excluded = tf.cast(excluded, tf.int32)
        most = tf.reduce_max(tf.concat([tf.cast(excluded.row_lengths(), tf.int32), [0]], 0))
        depth = tf.minimum(self.k + most, num_items)
        values, columns = tf.math.top_k(scores, k=depth)
        if candidates is not None:
            columns = tf.gather(candidates, columns, batch_dims=1)
        hit = tf.reduce_any(
            columns[:, :, None] == excluded.to_tensor(default_value=-1)[:, None, :], axis=-1)
        values = tf.where(hit, tf.constant(-np.inf, scores.dtype), values)
        values, picked = tf.math.top_k(values, k=tf.minimum(self.k, depth))
        columns = tf.gather(columns, picked, batch_dims=1)
        pad = [[0, 0], [0, self.k - tf.shape(values)[1]]]
        values = tf.pad(values, pad, constant_values=-np.inf)
        columns = tf.pad(columns, pad)
        empty = tf.math.is_inf(values)
        if candidates is not None:  # -1: no candidate (always empty)
            columns = tf.maximum(columns, 0)
        item_ids = tf.where(empty, tf.constant(b""), tf.gather(self.item_ids, columns))
        values = tf.where(empty, tf.constant(EMPTY_SCORE, values.dtype), values)
        return tf.ensure_shape(item_ids, [None, self.k]), tf.ensure_shape(values, [None, self.k])


def _id_table(ids: Sequence[str]) -> tf.lookup.StaticHashTable:
    """id string -> its position (int64), -1 for unknown ids."""
    keys = _utf8(ids)
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, tf.string), tf.range(len(keys), dtype=tf.int64))
    return tf.lookup.StaticHashTable(initializer, default_value=-1)


def _utf8(ids: Sequence[str]) -> np.ndarray:
    return np.array([str(i).encode("utf-8") for i in ids], dtype=object)
