"""Property tests for `sse_cli.protocol.decoder`: the chunking of the bytes never changes
what comes out.

(a) every split of every shared sample gives its `*.expected.ndjson`;
(b) generated streams, serialised with random line ends, give back the events they were built
    from, however they are chunked;
(c) arbitrary bytes never raise, and give the same items in every chunking as in one feed.

The example counts come from the Hypothesis profile (tests/conftest.py): "ci", the default,
is derandomized, so every run checks the same examples in bounded time; run
`pytest --hypothesis-profile=long` for many more.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.twins import speedups, using

from sse_cli.errors import EventTooLargeError
from sse_cli.protocol import decoder as core
from sse_cli.protocol.decoder import (
    DEFAULT_MAX_EVENT_SIZE,
    MAX_RETRY,
    Comment,
    Decoder,
    Diagnostic,
    Event,
    Item,
)

#: The property suite runs on the twin a user gets (the C one, which CI always builds; the
#: Python one where it was not built); `test_the_c_twin_decodes_as_the_python_twin` holds
#: the other to it on random streams in random chunkings, and test_parser.py runs every rule
#: on both.
#: Coverage is not measured here (no_cover): these tests run the decoders over thousands of
#: generated streams, three times slower under the tracer, and reach no line that
#: test_parser.py's one-rule tests do not.
pytestmark = [pytest.mark.usefixtures("built_twin"), pytest.mark.no_cover]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

PROPERTY_SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow])


def _sample_names() -> list[str]:
    """The samples' stems. Nothing missing is skipped: it fails the collection, loudly."""
    names = sorted(path.name.removesuffix(".sse") for path in SAMPLES_DIR.glob("*.sse"))
    if not names:
        raise FileNotFoundError(f"no *.sse samples in {SAMPLES_DIR}")
    for name in names:
        expected = SAMPLES_DIR / f"{name}.expected.ndjson"
        if not expected.is_file():
            raise FileNotFoundError(f"{expected} is missing")
    return names


SAMPLE_NAMES = _sample_names()


@dataclass(frozen=True)
class Sample:
    body: bytes
    expected: list[dict[str, Any]]


def load_sample(name: str) -> Sample:
    body = (SAMPLES_DIR / f"{name}.sse").read_bytes()
    lines = (SAMPLES_DIR / f"{name}.expected.ndjson").read_text(encoding="utf-8").splitlines()
    return Sample(body, [json.loads(line) for line in lines if line])


def as_expected(event: Event) -> dict[str, Any]:
    """An event as a line of `*.expected.ndjson`: "retry" only when the block set one."""
    fields = event._asdict()
    if fields["retry"] is None:
        del fields["retry"]
    return fields


@dataclass(frozen=True)
class Outcome:
    """Everything a decoder tells its caller about one stream."""

    items: list[Item]
    closing: list[Diagnostic]
    last_event_id: str
    retry: int | None


def run(
    chunks: Iterable[bytes], max_event_size: int | None = None, blocks: bool = False
) -> Outcome:
    decoder = Decoder(max_event_size=max_event_size or DEFAULT_MAX_EVENT_SIZE, blocks=blocks)
    items: list[Item] = []
    for chunk in chunks:
        items.extend(decoder.feed(chunk))
    closing = decoder.close()
    return Outcome(items, closing, decoder.last_event_id, decoder.retry)


def split_at(body: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *cuts, len(body)]
    return [body[start:end] for start, end in pairwise(bounds)]


def typed(items: Iterable[Item]) -> list[tuple[str, Item]]:
    """Items tagged with their class: NamedTuples of equal fields compare equal across classes."""
    return [(type(item).__name__, item) for item in items]


def cut_offsets(length: int) -> st.SearchStrategy[list[int]]:
    """A sorted set of offsets in [0, length]; 0 and `length` give empty first or last chunks."""
    return st.sets(st.integers(0, length)).map(sorted)


# (a) The shared samples


