"""The learned score's weights and how they score: `BlendWeights` and `blend_scores`.

    score(u, i) = sum_c w_c[b(u)] * z_c(u, i)

with z_c component c standardised per user row and b(u) the user's history bucket;
how the weights are fitted is `blend.py`.

Example:

>>> blend = BlendWeights(("retrieval", "popularity"), (1,), np.array([[0.0, 1.0], [1.0, 0.0]]))
>>> blend.bucket_of(np.array([0, 3])).tolist()  # bucket "0" (unknown user), "1+"
[0, 1]
>>> blend.apply({"retrieval": np.array([[1.0, 0.0], [1.0, 0.0]]),
...              "popularity": np.array([[0.0, 2.0], [0.0, 2.0]])},
...             np.array([0, 3])).round(3).tolist()  # user 0 by popularity, user 1 by retrieval
[[-1.0, 1.0], [1.0, -1.0]]
>>> simplex_grid(2, steps=2).tolist()  # the first component alone comes first
[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from tfrec_sentiment.evaluation.evaluate import history_buckets

COMPONENTS = ("retrieval", "rating", "popularity", "knn")
_EPSILON = 1e-12  # variance floor of the row standardisation


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
    chosen = tf.gather(weights, history_bucket(history, edges))  # [U, C]
    out = None
    for c, name in enumerate(names):
        given = None if moments is None else moments[name]
        part = chosen[:, c:c + 1] * standardize_tensor_rows(components[name], given)
        out = part if out is None else out + part
    return out


def history_bucket(history: tf.Tensor, edges: tf.Tensor) -> tf.Tensor:
    """Each user's blend bucket, int32 [U]: how many lower bounds `edges` (int64
    [B - 1]) their training reviews `history` (int64 [U]) reach."""
    return tf.reduce_sum(tf.cast(history[:, None] >= edges[None, :], tf.int32), axis=1)


def weighted_component(name: str, names: Sequence[str], weights: tf.Tensor,
                       edges: tf.Tensor, history: tf.Tensor,
                       compute: Callable[[], tf.Tensor], zeros_shape: tf.Tensor) -> tf.Tensor:
    """`compute()` where some user's bucket gives component `name` a non-zero weight,
    else zeros of `zeros_shape`: its term of `blend_scores` is 0 either way (a row of
    zeros standardises to 0). The rating head over every user x item pair is most of a
    learned score's cost and its fitted weight is often 0 (e.g. every known-user bucket
    of the 1M synthetic run in the README's growth section), so the served graph skips
    it there (`tf.cond`).

    Args:
        name: the component; names: the blend's components (`weights`' columns).
        weights: float32 [B, C]; edges: int64 [B - 1]; history: int64 [U] (buckets).
        compute: () -> the component, float32 of shape `zeros_shape`.
        zeros_shape: int32 [2], e.g. [U, I].
    """
    if name not in names:
        return tf.zeros(zeros_shape)
    column = tf.gather(weights[:, list(names).index(name)], history_bucket(history, edges))
    return tf.cond(tf.reduce_any(column != 0), compute, lambda: tf.zeros(zeros_shape))


def standardize_tensor_rows(scores: tf.Tensor, moments: tuple | None = None) -> tf.Tensor:
    """`standardize_rows` in the graph: each row of float32 [U, I] by its own moments,
    or by given (mean, variance) [U] (a few candidates, the catalogue's moments)."""
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
