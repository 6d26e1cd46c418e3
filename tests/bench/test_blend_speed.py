"""bench/blend_speed.py: the reused grid sums give the per-point objectives (tiny case)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tfrec_sentiment.recsys.blend import grid_objectives

REPO = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_blend_speed",
                                                  REPO / "bench" / "blend_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bench_checks_equal_objectives_and_prints_the_ratio(capsys):
    bench = load_bench()
    assert bench.main(["--users", "30", "--items", "25", "--steps", "4", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "30 users x 25 items, 35 points" in out and "objectives identical" in out
    components, data = bench.synthetic_fit(30, 25, relevant=0.1)  # most users have one
    reference = bench.per_point(components, data, 10, 4)
    _, reused = grid_objectives(components, data, 10, 4)
    assert reference.shape == (35, 30) and np.isfinite(reference).sum() > 500
    np.testing.assert_array_equal(reused, reference)
