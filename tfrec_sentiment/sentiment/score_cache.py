"""The on-disk score cache: (model fingerprint, text hash) -> a text's scores.

A rerun, or a feedback update that adds a few reviews, scores only what is new
(`inference.score_texts` consults the cache). Shards are Parquet tables written and
read through `tfrec_sentiment.io`, so a run whose tables are encrypted
(`tfrec_sentiment.privacy`) has an encrypted cache too.

Example:

>>> import tempfile
>>> from tfrec_sentiment.sentiment.scores import Scores
>>> cache = ScoreCache(tempfile.mkdtemp())
>>> keys = text_keys(["love it", "broke"])
>>> cache.add("fp", keys, Scores(np.full((2, 3), 1 / 3, np.float32), np.ones((2, 4), np.float32)))
>>> [entry is not None for entry in ScoreCache(cache.directory).lookup("fp", keys)]
[True, True]
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfrec_sentiment.io import column_matrix, matrix_column, read_arrow, write_arrow
from tfrec_sentiment.sentiment.scores import Scores

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.encryption import TableEncryption


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """sha256 of each text's UTF-8 bytes, as 32-byte keys [N] (dtype S32)."""
    return np.array(
        [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts],
        dtype="S32",
    )


class ScoreCache:
    """On-disk cache of scores keyed by (model fingerprint, text hash).

    Layout: `directory/<fingerprint>/part-*.parquet`, each shard a table of `key`
    (32-byte sha256 of the text), `probabilities` (3 floats) and `embedding` (D
    floats), written through `tfrec_sentiment.io` (atomically: a crash never leaves a
    torn shard; encrypted with `encryption`, as the run's other tables). Shards of
    older runs (`part-*.npz`) are still read. A new model fingerprint gets a fresh
    folder (old scores of other weights are never served).

    Args:
        directory: the cache folder.
        encryption: a `tfrec_sentiment.privacy.TableEncryption`, or None (plain).

    Attributes:
        stats: Counter with `hits` and `misses` over this object's lookups.
    """

    def __init__(self, directory: str | Path, encryption: TableEncryption | None = None):
        self.directory = Path(directory)
        self.encryption = encryption
        self.stats: Counter = Counter()
        self._loaded: dict[str, dict[bytes, tuple[np.ndarray, np.ndarray]]] = {}

    def _entries(self, fingerprint: str) -> dict[bytes, tuple[np.ndarray, np.ndarray]]:
        if fingerprint not in self._loaded:
            entries = {}
            folder = self.directory / fingerprint
            for shard in sorted(folder.glob("part-*.npz")):  # written before Parquet shards
                with np.load(shard) as data:
                    for key, prob, emb in zip(data["keys"], data["probabilities"],
                                              data["embedding"]):
                        entries[bytes(key)] = (prob, emb)
            for shard in sorted(folder.glob("part-*.parquet")):
                table = read_arrow(shard, self.encryption)
                for key, prob, emb in zip(table.column("key").to_pylist(),
                                          column_matrix(table.column("probabilities")),
                                          column_matrix(table.column("embedding"))):
                    entries[key] = (prob, emb)
            self._loaded[fingerprint] = entries
        return self._loaded[fingerprint]

    def lookup(self, fingerprint: str, keys: np.ndarray) -> list[tuple | None]:
        """Cached (probabilities [3], embedding [D]) per key, None where absent."""
        entries = self._entries(fingerprint)
        found = [entries.get(bytes(key)) for key in keys]
        hits = sum(item is not None for item in found)
        self.stats["hits"] += hits
        self.stats["misses"] += len(found) - hits
        return found

    def add(self, fingerprint: str, keys: np.ndarray, scores: Scores) -> None:
        """Stores new scores (rows aligned with `keys`) as one more shard."""
        import pyarrow as pa

        if len(keys) == 0:
            return
        folder = self.directory / fingerprint
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.table({"key": pa.array([bytes(key) for key in keys], pa.binary()),
                          "probabilities": matrix_column(scores.probabilities),
                          "embedding": matrix_column(scores.embedding)})
        write_arrow(table, folder / f"part-{uuid.uuid4().hex}.parquet", self.encryption)
        entries = self._entries(fingerprint)
        for key, prob, emb in zip(keys, scores.probabilities, scores.embedding):
            entries[bytes(key)] = (prob, emb)

    def fingerprints(self) -> list[str]:
        """The model fingerprints the cache holds scores of (folder names), sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir())

    def keys(self, fingerprint: str) -> set[bytes]:
        """The text keys this cache holds scores of for `fingerprint`."""
        return set(self._entries(fingerprint))

    def reload(self, fingerprint: str) -> None:
        """Drops the entries read of `fingerprint`: the next lookup reads its shards again."""
        self._loaded.pop(fingerprint, None)
