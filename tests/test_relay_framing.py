"""The relay's line framing (serve --exec, --stdin, --exec-per-client): bytes in, lines out;
and how --stdin reads the stream it is handed."""

from __future__ import annotations

import asyncio
import io

from hypothesis import given
from hypothesis import strategies as st
from support.cli import WAIT

from sse_cli.serve.children import READ_SIZE, pump
from sse_cli.serve.framing import LineFramer, split_long
from sse_cli.serve.relay import ThreadedStdin


def lines_of(chunks: list[bytes], limit: int = 1 << 20) -> list[str]:
    framer = LineFramer(limit)
    lines: list[str] = []
    for chunk in chunks:
        lines += framer.feed(chunk)
    return lines + framer.close()


def test_lf_and_crlf_end_lines() -> None:
    assert lines_of([b"one\ntwo\r\nthree\n"]) == ["one", "two", "three"]


def test_bare_cr_ends_a_line_at_once() -> None:
    framer = LineFramer()
    assert framer.feed(b"10%\r20%\r") == ["10%", "20%"]
    assert framer.partial == ""


def test_crlf_split_between_chunks_ends_one_line() -> None:
    assert lines_of([b"one\r", b"\ntwo\n"]) == ["one", "two"]


def test_cr_then_blank_line_keeps_the_blank_line() -> None:
    assert lines_of([b"a\r\r\n"]) == ["a", ""]


def test_empty_lines_are_lines() -> None:
    assert lines_of([b"\n\nx\n"]) == ["", "", "x"]


def test_utf8_split_across_chunks_decodes_once() -> None:
    raw = "héllo ✓\n".encode()
    assert lines_of([raw[:2], raw[2:8], raw[8:]]) == ["héllo ✓"]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert lines_of([b"a\xffb\n"]) == ["a\ufffdb"]


def test_unfinished_character_at_end_of_input_is_replaced() -> None:
    assert lines_of([b"ok\xe2\x9c"]) == ["ok\ufffd"]


def test_line_separator_characters_do_not_end_lines() -> None:
    assert lines_of(["a\u2028b\x85c\x1cd\n".encode()]) == ["a\u2028b\x85c\x1cd"]


def test_partial_line_waits_and_flush_sends_it_as_it_stands() -> None:
    framer = LineFramer()
    assert framer.feed(b"Downloading", now=5.0) == []
    assert framer.due(0.2) == 5.2
    assert framer.feed(b"...", now=5.1) == []
    assert framer.due(0.2) == 5.2  # the wait counts from when the partial began
    assert framer.flush() == ["Downloading..."]
    assert framer.due(0.2) is None
    assert framer.feed(b" done\n", now=6.0) == [" done"]


def test_partial_after_a_complete_line_starts_its_own_wait() -> None:
    framer = LineFramer()
    assert framer.feed(b"one\ntw", now=1.0) == ["one"]
    assert framer.due(0.2) == 1.2
    assert framer.feed(b"o\n", now=1.1) == ["two"]
    assert framer.due(0.2) is None


def test_long_line_is_split_at_the_limit_between_characters() -> None:
    line = "é" * 10  # 20 bytes
    pieces = lines_of([line.encode() + b"\n"], limit=7)
    assert pieces == ["ééé", "ééé", "ééé", "é"]
    assert all(len(p.encode()) <= 7 for p in pieces)


def test_long_partial_line_is_not_held_whole() -> None:
    framer = LineFramer(limit=8)
    assert framer.feed(b"x" * 20) == ["x" * 8, "x" * 8]
    assert framer.partial == "x" * 4


def test_split_long_keeps_short_lines_whole() -> None:
    assert split_long("short", 100) == ["short"]
    assert split_long("ab✓", 5) == ["ab✓"]


@given(
    st.lists(st.sampled_from(["a", "é", "✓", "\n", "\r", "\r\n", "😀", " "]), max_size=40),
    st.data(),
)
def test_any_split_of_the_bytes_gives_the_same_lines(
    pieces: list[str], data: st.DataObject
) -> None:
    raw = "".join(pieces).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    text = "".join(pieces).replace("\r\n", "\n").replace("\r", "\n")
    expected = text.split("\n")
    if expected[-1] == "":
        expected.pop()
    assert lines_of(chunks) == expected


def test_a_slow_emit_does_not_cut_a_line_whose_rest_is_already_there() -> None:
    """Time spent handing lines on is not time the source was silent: the rest of a line
    that is already waiting to be read joins it, however long the emit took."""

    class Source:
        def __init__(self, *chunks: bytes) -> None:
            self.chunks = list(chunks)

        async def read(self, n: int) -> bytes:
            return self.chunks.pop(0) if self.chunks else b""

    async def main() -> list[list[str]]:
        emitted: list[list[str]] = []

        async def slow_emit(lines: list[str]) -> None:
            emitted.append(lines)
            await asyncio.sleep(0.3)  # longer than flush_after: a busy publisher

        source = Source(b"line 1\nline 2\npar", b"tial\n")
        await pump(source, LineFramer(1000), 0.2, slow_emit)
        return emitted

    assert asyncio.run(main()) == [["line 1", "line 2"], ["partial"]]


def test_a_partial_line_is_flushed_once_the_source_is_silent() -> None:
    class Source:
        def __init__(self) -> None:
            self.calls = 0

        async def read(self, n: int) -> bytes:
            self.calls += 1
            if self.calls == 1:
                return b"50%"
            if self.calls == 2:
                await asyncio.sleep(0.3)  # silent for longer than flush_after
                return b" done\n"
            return b""

    async def main() -> list[list[str]]:
        emitted: list[list[str]] = []

        async def emit(lines: list[str]) -> None:
            emitted.append(lines)

        await pump(Source(), LineFramer(1000), 0.1, emit)
        return emitted

    assert asyncio.run(main()) == [["50%"], [" done"]]


def test_standard_input_without_a_file_descriptor_is_read_to_its_end() -> None:
    """--stdin reads the stream it is handed: os.read on its descriptor where it has one (a
    pipe, the terminal), else its own reads (an in-memory stream has no descriptor)."""
    text = b"".join(b"line %d\n" % i for i in range(20000))  # several reads of READ_SIZE

    async def main() -> bytes:
        source = ThreadedStdin(io.BytesIO(text))
        chunks = [await asyncio.wait_for(source.read(READ_SIZE), WAIT)]
        while chunks[-1]:
            chunks.append(await asyncio.wait_for(source.read(READ_SIZE), WAIT))
        return b"".join(chunks)

    assert asyncio.run(main()) == text
