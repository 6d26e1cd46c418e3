"""Published peers (Cornac) on the SAME split as a run, in one table with the package's models.

    pip install -e '.[bench]'      # cornac==3.0.1: a benchmark extra, not a dependency
    python bench/peers.py --run runs/real/musical_base \\
        --models mostpop,mf,bpr,ease,hft,narre --seeds 0

Reads a finished run folder of `tools/train.py` (its `data/` split and its
`evaluation/metrics.json`), fits each Cornac model on the run's TRAIN part only,
chooses its settings from a small grid on the VALIDATION part (never the test part),
wraps the chosen fit as the package's `Recommender` (`CornacRecommender`) and scores it
with `evaluation.evaluate.evaluate_split`: the package's own ranking code (catalogue =
training items, each user's training and validation items excluded), every metric and
slice of the run's report. Writes `RUN_DIR/evaluation/peers.md` and `peers.json`: one
table holding the run's own variants (read from `metrics.json`) and the peers, and a
paired bootstrap over test users of the package's "full" model against each peer.

| peer | Cornac model | input | chosen on validation by |
|---|---|---|---|
| mostpop | `MostPop` | interactions | (nothing to choose) |
| mf | `MF` (SGD, biases, k=10) | ratings | RMSE over `lambda_reg` x `max_iter` |
| bpr | `BPR` (k=10) | interactions | NDCG@10 over `learning_rate` |
| ease | `EASE` | rating matrix | NDCG@10 over `lamb` |
| hft | `HFT` (k=10) | ratings + item documents | RMSE over `lambda_text` |
| narre | `NARRE` | ratings + per-review texts | (one setting: Cornac's example) |

Texts (HFT, NARRE) are the run's cleaned training reviews as the sentiment model reads
them (`sentiment.labels.review_texts`: "title. text"); HFT's item document is the
concatenation of the item's training reviews. MostPop, BPR and EASE only rank: their
RMSE / MAE cells are left empty ("–") and they answer `predict_rating` with the
training mean only because the evaluation asks every model for ratings.
Deterministic peers (MostPop, EASE) run once; the others once per seed.

The bootstrap needs the per-user metrics of "full", which `metrics.json` does not hold:
the run's trained model (`recsys/`, seed `config.seed`) is loaded and evaluated again,
and its metrics are checked against that seed's row of `metrics.json`. Without
`recsys/` the table is written without the bootstrap.

A peer that cannot be fitted here (e.g. NARRE on another TensorFlow) is kept in the table
as "not run: <reason>" and the others go on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS)

# isort: split
import numpy as np
import pandas as pd

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.ablation import (
    FULL,
    METRICS_FILE,
    AblationResult,
    Variant,
    load_metrics,
    run_ablation,
    slice_title,
)
from tfrec_sentiment.evaluation.ablation_report import detectable_row
from tfrec_sentiment.evaluation.baselines import Popularity
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import (
    LOWER_IS_BETTER,
    evaluate_split,
    metric_label,
    metric_names,
)
from tfrec_sentiment.evaluation.protocol import SplitLike
from tfrec_sentiment.evaluation.stats import BootstrapDiff
from tfrec_sentiment.privacy import table_encryption
from tfrec_sentiment.sentiment.labels import review_texts

PEERS_JSON = "peers.json"
PEERS_MD = "peers.md"
CORNAC_VERSION = "3.0.1"
RATING_METRICS = ("rmse", "mae")
PACKAGE = "package"
CORNAC = "cornac"
HFT_VOCAB = 5000  # words of HFT's item documents (Cornac's example)
HFT_MAX_ITER = 20
# Cornac's default: 10 epochs. One epoch over Musical Instruments' 7.4k training reviews
# took 9 minutes on a 2-core CPU shared with other jobs (`--narre-epochs` to shorten).
NARRE_MAX_ITER = 10
SELECT_BY = ("rmse", "mae", "ndcg", "recall", "liked_ndcg", "liked_recall")


# === The adapter ===================================================================


class CornacRecommender:
    """A fitted Cornac model as the package's `Recommender` (string ids in, numpy out).

    Args:
        model: a fitted Cornac recommender (or anything with `uid_map` / `iid_map`
            {raw id: index}, `score(user_idx) -> float [n_items]`, `rate(user_idx,
            item_idx) -> float` and `global_mean`).
        train: the training frame it was fitted on (`user_id`, `item_id`, `rating`): the
            fallback ranking of users the model never saw is the package's `Popularity`.
        predicts_ratings: False for ranking-only models (MostPop, BPR, EASE): then
            `predict_rating` answers the training mean and the report leaves RMSE empty.

    Unknown ids: an unknown user is ranked by training popularity; an unknown item ranks
    below every known one (score = the user's lowest score - 1); a rating for an unknown
    user or item is Cornac's own fallback (`rate` with index -1: the model's partial
    score where it has one, else its `default_score()`, the training mean).

    Example:
        >>> peer = CornacRecommender(cornac.models.EASE().fit(train_set), train)  # doctest: +SKIP
        >>> evaluate_split(peer, split).metrics["ndcg@10"]  # doctest: +SKIP
    """

    def __init__(self, model: object, train: pd.DataFrame, predicts_ratings: bool = True) -> None:
        self.model = model
        self.train = train
        self.predicts_ratings = predicts_ratings
        self._fallback = Popularity().fit(train)

    def _codes(self, ids: np.ndarray, id_map: Mapping[str, int]) -> np.ndarray:
        return np.array([id_map.get(i, -1) for i in np.asarray(ids, str)], np.int64)

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: the model's score of every item for each user (higher first)."""
        users = self._codes(user_ids, self.model.uid_map)
        columns = self._codes(item_ids, self.model.iid_map)
        known = columns >= 0
        out = np.array(self._fallback.score_items(user_ids, item_ids), np.float64)
        for row, user in enumerate(users):
            if user < 0:
                continue  # never seen in training: popularity
            scores = np.array(self.model.score(int(user)), np.float64).reshape(-1)
            out[row] = scores.min() - 1.0 if len(scores) else 0.0
            out[row, known] = scores[columns[known]]
        return out

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N]: Cornac's `rate` (clipped to the training star range)."""
        if not self.predicts_ratings:
            return np.full(len(user_ids), float(self.model.global_mean))
        users = self._codes(user_ids, self.model.uid_map)
        items = self._codes(item_ids, self.model.iid_map)
        # Some Cornac models (NARRE) rate with a 1-element array: ravel, then take it.
        return np.array([np.ravel(self.model.rate(int(u), int(i)))[0]
                         for u, i in zip(users, items)], np.float64)


