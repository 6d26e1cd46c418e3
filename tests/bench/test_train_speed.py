"""bench/train_speed.py --run: a finished run's stage table marks skipped stages."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_stage_table_marks_the_skipped_export(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_train_speed",
                                                  REPO / "bench" / "train_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "timing.json").write_text(json.dumps({
        "seconds": {"data": 30.0, "recsys": 90.0}, "share": {"data": 0.25, "recsys": 0.75},
        "total_seconds": 120.0, "peak_rss_mib": {"data": 1.0, "recsys": 2.0},
        "skipped": {"export": "not asked"}}))
    assert module.stage_table(tmp_path).splitlines() == [
        f"end to end ({tmp_path.name}): 2.0 min",
        "| stage | seconds | share | CPU seconds | peak memory (MiB) |", "|---|---|---|---|---|",
        "| data | 30.0 | 25% | — | 1 |", "| recsys | 90.0 | 75% | — | 2 |",
        "| export | skipped: not asked | | | |", "| total | 120.0 | | — | |"]
