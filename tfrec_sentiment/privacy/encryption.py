"""Encryption at rest of a run's tables: Parquet modular encryption with a KMS.

The run folder's tables that hold review text or user ids (the clean table, the
splits, the rejected records, the feature tables, the score cache) are written by
`tfrec_sentiment.io.write_table` / `write_arrow`; given a `TableEncryption` they are
encrypted with Parquet modular encryption (`pyarrow.parquet.encryption`, the Parquet
format's "Parquet Modular Encryption" spec: AES-GCM per page and per footer).

Keys are enveloped, as pyarrow's `CryptoFactory` does it: every file gets fresh data
keys (DEKs), wrapped by key-encryption keys that are in turn wrapped by a **master
key** which never leaves the key management service (KMS). The file stores only the
wrapped keys and the master key's id, so reading it needs the KMS.

- `LocalKeyFileKms`: the KMS of one machine and of the tests: a JSON file of named
  256-bit master keys (`create_key_file`), keys wrapped with AES-GCM (the
  `cryptography` package), the master key id bound as associated data.
- A cloud KMS: any `pyarrow.parquet.encryption.KmsClient` subclass, named in the config
  as `privacy.kms_client="package.module:factory"` (see the README, "Encrypted at rest").

Which master key protects what (`PrivacyConfig`): by default every column and the
footer use `footer_key`. With `column_keys` ("user_id=ids", "text=texts") only the named
columns are encrypted, each with its key; with `plaintext_footer` as well, the other
columns (counts, ratings, times) stay readable without any key.

Example:

>>> import tempfile
>>> import pandas as pd
>>> from tfrec_sentiment.io import read_table, write_table
>>> folder = Path(tempfile.mkdtemp())
>>> keys = create_key_file(folder / "keys.json", ["footer"])
>>> encryption = TableEncryption.local(keys)
>>> path = write_table(pd.DataFrame({"user_id": ["a"], "rating": [5.0]}),
...                    folder / "t.parquet", encryption)
>>> read_table(path, encryption)["user_id"].tolist()
['a']
>>> read_table(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tfrec_sentiment.io.EncryptedTableError: .../t.parquet: encrypted with ... needs a key; ...
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet.encryption as pe

from tfrec_sentiment.io import atomic_write

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.config import PrivacyConfig

KEY_FILE_FORMAT = "tfrec_sentiment-keys-1"
_NONCE_BYTES = 12  # AES-GCM's standard nonce (NIST SP 800-38D, section 8.2)
_KEY_BYTES = (16, 24, 32)  # AES-128/192/256


class KeySourceError(ValueError):
    """A key source cannot give the key asked for: the file is missing or malformed,
    the master key id is not in it, or the key does not open a wrapped key.

    The message names the key file (or KMS) and the master key id, never key material.
    """


def create_key_file(path: str | Path, key_ids: Sequence[str] = ("footer",)) -> Path:
    """Writes a new key file of random 256-bit master keys (owner-only permissions).

    Args:
        path: the file to create; it must not exist (a key file is never overwritten:
            the tables it protects would become unreadable).
        key_ids: the master key ids, e.g. ("footer", "ids", "texts").

    Returns:
        `path`.

    Raises:
        FileExistsError: `path` exists.
        ValueError: no key id, an empty one, or one given twice.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists: a key file is never overwritten")
    if not key_ids or len(set(key_ids)) != len(key_ids) or not all(key_ids):
        raise ValueError(f"key ids must be distinct and non-empty, got {list(key_ids)}")
    keys = {key_id: base64.b64encode(secrets.token_bytes(32)).decode() for key_id in key_ids}
    text = json.dumps({"format": KEY_FILE_FORMAT, "keys": keys}, indent=1) + "\n"
    old_mask = os.umask(0o077)  # the staging file is born owner-only
    try:
        atomic_write(path, text)
    finally:
        os.umask(old_mask)
    path.chmod(0o600)
    return path