@pytest.mark.parametrize("name", SAMPLE_NAMES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_sample_gives_its_expected_events_in_any_chunking(name: str, data: st.DataObject) -> None:
    sample = load_sample(name)
    cuts = data.draw(cut_offsets(len(sample.body)), label="cuts")
    outcome = run(split_at(sample.body, cuts))
    assert [as_expected(item) for item in outcome.items if isinstance(item, Event)] == (
        sample.expected
    )
    assert typed(outcome.items) == typed(run([sample.body]).items)
    assert outcome.closing == []


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_gives_its_expected_events_split_at_every_offset(name: str) -> None:
    sample = load_sample(name)
    whole = run([sample.body])
    assert [as_expected(item) for item in whole.items if isinstance(item, Event)] == (
        sample.expected
    )
    for cut in range(len(sample.body) + 1):
        outcome = run(split_at(sample.body, [cut]))
        assert typed(outcome.items) == typed(whole.items), f"split at byte {cut}"
        assert outcome == whole, f"split at byte {cut}"


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_gives_its_expected_events_one_byte_at_a_time(name: str) -> None:
    sample = load_sample(name)
    outcome = run(sample.body[i : i + 1] for i in range(len(sample.body)))
    assert [as_expected(item) for item in outcome.items if isinstance(item, Event)] == (
        sample.expected
    )
    assert outcome == run([sample.body])


# (b) Generated streams against a model


def _text_without_line_ends(*, exclude: str = "") -> st.SearchStrategy[str]:
    """Any encodable text (non-BMP, U+2028, U+0085, \\x1c included) without CR or LF."""
    special = st.sampled_from(["\u2028", "\u2029", "\u0085", "\x1c", "\ufeff", ":", " ", "😀"])
    character = st.one_of(
        st.characters(exclude_categories=["Cs"], exclude_characters="\r\n" + exclude),
        special.filter(lambda c: c not in exclude),
    )
    return st.lists(character, max_size=12).map("".join)


@dataclass(frozen=True)
class Block:
    """One block of fields ended by a blank line (or by the end of the stream, if last)."""

    event: str | None
    data: list[str]
    id: str | None
    retry: int | None
    comments: list[str]
    order: list[str]
    """The kinds of the block's lines in wire order: "data", "event", "id", "retry", "comment"."""


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    event = draw(st.none() | _text_without_line_ends())
    data = draw(st.lists(_text_without_line_ends(), max_size=3))
    id_ = draw(st.none() | _text_without_line_ends(exclude="\0"))
    retry = draw(st.none() | st.integers(0, 10**12))
    comments = draw(st.lists(_text_without_line_ends(), max_size=2))
    kinds = ["data"] * len(data) + ["comment"] * len(comments)
    kinds += [
        kind
        for kind, value in (("event", event), ("id", id_), ("retry", retry))
        if value is not None
    ]
    order = draw(st.permutations(kinds))
    return Block(event, data, id_, retry, comments, list(order))


def block_lines(block: Block) -> list[str]:
    data, comments = iter(block.data), iter(block.comments)
    lines: list[str] = []
    for kind in block.order:
        if kind == "data":
            lines.append(f"data: {next(data)}")
        elif kind == "comment":
            lines.append(f":{next(comments)}")
        else:
            lines.append(f"{kind}: {getattr(block, kind)}")
    return lines


def model(blocks_: Sequence[Block], *, last_block_complete: bool) -> Outcome:
    """What a spec-exact decoder gives for the blocks, from the spec's rules alone."""
    items: list[Item] = []
    last_event_id = ""
    retry: int | None = None
    closing: list[Diagnostic] = []
    for index, block in enumerate(blocks_):
        complete = last_block_complete or index < len(blocks_) - 1
        items.extend(Comment(text) for text in block.comments)
        if block.retry is not None:
            retry = block.retry
        if not complete:
            if block.data:
                closing = [Diagnostic("incomplete-event", "")]
            break
        if block.id is not None:
            last_event_id = block.id
        if block.data:
            items.append(
                Event(
                    block.event or "message",
                    "\n".join(block.data),
                    last_event_id or None,
                    block.retry,
                )
            )
    return Outcome(items, closing, last_event_id, retry)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, Outcome]:
    """A serialised stream with a random line end per line, and its model outcome."""
    drawn = draw(st.lists(blocks(), max_size=6))
    last_block_complete = draw(st.booleans())
    lines: list[str] = []
    for index, block in enumerate(drawn):
        lines += block_lines(block)
        if last_block_complete or index < len(drawn) - 1:
            lines.append("")
    body: list[str] = []
    previous = ""
    for line in lines:
        eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        if previous == "\r" and line == "" and eol == "\n":
            eol = "\r\n"  # "\r" then "\n" would be one CRLF line end, not two line ends.
        body.append(line + eol)
        previous = eol
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + "".join(body).encode(), model(drawn, last_block_complete=last_block_complete)


