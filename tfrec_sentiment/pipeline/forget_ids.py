"""Which users and texts an erasure takes: ids matched raw or as pseudonyms (`pipeline.forget`).

An id is looked up among the run's user ids as given and, when the pseudonymisation
key is available, as its HMAC pseudonym (`data.pseudonymize`). Unknown ids are
reported by their position in the request, never by value.

Example:

>>> m = match_users(["b", "x", "b"], ["a", "b"])
>>> m.stored, m.unknown, m.requested
(['b'], [2], 2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from tfrec_sentiment.data.pseudonymize import key_available, pseudonymize_ids
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.pipeline.config import ForgetConfig
from tfrec_sentiment.pipeline.update import UpdateError
from tfrec_sentiment.sentiment.inference import text_keys
from tfrec_sentiment.sentiment.labels import review_texts


class ForgetError(UpdateError):
    """The erasure cannot run (names the run folder or what is wrong, never an id)."""


class UnknownUsersError(ForgetError):
    """Requested ids the run does not know (`unknown_ids="error"`), by position."""


@dataclasses.dataclass
class Matched:
    """The requested ids resolved against a run.

    Attributes:
        stored: the users' ids as the run stores them (raw or pseudonymised), sorted.
        needles: every form of their ids to search old artefacts for (as stored, and
            as given when given raw), sorted.
        unknown: 1-based positions in the request of the ids found neither way.
        requested: how many ids were requested (after removing repeats).
    """

    stored: list[str]
    needles: list[str]
    unknown: list[int]
    requested: int


def match_users(users: Iterable[str], known: Iterable[str], *, key: str | bytes | None = None,
                env_var: str | None = None) -> Matched:
    """Resolves requested ids against a run's user ids, as given or as pseudonyms.

    Args:
        users: requested ids [R] (surrounding whitespace ignored, repeats dropped).
        known: the run's user ids.
        key: the pseudonymisation key; None = `env_var`'s value if set, else ids are
            matched only as given.
        env_var: environment variable holding the key.

    Returns:
        `Matched`.

    """
    requested = list(dict.fromkeys(str(u).strip() for u in users))
    known = set(map(str, known))
    mapped: list[str | None] = [None] * len(requested)
    if key is not None or (env_var is not None and key_available(env_var)):
        kwargs = {"env_var": env_var} if env_var is not None else {}
        mapped = list(pseudonymize_ids(requested, key, **kwargs))
    stored, needles, unknown = set(), set(), []
    for position, (given, pseudonym) in enumerate(zip(requested, mapped), start=1):
        hits = [i for i in (given, pseudonym) if i is not None and i in known]
        if not hits:
            unknown.append(position)
            continue
        stored.update(hits)
        needles.update(hits + [given])
    return Matched(sorted(stored), sorted(needles), unknown, len(requested))


def user_ids(split: Split) -> set[str]:
    """Every user id of a split's parts, the cold-start users included."""
    return set().union(*(set(f["user_id"].astype(str)) for f in split.all_parts.values()))


def check_unknown(matched: Matched, config: ForgetConfig, key: bool) -> None:
    """Raises `UnknownUsersError` when no id is known, or (`unknown_ids="error"`) any id
    is unknown; `key`: whether a pseudonymisation key was available."""
    hint = ("" if key else "; ids are matched as given (set the pseudonymisation key to "
                           "match raw ids against a pseudonymised run)")
    if not matched.stored:
        raise UnknownUsersError(f"none of the {matched.requested} requested id(s) is a user "
                                f"of the run: nothing to erase{hint}")
    if matched.unknown and config.unknown_ids == "error":
        raise UnknownUsersError(
            f"{len(matched.unknown)} of the {matched.requested} requested id(s) are not users "
            f"of the run (positions {_positions(matched.unknown)} of the request, after "
            f"repeats are dropped){hint}; nothing was erased. unknown_ids=count erases the "
            f"known ones")


def _positions(positions: Sequence[int], most: int = 10) -> str:
    shown = ", ".join(map(str, positions[:most]))
    return shown + (f" and {len(positions) - most} more" if len(positions) > most else "")


def erased_text_keys(before: Split, users: Sequence[str], after: Split) -> np.ndarray:
    """Text keys of the users' reviews that no remaining review shares."""
    doomed = set(users)
    frames = [f[f["user_id"].astype(str).isin(doomed)] for f in before.all_parts.values()]
    theirs = pd.concat(frames, ignore_index=True)
    kept = [f for f in after.all_parts.values() if len(f)]
    remaining = set(text_keys(review_texts(pd.concat(kept, ignore_index=True)))) if kept else set()
    keys = [k for k in np.unique(text_keys(review_texts(theirs))) if k not in remaining]
    return np.array(keys, dtype="S32")


def mask_ids(message: str, matched: Matched) -> str:
    """`message` with every form of the users' ids masked (for records of a failure)."""
    for needle in sorted(matched.needles, key=len, reverse=True):
        message = message.replace(needle, "<erased id>")
    return message
