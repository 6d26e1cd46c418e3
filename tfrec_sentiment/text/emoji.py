"""Emoji and written star ratings -> words, in TensorFlow ops, before WordPiece.

A WordPiece vocabulary (BERT's, MiniLM's) has no emoji: "👍", "😡" and "⭐⭐⭐⭐⭐" all
become `[UNK]`, so a classifier reads every emoji review alike. `emoji_to_words` maps
them to the English words the vocabulary has, so "👍" reads as "thumbs up". It is the
step of `SentimentPreprocessor` that runs right after text normalisation, so the same
mapping runs in training (`tf.data`), in batch scoring and in the exported SavedModel
(only core TensorFlow ops: TF Serving runs it, `export/ops.py` audits it).

The mapping, per codepoint (so emoji sequences map too):

| input                                         | output                              |
|-----------------------------------------------|-------------------------------------|
| an emoji of the `emoji` package (pinned) that | its CLDR short name in lower case,  |
| is one codepoint (after dropping U+FE0F)      | "_", "-", ":" ... as spaces:        |
|                                               | "👍" -> " thumbs up "               |
| U+FE0E/U+FE0F (variation selectors), U+200D   | dropped, so "👍🏽" -> " thumbs up ",  |
| (ZWJ), U+1F3FB..U+1F3FF (skin tones), U+20E3  | "❤️‍🔥" -> " red heart  fire ",       |
| (keycap), U+E0020..U+E007F (tags)             | "1️⃣" -> "1"                         |
| two regional indicators (a flag)              | " flag <country> ": "🇨🇦" ->        |
|                                               | " flag canada "                     |
| a run of 2 or more stars ★ ⭐ (filled) and ☆  | a rating: " five stars " (5 filled),|
| (empty), e.g. "★★★★☆"                         | " four of five stars " (4 filled of |
|                                               | 5); counts above ten as digits      |
| a single star (★, ⭐ or ☆)                     | " star "                            |
| anything else                                 | unchanged                           |

Words are set off by spaces ("👍👍" -> " thumbs up  thumbs up "); WordPiece ignores
the extra spaces. The table is built when a graph is traced, from the installed
`emoji` package (pinned in setup.cfg), and is stored in the graph as constants, so a
SavedModel carries it and needs no Python at serving time. `mapping_version()` names
the package version and these rules; the sentiment model's fingerprint includes it.

Everything else is copied byte for byte (invalid UTF-8 too: the tokenizer's step
replaces it later). Cost: an ASCII-only text costs one regular-expression match; any
other text is decoded to codepoints. Measured on a 2-core machine under heavy load,
1,024 reviews of 3.6 KB each: 0.05 s without emoji, 3 s with one emoji each (about
1 microsecond per character), small beside the BERT forward pass of such a batch.

Ingestion imports this module for `is_emoji` without loading TensorFlow; TensorFlow is
imported inside `emoji_to_words`.

Example:

>>> import tensorflow as tf
>>> emoji_to_words(tf.constant(["👍👍", "★★★★☆ ok", "plain"])).numpy().tolist()
[b' thumbs up  thumbs up ', b' four of five stars  ok', b'plain']
"""

from __future__ import annotations

import functools
import re

import emoji as emoji_package

RULES_VERSION = 1
FILLED_STARS = "★⭐"
EMPTY_STARS = "☆"
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                "nine", "ten")
# Codepoints that only modify or join the emoji around them (Unicode TR51).
DROPPED_RANGES = (
    (0xFE0E, 0xFE0F),    # text / emoji variation selectors
    (0x200D, 0x200D),    # zero width joiner
    (0x1F3FB, 0x1F3FF),  # skin tone modifiers
    (0x20E3, 0x20E3),    # combining enclosing keycap
    (0xE0020, 0xE007F),  # tag characters (subdivision flags)
)
REGIONAL_INDICATORS = (0x1F1E6, 0x1F1FF)
_NOT_WORD = re.compile(r"[^\w']+")


def mapping_version() -> str:
    """The `emoji` package version and these rules, e.g. "emoji-2.16.0/rules-1"."""
    return f"emoji-{emoji_package.__version__}/rules-{RULES_VERSION}"


def _words(name: str) -> str:
    # ":smiling_face_with_heart-eyes:" -> "smiling face with heart eyes"
    name = name.replace("_", " ").replace("\u2019", "'")
    return " ".join(_NOT_WORD.sub(" ", name).split()).lower()


def _is_dropped(codepoint: int) -> bool:
    return any(low <= codepoint <= high for low, high in DROPPED_RANGES)


@functools.lru_cache(maxsize=1)
def emoji_words() -> dict[int, str]:
    """Codepoint -> words for every one-codepoint emoji (stars and dropped ones excluded).

    Returns:
        dict int -> str, e.g. 0x1F44D -> "thumbs up"; about 1,400 entries.
    """
    table = {}
    for sequence, data in emoji_package.EMOJI_DATA.items():
        chars = sequence.replace("\ufe0f", "").replace("\ufe0e", "")
        if len(chars) != 1 or chars in FILLED_STARS + EMPTY_STARS:
            continue
        if _is_dropped(ord(chars)):
            continue
        table[ord(chars)] = _words(data["en"])
    return table


