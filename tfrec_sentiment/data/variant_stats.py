"""The variant-copy report: what linked items into products, and what was left apart.

The fields `deduplicate` (`variants.py`) returns as `DedupeResult.variant_stats` and
`tools/prepare_data.py` writes into its report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def variant_stats(frame: pd.DataFrame, copies: np.ndarray, stock: np.ndarray,
                  product: np.ndarray, kept: pd.DataFrame, item_map: pd.DataFrame,
                  largest: int) -> dict:
    """What linked the items, and what was left apart (the report fields).

    Returns:
        - `variant_linking_groups`: non-stock copy groups found under 2+ source items
          (each links its items into one product);
        - `variant_products_merged`: products made of 2+ source items;
        - `variant_repeats_not_linked`: one user's text (title if empty) under 2+
          source items that did NOT link them: `day_or_stars_differ` (its rows differ
          in day or stars) and `stock_text` (copy groups of a stock text whose rows
          stay in 2+ products);
        - `largest_products`: the `largest` products with most source items, each
          `{"item_id", "source_items", "reviews"}` (reviews kept).
    """
    items = frame["item_id"].to_numpy(dtype=object)
    rows = pd.DataFrame({"copy": copies, "item": items, "product": product})
    linking = rows.loc[~stock].groupby("copy")["item"].nunique()
    stock_apart = rows.loc[stock].groupby("copy")["product"].nunique()
    pairs = pd.DataFrame({"user": frame["user_id"].to_numpy(dtype=object),
                          "text": compared_text(frame)})
    rows["pair"] = pairs.groupby(["user", "text"], sort=False).ngroup().to_numpy()
    per_pair = rows.groupby("pair").agg(items=("item", "nunique"), copies=("copy", "nunique"))
    sources = item_map.groupby("item_id")["source_item_id"].size()
    sizes = pd.DataFrame({"source_items": sources,
                          "reviews": kept["item_id"].value_counts().reindex(sources.index)})
    sizes = sizes.fillna(0).astype(np.int64).rename_axis("item_id").reset_index()
    sizes = sizes.sort_values(["source_items", "reviews", "item_id"],
                              ascending=[False, False, True]).head(largest)
    return {
        "variant_linking_groups": int((linking > 1).sum()),
        "variant_products_merged": int((sources > 1).sum()),
        "variant_repeats_not_linked": {
            "day_or_stars_differ": int(((per_pair["items"] > 1)
                                        & (per_pair["copies"] > 1)).sum()),
            "stock_text": int((stock_apart > 1).sum()),
        },
        "largest_products": [
            {"item_id": str(r.item_id), "source_items": int(r.source_items),
             "reviews": int(r.reviews)} for r in sizes.itertuples(index=False)],
    }


def compared_text(frame: pd.DataFrame) -> np.ndarray:
    """The text a copy is compared on: the text, or the title when the text is empty."""
    texts = frame["text"].astype(str).to_numpy(dtype=object)
    titles = (frame["title"] if "title" in frame.columns else frame["text"])
    titles = titles.astype(str).to_numpy(dtype=object)
    # "\0" cannot occur in cleaned text, so a title key never equals a text key.
    return np.array([text if text else "\0title\0" + title
                     for text, title in zip(texts, titles)], dtype=object)
