"""Shared pieces of the TensorFlow text steps: RE2 character classes, match mapping.

Every text step (`text.normalize`, `text.scrub`) is written in TensorFlow string ops so
that the data stage, fine-tuning, batch scoring and the served graph run ONE
implementation. TensorFlow's regex ops use RE2, which differs from Python's `re`:

- no look-around and no back-references: a look-behind becomes a captured neighbour
  that the rewrite puts back (`(^|[^...])` ... `\\1`), a look-ahead a captured
  follower; a step whose follower can be the next match's neighbour runs twice;
- `\\s`, `\\w`, `\\d` and `\\b` are ASCII-only, so the classes below spell out
  Python's Unicode meaning of `\\s` (exactly `str.isspace`), `\\w` and `\\d`.

Where a match needs a computed replacement (an entity's character, a digit count),
`map_matches` wraps each match in a byte that valid UTF-8 never contains, splits on
it and maps the matches only.

Example:

>>> import tensorflow as tf
>>> upper = lambda matches: tf.strings.upper(matches)
>>> map_matches(tf.constant(["a-b c-d"]), r"([a-z])-([a-z])", b"\\xff\\\\0\\xff", upper).numpy()
array([b'A-B C-D'], dtype=object)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

# Python's `\s` on str (= str.isspace), as the body of an RE2 character class.
SPACE = (r"\t\n\x0b\x0c\r \x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
         r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}")
# Python's `\w` and `\d` on str.
WORD = r"\p{L}\p{N}_"
DIGIT = r"\p{Nd}"
# A byte that never occurs in valid UTF-8: marks matches for `map_matches`.
MARK = b"\xff"

TextFn = Callable[[tf.Tensor], tf.Tensor]


def map_matches(texts: tf.Tensor, pattern: str, rewrite: bytes, fn: TextFn) -> tf.Tensor:
    """Replaces each marked match of `pattern` in `texts` by `fn(match)`.

    Args:
        texts: `tf.string` [N], valid UTF-8.
        pattern: an RE2 pattern.
        rewrite: the rewrite for `tf.strings.regex_replace`, with exactly one span
            between two `MARK` bytes (e.g. `b"\\\\1\\xff\\\\2\\xff\\\\3"`); `fn` sees
            the spans.
        fn: `tf.string` [M] -> `tf.string` [M], applied to all marked spans at once.

    Returns:
        `tf.string` [N].
    """
    marked = tf.strings.regex_replace(texts, pattern, rewrite)
    # Pieces per string: text, match, text, ... (indices hold row and position).
    split = tf.raw_ops.StringSplitV2(input=marked, sep=MARK, maxsplit=-1)
    rows, positions = split.indices[:, 0], split.indices[:, 1]
    matches = tf.where(positions % 2 == 1)
    pieces = tf.tensor_scatter_nd_update(split.values, matches,
                                         fn(tf.gather_nd(split.values, matches)))
    return tf.strings.unsorted_segment_join(pieces, rows, tf.shape(texts, tf.int64)[0])


def on_rows_matching(texts: tf.Tensor, hint: str, fn: TextFn) -> tf.Tensor:
    """Applies `fn` only to the strings of `texts` [N] that fully match `hint`.

    A cheap pre-filter: most reviews hold no entity, tag, URL or phone number, and a
    DFA scan for a hint costs far less than the step's rewriting. `fn` must leave a
    string without the hint unchanged, so the result equals `fn(texts)`. When no
    string matches, `fn`'s ops do not run at all (`tf.cond`): a served request of one
    plain review skips the step's tens of ops instead of running them on zero rows.
    """
    return on_rows(texts, tf.strings.regex_full_match(texts, hint), fn)


def on_rows(texts: tf.Tensor, selected: tf.Tensor, fn: TextFn) -> tf.Tensor:
    """`fn` on the strings of `texts` [N] where `selected` (bool [N]), the others kept.

    `fn` maps the selected strings [K] to as many strings; its ops run only when some
    string is selected (`tf.cond`), so a batch with none costs a scan, not the step.
    """

    def apply() -> tf.Tensor:
        rows = tf.where(selected)
        return tf.tensor_scatter_nd_update(texts, rows, fn(tf.gather_nd(texts, rows)))

    return tf.cond(tf.reduce_any(selected), apply, lambda: tf.identity(texts))


def ascii_digit_count(texts: tf.Tensor) -> tf.Tensor:
    """Number of ASCII digits 0-9 in each string; int32, the shape of `texts`."""
    return (tf.strings.length(texts)
            - tf.strings.length(tf.strings.regex_replace(texts, "[0-9]", "")))


def encode_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Python strings -> UTF-8 bytes (object array) for the TensorFlow steps.

    Lone surrogates (from broken JSON escapes) have no UTF-8 form and are dropped;
    the second array flags the strings that had any (bool [N]), so callers can count
    them with the control characters.
    """
    encoded = np.empty(len(strings), dtype=object)
    dropped = np.zeros(len(strings), dtype=bool)
    for i, text in enumerate(strings):
        try:
            encoded[i] = text.encode("utf-8")
        except UnicodeEncodeError:
            encoded[i] = text.encode("utf-8", "ignore")
            dropped[i] = True
    return encoded, dropped


def text_step(fn: Callable[..., tf.Tensor]) -> Callable:
    """Lets a batch step (`tf.string` tensor in and out) also take one Python `str`.

    Tensors, arrays and lists go through `fn` as a tensor; a `str` runs as a batch of
    one and comes back as `str` — the same object when nothing changed.
    """
    @functools.wraps(fn)
    def step(texts, *args, **kwargs):
        if isinstance(texts, str):
            encoded, _ = encode_strings([texts])
            traced = _traced(fn, args, tuple(sorted(kwargs.items())))
            out = traced(tf.constant(encoded))[0].numpy().decode("utf-8")
            return texts if out == texts else out
        return fn(tf.convert_to_tensor(texts, tf.string), *args, **kwargs)

    return step


@functools.cache
def _traced(fn: Callable[..., tf.Tensor], args: tuple, kwargs: tuple) -> TextFn:
    # One graph per step and options: eager op-by-op runs cost ~0.5 s per string.
    return tf.function(lambda texts: fn(texts, *args, **dict(kwargs)),
                       input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
