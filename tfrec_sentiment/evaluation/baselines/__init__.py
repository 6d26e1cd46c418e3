"""Baselines that every run reports beside the TFRS model, all fitted on the train split.

| name | module | predict_rating | score_items (ranking) |
|---|---|---|---|
| `GlobalMean` | means.py | mean training rating mu | constant (a random ranking) |
| `ItemMean` | means.py | item's mean rating, optionally shrunk to mu | the same item mean |
| `Popularity` | means.py | mu | item's training interaction count |
| `UserItemBias` | bias.py | mu + b_u + b_i, L2-regularised | mu + b_u + b_i (per user: b_i) |
| `MatrixFactorization` | mf.py | mu + b_u + b_i + p_u . q_i (ALS, k factors) | the same |
| `ItemKNN` | knn.py | bias + similarity-weighted residuals | item-kNN + log-popularity prior |

`baseline_variants` and `baseline_report` (report.py) run them all as ablation
variants; common.py holds what they share (id tables, the input check, the choice of
a setting on validation).

Unknown ids at prediction time fall back to what is known: an unknown item gets mu
(item mean, popularity count 0), an unknown user gets no user bias or factors, so the
bias and MF models predict mu + b_i for a new user and mu + b_u for a new item.

`ItemMean` is unshrunk by default (`shrinkage=0`), the textbook baseline: on sparse data
its one-review items make it worse than the global mean. `UserItemBias` and
`MatrixFactorization` choose their L2 weight from a grid by validation RMSE: on the
validation frame passed to `fit`, or, when none is given, on each user's last training
review by time, held out from a first fit; the final model is then refitted on all of
`train` with the chosen weight. `ItemKNN` chooses its similarity shrinkage and its
popularity weight the same way, by validation NDCG@10.

Example:

>>> from tfrec_sentiment.evaluation.baselines import ItemMean
>>> model = ItemMean().fit(train)  # doctest: +SKIP
"""

from tfrec_sentiment.evaluation.baselines.bias import BIAS_REG_GRID, UserItemBias
from tfrec_sentiment.evaluation.baselines.common import REQUIRED_COLUMNS
from tfrec_sentiment.evaluation.baselines.knn import (
    KNN_MAX_ITEMS,
    KNN_POPULARITY_GRID,
    KNN_SHRINKAGE_GRID,
    ItemKNN,
)
from tfrec_sentiment.evaluation.baselines.means import GlobalMean, ItemMean, Popularity
from tfrec_sentiment.evaluation.baselines.mf import MF_REG_GRID, MatrixFactorization
from tfrec_sentiment.evaluation.baselines.report import baseline_report, baseline_variants

__all__ = [
    "BIAS_REG_GRID",
    "KNN_MAX_ITEMS",
    "KNN_POPULARITY_GRID",
    "KNN_SHRINKAGE_GRID",
    "MF_REG_GRID",
    "REQUIRED_COLUMNS",
    "GlobalMean",
    "ItemKNN",
    "ItemMean",
    "MatrixFactorization",
    "Popularity",
    "UserItemBias",
    "baseline_report",
    "baseline_variants",
]
