"""Privacy: pseudonymous ids at serving time and encryption at rest of run tables.

- `pseudonymize(ids, key)`: the training-time pseudonyms of raw user ids, for the
  serving application's requests (`pseudonyms`).
- `check_pseudonymous`: the export's refusal of raw ids (`export.require_pseudonyms`).
- `PrivacyConfig` (the run config's `privacy` section), `TableEncryption`,
  `LocalKeyFileKms`, `create_key_file`: Parquet modular encryption of the run's tables
  (`encryption`; read and written by `tfrec_sentiment.io`).
- `run_encryption(run_dir)`: the encryption of a finished run, from its config.json.
- `check_privacy(config)`: a run's privacy settings checked before any work.

What the exported model holds about users, and where access control belongs:
docs/privacy.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tfrec_sentiment.config_checks import ConfigError, from_dict
from tfrec_sentiment.data.pseudonymize import key_available
from tfrec_sentiment.io import EncryptedTableError
from tfrec_sentiment.privacy.config import PrivacyConfig
from tfrec_sentiment.privacy.encryption import (
    KeySourceError,
    LocalKeyFileKms,
    TableEncryption,
    create_key_file,
    read_key_file,
)
from tfrec_sentiment.privacy.pseudonyms import RawIdsError, check_pseudonymous, pseudonymize

__all__ = [
    "EncryptedTableError", "KeySourceError", "LocalKeyFileKms", "PrivacyConfig", "RawIdsError",
    "TableEncryption", "check_pseudonymous", "create_key_file", "pseudonymize",
    "check_privacy", "read_key_file", "run_encryption", "table_encryption",
]


def table_encryption(config: PrivacyConfig) -> TableEncryption | None:
    """`TableEncryption.from_config`: None when the config sets no key source."""
    return TableEncryption.from_config(config)


def run_encryption(run_dir: str | Path) -> TableEncryption | None:
    """The encryption of a run's tables, from the `privacy` section of its config.json
    (None for a run without one, or with no key source).

    Raises:
        ConfigError: the privacy section holds a value a field does not allow.
        KeySourceError: the key source named there cannot be used here.
    """
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        section = json.loads(path.read_text()).get("privacy", {})
    except json.JSONDecodeError as error:
        raise ConfigError(f"not valid JSON ({error})", source=str(path)) from None
    try:
        config = from_dict(PrivacyConfig, section, source=str(path))
    except ConfigError as error:
        raise error.within("privacy") from None
    return table_encryption(config)


def check_privacy(config: Any, export: bool = True) -> TableEncryption | None:
    """Checks a `RunConfig`'s privacy settings before any work; returns its tables'
    encryption. Reads only the config, the environment and the key file (no TensorFlow),
    so tools call it first.

    Returns:
        The `TableEncryption` of `config.privacy`, or None (no key source: plain tables).

    Raises:
        ConfigError: `export.require_pseudonyms` is set for an export, but no
            pseudonymisation key is (user ids would be exported raw).
        KeySourceError: the key file cannot be read or lacks a master key named.
    """
    env = config.data.pseudonymize_key_env
    if export and config.export.require_pseudonyms and not key_available(env):
        raise ConfigError(
            f"the deployment must be pseudonymous, but the environment variable {env} "
            "(data.pseudonymize_key_env) holds no pseudonymisation key: user ids would be "
            "exported raw", "export.require_pseudonyms", True)
    return table_encryption(config.privacy)