# === The peers ======================================================================


def one_row_per_pair(train: pd.DataFrame) -> pd.DataFrame:
    """The training rows with one row per (user, item): the latest (by `timestamp`).

    Cornac keeps the FIRST row of a repeated pair and drops the rest with a bare
    warning; here the choice is explicit and counted (`repeated_pairs`). The package's
    own models see every row.

    Example:
        >>> rows = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["x", "x"],
        ...                      "rating": [1.0, 5.0], "timestamp": [1, 2]})
        >>> one_row_per_pair(rows)["rating"].tolist()
        [5.0]
    """
    order = train.sort_values("timestamp", kind="stable") if "timestamp" in train else train
    return order.drop_duplicates(["user_id", "item_id"], keep="last").sort_index()


def repeated_pairs(train: pd.DataFrame) -> int:
    """Training rows that repeat a (user, item) pair (dropped by `one_row_per_pair`)."""
    return int(train.duplicated(["user_id", "item_id"]).sum())


def cornac_train_set(train: pd.DataFrame, needs: str = "ratings", seed: int = 0) -> object:
    """A Cornac `Dataset` of the training rows, with the text modality a model needs.

    Args:
        train: canonical training rows (`user_id`, `item_id`, `rating`, `text`, `title`).
        needs: "ratings"; "item_text" (HFT: one document per item, its training reviews
            joined); "reviews" (NARRE: one text per training (user, item) row).
        seed: Cornac's data seed.

    Returns:
        `cornac.data.Dataset` of `one_row_per_pair(train)`; ids are the frame's string ids.
    """
    from cornac.data import Dataset, ReviewModality, TextModality
    from cornac.data.text import BaseTokenizer

    train = one_row_per_pair(train)
    users, items = train["user_id"].to_numpy(str), train["item_id"].to_numpy(str)
    data = Dataset.from_uir(list(zip(users, items, train["rating"].to_numpy(np.float64))),
                            seed=seed)
    if needs == "ratings":
        return data
    texts = review_texts(train)
    tokenizer = BaseTokenizer(stop_words="english")
    if needs == "item_text":
        documents = pd.Series(texts).groupby(items).agg(" ".join)
        modality = TextModality(corpus=documents.tolist(), ids=documents.index.tolist(),
                                tokenizer=tokenizer, max_vocab=HFT_VOCAB, max_doc_freq=0.5)
        data.add_modalities(item_text=modality.build(id_map=data.iid_map))
    elif needs == "reviews":
        modality = ReviewModality(data=list(zip(users, items, texts)), tokenizer=tokenizer,
                                  max_vocab=4000, max_doc_freq=0.5)
        data.add_modalities(review_text=modality.build(
            uid_map=data.uid_map, iid_map=data.iid_map, dok_matrix=data.dok_matrix))
    else:
        raise ValueError(f"needs must be 'ratings', 'item_text' or 'reviews', got {needs!r}")
    return data



