"""Exact brute-force top-k over a fixed catalogue, for the FactorizedTopK metrics."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs


class CatalogueTopK(tfrs.layers.factorized_top_k.TopK):
    """Exact brute-force top-k over a fixed catalogue whose embeddings can be refreshed.

    Unlike `tfrs.layers.factorized_top_k.BruteForce`, `refresh` assigns new
    embeddings to the same variable, so traced functions keep working.
    """

    def __init__(self, k: int = 10, **kwargs) -> None:
        super().__init__(k=k, **kwargs)
        self._identifiers = None
        self._embeddings = None

    def index(self, candidates: tf.Tensor, identifiers: tf.Tensor | None = None) -> CatalogueTopK:
        if identifiers is None:
            identifiers = tf.range(tf.shape(candidates)[0])
        # A constant, not a variable: MultiWorkerMirroredStrategy broadcasts a new
        # variable's initial value with a collective op, which refuses strings.
        self._identifiers = tf.constant(identifiers)
        self._embeddings = tf.Variable(candidates, trainable=False, name="candidates")
        return self

    def index_from_dataset(self, candidates: tf.data.Dataset) -> CatalogueTopK:
        raise NotImplementedError("CatalogueTopK indexes tensors; call index()")

    def refresh(self, candidates: tf.Tensor) -> None:
        self._embeddings.assign(candidates)

    def call(self, queries: tf.Tensor, k: int | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        scores = tf.matmul(queries, self._embeddings, transpose_b=True)
        # A catalogue smaller than k returns all of it, ranked.
        k = tf.minimum(k or self._k, tf.shape(self._embeddings)[0])
        values, indices = tf.math.top_k(scores, k=k)
        return values, tf.gather(self._identifiers, indices)

    def is_exact(self) -> bool:
        return True
