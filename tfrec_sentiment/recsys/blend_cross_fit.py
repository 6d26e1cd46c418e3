"""The learned score's `rule="cross_fit"`: which way of fitting the weights generalises.

A weight fit picks the best of hundreds of grid points on the validation users; on a
sparse data set that best point is an optimistic pick (NDCG@10 rests on a handful of
hits) and may lose, on new users, to a single signal such as popularity. The
cross-fit estimates each fitting PROCEDURE's objective on users it did not see:

- "per bucket": each history bucket's best point (a bucket with too few users takes
  the pooled point), the "best" rule of `fit_blend`;
- "pooled": one best point for every user;
- "only_<c>": component c alone (a grid corner; nothing is fitted).

The validation users are split in two halves at random (a fixed seed), each
procedure is fitted on one half and scored (mean per-user objective) on the other,
both ways, over `repeats` random splits; the procedure with the highest mean
held-out objective is chosen (ties: the earlier one in the order above) and then
fitted on all the validation users. A bucket needs `min_users` // 2 users of a
half to be fitted on its own there (a half holds about half of each bucket).
This is K-fold cross-validation of the selection step itself (Hastie, Tibshirani &
Friedman, The Elements of Statistical Learning, 2nd ed., section 7.10.2: the
selection must be inside the folds); the test part is never read.

Example:

>>> import numpy as np
>>> per_user = np.array([[0.9, 0.0, 0.0, 0.0], [0.4, 0.4, 0.4, 0.4]])  # 2 points, 4 users
>>> grid = np.array([[1.0, 0.0], [0.0, 1.0]])
>>> name, scores = cross_fit_procedure(per_user, np.zeros(4, int), 1, grid,
...                                    ("retrieval", "popularity"), min_users=2)
>>> name, [round(v, 3) for v in scores.values()]  # per bucket, pooled, only_...
('only_popularity', [0.2, 0.2, 0.225, 0.4])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

CROSS_FIT_REPEATS = 10
CROSS_FIT_SEED = 0


def procedure_points(per_user: np.ndarray, buckets: np.ndarray, num_buckets: int,
                     grid: np.ndarray, names: Sequence[str], min_users: int,
                     with_buckets: bool = True
                     ) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The procedures (module doc): name -> fit(members bool [U]) -> the grid point of
    each bucket, int [num_buckets], fitted on the `members` users only.

    Args:
        per_user: float [P, U], each grid point's objective for each validation user.
        buckets: int [U], each user's history bucket (0 .. num_buckets - 1).
        num_buckets: the number of buckets.
        grid: float [P, C], the simplex grid (its corners are the single components).
        names: the C component names.
        min_users: a bucket with fewer fitting users takes the pooled point.
        with_buckets: False leaves "per bucket" out (`fit_pooled`: one bucket).
    """
    def pooled(members: np.ndarray) -> np.ndarray:
        return np.full(num_buckets, int(np.argmax(per_user[:, members].mean(axis=1))))

    def per_bucket(members: np.ndarray) -> np.ndarray:
        points = pooled(members)
        for b in range(num_buckets):
            own = members & (buckets == b)
            if own.sum() >= min_users:
                points[b] = int(np.argmax(per_user[:, own].mean(axis=1)))
        return points

    procedures: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    if with_buckets:
        procedures["per bucket"] = per_bucket
    procedures["pooled"] = pooled
    for c, name in enumerate(names):
        corner = int(np.flatnonzero(grid[:, c] == 1.0)[0])
        procedures[f"only_{name}"] = lambda members, corner=corner: np.full(num_buckets, corner)
    return procedures


def cross_fit_procedure(per_user: np.ndarray, buckets: np.ndarray, num_buckets: int,
                        grid: np.ndarray, names: Sequence[str], min_users: int,
                        with_buckets: bool = True, repeats: int = CROSS_FIT_REPEATS,
                        seed: int = CROSS_FIT_SEED) -> tuple[str, dict[str, float]]:
    """The procedure with the best held-out objective (module doc).

    Args:
        per_user, buckets, num_buckets, grid, names, min_users, with_buckets: as
            `procedure_points` (`min_users` is the full set's; a half uses half of it).
        repeats: random two-way splits of the users.
        seed: the splits' seed.

    Returns:
        (the chosen procedure's name, {name: mean held-out objective}). With fewer
        than 2 users nothing can be held out: ("pooled" or "per bucket", {}).
    """
    users = per_user.shape[1]
    procedures = procedure_points(per_user, buckets, num_buckets, grid, names,
                                  max(1, min_users // 2), with_buckets)
    if users < 2:
        return next(iter(procedures)), {}
    rng = np.random.default_rng(seed)
    totals = dict.fromkeys(procedures, 0.0)
    for _ in range(repeats):
        first = np.zeros(users, bool)
        first[rng.permutation(users)[:users // 2]] = True
        for fit, held in ((first, ~first), (~first, first)):
            for name, procedure in procedures.items():
                points = procedure(fit)[buckets[held]]
                totals[name] += float(per_user[points, np.flatnonzero(held)].mean())
    scores = {name: total / (2 * repeats) for name, total in totals.items()}
    return max(scores, key=scores.get), scores  # the first maximum on ties
