"""The comment-only protocol (issue 10): stars hidden from every model, sentiment graded."""

import dataclasses
import json
import types

import numpy as np
import pytest

from tests.features.synthetic import synthetic_reviews
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation import comment_only
from tfrec_sentiment.evaluation.baselines import Popularity
from tfrec_sentiment.evaluation.comment_only import (
    IMPLICIT,
    choose_candidate,
    comment_only_split,
    pseudo_ratings,
    run_comment_only,
)
from tfrec_sentiment.evaluation.config import EvalConfig

TINY_RECSYS = ["recsys.epochs=2", "recsys.embedding_dim=4", "recsys.output_dim=4",
               "recsys.fusion_units=4", "recsys.text_units=4", "recsys.hidden_units=8",
               "recsys.history_dim=4", "recsys.batch_size=64",
               "recsys.early_stopping_patience=1"]
CHEAP_EVALUATION = ["evaluation.n_resamples=50", "evaluation.bootstrap_slices=false",
                    "evaluation.comment_only_seeds=0"]


def _data(seed: int = 0) -> types.SimpleNamespace:
    """A leave-last-out split of synthetic reviews and its row-aligned sentiment scores."""
    reviews = synthetic_reviews(num_users=50, num_items=25, per_user=6, text_dim=8, seed=seed)
    frame = reviews.frame.assign(line=np.arange(len(reviews.frame)))
    order = frame.sort_values(["user_id", "timestamp", "line"], kind="stable")
    from_end = order.groupby("user_id").cumcount(ascending=False).to_numpy()
    parts = {name: order[keep].reset_index(drop=True) for name, keep in
             (("train", from_end >= 2), ("validation", from_end == 1), ("test", from_end == 0))}
    split = Split(**parts)

    def scores(part):
        rows = getattr(split, part)["line"].to_numpy()
        return types.SimpleNamespace(probabilities=reviews.probabilities[rows],
                                     embedding=reviews.embeddings[rows])

    return types.SimpleNamespace(split=split, train=scores("train"),
                                 validation=scores("validation"))


def _config(*overrides: str) -> config_lib.RunConfig:
    return config_lib.resolve("demo", [*TINY_RECSYS, *CHEAP_EVALUATION,
                                       "features.history_length=4", *overrides])


def _hide(split: Split, how: str, seed: int = 0) -> Split:
    """The split with its train / validation stars replaced (test untouched)."""
    rng = np.random.default_rng(seed)
    parts = {}
    for name in ("train", "validation"):
        frame = getattr(split, name).copy()
        stars = frame["rating"].to_numpy()
        frame["rating"] = (np.full(len(frame), np.nan, np.float32) if how == "nan"
                           else rng.permutation(stars))
        parts[name] = frame
    return dataclasses.replace(split, **parts)


def test_pseudo_ratings_are_the_expected_class_stars():
    probabilities = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0, 0.5], [0.2, 0.3, 0.5]])
    np.testing.assert_allclose(pseudo_ratings(probabilities), [1, 3, 5, 3, 3.6], rtol=1e-6)
    # 0.2 * 1.5 + 0.3 * 3 + 0.5 * 4.5 = 3.45
    np.testing.assert_allclose(pseudo_ratings(probabilities, (1.5, 3.0, 4.5))[-1], 3.45,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="row 1 is not finite"):
        pseudo_ratings(np.array([[0, 0, 1], [np.nan, 0, 1]]))
    with pytest.raises(ValueError, match=r"expected \[N, 3\]"):
        pseudo_ratings(np.ones((2, 2)))


def test_comment_only_split_replaces_every_training_star():
    data = _data()
    hidden = _hide(data.split, "nan")
    free = comment_only_split(hidden, data.train.probabilities, data.validation.probabilities)
    for part, scores in (("train", data.train), ("validation", data.validation)):
        frame = getattr(free, part)
        np.testing.assert_array_equal(frame["rating"], pseudo_ratings(scores.probabilities))
        assert (frame["helpful_votes"] == 0).all()
        assert frame["item_id"].tolist() == getattr(data.split, part)["item_id"].tolist()
    assert free.test.equals(data.split.test)  # the only stars left, for evaluation
    assert len(free.cold) == 0
    assert hidden.train["rating"].isna().all()  # the input is not modified
    with pytest.raises(ValueError, match="validation probabilities have shape"):
        comment_only_split(data.split, data.train.probabilities, data.train.probabilities)


