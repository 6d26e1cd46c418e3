"""The learned score (`score_mode="learned"`): per-bucket weights of standardised signals.

    score(u, i) = sum_c w_c[b(u)] * z_c(u, i)

Components c (raw values from `RecommenderServing.score_components`, [U, I] each):

- "retrieval": the tower dot product (with `item_similarity` it already holds the
  item-to-item term); trained with the logQ correction, so popularity is removed;
- "rating": the rating head's predicted rating;
- "popularity": log(1 + training reviews of item i) (0 for an unknown item);
- "knn": the user's item-kNN similarity profile at i (features/similarity.py: the mean
  shrunk cosine similarity of the user's history items to i; the `ItemKNN` baseline's
  signal); 0 for unknown users and items. Only when the tables hold the profiles.
  Above `FeatureConfig.similarity_max_items` items the tables hold them projected,
  p Q [r], and the component is (p Q) Q[i]^T, the projection's approximation of p[i].

z_c standardises component c PER USER ROW over the items scored (mean 0, variance 1;
a constant row gives 0), as `scoring.standardize_rows` does: a ranking is a per-user
affair, and the raw scales differ by user (an OOV user's retrieval scores are small,
a long history gives large kNN sums), so a weight means "share of the user's spread"
whatever the user. A global scale would let the users with the widest raw spread
dictate the blend.

b(u) is the user's bucket by number of TRAINING reviews, `history_buckets(bounds)`
(default bounds (1, 2, 5): "0" (unknown user, the OOV path), "1", "2-4", "5+"); the
serving module counts them from the training rows it already serves (the exclusion
table), and an unknown user is in bucket "0".

The fit (`fit_blend`) re-ranks precomputed component matrices of the VALIDATION users
(no retraining): it scores every weight vector of a grid on the simplex (step
1 / `steps`; its corners are the single signals: "popularity only", "retrieval
only", ...) by the mean of NDCG@K on any validation item and NDCG@K on liked ones
(>= `liked_min_rating`), computed with `evaluation.metrics.Ranking` exactly as the
evaluation does (training items excluded), and keeps each bucket's best (ties: the
earlier grid point; the grid starts at "retrieval only"). A bucket with fewer than
`min_users` validation users takes the weights fitted on all validation users
("pooled"). The test part is never read: `fit_blend` takes the train and validation
frames only.

New users scored from their reviews (`score_catalogue_from_reviews`, the exported
`recommend_from_reviews`, the cold-start protocol) have their own weights, a
`BlendWeights` with the same buckets counted by reviews GIVEN: a 5-core data set has no
validation user with one training review, and a user's first reviews are not their
latest. `TrainedRecommender.fit_new_user_blend` fits bucket b (lower bound n_b >= 1) on the
validation users with at least n_b training reviews, each given only their FIRST n_b
training reviews through that same new-user path (dated at the end of training,
without helpful votes, as served), with `fit_pooled`; a bucket with fewer than
`min_users` such users (but 2 or more) by the one-SE rule below whatever the rule (few
users: the simplest point within one standard error of the best), and bucket "0" and a
bucket with fewer than 2 keep the known users' weights.

With `rule="one_se"` (opt-in: `RecsysConfig.blend_rule`) the choice guards against
fitting the noise of few validation hits (on a sparse data set NDCG@10 rests on a
handful of users, and the best of hundreds of grid points is an optimistic pick):
among the grid points whose mean objective is within one standard error of the
best's (the SE of the paired per-user differences to the best point), it keeps one with the fewest
non-zero weights, the highest mean among those; and a bucket keeps the pooled
weights unless its own point beats them, on the bucket's users, by more than one
paired standard error ("pooled (within 1 SE)"). This is the one-standard-error rule
of Hastie, Tibshirani & Friedman, The Elements of Statistical Learning (2nd ed.,
section 7.10), with "simpler" read as "fewer signals" and "shared by all buckets".

With `rule="cross_fit"` (opt-in) the way of fitting is itself chosen on held-out
validation users: "per bucket" (the "best" rule), "pooled" (one point for all) or a
single component, whichever scores best when fitted on one half of the users and
scored on the other (`blend_cross_fit.py`); the chosen way is then fitted on all.

This module fits; the weights and the in-graph blend are `blend_weights.py`, the
validation users and the per-user objective `blend_validation.py` (all re-exported
here).

Example:

>>> import numpy as np
>>> grid = simplex_grid(2, steps=2)
>>> grid.tolist()  # the first component alone comes first
[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
>>> blend = BlendWeights(("retrieval", "popularity"), (1,), np.array([[0.0, 1.0], [1.0, 0.0]]))
>>> blend.bucket_of(np.array([0, 3])).tolist()  # bucket "0" (unknown user), "1+"
[0, 1]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from tfrec_sentiment.recsys.blend_cross_fit import cross_fit_procedure
from tfrec_sentiment.recsys.blend_validation import (
    ValidationSet,
    candidate_columns,
    objective_by_user,
)
from tfrec_sentiment.recsys.blend_weights import (
    COMPONENTS,
    BlendWeights,
    blend_scores,
    simplex_grid,
    standardize_rows,
)
from tfrec_sentiment.recsys.config import BLEND_RULES

__all__ = ["COMPONENTS", "BlendWeights", "ValidationSet", "blend_scores", "candidate_columns",
           "choose_point", "fit_blend", "fit_pooled", "grid_objectives", "objective_by_user",
           "simplex_grid", "standardize_rows"]


def fit_blend(components: Mapping[str, np.ndarray], data: ValidationSet,
              bounds: Sequence[int], *, k: int = 10, steps: int = 10,
              min_users: int = 30, rule: str = "best") -> BlendWeights:
    """Per-bucket simplex weights maximising the validation objective (module doc).

    Args:
        components: name -> float [U, I] raw component scores of `data.users` over the
            catalogue (the first name is the tie-break favourite).
        data: the validation users (`ValidationSet.build`).
        bounds: history-bucket lower bounds.
        k: the NDCG cut-off.
        steps: grid resolution (weights in multiples of 1 / steps).
        min_users: buckets with fewer validation users take the pooled weights.
        rule: "best" (the best mean), "one_se" or "cross_fit" (module doc).

    Returns:
        `BlendWeights` with a per-bucket report.

    Raises:
        ValueError: an unknown `rule`.
    """
    if rule not in BLEND_RULES:
        raise ValueError(f"fit_blend: rule {rule!r} is not one of {BLEND_RULES}")
    names = tuple(components)
    blend = BlendWeights.single(names[0], names, bounds)
    if len(data.users) == 0:
        blend.report = {label: {"users": 0, "source": "no validation users"}
                        for label in blend.labels}
        return blend
    grid, per_user = grid_objectives(components, data, k, steps)
    buckets = blend.bucket_of(data.history)
    corners = _corners(grid, names)
    signals = (grid > 0).sum(axis=1)  # the simpler point has fewer signals

    inner = "best" if rule == "cross_fit" else rule  # cross_fit then picks a procedure

    def best(members: np.ndarray) -> tuple[int, np.ndarray]:
        return choose_point(per_user[:, members], signals, inner), per_user[:, members].mean(1)

    pooled, pooled_means = best(np.ones(len(buckets), bool))
    for b, label in enumerate(blend.labels):
        members = buckets == b
        count = int(members.sum())
        if count >= min_users:
            point, means = best(members)
            source = "fitted"
            if rule == "one_se" and point != pooled and means[point] - means[pooled] <= (
                    _paired_se(per_user[[pooled, point]][:, members], 1)[0]):
                point, means = pooled, pooled_means
                source = "pooled (within 1 SE)"
        else:
            point, means = pooled, pooled_means
            source = "pooled"
        blend.weights[b] = grid[point]
        info = {"users": count, "source": source, "objective": float(means[point])}
        if count:
            own = per_user[:, members].mean(axis=1)
            info["objective"] = float(own[point])
            info.update({key: float(own[p]) for key, p in corners.items()})
        blend.report[label] = info
    if rule == "cross_fit":
        _apply_cross_fit(blend, per_user, buckets, grid, names, min_users,
                         {"pooled": pooled, **corners})
    chosen = [int(np.argmin(np.abs(grid - row).max(1))) for row in blend.weights]
    by_user = per_user[np.asarray(chosen)[buckets], np.arange(len(buckets))]
    blend.report["all"] = {"users": len(buckets), "weights": grid[pooled].tolist(),
                           "objective": float(pooled_means[pooled]),
                           "blended": float(by_user.mean()),
                           **{key: float(pooled_means[p]) for key, p in corners.items()},
                           **blend.report.pop("cross_fit", {})}
    return blend


def _apply_cross_fit(blend: BlendWeights, per_user: np.ndarray, buckets: np.ndarray,
                     grid: np.ndarray, names: Sequence[str], min_users: int,
                     points: Mapping[str, int]) -> None:
    """Rule "cross_fit": the procedure the cross-fit chose (`blend_cross_fit`), as
    fitted on all the validation users: "per bucket" is the weights `fit_blend` has
    just set by the "best" rule, the others one grid point for every bucket (`points`:
    "pooled" and the "only_<c>" corners); the held-out objectives go to the report."""
    procedure, held_out = cross_fit_procedure(per_user, buckets, len(blend.labels), grid,
                                              names, min_users)
    for b, label in enumerate(blend.labels):
        blend.report[label]["source"] = f"cross-fit: {procedure}"
        if procedure == "per bucket":  # weights and objectives as the loop set them
            continue
        blend.weights[b] = grid[points[procedure]]
        members = buckets == b
        if members.any():
            blend.report[label]["objective"] = float(per_user[points[procedure],
                                                              members].mean())
    blend.report["cross_fit"] = {"cross_fit": procedure, "cross_fit_held_out": held_out}


def fit_pooled(components: Mapping[str, np.ndarray], data: ValidationSet, *, k: int = 10,
               steps: int = 10, rule: str = "best") -> tuple[np.ndarray, dict]:
    """One weight vector for all of `data`'s users (`fit_blend` without buckets).

    Args:
        components, data, k, steps, rule: as `fit_blend` (`data` must have users).

    Returns:
        (weights float [C] in `components` order, report {"users", "objective" and
        "only_<c>" of each single component: mean objectives}).

    Raises:
        ValueError: an unknown `rule`, or no users.
    """
    if rule not in BLEND_RULES:
        raise ValueError(f"fit_pooled: rule {rule!r} is not one of {BLEND_RULES}")
    if len(data.users) == 0:
        raise ValueError("fit_pooled: no validation users")
    grid, per_user = grid_objectives(components, data, k, steps)
    inner = "best" if rule == "cross_fit" else rule
    point = choose_point(per_user, (grid > 0).sum(axis=1), inner)
    means, extra = per_user.mean(axis=1), {}
    corners = _corners(grid, tuple(components))
    if rule == "cross_fit":  # "pooled" is `point`; a single component is its corner
        procedure, held_out = cross_fit_procedure(per_user, np.zeros(per_user.shape[1], int),
                                                  1, grid, tuple(components), 1,
                                                  with_buckets=False)
        point = corners.get(procedure, point)
        extra = {"cross_fit": procedure, "cross_fit_held_out": held_out}
    return grid[point], {"users": len(data.users), "objective": float(means[point]),
                         **{key: float(means[p]) for key, p in corners.items()}, **extra}


def grid_objectives(components: Mapping[str, np.ndarray], data: ValidationSet, k: int,
                    steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The simplex grid float [P, C] and each point's per-user objective float [P, U].

    Exact shortcuts (each point's objective is the one of its full blend
    sum_c w_c z_c): `candidate_columns` drops the items no weight can bring into the
    top k, and `_grid_blends` reuses the partial sums of the leading weights that a
    point shares with the previous one (the grid is in lexicographic order).
    """
    names = tuple(components)
    z = {name: standardize_rows(components[name]) for name in names}
    z, data, counts = candidate_columns(z, data, k)  # exact: the same objectives, cheaper
    grid = simplex_grid(len(names), steps)
    per_user = np.stack([objective_by_user(blended, data, k, counts, copy=False)
                         for blended in _grid_blends([z[n] for n in names], grid)])
    return grid, per_user


