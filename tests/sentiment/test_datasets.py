"""SST tree parsing and UCI sentence files, on written files and on the real ones."""

from __future__ import annotations

import numpy as np
import pytest

from tfrec_sentiment.sentiment.datasets import (
    DatasetError,
    count_trees,
    parse_tree_line,
    parse_tree_phrases,
    read_sst,
    read_uci,
    read_uci_folder,
)

TREES = """(4 (2 (2 The) (2 film)) (4 (2 is) (4 great)) (2 .))
(2 (2 It) (2 (2 exists) (2 .)))
(0 (2 -LRB-) (0 (1 Awful) (2 n't) (2 -RRB-)))
"""


def test_tree_root_label_and_detokenized_sentence():
    assert parse_tree_line("(3 (2 It) (4 (2 's) (3 (2 a) (3 gem))))") == (3, "It's a gem")
    assert parse_tree_line("(1 (2 -LRB-) (2 so) (2 -RRB-) (2 ,) (1 bad))") == (1, "(so), bad")
    with pytest.raises(ValueError):
        parse_tree_line("(3 (2 unbalanced)")


def test_sst2_drops_neutral_roots(tmp_path):
    path = tmp_path / "dev.txt"
    path.write_text(TREES)
    binary = read_sst(path)
    assert binary.texts == ["The film is great.", "(Awfuln't)"]
    assert binary.labels.tolist() == [2, 0] and binary.binary
    three = read_sst(path, binary=False)
    assert three.labels.tolist() == [2, 1, 0]


def test_every_node_is_a_phrase_and_whole_trees_can_be_held_out(tmp_path):
    phrases = parse_tree_phrases("(3 (2 It) (4 (2 's) (4 great)))")
    assert phrases == [(3, "It's great"), (2, "It"), (4, "'s great"), (2, "'s"), (4, "great")]
    path = tmp_path / "train.txt"
    path.write_text(TREES)
    assert count_trees(path) == 3
    first_two = read_sst(path, phrases=True, trees=slice(0, 2))
    # Neutral phrases dropped, repeats ("." twice) kept once, third tree not read.
    assert first_two.texts == ["The film is great.", "is great", "great"]
    assert first_two.labels.tolist() == [2, 2, 2]
    assert read_sst(path, trees=slice(2, None)).texts == ["(Awfuln't)"]


def test_malformed_tree_names_file_and_line(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(TREES + "(3 (2 broken\n")
    with pytest.raises(DatasetError, match=r"train.txt:4"):
        read_sst(path)


def test_uci_lines_split_on_newline_only(tmp_path):
    path = tmp_path / "imdb_labelled.txt"
    path.write_bytes("Loved it\u0085 really.\t1\nBoring.  \t0\n\n".encode())
    data = read_uci(path)
    assert data.texts == ["Loved it\u0085 really.", "Boring."]
    assert data.labels.tolist() == [2, 0]
    path.write_text("no tab here\n")
    with pytest.raises(DatasetError, match="imdb_labelled.txt:1"):
        read_uci(path)


@pytest.mark.real_data
def test_real_files_have_the_documented_sizes(shared_data):
    folder = shared_data / "sentiment"
    dev = read_sst(folder / "sst" / "dev.txt")
    assert len(dev) == 872  # SST-2 dev (1,101 trees minus neutral roots)
    uci = read_uci_folder(folder / "uci_labelled_sentences")
    assert len(uci) == 3000 and np.bincount(uci.labels).tolist() == [1500, 0, 1500]


def test_newest_keeps_the_tail_in_order():
    from tfrec_sentiment.sentiment.datasets import LabelledTexts

    data = LabelledTexts("t", ["a", "b", "c", "d"], np.array([0, 1, 2, 0]), binary=False)
    newest = data.newest(2)
    assert newest.texts == ["c", "d"]
    assert newest.labels.tolist() == [2, 0]
    assert data.newest(None) is data and data.newest(10) is data
