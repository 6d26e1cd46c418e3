"""The words of the `demo` data set: its text bank and how a review's text is written.

Everything here is SYNTHETIC (`demo.py` has the generative model): an opener by tone,
aspect sentences that follow the reviewer's experience of each aspect, negations on
purpose, contradictions of the stars, and the dirty records that cleaning must handle.

Example:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> isinstance(review_body(rng, "guitar", "positive", 2, np.arange(4), np.ones(4)), str)
True
"""

from __future__ import annotations

import numpy as np

TONES = ("negative", "neutral", "positive")

# --- the text bank -------------------------------------------------------------------
# aspect -> (noun phrase, positive phrases, negative phrases)
ASPECTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "tone": ("the tone", (
        "it sounds bright and full", "the tone is warm and rich",
        "it sounds fantastic through my amp", "the tone has a lovely sparkle"), (
        "the tone is thin and tinny", "it sounds dull after a few days",
        "it sounds muddy no matter what I do")),
    "lifespan": ("the durability", (
        "they still sound fresh after two months", "they held up to daily practice",
        "they last much longer than my old ones"), (
        "they went dead within a week", "one broke on the second day",
        "they started to rust after a month")),
    "feel": ("the feel", (
        "they feel smooth under the fingers", "they are easy on my fingertips",
        "bends are effortless"), (
        "they feel rough and sticky", "they are hard on the fingers",
        "they squeak on every slide")),
    "price": ("the price", (
        "it is a great deal for the money", "it was cheaper than at my local store",
        "you get a lot for the price"), (
        "it is way overpriced for what you get", "it is not worth the money",
        "you can get better for half the price")),
    "build": ("the build quality", (
        "it is built like a tank", "it feels solid and well made",
        "the materials are top notch"), (
        "it feels cheap and flimsy", "the plastic cracked in a week",
        "it fell apart after a month")),
    "connectors": ("the connectors", (
        "the plugs fit snugly", "the jacks are tight and well soldered",
        "the connectors feel sturdy"), (
        "the plug came loose", "the connector crackles when I move it",
        "the solder joint broke")),
    "noise": ("the noise level", (
        "it is dead quiet with no hum at all", "there is no hiss even at high gain",
        "the signal stays clean"), (
        "there is a constant hum", "it picks up a lot of hiss",
        "it crackles and pops")),
    "accuracy": ("the accuracy", (
        "it locks onto the note instantly", "it is spot on every time",
        "it tracks even the low E well"), (
        "the needle jumps around", "it is off by a few cents",
        "it struggles with the low strings")),
    "display": ("the display", (
        "the screen is bright and easy to read", "it is easy to read on a dark stage"), (
        "the display is hard to read in sunlight", "the screen is too dim")),
    "grip": ("the clip", (
        "the clip holds tight on the headstock", "it stays put during a whole set"), (
        "the clip slips off the headstock", "the clip snapped after a month")),
    "battery": ("the battery life", (
        "the battery lasts for months", "it barely uses any battery"), (
        "it eats batteries", "the battery died in a week")),
    "sound": ("the sound", (
        "my vocals sound clear and crisp", "it captures every detail",
        "it sounds like a much pricier mic"), (
        "it sounds boxy and harsh", "my voice sounds distant",
        "it makes everything sound muffled")),
    "controls": ("the controls", (
        "the knobs are smooth and easy to set", "the footswitch feels solid"), (
        "the knobs are scratchy", "the footswitch feels flimsy")),
    "comfort": ("the comfort", (
        "it is comfortable even for long gigs", "the padding is nice and thick"), (
        "it digs into my shoulder", "it is too stiff to be comfortable")),
    "look": ("the look", (
        "it looks even better in person", "the color is gorgeous"), (
        "it looks cheaper than in the photos", "the color faded fast")),
    "setup": ("the setup", (
        "the action was low right out of the box", "it stays in tune for days"), (
        "the tuners slip", "it would not stay in tune", "the frets are sharp")),
}