@dataclasses.dataclass
class PeerSpec:
    """One peer: how to build it, its validation grid and how a setting is chosen.

    Args:
        label: the name in the table.
        make: (settings, seed) -> an unfitted model with `fit(train_set)`.
        grid: the settings tried; each is fitted on train and scored on validation.
        select_by: validation metric that picks the setting: "rmse" (lowest wins) or a
            top-K base name, "ndcg" or "recall", at the run's K (highest wins); ignored
            for a one-setting grid.
        predicts_ratings: False for ranking-only models (RMSE / MAE left empty).
        deterministic: the fit does not depend on the seed: run once.
        needs: the training data it reads ("ratings", "item_text", "reviews").
        data: (train frame, needs) -> train set; default `cornac_train_set`.
    """

    label: str
    make: Callable[[dict, int], object]
    grid: Sequence[dict] = ({},)
    select_by: str = "ndcg"
    predicts_ratings: bool = True
    deterministic: bool = False
    needs: str = "ratings"
    data: Callable[[pd.DataFrame, str], object] = cornac_train_set

    def __post_init__(self) -> None:
        if not self.grid:
            raise ValueError(f"{self.label}: the grid needs at least one setting")
        if self.select_by not in SELECT_BY:
            raise ValueError(f"{self.label}: select_by must be one of {SELECT_BY}, "
                             f"got {self.select_by!r}")
        if self.select_by in RATING_METRICS and not self.predicts_ratings:
            raise ValueError(f"{self.label}: a ranking-only model cannot be chosen by "
                             f"{self.select_by}")


def _cornac(name: str) -> Callable[..., object]:
    import cornac

    if cornac.__version__ != CORNAC_VERSION:
        print(f"warning: cornac {cornac.__version__} installed, the table was set up with "
              f"{CORNAC_VERSION}", file=sys.stderr)
    return getattr(cornac.models, name)


