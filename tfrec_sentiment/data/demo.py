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

The text bank and the writing of a review's text are `demo_text.py`.

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

from tfrec_sentiment.data.demo_text import (
    CATEGORIES,
    NOISE_TEXTS,
    TONES,
    contradiction,
    dirty,
    pick,
    review_body,
    review_title,
)
from tfrec_sentiment.data.schema import to_canonical

SOURCE = "demo"
LATENT_DIM = 3
STAR_SHARES = (0.07, 0.06, 0.11, 0.24, 0.52)

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


def _tones(satisfaction: np.ndarray, stars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tone class [N] (index into TONES) and strength 1..2 [N] from satisfaction."""
    shares = tuple(np.bincount(stars - 1, minlength=5) / len(stars))
    # The text's tone uses the star shares, so tone and stars agree as often as the
    # leniency and rating noise allow, and no more.
    level = _cut_by_shares(satisfaction, shares)
    tone = np.select([level <= 1, level == 2], [0, 1], 2)
    strength = np.where((level == 0) | (level == 4), 2, 1)
    return tone, strength


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
        body = contradiction(rng, category, int(stars[n]), CATEGORIES[category][2], order)
        if body is None:
            body = review_body(rng, category, TONES[tone[n]], int(strength[n]), order, aspects[n])
        titles.append(review_title(rng, TONES[tone[n]], int(stars[n]), category))
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
    """Replaces some bodies with a light edit of the same user's earlier body (in place).

    "Earlier" is the latest row before it of the same user and item category, found
    for every row at once (a grouped shift), so the cost grows with the rows, not
    their square.
    """
    rows = np.arange(len(user))
    earlier = (pd.Series(rows).groupby([user, world.item_category[item]], sort=False)
               .shift(1).to_numpy())
    for n in np.flatnonzero(rng.random(len(user)) < share):
        if not np.isnan(earlier[n]):
            source = bodies[int(earlier[n])]
            edit = pick(rng, ("Bought a second one. {}", "{} Same as before.", "{}!"))
            bodies[n] = edit.format(source.rstrip(".") if edit == "{}!" else source)


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
    noise["text"] = [pick(rng, NOISE_TEXTS) for _ in range(len(noise))]
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
        dirty(rng, bodies, share=0.02, pii=0.007)
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
