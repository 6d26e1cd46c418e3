"""`AspectExplainer`: the `explain` signature, pure in-graph lookups of `AspectProfiles`.

Why might this user like this item? From the tables the aspects stage computed on the
training period (`aspects.profiles.AspectProfiles`): the item's aspect mentions and
their mean polarity, and the user's aspect attention. No spaCy, no model: core
TensorFlow ops only (hash-table lookups, gathers, top-k, string joins), so stock TF
Serving runs it.

`explain`: `user_id` string [B], `item_id` string [B] ->

- `aspects` string [B, N]: the item's aspects that its training reviews mention
  (mentions > 0), the N = `ExportConfig.explain_aspects` first by `explain_order`:
  "weight_x_mentions" (default) by `weight` x `mentions`, then by mentions;
  "weight" by `weight`, then by mentions; "mentions" by mentions, then by `weight`;
  remaining ties in vocabulary order. Slots beyond the item's mentioned aspects are "".
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

The item table is stored sparse when most (item, aspect) pairs have no mention (CSR:
the mentioned pairs only, `RowTable`), so the SavedModel grows with the mentions, not
with items x aspects; the user table likewise (a smoothed attention is dense: stored
dense).

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
[[b'price', b'sound', b'cable', b''], [b'sound', b'price', b'cable', b'']]
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
from tfrec_sentiment.export.config import EXPLAIN_ORDERS
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
        order: "weight_x_mentions", "weight" or "mentions" (module docstring).
        praise: polarity at or above which the sentence praises an aspect.
        complain: polarity at or below which it reports complaints (< `praise`).
        min_mentions: mentions an aspect needs to be praised or blamed.
        name: module name.

    Raises:
        ValueError: the profiles have no aspect, or a setting is out of range.
    """

    def __init__(self, profiles: AspectProfiles, width: int = 5, praise: float = 0.3,
                 complain: float = -0.3, min_mentions: int = 2,
                 order: str = "weight_x_mentions", name: str = "aspect_explainer") -> None:
        super().__init__(name=name)
        if profiles.num_aspects == 0:
            raise ValueError("the aspect profiles have no aspect: nothing to explain with")
        if width < 1 or min_mentions < 1 or not -1 <= complain < praise <= 1:
            raise ValueError(f"need width >= 1, min_mentions >= 1, -1 <= complain < praise <= 1;"
                             f" got {width}, {min_mentions}, {complain}, {praise}")
        if order not in EXPLAIN_ORDERS:
            raise ValueError(f"order must be one of {', '.join(EXPLAIN_ORDERS)}, got {order!r}")
        self.order = order
        self.width, self.min_mentions = int(width), int(min_mentions)
        self.praise, self.complain = float(praise), float(complain)
        self.num_aspects = profiles.num_aspects
        mentions = np.asarray(profiles.item_mentions, np.int32)
        attention = np.asarray(profiles.user_attention, np.float32)
        self.aspects = tf.Variable(_utf8(profiles.aspects), trainable=False, name="aspects")
        self.item_rows = _id_table(profiles.item_ids)
        self.items = RowTable(
            {"mentions": mentions,
             "polarity": np.nan_to_num(np.asarray(profiles.item_polarity, np.float32))},
            mentions > 0, name="item_aspects")
        self.user_rows = _id_table(profiles.user_ids)
        self.users = RowTable({"attention": attention}, attention > 0, name="user_attention")
        self.population_attention = tf.Variable(
            np.asarray(profiles.population_attention, np.float32), trainable=False,
            name="population_attention")
        self.facts = {"aspects": profiles.num_aspects, "items": profiles.num_items,
                      "users": profiles.num_users,
                      "item_aspect_mentions": int((mentions > 0).sum()),
                      "item_storage": self.items.kind, "user_storage": self.users.kind,
                      "width": self.width, "order": self.order, "praise": self.praise,
                      "complain": self.complain, "min_mentions": self.min_mentions}

    @tf.function(input_signature=_IDS)
    def explain(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        """The item's top-N aspects for the user (module docstring for the outputs)."""
        check = tf.debugging.assert_equal(
            tf.size(user_id), tf.size(item_id),
            message="explain: user_id and item_id must have the same length")
        with tf.control_dependencies([check]):
            user_id, item_id = normalize_ids(user_id), normalize_ids(item_id)
        item = self.items.rows(self.item_rows.lookup(item_id))
        mentions, polarity = item["mentions"], item["polarity"]
        attention = self.users.rows(self.user_rows.lookup(user_id))["attention"]
        own = tf.reduce_sum(attention, axis=1, keepdims=True) > 0
        weight = tf.where(own, attention, self.population_attention[None, :])
        # Rank the mentioned aspects by a first key, then a second, then vocabulary
        # order: `top_k` keeps the lower index first among ties, so a pass by the second
        # key and a pass by the first over its result sort by both.
        count = tf.cast(mentions, tf.float32)
        first, second = {"weight_x_mentions": (weight * count, count),
                         "weight": (weight, count), "mentions": (count, weight)}[self.order]
        depth = min(self.width, self.num_aspects)
        _, by_second = tf.math.top_k(second, k=self.num_aspects)
        keyed = tf.gather(tf.where(mentions > 0, first, -1.0), by_second, batch_dims=1)
        _, picked = tf.math.top_k(keyed, k=depth)
        order = tf.gather(by_second, picked, batch_dims=1)
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
                           min_mentions=config.explain_min_mentions,
                           order=config.explain_order)


