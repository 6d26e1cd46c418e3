"""Keyed pseudonymisation of user ids (HMAC-SHA256).

A pseudonym is `prefix + hex(HMAC-SHA256(key, user_id))[:length]`. The same key maps
the same id to the same pseudonym in every run, so a run folder, a model's id
vocabulary and later feedback stay joinable; without the key the mapping cannot be
recomputed or inverted by trying candidate ids (as a plain hash could be). The key
comes from an argument or from an environment variable (`TFREC_PSEUDONYMIZE_KEY` by
default) and is never written to a config or a run folder.

With the default 16 hex digits (64 bits) the chance that two of a million users
collide is about 3e-8; `pseudonymize_users` checks and raises if it ever happens.

Example:

>>> ids = pseudonymize_ids(["A2IBPI20UZIR0U", "A14VAT5EAX3D9S"], key="secret")
>>> [len(i) for i in ids], ids[0].startswith("u_")
([18, 18], True)
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from tfrec_sentiment.data.config import PSEUDONYMIZE_KEY_ENV

DEFAULT_PREFIX = "u_"
DEFAULT_LENGTH = 16


class PseudonymKeyError(ValueError):
    """Pseudonymisation was asked for but no key was given."""


def resolve_key(key: str | bytes | None = None, env_var: str = PSEUDONYMIZE_KEY_ENV) -> bytes:
    """The key as bytes: `key` if given, else the environment variable `env_var`.

    Raises:
        PseudonymKeyError: neither holds a non-empty key.
    """
    if key is None:
        key = os.environ.get(env_var, "")
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        raise PseudonymKeyError(
            f"pseudonymising user ids needs a key: pass one (`key=` in Python, "
            f"--pseudonymize-key of tools/prepare_data.py) or set the environment variable "
            f"{env_var}")
    return key


def key_available(env_var: str = PSEUDONYMIZE_KEY_ENV) -> bool:
    """Whether the environment variable `env_var` holds a key."""
    return bool(os.environ.get(env_var))


def pseudonymize_ids(
    ids: Iterable[str],
    key: str | bytes | None = None,
    *,
    env_var: str = PSEUDONYMIZE_KEY_ENV,
    prefix: str = DEFAULT_PREFIX,
    length: int = DEFAULT_LENGTH,
) -> np.ndarray:
    """Maps each id to its keyed pseudonym.

    Args:
        ids: raw ids [N] (converted with `str`).
        key: the secret; None = read `env_var`.
        env_var: environment variable holding the key when `key` is None.
        prefix: prepended to every pseudonym, so pseudonyms never look like raw ids.
        length: hex digits kept of the 64 of the HMAC (8 to 64).

    Returns:
        object array [N] of strings `prefix + hex digits`.

    Raises:
        PseudonymKeyError: no key.
    """
    if not 8 <= length <= 64:
        raise ValueError(f"pseudonym length must be 8..64 hex digits, got {length}")
    secret = resolve_key(key, env_var)
    codes, uniques = pd.factorize(pd.Series(list(ids), dtype=object).astype(str))
    mapped = np.array(
        [prefix + hmac.new(secret, u.encode("utf-8"), hashlib.sha256).hexdigest()[:length]
         for u in uniques], dtype=object)
    return mapped[codes] if len(codes) else np.array([], dtype=object)


def pseudonymize_users(
    frame: pd.DataFrame,
    key: str | bytes | None = None,
    *,
    column: str = "user_id",
    env_var: str = PSEUDONYMIZE_KEY_ENV,
    prefix: str = DEFAULT_PREFIX,
    length: int = DEFAULT_LENGTH,
) -> pd.DataFrame:
    """A copy of `frame` whose `column` holds pseudonyms (see `pseudonymize_ids`).

    Raises:
        PseudonymKeyError: no key.
        ValueError: two distinct ids got the same pseudonym (raise `length`).
    """
    out = frame.copy()
    pseudonyms = pseudonymize_ids(out[column], key, env_var=env_var, prefix=prefix,
                                  length=length)
    if len(set(pseudonyms)) != out[column].nunique():
        raise ValueError(f"pseudonyms of {column!r} collide at length {length}; use more digits")
    out[column] = pd.Series(pseudonyms, index=out.index, dtype=frame[column].dtype)
    return out
