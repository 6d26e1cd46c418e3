"""Labelled sentiment sets for evaluation: SST (PTB trees) and the UCI sentences.

Both are returned as a `LabelledTexts` (texts + class ids in LABELS numbering, so
negative = 0, neutral = 1, positive = 2).

- SST: one PTB tree per line, `(3 (2 It) (4 (4 (2 's) ...)))`; the root's label is
  0-4. Fine-grained: 0-1 negative, 2 neutral, 3-4 positive. SST-2 (binary) drops
  the 2s. Leaves are joined back into a sentence (PTB escapes such as -LRB- undone).
- UCI labelled sentences (Kotzias et al. 2015): `sentence<TAB>0|1` per line, 0 =
  negative. Lines end in LF only: the IMDb file holds NEL (U+0085) characters inside
  sentences, which `str.splitlines` would wrongly treat as line breaks.

Example:

>>> parse_tree_line("(3 (2 It) (4 (2 's) (4 great)))")
(3, "It's great")
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from tfrec_sentiment.sentiment.config import SST3, SST3_PHRASES
from tfrec_sentiment.sentiment.labels import NEGATIVE, NEUTRAL, POSITIVE

SST2 = "sst2"
SST2_PHRASES = "sst2-phrases"
# Three classes (SST fine-grained 0-1 / 2 / 3-4; SST3, SST3_PHRASES from config.py, the
# first stage's names): short texts with a neutral class, what the aspect-level polarity
# reads (a clause per mention, tfrec_sentiment.aspects).
SST_DATASETS = (SST2, SST2_PHRASES, SST3, SST3_PHRASES)
SST_VALIDATION_SHARE = 0.1

_LEAF = re.compile(r"\((\d+) ([^()\s]+)\)")
_ROOT = re.compile(r"^\((\d+)\s")
_PTB_ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]",
                "-LCB-": "{", "-RCB-": "}", "``": '"', "''": '"'}
_NO_SPACE_BEFORE = re.compile(r" (?=(?:[.,!?;:%)\]}]|'s|'re|'ve|'d|'ll|'m|n't)(?:\s|$))",
                              re.IGNORECASE)


class DatasetError(ValueError):
    """A labelled-sentiment file has a malformed line (named with file and line)."""


@dataclasses.dataclass
class LabelledTexts:
    """Texts with class ids (LABELS numbering) and the classes the set can hold."""

    name: str
    texts: list[str]
    labels: np.ndarray
    binary: bool

    def __len__(self) -> int:
        return len(self.texts)

    def newest(self, limit: int | None) -> LabelledTexts:
        """The last `limit` rows (all if None): for a table in time order, the newest,
        which are closest to what the model scores later."""
        if limit is None or len(self) <= limit:
            return self
        return LabelledTexts(self.name, self.texts[-limit:], self.labels[-limit:], self.binary)


def parse_tree_line(line: str) -> tuple[int, str]:
    """Root label (0-4) and detokenized sentence of one PTB-style SST tree.

    Raises:
        ValueError: the line is not a balanced tree with a numeric root label.
    """
    line = line.strip()
    root = _ROOT.match(line)
    if not root or line.count("(") != line.count(")") or not line.endswith(")"):
        raise ValueError("not a balanced PTB tree with a numeric root label")
    words = [_PTB_ESCAPES.get(word, word) for _, word in _LEAF.findall(line)]
    if not words:
        raise ValueError("tree has no leaves")
    return int(root.group(1)), detokenize(words)


def parse_tree_phrases(line: str) -> list[tuple[int, str]]:
    """(label, detokenized phrase) of every node of one SST tree, root first.

    GLUE's SST-2 training set is these phrases (all nodes of the train trees, neutral
    ones dropped, duplicates merged): 67k examples instead of 6.9k sentences.

    Raises:
        ValueError: the line is not a well-formed tree.
    """
    stack: list[tuple[int, list[str]]] = []
    nodes: list[tuple[int, list[str]]] = []
    tokens = re.findall(r"\(|\)|[^\s()]+", line)
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if token == "(":
            if position + 1 >= len(tokens) or not tokens[position + 1].isdigit():
                raise ValueError("a node without a numeric label")
            node = (int(tokens[position + 1]), [])
            nodes.append(node)
            stack.append(node)
            position += 2
            continue
        if token == ")":
            if not stack:
                raise ValueError("unbalanced parentheses")
            _, words = stack.pop()
            if stack:
                stack[-1][1].extend(words)
        elif stack:
            stack[-1][1].append(_PTB_ESCAPES.get(token, token))
        else:
            raise ValueError("a word outside any node")
        position += 1
    if stack or not nodes:
        raise ValueError("unbalanced parentheses")
    return [(label, detokenize(words)) for label, words in nodes if words]


def detokenize(words: list[str]) -> str:
    """Joins PTB tokens into text: no space before punctuation and clitics ('s, n't)."""
    text = " ".join(words)
    text = _NO_SPACE_BEFORE.sub("", text)
    return text.replace("( ", "(")


def read_sst(path: str | Path, binary: bool = True, phrases: bool = False,
             trees: slice = slice(None)) -> LabelledTexts:
    """Reads an SST split (`train.txt`, `dev.txt`, `test.txt`).

    Args:
        path: the PTB-tree file.
        binary: SST-2: drop label 2, map 0-1 -> negative, 3-4 -> positive.
            Otherwise 3 classes (0-1 negative, 2 neutral, 3-4 positive).
        phrases: every node of every tree, not only the roots (GLUE's SST-2 train
            set); a phrase met twice is kept once, with its first label.
        trees: which trees (non-empty lines) to read, e.g. `slice(0, 6000)`; holding
            out whole trees keeps a held-out sentence's phrases out of training.

    Raises:
        DatasetError: naming the file and line of a malformed tree.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        numbered = [(n, line) for n, line in enumerate(handle, start=1) if line.strip()]
    texts, labels, seen = [], [], set()
    for number, line in numbered[trees]:
        try:
            found = parse_tree_phrases(line) if phrases else [parse_tree_line(line)]
        except ValueError as error:
            raise DatasetError(f"{path}:{number}: {error}") from None
        for label, text in found:
            if label > 4:
                raise DatasetError(f"{path}:{number}: label {label} is not 0-4")
            if (binary and label == 2) or (phrases and text in seen):
                continue
            seen.add(text)
            texts.append(text)
            labels.append(NEGATIVE if label <= 1 else NEUTRAL if label == 2 else POSITIVE)
    name = f"sst{'2' if binary else '5→3'}-{path.stem}{'-phrases' if phrases else ''}"
    return LabelledTexts(name, texts, np.array(labels, np.int32), binary)


