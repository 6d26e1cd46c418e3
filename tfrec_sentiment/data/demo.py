"""The embedded default data set `demo`: SYNTHETIC reviews of a music-gear shop.

Nothing here was written by a person about a real product. The data are generated,
deterministically from a seed and in about a second, so that `tools/train.py` runs on a
fresh offline machine. They are shaped like Amazon's 5-core review files (see
`../shared/data/README.md`) and follow a generative model in which the review text
carries information about the rating that the user's and item's average ratings do not.

Generative model (defaults in brackets):

- Items [300] belong to one of 7 categories (strings, cables, tuners, microphones,
  pedals, straps, guitars), each with 4 aspects (e.g. guitars: tone, setup, build,
  price). An item has a quality `b_i ~ N(0, 0.5)`, a latent style `v_i ~ N(0, I_3)`,
  an aspect quality `q_ia = b_i + N(0, 0.9)` per aspect, and a popularity that is
  Zipf-like in a random rank and grows with quality.
- Users [600] have a latent taste `t_u ~ N(0, I_3)`, category interests
  (Dirichlet(0.6)), aspect weights per category (Dirichlet(0.5): what they care
  about, and what they write about), and a rating leniency `l_u`: N(0, 0.3) for most,
  N(1.2, 0.2) for 12% "everything is five stars" raters.
- Each user reviews `5 + NegBin` items [mean ~10, so every user has >= 5: 5-core like],
  drawn without replacement with weight popularity x interest x exp(0.5 t_u.v_i/sqrt 3).
- One review's experience: per aspect `x_a = q_ia + N(0, 0.5)` (this unit, this
  user's use); satisfaction `S = sum_a w_ua x_a + 0.5 t_u.v_i/sqrt 3 + N(0, 0.2)`.
- Stars: `z = S + l_u + N(0, 0.55)`, cut at the quantiles that give 1..5 stars with
  7/6/11/24/52 %. The text follows `S`, not `l_u` nor the star noise: it is a second,
  cleaner measurement of satisfaction, and its aspect sentences reveal which aspects a
  user weighs and how an item does on each (the interaction `sum_a w_ua q_ia` that
  user and item average ratings cannot express).
- Text: a title and a body (~15-60 words): an opener by tone (negative / neutral /
  positive, with strength), 2-3 aspect sentences picked by the user's weights, each
  positive, neutral or negative from `x_a` (so "great tone, but the tuners slip"
  mixes), phrased with negations ("not bad at all", "I wouldn't recommend ..."),
  optional context and a closer. Some titles are Amazon's "Five Stars" style.
- Contradictions: 3% of 5-star reviews complain (a lenient rater); 15% of 1-2 star
  reviews are sarcastic ("Oh great, ...") or blame shipping while praising the item.
- Near-duplicates: 2% of reviews reuse the same user's earlier text for another item
  of the category, lightly edited. Exact double submissions: 0.4% of rows.
- Noise for cleaning: 2% of texts use HTML entities, `<br />`, no-break or doubled
  spaces; 0.7% carry an e-mail address, a phone number or a URL; 0.5% extra rows are
  empty, punctuation-only or one repeated character.
- Helpful votes: heavy-tailed, `floor(exp(N(m, 1.3)))` with `m` growing with length,
  rating extremity, item popularity and age; most reviews get none.
- Time: day-granular Unix seconds from 2016-01-01 over 730 days; each user's reviews
  are in non-decreasing time, with same-day ties as in Amazon data.

Rows are ordered by item then time, as in the Amazon 2014 files; `line` numbers them.

Example:

>>> frame = generate_demo(seed=0, users=30, items=20)
>>> frame["source"].iloc[0], bool(frame.groupby("user_id").size().min() >= 5)
('demo', True)
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from tfrec_sentiment.data.schema import to_canonical

SOURCE = "demo"
LATENT_DIM = 3
STAR_SHARES = (0.07, 0.06, 0.11, 0.24, 0.52)
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
_NOISE_TEXTS = ("", "!!!!!", "aaaaaaaa", "...", "?????")
_NAMES = ("jane", "mike", "guitarguy", "lisa.m", "bob_k", "sam")


@dataclasses.dataclass
class _World:
    """The latent truth behind the reviews (see the module docstring)."""

    item_category: np.ndarray  # [I] int
    item_style: np.ndarray  # [I, K]
    aspect_quality: np.ndarray  # [I, 4]
    item_weight: np.ndarray  # [I] popularity
    user_taste: np.ndarray  # [U, K]
    user_interest: np.ndarray  # [U, C]
    aspect_weight: np.ndarray  # [U, C, 4]
    leniency: np.ndarray  # [U]


def _world(rng: np.random.Generator, users: int, items: int) -> _World:
    n_cat = len(CATEGORIES)
    quality = rng.normal(0.0, 0.5, items)
    rank = rng.permutation(items) + 1
    lenient = rng.random(users) < 0.12
    return _World(
        item_category=rng.integers(0, n_cat, items),
        item_style=rng.normal(size=(items, LATENT_DIM)),
        aspect_quality=quality[:, None] + rng.normal(0.0, 0.9, (items, 4)),
        item_weight=rank ** -0.8 * np.exp(0.6 * quality),
        user_taste=rng.normal(size=(users, LATENT_DIM)),
        user_interest=rng.dirichlet(np.full(n_cat, 0.6), users),
        aspect_weight=rng.dirichlet(np.full(4, 0.5), (users, n_cat)),
        leniency=np.where(lenient, rng.normal(1.2, 0.2, users), rng.normal(0.0, 0.3, users)),
    )


def _match(world: _World, user: np.ndarray, item: np.ndarray) -> np.ndarray:
    taste = np.einsum("nk,nk->n", world.user_taste[user], world.item_style[item])
    return taste / np.sqrt(LATENT_DIM)


def _interactions(rng: np.random.Generator, world: _World,
                  mean_per_user: float) -> tuple[np.ndarray, np.ndarray]:
    users, items = len(world.user_taste), len(world.item_style)
    extra = max(mean_per_user - 5.0, 0.1)
    counts = 5 + rng.negative_binomial(1.5, 1.5 / (1.5 + extra), users)
    counts = np.minimum(counts, items // 2)
    user_ids, item_ids = [], []
    for user in range(users):
        all_items = np.arange(items)
        taste = _match(world, np.full(items, user), all_items)
        weight = (world.item_weight * world.user_interest[user, world.item_category]
                  * np.exp(0.5 * taste))
        chosen = rng.choice(items, size=counts[user], replace=False, p=weight / weight.sum())
        user_ids.append(np.full(counts[user], user))
        item_ids.append(chosen)
    return np.concatenate(user_ids), np.concatenate(item_ids)


def _cut_by_shares(values: np.ndarray, shares: tuple[float, ...]) -> np.ndarray:
    """0-based classes of `values` with the given shares, by quantile."""
    edges = np.quantile(values, np.cumsum(shares)[:-1])
    return np.searchsorted(edges, values, side="right")


def _experience(rng: np.random.Generator, world: _World, user: np.ndarray,
                item: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per review: aspect experiences [N, 4], satisfaction S [N], stars 1..5 [N]."""
    aspects = world.aspect_quality[item] + rng.normal(0.0, 0.5, (len(item), 4))
    weights = world.aspect_weight[user, world.item_category[item]]
    satisfaction = ((weights * aspects).sum(axis=1) + 0.5 * _match(world, user, item)
                    + rng.normal(0.0, 0.2, len(item)))
    latent_stars = satisfaction + world.leniency[user] + rng.normal(0.0, 0.55, len(item))
    return aspects, satisfaction, _cut_by_shares(latent_stars, STAR_SHARES) + 1


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _aspect_clause(rng: np.random.Generator, aspect: str, polarity: str) -> str:
    noun_phrase, positive, negative = ASPECTS[aspect]
    specific = {"positive": positive, "negative": negative}.get(polarity, ())
    if specific and rng.random() < 0.6:
        return _pick(rng, specific)
    return _pick(rng, _GENERIC[polarity]).format(np=noun_phrase)


