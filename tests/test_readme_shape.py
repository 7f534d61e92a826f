"""The README renders and pastes as written (issue 27, points 7 and 14): every table is one
block of rows, and every URL with a `?` in a shell example is quoted (zsh treats an unquoted
`?` as a glob and refuses the command when nothing matches)."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.S)


def test_every_table_row_belongs_to_a_table() -> None:
    """A row after a paragraph renders as text: each block of rows starts with a head and
    its `| --- |` line."""
    lines = README.split("\n")
    heads = [
        i
        for i, line in enumerate(lines)
        if line.startswith("|") and i and not lines[i - 1].startswith("|")
    ]
    stray = [lines[i] for i in heads if not re.fullmatch(r"\|[- |:]+\|", lines[i + 1])]
    assert stray == []


def test_every_url_with_a_query_is_quoted_in_shell_examples() -> None:
    words = [word for block in SHELL_BLOCKS for word in block.split()]
    urls = [w for w in words if "?" in w and ("://" in w or re.match(r"['\"]?:\d+/", w))]
    assert urls, "the check must see the README's URLs"
    assert [w for w in urls if w[0] not in "'\""] == []