def default_peers(narre_epochs: int = NARRE_MAX_ITER) -> dict[str, PeerSpec]:
    """name -> `PeerSpec` of the Cornac peers, in table order.

    Args:
        narre_epochs: NARRE's training epochs (Cornac's default 10; see NARRE_MAX_ITER).
    """
    return {
        "mostpop": PeerSpec("MostPop", lambda s, seed: _cornac("MostPop")(),
                            predicts_ratings=False, deterministic=True),
        "mf": PeerSpec(
            "MF", lambda s, seed: _cornac("MF")(k=10, learning_rate=0.01, use_bias=True,
                                                seed=seed, **s),
            grid=[{"lambda_reg": r, "max_iter": n} for r in (0.01, 0.1) for n in (20, 100)],
            select_by="rmse"),
        "bpr": PeerSpec(
            "BPR", lambda s, seed: _cornac("BPR")(k=10, max_iter=200, lambda_reg=0.01,
                                                  seed=seed, **s),
            grid=[{"learning_rate": r} for r in (0.0003, 0.001, 0.005, 0.02)],
            predicts_ratings=False),
        "ease": PeerSpec(
            "EASE", lambda s, seed: _cornac("EASE")(verbose=False, **s),
            grid=[{"lamb": v} for v in (10, 100, 300, 1000, 3000, 10000, 30000)],
            predicts_ratings=False, deterministic=True),
        "hft": PeerSpec(
            "HFT", lambda s, seed: _cornac("HFT")(k=10, max_iter=HFT_MAX_ITER, grad_iter=5,
                                                  l2_reg=0.001, vocab_size=HFT_VOCAB,
                                                  seed=seed, verbose=False, **s),
            grid=[{"lambda_text": v} for v in (0.01, 0.1)], select_by="rmse",
            needs="item_text"),
        "narre": PeerSpec(
            "NARRE", lambda s, seed: _cornac("NARRE")(
                seed=seed, verbose=False, init_params={"pretrained_word_embeddings": None}, **s),
            grid=[{"max_iter": narre_epochs}], select_by="rmse", needs="reviews"),
    }



# === Fitting ========================================================================


@dataclasses.dataclass
class PeerFit:
    """One peer's fits: the chosen model per seed, or why it could not run."""

    name: str
    spec: PeerSpec
    models: dict[int, CornacRecommender] = dataclasses.field(default_factory=dict)
    chosen: dict[int, dict] = dataclasses.field(default_factory=dict)
    validation: dict[int, list[dict]] = dataclasses.field(default_factory=dict)
    fit_seconds: dict[int, float] = dataclasses.field(default_factory=dict)
    error: str | None = None

    def model(self, seed: int) -> CornacRecommender:
        """The chosen model of `seed` (a `Variant` trainer: the fit is done already)."""
        return self.models[seed]


def choose_on_validation(spec: PeerSpec, split: SplitLike, seed: int, train_set: object,
                         config: EvalConfig) -> tuple[CornacRecommender, dict, list[dict]]:
    """Fits every grid setting on train; keeps the best one on `split.validation`.

    Returns:
        (the chosen fitted model, its setting, [{"setting", metric: value}] per setting).
    """
    if len(spec.grid) == 1:
        model = spec.make(dict(spec.grid[0]), seed).fit(train_set)
        return CornacRecommender(model, split.train, spec.predicts_ratings), dict(spec.grid[0]), []
    metric = spec.select_by if spec.select_by in RATING_METRICS else f"{spec.select_by}@{config.k}"
    tried = []
    best = None
    for setting in spec.grid:
        model = CornacRecommender(spec.make(dict(setting), seed).fit(train_set), split.train,
                                  spec.predicts_ratings)
        value = evaluate_split(model, split, on="validation", k=config.k, config=config,
                               max_elements=config.max_elements).metrics[metric]
        tried.append({"setting": dict(setting), metric: value})
        better = (best is None or (value < best[0] if metric in LOWER_IS_BETTER
                                   else value > best[0]))
        if not math.isnan(value) and better:
            best = (value, model, dict(setting))
    if best is None:
        raise ValueError(f"{spec.label}: every setting scored NaN on validation")
    return best[1], best[2], tried


