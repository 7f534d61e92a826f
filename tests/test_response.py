"""What a response head means (`sse_cli.protocol.response`), the same for every transport."""

from __future__ import annotations

import pytest

from sse_cli.errors import ExitCode
from sse_cli.protocol.response import Head, Outcome, is_event_stream, preview_text, retry_after


@pytest.mark.parametrize(
    ("status", "content_type", "outcome"),
    [
        (200, "text/event-stream", Outcome.OPEN),
        (200, "Text/Event-Stream; charset=utf-8", Outcome.OPEN),
        (200, "text/html", Outcome.FAIL),
        (200, None, Outcome.FAIL),
        (204, None, Outcome.STOP),
        (201, "text/event-stream", Outcome.FAIL),
        (206, "text/event-stream", Outcome.FAIL),
        (404, "text/html", Outcome.FAIL),
        (429, None, Outcome.RETRY),
        (500, None, Outcome.RETRY),
        (503, "text/event-stream", Outcome.RETRY),
    ],
)
def test_only_200_with_text_event_stream_opens_a_stream(
    status: int, content_type: str | None, outcome: Outcome
) -> None:
    assert Head(status, content_type=content_type).outcome is outcome


@pytest.mark.parametrize(
    ("head", "code", "kind", "words"),
    [
        (Head(404, "Not Found", url="http://h/x"), ExitCode.HTTP_4XX, "http-404", "HTTP 404 Not"),
        (Head(503, url="http://h/x"), ExitCode.HTTP_5XX, "http-503", "HTTP 503 from http://h/x"),
        (Head(205, "R", url="u"), ExitCode.NOT_EVENT_STREAM, "not-event-stream", "205 Reset"),
        (
            Head(200, content_type="text/html"),
            ExitCode.NOT_EVENT_STREAM,
            "not-event-stream",
            "Content-Type text/html",
        ),  # fmt: skip
    ],
)
def test_each_failure_has_its_exit_status_kind_and_words(
    head: Head, code: ExitCode, kind: str, words: str
) -> None:
    error = head.error(": body")
    assert error.exit_code == code and head.kind == kind
    assert words in error.message and error.message.endswith(": body")


def test_retry_after_takes_seconds_or_an_http_date_and_nothing_else() -> None:
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert retry_after("+5") is None and retry_after("soon") is None and retry_after(None) is None
    assert Head(503, retry_after="7").retry_delay() == 7.0


def test_a_preview_is_one_line_and_says_when_it_was_cut() -> None:
    assert preview_text(b"") == "" and preview_text(b"  \n ") == ""
    assert preview_text(b"not\nfound") == ": not found"
    assert preview_text(b"x" * 300).endswith(" …")
    assert is_event_stream(" text/event-stream ;x=y") and not is_event_stream("text/plain")
