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
from pathlib import Path

import numpy as np

from tfrec_sentiment.io import atomic_path

PROFILES_FILE = "aspect_profiles.npz"


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

    def save(self, folder: str | Path) -> Path:
        """Writes `folder/aspect_profiles.npz` atomically; returns its path."""
        path = Path(folder) / PROFILES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as staging:
            np.savez(staging, **{field.name: np.asarray(getattr(self, field.name))
                                 for field in dataclasses.fields(self)})
        return path

    @classmethod
    def load(cls, folder: str | Path) -> AspectProfiles:
        """Reads what `save` wrote in `folder`.

        Raises:
            FileNotFoundError: `folder` holds no `aspect_profiles.npz`.
        """
        path = Path(folder) / PROFILES_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no aspect profiles (run the aspects stage)")
        with np.load(path, allow_pickle=False) as arrays:
            return cls(**{field.name: arrays[field.name] for field in dataclasses.fields(cls)})