def _polarity(experience: float) -> str:
    # Shifted up: most mentions in a positively skewed shop are praise.
    if experience > -0.1:
        return "positive"
    return "negative" if experience < -0.7 else "neutral"


def _body(rng: np.random.Generator, category: str, tone: str, strength: int,
          aspect_order: np.ndarray, aspects: np.ndarray) -> str:
    this, noun, names = CATEGORIES[category]
    fill = {"this": this, "noun": noun}
    sentences = [_pick(rng, _OPENERS[(tone, strength if tone != "neutral" else 1)])
                 .format(**fill)]
    n_aspects = 2 + int(rng.integers(2))
    clauses = [(_aspect_clause(rng, names[a], _polarity(aspects[a])), _polarity(aspects[a]))
               for a in aspect_order[:n_aspects]]
    while clauses:
        (first, pol1), clauses = clauses[0], clauses[1:]
        if clauses and clauses[0][1] != pol1:  # disagreeing aspects share a sentence
            (second, _), clauses = clauses[0], clauses[1:]
            sentences.append(f"{_cap(first)}, {_pick(rng, ('but', 'though'))} {second}.")
        else:
            sentences.append(_cap(first) + ".")
    if rng.random() < 0.4:
        sentences.append(_pick(rng, _CONTEXT))
    sentences.append(_pick(rng, _CLOSERS[tone]))
    return " ".join(sentences)