def _grid_blends(z: Sequence[np.ndarray], grid: np.ndarray) -> Iterator[np.ndarray]:
    """Each grid point's blend sum_c w_c z_c, float64 [U, W], a new array each time.

    The terms are added left to right, as `sum` adds them, so every score is the same
    float; a zero weight's term is left out (adding +-0 changes no score but the sign
    of a zero, which no ranking sees). The partial sum of the first j terms is kept
    while the next points share those j weights: with the lexicographic grid of C
    components most points then cost two products and two sums, not C of each.
    """
    depth = len(z)
    keys: list[tuple | None] = [None] * depth
    partial: list[np.ndarray | None] = [None] * depth
    for w in grid:
        total: np.ndarray | None = None
        fresh = False  # total is an array made for this point (not a kept partial sum)
        for j in range(depth):
            key = tuple(w[:j + 1])
            if j < depth - 1 and keys[j] == key:
                total, fresh = partial[j], False
                continue
            if w[j] != 0:
                term = w[j] * z[j]
                total, fresh = (term, True) if total is None else (total + term, True)
            if j < depth - 1:
                keys[j], partial[j] = key, total
                fresh = False  # kept: the caller must not write into it
        if total is None:  # no weight at all (not a simplex point)
            total, fresh = np.zeros_like(z[0]), True
        yield total if fresh else total.copy()


