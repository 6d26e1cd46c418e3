"""File helpers every stage shares: atomic writes and JSON-ready values.

Atomic writes: a file is written under a staging name in its own folder, then moved
over the final name with `os.replace` (atomic on POSIX and Windows within one file
system), so a reader sees the old file or the whole new one, never a torn one. A
writer that fails (or a process killed mid-write) leaves the old file as it was; a
failure inside Python also removes the staging file. The staging name is
`.tmp-<random>-<name>`: hidden, unique per writer, and it keeps the final name's
suffixes, for writers that insist on one (`np.savez` adds `.npz`, Keras wants
`.weights.h5`).

- `atomic_write(path, data)`: bytes or text.
- `atomic_path(path)`: a context manager yielding the staging path, for writers that
  need a path (`np.savez`, `model.save_weights`).
- `publish(staging, path)`: the final move alone, for a staging file that must outlive
  a failure (a resumable download's `.part` file).

With `fsync=True` the data is flushed to disk before the move and the folder after
it, so the new file survives a power cut too (slower: for state a resume relies on).

Tables: `write_table` / `read_table` (pandas) and `write_arrow` / `read_arrow`
(pyarrow) are the one place a run's Parquet tables are written and read. With an
`encryption` (a `tfrec_sentiment.privacy.TableEncryption`, from the run config's
`privacy` section) the file is written with Parquet modular encryption and read
with its keys; a file that needs a key the reader lacks raises `EncryptedTableError`
naming the file, the columns and the key, before pyarrow touches the encrypted parts.

Example:

>>> import tempfile
>>> import numpy as np
>>> folder = Path(tempfile.mkdtemp())
>>> atomic_write(folder / "state.json", json.dumps({"epoch": 3})).name
'state.json'
>>> with atomic_path(folder / "scores.npz") as staging:
...     np.savez(staging, scores=np.arange(3))
>>> sorted(p.name for p in folder.iterdir())
['scores.npz', 'state.json']
>>> json.dumps({"x": np.float32(0.5), "path": Path("a/b")}, default=json_default)
'{"x": 0.5, "path": "a/b"}'
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from tfrec_sentiment.privacy.encryption import TableEncryption

STAGING_PREFIX = ".tmp-"
# Schema metadata of an encrypted table: which master key protects which column, so a
# reader without keys can tell what it may read (see `read_arrow`).
ENCRYPTION_METADATA = b"tfrec_sentiment.encryption"
_ENCRYPTED_FOOTER_MAGIC = b"PARE"  # the Parquet spec's trailer of an encrypted footer


class EncryptedTableError(PermissionError):
    """A Parquet table is encrypted and the reader lacks (or has the wrong) key.

    The message names the file, the encrypted columns or footer, the master key ids and
    the config fields that give a key source (`privacy.key_file`, `privacy.kms_client`).
    """


def staging_path(path: str | Path) -> Path:
    """A fresh hidden staging name beside `path` that keeps its suffixes."""
    path = Path(path)
    return path.with_name(f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")


def publish(staging: str | Path, path: str | Path, *, fsync: bool = False) -> Path:
    """Moves a finished staging file over `path` atomically (`os.replace`).

    Args:
        staging: the complete file, in the same folder (file system) as `path`.
        path: the final name; an existing file there is replaced.
        fsync: flush the file's data before the move and the folder's entry after.

    Returns:
        `path`.
    """
    staging, path = Path(staging), Path(path)
    if fsync:
        _fsync(staging)
    os.replace(staging, path)
    if fsync:
        _fsync(path.parent)
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path, *, fsync: bool = False) -> Iterator[Path]:
    """Yields a staging path to write; on success it replaces `path`, on error it goes.

    Args:
        path: the final file; its folder must exist.
        fsync: as in `publish`.

    Raises:
        Whatever the body raises (after removing the staging file; `path` untouched).
        FileNotFoundError: the body wrote nothing at the staging path.
    """
    staging = staging_path(path)
    try:
        yield staging
        publish(staging, path, fsync=fsync)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes | str, *, fsync: bool = False,
                 encoding: str = "utf-8") -> Path:
    """Writes `data` (bytes, or text in `encoding`) to `path` atomically.

    Returns:
        `path` (a Path).
    """
    path = Path(path)
    with atomic_path(path, fsync=fsync) as staging:
        if isinstance(data, str):
            staging.write_text(data, encoding=encoding)
        else:
            staging.write_bytes(data)
    return path


def json_default(value: object) -> object:
    """The `default=` hook of `json.dump(s)`: arrays and numpy scalars, paths.

    numpy (and anything else with `tolist`) -> lists / Python numbers; `Path` -> str.

    Raises:
        TypeError: any other type, named.
    """
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def jsonable(value: object, *, fallback: Callable[[object], object] | None = None) -> object:
    """A JSON-ready copy of `value`: what `json.loads(json.dumps(value))` gives back.

    Tuples become lists and mapping keys strings, as JSON has them; numpy values and
    paths as in `json_default`.

    Args:
        value: nested dicts / lists / numbers / strings / numpy values.
        fallback: converts any other object (e.g. `str`); None = TypeError.

    Example:
        >>> import numpy as np
        >>> jsonable({"loss": [np.float64(0.25)], 1: (2, 3)})
        {'loss': [0.25], '1': [2, 3]}
    """
    def default(item: object) -> object:
        if fallback is None or hasattr(item, "tolist") or isinstance(item, Path):
            return json_default(item)
        return fallback(item)

    return json.loads(json.dumps(value, default=default))


def _fsync(path: Path) -> None:
    """Flushes a file (or, where the OS allows, a folder) to disk."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    try:
        handle = os.open(path, flags)
    except OSError:  # folders cannot be opened on some systems (Windows)
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_table(frame: pd.DataFrame, path: str | Path,
                encryption: TableEncryption | None = None) -> Path:
    """Writes a pandas frame as Parquet (no index), atomically; encrypted if asked.

    Args:
        frame: the table; its pandas dtypes are restored by `read_table`.
        path: the `.parquet` file; its folder must exist.
        encryption: None = plain Parquet; else the columns and footer are encrypted as
            `encryption` says (`TableEncryption.write_properties`).

    Returns:
        `path` (a Path).
    """
    import pyarrow as pa

    return write_arrow(pa.Table.from_pandas(frame, preserve_index=False), path, encryption)