def _contradiction(rng: np.random.Generator, category: str, stars: int, names: tuple,
                   aspect_order: np.ndarray) -> str | None:
    """A review whose words disagree with its stars, or None for a plain one."""
    this = CATEGORIES[category][0]
    negative = _pick(rng, ASPECTS[names[aspect_order[0]]][2])
    positive = _pick(rng, ASPECTS[names[aspect_order[0]]][1])
    if stars == 5 and rng.random() < 0.03:
        return _pick(rng, _LENIENT).format(neg=negative)
    if stars <= 2 and rng.random() < 0.15:
        templates = _SARCASM if rng.random() < 0.5 else _SHIPPING
        return _pick(rng, templates).format(neg=negative, neg_cap=_cap(negative),
                                            this_cap=_cap(this), pos_cap=_cap(positive))
    return None


def _tones(satisfaction: np.ndarray, stars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tone class [N] (index into TONES) and strength 1..2 [N] from satisfaction."""
    shares = tuple(np.bincount(stars - 1, minlength=5) / len(stars))
    # The text's tone uses the star shares, so tone and stars agree as often as the
    # leniency and rating noise allow, and no more.
    level = _cut_by_shares(satisfaction, shares)
    tone = np.select([level <= 1, level == 2], [0, 1], 2)
    strength = np.where((level == 0) | (level == 4), 2, 1)
    return tone, strength


def _title(rng: np.random.Generator, tone: str, stars: int, category: str) -> str:
    if rng.random() < 0.15:
        return _STAR_WORDS[stars - 1]
    return _pick(rng, _TITLES[tone]).format(noun=CATEGORIES[category][1])


def _texts(rng: np.random.Generator, world: _World, user: np.ndarray, item: np.ndarray,
           aspects: np.ndarray, satisfaction: np.ndarray,
           stars: np.ndarray) -> tuple[list[str], list[str]]:
    tone, strength = _tones(satisfaction, stars)
    categories = list(CATEGORIES)
    titles, bodies = [], []
    for n in range(len(user)):
        category = categories[world.item_category[item[n]]]
        weights = world.aspect_weight[user[n], world.item_category[item[n]]]
        # Users write about what they care about: aspects drawn by their weights.
        order = rng.choice(4, size=4, replace=False, p=weights)
        body = _contradiction(rng, category, int(stars[n]), CATEGORIES[category][2], order)
        if body is None:
            body = _body(rng, category, TONES[tone[n]], int(strength[n]), order, aspects[n])
        titles.append(_title(rng, TONES[tone[n]], int(stars[n]), category))
        bodies.append(body)
    return titles, bodies


def _timestamps(rng: np.random.Generator, user: np.ndarray, start: str,
                days: int) -> np.ndarray:
    """Day-granular seconds; non-decreasing per user in row order, with same-day ties."""
    origin = int(dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC).timestamp())
    day = np.zeros(len(user), dtype=np.int64)
    for u in np.unique(user):
        rows = np.flatnonzero(user == u)
        first = rng.integers(0, int(days * 0.7))
        chosen = np.sort(rng.integers(first, days, len(rows)))
        burst = rng.random(len(rows)) < 0.15  # several reviews written on one day
        for k in range(1, len(rows)):
            if burst[k]:
                chosen[k] = chosen[k - 1]
        day[rows] = chosen
    return origin + day * 86_400


def _helpful_votes(rng: np.random.Generator, words: np.ndarray, stars: np.ndarray,
                   popularity: np.ndarray, age: np.ndarray) -> np.ndarray:
    mean = (-4.2 + 0.065 * words + 0.45 * np.abs(stars - 3.6)
            + 0.35 * np.log1p(popularity) + 0.8 * age)
    return np.floor(np.exp(rng.normal(mean, 1.3))).astype(np.int64)


def _near_duplicates(rng: np.random.Generator, user: np.ndarray, item: np.ndarray,
                     bodies: list[str], world: _World, share: float) -> None:
    """Replaces some bodies with a light edit of the same user's earlier body (in place)."""
    for n in np.flatnonzero(rng.random(len(user)) < share):
        same = np.flatnonzero((user == user[n]) & (np.arange(len(user)) < n)
                              & (world.item_category[item] == world.item_category[item[n]]))
        if len(same):
            source = bodies[same[-1]]
            edit = _pick(rng, ("Bought a second one. {}", "{} Same as before.", "{}!"))
            bodies[n] = edit.format(source.rstrip(".") if edit == "{}!" else source)


def _dirty(rng: np.random.Generator, bodies: list[str], share: float, pii: float) -> None:
    """Adds HTML entities / odd spaces and PII to some bodies (in place) for cleaning."""
    for n in range(len(bodies)):
        draw = rng.random()
        if draw < share:
            bodies[n] = _pick(rng, (
                lambda s: s.replace(". ", ".<br />", 1),
                lambda s: s.replace(" ", "  ", 3),
                lambda s: s.replace(" ", "\u00a0", 2),
                lambda s: "&#34;" + s.replace(" and ", " &amp; ") + "&#34;",
            ))(bodies[n])
        elif draw < share + pii:
            bodies[n] += " " + _pick(rng, _PII).format(name=_pick(rng, _NAMES),
                                                       n=int(rng.integers(10_000)))


def _ids(rng: np.random.Generator, count: int, first: str, length: int) -> np.ndarray:
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    ids: set[str] = set()
    out = []
    while len(out) < count:
        candidate = first + "".join(rng.choice(alphabet, length - len(first)))
        if candidate not in ids:
            ids.add(candidate)
            out.append(candidate)
    return np.array(out, dtype=object)


def _extra_rows(rng: np.random.Generator, frame: pd.DataFrame, share: float,
                double_share: float) -> pd.DataFrame:
    """Appends noise rows (empty, punctuation) and exact double submissions."""
    noise = frame.sample(n=max(1, int(share * len(frame))), random_state=rng).copy()
    noise["text"] = [_pick(rng, _NOISE_TEXTS) for _ in range(len(noise))]
    noise["title"] = ""
    noise["helpful_votes"] = 0
    doubles = frame.sample(n=max(1, int(double_share * len(frame))), random_state=rng)
    return pd.concat([frame, noise, doubles], ignore_index=True)


def generate_demo(
    seed: int = 0,
    users: int = 600,
    items: int = 300,
    mean_reviews_per_user: float = 10.0,
    start: str = "2016-01-01",
    days: int = 730,
    noise: bool = True,
) -> pd.DataFrame:
    """Generates the SYNTHETIC `demo` review table (model in the module docstring).

    Args:
        seed: the same seed gives the same table, row for row.
        users: reviewers; each gets at least 5 reviews (before noise rows).
        items: products (at least 10).
        mean_reviews_per_user: mean reviews per user (>= 5).
        start: first day (ISO date, UTC).
        days: length of the period.
        noise: add the dirty records that exercise cleaning and de-duplication
            (HTML, PII, empty/spam rows, double submissions, near-duplicates).

    Returns:
        A canonical review table (see `data.schema`) with `line`, `source` "demo",
        ~6,000 rows at the defaults.
    """
    if items < 10 or users < 1:
        raise ValueError(f"demo needs items >= 10 and users >= 1, got {items}, {users}")
    rng = np.random.default_rng(seed)
    world = _world(rng, users, items)
    user, item = _interactions(rng, world, mean_reviews_per_user)
    timestamps = _timestamps(rng, user, start, days)
    aspects, satisfaction, stars = _experience(rng, world, user, item)
    titles, bodies = _texts(rng, world, user, item, aspects, satisfaction, stars)
    if noise:
        _near_duplicates(rng, user, item, bodies, world, share=0.02)
        _dirty(rng, bodies, share=0.02, pii=0.007)
    words = np.array([len(f"{t} {b}".split()) for t, b in zip(titles, bodies)])
    popularity = np.bincount(item, minlength=items)[item]
    age = (timestamps.max() - timestamps) / (days * 86_400)
    user_ids, item_ids = _ids(rng, users, "A", 14), _ids(rng, items, "B0", 10)
    frame = pd.DataFrame({
        "user_id": user_ids[user],
        "item_id": item_ids[item],
        "rating": stars.astype(np.float32),
        "text": bodies,
        "title": titles,
        "helpful_votes": _helpful_votes(rng, words, stars, popularity, age),
        "timestamp": timestamps,
        "verified": rng.random(len(user)) < 0.9,
        "source": SOURCE,
    })
    if noise:
        frame = _extra_rows(rng, frame, share=0.005, double_share=0.004)
    frame = frame.sort_values(["item_id", "timestamp", "user_id"], kind="stable")
    frame["line"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    return to_canonical(frame)
