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

z_c standardises component c PER USER ROW over the items scored (mean 0, variance 1;
a constant row gives 0), as `serving._standardize_rows` does: a ranking is a per-user
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

Example:

>>> import numpy as np
>>> grid = simplex_grid(2, steps=2)
>>> grid.tolist()  # the first component alone comes first
[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
>>> blend = BlendWeights(("retrieval", "popularity"), (1,), np.array([[0.0, 1.0], [1.0, 0.0]]))
>>> blend.bucket_of(np.array([0, 3])).tolist()  # bucket "0" (unknown user), "1+"
[0, 1]
>>> blend.apply({"retrieval": np.array([[1.0, 0.0], [1.0, 0.0]]),
...              "popularity": np.array([[0.0, 2.0], [0.0, 2.0]])},
...             np.array([0, 3])).round(3).tolist()  # user 0 by popularity, user 1 by retrieval
[[-1.0, 1.0], [1.0, -1.0]]
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_sentiment.data.splits import user_hash_share
from tfrec_sentiment.evaluation.evaluate import history_buckets
from tfrec_sentiment.evaluation.metrics import EXCLUDED, Ranking
from tfrec_sentiment.recsys.config import BLEND_RULES

COMPONENTS = ("retrieval", "rating", "popularity", "knn")
_EPSILON = 1e-12  # variance floor of the row standardisation (as serving's)


@dataclasses.dataclass
class BlendWeights:
    """Fitted weights: one row per user-history bucket.

    Attributes:
        components: component names, the columns of `weights` (a subset of COMPONENTS).
        bounds: lower bounds of the history buckets (`history_buckets`).
        weights: float [B, C], B = len(history_buckets(bounds)), rows on the simplex.
        report: per bucket label: {"users", "source" ("fitted" / "pooled" / "pooled (within 1 SE)"),
            "objective", and the objective of each single component ("only_<c>")}.
    """

    components: tuple[str, ...]
    bounds: tuple[int, ...]
    weights: np.ndarray
    report: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.components = tuple(self.components)
        self.bounds = tuple(int(b) for b in self.bounds)
        self.weights = np.asarray(self.weights, np.float32)
        unknown = set(self.components) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown blend components {sorted(unknown)}; have {COMPONENTS}")
        shape = (len(self.labels), len(self.components))
        if self.weights.shape != shape:
            raise ValueError(f"blend weights have shape {self.weights.shape}, expected {shape}")

    @property
    def labels(self) -> list[str]:
        """Bucket labels, e.g. ["0", "1", "2-4", "5+"]."""
        return [label for label, _, _ in history_buckets(self.bounds)]

    @property
    def edges(self) -> np.ndarray:
        """Lower bound of every bucket but the first, int [B - 1]."""
        return np.array([low for _, low, _ in history_buckets(self.bounds)][1:], np.int64)

    @classmethod
    def single(cls, component: str, components: Sequence[str],
               bounds: Sequence[int]) -> BlendWeights:
        """Every bucket ranks by `component` alone (e.g. the unfitted "retrieval")."""
        weights = np.zeros((len(history_buckets(bounds)), len(components)), np.float32)
        weights[:, list(components).index(component)] = 1.0
        return cls(tuple(components), tuple(bounds), weights)

    def bucket_of(self, history: np.ndarray) -> np.ndarray:
        """Bucket index int [U] of training-review counts [U]."""
        return np.searchsorted(self.edges, np.asarray(history), side="right")

    def apply(self, components: Mapping[str, np.ndarray], history: np.ndarray) -> np.ndarray:
        """The blended scores float [U, I] (numpy; the graph's twin is `blend_scores`)."""
        weights = self.weights[self.bucket_of(history)]  # [U, C]
        out = 0.0
        for c, name in enumerate(self.components):
            out = out + weights[:, c:c + 1] * standardize_rows(components[name])
        return np.asarray(out, np.float64)

    def to_dict(self) -> dict:
        """JSON-ready form (saved in recsys.json)."""
        return {"components": list(self.components), "bounds": list(self.bounds),
                "weights": self.weights.round(6).tolist(), "report": self.report}

    @classmethod
    def from_dict(cls, values: Mapping) -> BlendWeights:
        return cls(tuple(values["components"]), tuple(values["bounds"]),
                   np.asarray(values["weights"], np.float32), dict(values.get("report", {})))

    def table(self) -> str:
        """Markdown table: bucket -> weights (and validation users / objective)."""
        head = "| bucket | users | source | " + " | ".join(self.components) + " | objective |"
        lines = [head, "|" + "---|" * (len(self.components) + 4)]
        for label, row in zip(self.labels, self.weights):
            info = self.report.get(label, {})
            objective = info.get("objective")
            lines.append(f"| {label} | {info.get('users', 0)} | {info.get('source', '-')} | "
                         + " | ".join(f"{w:.2f}" for w in row) + " | "
                         + ("-" if objective is None else f"{objective:.4f}") + " |")
        return "\n".join(lines)


def standardize_rows(scores: np.ndarray) -> np.ndarray:
    """Each row to mean 0 and variance 1 (a constant row to 0), float64 [U, I]."""
    scores = np.asarray(scores, np.float64)
    mean = scores.mean(axis=1, keepdims=True)
    return (scores - mean) / np.sqrt(scores.var(axis=1, keepdims=True) + _EPSILON)


def blend_scores(components: Mapping[str, tf.Tensor], history: tf.Tensor,
                 weights: tf.Tensor, edges: tf.Tensor,
                 names: Sequence[str], moments: Mapping | None = None) -> tf.Tensor:
    """In-graph blend (core TF ops): sum_c weights[bucket(u), c] * z_c(u, i).

    Args:
        components: name -> float32 [U, I] raw component scores.
        history: training reviews per user, int64 [U] (0 for unknown users).
        weights: float32 [B, C], columns in `names` order.
        edges: int64 [B - 1], lower bounds of buckets 1..B-1.
        names: the component names, C of them.
        moments: name -> (mean, variance) float32 [U] to standardise with instead of
            each row's own (a few candidates scored, the moments of the whole
            catalogue: `RecommenderServing.score_columns`); None: the row's own.

    Returns:
        float32 [U, I].
    """
    bucket = tf.reduce_sum(
        tf.cast(history[:, None] >= edges[None, :], tf.int32), axis=1)  # [U]
    chosen = tf.gather(weights, bucket)  # [U, C]
    out = None
    for c, name in enumerate(names):
        given = None if moments is None else moments[name]
        part = chosen[:, c:c + 1] * _standardize(components[name], given)
        out = part if out is None else out + part
    return out


def _standardize(scores: tf.Tensor, moments: tuple | None = None) -> tf.Tensor:
    if moments is None:
        mean, variance = tf.nn.moments(scores, axes=[1], keepdims=True)
    else:  # (mean, variance) [U] given
        mean, variance = moments[0][:, None], moments[1][:, None]
    return (scores - mean) * tf.math.rsqrt(variance + _EPSILON)


def simplex_grid(n_components: int, steps: int) -> np.ndarray:
    """Weight vectors float [P, C] >= 0 summing to 1, in multiples of 1 / steps.

    Ordered by descending first weight (then the second, ...), so the first component
    alone ("retrieval only") is the first point and wins ties.
    """
    points = [p for p in itertools.product(range(steps, -1, -1), repeat=n_components)
              if sum(p) == steps]
    return np.array(points, np.float64) / steps


@dataclasses.dataclass
class ValidationSet:
    """What the fit ranks: validation users' exclusions, relevant pairs and buckets.

    Attributes:
        users: str [U], validation users with a fresh catalogue item.
        history: int [U], their training reviews.
        excluded: int [E, 2] (user row, item column) training pairs, left out of rankings.
        any_pairs, liked_pairs: int [P, 2] fresh validation pairs (all; rated >= liked).
    """

    users: np.ndarray
    history: np.ndarray
    excluded: np.ndarray
    any_pairs: np.ndarray
    liked_pairs: np.ndarray

    @classmethod
    def build(cls, train: pd.DataFrame, validation: pd.DataFrame, catalogue: np.ndarray,
              liked_min_rating: float) -> ValidationSet:
        """From the training and validation frames (`user_id`, `item_id`, `rating`).

        A validation pair the user already has in training is not relevant (as in the
        evaluation); a pair held out twice takes its mean rating.
        """
        items = pd.Index(np.asarray(catalogue, str))
        val_item = items.get_indexer(validation["item_id"].to_numpy(str))
        keep = val_item >= 0
        val_user_ids = validation["user_id"].to_numpy(str)[keep]
        users = pd.Index(np.unique(val_user_ids))
        train_user = users.get_indexer(train["user_id"].to_numpy(str))
        train_item = items.get_indexer(train["item_id"].to_numpy(str))
        history = np.bincount(train_user[train_user >= 0], minlength=len(users))
        known = (train_user >= 0) & (train_item >= 0)
        n_items = len(items)
        seen = np.unique(train_user[known] * n_items + train_item[known])
        keys = users.get_indexer(val_user_ids) * n_items + val_item[keep]
        unique, inverse = np.unique(keys, return_inverse=True)
        rating = validation["rating"].to_numpy(np.float64)[keep]
        mean = np.bincount(inverse, rating) / np.bincount(inverse)
        fresh = ~np.isin(unique, seen)
        pairs = np.stack(np.divmod(unique[fresh], n_items), 1)
        liked = pairs[mean[fresh] >= liked_min_rating]
        has = np.isin(np.arange(len(users)), pairs[:, 0])  # users with a fresh item
        renumber = np.cumsum(has) - 1
        excluded = np.stack(np.divmod(seen, n_items), 1)
        excluded = excluded[has[excluded[:, 0]]]

        def keep_rows(p: np.ndarray) -> np.ndarray:
            return np.stack([renumber[p[:, 0]], p[:, 1]], 1).reshape(-1, 2)

        return cls(users=users.to_numpy()[has], history=history[has],
                   excluded=keep_rows(excluded), any_pairs=keep_rows(pairs),
                   liked_pairs=keep_rows(liked))

    def subset(self, keep: np.ndarray) -> ValidationSet:
        """The users where `keep` (bool [U]) holds, renumbered in order, with their pairs."""
        keep = np.asarray(keep, bool)
        renumber = np.cumsum(keep) - 1

        def rows(pairs: np.ndarray) -> np.ndarray:
            pairs = pairs[keep[pairs[:, 0]]]
            return np.stack([renumber[pairs[:, 0]], pairs[:, 1]], 1).reshape(-1, 2)

        return ValidationSet(users=self.users[keep], history=self.history[keep],
                             excluded=rows(self.excluded), any_pairs=rows(self.any_pairs),
                             liked_pairs=rows(self.liked_pairs))

    def sample(self, max_users: int) -> ValidationSet:
        """At most `max_users` users: those first by `data.splits.user_hash_share`.

        The choice depends on the user ids alone (not on their order, the run or the
        machine), so a refit picks the same users; with no more users than
        `max_users`, all are kept (self).
        """
        if len(self.users) <= max_users:
            return self
        order = np.argsort(user_hash_share(self.users), kind="stable")
        keep = np.zeros(len(self.users), bool)
        keep[order[:max_users]] = True
        return self.subset(keep)


def objective_by_user(scores: np.ndarray, data: ValidationSet, k: int,
                      counts: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Per-user objective float [U]: mean of NDCG@k (any) and NDCG@k (liked); the any
    NDCG alone for a user with no liked validation item.

    `counts`: (any, liked) relevant items per user, int [U] each, when `data`'s pairs
    are only those still ranked (`candidate_columns`); default: the pairs per user.
    """
    scores = np.array(scores, np.float64)
    scores[data.excluded[:, 0], data.excluded[:, 1]] = EXCLUDED
    ranking = Ranking(scores, k)
    if counts is None:
        counts = (np.bincount(data.any_pairs[:, 0], minlength=len(scores)),
                  np.bincount(data.liked_pairs[:, 0], minlength=len(scores)))
    any_ndcg = ranking.metrics(data.any_pairs, counts[0]).ndcg
    liked = counts[1] > 0
    liked_ndcg = ranking.metrics(data.liked_pairs, counts[1]).ndcg
    return np.where(liked, 0.5 * (any_ndcg + np.nan_to_num(liked_ndcg)), any_ndcg)


def candidate_columns(z: Mapping[str, np.ndarray], data: ValidationSet, k: int
                      ) -> tuple[dict[str, np.ndarray], ValidationSet,
                                 tuple[np.ndarray, np.ndarray]]:
    """The only items that can reach a user's top k under ANY weights on the simplex.

    With z_c the standardized components and s_w = sum_c w_c z_c (w >= 0, sum 1),
    min_c z_c(i) <= s_w(i) <= max_c z_c(i). Let t be a user's k-th largest min_c z_c
    over the items not excluded: k items score s_w >= t under every w, so an item with
    max_c z_c < t is strictly below the k-th score for every w (never in the top k,
    never tied with it). Dropping those items leaves every grid point's NDCG@k
    exactly as it was, when the relevant items dropped still count in the ideal DCG
    (the returned counts). A user with fewer than k items left keeps every item.

    Args:
        z: name -> float64 [U, I] standardized component scores.
        data: the validation users (pairs over the I columns).
        k: the cut-off.

    Returns:
        (name -> float64 [U, W] the kept columns of each user, left-aligned, W the most
        kept by one user; `data` renumbered to those columns, padding excluded; the
        (any, liked) relevant counts per user before dropping, int [U] each).
    """
    stacked = np.stack(list(z.values()))  # [C, U, I]
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    rows, cols = data.excluded[:, 0], data.excluded[:, 1]
    low[rows, cols] = -np.inf
    high[rows, cols] = -np.inf
    n_users, n_items = low.shape
    if n_items > k:
        threshold = -np.partition(-low, k - 1, axis=1)[:, k - 1]
    else:
        threshold = np.full(n_users, -np.inf)
    keep = high >= threshold[:, None]  # threshold -inf: every column
    kept_rows, kept_cols = np.nonzero(keep)  # by row, then column
    per_row = keep.sum(axis=1)
    position = np.arange(len(kept_rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    width = int(per_row.max()) if n_users else 0
    columns = np.zeros((n_users, width), np.int64)
    columns[kept_rows, position] = kept_cols
    padding = np.arange(width)[None, :] >= per_row[:, None]
    where = np.full((n_users, n_items), -1, np.int64)
    where[kept_rows, kept_cols] = position

    def renumber(pairs: np.ndarray) -> np.ndarray:
        at = where[pairs[:, 0], pairs[:, 1]]
        return np.stack([pairs[:, 0], at], 1)[at >= 0].reshape(-1, 2)

    excluded = np.concatenate([renumber(data.excluded),
                               np.argwhere(padding)]).reshape(-1, 2)
    counts = (np.bincount(data.any_pairs[:, 0], minlength=n_users),
              np.bincount(data.liked_pairs[:, 0], minlength=n_users))
    pruned = ValidationSet(users=data.users, history=data.history, excluded=excluded,
                           any_pairs=renumber(data.any_pairs),
                           liked_pairs=renumber(data.liked_pairs))
    return ({name: np.take_along_axis(values, columns, axis=1) for name, values in z.items()},
            pruned, counts)


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
        rule: "best" (the best mean) or "one_se" (module doc).

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

    def best(members: np.ndarray) -> tuple[int, np.ndarray]:
        return choose_point(per_user[:, members], signals, rule), per_user[:, members].mean(1)

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
    chosen = [int(np.argmin(np.abs(grid - row).max(1))) for row in blend.weights]
    by_user = per_user[np.asarray(chosen)[buckets], np.arange(len(buckets))]
    blend.report["all"] = {"users": len(buckets), "weights": grid[pooled].tolist(),
                           "objective": float(pooled_means[pooled]),
                           "blended": float(by_user.mean()),
                           **{key: float(pooled_means[p]) for key, p in corners.items()}}
    return blend


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
    point = choose_point(per_user, (grid > 0).sum(axis=1), rule)
    means = per_user.mean(axis=1)
    return grid[point], {"users": len(data.users), "objective": float(means[point]),
                         **{key: float(means[p])
                            for key, p in _corners(grid, tuple(components)).items()}}


def grid_objectives(components: Mapping[str, np.ndarray], data: ValidationSet, k: int,
                    steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The simplex grid float [P, C] and each point's per-user objective float [P, U]."""
    names = tuple(components)
    z = {name: standardize_rows(components[name]) for name in names}
    z, data, counts = candidate_columns(z, data, k)  # exact: the same objectives, cheaper
    grid = simplex_grid(len(names), steps)
    per_user = np.stack([objective_by_user(sum(w[c] * z[n] for c, n in enumerate(names)),
                                           data, k, counts) for w in grid])
    return grid, per_user


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
