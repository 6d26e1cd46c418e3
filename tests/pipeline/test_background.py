"""The background job of the pipeline: a child process joined with its usage, its
failure reported with its log, its time in timing.json (pipeline/background.py)."""

import sys

import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.pipeline import background, stages


def test_join_returns_the_childs_own_usage(tmp_path):
    # about 0.3 s of CPU in the child, while this process sleeps
    code = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    job = background.BackgroundJob.start("busy", [sys.executable, "-c", code],
                                         tmp_path / "busy.log")
    usage = job.join()
    assert usage.cpu_seconds >= 0.3 and usage.seconds >= usage.cpu_seconds * 0.9
    assert 1 < usage.peak_rss_mib < 1000
    job.stop()  # finished: nothing to end, no error


def test_the_childs_wall_time_ends_when_it_exits_not_when_joined(tmp_path):
    import time

    job = background.BackgroundJob.start(
        "quick", [sys.executable, "-c", "import time; time.sleep(0.2)"], tmp_path / "q.log")
    time.sleep(4.0)  # the parent joins long after the child is done
    usage = job.join()
    assert 0.2 <= usage.seconds < 3.5


def test_a_failed_child_raises_with_its_log(tmp_path):
    code = "import sys\nprint('step 1 ok')\nsys.exit('no scores in the run folder')"
    job = background.BackgroundJob.start("comment-only", [sys.executable, "-c", code],
                                         tmp_path / "evaluation" / "comment_only.log")
    with pytest.raises(background.BackgroundJobError) as error:
        job.join()
    message = str(error.value)
    assert "comment-only" in message and "exit status 1" in message
    assert str(tmp_path / "evaluation" / "comment_only.log") in message
    assert "step 1 ok" in message and "no scores in the run folder" in message


def test_stop_ends_a_child_that_still_runs(tmp_path):
    job = background.BackgroundJob.start(
        "slow", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "slow.log")
    job.stop()
    assert job.process.poll() is not None


def test_the_protocol_stays_in_process_when_off_or_distributed(tmp_path):
    off = config_lib.resolve("demo", ["evaluation.comment_only=false"])
    assert background.start_comment_only(off, tmp_path) is None  # the protocol is off
    for overrides, reason in [(["background_jobs=false"],
                               "background_jobs is off"),
                              (["strategy=mirrored"], "strategy='mirrored'")]:
        config = config_lib.resolve("demo", overrides)
        assert background.background_skip_reason(config).startswith(reason)
        assert background.start_comment_only(config, tmp_path) is None
    assert not (tmp_path / "evaluation").exists()  # nothing started


def _row(timing: dict, stage: str) -> list[str]:
    """The cells of `stage`'s row of the timing table."""
    line = [line for line in stages.timing_table(timing).splitlines()
            if line.startswith(f"| {stage} |")][0]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_timer_reports_the_wait_and_the_childs_usage():
    timer = stages.StageTimer()
    with timer("aspects"):  # the stage's own work here; a child did a part beside
        pass
    timer.add_background("aspects", seconds=130.0, cpu_seconds=128.5, peak_rss_mib=2100.0)
    timing = timer.to_dict()
    assert timing["background"] == {"aspects": {"seconds": 130.0, "cpu_seconds": 128.5,
                                                "peak_rss_mib": 2100.0}}
    assert timing["seconds"]["aspects"] < 1.0  # this process's time, not the child's
    assert timing["cpu_seconds"]["aspects"] >= 128.5
    seconds = _row(timing, "aspects")[1]
    assert seconds.startswith(f"{timing['seconds']['aspects']:.1f} (and ")
    assert "130.0 s in a background process, peak 2100 MiB" in seconds


def test_a_stage_run_wholly_in_the_background_shows_the_childs_wall_time():
    timer = stages.StageTimer()
    with timer("comment_only"):  # this process only joins the child, done long before
        pass
    timer.add_background("comment_only", seconds=46.0, cpu_seconds=45.4, peak_rss_mib=1600.0,
                         whole_stage=True)
    timing = timer.to_dict()
    assert timing["background"]["comment_only"]["whole_stage"] is True
    wait = timing["seconds"]["comment_only"]
    assert wait < 1.0  # the chain's wall time: the wait at the join
    cells = _row(timing, "comment_only")
    # the child's wall time first, not the 0.0 s of the wait beside 45.4 CPU-s
    assert cells[1].startswith("46.0 in a background process (peak 1600 MiB)")
    assert cells[1].endswith(f"{wait:.1f} s waiting at its join")
    assert float(cells[3]) == round(timing["cpu_seconds"]["comment_only"], 1) >= 45.4
    total = stages.timing_table(timing).splitlines()[-1]
    assert total.startswith(f"| total | {wait:.1f} |")  # the child ran beside: not added
