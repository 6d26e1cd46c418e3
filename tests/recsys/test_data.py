"""The recommender's tf.data pipeline: shuffled row numbers give the batches that
shuffling the examples themselves gives, without holding them twice."""

import dataclasses

import numpy as np

from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.data import make_dataset, select_inputs
from tfrec_sentiment.recsys.model import model_input_keys


def _examples(n: int) -> dict:
    config = RecsysConfig(variant="ids")
    rng = np.random.default_rng(0)
    examples = {key: np.array([f"{key}{i}" for i in range(n)], object)
                if key.endswith("_id") else rng.normal(size=n).astype(np.float32)
                for key in model_input_keys(config)}
    return config, examples


def test_training_batches_are_those_of_shuffling_the_examples():
    import tensorflow as tf

    config, examples = _examples(50)
    config = dataclasses.replace(config, batch_size=8)
    got = [dict(b) for b in make_dataset(examples, config, training=True, seed=3)]
    reference = tf.data.Dataset.from_tensor_slices(
        {k: (v.astype(str) if v.dtype == object else v) for k, v in examples.items()})
    reference = reference.shuffle(50, seed=3, reshuffle_each_iteration=True).batch(
        8, drop_remainder=True)
    expected = list(reference)
    assert len(got) == len(expected) == 6  # 50 // 8, the partial batch dropped
    for batch, want in zip(got, expected):
        assert set(batch) == set(want)
        for key in want:
            np.testing.assert_array_equal(batch[key].numpy(), want[key].numpy())
    # Evaluation: every row once, in order, the last batch partial.
    rows = [b["user_id"].numpy() for b in make_dataset(examples, config, training=False)]
    assert [len(r) for r in rows] == [8] * 6 + [2]
    np.testing.assert_array_equal(np.concatenate(rows).astype(str),
                                  examples["user_id"].astype(str))


def test_consumed_examples_give_the_same_batches_and_are_released():
    config, examples = _examples(40)
    config = dataclasses.replace(config, batch_size=8)
    floats = next(k for k, v in examples.items() if v.dtype == np.float32)
    assert select_inputs(examples, config)[floats] is examples[floats]  # no copy made
    kept = make_dataset(dict(examples), config, training=True, seed=5)
    owned = {**examples, "unread_column": np.zeros(40)}
    consumed = make_dataset(owned, config, training=True, seed=5, consume=True)
    assert owned == {}  # every array (read or not) handed over or freed
    for got, want in zip(consumed, kept, strict=True):
        for key in want:
            np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