def without_messages(outcome: Outcome) -> Outcome:
    """The outcome with diagnostic messages blanked: the model predicts codes, not wording."""
    return Outcome(
        outcome.items,
        [Diagnostic(d.code, "") for d in outcome.closing],
        outcome.last_event_id,
        outcome.retry,
    )


@settings(PROPERTY_SETTINGS, max_examples=2 * settings().max_examples)
@given(stream=streams(), data=st.data())
def test_generated_stream_decodes_to_its_model_in_any_chunking(
    stream: tuple[bytes, Outcome], data: st.DataObject
) -> None:
    body, expected = stream
    whole = without_messages(run([body]))
    assert typed(whole.items) == typed(expected.items)
    assert whole == expected
    cuts = data.draw(cut_offsets(len(body)), label="cuts")
    chunked = without_messages(run(split_at(body, cuts)))
    assert typed(chunked.items) == typed(whole.items)
    assert chunked == whole


# (c) Arbitrary bytes

SSE_TOKENS = [
    b"data",
    b"id",
    b"event",
    b"retry",
    b":",
    b" ",
    b"\r",
    b"\n",
    b"\r\n",
    b"5",
    b"x",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xe2\x82",
    b"\xac",
    b"\xf0\x9f\x98",
    b"\x80",
    b"\xff",
    "\u2028".encode(),
]

arbitrary_bodies = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(SSE_TOKENS), max_size=80).map(b"".join),
)


@PROPERTY_SETTINGS
@given(body=arbitrary_bodies, data=st.data())
def test_arbitrary_bytes_give_the_same_items_in_any_chunking(
    body: bytes, data: st.DataObject
) -> None:
    # A bound far above the input's size: nothing here may raise at all.
    whole = run([body], max_event_size=1 << 20)
    cuts = data.draw(cut_offsets(len(body)), label="cuts")
    chunked = run(split_at(body, cuts), max_event_size=1 << 20)
    assert typed(chunked.items) == typed(whole.items)
    assert chunked == whole


@PROPERTY_SETTINGS
@given(body=arbitrary_bodies)
def test_arbitrary_bytes_one_byte_at_a_time_give_the_same_items(body: bytes) -> None:
    whole = run([body], max_event_size=1 << 20)
    assert run((body[i : i + 1] for i in range(len(body))), max_event_size=1 << 20) == whole


# (d) Fuzzing: mutated samples, floods, and the size bound


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A shared sample after a few random byte-level mutations (AFL's favourite kinds)."""
    body = bytearray(SAMPLE_BODIES[draw(st.sampled_from(SAMPLE_NAMES), label="sample")])
    for _ in range(draw(st.integers(1, 8), label="mutations")):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "splice", "truncate"]))
        at = draw(st.integers(0, len(body)))
        if op == "flip" and at < len(body):
            body[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            body[at:at] = draw(st.sampled_from(SSE_TOKENS) | st.binary(max_size=8))
        elif op == "delete":
            del body[at : at + draw(st.integers(1, 16))]
        elif op == "duplicate":
            end = min(len(body), at + draw(st.integers(1, 64)))
            body[at:at] = body[at:end]
        elif op == "splice":
            other = SAMPLE_BODIES[draw(st.sampled_from(SAMPLE_NAMES))]
            start = draw(st.integers(0, len(other)))
            body[at:] = other[start:]
        else:
            del body[at:]
    return bytes(body)


SAMPLE_BODIES = {name: load_sample(name).body for name in SAMPLE_NAMES}


@st.composite
def floods(draw: st.DrawFn) -> bytes:
    """What a hostile server sends: a long line, or many lines with no blank line after them."""
    unit = draw(
        st.sampled_from(
            [b"x", "é".encode(), "😀".encode(), b"data: ab\n", b"data:\r", b":c\r\n", b"id: 7\n"]
        )
    )
    body = draw(st.sampled_from([b"", b"data: ", b":", b"event: "])) + unit * draw(
        st.integers(0, 400)
    )
    return body + draw(st.sampled_from([b"", b"\n", b"\n\n"]))


fuzz_bodies = st.one_of(arbitrary_bodies, mutated_samples(), floods())
#: Cheap examples, so five times the profile's count: 750 in CI, 100,000 with "long".
FUZZ_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=5 * settings().max_examples)


def buffered(decoder: Decoder) -> tuple[int, int]:
    """What the decoder holds for later, measured from the buffers themselves, not counters:
    the unfinished line's characters and the pending data's, joined as it would dispatch."""
    return sum(map(len, decoder._lines.pending)), len("\n".join(decoder._data))


