import json

import pytest

from tfrec_sentiment.data.prepare import prepare_reviews
from tfrec_sentiment.text import noise


@pytest.mark.parametrize("text, title", [
    ("Great!", ""), ("ok", ""), ("", "Five Stars"), ("A+", ""), ("5 stars, works", ""),
    ("👍", ""), ("Goooooood!!!!!!!!!!!!!!", ""), ("good good good good", ""),
    ("!!!!", "Love it"), ("10/10", "Perfect"), ("k", ""), ("good good good good good!", ""),
    ("こんにちは", ""), ("10/10", ""), ("5/5", ""), ("4.5 / 5!!", ""),
    ("👍👍👍", ""), ("★★★★★", ""), ("⭐⭐⭐⭐⭐", ""), ("★★★★☆", ""), ("⭐️⭐️⭐️", ""),
    ("😡👎", ""), ("👍🏽👍🏽👍🏽", ""), ("🇨🇦", ""), ("♥♥♥", ""),
])
def test_real_short_reviews_are_kept(text, title):
    assert noise.noise_reason(text, title) is None


@pytest.mark.parametrize("text, title, reason", [
    ("", "", noise.EMPTY_TEXT),
    ("!!!!", "", noise.SPAM_NO_LETTERS),
    ("......", "", noise.SPAM_NO_LETTERS),
    ("!!! ???", "", noise.SPAM_NO_LETTERS),
    ("+++", "", noise.SPAM_NO_LETTERS),
    ("[URL]", "", noise.SPAM_NO_LETTERS),
    ("[PHONE] [EMAIL]", "...", noise.SPAM_NO_LETTERS),
    ("aaaaaaa", "", noise.SPAM_REPEATED_CHAR),
    ("zz z", "", noise.SPAM_REPEATED_CHAR),
    ("buy buy buy BUY buy", "", noise.SPAM_REPEATED_WORD),
    ("spam spam", "spam spam spam", noise.SPAM_REPEATED_WORD),
])
def test_noise_is_flagged(text, title, reason):
    assert noise.noise_reason(text, title) == reason


# (text, expected reason) of the emoji case: Amazon 2014 lines, built here too.
EMOJI_CASE = [
    ("\U0001F44D", None), ("\U0001F44D" * 3, None), ("\U0001F621" * 2, None),
    ("\U0001F44D\U0001F3FD" * 3, None), ("\u2605" * 5, None), ("\u2b50" * 5, None),
    ("no no no no no", noise.SPAM_REPEATED_WORD), ("NOT GOOD. DO NOT BUY.", None),
    ("10/10", None), ("A+", None), ("!!!!", noise.SPAM_NO_LETTERS),
    ("aaaaaa", noise.SPAM_REPEATED_CHAR),
]


def _amazon2014_file(path, texts):
    # UTF-8 with a BOM and CRLF line ends, like the shared case file.
    lines = [json.dumps({"reviewerID": f"U{i}", "asin": f"I{i % 3}", "overall": 5.0,
                         "helpful": [0, 0], "reviewText": text, "summary": "",
                         "unixReviewTime": 1400000000 + i}) for i, text in enumerate(texts)]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    return path


def _rejected_texts(prepared):
    return {(r.line, r.reason) for r in prepared.rejections}


def test_emoji_and_star_reviews_survive_ingestion(tmp_path):
    texts = [text for text, _ in EMOJI_CASE]
    prepared = prepare_reviews(_amazon2014_file(tmp_path / "case.json", texts), "amazon2014")
    expected = {(line, reason) for line, (_, reason) in enumerate(EMOJI_CASE, start=1)
                if reason is not None}
    assert _rejected_texts(prepared) == expected
    kept = set(prepared.reviews["text"])
    assert {"\U0001F44D" * 3, "\u2605" * 5, "\u2b50" * 5, "10/10"} <= kept


def test_shared_emoji_case_keeps_emoji_and_stars(shared_cases):
    prepared = prepare_reviews(shared_cases / "emoji_and_symbols_2014.json", "amazon2014")
    reasons = {r.line: r.reason for r in prepared.rejections}
    # Lines 1-6 are emoji / star reviews, 9 is "10/10": all kept now.
    assert not {1, 2, 3, 4, 5, 6, 9} & set(reasons)
    assert reasons.get(7) == noise.SPAM_REPEATED_WORD  # "no no no no no"
    assert "spam_repeated_char" not in reasons.values()
