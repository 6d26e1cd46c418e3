"""Privacy config (owned by tfrec_sentiment.privacy): encryption at rest of the run's tables.

No key source (the default) writes plain Parquet. `key_file` (a local key file) or
`kms_client` (a KMS client factory) turns on Parquet modular encryption of every table
the run writes through `tfrec_sentiment.io` (see `privacy.encryption`).

Example:

>>> config = PrivacyConfig(key_file="keys.json", column_keys=("user_id=ids", "text=texts"),
...                        plaintext_footer=True)
>>> config.column_key_map()
{'user_id': 'ids', 'text': 'texts'}
>>> PrivacyConfig(column_keys=("user_id",))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tfrec_sentiment.config_checks.ConfigError: column_keys='user_id': write column=key_id, ...
"""

from __future__ import annotations

import dataclasses
import re

from tfrec_sentiment.config_checks import ConfigError, check_fields

KMS_TOKEN_ENV = "TFREC_KMS_TOKEN"
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# a master key id: a name, a KMS alias or ARN ("alias/tfrec-ids"); "=" and "," delimit
_KEY_ID = re.compile(r"^[^=,\s]+$")


@dataclasses.dataclass
class PrivacyConfig:
    """Where the keys of the run's encrypted tables come from, and what they cover.

    Attributes:
        key_file: a local key file of named master keys
            (`tfrec_sentiment.privacy.create_key_file`); set = encrypt. The path is
            written into config.json, the keys never are.
        kms_client: "package.module:factory", a callable taking pyarrow's
            `KmsConnectionConfig` and returning a `KmsClient` (a cloud KMS); set =
            encrypt. Exclusive with `key_file`.
        kms_instance_id, kms_instance_url: handed to the factory in the
            `KmsConnectionConfig`.
        kms_token_env: environment variable holding the KMS access token, if any.
        footer_key: master key id of the footer, and of every column unless
            `column_keys` names columns.
        column_keys: "column=key_id" items: only these columns are encrypted, each with
            its key (e.g. "user_id=ids", "text=texts", "title=texts").
        plaintext_footer: with `column_keys`, leave the footer and the other columns
            (counts, ratings, times) readable by anyone who can read the files.
    """

    key_file: str | None = None
    kms_client: str | None = None
    kms_instance_id: str = ""
    kms_instance_url: str = ""
    kms_token_env: str = KMS_TOKEN_ENV
    footer_key: str = "footer"
    column_keys: tuple[str, ...] = ()
    plaintext_footer: bool = False

    def __post_init__(self) -> None:
        check_fields(self)
        if self.kms_client is not None and not _FACTORY.match(self.kms_client):
            raise ConfigError("write package.module:factory", "kms_client", self.kms_client)
        if self.key_file is not None and self.kms_client is not None:
            raise ConfigError("set key_file or kms_client, not both", "kms_client",
                              self.kms_client)
        if not _KEY_ID.match(self.footer_key):
            raise ConfigError("a key id has no spaces, '=' or ','", "footer_key",
                              self.footer_key)
        columns = [item.partition("=")[0].strip() for item in self.column_keys]
        for item in self.column_keys:
            column, equals, key = (part.strip() for part in item.partition("="))
            if not (column and equals and _KEY_ID.match(key)):
                raise ConfigError("write column=key_id, e.g. user_id=ids", "column_keys",
                                  ",".join(self.column_keys))
        if len(set(columns)) != len(columns):
            raise ConfigError("a column may have one key only", "column_keys",
                              ",".join(self.column_keys))
        if self.plaintext_footer and not self.column_keys:
            raise ConfigError("a plaintext footer needs column_keys (else every column is "
                              "encrypted and nothing is readable without a key)",
                              "plaintext_footer", self.plaintext_footer)
        if (self.column_keys or self.plaintext_footer) and not self.encrypted:
            raise ConfigError("no key source: set privacy.key_file or privacy.kms_client",
                              "column_keys" if self.column_keys else "plaintext_footer",
                              ",".join(self.column_keys) or self.plaintext_footer)

    @property
    def encrypted(self) -> bool:
        """Whether a key source is set (the tables are written encrypted)."""
        return bool(self.key_file or self.kms_client)

    def column_key_map(self) -> dict[str, str]:
        """`column_keys` as column -> master key id."""
        return {column.strip(): key.strip() for column, _, key in
                (item.partition("=") for item in self.column_keys)}
