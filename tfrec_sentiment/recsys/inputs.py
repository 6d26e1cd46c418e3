"""The model's input schema: which feature inputs each tower reads, which keys an example has.

Example:

>>> from tfrec_sentiment.recsys.config import RecsysConfig
>>> model_input_keys(RecsysConfig())[:4]  # doctest: +SKIP
['user_id', 'item_id', 'rating', 'item_probability']
"""

from __future__ import annotations

from tfrec_sentiment.features.tables import SIMILARITY_GROUP, FeatureTables
from tfrec_sentiment.recsys.config import RecsysConfig


def history_inputs(config: RecsysConfig, tables: FeatureTables | None = None) -> list[str]:
    """User history inputs of `config`, e.g. ["history", "history_rating"]; [] if none.

    With `tables`, none when the tables were built without histories.
    """
    if not config.history_dim or (tables is not None and not tables.history):
        return []
    return ["history"] + [f"history_{s}" for s in config.history_signals]


def input_groups(config: RecsysConfig, side: str,
                 tables: FeatureTables | None = None) -> list[str]:
    """Feature inputs one side's tower reads, e.g. ["rating", "text", "history"].

    With `item_similarity`, the user side reads its "similarity" block; the item side
    reads one only when the block is projected (the basis rows Q[i]; the exact block
    is the item's one-hot, which the tower forms): with `tables`, when they are
    projected, without, always (the keys an example may have).
    """
    groups = list(config.feature_groups) + (["text"] if config.text_enabled else [])
    if side != "user":
        projected = tables is None or tables.similarity_basis is not None
        return groups + ([SIMILARITY_GROUP] if config.item_similarity and projected else [])
    similarity = [SIMILARITY_GROUP] if config.item_similarity else []
    return groups + history_inputs(config, tables) + similarity


def model_input_keys(config: RecsysConfig) -> list[str]:
    """Example keys the model reads for `config` (ids, groups, labels)."""
    keys = ["user_id", "item_id", "rating", "item_probability"]
    keys += [f"{side}_{g}" for side in ("user", "item") for g in input_groups(config, side)]
    return keys + [f"candidate_item_{g}" for g in input_groups(config, "item")]
