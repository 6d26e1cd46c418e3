"""`IdEmbedding`: raw id strings -> table rows (with OOV buckets and id dropout) -> vectors.

Ids go through a `StringLookup` with `num_oov_buckets` OOV rows first, so an unknown
id is defined: it shares an OOV row (chosen by the id's hash when there are several).
With `id_dropout`, training routes a share of the known ids to the OOV row an unknown
id would take, so the OOV rows learn to score from the other inputs alone: an id never
seen in training still gets a sensible answer (cold start).

The row index is returned beside the vector, so that other tables indexed by the same
ids (the towers' bias tables) read the same rows, dropout included.

Example:

>>> layer = IdEmbedding(vocabulary=["a", "b"], embedding_dim=3)
>>> out = layer(tf.constant(["b", "nobody"]))
>>> out["index"].numpy().tolist(), tuple(out["embedding"].shape)
([2, 0], (2, 3))
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from tfrec_sentiment.features.lookup import as_vocabulary, id_lookup


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class IdEmbedding(tf.keras.layers.Layer):
    """Id embedding with OOV buckets and training-time id dropout.

    Args:
        vocabulary: the known ids; id `vocabulary[i]` is row `num_oov_buckets + i`.
        embedding_dim: width of the embedding.
        num_oov_buckets: rows [0, num_oov_buckets) shared by unknown ids (>= 1).
        id_dropout: training-time share of ids routed to their OOV row (0 = none).
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: string ids [B] (or [B, 1]) -> dict "index" int64 [B] (the table row, after
    dropout) and "embedding" float32 [B, embedding_dim] (the table is N(0, 0.05)
    initialised and computes in float32 whatever the layer's policy).

    Raises:
        ValueError: `num_oov_buckets` < 1 (an unknown id would have no row).
    """

    def __init__(self, vocabulary: Sequence[str], embedding_dim: int = 16,
                 num_oov_buckets: int = 1, id_dropout: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_oov_buckets < 1:
            raise ValueError("num_oov_buckets must be >= 1: unknown ids need a row")
        self.vocabulary = as_vocabulary(vocabulary)
        self.embedding_dim = int(embedding_dim)
        self.num_oov_buckets = int(num_oov_buckets)
        self.id_dropout = float(id_dropout)
        self.lookup = id_lookup(self.vocabulary, self.num_oov_buckets)
        self.embedding = tf.keras.layers.Embedding(
            self.rows, self.embedding_dim, name="embedding",
            embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=0.05))

    @property
    def rows(self) -> int:
        """Rows of a table indexed by this layer's "index": vocabulary + OOV buckets."""
        return len(self.vocabulary) + self.num_oov_buckets

    def call(self, ids: tf.Tensor, training: bool | None = None) -> dict[str, tf.Tensor]:
        ids = tf.reshape(ids, [-1])
        index = self.lookup(ids)
        if training and self.id_dropout > 0:
            # StringLookup puts OOV ids in rows [0, num_oov_buckets); route dropped
            # ids to a bucket chosen by their hash, as an unknown id would be.
            bucket = tf.strings.to_hash_bucket_fast(ids, self.num_oov_buckets)
            dropped = tf.random.uniform(tf.shape(index)) < self.id_dropout
            index = tf.where(dropped, bucket, index)
        return {"index": index, "embedding": self.embedding(index)}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(vocabulary=self.vocabulary.tolist(), embedding_dim=self.embedding_dim,
                      num_oov_buckets=self.num_oov_buckets, id_dropout=self.id_dropout)
        return config
