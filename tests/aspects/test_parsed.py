"""The background parse's file (aspects/parsed.py): the same candidates as parsing in
the stage, refused when it is another run's, read and deleted by the pipeline's join."""

import sys

import pandas as pd
import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.aspects import parsed
from tfrec_sentiment.aspects import stage as stage_lib
from tfrec_sentiment.aspects.mentions import AspectExtractor
from tfrec_sentiment.aspects.stage import run_aspects
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.pipeline import background
from tfrec_sentiment.pipeline.aspects import aspects_markdown

TEXTS = ["The sound is great but the cable broke.", "Great sound, cheap cable.",
         "The sound is warm and the price is fair.", "Bad cable, fair price."]


def _run_folder(tmp_path):
    train = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u1"], "item_id": ["a", "a", "b", "b"],
                          "rating": [4.0, 5.0, 4.0, 2.0], "text": TEXTS, "title": "",
                          "helpful_votes": 0, "verified": True, "source": "test",
                          "timestamp": [86400, 172800, 259200, 345600]})
    config = config_lib.resolve("demo", ["aspects.min_reviews=1", "aspects.polarity=vader",
                                         "aspects.background=none"])
    config_lib.save(config, tmp_path / "config.json")
    Split(train, train.iloc[:0], train.iloc[:0]).save(tmp_path / "data")
    return config, train


def test_the_file_holds_what_the_stage_would_parse(tmp_path, spacy_pipeline):
    config, train = _run_folder(tmp_path)
    path = parsed.parse_run(tmp_path)  # what the child process runs
    found, counts = parsed.load_parsed(path, TEXTS, [0, 1, 2, 3], repr(config.aspects))
    extractor = AspectExtractor(config.aspects, pipeline=spacy_pipeline)
    before = spacy_pipeline.counts["tokens"]  # the session's pipeline counts every parse
    assert found == extractor.candidates(TEXTS) and counts["reviews"] == 4
    assert counts["tokens"] == spacy_pipeline.counts["tokens"] - before > 0
    here = run_aspects(config.aspects, train, None, extractor=extractor)
    read = run_aspects(config.aspects, train, None, extractor=extractor, parsed=path)
    assert read.vocabulary.terms == here.vocabulary.terms and "sound" in here.vocabulary.terms
    pd.testing.assert_frame_equal(read.mentions, here.mentions)
    assert read.summary["spacy"] == counts
    assert read.summary["spacy_parse"] == "a background process"
    assert not path.exists()  # read once, then deleted
    text = aspects_markdown(read)  # its counts with their noun's number
    for key, noun in (("aspects", "aspect"), ("mentions", "mention")):
        n = read.summary[key]
        assert f" {n:,} {noun}{'' if n == 1 else 's'}" in text
    # Its spacy seconds are only the reading: the report says where the parse ran.
    assert "parsed in a background process" in text
    assert "background process" not in aspects_markdown(here)


def test_another_runs_parse_is_refused(tmp_path):
    path = parsed.save_parsed(tmp_path / parsed.FILE, [[], []], {"reviews": 2}, ["a", "b"],
                              rows=[0, 1], settings="x")
    for texts, rows, settings in [(["a", "c"], [0, 1], "x"), (["a", "b"], [0, 2], "x"),
                                  (["a", "b"], [0, 1], "y")]:
        with pytest.raises(parsed.ParsedMismatchError, match="delete it to parse again"):
            parsed.load_parsed(path, texts, rows, settings)


def test_the_join_gives_the_childs_file_and_the_stage_refuses_a_stale_one(tmp_path):
    config, train = _run_folder(tmp_path)
    path = parsed.save_parsed(tmp_path / "aspects" / parsed.FILE, [[]] * 4, {"reviews": 4},
                              TEXTS, [0, 1, 2, 3], repr(config.aspects))
    job = background.BackgroundJob.start("aspect parse", [sys.executable, "-c", "pass"],
                                         tmp_path / "aspects" / "parse.log")
    given, usage = background.join_aspect_parse(job, tmp_path)
    assert given == path and usage.seconds > 0
    other = config_lib.resolve("demo", ["aspects.min_reviews=2", "aspects.polarity=vader"])
    with pytest.raises(parsed.ParsedMismatchError):  # parsed with other settings
        run_aspects(other.aspects, train, None, parsed=given)
    assert path.exists()  # a refused file stays, for the user to delete
    # an encrypted run, or aspects off, parses in its own process
    assert background.start_aspect_parse(config, tmp_path, encryption=object()) is None
    off = config_lib.resolve("demo", ["aspects.enabled=false"])
    assert background.start_aspect_parse(off, tmp_path) is None


def test_the_parse_log_says_the_file_was_removed_after_the_stage_read_it(tmp_path,
                                                                        monkeypatch):
    from tfrec_sentiment.pipeline import aspects as pipeline_aspects
    from tfrec_sentiment.pipeline.stages import StageTimer

    config, train = _run_folder(tmp_path)
    path = parsed.save_parsed(tmp_path / "aspects" / parsed.FILE, [[]] * 4, {"reviews": 4},
                              TEXTS, [0, 1, 2, 3], repr(config.aspects))
    log = tmp_path / "aspects" / "parse.log"
    # the child's last line, as `parsed.main` prints it
    code = f"print({parsed.written_line(path)!r})"
    job = background.BackgroundJob.start("aspect parse", [sys.executable, "-c", code], log)

    def stage(config, split, sentiment, run_dir, progress, encryption, given):
        assert given == path and given.exists()
        given.unlink()  # as run_aspects does once it has read the file
        return "run"

    monkeypatch.setattr(pipeline_aspects, "aspects_stage", stage)
    timer = StageTimer()
    assert pipeline_aspects.timed_aspects_stage(timer, config, Split(train, train, train),
                                                None, tmp_path, parse_job=job) == "run"
    lines = log.read_text().splitlines()
    assert lines[0].startswith(f"wrote {path}, a temporary file") and "deletes it" in lines[0]
    assert lines[-1].startswith(f"{parsed.FILE}: read by the aspects stage and removed")
    assert not path.exists() and "aspects" in timer.to_dict()["background"]
    # a file the stage did not remove (refused, kept for the user): no such line
    kept = parsed.save_parsed(path, [[]] * 4, {"reviews": 4}, TEXTS, [0, 1, 2, 3], "x")
    background.note_parse_removed(job, kept, stage_lib.RESULT_FILES)
    assert log.read_text().splitlines() == lines
