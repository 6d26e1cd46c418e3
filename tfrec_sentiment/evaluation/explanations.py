"""Is an explanation any good? Aspect ranking against the aspects a test review names.

For each held-out test review (user u, item i) the item's aspects (those its training
reviews mention) are ranked by a weight, and the ranking is scored against the
aspects u actually writes about in that review, as EFM (Zhang et al., SIGIR 2014) and
MTER (Wang et al., SIGIR 2018) evaluate feature ranking: NDCG@k and Precision@k with
binary relevance. Rankers:

- "attention": the `explain` signature's `weight`: u's aspect attention for a known
  user, the population's for an unknown one (`AspectProfiles`);
- "item mentions": the item's most-mentioned aspects, the same for every user;
- "population": the population's attention, the same for every user and item;
- "attention x item": the attention times the item's share of mentions of each aspect
  (what this user cares about AND this item's reviews talk about);
- "random": a seeded random order.

Ties (equal weights, e.g. a user who wrote about none of the item's aspects) are
scored by the expectation over every order of the tied aspects (McSherry & Najork,
ECIR 2008): each position of a tied block gets the block's share of relevant aspects
as its gain, so a ranker gains nothing from an arbitrary tie-break.

A review counts when its item is in the profiles, the item has an aspect, and the
review names at least one of the item's aspects; the others are counted by reason.

Example:

>>> ndcg, precision = tied_ndcg_precision(np.array([0.5, 0.5, 0.0]),
...                                       np.array([True, False, False]), k=1)
>>> round(ndcg, 3), round(precision, 3)
(0.5, 0.5)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec_sentiment.aspects.profiles import AspectProfiles
from tfrec_sentiment.evaluation.stats import mean_ci
from tfrec_sentiment.markdown import counted

RANKERS = ("attention", "item mentions", "population", "attention x item", "random")
REPORT_FILE = "explanations.md"
METRICS_FILE = "explanations.json"


def tied_ndcg_precision(weights: np.ndarray, relevant: np.ndarray, k: int) -> tuple[float, float]:
    """Tie-aware NDCG@k and Precision@k of one ranking (module docstring).

    Args:
        weights: float [C], the candidates' weights (higher first).
        relevant: bool [C].
        k: the cut-off (>= 1).

    Returns:
        (NDCG@k, Precision@k); NDCG is NaN without a relevant candidate. Precision
        divides by k, also when there are fewer than k candidates.
    """
    weights, relevant = np.asarray(weights, np.float64), np.asarray(relevant, bool)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    # tie blocks in descending weight: each position gets its block's share of hits
    _, block, size = np.unique(-weights, return_inverse=True, return_counts=True)
    hits = np.bincount(block.ravel(), weights=relevant, minlength=len(size))
    gains = np.repeat(hits / np.maximum(size, 1), size)
    top = gains[:k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[:min(k, int(relevant.sum()))].sum()
    ndcg = float(top @ discounts[:len(top)] / ideal) if ideal > 0 else math.nan
    return ndcg, float(top.sum() / k)


def ranker_weights(profiles: AspectProfiles, user: int, item: int,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The rankers' weights over all A aspects for one (user row or -1, item row)."""
    population = profiles.population_attention
    weight = profiles.user_attention[user] if user >= 0 else population
    mentions = profiles.item_mentions[item].astype(np.float64)
    return {"attention": weight, "item mentions": mentions, "population": population,
            "attention x item": weight * mentions / max(mentions.sum(), 1.0),
            "random": rng.random(profiles.num_aspects)}