def _corners(grid: np.ndarray, names: Sequence[str]) -> dict[str, int]:
    """"only_<c>" -> the grid row of component c alone."""
    return {f"only_{n}": int(np.flatnonzero(grid[:, c] == 1.0)[0]) for c, n in enumerate(names)}


def choose_point(per_user: np.ndarray, signals: np.ndarray, rule: str = "one_se") -> int:
    """The chosen grid point of per-user objectives float [P, U] (module doc).

    Args:
        per_user: objective of every grid point (rows) for every user (columns).
        signals: int [P], non-zero weights of each point (the simpler has fewer).
        rule: "best" (the highest mean, the first on ties) or "one_se".

    Example:

    >>> per_user = np.array([[0.5, 0.5, 0.5, 0.5], [0.6, 0.2, 0.6, 0.2]])
    >>> choose_point(per_user, np.array([2, 1]), "best"), choose_point(per_user, np.array([2, 1]))
    (0, 1)
    """
    means = per_user.mean(axis=1)
    top = int(np.argmax(means))  # the first maximum: ties to earlier points
    if rule == "best":
        return top
    within = means >= means[top] - _paired_se(per_user, top)
    fewest = within & (signals == signals[within].min())
    return int(np.flatnonzero(fewest)[np.argmax(means[fewest])])


def _paired_se(per_user: np.ndarray, reference: int) -> np.ndarray:
    """Standard error [P] of the mean per-user difference of each point to `reference`
    (per_user float [P, U]; 0 for the reference itself and for fewer than 2 users)."""
    users = per_user.shape[1]
    if users < 2:
        return np.zeros(len(per_user))
    difference = per_user - per_user[reference][None, :]
    return difference.std(axis=1, ddof=1) / np.sqrt(users)