def write_arrow(table: pa.Table, path: str | Path,
                encryption: TableEncryption | None = None) -> Path:
    """`write_table` for a pyarrow Table."""
    import pyarrow.parquet as pq

    path = Path(path)
    properties = None
    if encryption is not None:
        properties, facts = encryption.write_properties(table.column_names)
        if facts is not None:
            metadata = dict(table.schema.metadata or {})
            metadata[ENCRYPTION_METADATA] = json.dumps(facts, sort_keys=True).encode()
            table = table.replace_schema_metadata(metadata)
    with atomic_path(path) as staging:
        pq.write_table(table, staging, encryption_properties=properties)
    return path


def read_table(path: str | Path, encryption: TableEncryption | None = None,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Reads a table written by `write_table` (plain or encrypted) into pandas.

    Args:
        path: the `.parquet` file.
        encryption: the key source; needed for an encrypted file (ignored by a plain one).
        columns: the columns to read; None = all. Without a key, a file whose footer is
            in the clear (`privacy.plaintext_footer`) yields its unencrypted columns.

    Raises:
        EncryptedTableError: the file (or a column asked for) is encrypted and
            `encryption` is None, or its key does not open it.
        FileNotFoundError: no such file.
    """
    import pandas as pd

    return _read(path, encryption, columns,
                 lambda p, cols, props: pd.read_parquet(p, columns=cols,
                                                        decryption_properties=props))


def read_arrow(path: str | Path, encryption: TableEncryption | None = None,
               columns: Sequence[str] | None = None) -> pa.Table:
    """`read_table` giving a pyarrow Table."""
    import pyarrow.parquet as pq

    return _read(path, encryption, columns,
                 lambda p, cols, props: pq.read_table(p, columns=cols,
                                                      decryption_properties=props))


def matrix_column(matrix: Any) -> Any:
    """A float32 [N, D] numpy matrix as an Arrow column of N fixed-size lists of D floats
    (D = 0: empty variable-size lists, Arrow's fixed-size lists being at least 1 wide)."""
    import numpy as np
    import pyarrow as pa

    matrix = np.ascontiguousarray(matrix, np.float32)
    if matrix.shape[1] == 0:
        return pa.array([[]] * len(matrix), pa.list_(pa.float32()))
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), matrix.shape[1])


def column_matrix(column: Any) -> Any:
    """`matrix_column` back: a (chunked) list column of N rows as float32 [N, D]."""
    import numpy as np

    array = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    return array.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(
        len(array), getattr(array.type, "list_size", 0))


def encryption_facts(path: str | Path) -> dict | None:
    """How a table is encrypted, read without any key, or None for a plain file.

    Returns:
        {"footer": "encrypted"} for a file whose footer is encrypted (nothing can be
        read without its key); else the facts `write_arrow` stored ("footer_key",
        "column_keys": column -> master key id, "plaintext_footer"), or None.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < 4:
            return None
        handle.seek(-4, os.SEEK_END)
        if handle.read(4) == _ENCRYPTED_FOOTER_MAGIC:
            return {"footer": "encrypted"}
    metadata = pq.read_schema(path).metadata or {}
    if ENCRYPTION_METADATA not in metadata:
        return None
    return json.loads(metadata[ENCRYPTION_METADATA])


def _read(path: str | Path, encryption: TableEncryption | None,
          columns: Sequence[str] | None, reader: Callable[[Path, Any, Any], Any]) -> Any:
    path = Path(path)
    facts = encryption_facts(path)
    if facts is None:
        return reader(path, None if columns is None else list(columns), None)
    if encryption is None:
        _refuse_without_key(path, facts, columns)
        return reader(path, None if columns is None else list(columns), None)
    try:
        return reader(path, None if columns is None else list(columns),
                      encryption.read_properties())
    except Exception as error:  # noqa: BLE001  (KMS clients raise their own types)
        raise EncryptedTableError(
            f"{path}: cannot decrypt with {encryption.source}: "
            f"{type(error).__name__}: {error}") from error


def _refuse_without_key(path: Path, facts: dict, columns: Sequence[str] | None) -> None:
    """Raises unless every column asked for is readable without a key.

    pyarrow aborts the process (C++ terminate) when it reads an encrypted column
    without keys, so this decides from the stored facts first.
    """
    how = ("set privacy.key_file (local key file) or privacy.kms_client (a KMS) in the "
           "run's config to the key source it was written with")
    if facts.get("footer") == "encrypted":
        raise EncryptedTableError(
            f"{path}: encrypted with Parquet modular encryption (encrypted footer): "
            f"reading it needs a key; {how}")
    encrypted = facts.get("column_keys", {})
    asked = list(encrypted) if columns is None else [c for c in columns if c in encrypted]
    if asked:
        keys = ", ".join(f"{c} (master key {encrypted[c]!r})" for c in asked)
        raise EncryptedTableError(
            f"{path}: columns encrypted with Parquet modular encryption: {keys}; {how}, "
            f"or read only the columns in the clear")