def read_key_file(path: str | Path) -> dict[str, bytes]:
    """The master keys of a key file written by `create_key_file`, by id.

    Raises:
        KeySourceError: the file is missing, not JSON of that format, or holds a key
            that is not base64 of 16, 24 or 32 bytes.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeySourceError(f"key file {path} does not exist (privacy.key_file)") from None
    except (OSError, ValueError) as error:
        raise KeySourceError(f"key file {path} cannot be read as JSON: {error}") from None
    if not isinstance(content, dict) or content.get("format") != KEY_FILE_FORMAT:
        raise KeySourceError(f"key file {path}: not a {KEY_FILE_FORMAT} file "
                             "(write one with tfrec_sentiment.privacy.create_key_file)")
    keys = {}
    for key_id, text in content.get("keys", {}).items():
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, TypeError):
            key = b""
        if len(key) not in _KEY_BYTES:
            raise KeySourceError(f"key file {path}: master key {key_id!r} is not base64 of "
                                 "16, 24 or 32 bytes")
        keys[key_id] = key
    return keys


class LocalKeyFileKms(pe.KmsClient):
    """A KMS whose master keys sit in a local key file (single machines, tests).

    `wrap_key` encrypts a key with AES-GCM under the master key (a fresh 96-bit nonce
    each time; the master key id is the associated data, so a wrapped key moved to
    another key id does not open); the result is base64(nonce + ciphertext + tag).

    Args:
        path: the key file (`create_key_file`).
        keys: its master keys, if read already (`read_key_file`).
    """

    def __init__(self, path: str | Path, keys: Mapping[str, bytes] | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.keys = dict(keys) if keys is not None else read_key_file(self.path)

    def _cipher(self, master_key_identifier: str):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if master_key_identifier not in self.keys:
            raise KeySourceError(
                f"key file {self.path} has no master key {master_key_identifier!r} "
                f"(it has: {', '.join(sorted(self.keys)) or 'none'})")
        return AESGCM(self.keys[master_key_identifier])

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._cipher(master_key_identifier).encrypt(
            nonce, key_bytes, master_key_identifier.encode())
        return base64.b64encode(nonce + sealed).decode()

    def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
        from cryptography.exceptions import InvalidTag

        cipher = self._cipher(master_key_identifier)
        raw = base64.b64decode(wrapped_key)
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:],
                                  master_key_identifier.encode())
        except InvalidTag:
            raise KeySourceError(
                f"master key {master_key_identifier!r} of key file {self.path} does not "
                "open this file's keys: it was written with another key (or is damaged)"
            ) from None


KmsClientFactory = Callable[[pe.KmsConnectionConfig], pe.KmsClient]


class TableEncryption:
    """How the run's tables are encrypted and where their keys come from.

    Args:
        kms_client_factory: pyarrow's factory: `KmsConnectionConfig` -> `KmsClient`.
        footer_key: master key id of the footer (and of every column when
            `column_keys` is empty).
        column_keys: column name -> master key id; only these columns are encrypted
            (each table encrypts those it has; a table with none of them is encrypted
            whole with `footer_key`, or left plain under `plaintext_footer`).
        plaintext_footer: leave the footer (schema, row counts) and the columns not in
            `column_keys` readable without a key; the footer is still signed.
        connection: the `KmsConnectionConfig` handed to the factory.
        source: a description of the key source for messages ("key file keys.json").
    """

    def __init__(self, kms_client_factory: KmsClientFactory, footer_key: str = "footer",
                 column_keys: Mapping[str, str] | None = None, plaintext_footer: bool = False,
                 connection: pe.KmsConnectionConfig | None = None,
                 source: str = "a KMS") -> None:
        self.footer_key = footer_key
        self.column_keys = dict(column_keys or {})
        self.plaintext_footer = plaintext_footer
        self.connection = connection or pe.KmsConnectionConfig()
        self.source = source
        self._factory = pe.CryptoFactory(kms_client_factory)

    @classmethod
    def local(cls, key_file: str | Path, **kwargs: Any) -> TableEncryption:
        """Encryption with a `LocalKeyFileKms` over `key_file` (read once, here).

        Raises:
            KeySourceError: the key file cannot be read, or lacks a key id named.
        """
        keys = read_key_file(key_file)
        encryption = cls(lambda _: LocalKeyFileKms(key_file, keys),
                         source=f"key file {key_file}", **kwargs)
        missing = sorted({encryption.footer_key, *encryption.column_keys.values()} - set(keys))
        if missing:
            raise KeySourceError(f"key file {key_file} has no master key "
                                 f"{', '.join(map(repr, missing))} (it has: "
                                 f"{', '.join(sorted(keys)) or 'none'})")
        return encryption

    @classmethod
    def from_config(cls, config: PrivacyConfig) -> TableEncryption | None:
        """The encryption a `PrivacyConfig` asks for; None when no key source is set.

        Raises:
            KeySourceError: the key file cannot be read or lacks a key, or the KMS
                client factory cannot be imported.
        """
        options = {"footer_key": config.footer_key,
                   "column_keys": config.column_key_map(),
                   "plaintext_footer": config.plaintext_footer}
        if config.key_file:
            return cls.local(config.key_file, **options)
        if not config.kms_client:
            return None
        connection = pe.KmsConnectionConfig(
            kms_instance_id=config.kms_instance_id, kms_instance_url=config.kms_instance_url,
            key_access_token=os.environ.get(config.kms_token_env, "") or "DEFAULT")
        return cls(load_factory(config.kms_client), connection=connection,
                   source=f"KMS client {config.kms_client}", **options)

    def write_properties(self, columns: Sequence[str]) -> tuple[Any, dict | None]:
        """pyarrow's `FileEncryptionProperties` for a table of `columns`, and the facts
        `io.write_arrow` stores in its schema (None: write the table plain).

        Returns:
            (properties or None, {"footer_key", "column_keys": column -> key id,
            "plaintext_footer"} or None).
        """
        mine = {c: k for c, k in self.column_keys.items() if c in columns}
        if not self.column_keys:
            mine = dict.fromkeys(columns, self.footer_key)
        if not mine and self.plaintext_footer:
            return None, None  # nothing of this table is protected; the footer is public
        by_key: dict[str, list[str]] = {}
        for column, key in mine.items():
            by_key.setdefault(key, []).append(column)
        uniform = not self.column_keys or not mine
        config = pe.EncryptionConfiguration(
            footer_key=self.footer_key, uniform_encryption=uniform,
            column_keys={} if uniform else by_key, plaintext_footer=self.plaintext_footer)
        facts = {"footer_key": self.footer_key, "plaintext_footer": self.plaintext_footer,
                 "column_keys": dict.fromkeys(columns, self.footer_key) if uniform else mine}
        return self._factory.file_encryption_properties(self.connection, config), facts

    def read_properties(self) -> Any:
        """pyarrow's `FileDecryptionProperties` (keys unwrapped through the KMS)."""
        return self._factory.file_decryption_properties(self.connection,
                                                        pe.DecryptionConfiguration())


def load_factory(spec: str) -> KmsClientFactory:
    """Imports "package.module:callable", a factory `KmsConnectionConfig -> KmsClient`.

    Raises:
        KeySourceError: the module or the callable cannot be found.
    """
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise KeySourceError(f"privacy.kms_client={spec!r}: cannot import it ({error})") \
            from None
    if not callable(factory):
        raise KeySourceError(f"privacy.kms_client={spec!r} is not callable")
    return factory
