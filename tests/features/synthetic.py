"""Small synthetic review logs with known structure, for feature and recommender tests.

Users have a taste vector and a rating bias; items have a quality and a style
vector. Stars follow bias + quality + taste . style + noise; the sentiment
probabilities follow the stars (noisily); each review's text embedding carries its
item's quality and style, so text can stand in for an unseen item's id.
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd

from tfrec_sentiment.data.schema import to_canonical


def synthetic_reviews(num_users: int = 60, num_items: int = 30, per_user: int = 8,
                      text_dim: int = 8, seed: int = 0) -> types.SimpleNamespace:
    """Returns frame (canonical), probabilities [N, 3], embeddings [N, D], item_quality [I]."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(num_users, 2))
    user_bias = rng.normal(scale=0.4, size=num_users)
    quality = rng.normal(scale=0.8, size=num_items)
    style = rng.normal(size=(num_items, 2))
    popularity = np.exp(rng.normal(scale=0.7, size=num_items))
    popularity /= popularity.sum()
    text_basis = rng.normal(size=(3, text_dim))
    rows = []
    for u in range(num_users):
        items = rng.choice(num_items, size=per_user, replace=False, p=popularity)
        for k, i in enumerate(items):
            latent = 3.6 + user_bias[u] + quality[i] + 0.6 * taste[u] @ style[i]
            stars = float(np.clip(np.rint(latent + rng.normal(scale=0.5)), 1, 5))
            rows.append((f"u{u:03d}", f"i{i:03d}", stars, int(rng.geometric(0.5) - 1),
                         1_400_000_000 + 86_400 * (10 * k + int(rng.integers(0, 5)))))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "helpful_votes",
                                        "timestamp"])
    frame["text"], frame["title"] = "text", ""
    frame["verified"], frame["source"] = True, "synthetic"
    frame = to_canonical(frame)
    item_index = frame["item_id"].str[1:].astype(int).to_numpy()
    polarity = (frame["rating"].to_numpy() - 3.0) / 2.0 + rng.normal(scale=0.3, size=len(frame))
    logits = np.stack([-2.5 * polarity, 1.0 - 2.0 * np.abs(polarity), 2.5 * polarity], 1)
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    embeddings = (quality[item_index, None] * text_basis[0]
                  + style[item_index] @ text_basis[1:]
                  + rng.normal(scale=0.3, size=(len(frame), text_dim)))
    return types.SimpleNamespace(
        frame=frame, probabilities=probabilities.astype(np.float32),
        embeddings=embeddings.astype(np.float32), item_quality=quality)


def leave_last_out(frame: pd.DataFrame) -> types.SimpleNamespace:
    """Per user, by time: last review -> test, second last -> validation, rest -> train.

    Returns the three frames and the row positions of train in `frame` (`train_rows`),
    so per-review arrays can be aligned with the train split.
    """
    order = frame.sort_values(["user_id", "timestamp"], kind="stable")
    rank_from_end = order.groupby("user_id").cumcount(ascending=False)
    parts = {
        "test": order[rank_from_end == 0],
        "validation": order[rank_from_end == 1],
        "train": order[rank_from_end >= 2],
    }
    return types.SimpleNamespace(
        train=parts["train"].reset_index(drop=True),
        validation=parts["validation"].reset_index(drop=True),
        test=parts["test"].reset_index(drop=True),
        train_rows=parts["train"].index.to_numpy(),
    )
