"""The publishing guardrail: the candidate against the published version, same slice.

Both models are scored through the same function, the `rank` signature
(`user_id`, `item_id` string [B] -> `predicted_rating` float [B] in 1..5, `score`
float [B]): for the published version, the SavedModel TF Serving loads (read from
its version folder, with nothing of the Python model); for the candidate, the
in-process `RecommenderServing.rank` that the export would save. `RankRecommender`
turns such a function into the EVAL protocol, and `evaluation.evaluate` computes
RMSE / MAE and full-catalogue top-K metrics on the evaluation slice.

`judge` compares metric by metric with a RELATIVE tolerance t: a lower-is-better
metric (RMSE, MAE) passes if candidate <= published * (1 + t); a higher-is-better
one (NDCG, recall, hit rate) if candidate >= published * (1 - t). Every check must
pass to publish.

Example:

>>> checks = judge({"rmse": 0.95, "ndcg@10": 0.10}, {"rmse": 0.94, "ndcg@10": 0.10},
...                ["rmse", "ndcg@10"], tolerance=0.02)
>>> [c.passed for c in checks]
[True, True]
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfrec_sentiment.evaluation.evaluate import LOWER_IS_BETTER
from tfrec_sentiment.recsys.config import SCORE_MODES

RankFunction = Callable[[tf.Tensor, tf.Tensor], dict]
ScoreFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


class RankRecommender:
    """The EVAL protocol over a `rank` function (a SavedModel signature or a tf.function).

    Args:
        rank: (user_id string [B], item_id string [B]) -> {"predicted_rating" [B],
            "score" [B]}.
        score_mode: how `score_items` ranks, as `RecsysConfig.score_mode`:
            "retrieval" (the score), "rating" (the predicted rating), or "blend"
            (both standardised per user, rating weighted by `score_blend`). Through
            `rank` the rating is the clipped 1..5 one.
        score_blend: weight of the rating in "blend".
        pairs_per_call: pairs per `rank` call (bounds memory).
        score: (user_id string [U], item_id string [I]) -> scores float [U, I], the
            model's own ranking (the SavedModel's `score` signature, or
            `RecommenderServing.score_items`); when given, `score_items` uses it
            whatever `score_mode` says. Required for "learned", whose per-user
            standardisation and history buckets a pairwise `rank` cannot give.
    """

    def __init__(self, rank: RankFunction, score_mode: str = "retrieval",
                 score_blend: float = 1.0, pairs_per_call: int = 32768,
                 score: ScoreFunction | None = None) -> None:
        if score_mode not in SCORE_MODES:
            raise ValueError(f"score_mode {score_mode!r} not in {SCORE_MODES}")
        if score_mode == "learned" and score is None:
            raise ValueError("score_mode 'learned' needs the model's score function")
        self.rank = rank
        self.score_mode = score_mode
        self.score_blend = float(score_blend)
        self.pairs_per_call = int(pairs_per_call)
        self.score = score

    def _pairs(self, user_ids: np.ndarray, item_ids: np.ndarray) -> dict[str, np.ndarray]:
        outputs: dict[str, list] = {"predicted_rating": [], "score": []}
        for start in range(0, len(user_ids), self.pairs_per_call):
            end = start + self.pairs_per_call
            out = self.rank(tf.constant(user_ids[start:end]), tf.constant(item_ids[start:end]))
            for key in outputs:
                outputs[key].append(np.asarray(out[key], np.float64).reshape(-1))
        return {k: np.concatenate(v) if v else np.zeros([0]) for k, v in outputs.items()}

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """Predicted stars [N] (1..5) of paired ids [N]."""
        return self._pairs(_ids(user_ids), _ids(item_ids))["predicted_rating"]

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """Scores [U, I] of every user x item pair (higher = recommend first)."""
        users, items = _ids(user_ids), _ids(item_ids)
        if self.score is not None:
            batch = max(1, self.pairs_per_call // max(1, len(items)))
            parts = [np.asarray(self.score(tf.constant(users[s:s + batch]), tf.constant(items)),
                                np.float64) for s in range(0, len(users), batch)]
            return np.concatenate(parts) if parts else np.zeros([0, len(items)])
        out = self._pairs(np.repeat(users, len(items)), np.tile(items, len(users)))
        score = out["score"].reshape(len(users), len(items))
        rating = out["predicted_rating"].reshape(len(users), len(items))
        if self.score_mode == "retrieval":
            return score
        if self.score_mode == "rating":
            return rating
        return _standardize_rows(score) + self.score_blend * _standardize_rows(rating)


def load_published(version_dir: str | Path) -> RankRecommender:
    """The published SavedModel version as a `RankRecommender` (its `rank` signature).

    The score mode comes from the version's `assets.extra/export.json`; a version
    with a `score` signature is ranked by it (the served blend of "learned").
    """
    import tensorflow_text  # noqa: F401  (registers the TF Text ops of the sentiment side)

    version_dir = Path(version_dir)
    loaded = tf.saved_model.load(str(version_dir))
    signature = loaded.signatures["rank"]
    facts_path = version_dir / "assets.extra" / "export.json"
    facts = json.loads(facts_path.read_text()) if facts_path.is_file() else {}
    settings = facts.get("recommender", {}).get("config", {})
    score = None
    if "score" in loaded.signatures:
        scores = loaded.signatures["score"]
        score = lambda users, items: scores(user_id=users, item_id=items)["scores"]  # noqa: E731
    recommender = RankRecommender(
        lambda users, items: signature(user_id=users, item_id=items),
        score_mode=settings.get("score_mode", "retrieval"),
        score_blend=settings.get("score_blend", 1.0), score=score)
    recommender.loaded = loaded  # keeps the restored variables alive
    return recommender


@dataclasses.dataclass
class Check:
    """One guardrail comparison."""

    metric: str
    candidate: float
    published: float
    limit: float
    lower_is_better: bool
    passed: bool


def judge(candidate: dict[str, float], published: dict[str, float], metrics: Sequence[str],
          tolerance: float) -> list[Check]:
    """Compares two metric dicts on `metrics` with a relative `tolerance` (see module doc)."""
    checks = []
    for metric in metrics:
        lower = metric in LOWER_IS_BETTER
        reference = float(published[metric])
        value = float(candidate[metric])
        if lower:
            limit = reference * (1.0 + tolerance)
            passed = value <= limit + 1e-12
        else:
            limit = reference * (1.0 - tolerance)
            passed = value >= limit - 1e-12
        checks.append(Check(metric, value, reference, limit, lower, bool(passed)))
    return checks


def _ids(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=object).astype(str)


def _standardize_rows(scores: np.ndarray) -> np.ndarray:
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.sqrt(std ** 2 + 1e-12)