# category -> (this-phrase, noun, aspects)
CATEGORIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "strings": ("these strings", "strings", ("tone", "lifespan", "feel", "price")),
    "cable": ("this cable", "cable", ("noise", "build", "connectors", "price")),
    "tuner": ("this tuner", "tuner", ("accuracy", "display", "grip", "battery")),
    "microphone": ("this mic", "microphone", ("sound", "build", "noise", "price")),
    "pedal": ("this pedal", "pedal", ("tone", "build", "noise", "controls")),
    "strap": ("this strap", "strap", ("comfort", "build", "look", "price")),
    "guitar": ("this guitar", "guitar", ("tone", "setup", "build", "price")),
}

_GENERIC = {  # templates over an aspect's noun phrase; negations on purpose
    "positive": ("{np} is excellent", "{np} is better than I expected",
                 "{np} is not bad at all", "no complaints about {np}",
                 "I never had a problem with {np}", "I am really impressed by {np}"),
    "neutral": ("{np} is okay", "{np} is average, nothing special",
                "{np} is acceptable", "{np} is neither great nor terrible"),
    "negative": ("{np} is poor", "{np} is a letdown", "{np} is not good",
                 "I am not impressed with {np}", "{np} could be a lot better",
                 "{np} isn't what it should be"),
}
_OPENERS = {
    ("positive", 2): ("Absolutely love {this}.", "Best {noun} I have owned.",
                      "Wow, {this} blew me away."),
    ("positive", 1): ("Really happy with {this}.", "Very pleased with {this}.",
                      "Good {noun} overall.", "Not bad at all."),
    ("neutral", 1): ("Mixed feelings about {this}.", "Decent, not amazing.",
                     "It does the job, mostly.", "I can't decide about {this}."),
    ("negative", 1): ("Pretty disappointed with {this}.", "Not what I hoped for.",
                      "I wanted to like {this}.", "Can't say I'm impressed."),
    ("negative", 2): ("Total waste of money.", "Do not buy {this}.",
                      "Worst {noun} I have ever bought."),
}
_CLOSERS = {
    "positive": ("Would buy again.", "Highly recommended.", "I will order more.",
                 "No regrets.", "I wouldn't trade it for anything."),
    "neutral": ("It's fine for the price.", "Might try another brand next time.",
                "Not sure I would buy again."),
    "negative": ("Returning it.", "I wouldn't recommend it.", "Save your money.",
                 "Never again."),
}
_CONTEXT = ("I play every day.", "I use it for gigs on weekends.", "Bought it for my son.",
            "I'm a beginner.", "I use it for recording at home.",
            "I've been playing for twenty years.", "It was a birthday present.")
_TITLES = {
    "positive": ("Love it", "Great {noun}", "Exactly what I needed", "Works great",
                 "Excellent", "Very happy", "Impressive"),
    "neutral": ("It's ok", "Decent", "Not bad, not great", "Average", "So-so"),
    "negative": ("Disappointed", "Don't buy", "Junk", "Not worth it", "Broke fast",
                 "Avoid"),
}
_STAR_WORDS = ("One Star", "Two Stars", "Three Stars", "Four Stars", "Five Stars")
_SARCASM = ("Oh great, {neg}. Just what I needed.", "Love how {neg}. Brilliant.",
            "Fantastic. {neg_cap}. Really top quality.")
_SHIPPING = ("{this_cap} itself is fine, but it arrived two weeks late and the box was "
             "crushed. One star for the seller.",
             "{pos_cap}, but the package was opened and parts were missing. Very annoyed.")
_LENIENT = ("Five stars because I'm nice, but honestly {neg}.",
            "Gave it top marks, though {neg} and support never answered.")
_PII = ("Questions? Email me at {name}{n}@example.com.", "Call me at (555) 234-{n:04d}.",
        "My video review: https://example.com/v/{n}", "Text me on +44 20 7946 {n:04d}.")