def run_bounded(chunks: Iterable[bytes], bound: int) -> tuple[list[Item], bool]:
    """Feed chunks until the size bound trips; check the buffers after every chunk.

    Returns every item delivered (including those completed alongside the error) and whether
    the bound tripped; after it trips a client fails the connection, so feeding stops.
    """
    decoder = Decoder(max_event_size=bound)
    items: list[Item] = []
    for chunk in chunks:
        try:
            items.extend(decoder.feed(chunk))
        except EventTooLargeError as exc:
            items.extend(exc.items)
            assert "--max-event-size" in str(exc)
            return items, True
        finally:
            line, data = buffered(decoder)
            # A line may hold its field name ("data: ") besides a value of `bound` characters.
            assert line <= bound + 8, f"{line} characters of a line buffered, bound {bound}"
            assert data <= bound, f"{data} characters of data buffered, bound {bound}"
    items.extend(decoder.close())
    return items, False


@given(body=fuzz_bodies, data=st.data())
@settings(FUZZ_SETTINGS)
def test_fuzzed_bytes_never_raise_and_decode_alike_in_any_chunking(
    body: bytes, data: st.DataObject
) -> None:
    whole = run([body])
    cuts = data.draw(cut_offsets(len(body)), label="cuts")
    chunked = run(split_at(body, cuts))
    assert typed(chunked.items) == typed(whole.items)
    assert chunked == whole
    assert run(body[i : i + 1] for i in range(len(body))) == whole


@given(body=fuzz_bodies, bound=st.integers(1, 64), data=st.data())
@settings(FUZZ_SETTINGS)
def test_buffered_state_never_exceeds_the_size_bound_in_any_chunking(
    body: bytes, bound: int, data: st.DataObject
) -> None:
    whole = run_bounded([body], bound)
    cuts = data.draw(cut_offsets(len(body)), label="cuts")
    assert run_bounded(split_at(body, cuts), bound) == whole
    assert run_bounded((body[i : i + 1] for i in range(len(body))), bound) == whole


@given(
    pool=st.lists(_text_without_line_ends(), min_size=1, max_size=5),
    count=st.integers(1, 400),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    data=st.data(),
)
@settings(PROPERTY_SETTINGS)
def test_many_data_lines_join_exactly_in_any_chunking(
    pool: list[str], count: int, line_end: str, data: st.DataObject
) -> None:
    # Past DATA_BLOCK_LINES pending lines the decoder folds them into blocks to save memory:
    # the dispatched data and the pending line count must not show it.
    lines = [pool[i % len(pool)] for i in range(count)]
    body = "".join(f"data: {line}{line_end}" for line in lines).encode()
    cuts = data.draw(cut_offsets(len(body)), label="cuts")
    decoder = Decoder()
    items: list[Item] = []
    for chunk in split_at(body, cuts):
        items += decoder.feed(chunk)
    assert items == []
    assert decoder.pending_data_lines == len(lines)
    items += decoder.feed(line_end.encode())
    assert items == [Event("message", "\n".join(lines), None)]
    assert decoder.pending_data_lines == 0


