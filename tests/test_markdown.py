"""The reports' markdown pieces (tfrec_sentiment/markdown.py): counts take their noun's
number, and an embedded report nests under its section with one title per page."""

from __future__ import annotations

import re

import pytest

from tfrec_sentiment.markdown import count_table, counted, demoted, embedded


@pytest.mark.parametrize("n", [0, 1, 2, 1234])
def test_a_count_is_singular_for_one_only(n):
    text = counted(n, "row")
    assert text == f"{n:,} row" + ("" if n == 1 else "s")
    assert counted(n, "query", "queries").endswith("query" if n == 1 else "queries")


def test_the_count_table_lists_each_count_and_their_total():
    sizes = {"train": 64150, "validation": 7987, "test": 7991, "cold": 0}
    lines = count_table(("part", "rows"), sizes).splitlines()
    assert lines[0] == "| part | rows |" and len(lines) == 2 + len(sizes) + 1
    for line, (name, n) in zip(lines[2:], sizes.items()):
        assert line == f"| {name} | {n:,} |"
    assert lines[-1] == f"| total | {sum(sizes.values()):,} |"
    assert "total" not in count_table(("part", "rows"), sizes, total=None)


def test_headings_move_down_and_code_stays():
    text = "# T\n\nx\n\n```\n# not a heading\n```\n\n### Deep\n#hashtag"
    lines = demoted(text, 2).splitlines()
    assert lines[0] == "### T" and "##### Deep" in lines
    assert "# not a heading" in lines and "#hashtag" in lines  # code and non-headings kept
    assert demoted(text, 0) == text


def test_an_embedded_report_has_the_sections_title_and_nests_below_it():
    report = ("# Sentiment evaluation\n\nIntro.\n\n## All users\n\n| a |\n\n"
              "### A slice\n\nText.\n")
    section = embedded("Sentiment", report)
    levels = [len(m.group(1)) for m in re.finditer(r"^(#+) ", section, re.MULTILINE)]
    assert section.startswith("## Sentiment\n\nIntro.") and levels == [2, 3, 4]
    assert "Sentiment evaluation" not in section  # its own title gives way to the section's
    # a text without a `# ` title keeps its first line; an empty one is the heading alone
    assert embedded("Learned score", "Weights\n\n| b |").startswith("## Learned score\n\nWeights")
    assert embedded("Aspects", "# Aspects\n") == "## Aspects"