def test_choose_candidate_prefers_liked_ndcg_then_ndcg():
    selection = {"a": {"liked_ndcg@10": np.nan, "ndcg@10": 0.9},
                 "b": {"liked_ndcg@10": 0.2, "ndcg@10": 0.1},
                 "c": {"liked_ndcg@10": 0.2, "ndcg@10": 0.3}}
    assert choose_candidate(selection) == "c"
    assert choose_candidate({"a": selection["a"]}) == "a"


def test_training_inputs_never_hold_a_star(monkeypatch):
    """The required test: stars hidden (NaN) or permuted, the protocol's training inputs
    (splits, feature tables, examples, baselines' frames) and its results are unchanged."""
    data = _data()
    seen = []

    def fake_train(recsys_config, split, tables, strategy, seed, progress):
        seen.append({
            "config": recsys_config,
            "train": split.train["rating"].to_numpy().copy(),
            "validation": split.validation["rating"].to_numpy().copy(),
            "tables": tables.rows["rating"].copy(),
            "examples": tables.training_examples()["rating"].copy(),
            "lookup": tables.lookup_examples(split.validation)["rating"].copy(),
            "signals": tables.rows["signals"].copy(),
            "global_mean": tables.global_mean})
        return Popularity().fit(split.train)

    baseline_frames = []
    real_baselines = comment_only.baseline_variants

    def spy_baselines(split, **kwargs):
        baseline_frames.append((split.train["rating"].to_numpy().copy(),
                                split.validation["rating"].to_numpy().copy()))
        return real_baselines(split, **kwargs)

    monkeypatch.setattr(comment_only, "_train", fake_train)
    monkeypatch.setattr(comment_only, "baseline_variants", spy_baselines)
    config = _config()
    results = []
    for split in (data.split, _hide(data.split, "nan"), _hide(data.split, "permute")):
        seen.clear()
        result = run_comment_only(config, split, data.train, data.validation)
        results.append((result, list(seen)))
    expected = {"train": pseudo_ratings(data.train.probabilities),
                "validation": pseudo_ratings(data.validation.probabilities)}
    for _, runs in results:
        assert len(runs) == 1 + len(comment_only.DEFAULT_CANDIDATES)
        for run in runs:
            np.testing.assert_array_equal(run["train"], expected["train"])
            np.testing.assert_array_equal(run["validation"], expected["validation"])
            np.testing.assert_array_equal(run["tables"], expected["train"])
            np.testing.assert_array_equal(run["examples"], expected["train"])
            np.testing.assert_array_equal(run["lookup"], expected["validation"])
            np.testing.assert_array_equal(run["signals"], runs[0]["signals"])
            assert run["global_mean"] == pytest.approx(expected["train"].mean(), rel=1e-5)
    for train, validation in baseline_frames:
        np.testing.assert_array_equal(train, expected["train"])
        np.testing.assert_array_equal(validation, expected["validation"])
    # Identical signals and results whatever the hidden stars were.
    for result, runs in results[1:]:
        for run, first in zip(runs, results[0][1]):
            np.testing.assert_array_equal(run["signals"], first["signals"])
        assert result.chosen == results[0][0].chosen
        for name, variant in result.ablation.variants.items():
            assert variant.runs[0].metrics == pytest.approx(
                results[0][0].ablation.variants[name].runs[0].metrics, nan_ok=True)
    # The models' settings: implicit = retrieval only, unweighted; candidates graded.
    settings = [(r["config"].variant, r["config"].rating_weight,
                 r["config"].retrieval_sample_weight) for r in results[0][1]]
    assert settings.count(("ids", 0.0, "none")) == 1  # implicit ids only
    assert ("ids", 0.0, "rating") in settings and ("full", 1.0, "rating") in settings
    # The evaluation does read the test stars: liked / disliked users are counted.
    counts = results[0][0].ablation.counts
    assert counts["liked_users"] == (data.split.test["rating"] >= 4).sum()


