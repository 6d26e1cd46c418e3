"""`AspectExplainer`: the `explain` signature, pure in-graph lookups of `AspectProfiles`.

Why might this user like this item? From the tables the aspects stage computed on the
training period (`aspects.profiles.AspectProfiles`): the item's aspect mentions and
their mean polarity, and the user's aspect attention. No spaCy, no model: core
TensorFlow ops only (hash-table lookups, gathers, top-k, string joins), so stock TF
Serving runs it.

`explain`: `user_id` string [B], `item_id` string [B] ->

- `aspects` string [B, N]: the item's aspects that its training reviews mention
  (mentions > 0), the N = `ExportConfig.explain_aspects` that matter most to the user:
  ranked by `weight`, then by mentions, then in vocabulary order; slots beyond the
  item's mentioned aspects are "".
- `polarity` float32 [B, N]: the mean polarity of the item's mentions of each aspect,
  in [-1, 1] (shrunk towards the aspect's mean, as the profiles hold it); 0 in "" slots.
- `mentions` int32 [B, N]: the item's training mentions of each aspect; 0 in "" slots.
- `weight` float32 [B, N]: how much the aspect matters to the user, in [0, 1]: their
  share of aspect mentions in their own training reviews; for an unknown user, or one
  who never wrote about an aspect, the training population's share; 0 in "" slots.
- `sentence` string [B]: "praised for sound and price; some complain about the cable":
  "praised for" lists the shown aspects with polarity >= `explain_praise` and at least
  `explain_min_mentions` mentions, "some complain about the" those with polarity <=
  `explain_complain` and as many mentions (each list in the order of `aspects`, joined
  "a, b and c"); with neither, "reviews mention a and b"; with no mentioned aspect
  (an unknown item, or one whose reviews name none) `NO_MENTIONS`.

Ids are normalised as ingestion did (`data.ids.normalize_ids`). An empty batch gives
empty outputs ([0, N], [0]). `user_id` and `item_id` of different lengths fail with an
InvalidArgument error saying so.

The tables are stored sparse (CSR: the items' mentioned aspects, the users' non-zero
attention), so the SavedModel grows with the mentions, not with items x aspects.

Example:

>>> import numpy as np
>>> from tfrec_sentiment.aspects.profiles import AspectProfiles
>>> profiles = AspectProfiles(
...     aspects=np.array(["sound", "price", "cable"]), item_ids=np.array(["i1"]),
...     item_mentions=np.array([[5, 3, 2]], np.int32),
...     item_polarity=np.array([[0.8, 0.5, -0.6]], np.float32),
...     user_ids=np.array(["u1"]), user_attention=np.array([[0.2, 0.5, 0.3]], np.float32),
...     population_attention=np.array([0.5, 0.3, 0.2], np.float32))
>>> explainer = AspectExplainer(profiles, width=4)
>>> out = explainer.explain(tf.constant(["u1", "someone"]), tf.constant(["i1", "i1"]))
>>> out["aspects"].numpy().tolist()
[[b'price', b'cable', b'sound', b''], [b'sound', b'price', b'cable', b'']]
>>> for sentence in out["sentence"].numpy():
...     print(sentence.decode())
praised for price and sound; some complain about the cable
praised for sound and price; some complain about the cable
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from tfrec_sentiment.data.ids import normalize_ids
from tfrec_sentiment.export.index import _id_table, _utf8

if TYPE_CHECKING:
    from tfrec_sentiment.aspects.profiles import AspectProfiles
    from tfrec_sentiment.export.config import ExportConfig

SIGNATURE = "explain"
NO_MENTIONS = "no reviews mention its aspects yet"
OUTPUTS = ("aspects", "polarity", "mentions", "weight", "sentence")

_IDS = [tf.TensorSpec([None], tf.string, name=name) for name in ("user_id", "item_id")]


class AspectExplainer(tf.Module):
    """The item's aspects that matter to the user, their polarity and a sentence.

    Args:
        profiles: the run's `AspectProfiles` (at least one aspect).
        width: N, the aspects per (user, item) pair.
        praise: polarity at or above which the sentence praises an aspect.
        complain: polarity at or below which it reports complaints (< `praise`).
        min_mentions: mentions an aspect needs to be praised or blamed.
        name: module name.

    Raises:
        ValueError: the profiles have no aspect, or a setting is out of range.
    """

    def __init__(self, profiles: AspectProfiles, width: int = 5, praise: float = 0.3,
                 complain: float = -0.3, min_mentions: int = 2,
                 name: str = "aspect_explainer") -> None:
        super().__init__(name=name)
        if profiles.num_aspects == 0:
            raise ValueError("the aspect profiles have no aspect: nothing to explain with")
        if width < 1 or min_mentions < 1 or not -1 <= complain < praise <= 1:
            raise ValueError(f"need width >= 1, min_mentions >= 1, -1 <= complain < praise <= 1;"
                             f" got {width}, {min_mentions}, {complain}, {praise}")
        self.width, self.min_mentions = int(width), int(min_mentions)
        self.praise, self.complain = float(praise), float(complain)
        self.num_aspects = profiles.num_aspects
        mentions = np.asarray(profiles.item_mentions, np.int32)
        polarity = np.nan_to_num(np.asarray(profiles.item_polarity, np.float32))
        attention = np.asarray(profiles.user_attention, np.float32)
        item_splits, item_columns = _csr(mentions > 0)
        user_splits, user_columns = _csr(attention > 0)
        mentioned = mentions > 0
        self.aspects = tf.Variable(_utf8(profiles.aspects), trainable=False, name="aspects")
        self.item_rows = _id_table(profiles.item_ids)
        self.item_splits = tf.Variable(item_splits, trainable=False, name="item_splits")
        self.item_columns = tf.Variable(item_columns, trainable=False, name="item_columns")
        self.item_mentions = tf.Variable(mentions[mentioned], trainable=False,
                                         name="item_mentions")
        self.item_polarity = tf.Variable(polarity[mentioned], trainable=False,
                                         name="item_polarity")
        self.user_rows = _id_table(profiles.user_ids)
        self.user_splits = tf.Variable(user_splits, trainable=False, name="user_splits")
        self.user_columns = tf.Variable(user_columns, trainable=False, name="user_columns")
        self.user_attention = tf.Variable(attention[attention > 0], trainable=False,
                                          name="user_attention")
        self.population_attention = tf.Variable(
            np.asarray(profiles.population_attention, np.float32), trainable=False,
            name="population_attention")
        self.facts = {"aspects": profiles.num_aspects, "items": profiles.num_items,
                      "users": profiles.num_users, "item_aspect_mentions": int(mentioned.sum()),
                      "width": self.width, "praise": self.praise, "complain": self.complain,
                      "min_mentions": self.min_mentions}

    @tf.function(input_signature=_IDS)
    def explain(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        """The item's top-N aspects for the user (module docstring for the outputs)."""
        check = tf.debugging.assert_equal(
            tf.size(user_id), tf.size(item_id),
            message="explain: user_id and item_id must have the same length")
        with tf.control_dependencies([check]):
            user_id, item_id = normalize_ids(user_id), normalize_ids(item_id)
        item_row = self.item_rows.lookup(item_id)
        mentions = self._dense(item_row, self.item_splits, self.item_columns,
                               self.item_mentions)
        polarity = self._dense(item_row, self.item_splits, self.item_columns,
                               self.item_polarity)
        user_row = self.user_rows.lookup(user_id)
        attention = self._dense(user_row, self.user_splits, self.user_columns,
                                self.user_attention)
        own = tf.reduce_sum(attention, axis=1, keepdims=True) > 0
        weight = tf.where(own, attention, self.population_attention[None, :])
        # Rank the mentioned aspects: weight, then mentions, then vocabulary order.
        # `top_k` keeps the lower index first among ties, so two passes sort by both keys.
        depth = min(self.width, self.num_aspects)
        _, by_mentions = tf.math.top_k(tf.cast(mentions, tf.float32), k=self.num_aspects)
        keyed = tf.gather(tf.where(mentions > 0, weight, -1.0), by_mentions, batch_dims=1)
        _, picked = tf.math.top_k(keyed, k=depth)
        order = tf.gather(by_mentions, picked, batch_dims=1)
        if depth < self.width:  # fewer aspects than slots: pad (masked below)
            order = tf.pad(order, [[0, 0], [0, self.width - depth]])
        slot = tf.range(self.width) < depth
        shown = tf.where(slot, tf.gather(mentions, order, batch_dims=1), 0)
        valid = shown > 0
        out = {
            "aspects": tf.where(valid, tf.gather(self.aspects, order), b""),
            "polarity": tf.where(valid, tf.gather(polarity, order, batch_dims=1), 0.0),
            "mentions": shown,
            "weight": tf.where(valid, tf.gather(weight, order, batch_dims=1), 0.0),
        }
        out["sentence"] = self._sentence(out["aspects"], out["polarity"], shown, valid)
        return {name: tf.ensure_shape(out[name], [None] if name == "sentence"
                                      else [None, self.width]) for name in OUTPUTS}

    def _dense(self, row: tf.Tensor, splits: tf.Variable, columns: tf.Variable,
               values: tf.Variable) -> tf.Tensor:
        """Rows of a CSR table as a dense [B, A] (row -1: zeros)."""
        known = row >= 0
        safe = tf.where(known, row, 0)
        starts = tf.gather(splits, safe)
        lengths = tf.where(known, tf.gather(splits, safe + 1) - starts, 0)
        positions = tf.ragged.range(starts, starts + lengths)
        indices = tf.stack([positions.value_rowids(),
                            tf.cast(tf.gather(columns, positions.flat_values), tf.int64)], 1)
        shape = tf.stack([tf.size(row, out_type=tf.int64), self.num_aspects])
        return tf.scatter_nd(indices, tf.gather(values, positions.flat_values), shape)

    def _sentence(self, aspects: tf.Tensor, polarity: tf.Tensor, mentions: tf.Tensor,
                  valid: tf.Tensor) -> tf.Tensor:
        """The ready sentence [B] (module docstring)."""
        sure = valid & (mentions >= self.min_mentions)
        praised, blamed = sure & (polarity >= self.praise), sure & (polarity <= self.complain)
        has_praise = tf.reduce_any(praised, axis=1)
        has_blame = tf.reduce_any(blamed, axis=1)
        praise = tf.strings.join(["praised for ", _listed(aspects, praised)])
        blame = tf.strings.join(["some complain about the ", _listed(aspects, blamed)])
        both = tf.strings.join([praise, "; ", blame])
        neither = tf.where(tf.reduce_any(valid, axis=1),
                           tf.strings.join(["reviews mention ", _listed(aspects, valid)]),
                           NO_MENTIONS)
        return tf.where(has_praise & has_blame, both,
                        tf.where(has_praise, praise, tf.where(has_blame, blame, neither)))


def explainer_from_config(profiles: AspectProfiles, config: ExportConfig) -> AspectExplainer:
    """An `AspectExplainer` with the `explain_*` settings of an `ExportConfig`."""
    return AspectExplainer(profiles, width=config.explain_aspects, praise=config.explain_praise,
                           complain=config.explain_complain,
                           min_mentions=config.explain_min_mentions)


def _listed(words: tf.Tensor, keep: tf.Tensor) -> tf.Tensor:
    """The kept words of each row as "a", "a and b", "a, b and c": [B, N] -> [B]."""
    count = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1, keepdims=True)
    position = tf.cumsum(tf.cast(keep, tf.int32), axis=1) - 1
    separator = tf.where(position == 0, "", tf.where(position == count - 1, " and ", ", "))
    pieces = tf.where(keep, tf.strings.join([separator, words]), "")
    return tf.strings.reduce_join(pieces, axis=1)


def _csr(nonzero: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row splits int64 [R + 1] and columns int32 [nnz] of a boolean [R, A] matrix."""
    rows, columns = np.nonzero(nonzero)
    splits = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(nonzero)))])
    return splits.astype(np.int64), columns.astype(np.int32)