NOISE_TEXTS = ("", "!!!!!", "aaaaaaaa", "...", "?????")
_NAMES = ("jane", "mike", "guitarguy", "lisa.m", "bob_k", "sam")


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _aspect_clause(rng: np.random.Generator, aspect: str, polarity: str) -> str:
    noun_phrase, positive, negative = ASPECTS[aspect]
    specific = {"positive": positive, "negative": negative}.get(polarity, ())
    if specific and rng.random() < 0.6:
        return pick(rng, specific)
    return pick(rng, _GENERIC[polarity]).format(np=noun_phrase)


def _polarity(experience: float) -> str:
    # Shifted up: most mentions in a positively skewed shop are praise.
    if experience > -0.1:
        return "positive"
    return "negative" if experience < -0.7 else "neutral"


def review_body(rng: np.random.Generator, category: str, tone: str, strength: int,
          aspect_order: np.ndarray, aspects: np.ndarray) -> str:
    this, noun, names = CATEGORIES[category]
    fill = {"this": this, "noun": noun}
    sentences = [pick(rng, _OPENERS[(tone, strength if tone != "neutral" else 1)])
                 .format(**fill)]
    n_aspects = 2 + int(rng.integers(2))
    clauses = [(_aspect_clause(rng, names[a], _polarity(aspects[a])), _polarity(aspects[a]))
               for a in aspect_order[:n_aspects]]
    while clauses:
        (first, pol1), clauses = clauses[0], clauses[1:]
        if clauses and clauses[0][1] != pol1:  # disagreeing aspects share a sentence
            (second, _), clauses = clauses[0], clauses[1:]
            sentences.append(f"{_cap(first)}, {pick(rng, ('but', 'though'))} {second}.")
        else:
            sentences.append(_cap(first) + ".")
    if rng.random() < 0.4:
        sentences.append(pick(rng, _CONTEXT))
    sentences.append(pick(rng, _CLOSERS[tone]))
    return " ".join(sentences)


def contradiction(rng: np.random.Generator, category: str, stars: int, names: tuple,
                   aspect_order: np.ndarray) -> str | None:
    """A review whose words disagree with its stars, or None for a plain one."""
    this = CATEGORIES[category][0]
    negative = pick(rng, ASPECTS[names[aspect_order[0]]][2])
    positive = pick(rng, ASPECTS[names[aspect_order[0]]][1])
    if stars == 5 and rng.random() < 0.03:
        return pick(rng, _LENIENT).format(neg=negative)
    if stars <= 2 and rng.random() < 0.15:
        templates = _SARCASM if rng.random() < 0.5 else _SHIPPING
        return pick(rng, templates).format(neg=negative, neg_cap=_cap(negative),
                                            this_cap=_cap(this), pos_cap=_cap(positive))
    return None

def review_title(rng: np.random.Generator, tone: str, stars: int, category: str) -> str:
    if rng.random() < 0.15:
        return _STAR_WORDS[stars - 1]
    return pick(rng, _TITLES[tone]).format(noun=CATEGORIES[category][1])

def dirty(rng: np.random.Generator, bodies: list[str], share: float, pii: float) -> None:
    """Adds HTML entities / odd spaces and PII to some bodies (in place) for cleaning."""
    for n in range(len(bodies)):
        draw = rng.random()
        if draw < share:
            bodies[n] = pick(rng, (
                lambda s: s.replace(". ", ".<br />", 1),
                lambda s: s.replace(" ", "  ", 3),
                lambda s: s.replace(" ", "\u00a0", 2),
                lambda s: "&#34;" + s.replace(" and ", " &amp; ") + "&#34;",
            ))(bodies[n])
        elif draw < share + pii:
            bodies[n] += " " + pick(rng, _PII).format(name=pick(rng, _NAMES),
                                                       n=int(rng.integers(10_000)))