@pytest.mark.parametrize("unit", ["x", "é", "😀"])
def test_a_line_dripped_a_byte_at_a_time_is_held_in_few_pieces(unit: str) -> None:
    # A server that sends one byte per TCP segment must not cost a list entry per byte.
    decoder = Decoder()
    body = b"data: " + unit.encode() * (60_000 // len(unit.encode()))
    for i in range(len(body)):
        assert decoder.feed(body[i : i + 1]) == []
    assert len(decoder._lines.pending) <= 32
    assert decoder.feed(b"\n\n") == [Event("message", unit * (60_000 // len(unit.encode())), None)]


# (e) Against a reference decoder written line for line from the spec


def reference(body: bytes, blocks: bool = False) -> Outcome:
    """The spec's algorithm as plainly as it reads, one line at a time: slow and obvious.

    The fast decoder splits per chunk, skips copies and keeps its buffers in locals; it must
    give exactly this for any bytes (diagnostics compared by code). With `blocks`, a block
    without data that changed the last event ID or set retry is reported too.
    """
    text = body.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines: list[str] = []
    tail = ""  # the line being read; what is left at the end never ended
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\r" or char == "\n":
            lines.append(tail)
            tail = ""
            if char == "\r" and text[index + 1 : index + 2] == "\n":
                index += 1
        else:
            tail += char
        index += 1
    items: list[Item] = []
    data: list[str] = []
    event_type, id_buffer, last_event_id = "", "", ""
    retry: int | None = None
    block_retry: int | None = None
    for line in lines:
        if line == "":
            if blocks and not data and (block_retry is not None or id_buffer != last_event_id):
                changed = id_buffer if id_buffer != last_event_id else None
                items.append(core.Block(changed, block_retry))
            last_event_id = id_buffer
            if data:
                items.append(
                    Event(event_type or "message", "\n".join(data), id_buffer or None, block_retry)
                )
            data, event_type, block_retry = [], "", None
            continue
        if line.startswith(":"):
            items.append(Comment(line[1:]))
            continue
        if ":" in line:
            name, value = line[: line.index(":")], line[line.index(":") + 1 :]
            if value.startswith(" "):
                value = value[1:]
        else:
            name, value = line, ""
        if name == "event":
            event_type = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            if "\0" in value:
                items.append(Diagnostic("id-contains-nul", ""))
            else:
                id_buffer = value
        elif name == "retry":
            if value and all(c in "0123456789" for c in value):
                retry = block_retry = min(int(value), MAX_RETRY)
            else:
                items.append(Diagnostic("invalid-retry", ""))
        else:
            items.append(Diagnostic("unknown-field", ""))
    closing = [Diagnostic("incomplete-event", "")] if (tail or data) else []
    return Outcome(items, closing, last_event_id, retry)


def codes_only(outcome: Outcome) -> Outcome:
    """Diagnostics with their messages blanked, everywhere: the reference knows codes only."""

    def blank(item: Item) -> Item:
        return Diagnostic(item.code, "") if type(item) is Diagnostic else item

    return Outcome(
        [blank(item) for item in outcome.items],
        [Diagnostic(d.code, "") for d in outcome.closing],
        outcome.last_event_id,
        outcome.retry,
    )


DATA_LINE_SHAPES = [b"data", b"data:", b"data: ", b"data:  ", b"data:x", b"data :x", b"Data: x"]


@given(
    body=st.one_of(
        fuzz_bodies,
        st.lists(st.sampled_from(SSE_TOKENS + DATA_LINE_SHAPES), max_size=60).map(b"".join),
    ),
    data=st.data(),
)
@settings(FUZZ_SETTINGS)
def test_decoder_matches_the_reference_decoder_on_any_bytes(
    body: bytes, data: st.DataObject
) -> None:
    expected = reference(body)
    assert codes_only(run([body])) == expected
    cuts = data.draw(cut_offsets(len(body)), label="cuts")
    assert codes_only(run(split_at(body, cuts))) == expected
    # The recorder's decoder: the same, with the blocks that dispatched nothing.
    assert codes_only(run(split_at(body, cuts), blocks=True)) == reference(body, blocks=True)


@given(
    body=st.one_of(
        fuzz_bodies,
        st.lists(st.sampled_from(SSE_TOKENS + DATA_LINE_SHAPES), max_size=60).map(b"".join),
    ),
    bound=st.sampled_from([None, 8, 64]),
    data=st.data(),
)
@settings(FUZZ_SETTINGS)
def test_the_c_twin_decodes_as_the_python_twin(
    body: bytes, bound: int | None, data: st.DataObject
) -> None:
    """The differential test: the same bytes, chunked the same way, give the same items,
    diagnostics, trips of the size bound and state on both twins, blocks included."""
    if speedups() is None:
        pytest.skip("sse_cli._speedups was not built: there is no C twin to compare")
    chunks = split_at(body, data.draw(cut_offsets(len(body)), label="cuts"))
    outcomes = []
    for name in ("c", "python"):
        with using(name):
            outcomes.append(bounded_run(chunks, bound))
    assert outcomes[0] == outcomes[1]


def bounded_run(chunks: Sequence[bytes], bound: int | None) -> tuple[object, ...]:
    """Everything a decoder gives for `chunks`, a trip of its size bound included."""
    decoder = Decoder(max_event_size=bound or DEFAULT_MAX_EVENT_SIZE, blocks=True)
    items: list[Item] = []
    for chunk in chunks:
        try:
            items.extend(decoder.feed(chunk))
        except EventTooLargeError as exc:
            items.extend(exc.items)
            items.append(Diagnostic("tripped", str(exc)))
    closing = decoder.close()
    return items, closing, decoder.last_event_id, decoder.retry, decoder.ids_seen
