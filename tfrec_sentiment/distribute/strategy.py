"""Distribution strategies for both Keras worlds.

`tf.distribute` strategies are TensorFlow objects, so the same strategy serves the
Keras 3 sentiment model and the tf-keras recommender. On a CPU-only machine,
`MirroredStrategy` needs several devices: `configure_cpu_replicas(n)` splits the
physical CPU into `n` logical devices. That must happen before TensorFlow's runtime
initialises (before the first op runs), so call it first thing in a program.

Example:

>>> configure_cpu_replicas(2)            # before any tensor is created
>>> strategy = make_strategy("mirrored", replicas=2)
>>> strategy.num_replicas_in_sync
2
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tfrec_sentiment.config import STRATEGIES


class StrategyError(RuntimeError):
    """A strategy cannot be built as asked on this machine."""


def configure_cpu_replicas(replicas: int) -> None:
    """Splits the first physical CPU into `replicas` logical devices.

    A no-op when the split already exists. Raises `StrategyError` when TensorFlow's
    runtime already started with a different number of logical CPUs.
    """
    if replicas < 1:
        raise StrategyError(f"replicas must be >= 1, got {replicas}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) >= replicas:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
        )
    except RuntimeError as error:
        have = len(tf.config.list_logical_devices("CPU"))
        if have >= replicas:
            return
        raise StrategyError(
            f"asked for {replicas} CPU replicas but TensorFlow already started with "
            f"{have} logical CPU device(s); call configure_cpu_replicas() before any "
            "TensorFlow op runs"
        ) from error


def replica_devices(replicas: int | None = None) -> list[str]:
    """Names the devices a mirrored strategy should use.

    All GPUs by default (or the first `replicas`); without GPUs, `replicas` logical
    CPUs (default 1), configuring the split where it is still possible.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        chosen = gpus if replicas is None else gpus[:replicas]
        if replicas is not None and len(chosen) < replicas:
            raise StrategyError(f"asked for {replicas} GPU replicas, only {len(gpus)} GPU(s)")
        return [device.name for device in chosen]
    replicas = replicas or 1
    configure_cpu_replicas(replicas)
    cpus = tf.config.list_logical_devices("CPU")
    return [device.name for device in cpus[:replicas]]


def make_strategy(kind: str = "default", replicas: int | None = None) -> tf.distribute.Strategy:
    """Builds a distribution strategy by name.

    Args:
        kind: "default" (one device), "mirrored" (synchronous data parallel on all
            GPUs, or `replicas` logical CPUs), or "multi_worker"
            (`MultiWorkerMirroredStrategy` configured from the `TF_CONFIG` env var).
        replicas: devices per worker for "mirrored"; None means all GPUs, or 1 CPU.

    Returns:
        A `tf.distribute.Strategy`; its `num_replicas_in_sync` is the global
        replica count, which scales the global batch size.
    """
    if kind not in STRATEGIES:
        raise StrategyError(f"unknown strategy {kind!r}; choose one of {STRATEGIES}")
    if kind == "default":
        if replicas not in (None, 1):
            raise StrategyError("the default strategy has one replica; use 'mirrored'")
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        devices = replica_devices(replicas)
        # Ring all-reduce across logical CPUs is not supported; copy-to-one is.
        cross = None if "GPU" in devices[0] else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross)
    if "TF_CONFIG" not in os.environ:
        raise StrategyError("strategy 'multi_worker' needs the TF_CONFIG environment variable")
    try:
        json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as error:
        raise StrategyError(f"TF_CONFIG is not valid JSON: {error}") from error
    return tf.distribute.MultiWorkerMirroredStrategy()