def fit_peers(specs: Mapping[str, PeerSpec], split: SplitLike, seeds: Sequence[int],
              config: EvalConfig, log: Callable[[str], None] = print) -> dict[str, PeerFit]:
    """Fits and chooses every peer per seed (once when deterministic); failures are kept.

    A peer whose fit raises is marked `error` ("<Type>: <message>") and left out of the
    evaluation; the others go on.
    """
    fits = {}
    for name, spec in specs.items():
        fit = fits[name] = PeerFit(name, spec)
        for seed in (list(seeds)[:1] if spec.deterministic else seeds):
            start = time.perf_counter()
            log(f"[peers] {spec.label} seed {seed}: fitting {len(spec.grid)} setting(s) "
                f"on train ({len(split.train):,} rows)")
            try:
                train_set = spec.data(split.train, spec.needs)
                model, setting, tried = choose_on_validation(spec, split, seed, train_set,
                                                             config)
            except Exception as error:  # noqa: BLE001  (a peer that cannot run is reported)
                fit.error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                log(f"[peers] {spec.label}: not run: {fit.error}")
                log("".join(traceback.format_exception(error)[-3:]).rstrip())
                fit.models.clear()
                break
            fit.models[seed], fit.chosen[seed], fit.validation[seed] = model, setting, tried
            fit.fit_seconds[seed] = time.perf_counter() - start
            log(f"[peers] {spec.label} seed {seed}: chose {setting or 'defaults'} in "
                f"{fit.fit_seconds[seed]:.1f} s")
    return fits


def package_full(run_dir: Path) -> object | None:
    """The run's trained "full" model (`recsys/`), or None when the run kept none."""
    folder = run_dir / "recsys"
    if not (folder / "recsys.json").exists():
        return None
    from tfrec_sentiment.privacy import run_encryption
    from tfrec_sentiment.recsys.trained import TrainedRecommender

    return TrainedRecommender.load(folder, encryption=run_encryption(run_dir))


# === The report =====================================================================


def run_peers(run_dir: str | Path, specs: Mapping[str, PeerSpec], seeds: Sequence[int],
              *, split: SplitLike | None = None, full: object | None = None,
              wait_s: float = 0.0, log: Callable[[str], None] = print) -> dict:
    """Fits, evaluates and compares the peers on a run's split; writes peers.md / peers.json.

    Args:
        run_dir: a finished run folder (`data/`, `config.json`, `evaluation/metrics.json`).
        specs: name -> `PeerSpec` (e.g. a selection of `default_peers()`).
        seeds: seeds of the stochastic peers.
        split: the split to use; default `Split.load(run_dir / "data")`.
        full: the package's "full" model for the bootstrap; default loaded from
            `run_dir / "recsys"` (None there = no bootstrap).
        wait_s: for a run still in progress: fit the peers meanwhile and wait up to this
            many seconds for its metrics.json (0: it must exist at the start).
        log: progress printer.

    Returns:
        the content of peers.json.

    Raises:
        FileNotFoundError: the run has no `evaluation/metrics.json` (not finished), at the
            start or, with `wait_s`, after the peers are fitted and `wait_s` has passed.
        ValueError: metrics.json and config.json disagree on K.
    """
    run_dir = Path(run_dir)
    metrics_path = run_dir / "evaluation" / METRICS_FILE
    if not metrics_path.exists() and wait_s <= 0:
        raise FileNotFoundError(f"{metrics_path}: missing; is the run finished?")
    config_path = run_dir / "config.json"
    run_config = config_lib.load(config_path) if config_path.exists() else None
    config = run_config.evaluation if run_config else EvalConfig()
    encryption = table_encryption(run_config.privacy) if run_config else None
    split = split if split is not None else Split.load(run_dir / "data", encryption)
    fits = fit_peers(specs, split, seeds, config, log)
    deadline = time.monotonic() + wait_s
    while not metrics_path.exists() and time.monotonic() < deadline:
        time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
    if not metrics_path.exists():
        raise FileNotFoundError(f"{metrics_path}: missing after waiting {wait_s:.0f} s; "
                                "is the run finished?")
    package = load_metrics(run_dir / "evaluation")
    if package["k"] != config.k:
        raise ValueError(f"{metrics_path}: k = {package['k']}, config.json says {config.k}")
    variants = {fit.spec.label: Variant(fit.model, deterministic=fit.spec.deterministic)
                for fit in fits.values() if fit.models}
    full = package_full(run_dir) if full is None else full
    if full is not None:
        variants = {FULL: Variant(lambda seed: full, deterministic=True), **variants}
    else:
        log("[peers] no recsys/ in the run: the table is written without the bootstrap")
    result = None
    if variants:
        start = time.perf_counter()
        result = run_ablation(variants, split, config=config, seeds=list(seeds),
                              compare=[(FULL, name) for name in variants if name != FULL]
                              if FULL in variants else [], progress=False)
        log(f"[peers] evaluated {len(variants)} model(s) in {time.perf_counter() - start:.1f} s")
    report = peers_report(package, fits, result, config, run_dir, list(seeds),
                          full_seed=run_config.seed if run_config else None,
                          split_train=split.train)
    out = run_dir / "evaluation"
    (out / PEERS_JSON).write_text(json.dumps(report, indent=2) + "\n")
    (out / PEERS_MD).write_text(peers_markdown(report))
    log(f"[peers] wrote {out / PEERS_MD} and {out / PEERS_JSON}")
    return report


