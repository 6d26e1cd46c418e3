"""The client side of pseudonymous serving: ids in requests as the model knows them.

When training pseudonymised user ids (`TFREC_PSEUDONYMIZE_KEY` set, see
`data.pseudonymize`), the exported model knows only pseudonyms. The serving
application keeps the key and sends `pseudonymize(ids, key)` in place of raw ids; the
key never enters the model or the run folder. This is the same keyed HMAC the data
stage applies (`data.pseudonymize.pseudonymize_ids`), after the same id normalisation
(`data.ids.normalize_id`), so a request's pseudonym is the training-time one.

`check_pseudonymous` is the export's guard (`export.require_pseudonyms`): it refuses a
model whose user vocabulary holds ids that are not pseudonyms.

Example:

>>> pseudonymize([" A2IBPI20UZIR0U", "A2IBPI20UZIR0U"], key="secret").tolist()
['u_25cca9d9c849eb7f', 'u_25cca9d9c849eb7f']
>>> check_pseudonymous(["u_25cca9d9c849eb7f", "A14VAT5EAX3D9S"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tfrec_sentiment.privacy.pseudonyms.RawIdsError: ...: 1 of 2 user ids ... are not pseudonyms ...
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from tfrec_sentiment.data.ids import normalize_id
from tfrec_sentiment.data.pseudonymize import (
    DEFAULT_LENGTH,
    DEFAULT_PREFIX,
    pseudonymize_ids,
)

PSEUDONYM = re.compile(f"^{re.escape(DEFAULT_PREFIX)}[0-9a-f]{{{DEFAULT_LENGTH}}}$")


class RawIdsError(ValueError):
    """A model meant for a pseudonymous deployment holds ids that are not pseudonyms."""


def pseudonymize(ids: Iterable[str], key: str | bytes | None = None) -> np.ndarray:
    """The pseudonyms the model was trained with, for raw user ids of requests.

    Args:
        ids: raw user ids [N], as the shop knows them (surrounding whitespace is
            removed first, as ingestion and the served graph do).
        key: the pseudonymisation key of training; None = the environment variable
            `TFREC_PSEUDONYMIZE_KEY`. Keep it in the serving application, never in
            the model or its folder.

    Returns:
        object array [N] of "u_" + 16 hex digits.

    Raises:
        PseudonymKeyError: no key.
    """
    return pseudonymize_ids([normalize_id(str(i)) for i in ids], key)


def check_pseudonymous(user_ids: Sequence[str]) -> None:
    """Raises unless every user id is a pseudonym ("u_" + 16 hex digits).

    Raises:
        RawIdsError: naming the option and how many ids are raw (never the ids).
    """
    raw = sum(PSEUDONYM.match(str(i)) is None for i in user_ids)
    if raw:
        raise RawIdsError(
            f"export.require_pseudonyms=True: {raw} of {len(user_ids)} user ids of the "
            "model are not pseudonyms (u_ + 16 hex digits): train with the environment "
            "variable named by data.pseudonymize_key_env (TFREC_PSEUDONYMIZE_KEY) set, or "
            "set export.require_pseudonyms=false for a deployment that may hold raw ids")
