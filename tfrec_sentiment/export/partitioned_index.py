"""A partitioned (inverted-file) item index in core TensorFlow ops, for large catalogues.

`CatalogueIndex.top_k` scores every item of the catalogue: its cost grows with the
catalogue, about 9.5 ms per million items plus 0.55 ms per request on 2 idle cores
(p50 10 ms at 1M items; README "Serving", `bench/serving_speed.py`), so about 100 ms
at 10M (270 ms p50 measured there with the 2 cores loaded). ScaNN would be faster,
but its ops are in no stock TF Serving build. `PartitionedIndex` is the classic
inverted-file search written with core ops only (MatMul, TopKV2, RaggedRange,
GatherV2), so the SavedModel still passes the op audit (`export.ops`):

- at export, k-means (scikit-learn `MiniBatchKMeans`, fitted on a seeded sample of
  max(`sample`, P) items, or on every item when there are no more, then every item
  assigned to its nearest centroid) cuts the item embeddings [I, E] into P
  partitions. The index stores the centroids [P, E], the items sorted by partition as
  a CSR table (row splits [P + 1], item columns [I]) and the item embeddings in that
  same order [I, E], so that a partition is one contiguous block of rows;
- at serving (`search`), a query [B, E] is scored against the centroids by dot
  product, the `probes` best partitions are gathered, every item in them is scored
  exactly (dot product), and the `depth` best are returned as catalogue columns.

It is exact when every partition is probed (`probes == partitions`): then every item
is scored and the top `depth` are those of brute force. With fewer probes an item
whose partition is not probed is missed; the recall against brute force is measured
by `bench/serving_speed.py` (README "Serving": at 10M synthetic clustered items, 3,162
partitions and the default 32 probes, p50 8.2 ms, p99 16.8 ms, recall@10 0.982).

The export uses it as the first of two stages (`export.module`): the index's top-C
items by the retrieval dot product are the candidates, the model's full score (e.g.
the learned blend) is computed for those C only, then the exclusion and the top-K
of `CatalogueIndex.top_k_among`.

Example:

>>> rng = np.random.default_rng(0)
>>> items = rng.normal(size=(200, 4)).astype(np.float32)
>>> index = PartitionedIndex.fit(items, partitions=8, probes=8, seed=0)
>>> scores, columns = index.search(tf.constant(items[:1]), depth=3)
>>> int(columns[0, 0]) == int(np.argmax(items @ items[0]))
True
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from tfrec_sentiment.export.config import INDEX_SAMPLE

_ASSIGN_CHUNK = 1 << 18  # items assigned to a centroid per predict call (bounded memory)


class PartitionedIndex(tf.Module):
    """Centroids, items grouped by partition, and search over the best partitions.

    Args:
        centroids: float32 [P, E], one row per partition.
        splits: int [P + 1], CSR row splits: partition p holds the items at positions
            `splits[p]:splits[p + 1]` of `columns` and `embeddings`.
        columns: int [I], catalogue columns (0..I-1) sorted by partition; each column
            exactly once.
        embeddings: float32 [I, E], the item embeddings in the order of `columns`.
        probes: partitions searched per query (1..P).
        name: module name.

    Raises:
        ValueError: inconsistent shapes, splits that are not a CSR of `columns`, or
            `probes` outside 1..P.
    """

    def __init__(self, centroids: np.ndarray, splits: np.ndarray, columns: np.ndarray,
                 embeddings: np.ndarray, probes: int, name: str = "partitioned_index") -> None:
        super().__init__(name=name)
        centroids = np.asarray(centroids, np.float32)
        splits = np.asarray(splits, np.int64)
        columns = np.asarray(columns, np.int32)
        num_partitions, num_items = len(centroids), len(columns)
        if centroids.ndim != 2 or num_partitions < 1:
            raise ValueError(f"centroids must be [P >= 1, E], got shape {centroids.shape}")
        if (len(splits) != num_partitions + 1 or splits[0] != 0 or splits[-1] != num_items
                or np.any(np.diff(splits) < 0)):
            raise ValueError(f"splits must be {num_partitions + 1} non-decreasing offsets "
                             f"from 0 to {num_items}")
        if num_items and not np.array_equal(np.sort(columns), np.arange(num_items)):
            raise ValueError("columns must hold every catalogue column 0..I-1 exactly once")
        if np.shape(embeddings) != (num_items, centroids.shape[1]):
            raise ValueError(f"embeddings must be [{num_items}, {centroids.shape[1]}], got "
                             f"{np.shape(embeddings)}")
        if not 1 <= probes <= num_partitions:
            raise ValueError(f"probes must be in 1..{num_partitions}, got {probes}")
        self.probes = int(probes)
        self.num_partitions = num_partitions
        self.num_items = num_items
        self.centroids = tf.Variable(centroids, trainable=False, name="centroids")
        self.splits = tf.Variable(splits, trainable=False, name="partition_splits")
        self.columns = tf.Variable(columns, trainable=False, name="partition_columns")
        self.embeddings = tf.Variable(np.asarray(embeddings, np.float32), trainable=False,
                                      name="partition_embeddings")
        self.facts: dict = {"partitions": num_partitions, "probes": self.probes,
                            "largest_partition": int(np.diff(splits).max(initial=0))}

    @classmethod
    def fit(cls, embeddings: np.ndarray, partitions: int, probes: int,
            sample: int = INDEX_SAMPLE, seed: int = 0) -> PartitionedIndex:
        """Partitions `embeddings` by k-means and builds the index.

        Args:
            embeddings: float32 [I, E], catalogue column order.
            partitions: P, the number of k-means clusters (at most I).
            probes: partitions searched per query (clipped to P).
            sample: the k-means is fitted on max(sample, partitions) items (k-means
                needs at least P points), drawn without replacement with `seed`, or
                on every item when there are no more; every item is then assigned
                to its nearest centroid (squared L2). Default: `ExportConfig`'s
                `index_sample` (`export.config.INDEX_SAMPLE`).
            seed: the sample's and k-means' random seed.

        Returns:
            The index; `facts` records P, probes, the largest partition, the fit
            sample and the fit's wall seconds.
        """
        from sklearn.cluster import MiniBatchKMeans

        start = time.perf_counter()
        embeddings = np.asarray(embeddings, np.float32)
        num_items = len(embeddings)
        if not 1 <= partitions <= max(num_items, 1):
            raise ValueError(f"partitions must be in 1..{num_items} (the items), got {partitions}")
        rng = np.random.default_rng(seed)
        fitted_on = min(num_items, max(int(sample), partitions))
        rows = (np.arange(num_items) if fitted_on == num_items
                else np.sort(rng.choice(num_items, fitted_on, replace=False)))
        kmeans = MiniBatchKMeans(n_clusters=partitions, batch_size=min(4096, fitted_on),
                                 n_init=3, max_iter=50, random_state=seed)
        kmeans.fit(embeddings[rows])
        centroids = kmeans.cluster_centers_.astype(np.float32)
        labels = np.concatenate([kmeans.predict(embeddings[i:i + _ASSIGN_CHUNK])
                                 for i in range(0, num_items, _ASSIGN_CHUNK)]
                                or [np.zeros(0, np.int32)])
        order = np.argsort(labels, kind="stable").astype(np.int32)
        splits = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=partitions))])
        index = cls(centroids, splits, order, embeddings[order], min(probes, partitions))
        index.facts.update(fit_sample=fitted_on,
                           fit_seconds=round(time.perf_counter() - start, 2))
        return index

    def search(self, query: tf.Tensor, depth: int | tf.Tensor,
               probes: int | tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """The `depth` best items by dot product within the best `probes` partitions.

        Args:
            query: float32 [B, E].
            depth: items returned per row (a Python int or an int32 scalar tensor).
            probes: partitions searched (int or int32 scalar, clipped to 1..P); None =
                the index's `probes`.

        Returns:
            scores float32 [B, D] best first and catalogue columns int32 [B, D], with
            D = min(depth, most items probed by a row); a row that probed fewer than D
            items is padded with score -inf and column -1.
        """
        batch = tf.shape(query)[0]
        if probes is None:
            probes = self.probes
        else:
            probes = tf.clip_by_value(tf.cast(probes, tf.int32), 1, self.num_partitions)
        centroid_scores = tf.matmul(query, self.centroids, transpose_b=True)  # [B, P]
        _, chosen = tf.math.top_k(centroid_scores, k=probes)  # [B, probes]
        chosen = tf.cast(tf.reshape(chosen, [-1]), tf.int64)
        starts = tf.gather(self.splits, chosen)
        limits = tf.gather(self.splits, chosen + 1)
        positions = tf.ragged.range(starts, limits)  # [B * probes, None]
        per_row = tf.reduce_sum(tf.reshape(positions.row_lengths(), [batch, probes]), 1)
        flat = positions.flat_values  # [N], rows of `embeddings`
        owner = tf.repeat(tf.range(batch), per_row)  # [N] the query row of each candidate
        vectors = tf.gather(self.embeddings, flat)  # [N, E], contiguous blocks
        values = tf.reduce_sum(vectors * tf.gather(query, owner), axis=-1)  # [N]
        scores = tf.RaggedTensor.from_row_lengths(values, per_row).to_tensor(
            default_value=-np.inf)  # [B, M]
        columns = tf.RaggedTensor.from_row_lengths(tf.gather(self.columns, flat),
                                                   per_row).to_tensor(default_value=-1)
        depth = tf.minimum(tf.cast(depth, tf.int32), tf.shape(scores)[1])
        best, picked = tf.math.top_k(scores, k=depth)
        return best, tf.gather(columns, picked, batch_dims=1)


def default_partitions(num_items: int) -> int:
    """P for a catalogue of `num_items`: about sqrt(I) (at least 1, at most I).

    A query then scores ~P centroids plus `probes` partitions of ~I / P items each,
    so the work is ~sqrt(I) * (1 + probes) instead of I: 3,162 partitions of ~3,162
    items at 10M items.
    """
    return int(min(max(round(np.sqrt(max(num_items, 1))), 1), max(num_items, 1)))