def peers_report(package: dict, fits: Mapping[str, PeerFit], result: AblationResult | None,
                 config: EvalConfig, run_dir: Path, seeds: list[int],
                 full_seed: int | None = None, split_train: pd.DataFrame | None = None) -> dict:
    """peers.json: package rows (from metrics.json) and peer rows in one `rows` mapping.

    Ranking-only peers have RMSE / MAE set to null everywhere (and no bootstrap rows for
    them). `full_check` compares the reloaded "full" with that seed's metrics.json row.
    """
    evaluated = result.to_dict() if result is not None else {"variants": {},
                                                             "comparisons": [],
                                                             "slice_comparisons": []}
    rows = {}
    for name, entry in package["variants"].items():
        rows[f"{PACKAGE}: {name}"] = {"source": PACKAGE, "model": name, **_row(entry)}
    ranking_only = set()
    for fit in fits.values():
        label = f"{CORNAC}: {fit.spec.label}"
        if fit.error is not None:
            rows[label] = {"source": CORNAC, "model": fit.spec.label, "not_run": fit.error}
            continue
        entry = _row(evaluated["variants"][fit.spec.label])
        if not fit.spec.predicts_ratings:
            ranking_only.add(fit.spec.label)
            _blank_ratings(entry)
        runs = evaluated["variants"][fit.spec.label]["seconds"]
        entry["seconds"] = [fit.fit_seconds[s] + t for s, t in zip(fit.fit_seconds, runs)]
        rows[label] = {"source": CORNAC, "model": fit.spec.label, **entry,
                       "predicts_ratings": fit.spec.predicts_ratings,
                       "grid": [dict(g) for g in fit.spec.grid],
                       "select_by": fit.spec.select_by,
                       "chosen": {str(s): c for s, c in fit.chosen.items()},
                       "validation": {str(s): v for s, v in fit.validation.items()},
                       "fit_seconds": list(fit.fit_seconds.values())}
    comparisons = [c for c in evaluated["comparisons"] + evaluated["slice_comparisons"]
                   if not (c["reference"] in ranking_only and c["metric"] in RATING_METRICS)]
    full_check = None
    if FULL in evaluated["variants"] and FULL in package["variants"]:
        reloaded = evaluated["variants"][FULL]["per_seed"][0]
        stored = package["variants"][FULL]
        at = stored["seeds"].index(full_seed) if full_seed in stored["seeds"] else None
        full_check = {"seed": full_seed, "max_abs_difference": None if at is None else max(
            abs(reloaded[m] - stored["per_seed"][at][m]) for m in reloaded
            if reloaded[m] is not None and stored["per_seed"][at].get(m) is not None)}
    return {
        "title": f"Peers on the split of {run_dir.name}",
        "run": str(run_dir), "k": config.k, "level": config.level,
        "n_resamples": config.n_resamples, "seeds": seeds,
        "split_rows": package.get("split_rows"), "counts": package.get("counts"),
        "relevance": package.get("relevance"),
        "repeated_pairs": repeated_pairs(split_train) if split_train is not None else None,
        "rows": rows, "comparisons": comparisons, "full_check": full_check,
        "cornac": CORNAC_VERSION,
    }