@functools.lru_cache(maxsize=1)
def flag_words() -> dict[int, str]:
    """(first * 2**21 + second regional indicator) -> "flag <name>", one per flag."""
    low, high = REGIONAL_INDICATORS
    table = {}
    for sequence, data in emoji_package.EMOJI_DATA.items():
        if len(sequence) == 2 and all(low <= ord(c) <= high for c in sequence):
            table[ord(sequence[0]) * 2**21 + ord(sequence[1])] = f"flag {_words(data['en'])}"
    return table


def is_emoji(char: str) -> bool:
    """True for a codepoint that `emoji_to_words` turns into words (or a star)."""
    if len(char) != 1:
        return False
    code = ord(char)
    low, high = REGIONAL_INDICATORS
    return (code in emoji_words() or char in FILLED_STARS + EMPTY_STARS
            or low <= code <= high)


def emoji_to_words(texts):
    """Maps emoji and star ratings in `texts` to words (see the module docstring).

    Args:
        texts: `tf.string` of any shape (or anything `tf.convert_to_tensor` takes), UTF-8.

    Returns:
        `tf.string`, the shape of `texts`. Bytes around the mapped characters are
        kept as they are.
    """
    import tensorflow as tf

    texts = tf.convert_to_tensor(texts, tf.string)
    # Eager or inside another graph, one function traced once per process: its ~940
    # ops and the table constants are not rebuilt in every caller's graph.
    flat = _traced()(tf.reshape(texts, [-1]))
    return tf.reshape(flat, tf.shape(texts))


@functools.lru_cache(maxsize=1)
def _traced():
    """`_emoji_to_words` as a `tf.function` over `tf.string` [None], traced on first use."""
    import tensorflow as tf

    return tf.function(_emoji_to_words, input_signature=[tf.TensorSpec([None], tf.string)],
                       autograph=False)


def _emoji_to_words(texts):
    import tensorflow as tf

    from tfrec_sentiment.text.regex import on_rows

    # Most reviews are ASCII: a regular expression clears them without decoding, and a
    # batch without a non-ASCII row (most single requests) skips the ~940 ops below.
    return on_rows(texts, ~tf.strings.regex_full_match(texts, r"[\x00-\x7f]*"), _map_rows)


def _map_rows(rows):
    """The mapping of non-ASCII `rows` [K] -> [K]."""
    import tensorflow as tf

    codepoints, offsets = tf.strings.unicode_decode_with_offsets(
        rows, "UTF-8", errors="replace", replacement_char=0xFFFD)
    flat, starts = codepoints.flat_values, offsets.flat_values
    row_ids = codepoints.value_rowids()
    size = tf.size(flat)
    new_row = row_ids[1:] != row_ids[:-1]
    first = tf.concat([[True], new_row], axis=0)[:size]
    last = tf.concat([new_row, [True]], axis=0)[:size]
    lengths = tf.cast(tf.strings.length(rows), tf.int64)
    ends = tf.where(last, tf.gather(lengths, row_ids), tf.concat([starts[1:], [0]], axis=0))

    # Only the special characters are turned into strings; the text between them is
    # copied as byte ranges, so the cost in string ops is per emoji, not per character.
    special, replacement = _replacements(flat, first)
    s_row, s_start, s_end = (tf.boolean_mask(x, special) for x in (row_ids, starts, ends))
    s_first = tf.concat([[True], s_row[1:] != s_row[:-1]], axis=0)[: tf.size(s_row)]
    previous_end = tf.where(s_first, tf.zeros_like(s_end), tf.concat([[0], s_end[:-1]], 0))
    gaps = tf.strings.substr(tf.gather(rows, s_row), previous_end, s_start - previous_end)
    joined = tf.strings.reduce_join(tf.RaggedTensor.from_value_rowids(
        tf.strings.join([gaps, replacement]), s_row, nrows=tf.size(rows, tf.int64)), axis=1)
    tail = tf.maximum(tf.math.unsorted_segment_max(s_end, s_row, tf.size(rows)), 0)
    return tf.strings.join([joined, tf.strings.substr(rows, tail, lengths - tail)])


def _in_ranges(codepoints, ranges):
    import tensorflow as tf

    hit = tf.zeros_like(codepoints, tf.bool)
    for low, high in ranges:
        hit |= (codepoints >= low) & (codepoints <= high)
    return hit


def _is_star(codepoints, stars: str):
    return _in_ranges(codepoints, [(ord(c), ord(c)) for c in stars])


