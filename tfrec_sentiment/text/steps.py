"""The whole text cleaning as one TensorFlow function, and its batch runner.

`clean_texts` is what the model's graph applies first (`SentimentPreprocessor.call`),
so fine-tuning, batch scoring and the exported `sentiment` / `recommend_from_reviews`
signatures read the same text as the data stage, which runs the same steps one by one
through `apply_text_steps` to count each step's edits (`text.clean`). One
implementation: the steps of `text.normalize` and `text.scrub`, in this order.

The ops are core TensorFlow plus TF Text's `NormalizeUTF8` (in every TF Text release
TF Serving has bundled), so the export's op audit accepts them.

Example:

>>> clean_texts(tf.constant(["Works\\x00 great\\x07 &amp; call 555-234-5678"])).numpy()
array([b'Works great & call [PHONE]'], dtype=object)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfrec_sentiment.text.normalize import normalize_steps
from tfrec_sentiment.text.regex import encode_strings
from tfrec_sentiment.text.scrub import scrub_steps

CONTROL_STEP = "control_chars_removed"
BATCH_SIZE = 2048
# Bump whenever a step changes what it outputs: the sentiment model's fingerprint (the
# score cache's key) includes it, so scores of texts cleaned another way are not reused.
CLEANING_VERSION = 2


def text_steps(unicode_form: str = "NFKC", scrub: bool = True) -> tuple[tuple[str, object], ...]:
    """(edit name, step) pairs in order: normalisation, then (optionally) PII scrubbing.

    Each step maps `tf.string` [N] -> [N] (or one `str` -> `str`).
    """
    return normalize_steps(unicode_form) + (scrub_steps() if scrub else ())


def clean_texts(texts, unicode_form: str = "NFKC", scrub: bool = True) -> tf.Tensor:
    """Runs every text step on a batch, in graph or eagerly; the model's first step.

    Args:
        texts: `tf.string` of any shape (or anything `tf.convert_to_tensor` takes).
            Invalid UTF-8 becomes U+FFFD first.
        unicode_form: "NFKC" (default) or "NFC".
        scrub: replace URLs, e-mail addresses and phone numbers by placeholders.

    Returns:
        `tf.string`, the shape of `texts`. Idempotent on real text:
        `clean_texts(clean_texts(x)) == clean_texts(x)`.
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    # Eager or inside another graph (a tf.data map, the export's signature), the steps
    # run as one function traced once per process: building their ~630 ops again in
    # every caller's graph cost about 0.5 s per trace.
    flat = _compiled_clean(unicode_form, scrub)(tf.reshape(texts, [-1]))
    return tf.reshape(flat, tf.shape(texts))


def _clean_flat(texts: tf.Tensor, unicode_form: str, scrub: bool) -> tf.Tensor:
    texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace",
                                         replacement_char=0xFFFD)
    for _, step in text_steps(unicode_form, scrub):
        texts = step(texts)
    return texts


@functools.cache
def _compiled_clean(unicode_form: str, scrub: bool):
    """The steps as a `tf.function` over `tf.string` [None], traced on first use.

    A graph that calls it holds one call op and a copy of the traced function in its
    library (saved with a SavedModel), not the steps' ops themselves.
    """
    return tf.function(functools.partial(_clean_flat, unicode_form=unicode_form, scrub=scrub),
                       input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)


@functools.cache
def _counting_function(unicode_form: str, scrub: bool):
    names = [name for name, _ in text_steps(unicode_form, scrub)]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def run(texts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        changed = []
        for _, step in text_steps(unicode_form, scrub):
            updated = step(texts)
            changed.append(tf.not_equal(updated, texts))
            texts = updated
        return texts, tf.stack(changed, axis=1)

    return names, run


def apply_text_steps(
    strings: Sequence[str], unicode_form: str = "NFKC", scrub: bool = True,
    batch_size: int = BATCH_SIZE,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Runs the text steps over Python strings in batches, recording what each changed.

    Args:
        strings: N strings.
        unicode_form, scrub: as for `clean_texts`.
        batch_size: strings per TensorFlow call.

    Returns:
        `(cleaned, changed)`: the cleaned strings (object array [N]) and, per edit name
        in step order, bool [N] marking the strings that step changed. Lone surrogates,
        which UTF-8 cannot carry, are dropped on the way in and counted under
        `control_chars_removed`.
    """
    names, run = _counting_function(unicode_form, scrub)
    encoded, dropped = encode_strings(strings)
    changed = np.zeros((len(encoded), len(names)), dtype=bool)
    for start in range(0, len(encoded), batch_size):
        cleaned, batch_changed = run(tf.constant(encoded[start:start + batch_size], tf.string))
        encoded[start:start + batch_size] = cleaned.numpy()
        changed[start:start + batch_size] = batch_changed.numpy()
    by_step = {name: changed[:, i] for i, name in enumerate(names)}
    if CONTROL_STEP in by_step:
        by_step[CONTROL_STEP] |= dropped
    return np.array([b.decode("utf-8") for b in encoded], dtype=object), by_step