def _row(entry: dict) -> dict:
    keys = ("deterministic", "seeds", "mean", "ci", "seconds", "slices")
    return {k: entry[k] for k in keys if k in entry}


def _blank_ratings(entry: dict) -> None:
    parts = [entry] + list(entry.get("slices", {}).values())
    for part in parts:
        for metric in RATING_METRICS:
            part["mean"][metric] = None
            part["ci"][metric] = [None, None]


def _cell(mean: float | None, ci: Sequence[float | None] | None, n: int,
          digits: int = 4) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if n < 2 or not ci or ci[0] is None or ci[1] is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(ci[1] - ci[0]) / 2:.{digits}f}"


def _column(metric: str) -> str:
    return metric_label(metric) + (" ↓" if metric in LOWER_IS_BETTER else "")


def peers_markdown(report: dict) -> str:
    """peers.md: the one table (all test users), the same by slice, and the bootstrap."""
    k = report["k"]
    metrics = metric_names(k)
    rows, counts, split_rows = report["rows"], report.get("counts") or {}, report["split_rows"]
    lines = [f"# {report['title']}", ""]
    if split_rows:
        lines.append(f"- Split: {split_rows['train']:,} train / {split_rows['validation']:,} "
                     f"validation / {split_rows['test']:,} test rows; every model below is "
                     "fitted on train, tuned on validation, scored on test.")
    if counts:
        lines.append(f"- Top-{k} over the {counts['catalogue']:,} training items, each user's "
                     f"training and validation items excluded; {counts['users']:,} test users "
                     "(`tfrec_sentiment.evaluation.evaluate_split`, the run's own ranking).")
    if report.get("repeated_pairs"):
        lines.append(f"- Cornac models see one row per (user, item): "
                     f"{report['repeated_pairs']:,} repeated training rows left out (the "
                     "latest kept); the package's models see every row.")
    lines += [f"- `{PACKAGE}:` rows are read from the run's metrics.json; `{CORNAC}:` rows are "
              f"Cornac {report['cornac']} models, settings chosen on validation "
              "(see peers.json `chosen`). – = not defined (ranking-only model or no user "
              "qualifies); ↓ = lower is better; ± = Student-t half-width over seeds; "
              "seconds = fit (with the validation grid) + evaluate, per seed.", ""]
    header = ["model", "seeds", *(_column(m) for m in metrics), "seconds"]
    lines += ["## All test users", "", "| " + " | ".join(header) + " |",
              "|" + "---|" * len(header)]
    for label, row in rows.items():
        if "not_run" in row:
            lines.append(f"| {row['model']}: not run: {row['not_run']} |"
                         + " |" * (len(header) - 1))
            continue
        n = len(row["seeds"])
        seeds = "1 (deterministic)" if row.get("deterministic") else str(n)
        cells = [label, seeds, *(_cell(row["mean"].get(m), row["ci"].get(m), n)
                                 for m in metrics),
                 f"{np.mean(row['seconds']):.1f}" if row.get("seconds") else ""]
        lines.append("| " + " | ".join(cells) + " |")
    slices = list(dict.fromkeys(s for row in rows.values() for s in row.get("slices", {})))
    for part in slices:
        lines += ["", f"### {slice_title(part)}", "",
                  "| " + " | ".join(["model", *(_column(m) for m in metrics)]) + " |",
                  "|" + "---|" * (len(metrics) + 1)]
        for label, row in rows.items():
            values = row.get("slices", {}).get(part)
            if values is None:
                continue
            n = len(row["seeds"])
            lines.append("| " + " | ".join([label, *(_cell(values["mean"].get(m),
                                                             values["ci"].get(m), n)
                                                       for m in metrics)]) + " |")
    chosen = [(label, row) for label, row in rows.items() if row.get("chosen")]
    if chosen:
        lines += ["", "## Settings chosen on validation", ""]
        for label, row in chosen:
            settings = "; ".join(f"seed {seed}: {_setting(setting, row['grid'])}"
                                 for seed, setting in row["chosen"].items())
            by = f" (by validation {row['select_by']})" if len(row["grid"]) > 1 else ""
            lines.append(f"- {label}{by}: {settings}")
    check = report.get("full_check")
    if report["comparisons"]:
        lines += ["", f"## Paired bootstrap over test users ({report['n_resamples']} resamples)",
                  "", "The package's \"full\" (its trained `recsys/` model, reloaded and scored "
                  "again) − each peer, with the "
                  f"{report['level']:.0%} percentile interval; ✔ = \"full\" is better beyond "
                  "the interval."]
        if check and check["max_abs_difference"] is not None:
            lines.append(f"The reloaded model (seed {check['seed']}) differs from that seed's "
                         f"metrics.json row by at most {check['max_abs_difference']:.2g}.")
        groups: dict[str, list[dict]] = {}
        for diff in report["comparisons"]:
            groups.setdefault(diff["population"], []).append(diff)
        for population, diffs in groups.items():
            title = "All test users" if population == "all" else slice_title(population)
            lines += ["", f"### {title}", "",
                      "| " + " | ".join(["full − peer", *(_column(m) for m in metrics)]) + " |",
                      "|" + "---|" * (len(metrics) + 1)]
            by_peer: dict[str, dict[str, dict]] = {}
            for diff in diffs:
                by_peer.setdefault(diff["reference"], {})[diff["metric"]] = diff
            for peer, cells in by_peer.items():
                lines.append("| " + " | ".join([f"full − {peer}", *(
                    _diff_cell(cells[m]) if m in cells else "–" for m in metrics)]) + " |")
            lines.append(detectable_row(
                [{m: BootstrapDiff.from_dict(d) for m, d in cells.items()}
                 for cells in by_peer.values()], metrics))
    return "\n".join(lines) + "\n"


