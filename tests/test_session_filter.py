"""The session's filter in-process: event types, -n, --until and --extract on items."""

from __future__ import annotations

from sse_cli.protocol.decoder import Comment, Diagnostic, Event, Item
from sse_cli.session import Limits, _Filter

A = Event("message", "a", None)
B = Event("tick", "b", "1")
DONE = Event("message", "[DONE]", None)
NOTE = Comment("ping")
WARN = Diagnostic("unknown-field", "x")


def test_no_limit_is_inactive() -> None:
    assert not Limits().active
    assert not Limits(duration=1.0).active  # a duration is a timer, not a filter
    assert Limits(max_events=0).active and Limits(until="").active


def test_event_types_keep_only_their_events_and_every_other_item() -> None:
    filt = _Filter(Limits(event_types=frozenset({"tick"})))
    assert filt.apply([A, NOTE, B, WARN]) == [NOTE, B, WARN]
    assert filt.count == 1 and filt.done is None


def test_max_events_stops_after_that_many_and_drops_the_rest_of_the_chunk() -> None:
    filt = _Filter(Limits(max_events=2))
    assert filt.apply([A]) == [A]
    assert filt.done is None
    kept: list[Item] = filt.apply([B, NOTE, A])
    assert kept == [B]
    assert filt.done == "received 2 events (-n)"


def test_one_event_is_said_in_the_singular() -> None:
    filt = _Filter(Limits(max_events=1))
    filt.apply([A])
    assert filt.done == "received 1 event (-n)"


def test_until_stops_after_the_matching_event_which_is_kept() -> None:
    filt = _Filter(Limits(until="[DONE]"))
    assert filt.apply([A, DONE, B]) == [A, DONE]
    assert filt.done == "an event's data was '[DONE]'"


def test_filtered_out_events_do_not_count_towards_max_events() -> None:
    filt = _Filter(Limits(event_types=frozenset({"message"}), max_events=1))
    assert filt.apply([B, B, A, A]) == [A]
    assert filt.count == 1


def test_an_extractor_rewrites_data_and_skips_events_it_finds_nothing_in() -> None:
    def upper(event: Event) -> str | None:
        return event.data.upper() if event.event == "message" else None

    filt = _Filter(Limits(extractor=upper))
    assert filt.apply([A, B, NOTE]) == [A._replace(data="A"), NOTE]
    assert filt.count == 2  # a skipped event still counts as received