def evaluate_explanations(profiles: AspectProfiles, frame: pd.DataFrame,
                          mentioned: Sequence[set[str]], k: int = 3, seed: int = 0) -> dict:
    """NDCG@k and Precision@k of each ranker over the rows of `frame` (module docstring).

    Args:
        profiles: the training period's `AspectProfiles`.
        frame: held-out reviews with `user_id`, `item_id` (e.g. the test split).
        mentioned: per row of `frame`, the vocabulary aspects its review names.
        k: the cut-off.
        seed: the random ranker's seed.

    Returns:
        {"k", "reviews", "evaluated", "skipped": {reason: n}, "known_users" (evaluated
        rows whose user has a profile), "rankers": {name: {"ndcg": MeanCI dict,
        "precision": ...}}, "attention_minus_item_mentions": {"ndcg": ..., "precision":
        ...} (paired, per review)}.
    """
    if len(mentioned) != len(frame):
        raise ValueError(f"mentioned has {len(mentioned)} rows, the frame {len(frame)}")
    users = pd.Index(profiles.user_ids).get_indexer(frame["user_id"].astype(str))
    items = pd.Index(profiles.item_ids).get_indexer(frame["item_id"].astype(str))
    position = {a: j for j, a in enumerate(profiles.aspects.tolist())}
    rng = np.random.default_rng(seed)
    skipped = {"unknown item": 0, "item without aspects": 0, "review names no aspect": 0,
               "review names none of the item's aspects": 0}
    values = {name: {"ndcg": [], "precision": []} for name in RANKERS}
    known = 0
    for user, item, names in zip(users, items, mentioned):
        if item < 0:
            skipped["unknown item"] += 1
            continue
        candidates = np.flatnonzero(profiles.item_mentions[item] > 0)
        relevant = np.zeros(profiles.num_aspects, bool)
        relevant[[position[a] for a in names if a in position]] = True
        if not len(candidates):
            skipped["item without aspects"] += 1
        elif not relevant.any():
            skipped["review names no aspect"] += 1
        elif not relevant[candidates].any():
            skipped["review names none of the item's aspects"] += 1
        else:
            known += int(user >= 0)
            for name, weights in ranker_weights(profiles, user, item, rng).items():
                ndcg, precision = tied_ndcg_precision(weights[candidates], relevant[candidates], k)
                values[name]["ndcg"].append(ndcg)
                values[name]["precision"].append(precision)
    evaluated = len(values["random"]["ndcg"])
    result = {"k": k, "reviews": len(frame), "evaluated": evaluated, "skipped": skipped,
              "known_users": known, "rankers": {}, "attention_minus_item_mentions": {}}
    if evaluated:
        for name, metrics in values.items():
            result["rankers"][name] = {m: mean_ci(v).to_dict() for m, v in metrics.items()}
        for m in ("ndcg", "precision"):
            diff = np.subtract(values["attention"][m], values["item mentions"][m])
            result["attention_minus_item_mentions"][m] = mean_ci(diff).to_dict()
    return result


def explanations_markdown(result: dict, title: str = "Explanation quality") -> str:
    """The result of `evaluate_explanations` as a markdown section."""
    k = result["k"]
    lines = [f"# {title}", "",
             f"{result['evaluated']:,} of {counted(result['reviews'], 'test review')} "
             f"evaluated ({result['known_users']:,} by users with a training profile); skipped: "
             + ", ".join(f"{n} ({reason})" for reason, n in result["skipped"].items()) + ".",
             ""]
    if not result["evaluated"]:
        return "\n".join(lines + ["No test review names an aspect of its item."]) + "\n"
    lines += [f"| ranker | NDCG@{k} | Precision@{k} |", "|---|---|---|"]
    for name, metrics in result["rankers"].items():
        cells = [_cell(metrics[m]) for m in ("ndcg", "precision")]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    diff = result["attention_minus_item_mentions"]
    lines += ["", f"Attention minus item mentions (paired, 95% interval): NDCG@{k} "
              f"{_cell(diff['ndcg'], signed=True)}, Precision@{k} "
              f"{_cell(diff['precision'], signed=True)}."]
    return "\n".join(lines) + "\n"


def _cell(value: dict, signed: bool = False) -> str:
    form = "{:+.4f}" if signed else "{:.4f}"
    mean = form.format(value["mean"])
    low, high = value["ci"]
    if low is None or math.isnan(low):
        return mean
    return f"{mean} [{form.format(low)}, {form.format(high)}]"


def save_explanations(result: dict, out_dir: str | Path, title: str = "Explanation quality"
                      ) -> Path:
    """Writes explanations.json and explanations.md into `out_dir`; returns the md path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / METRICS_FILE).write_text(json.dumps(result, indent=1) + "\n")
    path = out_dir / REPORT_FILE
    path.write_text(explanations_markdown(result, title))
    return path
