import pytest

from tfrec_sentiment.text import scrub

PHONE = scrub.PHONE_PLACEHOLDER


@pytest.mark.parametrize("raw, expected", [
    ("call (555) 234-5678 now", f"call {PHONE} now"),
    ("555-234-5678", PHONE),
    ("555.234.5678.", f"{PHONE}."),
    ("+1 555 234 5678", PHONE),
    ("1-800-555-1234", PHONE),
    ("(555)234-5678", PHONE),
    ("+44 20 7946 0958", PHONE),
    ("+49 (0)30 1234567", PHONE),
    ("+33 1 23 45 67 89", PHONE),
    ("call me at 5552345678", f"call me at {PHONE}"),
    ("Tel: 020 7946 0958", f"Tel: {PHONE}"),
    ("Ph: 855-963-9247 Em: x", f"Ph: {PHONE} Em: x"),
    ("phone number: 555 1234", f"phone number: {PHONE}"),
    ("whatsapp +91 98765 43210", f"whatsapp {PHONE}"),
])
def test_phone_numbers_are_scrubbed(raw, expected):
    assert scrub.scrub_phones(raw) == expected


@pytest.mark.parametrize("text", [
    "bought on 2014-02-28 and again 02/28/2014 or 28.02.2014 or 12.5.2013",
    "it was $1,299.99, then $12.50; 1,000,000 sold",
    "Fender 099 0818 300 F Straplock",
    "ISBN 978-3-16-148410-0 and 0-306-40615-2",
    "strings 0.010-0.046 gauge, 20-20000 Hz response",
    "asin 1384719342 vs B00005N5PF, an SM58",
    "at 10:30 pm, +5 dB boost",
    "pH 7.0 5.5 6.0 4.5",
    "I had to call 3 times in 2014 2015",
    "model 1234-567-8901",
    "price $555-234-5678",
    "version 2.555.234.5678",
    "Tel Aviv trip 2014",
])
def test_phone_false_positives(text):
    assert scrub.scrub_phones(text) == text


@pytest.mark.parametrize("raw, expected", [
    ("write to jo.doe+x@mail.example.co.uk.", "write to [EMAIL]."),
    ("From: Sales <sales@newair.com>", "From: Sales <[EMAIL]>"),
    ("write jo (at) gmail (dot) com", "write [EMAIL]"),
    ("mail: jo[at]gmail.com", "mail: [EMAIL]"),
])
def test_emails_are_scrubbed(raw, expected):
    assert scrub.scrub_emails(raw) == expected


@pytest.mark.parametrize("text", [
    "102db@1W/1M.I loved it", "great (at least) value", "user@localhost", "@NewAirUSA",
])
def test_email_false_positives(text):
    assert scrub.scrub_emails(text) == text


@pytest.mark.parametrize("raw, expected", [
    ("see http://www.amazon.com/dp/B00/ref=sr_1?ie=UTF8&qid;=13&sr;=8-1).", "see [URL])."),
    ("(http://en.wikipedia.org/wiki/Foo_(bar)) ok", "([URL]) ok"),
    ("straplocks (http://a.com/x?k=lock)will be", "straplocks ([URL])will be"),
    ("visit www.example.com.", "visit [URL]."),
    ("highly.https://x.io/a", "highly.[URL]"),
    ("soundcloud @ soundcloud.com/ljaymusic. Dope", "soundcloud @ [URL]. Dope"),
])
def test_urls_are_scrubbed(raw, expected):
    assert scrub.scrub_urls(raw) == expected


@pytest.mark.parametrize("text", ["amazon.com is great", "and/or 1/4 inch", "www... lol"])
def test_url_false_positives(text):
    assert scrub.scrub_urls(text) == text


def test_url_goes_before_email_and_phone():
    raw = "http://x.com/u?mail=a@b.com&tel=5552345678 or b@c.org"
    assert scrub.scrub_text(raw) == "[URL] or [EMAIL]"
    assert [name for name, _ in scrub.scrub_steps()][0] == "url_scrubbed"
