"""In-graph feature lookup: ids -> profile feature groups, for serving and evaluation.

`FeatureLookup` owns one side's feature table (users or items) as layer weights and
its id vocabulary as a `StringLookup`, so a SavedModel can turn raw id strings into
features with no Python in the loop. Unknown ids get row 0: the empty profile
(the training-wide prior), the same features a brand-new user or item has.

Example:

>>> import numpy as np
>>> lookup = FeatureLookup(vocabulary=["u1", "u2"], group_dims={"rating": 3})
>>> lookup.set_tables({"rating": np.arange(9, dtype="float32").reshape(3, 3)})
>>> lookup(tf.constant(["u2", "nobody"]))["rating"].numpy().tolist()
[[6.0, 7.0, 8.0], [0.0, 1.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf


def as_vocabulary(values: Sequence[str]) -> np.ndarray:
    """str [V]: ids as a numpy array, kept that way on layers.

    A layer attribute that is a Python list becomes a tracked list, which every
    SavedModel and checkpoint traversal walks element by element: with a million ids
    an export took minutes in that walk. An array is one leaf. `get_config` lists it.
    """
    return np.asarray([str(v) for v in values], dtype=str).reshape([-1])


class _ArrayStringLookup(tf.keras.layers.StringLookup):
    """A `StringLookup` built from an `as_vocabulary` array.

    Its owner's config holds the vocabulary and its owner's `build` makes it again,
    so it writes no vocabulary asset of its own (the stock `save_assets` tests the
    vocabulary's truth value, which an array does not have).
    """

    def save_assets(self, dir_path: str) -> None:
        del dir_path

    def load_assets(self, dir_path: str) -> None:
        del dir_path


def id_lookup(vocabulary: np.ndarray, num_oov_indices: int,
              name: str = "index") -> tf.keras.layers.StringLookup:
    """id string [B] -> int64 row [B]: OOV ids -> rows [0, num_oov_indices), then the
    vocabulary in order (no mask token)."""
    return _ArrayStringLookup(vocabulary=vocabulary, num_oov_indices=num_oov_indices,
                              mask_token=None, name=name)


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class FeatureLookup(tf.keras.layers.Layer):
    """Looks up per-id feature groups; unknown ids map to the empty profile (row 0).

    Args:
        vocabulary: the known ids, in table order (table row i + 1 is vocabulary[i]).
        group_dims: feature group name -> width, e.g. {"rating": 3, "text": 384}.
        integer_groups: groups whose tables hold int64 values (e.g. item indices of
            a review history); the others are float32.
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: string ids [B] -> dict group -> float32 (or int64) [B, dim].

    The tables are non-trainable weights (saved with the model, restored by
    `load_model`); fill them with `set_tables` after construction.
    """

    def __init__(self, vocabulary: Sequence[str], group_dims: Mapping[str, int],
                 integer_groups: Sequence[str] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.vocabulary = as_vocabulary(vocabulary)
        self.group_dims = {str(k): int(v) for k, v in group_dims.items()}
        self.integer_groups = [str(g) for g in integer_groups]

    def build(self, input_shape: tf.TensorShape) -> None:
        self.index = id_lookup(self.vocabulary, num_oov_indices=1)
        rows = len(self.vocabulary) + 1
        self.tables = {
            group: self.add_weight(
                name=f"{group}_table", shape=(rows, dim), initializer="zeros", trainable=False,
                dtype="int64" if group in self.integer_groups else "float32",
                # Read as stored under any dtype policy: a mixed policy would otherwise
                # round float tables to its compute dtype on every lookup.
                experimental_autocast=False,
            )
            for group, dim in self.group_dims.items()
        }
        super().build(input_shape)

    def set_tables(self, tables: Mapping[str, np.ndarray]) -> None:
        """Fills the tables: group -> float [len(vocabulary) + 1, dim], row 0 = unknown id."""
        if not self.built:
            self.build(tf.TensorShape([None]))
        missing = set(self.group_dims) - set(tables)
        if missing:
            raise ValueError(f"set_tables lacks group(s) {sorted(missing)}")
        for group, variable in self.tables.items():
            variable.assign(np.asarray(tables[group], dtype=variable.dtype.as_numpy_dtype))

    def call(self, ids: tf.Tensor) -> dict[str, tf.Tensor]:
        index = self.index(tf.reshape(ids, [-1]))
        return {group: tf.gather(table, index) for group, table in self.tables.items()}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(vocabulary=self.vocabulary.tolist(), group_dims=self.group_dims,
                      integer_groups=self.integer_groups)
        return config