def sst_training_data(dataset: str, path: str | Path) -> tuple[LabelledTexts, LabelledTexts]:
    """(train, held-out) of an SST training file for fine-tuning on `dataset`.

    The last `SST_VALIDATION_SHARE` of the trees are held out whole (so no phrase of a
    held-out sentence is trained on), as sentences, named "<sst2|sst3>-train-heldout".

    Args:
        dataset: one of SST_DATASETS ("-phrases": every phrase of the training trees).
        path: the SST `train.txt` (one PTB tree per line).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `dataset` is not an SST data set.
    """
    if dataset not in SST_DATASETS:
        raise ValueError(f"{dataset!r} is not one of {', '.join(SST_DATASETS)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SST train.txt not found at {path}")
    cut = int(round(count_trees(path) * (1 - SST_VALIDATION_SHARE)))
    binary = dataset in (SST2, SST2_PHRASES)
    train = read_sst(path, binary=binary, phrases=dataset.endswith("-phrases"),
                     trees=slice(0, cut))
    validation = read_sst(path, binary=binary, trees=slice(cut, None))
    validation.name = f"{dataset.split('-')[0]}-train-heldout"
    return train, validation


def count_trees(path: str | Path) -> int:
    """Number of trees (non-empty lines) in an SST file."""
    with Path(path).open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def read_uci(path: str | Path) -> LabelledTexts:
    """Reads one UCI `*_labelled.txt` file: `sentence<TAB>0|1` per line.

    Raises:
        DatasetError: naming the file and line without a tab or with a label not 0/1.
    """
    path = Path(path)
    texts, labels = [], []
    raw = path.read_text(encoding="utf-8")
    for number, line in enumerate(raw.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        sentence, tab, label = line.rpartition("\t")
        if not tab or label.strip() not in ("0", "1"):
            raise DatasetError(f"{path}:{number}: expected 'sentence<TAB>0|1', got {line[:60]!r}")
        texts.append(sentence.strip())
        labels.append(POSITIVE if label.strip() == "1" else NEGATIVE)
    name = "uci-" + path.stem.replace("_labelled", "")
    return LabelledTexts(name, texts, np.array(labels, np.int32), True)


def read_uci_folder(folder: str | Path) -> LabelledTexts:
    """All `*_labelled.txt` files of the UCI folder as one set (3,000 sentences)."""
    parts = [read_uci(path) for path in sorted(Path(folder).glob("*_labelled.txt"))]
    if not parts:
        raise DatasetError(f"{folder} has no *_labelled.txt files")
    return LabelledTexts(
        "uci-sentences", [t for p in parts for t in p.texts],
        np.concatenate([p.labels for p in parts]), True,
    )