def _lookup(keys, table: dict[int, str]):
    """(found bool [N], position int [N]) of `keys` [N] in a sorted constant table,
    and the table's values string [T]."""
    import tensorflow as tf

    sorted_keys = sorted(table)
    constant_keys = tf.constant(sorted_keys or [-1], keys.dtype)
    values = tf.constant([table[k] for k in sorted_keys] or [""], tf.string)
    position = tf.searchsorted(constant_keys, keys, side="left")
    position = tf.minimum(position, tf.size(constant_keys) - 1)
    return tf.gather(constant_keys, position) == keys, position, values


def _runs(mask, first):
    """Runs of consecutive True in `mask` [N] that do not cross a row (`first`: row start).

    Returns (start bool [N], run int [N] (valid where mask), offset in run int [N],
    number of runs).
    """
    import tensorflow as tf

    previous = tf.concat([[False], mask[:-1]], axis=0) & ~first
    start = mask & ~previous
    run = tf.cumsum(tf.cast(start, tf.int32)) - 1
    index = tf.range(tf.size(mask))
    starts = tf.concat([tf.boolean_mask(index, start), [0]], axis=0)  # [0]: no run at all
    run_start = tf.gather(starts, tf.maximum(run, 0))
    return start, run, index - run_start, tf.reduce_sum(tf.cast(start, tf.int32))


def _count_words(counts):
    import tensorflow as tf

    small = tf.gather(tf.constant(NUMBER_WORDS), tf.minimum(counts, len(NUMBER_WORDS) - 1))
    return tf.where(counts < len(NUMBER_WORDS), small, tf.strings.as_string(counts))


def _replacements(flat, first):
    """Which codepoints [N] are replaced (bool [N]), and by what (string [S], S = count).

    `first` [N] marks the first codepoint of each row (runs never cross rows). Masks
    are computed over all N codepoints; strings only for the S replaced ones.
    """
    import tensorflow as tf

    found, position, words = _lookup(flat, emoji_words())
    dropped = _in_ranges(flat, DROPPED_RANGES)
    indicator = _in_ranges(flat, (REGIONAL_INDICATORS,))
    filled = _is_star(flat, FILLED_STARS)
    star = filled | _is_star(flat, EMPTY_STARS)
    special = found | dropped | indicator | star

    # Runs are found among the kept codepoints: "⭐️⭐️" is a run of two stars.
    kept = ~dropped
    kept_at = tf.cumsum(tf.cast(kept, tf.int32)) - 1  # position among the kept
    k_first = tf.math.unsorted_segment_max(tf.cast(first, tf.int32), kept_at,
                                           tf.reduce_sum(tf.cast(kept, tf.int32))) > 0
    k_cp = tf.boolean_mask(flat, kept)
    k_indicator, k_filled, k_star = (tf.boolean_mask(x, kept)
                                     for x in (indicator, filled, star))

    # Flags: a regional indicator at an even offset of its run starts a pair.
    _, _, offset, _ = _runs(k_indicator, k_first)
    k_lead = k_indicator & (offset % 2 == 0)
    k_pair = k_lead & tf.concat([k_indicator[1:], [False]], axis=0)
    k_pair &= ~tf.concat([k_first[1:], [True]], axis=0)
    k_following = tf.concat([k_cp[1:], [0]], axis=0)

    # Star ratings: one phrase per run of stars, at its first star.
    start, run, _, num_runs = _runs(k_star, k_first)
    segment = tf.where(k_star, run, num_runs)
    total = tf.math.unsorted_segment_sum(tf.cast(k_star, tf.int32), segment, num_runs + 1)
    stars = tf.math.unsorted_segment_sum(tf.cast(k_filled, tf.int32), segment, num_runs + 1)
    rating = tf.where(
        total == stars,
        tf.strings.join([" ", _count_words(stars), " stars "]),
        tf.strings.join([" ", _count_words(stars), " of ", _count_words(total), " stars "]))
    rating = tf.where(total == 1, " star ", rating)

    # The replaced codepoints only.
    pick = tf.where(special)[:, 0]
    k_pick = tf.gather(tf.maximum(kept_at, 0), pick)
    word = tf.strings.join([" ", tf.gather(words, tf.gather(position, pick)), " "])
    replacement = tf.where(tf.gather(found, pick), word, "")

    key = (tf.cast(tf.gather(k_cp, k_pick), tf.int64) * 2**21
           + tf.cast(tf.gather(k_following, k_pick), tf.int64))
    flag_found, flag_position, flag_names = _lookup(key, flag_words())
    flag = tf.where(tf.gather(k_pair, k_pick) & flag_found,
                    tf.gather(flag_names, flag_position), "flag")
    flag = tf.where(tf.gather(k_lead, k_pick), tf.strings.join([" ", flag, " "]), "")
    replacement = tf.where(tf.gather(indicator, pick), flag, replacement)

    phrase = tf.where(tf.gather(start, k_pick),
                      tf.gather(rating, tf.gather(segment, k_pick)), "")
    replacement = tf.where(tf.gather(star, pick), phrase, replacement)
    replacement = tf.where(tf.gather(dropped, pick), "", replacement)
    return special, replacement
