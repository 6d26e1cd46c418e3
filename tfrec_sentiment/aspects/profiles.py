"""Aspect profiles: per item, what its reviews say of each aspect; per user, what they write about.

The contract between the aspects stage (which builds the profiles from the training
period's mention table) and its two readers: the recommender's `aspects` feature
variant and the exported `explain` signature (pure lookups of these arrays).

Arrays (A = number of aspects, I = items, U = users):

- `aspects`: the aspect terms, str [A], in vocabulary order.
- `item_ids`: str [I]; `item_mentions`: int32 [I, A], the training mentions of each
  aspect in the item's reviews; `item_polarity`: float32 [I, A] in [-1, 1], the mean
  mention polarity shrunk towards the aspect's mean over all items (0 where the item
  has no mention of the aspect).
- `user_ids`: str [U]; `user_attention`: float32 [U, A] in [0, 1], each row summing to
  1 (or all 0 for a user who never wrote about an aspect): how much each aspect
  matters to the user.
- `population_attention`: float32 [A], summing to 1 (or all 0): the attention of the
  training population, the answer for an unknown user.

Saved as one `.npz` (`save` / `load`), with the aspect terms and ids as unicode arrays.

`build_profiles` fills them from a mention table with polarity (`aspects.polarity`) of
the TRAINING reviews; `review_aspect_arrays`, `shrunk_polarity`, `attention` and
`aspect_priors` are the formulas it uses, shared with the recommender's point-in-time
`aspect` feature group (`features/aspects.py`), so the two cannot drift:

- item quality: q_ia = (S_ia + k m_a) / (n_ia + k), with n_ia the item's training
  mentions of aspect a, S_ia the sum of their polarity, m_a the mean polarity of every
  training mention of a (the aspect's prior) and k = `prior_strength`: a Bayesian
  average, the shrinkage the feature tables use for every mean (`features/profile.py`).
  Cornac's EFM (Zhang et al., SIGIR 2014; `cornac/models/efm/recom_efm.py`) maps the
  same counts to 1 + (N - 1) / (1 + exp(-S_ia)) on a 1..N rating scale instead; ours
  stays on the polarity scale [-1, 1], which `explain` reports as is.
- user attention: w_ua = (c_ua + k' p_a) / (C_u + k'), with c_ua the user's training
  mentions of a, C_u all of the user's mentions, p_a the population's share of
  mentions of a and k' = `attention_strength`: the share of the user's mentions,
  smoothed towards the population (a user with no mention gets the population's row;
  with k' = 0, all zeros). EFM's 1 + (N - 1)(2 / (1 + exp(-c_ua)) - 1) saturates
  with the count and is not a distribution; a share is what `explain` needs as a weight.
- population attention: p_a = n_a / sum_b n_b over every training mention.

Example:

>>> import numpy as np
>>> profiles = AspectProfiles(
...     aspects=np.array(["sound", "cable"]), item_ids=np.array(["i1"]),
...     item_mentions=np.array([[3, 1]], np.int32),
...     item_polarity=np.array([[0.8, -0.6]], np.float32),
...     user_ids=np.array(["u1"]), user_attention=np.array([[1.0, 0.0]], np.float32),
...     population_attention=np.array([0.75, 0.25], np.float32))
>>> profiles.num_aspects, profiles.num_items, profiles.num_users
(2, 1, 1)
>>> AspectProfiles(aspects=np.array(["sound"]), item_ids=np.array(["i1"]),
...     item_mentions=np.zeros((1, 2), np.int32), item_polarity=np.zeros((1, 2), np.float32),
...     user_ids=np.array([], str), user_attention=np.zeros((0, 1), np.float32),
...     population_attention=np.zeros(1, np.float32))
Traceback (most recent call last):
...
ValueError: item_mentions has shape (1, 2); expected (1, 1) (items x aspects)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tfrec_sentiment.io import atomic_path, column_matrix, matrix_column, read_arrow, write_arrow

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.encryption import TableEncryption

PROFILES_FILE = "aspect_profiles.npz"
USERS_FILE = "aspect_users.parquet"  # the user part, where the run encrypts its tables
# Where each polarity source's mention polarity is (`aspects.polarity.POLARITY_COLUMNS`).
POLARITY_COLUMNS = {"bert": "bert_polarity", "vader": "vader_compound"}


@dataclasses.dataclass(frozen=True)
class AspectProfiles:
    """Item aspect quality and user aspect attention (module docstring for the arrays).

    Raises:
        ValueError: an array's shape or range does not match the others.
    """

    aspects: np.ndarray
    item_ids: np.ndarray
    item_mentions: np.ndarray
    item_polarity: np.ndarray
    user_ids: np.ndarray
    user_attention: np.ndarray
    population_attention: np.ndarray

    def __post_init__(self) -> None:
        a, i, u = len(self.aspects), len(self.item_ids), len(self.user_ids)
        expected = {"item_mentions": ((i, a), "items x aspects"),
                    "item_polarity": ((i, a), "items x aspects"),
                    "user_attention": ((u, a), "users x aspects"),
                    "population_attention": ((a,), "aspects")}
        for name, (shape, meaning) in expected.items():
            got = np.shape(getattr(self, name))
            if got != shape:
                raise ValueError(f"{name} has shape {got}; expected {shape} ({meaning})")
        if np.any(np.asarray(self.item_mentions) < 0):
            raise ValueError("item_mentions has negative counts")
        polarity = np.asarray(self.item_polarity)
        if polarity.size and (np.nanmin(polarity) < -1 or np.nanmax(polarity) > 1):
            raise ValueError("item_polarity is outside [-1, 1]")
        for name in ("user_attention", "population_attention"):
            values = np.asarray(getattr(self, name))
            if values.size and (values.min() < 0 or values.max() > 1):
                raise ValueError(f"{name} is outside [0, 1]")

    @property
    def num_aspects(self) -> int:
        return len(self.aspects)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    def save(self, folder: str | Path, encryption: TableEncryption | None = None) -> Path:
        """Writes `folder/aspect_profiles.npz` atomically; returns its path.

        With `encryption` (the run's `privacy` key source) the per-user part, the only
        one naming people (`user_ids`, `user_attention`), goes to
        `folder/aspect_users.parquet` through `io.write_arrow`, encrypted like the
        run's other tables, and the npz keeps the rest.
        """
        path = Path(folder) / PROFILES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {field.name: np.asarray(getattr(self, field.name))
                  for field in dataclasses.fields(self)}
        if encryption is not None:
            import pyarrow as pa

            users = pa.table({"user_id": pa.array(arrays.pop("user_ids").astype(str)),
                              "attention": matrix_column(arrays.pop("user_attention"))})
            write_arrow(users, path.parent / USERS_FILE, encryption)
        with atomic_path(path) as staging:
            np.savez(staging, **arrays)
        return path

    @classmethod
    def load(cls, folder: str | Path,
             encryption: TableEncryption | None = None) -> AspectProfiles:
        """Reads what `save` wrote in `folder` (the user part with `encryption`'s key).

        Raises:
            FileNotFoundError: `folder` holds no `aspect_profiles.npz`.
            EncryptedTableError: the user part is encrypted and `encryption` cannot open it.
        """
        path = Path(folder) / PROFILES_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no aspect profiles (run the aspects stage)")
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        if "user_ids" not in arrays:  # written with encryption
            users = read_arrow(path.parent / USERS_FILE, encryption)
            arrays["user_ids"] = np.asarray(users.column("user_id").to_pylist(), str)
            arrays["user_attention"] = column_matrix(users.column("attention"))
        return cls(**{field.name: arrays[field.name] for field in dataclasses.fields(cls)})


def review_aspect_arrays(mentions: pd.DataFrame, num_reviews: int, aspects: Sequence[str],
                         polarity: str | None = "bert") -> tuple[np.ndarray, np.ndarray]:
    """Per review, its mentions of each aspect and the sum of their polarity.

    Args:
        mentions: the mention table (`aspects.mentions.MENTION_COLUMNS`): `review`
            (position in the reviews, 0..num_reviews-1), `aspect`, and the polarity
            column of `polarity` (`POLARITY_COLUMNS`) unless `polarity` is None.
        num_reviews: N.
        aspects: the A aspect terms; mentions of other terms are left out.
        polarity: "bert" or "vader"; None: the sums are zeros.

    Returns:
        (counts float32 [N, A], polarity sums float32 [N, A]).

    Raises:
        ValueError: an unknown source, a missing or non-finite polarity column, or a
            review position outside 0..N-1.
    """
    aspects = list(aspects)
    counts = np.zeros((num_reviews, len(aspects)), np.float32)
    sums = np.zeros_like(counts)
    column = None
    if polarity is not None:
        if polarity not in POLARITY_COLUMNS:
            raise ValueError(f"polarity {polarity!r}: choose one of {', '.join(POLARITY_COLUMNS)}")
        column = POLARITY_COLUMNS[polarity]
        if len(mentions) and column not in mentions:
            raise ValueError(f"the mention table has no {column!r} column (score it with "
                             "aspects.polarity.score_mentions)")
    if not len(mentions):
        return counts, sums
    index = pd.Index(aspects).get_indexer(mentions["aspect"].astype(str))
    review = mentions["review"].to_numpy(np.int64)
    keep = index >= 0
    if np.any((review < 0) | (review >= num_reviews)):
        raise ValueError(f"mention review positions must lie in 0..{num_reviews - 1}")
    np.add.at(counts, (review[keep], index[keep]), 1.0)
    if column is not None:
        values = mentions[column].to_numpy(np.float64)[keep]
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{column} has missing values (no sentiment model scored them: "
                             "use polarity 'vader')")
        np.add.at(sums, (review[keep], index[keep]), values)
    return counts, sums


def aspect_priors(counts: np.ndarray, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The aspects' mean polarity m_a and the population attention p_a.

    Args:
        counts, sums: [N, A] per review (or any rows that add up to the population).

    Returns:
        (m float32 [A], 0 for an aspect never mentioned; p float32 [A], summing to 1,
        or all 0 without mentions).
    """
    total = np.asarray(counts, np.float64).sum(axis=0)
    mean = np.divide(np.asarray(sums, np.float64).sum(axis=0), total,
                     out=np.zeros_like(total), where=total > 0)
    population = total / total.sum() if total.sum() > 0 else np.zeros_like(total)
    return mean.astype(np.float32), population.astype(np.float32)


def shrunk_polarity(counts: np.ndarray, sums: np.ndarray, prior: np.ndarray,
                    strength: float) -> np.ndarray:
    """Item quality (S + k m) / (n + k) (module docstring), float32 [G, A].

    Where n + k = 0 (k = 0 and no mention) it is the prior.

    Example:
        >>> shrunk_polarity(np.array([[2.0, 0.0]]), np.array([[2.0, 0.0]]),
        ...                 np.array([0.0, 0.5]), 2.0).tolist()
        [[0.5, 0.5]]
    """
    counts, sums = np.asarray(counts, np.float64), np.asarray(sums, np.float64)
    prior = np.broadcast_to(np.asarray(prior, np.float64), counts.shape)
    denominator = counts + strength
    out = np.divide(sums + strength * prior, denominator, out=prior.copy(),
                    where=denominator > 0)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def attention(counts: np.ndarray, population: np.ndarray, strength: float) -> np.ndarray:
    """User attention (c + k' p) / (C + k') (module docstring), float32 [G, A].

    Example:
        >>> attention(np.array([[3.0, 1.0], [0.0, 0.0]]), np.array([0.5, 0.5]), 0.0).tolist()
        [[0.75, 0.25], [0.0, 0.0]]
    """
    counts = np.asarray(counts, np.float64)
    total = counts.sum(axis=1, keepdims=True) + strength
    values = counts + strength * np.asarray(population, np.float64)
    return np.divide(values, total, out=np.zeros_like(values), where=total > 0).astype(np.float32)


def build_profiles(mentions: pd.DataFrame, reviews: pd.DataFrame, aspects: Sequence[str], *,
                   polarity: str = "bert", prior_strength: float = 2.0,
                   attention_strength: float = 1.0) -> AspectProfiles:
    """`AspectProfiles` of the TRAINING reviews `reviews` and their mention table.

    Args:
        mentions: the mention table of `reviews` with polarity (`review` = row position
            in `reviews`); only the training period's reviews may be given: every
            mention enters the profiles.
        reviews: the training reviews (`user_id`, `item_id`), N rows.
        aspects: the vocabulary's terms, in its order (A).
        polarity: the mention polarity read: "bert" (the run's classifier) or "vader".
        prior_strength: k of the item quality's shrinkage (>= 0).
        attention_strength: k' of the user attention's smoothing (>= 0).

    Returns:
        profiles of every user and item of `reviews` (ids sorted), items with no
        mention included (zero mentions, polarity 0).

    Raises:
        ValueError: a negative strength, or the mention table does not fit `reviews`.

    Example:
        >>> reviews = pd.DataFrame({"user_id": ["u", "u", "v"], "item_id": ["a", "b", "a"]})
        >>> mentions = pd.DataFrame({"review": [0, 0, 2], "aspect": ["sound", "cable", "sound"],
        ...                          "vader_compound": [1.0, -1.0, 0.0]})
        >>> p = build_profiles(mentions, reviews, ["sound", "cable"], polarity="vader",
        ...                    prior_strength=1.0, attention_strength=0.0)
        >>> p.item_polarity.tolist(), p.user_attention.tolist()
        ([[0.5, -1.0], [0.0, 0.0]], [[0.5, 0.5], [1.0, 0.0]])
    """
    if prior_strength < 0 or attention_strength < 0:
        raise ValueError("prior_strength and attention_strength must be >= 0")
    counts, sums = review_aspect_arrays(mentions, len(reviews), aspects, polarity)
    prior, population = aspect_priors(counts, sums)
    side_sums = {}
    for side in ("user", "item"):
        codes, uniques = pd.factorize(reviews[f"{side}_id"].astype(str), sort=True)
        grouped = np.zeros((len(uniques), len(aspects)), np.float64), \
            np.zeros((len(uniques), len(aspects)), np.float64)
        np.add.at(grouped[0], codes, counts)
        np.add.at(grouped[1], codes, sums)
        side_sums[side] = (np.asarray(uniques, str), *grouped)
    item_ids, item_counts, item_sums = side_sums["item"]
    quality = shrunk_polarity(item_counts, item_sums, prior, prior_strength)
    user_ids, user_counts, _ = side_sums["user"]
    return AspectProfiles(
        aspects=np.asarray(list(aspects), str), item_ids=item_ids,
        item_mentions=item_counts.astype(np.int32),
        item_polarity=np.where(item_counts > 0, quality, 0.0).astype(np.float32),
        user_ids=user_ids, user_attention=attention(user_counts, population, attention_strength),
        population_attention=population)
