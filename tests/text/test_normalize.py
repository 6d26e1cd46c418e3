import pytest

from tfrec_sentiment.text import normalize


@pytest.mark.parametrize("raw, expected", [
    ("1/4&#34; plug", '1/4" plug'),
    ("R&amp;B &lt;3", "R&B <3"),
    ("twice &amp;#34;escaped&amp;#34;", 'twice "escaped"'),
    ("caf&eacute; &#x263A;", "café ☺"),
    ("AT&T and salt&not pepper", "AT&T and salt&not pepper"),  # bare names stay
    ("ie=UTF8&qid;=1357", "ie=UTF8&qid;=1357"),  # unknown entity stays
])
def test_unescape_html(raw, expected):
    assert normalize.unescape_html(raw) == expected


def test_unescape_returns_same_object_when_nothing_to_do():
    text = "plain text"
    assert normalize.unescape_html(text) is text


@pytest.mark.parametrize("raw, expected", [
    ("a<br/>b", "a b"),
    ('<div id="v" class="x"></div><input type="hidden" value="https://x">Best', "   Best"),
    ("x<script>var a = 1 < 2;</script>y", "x y"),
    ("x<!-- hidden -->y", "x y"),
    ("<B>bold</B>", " bold "),
])
def test_strip_html_tags(raw, expected):
    assert normalize.strip_html_tags(raw) == expected


@pytest.mark.parametrize("text", [
    "I <3 it", "<sigh> fine", "From <sales@example.com>", "a < b > c",
])
def test_strip_html_tags_keeps_non_tags(text):
    assert normalize.strip_html_tags(text) == text


def test_unicode_forms():
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert normalize.normalize_unicode(decomposed, "NFC") == composed
    assert normalize.normalize_unicode("\uff21\uff22 \ufb01ne\u00a0x", "NFKC") == "AB fine x"
    # NFC leaves compatibility characters alone
    assert normalize.normalize_unicode("\ufb01", "NFC") == "\ufb01"
    with pytest.raises(ValueError, match="NFD"):
        normalize.normalize_unicode("x", "NFD")


def test_remove_control_chars_keeps_emoji_joiner():
    family = "\U0001F468\u200d\U0001F469"
    raw = f"a\x00b\u200bc\ufeffd\x07 {family}"
    assert normalize.remove_control_chars(raw) == f"abcd {family}"


def test_collapse_whitespace():
    assert normalize.collapse_whitespace("  a \n\n b\t\tc  ") == "a b c"
    text = "a b"
    assert normalize.collapse_whitespace(text) is text


def test_normalize_text_runs_every_step_in_order():
    raw = " Great&#34;&nbsp;tone<br />\u200bfor the\n\nprice &amp;lt;br&amp;gt;"
    assert normalize.normalize_text(raw) == 'Great" tone for the price'