def _listed(words: tf.Tensor, keep: tf.Tensor) -> tf.Tensor:
    """The kept words of each row as "a", "a and b", "a, b and c": [B, N] -> [B]."""
    count = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1, keepdims=True)
    position = tf.cumsum(tf.cast(keep, tf.int32), axis=1) - 1
    separator = tf.where(position == 0, "", tf.where(position == count - 1, " and ", ", "))
    pieces = tf.where(keep, tf.strings.join([separator, words]), "")
    return tf.strings.reduce_join(pieces, axis=1)


class RowTable(tf.Module):
    """Rows of [R, A] matrices that share a sparsity pattern, looked up by row.

    Stored dense when at least half the entries are present, else as CSR (row splits
    [R + 1], columns [nnz] and each matrix's present values [nnz]), so a table of
    few mentions per item costs its mentions, not R x A.

    Args:
        matrices: name -> array [R, A]; absent entries are read as 0.
        present: bool [R, A], the entries to keep.
        name: module name.
        kind: "dense", "csr", or None: chosen by the share of present entries (dense
            needs R >= 1).
    """

    def __init__(self, matrices: dict[str, np.ndarray], present: np.ndarray,
                 name: str = "row_table", kind: str | None = None) -> None:
        super().__init__(name=name)
        rows, self.width = present.shape
        if kind is None:
            kind = "dense" if rows and 2 * present.sum() >= present.size else "csr"
        if kind not in ("dense", "csr") or (kind == "dense" and not rows):
            raise ValueError(f"kind must be 'dense' (with rows) or 'csr', got {kind!r}")
        self.kind = kind
        if self.kind == "dense":
            self.values = {key: tf.Variable(np.where(present, value, 0), trainable=False,
                                            name=key) for key, value in matrices.items()}
            return
        nonzero_rows, columns = np.nonzero(present)
        splits = np.concatenate([[0], np.cumsum(np.bincount(nonzero_rows, minlength=rows))])
        self.splits = tf.Variable(splits.astype(np.int64), trainable=False, name="splits")
        self.columns = tf.Variable(columns.astype(np.int64), trainable=False, name="columns")
        self.values = {key: tf.Variable(value[present], trainable=False, name=key)
                       for key, value in matrices.items()}

    def rows(self, row: tf.Tensor) -> dict[str, tf.Tensor]:
        """int64 [B] row positions (-1: absent, all zeros) -> name -> [B, A]."""
        known = row >= 0
        safe = tf.where(known, row, 0)
        if self.kind == "dense":
            return {key: tf.where(known[:, None], tf.gather(value, safe),
                                  tf.zeros([], value.dtype))
                    for key, value in self.values.items()}
        starts = tf.gather(self.splits, safe)
        lengths = tf.where(known, tf.gather(self.splits, safe + 1) - starts, 0)
        positions = tf.ragged.range(starts, starts + lengths)
        indices = tf.stack([positions.value_rowids(),
                            tf.gather(self.columns, positions.flat_values)], axis=1)
        shape = tf.stack([tf.size(row, out_type=tf.int64), self.width])
        return {key: tf.scatter_nd(indices, tf.gather(value, positions.flat_values), shape)
                for key, value in self.values.items()}
