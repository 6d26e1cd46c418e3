"""bench/peers.py: the Cornac adapter, the validation choice and the one-table report.

The adapter and the report are tested with Cornac-like fakes (no cornac needed); the
real Cornac peers run on a tiny split only where the `bench` extra is installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.demo import generate_demo
from tfrec_sentiment.data.splits import leave_last_out
from tfrec_sentiment.evaluation import ItemMean, Popularity, Variant, evaluate_split, run_ablation
from tfrec_sentiment.evaluation.config import EvalConfig

REPO = Path(__file__).resolve().parents[2]


def _load_peers():
    spec = importlib.util.spec_from_file_location("bench_peers", REPO / "bench" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_peers"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


peers = _load_peers()


class FakeCornac:
    """Cornac-like model: fitted on a frame; scores = item mean rating (+ `boost` on one item).

    It has what the adapter reads from a Cornac model: `uid_map`, `iid_map`,
    `global_mean`, `score(user_idx[, item_idx])` and `rate(user_idx, item_idx)`, whose
    unknown index (-1) falls back to the global mean as Cornac's `default_score` does.
    """

    def __init__(self, mode: str = "mean", boost_item: str | None = None,
                 fail: bool = False) -> None:
        self.mode, self.boost_item, self.fail = mode, boost_item, fail

    def fit(self, train: pd.DataFrame) -> FakeCornac:
        if self.fail:
            raise RuntimeError("boom\nsecond line")
        users = np.unique(train["user_id"].to_numpy(str))
        items = np.unique(train["item_id"].to_numpy(str))
        self.uid_map = {u: i for i, u in enumerate(users)}
        self.iid_map = {v: i for i, v in enumerate(items)}
        grouped = train.groupby(train["item_id"].astype(str))["rating"]
        table = grouped.mean() if self.mode == "mean" else grouped.size().astype(float)
        self.values = table.reindex(items).to_numpy(np.float64, copy=True)
        if self.boost_item is not None:
            self.values[self.iid_map[self.boost_item]] += 100.0
        self.global_mean = float(train["rating"].mean())
        return self

    def score(self, user_idx: int, item_idx: int | None = None) -> np.ndarray | float:
        return self.values.copy() if item_idx is None else self.values[item_idx]

    def rate(self, user_idx: int, item_idx: int, clipping: bool = True) -> float:
        return self.global_mean if item_idx < 0 else float(np.clip(self.values[item_idx], 1, 5))


def _fake_spec(label: str, **kwargs) -> peers.PeerSpec:
    make = kwargs.pop("make", lambda setting, seed: FakeCornac(**setting))
    return peers.PeerSpec(label, make, data=lambda frame, needs: frame, **kwargs)


@pytest.fixture(scope="module")
def split():
    return leave_last_out(generate_demo(seed=0, users=40, items=30))


TRAIN = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "item_id": ["x", "y", "x", "x"],
                      "rating": [5.0, 2.0, 4.0, 3.0]})


def test_adapter_maps_ids_and_falls_back_for_unknown_ones():
    model = FakeCornac().fit(TRAIN)  # item means: x = 4, y = 2
    peer = peers.CornacRecommender(model, TRAIN)
    scores = peer.score_items(np.array(["a", "stranger"]), np.array(["y", "x", "new"]))
    # a known user: the model's scores in catalogue order, an unknown item below them all;
    # an unknown user: training popularity (x 3 rows, y 1, new 0).
    np.testing.assert_array_equal(scores, [[2.0, 4.0, 1.0], [1.0, 3.0, 0.0]])
    ratings = peer.predict_rating(np.array(["a", "stranger", "b"]), np.array(["x", "y", "new"]))
    np.testing.assert_array_equal(ratings, [4.0, 2.0, 3.5])  # "new": the global mean 14 / 4
    ranking_only = peers.CornacRecommender(model, TRAIN, predicts_ratings=False)
    np.testing.assert_array_equal(ranking_only.predict_rating(np.array(["a"]), np.array(["y"])),
                                  [3.5])


def test_adapter_matches_the_package_baseline_it_imitates(split):
    # Item-mean scores through the adapter rank and rate exactly as the package's ItemMean.
    peer = peers.CornacRecommender(FakeCornac().fit(split.train), split.train)
    ours = evaluate_split(peer, split).metrics
    theirs = evaluate_split(ItemMean().fit(split.train), split).metrics
    assert ours == pytest.approx(theirs, nan_ok=True)


def test_choose_on_validation_keeps_the_best_setting(split):
    # Boosting the validation item of many users to the top must win on validation NDCG.
    known = split.validation["item_id"].isin(split.train["item_id"])
    target = split.validation["item_id"][known].astype(str).value_counts().index[0]
    spec = _fake_spec("fake", grid=[{"boost_item": None}, {"boost_item": target}],
                      predicts_ratings=False)
    model, setting, tried = peers.choose_on_validation(spec, split, 0, split.train,
                                                       EvalConfig())
    assert setting == {"boost_item": target}
    assert model.model.boost_item == target
    assert [t["setting"] for t in tried] == [{"boost_item": None}, {"boost_item": target}]
    assert tried[1]["ndcg@10"] > tried[0]["ndcg@10"]
    rmse_spec = _fake_spec("fake", grid=[{"mode": "count"}, {"mode": "mean"}], select_by="rmse")
    _, setting, tried = peers.choose_on_validation(rmse_spec, split, 0, split.train, EvalConfig())
    assert setting == {"mode": "mean"} and tried[1]["rmse"] < tried[0]["rmse"]


def test_peer_spec_rejects_bad_settings():
    with pytest.raises(ValueError, match="select_by must be one of"):
        _fake_spec("x", select_by="ndcg@10")
    with pytest.raises(ValueError, match="ranking-only model cannot be chosen by rmse"):
        _fake_spec("x", select_by="rmse", predicts_ratings=False)
    with pytest.raises(ValueError, match="at least one setting"):
        _fake_spec("x", grid=[])


def _run_folder(tmp_path: Path, split) -> Path:
    """A finished run in miniature: split, config and a metrics.json with "full"."""
    run = tmp_path / "run"
    split.save(run / "data")
    evaluation = dataclasses.replace(EvalConfig(), seeds=(0,), n_resamples=200)
    config_lib.save(dataclasses.replace(config_lib.RunConfig(), evaluation=evaluation),
                    run / "config.json")
    train = split.train
    run_ablation({"popularity": Variant(lambda s: Popularity().fit(train), deterministic=True),
                  "full": Variant(lambda s: ItemMean().fit(train), deterministic=True)},
                 split, run / "evaluation", config=evaluation, progress=False)
    return run


def test_run_peers_writes_one_table_with_the_package_rows(tmp_path, split):
    run = _run_folder(tmp_path, split)
    specs = {"pop": _fake_spec("FakePop", grid=[{"mode": "count"}], predicts_ratings=False,
                               deterministic=True),
             "mean": _fake_spec("FakeMean"),
             "broken": _fake_spec("Broken", grid=[{"fail": True}])}
    lines = []
    report = peers.run_peers(run, specs, seeds=[0, 1], full=ItemMean().fit(split.train),
                             log=lines.append)
    written = json.loads((run / "evaluation" / "peers.json").read_text())
    assert written == json.loads(json.dumps(report))
    rows = report["rows"]
    assert list(rows) == ["package: popularity", "package: full", "cornac: FakePop",
                          "cornac: FakeMean", "cornac: Broken"]
    assert rows["cornac: Broken"]["not_run"] == "RuntimeError: boom"
    # The fakes reproduce the package's baselines, so the same split gives the same numbers.
    package = json.loads((run / "evaluation" / "metrics.json").read_text())["variants"]
    assert rows["cornac: FakeMean"]["mean"] == pytest.approx(package["full"]["mean"])
    assert rows["cornac: FakeMean"]["seeds"] == [0, 1]
    pop = rows["cornac: FakePop"]
    assert pop["seeds"] == [0] and pop["mean"]["rmse"] is None and pop["mean"]["mae"] is None
    assert pop["mean"]["ndcg@10"] == pytest.approx(package["popularity"]["mean"]["ndcg@10"])
    assert report["full_check"] == {"seed": 0, "max_abs_difference": 0.0}
    # Bootstrap: full - each peer; no rating rows against the ranking-only peer.
    pairs = {(c["candidate"], c["reference"], c["metric"]) for c in report["comparisons"]
             if c["population"] == "all"}
    assert ("full", "FakeMean", "rmse") in pairs and ("full", "FakePop", "ndcg@10") in pairs
    assert ("full", "FakePop", "rmse") not in pairs
    same = [c for c in report["comparisons"] if c["reference"] == "FakeMean"]
    assert all(c["difference"] in (0.0, None) for c in same)
    markdown = (run / "evaluation" / "peers.md").read_text()
    assert "| Broken: not run: RuntimeError: boom |" in markdown
    assert "| cornac: FakePop | 1 (deterministic) | – | – |" in markdown
    assert "| full − FakeMean |" in markdown and "## Paired bootstrap" in markdown
    assert "| smallest difference detectable (80% power; median of the rows above) |" in markdown
    assert "- cornac: FakePop: seed 0: mode=count" in markdown
    assert "- cornac: FakeMean: seed 0: defaults; seed 1: defaults" in markdown
    assert any("Broken: not run" in line for line in lines)


def test_chosen_settings_mark_the_edge_of_a_grid():
    grid = [{"lamb": v, "posB": True} for v in (10, 100, 1000)]
    assert peers._setting({"lamb": 1000, "posB": True}, grid) == "lamb=1000 (grid edge), posB=True"
    assert peers._setting({"lamb": 100}, grid) == "lamb=100"
    assert peers._setting({"lr": 0.1}, [{"lr": 0.1}, {"lr": 0.2}]) == "lr=0.1"  # 2 values: no edge
    assert peers._setting({}, [{}]) == "defaults"


def test_run_peers_needs_a_finished_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="is the run finished"):
        peers.run_peers(tmp_path, {}, seeds=[0])


def test_run_peers_waits_for_a_run_in_progress_then_gives_up(tmp_path, split):
    split.save(tmp_path / "data")
    fake = {"mean": _fake_spec("FakeMean")}
    with pytest.raises(FileNotFoundError, match="missing after waiting 0 s"):
        peers.run_peers(tmp_path, fake, seeds=[0], wait_s=0.01, log=lambda line: None)


def test_cli_says_how_to_install_cornac(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cornac", None)  # import cornac -> ImportError
    with pytest.raises(SystemExit):
        peers.main(["--run", "nowhere", "--models", "mostpop"])
    assert "pip install -e '.[bench]'" in capsys.readouterr().err


def test_cli_rejects_unknown_peers(capsys):
    with pytest.raises(SystemExit):
        peers.main(["--run", "nowhere", "--models", "mostpop,magic"])
    assert "unknown peer(s) ['magic']" in capsys.readouterr().err


def test_cornac_peers_on_a_tiny_split(split):
    pytest.importorskip("cornac", reason="cornac is the `bench` extra: pip install -e '.[bench]'")
    specs = {name: spec for name, spec in peers.default_peers().items()
             if name in ("mostpop", "ease", "mf", "bpr")}
    fits = peers.fit_peers(specs, split, seeds=[0], config=EvalConfig(), log=lambda line: None)
    assert all(fit.error is None for fit in fits.values())
    # MostPop ranks by training counts, as the package's Popularity does: same metrics.
    ours = evaluate_split(fits["mostpop"].models[0], split).metrics
    # Cornac sees one row per (user, item) pair; so does this reference.
    assert peers.repeated_pairs(split.train) == 2
    deduplicated = peers.one_row_per_pair(split.train)
    assert len(deduplicated) == len(split.train) - 2
    theirs = evaluate_split(Popularity().fit(deduplicated), split).metrics
    for metric in ("ndcg@10", "recall@10", "liked_ndcg@10", "disliked@10"):
        assert ours[metric] == pytest.approx(theirs[metric])
    assert fits["ease"].chosen[0]["lamb"] in (10, 100, 300, 1000, 3000, 10000, 30000)
    assert len(fits["ease"].validation[0]) == 7
    mf = evaluate_split(fits["mf"].models[0], split).metrics
    assert 0.0 < mf["rmse"] < 2.0
