"""Multi-worker training helpers: TF_CONFIG, and who writes what where.

`make_strategy("multi_worker")` (strategy.py) builds a
`tf.distribute.MultiWorkerMirroredStrategy` from the `TF_CONFIG` environment
variable. Every worker runs the same program; what differs is the files they write:

- Shared state that every worker must READ, the `BackupAndRestore` folder, is one
  path for all workers on a shared file system. Keras writes it from the chief only
  and lets the other workers write to throw-away `workertemp_<id>` folders (saving
  needs every worker, because some variables are all-reduced when read).
- Outputs (weights, metrics, reports) follow the same rule through
  `worker_write_dir`: the chief writes the real folder, the others write a
  temporary sibling and delete it with `remove_worker_write_dir`.

Input sharding: the recommender's datasets are in-memory `from_tensor_slices`
pipelines with `AutoShardPolicy.DATA` (recsys/data.py), so each worker builds the
same (seeded) dataset and keeps its own slice of every global batch; the global
batch (`recsys.batch_size`) is split over all replicas of all workers.

Example:

>>> from tfrec_sentiment.distribute.strategy import make_strategy
>>> workers = ["127.0.0.1:23456", "127.0.0.1:23457"]
>>> os.environ["TF_CONFIG"] = tf_config(workers, index=0)          # doctest: +SKIP
>>> strategy = make_strategy("multi_worker")  # before any other op  # doctest: +SKIP
>>> out = worker_write_dir("runs/x/recsys", strategy)              # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf

WORKER_TEMP_PREFIX = "workertemp_"


def tf_config(workers: Sequence[str], index: int, task_type: str = "worker",
              chief: str | None = None) -> str:
    """The `TF_CONFIG` JSON of one task of a cluster.

    Args:
        workers: "host:port" of every worker, the same list (same order) for all tasks.
        index: this task's position in its task list.
        task_type: "worker" (or "chief" when `chief` is given).
        chief: "host:port" of a separate chief task; None = worker 0 is the chief.

    Returns:
        JSON string, e.g. '{"cluster": {"worker": [...]}, "task": {"type": "worker",
        "index": 0}}'.
    """
    cluster: dict[str, list[str]] = {"worker": list(workers)}
    if chief is not None:
        cluster["chief"] = [chief]
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": int(index)}})


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """True for a `MultiWorkerMirroredStrategy` whose cluster has more than one task."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return False
    spec = resolver.cluster_spec().as_dict()
    return sum(len(tasks) for tasks in spec.values()) > 1


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this worker writes the shared outputs (always True outside multi-worker)."""
    return not is_multi_worker(strategy) or bool(strategy.extended.should_checkpoint)


def worker_write_dir(directory: str | Path, strategy: tf.distribute.Strategy) -> Path:
    """Where this worker writes outputs meant for `directory`.

    The chief (and any single-process run) writes `directory` itself; another worker
    writes `directory/workertemp_<task id>`, to be removed with `remove_worker_write_dir`.
    """
    directory = Path(directory)
    if is_chief(strategy):
        return directory
    return directory / f"{WORKER_TEMP_PREFIX}{strategy.cluster_resolver.task_id}"


def remove_worker_write_dir(directory: str | Path, strategy: tf.distribute.Strategy) -> None:
    """Deletes this worker's temporary folder of `worker_write_dir` (no-op on the chief)."""
    if not is_chief(strategy):
        shutil.rmtree(worker_write_dir(directory, strategy), ignore_errors=True)


def cluster_size() -> int:
    """Number of tasks in `TF_CONFIG` (1 without it), readable before TensorFlow starts."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 1
    cluster = json.loads(raw).get("cluster", {})
    return max(1, sum(len(tasks) for tasks in cluster.values()))
