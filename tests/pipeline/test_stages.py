"""Stage timing: skipped stages are marked with their reason (never 0 s), peaks are MiB
and older `peak_rss_mb` files still read; the chain records what it skipped."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pandas as pd
import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.pipeline import stages
from tfrec_sentiment.pipeline import train as pipeline


def test_a_skipped_stage_has_a_reason_and_no_seconds_share_or_peak():
    timer = stages.StageTimer()
    with timer("data"):
        pass
    timer.skip("comment_only", "evaluation.comment_only is off")
    with timer("recsys"):
        pass
    timing = timer.to_dict()
    assert list(timing["seconds"]) == list(timing["peak_rss_mib"]) == ["data", "recsys"]
    assert set(timing["share"]) == {"data", "recsys"}
    assert timing["skipped"] == {"comment_only": "evaluation.comment_only is off"}
    assert "peak_rss_mb" not in timing  # one name, in MiB
    # The rows put the skipped stage where the chain would have run it.
    assert stages.stage_rows(timing) == [("data", None), ("recsys", None),
                                         ("comment_only", "evaluation.comment_only is off")]
    table = stages.timing_table(timing).splitlines()
    assert table[0] == "| stage | seconds | share | CPU seconds | peak memory (MiB) |"
    assert table[-2] == "| comment_only | skipped: evaluation.comment_only is off | | | |"
    assert table[-1].startswith("| total | ")


def test_cpu_seconds_count_the_work_of_a_stage_and_not_its_waiting():
    timer = stages.StageTimer(interval=0.05)
    with timer("busy"):
        total, end = 0, time.process_time() + 0.2
        while time.process_time() < end:  # works until it has had 0.2 s of CPU (any load)
            total += 1
    with timer("idle"):
        time.sleep(0.3)  # waiting: wall, no CPU
    timing = timer.to_dict()
    assert timing["cpu_seconds"]["busy"] >= 0.2
    assert timing["cpu_seconds"]["idle"] < 0.1 < timing["seconds"]["idle"]
    assert timing["total_cpu_seconds"] == pytest.approx(sum(timing["cpu_seconds"].values()),
                                                        abs=0.02)
    rows = stages.timing_table(timing).splitlines()
    busy = rows[2].split(" | ")
    assert busy[0] == "| busy" and float(busy[3]) == round(timing["cpu_seconds"]["busy"], 1)


def test_skipped_rows_keep_the_chain_order_and_stages_outside_it_stay_in_place():
    timing = {"seconds": {"data": 1.0, "sentiment": 2.0, "guardrail": 1.0, "evaluation": 1.0},
              "skipped": {"export": "x", "features": "y", "cold_start": "z"}}
    assert [s for s, _ in stages.stage_rows(timing)] == [
        "data", "sentiment", "features", "guardrail", "evaluation", "cold_start", "export"]


def test_peaks_of_a_timing_file_written_before_the_mib_rename_still_read():
    old = {"seconds": {"data": 1.0}, "share": {"data": 1.0}, "total_seconds": 1.0,
           "peak_rss_mb": {"data": 812.5}}  # no "skipped" either
    assert stages.stage_peaks(old) == {"data": 812.5}
    assert stages.stage_peaks({"peak_rss_mib": {"data": 3.0}, "peak_rss_mb": {"data": 9.0}}
                              ) == {"data": 3.0}
    assert stages.timing_table(old).splitlines()[-2:] == ["| data | 1.0 | 100% | — | 812 |",
                                                          "| total | 1.0 | | — | |"]
    assert stages.stage_peaks({"seconds": {}}) == {}


def test_the_chain_marks_switched_off_stages_skipped_in_timing_and_report(tmp_path,
                                                                          monkeypatch):
    # Every stage stubbed: this checks the bookkeeping of run_training, not the stages.
    config = config_lib.resolve("smoke", ["data.cold_user_share=0", "evaluation.cold_start_ks=1"])
    sizes = {"train": 1, "validation": 2, "test": 1200, "cold": 0}
    split = SimpleNamespace(cold=pd.DataFrame(), sizes=sizes)
    ablation = SimpleNamespace(title="smoke: demo", to_markdown=lambda: (
        "# smoke: demo\n\n- Split.\n\n## All test users (1)\n\n| model |\n|---|\n"
        "| full |\n\n## By slice\n\n### Users with 1 training review\n"))
    monkeypatch.setattr(pipeline, "data_stage", lambda *a: (None, split))
    monkeypatch.setattr(pipeline, "fit_memory_budget", lambda config, split, out: (config, None))
    monkeypatch.setattr(pipeline, "sentiment_stage", lambda *a: (None, None))
    monkeypatch.setattr(pipeline, "feature_stage", lambda *a: None)
    monkeypatch.setattr(pipeline, "recsys_stage", lambda *a: None)
    monkeypatch.setattr(pipeline, "evaluation_stage", lambda *a: (ablation, None))

    def must_not_run(*args, **kwargs):
        raise AssertionError("a switched-off stage ran")

    for name in ("run_cold_start", "comment_only_stage", "export_stage"):
        monkeypatch.setattr(pipeline, name, must_not_run)
    run = pipeline.run_training(config, tmp_path / "run", progress=False, export=False)
    timing = json.loads((tmp_path / "run" / "timing.json").read_text())
    assert timing == run.timing
    assert list(timing["seconds"]) == ["data", "sentiment", "features", "recsys", "evaluation"]
    assert timing["skipped"] == {
        "aspects": "aspects.enabled is off", "explanations": "aspects.enabled is off",
        "cold_start": "no cold-start users (data.cold_user_share=0)",
        "comment_only": "evaluation.comment_only is off",
        "export": pipeline.NO_EXPORT}
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| comment_only | skipped: evaluation.comment_only is off | | | |" in report
    assert f"| export | skipped: {pipeline.NO_EXPORT} | | | |" in report
    assert "peak memory (MiB)" in report and "(MB)" not in report
    # One `# ` title, then `## ` sections; each stage's report nests one level below
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert headings[0] == "# Run `run`" and not [h for h in headings[1:] if h.startswith("# ")]
    assert headings[1:3] == ["## Data", "## Recommendation — smoke: demo"]
    assert "### All test users (1)" in headings and "#### Users with 1 training review" in \
        headings
    # the split sizes as a table, not a Python dict
    assert "{'" not in report and "| part | rows |" in report
    assert "| test | 1,200 |" in report and f"| total | {sum(sizes.values()):,} |" in report


@pytest.mark.parametrize("overrides, reason", [
    (["evaluation.cold_start_ks="], "evaluation.cold_start_ks is empty"),
    (["data.cold_user_share=0.1"], "no user of the data falls in data.cold_user_share=0.1"),
])
def test_cold_start_says_why_it_has_nothing_to_do(overrides, reason):
    from tfrec_sentiment.evaluation.cold_start import cold_start_skip_reason

    config = config_lib.resolve("demo", overrides)
    assert cold_start_skip_reason(config, SimpleNamespace(cold=pd.DataFrame())) == reason
    some = SimpleNamespace(cold=pd.DataFrame({"user_id": ["u"]}))
    assert cold_start_skip_reason(config_lib.resolve("demo"), some) is None
