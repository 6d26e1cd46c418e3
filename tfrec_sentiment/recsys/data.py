"""tf.data pipelines for the recommender: example dicts in, batched datasets out.

Examples are the dicts of numpy arrays from `FeatureTables.training_examples()` /
`lookup_examples(frame)`; the pipeline keeps only the keys the model reads, holds
them once as tensors, and shuffles ROW NUMBERS: range -> shuffle -> batch -> gather
the batch's rows -> prefetch. The shuffle buffer holds N int64 row numbers, not N
example dicts, and nothing is cached: memory is one copy of the examples (at 300k
synthetic reviews the element-wise cache + full shuffle buffer it replaced held
several GB). `tf.constant` always copies a numpy array, so while the dataset is made
the examples exist twice at most: `select_inputs` converts no array that already has
its dtype, and `make_dataset(..., consume=True)` (the training and validation
examples) empties the caller's dict and converts the model's inputs one key at a
time, each array freed once it is a tensor, so the two copies overlap by one key
only. tf.data's shuffle order depends on the seed and the buffer size only,
so the batches are the same as shuffling the examples themselves. Batches are
GLOBAL: under a `MirroredStrategy` Keras splits each batch over the replicas.

Example:

>>> ds = make_dataset(tables.training_examples(), config, training=True)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.inputs import model_input_keys


def select_inputs(examples: Mapping[str, np.ndarray], config: RecsysConfig) -> dict:
    """The subset of `examples` the model reads, with TF-friendly dtypes: str, int64
    (item indices of a history) and float32; an array that already has its dtype is
    the same array (no copy), so write into the result only after copying."""
    keys = [k for k in model_input_keys(config) if k in examples]
    out = {}
    for key in keys:
        value = np.asarray(examples[key])
        if value.dtype == object:
            out[key] = value.astype(str)
        elif value.dtype.kind in "iu":  # item indices of a history
            out[key] = value.astype(np.int64, copy=False)
        else:
            out[key] = value.astype(np.float32, copy=False)
    return out


def make_dataset(
    examples: Mapping[str, np.ndarray],
    config: RecsysConfig,
    training: bool,
    seed: int = 0,
    batch_size: int | None = None,
    consume: bool = False,
) -> tf.data.Dataset:
    """Batched dataset of example dicts.

    Args:
        examples: key -> array [N, ...] (all the same N).
        config: selects the keys (variant) and the global batch size.
        training: shuffle every epoch (seeded) and drop the last partial batch
            (in-batch negatives need full batches; static shapes trace once).
        seed: shuffle seed.
        batch_size: override of `config.batch_size` (e.g. larger for evaluation).
        consume: empty `examples` (a dict the caller no longer needs) while its
            arrays become tensors, so that each is freed once converted (module doc).

    Returns:
        tf.data.Dataset of dict[str, Tensor [B, ...]].
    """
    inputs = select_inputs(examples, config)
    size = len(next(iter(inputs.values())))
    batch = batch_size or config.batch_size
    if training and size < batch:
        raise ValueError(f"{size} training examples are fewer than one batch of {batch}")
    if consume:
        examples.clear()  # `inputs` holds the arrays the model reads; the rest are freed
    tensors = {}
    for key in list(inputs):  # one key at a time: its array is freed once it is a tensor
        tensors[key] = tf.constant(inputs.pop(key))
    dataset = tf.data.Dataset.range(size)
    if training:
        dataset = dataset.shuffle(size, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch, drop_remainder=training)
    dataset = dataset.map(lambda rows: {key: tf.gather(t, rows) for key, t in tensors.items()})
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    # In-memory data: shard by elements across workers (multi-worker), not by files.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    options.deterministic = True
    return dataset.with_options(options)


def catalogue_inputs(tables: FeatureTables, config: RecsysConfig) -> dict[str, tf.Tensor]:
    """Item tower inputs (full training-period features) of every known item."""
    items = tables.ids["item"]
    frame = pd.DataFrame({"user_id": [""] * len(items), "item_id": items})
    examples = select_inputs(tables.lookup_examples(frame, sides=("item",)), config)
    return {k: tf.constant(v) for k, v in examples.items() if k.startswith("item_")}
