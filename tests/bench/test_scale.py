"""bench/scale.py --growth: the size parser and the growth table, by hand."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("bench_scale", REPO / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sizes_read_k_and_m(scale):
    assert [scale._count(s) for s in ("10k", "1M", "2.5k", "5000")] == [
        10_000, 1_000_000, 2_500, 5_000]


def test_growth_is_each_ratio_divided_by_the_datas(scale):
    small = {"reviews_asked": 1000, "reviews": 1000, "status": "done", "stage": "recsys",
             "seconds": {"data": 2.0, "recsys": 10.0},
             "peak_rss_mib": {"data": 500.0, "recsys": 800.0},
             "skipped": {"comment_only": "evaluation.comment_only is off"}}
    # A result written before the MiB rename: `peak_rss_mb`, the same values.
    large = {"reviews_asked": 10_000, "reviews": 4000, "status": "stopped: over 1 GiB",
             "stage": "recsys", "seconds": {"data": 8.0},
             "peak_rss_mb": {"data": 1000.0}}
    lines = scale.growth_table([small, large]).splitlines()
    assert lines[0] == ("| stage | 1,000 reviews: s / MiB | 4,000 reviews: s / MiB | "
                        "growth vs linear: time / MiB |")
    # data: time 8 / 2 = 4x for 4x the reviews (1.00, linear), memory 2x (0.50)
    assert lines[2] == "| data | 2.0 / 500 | 8.0 / 1000 | 1.00 / 0.50 |"
    assert lines[3] == "| recsys | 10.0 / 800 | — | — |"  # not reached at the larger size
    # skipped, not 0 s; after recsys, where the chain would have run it
    assert lines[4] == "| comment_only | skipped | — | — |"
    # a size that did not finish: its total so far, no ratio
    assert lines[5] == "| total | 12.0 / 800 | 8.0 / 1000 | — |"
    assert lines[-1] == "10,000 reviews: stopped: over 1 GiB during stage 'recsys'."
    # A size stopped by hand: its file was last written when a stage finished.
    killed = {**large, "status": "interrupted after stage 'data'", "stage": "data"}
    assert (scale.growth_table([small, killed]).splitlines()[-1]
            == "10,000 reviews: interrupted after stage 'data'.")
    assert scale._max_rss_mib({"max_rss_mb": 900.0}) == 900.0  # the old key still reads


def test_the_data_stage_takes_the_pregenerated_demo_once(scale, monkeypatch):
    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.data import prepare
    from tfrec_sentiment.data.demo import generate_demo

    monkeypatch.setattr(prepare, "generate_demo", generate_demo)  # undone after the test
    config = config_lib.resolve("smoke", ["data.demo_users=40", "data.demo_items=20"])
    expected = generate_demo(seed=config.seed, users=40, items=20)
    assert scale.pregenerated_demo(prepare, config) >= 0.0
    handed = prepare.generate_demo(seed=config.seed, users=40, items=20)
    assert handed.equals(expected)
    # the frame is handed over once: a second call, or another size, generates
    again = prepare.generate_demo(seed=config.seed, users=40, items=20)
    assert again is not handed and again.equals(expected)
    assert len(prepare.generate_demo(seed=config.seed, users=30, items=20)) < len(expected)


def test_help_prints_the_help_alone_without_importing_tensorflow():
    # A fresh process: the module's top level must leave TensorFlow unimported, so
    # that `--help` (and an argument error) prints no TensorFlow log line.
    script = str(REPO / "bench" / "scale.py")
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('s', {script!r})\n"
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            "print('tensorflow' in sys.modules)\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert loaded.stdout.strip() == "False"
    shown = subprocess.run([sys.executable, script, "--help"],
                           capture_output=True, text=True, check=True)
    assert shown.stdout.startswith("usage: scale.py") and "--growth" in shown.stdout
    assert shown.stderr == ""


def test_the_evaluation_is_put_beside_the_training_without_the_fits_it_makes(scale):
    result = {"reviews_asked": 1000, "reviews": 1000, "status": "done", "stage": "evaluation",
              "seconds": {"recsys": 10.0, "evaluation": 30.0},
              "peak_rss_mib": {"recsys": 800.0, "evaluation": 900.0},
              "ablation_training_seconds": 12.0,
              "fit_seconds": {"ids only": 12.0, "item-kNN": 5.5, "popularity": 0.5}}
    notes = scale.growth_table([result])
    assert "1,000 reviews 18.0 s vs 10.0 s." in notes  # less the recommender variants
    # less every fit: 30 - 12 - 5.5 - 0.5, each fit named
    assert ("1,000 reviews 12.0 s vs 10.0 s (fits: ids only 12.0 s, item-kNN 5.5 s, "
            "popularity 0.5 s).") in notes
    older = {key: value for key, value in result.items() if key != "fit_seconds"}
    assert "without fitting" not in scale.growth_table([older])  # a result without fits
