"""tools/eval_aspects.py: bad arguments exit 2 with one line; a small set prints the table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tools"))

import eval_aspects  # noqa: E402

SENTENCES = """<?xml version="1.0"?><sentences>
<sentence id="1"><text>The screen is bright.</text><aspectTerms>
<aspectTerm term="screen" polarity="positive" from="4" to="10"/></aspectTerms></sentence>
<sentence id="2"><text>The screen died.</text><aspectTerms>
<aspectTerm term="screen" polarity="negative" from="4" to="10"/></aspectTerms></sentence>
</sentences>"""


@pytest.mark.parametrize("argv, message", [
    (["--sets", "phones"], "unknown set or context ['phones']"),
    (["--contexts", "review"], "unknown set or context ['review']"),
    (["--set", "size=0"], "size=0: must be >= 1"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path):
    assert eval_aspects.main(["--data", str(tmp_path), *argv]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_missing_file_is_named(tmp_path, capsys):
    assert eval_aspects.main(["--data", str(tmp_path), "--sets", "laptops"]) == 2
    assert "Laptop_Train_v2.xml not found" in capsys.readouterr().err


def test_a_small_set_prints_the_table_and_writes_json(tmp_path, capsys, spacy_pipeline):
    (tmp_path / "Laptop_Train_v2.xml").write_text(SENTENCES)
    out = tmp_path / "results.json"
    code = eval_aspects.main(["--data", str(tmp_path), "--sets", "laptops", "--quiet",
                              "--set", "min_reviews=1", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| laptops | aspects (size 100) | 1.000 | 1.000 | 1.000 | 2 | 2 |" in printed
    assert "| laptops | vader | sentence | 2 |" in printed
    saved = json.loads(out.read_text())
    assert saved["results"]["laptops"]["vocabulary"]["aspects"] == ["screen"]
