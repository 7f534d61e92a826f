"""The decoder's line splitter in-process: UTF-8, the BOM, CR/LF/CRLF and unfinished lines.

The decoder's own tests prove the whole against the spec; these pin the splitter's part.
"""

from __future__ import annotations

import pytest

from sse_cli.protocol.lines import MERGED_PIECE, LineSplitter


def split_all(*chunks: bytes) -> list[str]:
    splitter = LineSplitter()
    lines: list[str] = []
    for chunk in chunks:
        lines += splitter.split(chunk)
    return lines


def test_a_chunk_gives_its_complete_lines_and_keeps_the_rest() -> None:
    splitter = LineSplitter()
    assert splitter.split(b"a\nbb\ncc") == ["a", "bb"]
    assert (splitter.pending, splitter.pending_size) == (["cc"], 2)
    assert splitter.split(b"c\n") == ["ccc"]
    assert splitter.pending == [] and splitter.pending_size == 0


@pytest.mark.parametrize("ending", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending_ends_a_line(ending: bytes) -> None:
    assert split_all(b"a" + ending + b"b" + ending) == ["a", "b"]


def test_a_crlf_split_across_chunks_is_one_line_ending() -> None:
    assert split_all(b"a\r", b"\nb\r", b"\n") == ["a", "b"]
    assert split_all(b"a\r", b"\r") == ["a", ""]  # CR then CR: two line endings


def test_a_cr_ending_a_chunk_ends_its_line_at_once() -> None:
    assert LineSplitter().split(b"data: x\r") == ["data: x"]


def test_only_one_leading_bom_is_dropped_even_split_across_chunks() -> None:
    assert split_all(b"\xef\xbb", b"\xbfa\n") == ["a"]
    assert split_all(b"\xef\xbb\xbf\xef\xbb\xbfa\n") == ["\ufeffa"]
    assert split_all(b"a\n\xef\xbb\xbfb\n") == ["a", "\ufeffb"]


def test_a_character_split_across_chunks_is_decoded_once() -> None:
    assert split_all(b"\xe7", b"\xb3", b"\x95\n") == ["糕"]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert split_all(b"a\xffb\n") == ["a\ufffdb"]


def test_unicode_line_separators_are_not_line_endings() -> None:
    assert split_all("a\u2028b\x85c\x1cd\n".encode()) == ["a\u2028b\x85c\x1cd"]


def test_span_counts_the_unfinished_line_and_the_chunk() -> None:
    splitter = LineSplitter()
    splitter.split(b"abc")
    splitter.split(b"de\nf")
    assert splitter.span == 3 + 4


def test_small_pieces_of_a_long_line_are_merged() -> None:
    splitter = LineSplitter()
    for _ in range(1000):
        splitter.split(b"x")
    assert splitter.pending_size == 1000
    assert len(splitter.pending) <= 11  # pairwise merging keeps about log2(n) pieces
    assert all(len(piece) <= MERGED_PIECE for piece in splitter.pending)
    assert splitter.split(b"\n") == ["x" * 1000]


def test_close_reports_an_unfinished_line_or_character() -> None:
    splitter = LineSplitter()
    assert splitter.close() is False
    splitter.split(b"partial")
    assert splitter.close() is True and splitter.pending == []
    splitter = LineSplitter()
    splitter.split(b"\xe7\xb3")
    assert splitter.close() is True