def test_run_comment_only_trains_the_recommenders_and_writes_the_report(tmp_path):
    data = _data()
    name = "full + pseudo-ratings + sentiment weights"  # rating target and weights
    candidates = {name: comment_only.CANDIDATES[name]}
    result = run_comment_only(_config(), data.split, data.train, data.validation, tmp_path,
                              candidates=candidates)
    assert result.chosen in candidates
    assert list(result.ablation.variants) == ["popularity", "item-kNN", IMPLICIT, *candidates]
    assert set(result.selection) == set(candidates)
    for trained in result.ablation.variants.values():
        assert np.isfinite(trained.runs[0].metrics["liked_ndcg@10"])
    head = result.headline
    assert head["liked_ndcg@10 relative"] == pytest.approx(
        head["liked_ndcg@10 graded"] / head["liked_ndcg@10 implicit"] - 1)
    assert head["liked_ndcg@10 low"] <= head["liked_ndcg@10 difference"] <= \
        head["liked_ndcg@10 high"]
    saved = json.loads((tmp_path / "comment_only.json").read_text())
    assert saved["chosen"] == result.chosen
    assert saved["ablation"]["variants"][IMPLICIT]["seeds"] == [0]
    text = (tmp_path / "comment_only.md").read_text()
    assert f"Sentiment-graded model = **{result.chosen}**" in text
    # The goal line says what 10% is on these users and what they can show at all.
    goal = f"10% is {0.1 * head['liked_ndcg@10 implicit']:+.4f} here, against "
    assert goal + f"{head['liked_ndcg@10 detectable']:.4f} detectable at 80% power" in text
    assert head["liked_ndcg@10 detectable"] > 0
    assert "\n## All test users" not in text and "\n### All test users" in text
    assert not (tmp_path / "metrics.json").exists()  # the main table's files are not touched


def test_cli_runs_on_a_run_folder(monkeypatch, tmp_path, capsys):
    data = _data()
    config = _config()
    monkeypatch.setattr(comment_only, "load_run_scores",
                        lambda run, source: (config, data.split, data.train, data.validation))
    calls = []

    def fake_run(config, split, train_scores, validation_scores, out_dir, progress,
                 candidates, sentiment_source):
        calls.append((config, out_dir, candidates))
        return types.SimpleNamespace(to_markdown=lambda: "report")

    assert comment_only.main(["--run", str(tmp_path), "--seeds", "3,4",
                              "--set", "recsys.retrieval_weight_floor=0"], run=fake_run) == 0
    assert comment_only.main(["--run", str(tmp_path), "--candidates",
                              "full + pseudo-ratings; ids + sentiment weights"],
                             run=fake_run) == 0
    with pytest.raises(SystemExit):
        comment_only.main(["--run", str(tmp_path), "--candidates", "nope"], run=fake_run)
    (used, out_dir, everything), (_, _, two) = calls
    assert everything is None
    assert list(two) == ["full + pseudo-ratings", "ids + sentiment weights"]
    assert used.evaluation.comment_only_seeds == (3, 4)
    assert used.recsys.retrieval_weight_floor == 0.0
    assert out_dir == tmp_path / "evaluation"
    assert capsys.readouterr().out.split() == ["report", "report"]


def test_eval_config_checks_the_class_stars():
    with pytest.raises(ValueError, match="comment_only_class_stars"):
        EvalConfig(comment_only_class_stars=(1.0, 5.0))
    with pytest.raises(ValueError, match="comment_only_class_stars"):
        EvalConfig(comment_only_class_stars=(0.0, 3.0, 5.0))


def test_vader_scores_need_no_classifier_and_turn_text_off(tmp_path):
    data = _data()
    split = data.split
    split.train.loc[0, "text"] = "I love this guitar, it is great"
    split.train.loc[1, "text"] = "Terrible, it broke. I hate it"
    config_lib.save(_config(), tmp_path / "config.json")
    split.save(tmp_path / "data")
    config, loaded, train, validation = comment_only.load_run_scores(tmp_path, "vader")
    assert not config.features.use_text and not config.recsys.use_text
    assert train.probabilities.shape == (len(split.train), 3)
    assert validation.probabilities.shape == (len(split.validation), 3)
    assert train.embedding.shape == (len(split.train), 0)
    assert train.probabilities[:2].argmax(axis=1).tolist() == [2, 0]
    assert loaded.train["rating"].tolist() == split.train["rating"].tolist()
    with pytest.raises(ValueError, match="sentiment_source"):
        comment_only.load_run_scores(tmp_path, "stars")
