import pytest

from tfrec_sentiment.text import noise


@pytest.mark.parametrize("text, title", [
    ("Great!", ""), ("ok", ""), ("", "Five Stars"), ("A+", ""), ("5 stars, works", ""),
    ("👍", ""), ("Goooooood!!!!!!!!!!!!!!", ""), ("good good good good", ""),
    ("!!!!", "Love it"), ("10/10", "Perfect"), ("k", ""), ("good good good good good!", ""),
    ("こんにちは", ""),
])
def test_real_short_reviews_are_kept(text, title):
    assert noise.noise_reason(text, title) is None


@pytest.mark.parametrize("text, title, reason", [
    ("", "", noise.EMPTY_TEXT),
    ("!!!!", "", noise.SPAM_NO_LETTERS),
    ("10/10", "", noise.SPAM_NO_LETTERS),
    ("[URL]", "", noise.SPAM_NO_LETTERS),
    ("[PHONE] [EMAIL]", "...", noise.SPAM_NO_LETTERS),
    ("aaaaaaa", "", noise.SPAM_REPEATED_CHAR),
    ("zz z", "", noise.SPAM_REPEATED_CHAR),
    ("buy buy buy BUY buy", "", noise.SPAM_REPEATED_WORD),
    ("spam spam", "spam spam spam", noise.SPAM_REPEATED_WORD),
])
def test_noise_is_flagged(text, title, reason):
    assert noise.noise_reason(text, title) == reason
