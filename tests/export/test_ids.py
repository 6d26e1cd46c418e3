"""Served ids are normalised as ingestion normalised them (data/ids.py), in the SavedModel.

Ingestion strips surrounding whitespace from every id, so a request for `" u001"`
must reach the user ingestion stored as `"u001"`, not the unknown-user path.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

ODD = [" u001", "u001 ", "\tu001\r\n", "\u00a0u001\u3000"]


def _strings(values):
    return tf.constant([v.encode("utf-8") for v in values])


def test_recommend_and_rank_read_padded_ids_as_the_stored_ones(loaded_export):
    loaded = loaded_export
    recommend = loaded.signatures["recommend"]
    plain = recommend(user_id=_strings(["u001"] * len(ODD)))
    odd = recommend(user_id=_strings(ODD))
    np.testing.assert_array_equal(odd["item_ids"].numpy(), plain["item_ids"].numpy())
    np.testing.assert_allclose(odd["scores"].numpy(), plain["scores"].numpy(), atol=1e-6)
    # ... and that is the known user, not the unknown-user answer.
    unknown = recommend(user_id=_strings(["nobody"]))
    assert not np.allclose(unknown["scores"].numpy()[0], plain["scores"].numpy()[0])

    rank = loaded.signatures["rank"]
    want = rank(user_id=_strings(["u001", "u042"]), item_id=_strings(["i003", "i010"]))
    got = rank(user_id=_strings([" u001", "u042\t"]), item_id=_strings(["i003 ", "\ni010"]))
    for key in ("predicted_rating", "score"):
        np.testing.assert_allclose(got[key].numpy(), want[key].numpy(), atol=1e-6)
    stranger = rank(user_id=_strings(["nobody", "u042"]), item_id=_strings(["i003", "zz"]))
    assert not np.allclose(stranger["score"].numpy(), want["score"].numpy())


def test_recommend_from_reviews_excludes_padded_item_ids(loaded_export):
    loaded = loaded_export
    call = loaded.signatures["recommend_from_reviews"]
    inputs = dict(text=_strings(["love these strings"]), user_index=tf.constant([0]),
                  rating=tf.constant([5.0]))
    want = call(item_id=_strings(["i003"]), **inputs)
    got = call(item_id=_strings([" i003 "]), **inputs)
    np.testing.assert_array_equal(got["item_ids"].numpy(), want["item_ids"].numpy())
    assert b"i003" not in got["item_ids"].numpy()[0].tolist()
