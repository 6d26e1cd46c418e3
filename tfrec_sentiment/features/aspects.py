"""The `aspect` feature group: user aspect attention and item aspect quality, point-in-time.

The aspects stage (`pipeline/train.py`, `aspects/`) gives every TRAINING review its
mentions of each aspect and the sum of their polarity (`aspects.profiles.
review_aspect_arrays`). Those are additive per review, like the profile signals
(`profile.py`), so the feature tables treat them the same way:

- a training row sees only the reviews `leakage.held_out_sums` allows it (by default
  its user's and its item's reviews strictly before the row's time: point-in-time;
  never its own review);
- validation, test and serving rows see every training review (all are earlier);
- an unknown id (or a row with no earlier review) gets the empty profile: the prior.

Groups (A = number of aspects; formulas in `aspects/profiles.py`, the ones the
`explain` profiles use):

| side | "aspect" group | dim |
|------|----------------|-----|
| user | attention: share of the user's mentions per aspect, smoothed towards the population | A |
| item | quality: mean mention polarity shrunk towards the aspect's prior; log(1 + mentions) | 2A |

The priors (each aspect's mean polarity, the population's attention) are training-wide
constants, as `ReviewProfile`'s prior is: a row's own review moves them by one mention
in the whole training period, the documented leak of every prior (`tables.py`).

Example:

>>> arrays = AspectArrays(aspects=("sound", "cable"),
...     counts=np.array([[1, 0], [0, 1]], np.float32),
...     polarity=np.array([[0.8, 0], [0, -0.6]], np.float32))
>>> rows = {"user_index": np.array([0, 0]), "item_index": np.array([0, 0]),
...         "timestamp": np.array([1, 2])}
>>> arrays.training_features("user", rows, 1, "past_only").round(2).tolist()
[[0.5, 0.5], [0.75, 0.25]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
from scipy import sparse

from tfrec_sentiment.aspects.profiles import aspect_priors, attention, shrunk_polarity
from tfrec_sentiment.features import leakage
from tfrec_sentiment.features.common import FeatureError

ASPECT_GROUP = "aspect"


@dataclasses.dataclass(frozen=True)
class AspectArrays:
    """Per training row: mentions of each aspect and their summed polarity.

    Attributes:
        aspects: the A aspect terms.
        counts: float32 [N, A], mentions per training row (the tables' row order).
        polarity: float32 [N, A], the sum of those mentions' polarity.
        prior_strength: k of the item quality's shrinkage (`shrunk_polarity`).
        attention_strength: k' of the user attention's smoothing (`attention`).

    Raises:
        FeatureError: shapes that do not match.
    """

    aspects: tuple[str, ...]
    counts: np.ndarray
    polarity: np.ndarray
    prior_strength: float = 2.0
    attention_strength: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "aspects", tuple(str(a) for a in self.aspects))
        shape = (len(self.counts), len(self.aspects))
        for name in ("counts", "polarity"):
            value = np.asarray(getattr(self, name), np.float32)
            if value.shape != shape:
                raise FeatureError(f"aspect {name} has shape {value.shape}; expected {shape} "
                                   "(training rows x aspects)")
            object.__setattr__(self, name, value)
        prior, population = aspect_priors(self.counts, self.polarity)
        object.__setattr__(self, "_priors", (prior, population))

    @property
    def num_aspects(self) -> int:
        return len(self.aspects)

    def dim(self, side: str) -> int:
        """The group's width on `side`: A for users, 2A for items."""
        return self.num_aspects * (2 if side == "item" else 1)

    def totals(self, index: np.ndarray, num_ids: int) -> np.ndarray:
        """Sums per id of the training rows: float32 [num_ids, 2A] (counts | polarity)."""
        index = np.asarray(index)
        members = sparse.csr_matrix((np.ones(len(index)), (index, np.arange(len(index)))),
                                    shape=(num_ids, len(index)))
        values = np.concatenate([self.counts, self.polarity], 1).astype(np.float64)
        return np.asarray(members @ values, np.float32)

    def features(self, side: str, sums: np.ndarray) -> np.ndarray:
        """The group from sums [G, 2A] (`totals`): float32 [G, dim(side)]."""
        a = self.num_aspects
        counts, polarity = sums[:, :a], sums[:, a:]
        prior, population = self._priors
        if side == "user":
            return attention(counts, population, self.attention_strength)
        quality = shrunk_polarity(counts, polarity, prior, self.prior_strength)
        return np.concatenate([quality, np.log1p(np.maximum(counts, 0.0))], 1).astype(np.float32)

    def table(self, side: str, rows: Mapping[str, np.ndarray], num_ids: int) -> np.ndarray:
        """Full training-period features of ids 0..num_ids-1 (ids added after training
        have no mention), with row 0 the empty profile: float32 [num_ids + 1, dim]."""
        sums = self.totals(rows[f"{side}_index"], num_ids)
        return self.features(side, np.concatenate([np.zeros_like(sums[:1]), sums]))

    def training_features(self, side: str, rows: Mapping[str, np.ndarray], num_items: int,
                          mode: str) -> np.ndarray:
        """Per training row, the features of the reviews it may see: float32 [N, dim].

        Args:
            side: "user" or "item".
            rows: the tables' training rows ("user_index", "item_index", "timestamp").
            num_items: I, to code (user, item) pairs (leave-one-out).
            mode: `FeatureConfig.training_features` ("past_only" or "leave_one_out").
        """
        key = np.asarray(rows[f"{side}_index"])
        num_ids = int(key.max()) + 1 if len(key) else 0
        own = {**{k: rows[k] for k in ("user_index", "item_index", "timestamp")},
               "signals": np.concatenate([self.counts, self.polarity], 1)}
        held = leakage.held_out_sums(own, {"signals": self.totals(key, num_ids)}, side,
                                     num_items, mode)
        return self.features(side, held["signals"])

    def arrays(self) -> dict[str, np.ndarray]:
        """What `storage.py` saves: {"aspect_counts", "aspect_polarity", "aspect_terms"}."""
        return {"aspect_counts": self.counts, "aspect_polarity": self.polarity,
                "aspect_terms": np.asarray(self.aspects, str)}

    def settings(self) -> dict:
        """The JSON part (`storage.py`): the two strengths."""
        return {"prior_strength": self.prior_strength,
                "attention_strength": self.attention_strength}

    @classmethod
    def from_saved(cls, arrays: Mapping[str, np.ndarray], settings: Mapping) -> AspectArrays:
        """Inverse of `arrays` + `settings`."""
        return cls(aspects=tuple(arrays["aspect_terms"].tolist()),
                   counts=arrays["aspect_counts"], polarity=arrays["aspect_polarity"],
                   **settings)

