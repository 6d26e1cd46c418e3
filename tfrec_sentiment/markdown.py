"""Small pieces the markdown reports share: a count with its noun, a table of counts, and
one report's headings moved down to embed it as a section of another.

The run's `report.md` (`pipeline/train.py`) is made of the stages' own reports, each with
its own `# ` title; `embedded` turns each into a `## ` section of the run's report, its
headings one level lower, so the page has one `# ` title and every heading below it
nests.

Example:

>>> counted(1, "row"), counted(7_991, "row"), counted(1, "query", "queries")
('1 row', '7,991 rows', '1 query')
>>> print(embedded("Sentiment", "# Sentiment evaluation\\n\\nTable\\n\\n## Detail\\n\\nMore"))
## Sentiment
<BLANKLINE>
Table
<BLANKLINE>
### Detail
<BLANKLINE>
More
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_HEADING = re.compile(r"^(#{1,6}) ")
_FENCE = re.compile(r"^(```|~~~)")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` with thousands separators and `noun`, in the plural unless `n` is 1.

    Args:
        n: the count.
        noun: the singular ("row").
        plural: the plural where it is not `noun` + "s" ("queries").
    """
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def count_table(header: tuple[str, str], counts: Mapping[str, int],
                total: str | None = "total") -> str:
    """A two-column markdown table of `counts` (name -> count, thousands separated),
    with a last row `total` (None: no such row).

    >>> print(count_table(("part", "rows"), {"train": 64150, "test": 7991}))
    | part | rows |
    |---|---:|
    | train | 64,150 |
    | test | 7,991 |
    | total | 72,141 |
    """
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {name} | {count:,} |" for name, count in counts.items()]
    if total is not None:
        lines.append(f"| {total} | {sum(counts.values()):,} |")
    return "\n".join(lines)


def demoted(text: str, levels: int = 1) -> str:
    """`text` with each markdown heading `levels` levels lower (`## ` -> `### ` for 1);
    fenced code is left as it is.

    >>> demoted("# Title\\n\\n```\\n# a comment\\n```\\n## Part")
    '## Title\\n\\n```\\n# a comment\\n```\\n### Part'
    """
    out, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and _HEADING.match(line):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out)


def embedded(title: str, text: str, level: int = 2) -> str:
    """`text`, a markdown report, as the section `title` (a heading of `level` #s) of
    another report: its own `# ` title line, if it starts with one, is dropped, and its
    headings move `level - 1` levels down (`demoted`: `## ` -> `### ` under a `## `
    section), so they nest under the section.
    """
    lines = text.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    body = demoted("\n".join(lines), level - 1).strip()
    return f"{'#' * level} {title}" + (f"\n\n{body}" if body else "")
