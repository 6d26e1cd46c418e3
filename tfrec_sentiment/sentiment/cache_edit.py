"""Editing a `ScoreCache`: a copy holding only some texts, and entries deleted.

An erasure (`pipeline.forget`) must leave no score of an erased user's text: the new
run gets a cache copied from the parent's with only the remaining texts
(`copy_scores`), and a cache shared by several runs (`sentiment.cache_dir`) loses the
entries of the erased texts (`remove_scores`). Both go through the cache's own
`lookup` / `add`, so they write shards as the cache does (its format, its encryption).

Example:

>>> import tempfile
>>> import numpy as np
>>> from tfrec_sentiment.sentiment.inference import text_keys
>>> cache = ScoreCache(tempfile.mkdtemp())
>>> cache.add("fp", text_keys(["a", "b"]), Scores(np.ones([2, 3]), np.ones([2, 4])))
>>> copy = copy_scores(cache, tempfile.mkdtemp(), text_keys(["b", "c"]))
>>> len(copy.keys("fp")), remove_scores(cache, text_keys(["a"])), len(cache.keys("fp"))
(1, 1, 1)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from tfrec_sentiment.sentiment.inference import ScoreCache
from tfrec_sentiment.sentiment.openvino_runtime import INT8_GRAPH
from tfrec_sentiment.sentiment.scores import Scores


def copy_scores(source: ScoreCache, directory: str | Path, keys: np.ndarray) -> ScoreCache:
    """A new cache at `directory` holding only `source`'s entries of `keys`.

    One shard per fingerprint, encrypted as `source` is; keys `source` lacks are
    skipped (nothing is scored). A fingerprint's int8 graph (`openvino_runtime.
    INT8_GRAPH`, the graph its `openvino_int8` scores came from) is copied with it, so
    texts scored later into the copy come from that graph too.

    Args:
        source: the cache to copy from.
        directory: the new cache's folder (created; should be empty).
        keys: text keys S32 [N] (`inference.text_keys`) to carry over.

    Returns:
        The new `ScoreCache`.
    """
    target = ScoreCache(directory, source.encryption)
    keys = np.unique(np.asarray(keys, dtype="S32"))
    for fingerprint in source.fingerprints():
        found = [(key, entry) for key, entry in zip(keys, source.lookup(fingerprint, keys))
                 if entry is not None]
        if found:
            target.add(fingerprint, *_columns(found))
            graph = source.directory / fingerprint / INT8_GRAPH
            for path in (graph, graph.with_suffix(".bin")) if graph.exists() else ():
                shutil.copy2(path, target.directory / fingerprint / path.name)
    return target


def remove_scores(cache: ScoreCache, keys: np.ndarray) -> int:
    """Deletes the entries of `keys` from every fingerprint of `cache`.

    A fingerprint holding any of them gets one new shard with the entries kept (a
    hard-linked copy of an old shard elsewhere keeps its content), then its old
    shards are deleted. Killed in between, the old shards are still there and a
    second call finishes the job.

    Returns:
        The number of entries deleted (over all fingerprints).
    """
    doomed = {bytes(k) for k in np.asarray(keys, dtype="S32")}
    removed = 0
    for fingerprint in cache.fingerprints():
        held = cache.keys(fingerprint)
        gone = doomed & held
        if not gone:
            continue
        old = sorted((cache.directory / fingerprint).glob("part-*"))
        kept = np.array(sorted(held - gone), dtype="S32")
        found = list(zip(kept, cache.lookup(fingerprint, kept)))
        if found:
            cache.add(fingerprint, *_columns(found))
        for shard in old:
            shard.unlink()
        cache.reload(fingerprint)
        removed += len(gone)
    return removed


def _columns(found: list[tuple[bytes, tuple[np.ndarray, np.ndarray]]]) -> tuple[np.ndarray,
                                                                                  Scores]:
    keys = np.array([key for key, _ in found], dtype="S32")
    return keys, Scores(np.stack([entry[0] for _, entry in found]),
                        np.stack([entry[1] for _, entry in found]))
