"""Saving and loading the feature tables: two parquet tables, one npz, one json.

A folder holds user_features.parquet and item_features.parquet (one row per id: the
count, the finished features, the sums), arrays.npz (training rows, histories,
co-reviews as the sparse matrix's three arrays, the similarity basis, text sums, the
rows' aspect mentions) and features.json (config, prior, statistics, aspect strengths,
format version). Folders written before the co-reviews went sparse hold them dense
("co_reviews" [I, I]); they still load.

Example:

>>> tables.save(run_dir / "features")                      # doctest: +SKIP
>>> FeatureTables.load(run_dir / "features")               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec_sentiment.features.aspects import AspectArrays
from tfrec_sentiment.features.common import SIDES, FeatureError
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.profile import GROUP_FEATURES, SIGNALS, ReviewProfile
from tfrec_sentiment.features.text_similarity import TextSimilarity
from tfrec_sentiment.io import read_table, write_table

if TYPE_CHECKING:
    from tfrec_sentiment.features.tables import FeatureTables
    from tfrec_sentiment.privacy.encryption import TableEncryption

FORMAT_VERSION = 2


def save_tables(tables: FeatureTables, directory: str | Path,
                encryption: TableEncryption | None = None) -> Path:
    """Writes the tables' four files into `directory` (`FeatureTables.save`); the two
    tables through `io.write_table`, encrypted with `encryption` (arrays.npz holds
    numbers by row position only)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for side in SIDES:
        write_table(_side_frame(tables, side), directory / f"{side}_features.parquet",
                    encryption)
    arrays = {f"rows_{k}": v for k, v in tables.rows.items()}
    arrays.update({f"history_{k}": v for k, v in tables.history.items()})
    if tables.co_reviews is not None:
        co = sp.csr_array(tables.co_reviews)
        arrays.update(co_reviews_data=co.data, co_reviews_indices=co.indices,
                      co_reviews_indptr=co.indptr)
    if tables.similarity_basis is not None:
        arrays["similarity_basis"] = tables.similarity_basis
    if tables.text_similarity is not None:
        arrays.update(tables.text_similarity.arrays())
    if tables.aspects is not None:
        arrays.update(tables.aspects.arrays())
    for side in SIDES:
        if "text" in tables.sums[side]:
            arrays[f"{side}_text_sums"] = tables.sums[side]["text"]
    np.savez_compressed(directory / "arrays.npz", **arrays)
    meta = {
        "format_version": FORMAT_VERSION,
        "config": dataclasses.asdict(tables.config),
        "profile": tables.profile.get_config(),
        "signals": list(SIGNALS),
        "statistics": tables.statistics,
        "rating_calibration": tables.rating_calibration,
        "global_mean": tables.global_mean,
        "aspects": None if tables.aspects is None else tables.aspects.settings(),
    }
    (directory / "features.json").write_text(json.dumps(meta, indent=1) + "\n")
    tables.path = directory
    return directory


def load_fields(directory: str | Path,
                encryption: TableEncryption | None = None) -> dict[str, Any]:
    """The `FeatureTables` fields read from a folder written by `save_tables`.

    Raises:
        FeatureError: the folder was written by another format version.
        EncryptedTableError: the tables are encrypted and `encryption` cannot open them.
    """
    directory = Path(directory)
    meta = json.loads((directory / "features.json").read_text())
    if meta.get("format_version") != FORMAT_VERSION or meta["signals"] != list(SIGNALS):
        raise FeatureError(f"{directory / 'features.json'}: written by another version")
    # Tables written before the text term had none: they keep it off (an update or an
    # erasure that rebuilds them must not add it to the parent's model).
    config = FeatureConfig(**{"text_similarity_weight": 0.0, **meta["config"]})
    arrays = np.load(directory / "arrays.npz", allow_pickle=False)
    ids, sums = {}, {}
    item_probability = None
    for side in SIDES:
        frame = read_table(directory / f"{side}_features.parquet", encryption)
        ids[side] = frame[f"{side}_id"].to_numpy().astype(str).astype(object)
        sums[side] = {
            "signals": frame[[f"sum_{s}" for s in SIGNALS]].to_numpy(np.float32)
        }
        if f"{side}_text_sums" in arrays:
            sums[side]["text"] = arrays[f"{side}_text_sums"]
        if side == "item":
            item_probability = frame["probability"].to_numpy(np.float32)
    rows = {k[len("rows_"):]: arrays[k] for k in arrays.files if k.startswith("rows_")}
    history = {k[len("history_"):]: arrays[k] for k in arrays.files
               if k.startswith("history_")}
    return dict(
        config=config,
        profile=ReviewProfile.from_config(meta["profile"]),
        ids=ids, sums=sums, rows=rows, statistics=meta["statistics"],
        item_probability=item_probability,
        rating_calibration=meta["rating_calibration"],
        global_mean=float(meta["global_mean"]), history=history, path=directory,
        co_reviews=_co_reviews(arrays),
        similarity_basis=(arrays["similarity_basis"] if "similarity_basis" in arrays.files
                          else None),
        text_similarity=TextSimilarity.from_arrays(arrays, config.text_similarity_weight),
        aspects=(None if meta.get("aspects") is None
                 else AspectArrays.from_saved(arrays, meta["aspects"])),
    )


def _co_reviews(arrays: np.lib.npyio.NpzFile) -> sp.csr_array | None:
    """The sparse co-review matrix of arrays.npz (square; dense in older folders)."""
    if "co_reviews_indptr" in arrays.files:
        indptr = arrays["co_reviews_indptr"]
        size = len(indptr) - 1
        return sp.csr_array((arrays["co_reviews_data"], arrays["co_reviews_indices"], indptr),
                            shape=(size, size))
    if "co_reviews" in arrays.files:
        return sp.csr_array(arrays["co_reviews"])
    return None


def _side_frame(tables: FeatureTables, side: str) -> pd.DataFrame:
    columns = {f"{side}_id": tables.ids[side].astype(str)}
    signals = tables.sums[side]["signals"]
    columns["count"] = signals[:, SIGNALS.index("count")].astype(np.int64)
    table = tables.feature_table(side, profiles=False)  # the profiles are not saved
    for group, names in GROUP_FEATURES.items():
        if group in table:
            for j, name in enumerate(names):
                columns[f"{group}_{name}"] = table[group][1:, j]
    if side == "item":
        columns["probability"] = tables.item_probability
    for j, signal in enumerate(SIGNALS):
        columns[f"sum_{signal}"] = signals[:, j]
    return pd.DataFrame(columns)
