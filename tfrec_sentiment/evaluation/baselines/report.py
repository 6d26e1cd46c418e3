"""The in-run baselines as ablation variants, and the report that runs them all."""

from __future__ import annotations

import warnings
from pathlib import Path

from tfrec_sentiment.evaluation.ablation import AblationResult, Variant, run_ablation
from tfrec_sentiment.evaluation.baselines.bias import UserItemBias
from tfrec_sentiment.evaluation.baselines.knn import KNN_MAX_ITEMS, ItemKNN
from tfrec_sentiment.evaluation.baselines.means import GlobalMean, ItemMean, Popularity
from tfrec_sentiment.evaluation.baselines.mf import MatrixFactorization
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.protocol import SplitLike


def baseline_variants(split: SplitLike, mf_factors: int = 10,
                      knn_max_items: int = KNN_MAX_ITEMS) -> dict[str, Variant]:
    """The in-run baselines as ablation variants, fitted on `split.train`.

    The bias, MF and item-kNN models choose their settings on `split.validation` (or,
    when it is empty, on each user's last training review). Only MF depends on the seed.

    Args:
        split: the time split of the run.
        mf_factors: k of the matrix factorisation.
        knn_max_items: item-kNN is left out (with a warning) above this many
            training items (the measured size and time are at `KNN_MAX_ITEMS`).

    Returns:
        name -> `Variant`: "global mean", "item mean", "popularity", "user + item bias",
        "MF (k=<mf_factors>)", "item-kNN".

    Example:
        >>> run_ablation(baseline_variants(split), split)  # doctest: +SKIP
    """
    train = split.train
    validation = split.validation if len(split.validation) else None
    variants = {
        "global mean": Variant(lambda seed: GlobalMean().fit(train), deterministic=True),
        "item mean": Variant(lambda seed: ItemMean().fit(train), deterministic=True),
        "popularity": Variant(lambda seed: Popularity().fit(train), deterministic=True),
        "user + item bias": Variant(lambda seed: UserItemBias().fit(train, validation),
                                    deterministic=True),
        f"MF (k={mf_factors})": Variant(
            lambda seed: MatrixFactorization(mf_factors, seed=seed).fit(train, validation)),
    }
    num_items = train["item_id"].nunique()
    if num_items <= knn_max_items:
        variants["item-kNN"] = Variant(lambda seed: ItemKNN().fit(train, validation),
                                       deterministic=True)
    else:
        warnings.warn(f"baseline item-kNN left out: {num_items} training items exceed "
                      f"knn_max_items ({knn_max_items})", stacklevel=2)
    return variants


def baseline_report(split: SplitLike, out_dir: str | Path | None = None,
                    config: EvalConfig | None = None, title: str = "baselines",
                    progress: bool = True) -> AblationResult:
    """Runs every baseline on `split` (one table, one chart) and optionally writes the files.

    Example:
        >>> print(baseline_report(split).to_markdown())  # doctest: +SKIP
    """
    config = config or EvalConfig()
    return run_ablation(baseline_variants(split, config.mf_factors), split, out_dir,
                        config=config, title=title, progress=progress)
