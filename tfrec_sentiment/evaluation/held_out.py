"""Which held-out rows an evaluation covers: the catalogue, and the test rows whose item
is in it (`evaluate.evaluate` ranks them; `evaluated_counts` counts them without a model,
for checks made before any training, e.g. the update guardrail's); then the distinct
fresh (user, item) pairs among them (`fresh_pairs`) and the relevance sets each ranking
is scored on (`relevance_sets`: any, liked, disliked, and the same on rare items).

Example:

>>> train = pd.DataFrame({"user_id": ["u"], "item_id": ["a"]})
>>> items, in_catalogue, keep = held_out_rows(train, train, None, True)
>>> list(items), keep.tolist()
(['a'], [True])
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

__all__ = ["Fresh", "evaluated_counts", "fresh_pairs", "held_out_rows", "relevance_sets"]


def evaluated_counts(train: pd.DataFrame, test: pd.DataFrame, *,
                     catalogue: np.ndarray | None = None,
                     drop_unknown_items: bool = True) -> dict[str, int]:
    """The rows and users `evaluate` would evaluate, without a model (cheap).

    The same selection as `evaluate` (same arguments): the test rows whose item is in
    the catalogue (all rows with `drop_unknown_items` False), and their distinct users,
    before `evaluate`'s `max_users` sample (its `users_before_sample`).

    Returns:
        {"test_rows", "dropped_unknown_item", "users", "catalogue"}, as the same keys
        of `EvalResult.counts` when no user is sampled out.

    Raises:
        ValueError: the catalogue is empty or holds an id twice.

    Example:

    >>> train = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["a", "b"]})
    >>> test = pd.DataFrame({"user_id": ["u", "v", "v"], "item_id": ["b", "c", "d"]})
    >>> evaluated_counts(train, test)  # "v" reviewed only items outside the catalogue
    {'test_rows': 1, 'dropped_unknown_item': 2, 'users': 1, 'catalogue': 2}
    """
    items, in_catalogue, keep = held_out_rows(train, test, catalogue, drop_unknown_items)
    return {"test_rows": int(keep.sum()),
            "dropped_unknown_item": int((~in_catalogue).sum()) if drop_unknown_items else 0,
            "users": len(np.unique(test["user_id"].to_numpy(str)[keep])),
            "catalogue": len(items)}


def held_out_rows(train: pd.DataFrame, test: pd.DataFrame, catalogue: np.ndarray | None,
                  drop_unknown_items: bool) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """(catalogue str [I], test item in catalogue bool [N], test row evaluated bool [N]).

    Raises:
        ValueError: the catalogue is empty or holds an id twice.
    """
    items = pd.Index(np.unique(train["item_id"].to_numpy(str)) if catalogue is None
                     else np.asarray(catalogue, str))
    if not items.is_unique or len(items) == 0:
        raise ValueError("the catalogue must hold unique item ids and not be empty")
    in_catalogue = items.get_indexer(test["item_id"].to_numpy(str)) >= 0
    keep = in_catalogue if drop_unknown_items else np.ones(len(test), bool)
    return items, in_catalogue, keep


@dataclasses.dataclass
class Fresh:
    """The users' distinct held-out items not already seen, int / float [P] each."""

    user: np.ndarray  # user code
    item: np.ndarray  # item code (>= I: outside the catalogue)
    rating: np.ndarray  # mean held-out rating of the pair

    def pairs(self, chosen: np.ndarray, n_items: int) -> np.ndarray:
        """The chosen pairs inside the catalogue, int [P', 2], sorted by user then item."""
        inside = chosen & (self.item < n_items)
        return np.stack([self.user[inside], self.item[inside]], 1)


def fresh_pairs(user: np.ndarray, item: np.ndarray, rating: np.ndarray, seen_keys: np.ndarray,
                 n_universe: int) -> Fresh:
    """Distinct (user, item) pairs of the held-out rows, minus the seen ones (sorted keys).

    A pair held out more than once gets the mean of its ratings.
    """
    keys, inverse = np.unique(user * n_universe + item, return_inverse=True)
    mean = np.bincount(inverse, rating) / np.bincount(inverse)
    fresh = ~np.isin(keys, seen_keys, assume_unique=True)
    fresh_user, fresh_item = np.divmod(keys[fresh], n_universe)
    return Fresh(user=fresh_user, item=fresh_item, rating=mean[fresh])


def relevance_sets(fresh: Fresh, rare: np.ndarray, n_users: int, n_items: int,
                    liked_min_rating: float, disliked_max_rating: float
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (catalogue pairs int [P, 2], relevant count per user int [U]).

    Names: "any", "liked", "disliked", and the same with "few_" for rare items only.
    """
    sets = {}
    for prefix, subset in (("", np.ones(len(fresh.item), bool)), ("few_", rare[fresh.item])):
        for name, chosen in (("any", subset),
                             ("liked", subset & (fresh.rating >= liked_min_rating)),
                             ("disliked", subset & (fresh.rating <= disliked_max_rating))):
            sets[prefix + name] = (fresh.pairs(chosen, n_items),
                                   np.bincount(fresh.user[chosen], minlength=n_users))
    return sets
