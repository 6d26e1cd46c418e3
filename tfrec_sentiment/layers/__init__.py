"""The package's public Keras layers in one namespace, for use in models of your own.

Re-exports only: each class lives in its stage module and is registered serializable
under the package name (`"tfrec_sentiment>ClassName"`), so a model holding one saves
and loads with no `custom_objects`, once this package is imported.

tf-keras (Keras 2, `tf.keras` after `import tfrec_sentiment`), imported here:

- `SentimentFusion` (features/fusion.py): dict group -> float [B, dim_g] -> float32 [B, units].
- `FeatureLookup` (features/lookup.py): string ids [B] -> dict group -> float32/int64 [B, dim].
- `ReviewProfile` (features/profile.py): dict of per-review [N] (+ [N, 3] probabilities,
  [N, D] embedding) -> dict group -> float32 [G, dim].
- `UserTower`, `ItemTower` (recsys/towers.py): dict "{side}_id" string [B] +
  "{side}_{group}" float [B, dim] -> dict "embedding" [B, E], "latent" [B, E'],
  "features" [B, F], "bias" [B] (E, E': output_dim plus optional columns, see towers.py).
- The towers' parts, for towers of your own:
  `IdEmbedding` (recsys/id_embedding.py): string ids [B] -> dict "index" int64 [B],
  "embedding" float32 [B, d] (OOV buckets, id dropout);
  `HistoryBag` (recsys/history_bag.py): dict "history" int [B, L] + "history_{signal}"
  float [B, L] -> float32 [B, d * (1 + signals)];
  `ProfilePath` (recsys/profile_path.py): dict group -> float [B, dim] (+ "text") ->
  float32 [B, width];
  `SimilarityProfile`, `CatalogueOneHot` (recsys/similarity_block.py): the item-to-item
  block, float [B, I'] -> float32 [B, I] and id rows int64 [B] -> float32 [B, I].
- `RatingHead` (recsys/head.py): float [B, d] -> float32 [B].

Keras 3 (`import keras`, the sentiment side) lives in the sub-namespace
`tfrec_sentiment.layers.keras3`, which this module does not import: importing it
imports keras-hub. Its layers go into Keras 3 models only; the two Keras worlds meet
as plain `tf.Tensor`s (docs/design.md).

Dtype policies: these layers run under a `bfloat16` or `mixed_bfloat16` policy but
compute and return float32 (their sublayers keep the default policy; `FeatureLookup`
returns its tables as stored); tests/test_public_layers.py states why per layer.

Importing this module imports TensorFlow and TensorFlow Recommenders (about what
`tf.keras` alone costs), but neither Keras 3 nor keras-hub.

Example:

>>> import tensorflow as tf
>>> fusion = SentimentFusion(units=4, groups=("rating",))
>>> tuple(fusion({"rating": tf.ones([2, 3])}).shape)
(2, 4)
>>> tf.keras.utils.get_registered_name(SentimentFusion)
'tfrec_sentiment>SentimentFusion'
"""

from __future__ import annotations

from tfrec_sentiment.features.fusion import SentimentFusion
from tfrec_sentiment.features.lookup import FeatureLookup
from tfrec_sentiment.features.profile import ReviewProfile
from tfrec_sentiment.recsys.head import RatingHead
from tfrec_sentiment.recsys.history_bag import HistoryBag
from tfrec_sentiment.recsys.id_embedding import IdEmbedding
from tfrec_sentiment.recsys.profile_path import ProfilePath
from tfrec_sentiment.recsys.similarity_block import CatalogueOneHot, SimilarityProfile
from tfrec_sentiment.recsys.towers import ItemTower, UserTower

__all__ = [
    "CatalogueOneHot",
    "FeatureLookup",
    "HistoryBag",
    "IdEmbedding",
    "ItemTower",
    "ProfilePath",
    "RatingHead",
    "ReviewProfile",
    "SentimentFusion",
    "SimilarityProfile",
    "UserTower",
]