def _setting(setting: dict, grid: Sequence[dict]) -> str:
    """"lamb=30000 (grid edge)": a value at the end of a grid of 3+ values is marked."""
    if not setting:
        return "defaults"
    parts = []
    for key, value in setting.items():
        values = sorted({g[key] for g in grid if key in g})
        edge = len(values) > 2 and value in (values[0], values[-1])
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        shown = f"{value:g}" if numeric else str(value)
        parts.append(f"{key}={shown}" + (" (grid edge)" if edge else ""))
    return ", ".join(parts)


def _diff_cell(diff: dict) -> str:
    if diff["difference"] is None:
        return "–"
    mark = " ✔" if diff["candidate_better"] else ""
    return f"{diff['difference']:+.4f} [{diff['low']:+.4f}, {diff['high']:+.4f}]{mark}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished run folder")
    parser.add_argument("--models", default="mostpop,mf,bpr,ease,hft,narre",
                        help="comma-separated peers: " + ",".join(default_peers()))
    parser.add_argument("--seeds", default="0", help="seeds of the stochastic peers")
    parser.add_argument("--narre-epochs", type=int, default=NARRE_MAX_ITER,
                        help="NARRE training epochs (Cornac's default: 10)")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="run still in progress: fit the peers meanwhile, then wait up to "
                             "this long for its evaluation/metrics.json")
    args = parser.parse_args(argv)
    if args.narre_epochs < 1:
        parser.error(f"--narre-epochs must be >= 1, got {args.narre_epochs}")
    known = default_peers(args.narre_epochs)
    names = [n.strip().lower() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"--models: unknown peer(s) {unknown}; choose from {list(known)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: comma-separated integers expected, got {args.seeds!r}")
    try:
        import cornac  # noqa: F401
    except ImportError:
        parser.error(f"cornac is not installed: pip install -e '.[bench]' "
                     f"(cornac=={CORNAC_VERSION})")
    start = time.perf_counter()
    report = run_peers(args.run, {n: known[n] for n in names}, seeds, wait_s=args.wait)
    for label, row in report["rows"].items():
        if row["source"] == CORNAC:
            print(f"[peers] {label}: " + (f"not run: {row['not_run']}" if "not_run" in row
                                          else f"{np.mean(row['seconds']):.1f} s per seed"))
    print(f"[peers] total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
