"""One test per rule of the WHATWG HTML Standard, "Parsing an event stream" and
"Interpreting an event stream", plus the spec's own examples, against `sse_cli.protocol.decoder`.

Every test feeds bytes: decoding, the leading BOM and line ends are part of the spec too.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from sse_cli.errors import EventTooLargeError, ExitCode
from sse_cli.protocol.decoder import (
    MAX_RETRY,
    Block,
    Comment,
    Decoder,
    Diagnostic,
    Event,
    Item,
)

#: Every test here runs on the C twins of the hot loops, then on the Python ones.
pytestmark = pytest.mark.usefixtures("twins")

BOM = "\ufeff".encode()


def decode(*chunks: bytes, decoder: Decoder | None = None) -> list[Item]:
    """Feed `chunks` in order to `decoder` (a fresh one by default) and return every item."""
    decoder = Decoder() if decoder is None else decoder
    items: list[Item] = []
    for chunk in chunks:
        items.extend(decoder.feed(chunk))
    return items


def shapes(items: Iterable[Item]) -> list[Event | Comment | Block | str]:
    """The items with each Diagnostic replaced by its code, so no test pins message wording."""
    return [item.code if isinstance(item, Diagnostic) else item for item in items]


def events(items: Iterable[Item]) -> list[Event]:
    return [item for item in items if isinstance(item, Event)]


def message(data: str, id: str | None = None, retry: int | None = None) -> Event:
    """An event of the default type, "message"."""
    return Event("message", data, id, retry)


# Parsing an event stream: UTF-8 decode


@pytest.mark.parametrize("character", ["é", "€", "😀"], ids=["2-byte", "3-byte", "4-byte"])
def test_multibyte_character_split_across_feeds_survives(character: str) -> None:
    encoded = character.encode()
    for cut in range(1, len(encoded)):
        stream = b"data: " + encoded + b"\n\n"
        cut_at = len(b"data: ") + cut
        assert decode(stream[:cut_at], stream[cut_at:]) == [message(character)]


def test_multibyte_character_fed_one_byte_at_a_time_survives() -> None:
    stream = "data: a😀b€c\n\n".encode()
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == [message("a😀b€c")]


def test_invalid_utf8_bytes_become_replacement_characters() -> None:
    assert decode(b"data: a\xffb\xc0c\n\n") == [message("a\ufffdb\ufffdc")]


def test_truncated_utf8_sequence_becomes_one_replacement_character() -> None:
    # The first two bytes of "€" followed by an ASCII letter: one U+FFFD, and the letter.
    assert decode(b"data: \xe2\x82", b"x\n\n") == [message("\ufffdx")]


def test_truncated_utf8_sequence_before_a_line_end_does_not_swallow_it() -> None:
    assert decode(b"data: \xe2\x82\n\n") == [message("\ufffd")]


# Parsing an event stream: one leading BOM is ignored


def test_leading_bom_is_dropped() -> None:
    assert decode(BOM + b"data: x\n\n") == [message("x")]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_leading_bom_split_across_feeds_is_dropped(cut: int) -> None:
    stream = BOM + b"data: x\n\n"
    assert decode(stream[:cut], stream[cut:]) == [message("x")]


def test_leading_bom_fed_one_byte_at_a_time_is_dropped() -> None:
    assert decode(b"\xef", b"\xbb", b"\xbf", b"data: x\n\n") == [message("x")]


def test_leading_bom_after_an_empty_feed_is_dropped() -> None:
    assert decode(b"", BOM, b"data: x\n\n") == [message("x")]


def test_second_leading_bom_is_kept() -> None:
    # The kept BOM becomes part of the first field name, "\ufeffdata", which is unknown.
    assert shapes(decode(BOM + BOM + b"data: x\n\n")) == ["unknown-field"]


def test_second_leading_bom_in_a_later_feed_is_kept() -> None:
    assert shapes(decode(BOM, BOM + b"data: x\n\n")) == ["unknown-field"]


def test_bom_inside_a_value_is_kept() -> None:
    assert decode(b"data: " + BOM + b"x\n\n") == [message("\ufeffx")]


def test_bom_at_the_start_of_a_later_feed_is_kept() -> None:
    assert shapes(decode(b"data: a\n\n", BOM + b"data: b\n\n")) == [message("a"), "unknown-field"]


# Parsing an event stream: lines end with CRLF, LF or CR


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_each_line_ending_ends_a_line(eol: str) -> None:
    stream = f"event: e{eol}data: a{eol}data: b{eol}{eol}data: c{eol}{eol}".encode()
    assert decode(stream) == [Event("e", "a\nb", None, None), message("c")]


def test_mixed_line_endings_in_one_stream() -> None:
    assert decode(b"data: a\rdata: b\r\ndata: c\n\r\n") == [message("a\nb\nc")]


def test_cr_at_chunk_end_and_lf_at_next_chunk_start_are_one_line_end() -> None:
    # Counted as two line ends, the LF would be a blank line dispatching "a" alone.
    assert decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [message("a\nb")]


def test_cr_then_lf_split_by_an_empty_feed_are_one_line_end() -> None:
    assert decode(b"data: a\r", b"", b"\ndata: b\n\n") == [message("a\nb")]


def test_cr_at_chunk_end_then_a_character_split_across_feeds_starts_a_new_line() -> None:
    # The feed after the CR decodes to nothing; the one after it starts the next line.
    assert shapes(decode(b"data: a\r", b"\xc3", b"\xa9\n\n")) == ["unknown-field", message("a")]


def test_lone_cr_at_chunk_end_dispatches_immediately() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data: a\r\r") == [message("a")]
    assert decoder.feed(b"\ndata: b\n\n") == [message("b")]


def test_cr_at_chunk_end_then_cr_are_two_line_ends() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [message("a")]


def test_crlf_crlf_split_everywhere_dispatches_once() -> None:
    stream = b"data: a\r\n\r\n"
    for cut in range(len(stream) + 1):
        assert decode(stream[:cut], stream[cut:]) == [message("a")]


@pytest.mark.parametrize(
    "separator",
    ["\u2028", "\u2029", "\u0085", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"],
    ids=["U+2028", "U+2029", "U+0085", "x1c", "x1d", "x1e", "VT", "FF"],
)
def test_characters_str_splitlines_splits_on_are_not_line_breaks(separator: str) -> None:
    stream = f"data: a{separator}b\n\n".encode()
    assert decode(stream) == [message(f"a{separator}b")]


# Interpreting an event stream: comments


def test_comment_line_is_returned_without_its_colon() -> None:
    assert decode(b": test stream\n:ok\n:\n") == [
        Comment(" test stream"),
        Comment("ok"),
        Comment(""),
    ]


def test_comment_inside_an_event_neither_dispatches_nor_breaks_it() -> None:
    assert decode(b"data: a\n: keep-alive\ndata: b\n\n") == [
        Comment(" keep-alive"),
        message("a\nb"),
    ]


def test_comment_only_block_dispatches_nothing() -> None:
    assert decode(b": ping\n\n") == [Comment(" ping")]


# Interpreting an event stream: fields


def test_line_without_colon_is_a_field_with_an_empty_value() -> None:
    assert decode(b"data\n\n") == [message("")]


def test_exactly_one_space_after_the_colon_is_stripped() -> None:
    assert decode(b"data:  x\n\n") == [message(" x")]


def test_value_without_a_space_after_the_colon_is_kept_whole() -> None:
    assert decode(b"data:x\n\n") == [message("x")]


def test_tab_after_the_colon_is_kept() -> None:
    assert decode(b"data:\tx\n\n") == [message("\tx")]


def test_colon_inside_the_value_is_kept() -> None:
    assert decode(b"data: a:b: c\n\n") == [message("a:b: c")]


def test_trailing_space_is_kept() -> None:
    assert decode(b"data: x \n\n") == [message("x ")]


def test_data_lines_join_with_lf() -> None:
    assert decode(b"data: a\ndata:\ndata: b\n\n") == [message("a\n\nb")]


def test_block_without_data_is_not_dispatched() -> None:
    assert decode(b"event: update\nid: 1\nretry: 5\n\n") == []


def test_blank_lines_without_fields_dispatch_nothing() -> None:
    assert decode(b"\n\n\r\n\r") == []


def test_event_type_defaults_to_message() -> None:
    assert decode(b"data: x\n\n") == [Event("message", "x", None, None)]


def test_event_field_sets_the_event_type() -> None:
    assert decode(b"event: add\ndata: x\n\n") == [Event("add", "x", None, None)]


def test_empty_event_field_gives_type_message() -> None:
    assert decode(b"event:\ndata: x\n\n") == [message("x")]


def test_last_event_field_in_a_block_wins() -> None:
    assert decode(b"event: a\nevent: b\ndata: x\n\n") == [Event("b", "x", None, None)]


def test_event_type_resets_after_each_dispatch() -> None:
    assert decode(b"event: add\ndata: 1\n\ndata: 2\n\n") == [
        Event("add", "1", None, None),
        message("2"),
    ]


def test_event_type_resets_after_a_blank_line_that_dispatches_nothing() -> None:
    assert decode(b"event: add\n\ndata: 2\n\n") == [message("2")]


def test_unknown_field_is_ignored_and_reported() -> None:
    assert shapes(decode(b"foo: bar\ndata: x\n\n")) == ["unknown-field", message("x")]


@pytest.mark.parametrize("name", [b"Data", b"DATA", b"Event", b"ID", b"Retry"])
def test_field_names_are_case_sensitive(name: bytes) -> None:
    assert shapes(decode(name + b": 5\n\n")) == ["unknown-field"]


def test_field_name_with_trailing_space_is_unknown() -> None:
    assert shapes(decode(b"data : x\n\n")) == ["unknown-field"]


def test_quoted_field_names_are_unknown_fields() -> None:
    stream = b'"event": "message"\n"data": x\n\n'
    assert shapes(decode(stream)) == ["unknown-field", "unknown-field"]


def test_items_come_out_in_stream_order() -> None:
    stream = b": a\nx: 1\ndata: 1\n\n: b\nretry: no\ndata: 2\n\n"
    assert shapes(decode(stream)) == [
        Comment(" a"),
        "unknown-field",
        message("1"),
        Comment(" b"),
        "invalid-retry",
        message("2"),
    ]


# Interpreting an event stream: id and the last event ID


def test_id_sets_the_last_event_id() -> None:
    decoder = Decoder()
    assert decode(b"id: 1\ndata: x\n\n", decoder=decoder) == [message("x", id="1")]
    assert decoder.last_event_id == "1"


def test_last_event_id_persists_across_events() -> None:
    decoder = Decoder()
    items = decode(b"id: 1\ndata: a\n\ndata: b\n\nevent: e\ndata: c\n\n", decoder=decoder)
    assert items == [message("a", id="1"), message("b", id="1"), Event("e", "c", "1", None)]
    assert decoder.last_event_id == "1"


def test_id_field_anywhere_in_the_block_applies_to_its_event() -> None:
    assert decode(b"data: a\nid: 9\n\n") == [message("a", id="9")]


def test_id_containing_nul_is_ignored_and_reported() -> None:
    decoder = Decoder()
    items = decode(b"id: 1\n\nid: 2\x003\ndata: x\n\n", decoder=decoder)
    assert shapes(items) == ["id-contains-nul", message("x", id="1")]
    assert decoder.last_event_id == "1"


def test_id_with_nul_does_not_count_as_ids_seen() -> None:
    decoder = Decoder()
    decode(b"id: \x00\ndata: x\n\n", decoder=decoder)
    assert not decoder.ids_seen
    decode(b"id: 1\ndata: x\n\n", decoder=decoder)
    assert decoder.ids_seen


@pytest.mark.parametrize("field", [b"id", b"id:", b"id: "])
def test_empty_id_clears_the_last_event_id(field: bytes) -> None:
    decoder = Decoder()
    items = decode(b"id: 1\ndata: a\n\n" + field + b"\ndata: b\n\n", decoder=decoder)
    assert items == [message("a", id="1"), message("b", id=None)]
    assert decoder.last_event_id == ""


def test_id_only_block_updates_the_last_event_id_at_the_blank_line() -> None:
    decoder = Decoder()
    assert decoder.feed(b"id: 5\n") == []
    assert decoder.last_event_id == ""
    assert decoder.feed(b"\n") == []
    assert decoder.last_event_id == "5"
    assert decoder.feed(b"data: x\n\n") == [message("x", id="5")]


def test_id_in_an_incomplete_event_at_end_of_stream_does_not_update_last_event_id() -> None:
    decoder = Decoder()
    decode(b"id: 1\ndata: a\n\nid: 2\ndata: b\n", decoder=decoder)
    decoder.close()
    assert decoder.last_event_id == "1"


def test_seeded_last_event_id_is_reported_by_events_without_id() -> None:
    decoder = Decoder(last_event_id="7")
    assert decode(b"data: a\n\nid: 8\ndata: b\n\n", decoder=decoder) == [
        message("a", id="7"),
        message("b", id="8"),
    ]


def test_seeded_last_event_id_survives_a_block_without_id() -> None:
    decoder = Decoder(last_event_id="7")
    decode(b"data: a\n\n: ping\n\n", decoder=decoder)
    assert decoder.last_event_id == "7"


def test_id_value_keeps_everything_after_the_one_stripped_space() -> None:
    assert decode(b"id:  7 \ndata: x\n\n") == [message("x", id=" 7 ")]


# Interpreting an event stream: retry


def test_retry_with_ascii_digits_sets_the_reconnection_time() -> None:
    decoder = Decoder()
    assert decode(b"retry: 3000\ndata: x\n\n", decoder=decoder) == [message("x", retry=3000)]
    assert decoder.retry == 3000


def test_retry_with_leading_zeros_is_decimal() -> None:
    decoder = Decoder()
    decode(b"retry: 0010\n\n", decoder=decoder)
    assert decoder.retry == 10


@pytest.mark.parametrize(
    "field",
    [b"retry: +5", b"retry:  5", b"retry: 5 ", b"retry: 1_000", b"retry: -1", b"retry: 5.0"]
    + [b"retry: 5s", b"retry: 0x10", b"retry:", b"retry", b"retry: "],
    ids=["plus", "two-spaces", "trailing-space", "underscore", "minus", "decimal-point"]
    + ["unit", "hex", "empty", "no-colon", "space-only"],
)
def test_retry_that_is_not_all_ascii_digits_is_ignored_and_reported(field: bytes) -> None:
    decoder = Decoder()
    decode(b"retry: 100\n\n", decoder=decoder)
    items = decode(field + b"\ndata: x\n\n", decoder=decoder)
    assert shapes(items) == ["invalid-retry", message("x")]
    assert decoder.retry == 100


@pytest.mark.parametrize(
    "digits",
    ["\u0663", "\u096b", "\uff15", "\u00b2", "\U0001d7d3"],
    ids=["arabic-indic", "devanagari", "fullwidth", "superscript", "mathematical-bold"],
)
def test_retry_with_non_ascii_digits_is_ignored(digits: str) -> None:
    decoder = Decoder()
    items = decode(f"retry: {digits}\ndata: x\n\n".encode(), decoder=decoder)
    assert shapes(items) == ["invalid-retry", message("x")]
    assert decoder.retry is None


def test_retry_with_more_digits_than_int_conversion_allows_is_clamped() -> None:
    # CPython's int(str) refuses more than 4300 digits (sys.int_info): such a value must not
    # crash the decoder. It is clamped to MAX_RETRY (JSON output could not print it either).
    decoder = Decoder()
    items = decode(b"retry: 1" + b"0" * 4300 + b"\ndata: x\n\n", decoder=decoder)
    assert len(items) == 1
    assert decoder.retry == MAX_RETRY
    assert isinstance(items[0], Event) and items[0].retry == MAX_RETRY


def test_retry_only_block_sets_decoder_retry_without_dispatching() -> None:
    decoder = Decoder()
    assert decode(b"retry: 2000\n\n", decoder=decoder) == []
    assert decoder.retry == 2000


def test_retry_takes_effect_before_the_blank_line() -> None:
    decoder = Decoder()
    decoder.feed(b"retry: 2000\n")
    assert decoder.retry == 2000


def test_event_retry_is_only_on_the_event_whose_block_set_it() -> None:
    decoder = Decoder()
    items = decode(b"retry: 1\n\ndata: a\n\ndata: b\nretry: 2\n\ndata: c\n\n", decoder=decoder)
    assert items == [message("a"), message("b", retry=2), message("c")]
    assert decoder.retry == 2


# End of stream


def test_incomplete_event_at_end_of_stream_is_discarded_and_reported() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data: a\n\ndata: b\n") == [message("a")]
    assert shapes(decoder.close()) == ["incomplete-event"]


def test_unterminated_line_at_end_of_stream_is_discarded_and_reported() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data: a\n\ndata: b") == [message("a")]
    assert shapes(decoder.close()) == ["incomplete-event"]


def test_stream_ending_inside_a_utf8_sequence_is_reported_as_incomplete() -> None:
    # The decoder's final flush turns the two bytes into U+FFFD: an unterminated line.
    decoder = Decoder()
    assert decoder.feed(b"data: a\n\n\xe2\x82") == [message("a")]
    assert shapes(decoder.close()) == ["incomplete-event"]


def test_close_after_a_clean_end_returns_nothing() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data: a\n\n: bye\n") == [message("a"), Comment(" bye")]
    assert decoder.close() == []


def test_close_of_an_empty_stream_returns_nothing() -> None:
    assert Decoder().close() == []


def test_pending_data_lines_counts_lines_awaiting_dispatch() -> None:
    decoder = Decoder()
    decoder.feed(b"data: a\ndata: b\n")
    assert decoder.pending_data_lines == 2
    decoder.feed(b"\n")
    assert decoder.pending_data_lines == 0


# The size bound (a deliberate divergence: EventSource has none)


def test_line_longer_than_max_event_size_fed_in_small_pieces_raises() -> None:
    decoder = Decoder(max_event_size=100)
    decoder.feed(b": ")
    with pytest.raises(EventTooLargeError) as raised:
        for _ in range(100):
            decoder.feed(b"xyz")
    assert raised.value.exit_code is ExitCode.PROTOCOL


def test_unterminated_line_longer_than_max_event_size_in_one_chunk_raises() -> None:
    with pytest.raises(EventTooLargeError):
        Decoder(max_event_size=100).feed(b"data: a\n\ndata: " + b"x" * 200)


def test_complete_comment_line_longer_than_max_event_size_raises() -> None:
    with pytest.raises(EventTooLargeError) as raised:
        Decoder(max_event_size=100).feed(b"data: a\n\n: " + b"x" * 200 + b"\n")
    assert raised.value.items == [message("a")]


def test_event_whose_data_lines_sum_past_max_event_size_raises() -> None:
    decoder = Decoder(max_event_size=100)
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"data: " + b"x" * 40 + b"\n" + b"data: " + b"y" * 40 + b"\n")
        decoder.feed(b"data: " + b"z" * 40 + b"\n")


def test_unterminated_line_of_exactly_max_event_size_is_kept() -> None:
    decoder = Decoder(max_event_size=100)
    for _ in range(10):
        assert decoder.feed(b"data:" + b"x" * 5) == []
    assert decoder.feed(b"\n\n") == [message(("x" * 5 + "data:") * 9 + "x" * 5)]


def test_event_data_of_exactly_max_event_size_is_dispatched() -> None:
    assert decode(b"data: " + b"x" * 100 + b"\n\n", decoder=Decoder(max_event_size=100)) == [
        message("x" * 100)
    ]


def test_events_under_max_event_size_are_dispatched_in_any_chunking() -> None:
    stream = b"data: " + b"x" * 60 + b"\ndata: " + b"y" * 30 + b"\n\n: " + b"c" * 90 + b"\n"
    expected = [message("x" * 60 + "\n" + "y" * 30), Comment(" " + "c" * 90)]
    for size in (1, 7, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert decode(*chunks, decoder=Decoder(max_event_size=100)) == expected


def test_max_event_size_counts_decoded_characters_not_bytes() -> None:
    decoder = Decoder(max_event_size=100)
    assert decoder.feed(b"data: " + "€".encode() * 90) == []
    assert decoder.feed(b"\n\n") == [message("€" * 90)]


def test_size_bound_resets_after_each_dispatch() -> None:
    decoder = Decoder(max_event_size=100)
    for _ in range(5):
        assert decoder.feed(b"data: " + b"x" * 80 + b"\n\n") == [message("x" * 80)]


# The spec's own examples


def test_spec_example_stock_ticker_lines_join_into_one_message() -> None:
    assert decode(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [message("YHOO\n+2\n10")]


def test_spec_example_comment_ids_and_a_leading_space() -> None:
    stream = (
        b": test stream\n"
        b"\n"
        b"data: first event\n"
        b"id: 1\n"
        b"\n"
        b"data:second event\n"
        b"id\n"
        b"\n"
        b"data:  third event\n"
        b"\n"
    )
    decoder = Decoder()
    assert decode(stream, decoder=decoder) == [
        Comment(" test stream"),
        message("first event", id="1"),
        message("second event", id=None),
        message(" third event", id=None),
    ]
    assert decoder.last_event_id == ""


def test_spec_example_first_id_is_the_last_event_id_until_the_next_block() -> None:
    decoder = Decoder()
    decoder.feed(b": test stream\n\ndata: first event\nid: 1\n\n")
    assert decoder.last_event_id == "1"


def test_spec_example_empty_data_lines_and_a_discarded_last_block() -> None:
    decoder = Decoder()
    assert decode(b"data\n\ndata\ndata\n\ndata:", decoder=decoder) == [message(""), message("\n")]
    assert shapes(decoder.close()) == ["incomplete-event"]


def test_spec_example_space_after_the_colon_is_optional() -> None:
    assert decode(b"data:test\n\ndata: test\n\n") == [message("test"), message("test")]


def test_spec_example_three_messages_one_with_two_lines() -> None:
    stream = (
        b"data: This is the first message.\n\n"
        b"data: This is the second message, it\n"
        b"data: has two lines.\n\n"
        b"data: This is the third message.\n\n"
    )
    assert decode(stream) == [
        message("This is the first message."),
        message("This is the second message, it\nhas two lines."),
        message("This is the third message."),
    ]


def test_spec_example_two_event_types() -> None:
    stream = (
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    )
    assert decode(stream) == [
        Event("add", "73857293", None, None),
        Event("remove", "2153", None, None),
        Event("add", "113411", None, None),
    ]


def test_events_completed_before_the_size_bound_trips_are_kept_on_the_error() -> None:
    with pytest.raises(EventTooLargeError) as raised:
        Decoder(max_event_size=100).feed(b"data: a\n\ndata: " + b"x" * 200)
    assert raised.value.items == [message("a")]


def test_events_completed_before_oversized_data_lines_are_kept_on_the_error() -> None:
    with pytest.raises(EventTooLargeError) as raised:
        Decoder(max_event_size=100).feed(b"data: b\n\n" + (b"data: " + b"y" * 60 + b"\n") * 2)
    assert raised.value.items == [message("b")]


def test_blocks_without_data_are_reported_only_when_asked() -> None:
    """For the recorder: a block that changed the last event ID or set retry, and nothing
    for one that changed neither (the id it repeats, a comment, a lone event type)."""
    wire = b"retry: 5\n\nid: 7\n\n:hi\ndata: x\n\nid: 7\n\nevent: e\n\nid:\n\n"
    want = [Block(None, 5), Block("7", None), Comment("hi"), Event("message", "x", "7")]
    assert Decoder(blocks=True).feed(wire) == [*want, Block("", None)]
    assert Decoder().feed(wire) == [want[2], want[3]]
    # Any chunking gives the same, and a seeded last event ID counts as unchanged.
    split = Decoder("7", blocks=True)
    assert [i for b in wire for i in split.feed(bytes([b]))] == [
        want[0],
        *want[2:],
        Block("", None),
    ]
