"""The resume audit (`sse_cli.loadtest.audit`), in-process: `ascending`'s C and Python twins
agree on any chunk, and the audit counts duplicates and gaps alike on its fast and slow paths."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.twins import speedups

from sse_cli.loadtest.audit import ID_AT, MAX_DIGITS, Audit, Span, ascending
from sse_cli.loadtest.metrics import Metrics
from sse_cli.protocol.decoder import Comment, Event, Item

Ascending = Callable[[list[Item], type[Event], int], "Span | None"]


def events(*ids: str | None) -> list[Event]:
    return [Event("message", "x", event_id) for event_id in ids]


def twins() -> list[Ascending]:
    built = speedups()
    return [ascending] if built is None else [ascending, built.ascending]


@pytest.mark.parametrize("check", twins(), ids=lambda f: f.__module__)
@pytest.mark.parametrize(
    ("items", "want"),
    [
        (events("1", "2", "3"), (1, 3)),
        (events("7"), (7, 7)),
        (events("1", "3", "10"), (1, 10)),  # going up is enough; 10 after 3 though "10" < "3"
        (events("007", "8"), (7, 8)),  # leading zeros are the number's
        (events("1", "1"), None),  # the same id twice
        (events("2", "1"), None),  # going down
        (events("1", None), None),  # an event without an id
        (events("1", "x"), None),
        (events("1", ""), None),
        (events("1", "+2"), None),
        (events("1", " 2"), None),
        (events("1", "٣"), None),  # a digit, but not an ASCII one
        (events("1", "9" * MAX_DIGITS), (1, int("9" * MAX_DIGITS))),
        (events("1", "1" + "0" * MAX_DIGITS), None),  # too long to be a counter
        ([*events("1"), Comment("hi")], None),
        ([], None),
    ],
)
def test_ascending(check: Ascending, items: list[Item], want: Span | None) -> None:
    assert check(items, Event, ID_AT) == want


@pytest.mark.skipif(speedups() is None, reason="sse_cli._speedups was not built")
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.integers(0, 10**20).map(str),
            st.text(alphabet="0123456789+-_ x٣", max_size=21),
        ),
        max_size=8,
    )
)
def test_the_twins_of_ascending_agree(ids: list[str | None]) -> None:
    built = speedups()
    assert built is not None
    items: list[Item] = list(events(*ids))
    assert built.ascending(items, Event, ID_AT) == ascending(items, Event, ID_AT)


def audited(*chunks: list[Event], resume_before: int | None = None) -> Metrics:
    """Audit chunks as a stream does, each through `ascending` first; reconnect before the
    chunk numbered `resume_before`."""
    metrics = Metrics()
    audit = Audit(metrics)
    for number, chunk in enumerate(chunks):
        if number == resume_before:
            audit.reconnecting()
            audit.connected()
        audit.events(chunk, ascending(list(chunk), Event, ID_AT))
    return metrics


def test_in_order_chunks_are_clean() -> None:
    metrics = audited(events("1", "2"), events("3", "4", "5"), events("6"))
    assert (metrics.duplicates, metrics.gaps) == (0, 0)


def test_an_id_seen_before_is_a_duplicate_even_between_ids_going_up() -> None:
    metrics = audited(events("1", "2", "3"), events("2", "4"), events("5", "1", "6"))
    assert (metrics.duplicates, metrics.gaps) == (2, 0)


def test_a_resume_that_skips_counts_the_missing_numbers() -> None:
    metrics = audited(events("1", "2", "3"), events("6", "7"), resume_before=1)
    assert (metrics.duplicates, metrics.gaps) == (0, 2)


def test_a_resume_that_repeats_and_skips() -> None:
    metrics = audited(events("1", "2", "3"), events("3", "5", "6"), resume_before=1)
    assert (metrics.duplicates, metrics.gaps) == (1, 1)


def test_string_ids_and_long_digit_strings_are_deduplicated_as_strings() -> None:
    long_id = "1" * 5000  # int() refuses over 4,300 digits: it must never be called on it
    metrics = audited(events("a", "b", long_id), events("b", long_id, "c"))
    assert (metrics.duplicates, metrics.gaps) == (2, 0)


def test_an_id_kept_by_the_next_events_is_not_a_duplicate() -> None:
    metrics = audited(events("1", "1", None), events(None, "2"))  # the last event ID persists
    assert (metrics.duplicates, metrics.gaps) == (0, 0)


def test_redis_stream_ids_are_ordered_pairs_and_keep_no_set() -> None:
    # serve's Redis broker sends MS-SEQ ids: a pair going up is clean, one not above the
    # highest is a duplicate, and nothing is kept per event (a long run stays flat in memory).
    metrics = Metrics()
    audit = Audit(metrics)
    first = events("1764762000000-0", "1764762000000-1", "1764762000001-0")
    audit.events(first, ascending(list(first), Event, ID_AT))
    assert (metrics.duplicates, audit.ids, audit.resumable) == (0, None, True)
    again = events("1764762000000-1", "1764762000002-0", "1764762000001-9")
    audit.events(again, ascending(list(again), Event, ID_AT))
    assert (metrics.duplicates, metrics.gaps, audit.ids) == (2, 0, None)


@pytest.mark.parametrize("odd", ["1-", "-1", "1-2-3", "a-1", "1-٣", "1" * 19 + "-0"])
def test_ids_that_only_look_like_pairs_are_kept_as_strings(odd: str) -> None:
    metrics = audited(events(odd, "z"), events(odd))
    assert metrics.duplicates == 1
