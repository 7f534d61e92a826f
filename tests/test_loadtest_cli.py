"""`sse-cli bench` as people run it: flags, exit statuses, thresholds, and real `serve` runs.

The pure parts (thresholds, send times) are tested alone; the command runs in-process
(`invoke`) against what `sse-cli serve` serves (on a thread, on loopback) for /clock latency,
/publish fan-out latency, and serve's own caps (503 past --max-streams, 429 past --rate-limit).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from support.cli import invoke
from support.serve import serving_args
from support.sockets import Handler, Request, SocketServer, by_connection, head

from sse_cli.errors import UsageError
from sse_cli.loadtest.latency import to_epoch_ns
from sse_cli.loadtest.schema import Report
from sse_cli.loadtest.thresholds import parse_threshold

Serve = Callable[[Handler], SocketServer]
NOW_NS = 1_764_000_000_123_456_789  # 2025-11-24, an instant with every digit in use


def bench(*args: str, timeout: float = 30) -> tuple[int, dict[str, Any], str]:
    """Run `sse-cli bench ARGS`; its status, its JSON report (stdout is a pipe) and stderr."""
    done = invoke("bench", *args, timeout=timeout)
    stdout = done.stdout.decode()
    report = json.loads(stdout) if stdout.strip() else {}
    return done.status, report, done.stderr


def three_events(conn: socket.socket, request: Request) -> None:
    conn.sendall(head() + b"".join(b"id: %d\ndata: %d\n\n" % (n, n) for n in (1, 2, 3)))


@pytest.fixture(scope="module")
def serve() -> Iterator[str]:
    with serving_args("-q", "--max-streams", "3", "--rate-limit", "0") as server:
        yield server.url


def test_thresholds_pass_and_fail_with_their_exit_statuses(serve_socket: Serve) -> None:
    url = serve_socket(three_events).url
    common = ("-c", "2", "--no-reconnect")
    status, report, _ = bench(url, *common, "--threshold", "errors == 0", "--threshold", "gaps==0")
    assert status == 0
    assert report["events"]["total"] == 6
    assert [c["ok"] for c in report["thresholds"]] == [True, True]
    status, report, err = bench(
        url, *common, "--threshold", "events > 6", "--threshold", "ttfe.p99 < 10s"
    )
    assert status == 8
    summary, error = err.strip().splitlines()
    assert summary.startswith("sse-cli bench: ") and "1 threshold failed" in summary
    assert error == "sse-cli: error: 1 of 2 thresholds failed: events > 6 (was 6 events)"
    assert report["thresholds"][0] == {
        "threshold": "events > 6",
        "value": 6,
        "unit": "events",
        "ok": False,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--threshold", "ttfe < 5ms"],
            "ttfe needs one of .min, .mean, .p50, .p90, .p95, .p99, .max",
        ),
        (["--threshold", "speed > 1"], "unknown metric 'speed'"),
        (["--threshold", "errors = 0"], "is not 'METRIC[.STAT] OP NUMBER[UNIT]'"),
        (["--threshold", "errors < 1ms"], "errors is a count, not a time"),
        (["-c", "0"], "-c/--connections must be 1 or more"),
        (["-c", "2", "--workers", "3"], "--workers must be from 1 to the number of connections"),
        (["--latency-field", "a[", "-c", "1"], "--latency-field 'a[' is not a JMESPath"),
        (["-f", "csv"], "'csv' is not one of table, json"),
        (["--publish", "ftp://x/"], "unsupported URL scheme 'ftp:'"),
    ],
)
def test_bad_flags_are_usage_errors(args: list[str], message: str) -> None:
    status, report, err = bench("http://127.0.0.1:9/", *args)
    assert (status, report) == (2, {})
    assert message in err


def refuse_404(conn: socket.socket, request: Request) -> None:
    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


def html_page(conn: socket.socket, request: Request) -> None:
    conn.sendall(head(200, "text/html") + b"<html></html>")


def test_a_run_where_no_stream_opened_exits_as_listen_would(serve_socket: Serve) -> None:
    """The report is printed, then one line and the status of the most common failure."""
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    cases = [
        (f"http://127.0.0.1:{port}/", 3, "3 of them refused (is a server listening"),
        (serve_socket(refuse_404).url, 4, "3 of them http-404 (check the URL"),
        (serve_socket(html_page).url, 6, "3 of them not-event-stream"),
    ]
    for url, want, said in cases:
        status, report, err = bench(url, "-c", "3", "--no-reconnect", "--threshold", "errors == 0")
        assert status == want, (url, err)
        assert report["streams"]["opened"] == 0 and report["errors"]["total"] == 3
        assert err.count("\n") == 1 and said in err, err
    # One stream of two opened: its error is the report's (and the thresholds'), status 0.
    mixed = serve_socket(by_connection(refuse_404, three_events)).url
    status, report, _ = bench(mixed, "-c", "2", "--no-reconnect", "--ramp", "50")
    assert status == 0
    assert report["streams"]["opened"] == 1 and report["errors"]["by_kind"] == {"http-404": 1}


@pytest.mark.parametrize(
    "args",
    [["not a url"], ["http://127.0.0.1:9/", "-H", "Authorization"], ["http://x/", "--json", "{"]],
)
def test_request_flags_fail_as_listen_fails(args: list[str]) -> None:
    listen = invoke("listen", *args)
    status, _, err = bench(*args)
    assert status == listen.status == 2
    assert err == listen.stderr.replace("listen", "bench")


def test_clock_latency_needs_no_flag(serve: str) -> None:
    status, report, _ = bench(f"{serve}/clock?interval=0.02&limit=10", "-c", "2", "--no-reconnect")
    assert status == 0
    assert report["events"]["total"] == 20
    latency = report["latency_ms"]
    assert latency["count"] == 20
    assert 0 <= latency["p50"] < 50


def test_fan_out_latency_through_publish_and_subscribe(serve: str) -> None:
    status, report, _ = bench(
        f"{serve}/subscribe",
        "-c",
        "3",
        "--duration",
        "1.5",
        "--publish",
        f"{serve}/publish",
        "--publish-rate",
        "20",
    )
    assert status == 0, report
    published = report["publish"]
    assert published["errors"] == {}
    assert published["sent"] >= 10
    # Every publish reaches every subscriber, each carrying its due time.
    assert report["latency_ms"]["count"] == report["events"]["total"] == 3 * published["sent"]
    assert report["latency_ms"]["p50"] < 100


def test_serve_caps_are_named_with_the_flag_to_raise(serve: str) -> None:
    status, report, _ = bench(f"{serve}/clock", "-c", "5", "--duration", "1", "--no-reconnect")
    assert status == 0
    assert report["errors"]["by_kind"] == {"http-503": 2}
    assert "raise its --max-streams" in report["hints"][0]
    with serving_args("-q", "--rate-limit", "1") as limited:
        status, report, _ = bench(
            f"{limited.url}/clock", "-c", "4", "--duration", "1", "--no-reconnect"
        )
    assert report["errors"]["by_kind"]["http-429"] >= 2
    assert any("raise its --rate-limit" in hint for hint in report["hints"])


def test_the_table_names_every_figure(serve_socket: Serve) -> None:
    url = serve_socket(three_events).url
    done = invoke("bench", url, "-c", "1", "--no-reconnect", "-f", "table")
    table = done.stdout.decode()
    for label in ("first event", "gap", "events", "reconnects", "resume", "errors"):
        assert label in table


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW_NS, NOW_NS),
        (NOW_NS // 1000, NOW_NS // 1000 * 1000),
        (NOW_NS // 1_000_000, NOW_NS // 1_000_000 * 1_000_000),
        (NOW_NS / 1e9, pytest.approx(NOW_NS, abs=1000)),
        (str(NOW_NS // 1_000_000), NOW_NS // 1_000_000 * 1_000_000),
        ("2025-11-24T16:00:00.123456789Z", 1_764_000_000_123_456_789),
        ("2025-11-24T17:00:00.5+01:00", 1_764_000_000_500_000_000),
        ("2025-11-24T16:00:00", None),  # no offset: a local time would be a guess
        ("soon", None),
        (True, None),
        (-5, None),
        (None, None),
    ],
)
def test_send_times_by_magnitude_or_rfc3339(value: object, expected: object) -> None:
    assert to_epoch_ns(value) == expected


@pytest.mark.parametrize(
    ("text", "report", "ok"),
    [
        ("ttfe.p99 < 500ms", {"ttfe_ms": {"p99": 499.0}}, True),
        ("ttfe.p99 < 0.5s", {"ttfe_ms": {"p99": 500.0}}, False),
        ("gap.max <= 2000us", {"gap_ms": {"max": 2.0}}, True),
        ("latency.p50 < 5", {"latency_ms": None}, False),
        ("errors == 0", {"errors": {"total": 0, "by_kind": {}}}, True),
        ("errors.http-503 < 3", {"errors": {"total": 3, "by_kind": {"http-503": 3}}}, False),
        ("gaps == 0", {"resume": {"gaps": 1, "duplicates": 0}}, False),
        ("events_per_s >= 100", {"events": {"total": 500, "per_s": 100.0}}, True),
    ],
)
def test_thresholds_read_the_report(text: str, report: dict[str, Any], ok: bool) -> None:
    assert parse_threshold(text).check(cast(Report, report))["ok"] is ok


def test_a_malformed_threshold_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not 'METRIC"):
        parse_threshold("p99 of ttfe under 5")


def test_publish_takes_a_short_url_as_the_stream_url_does(serve: str) -> None:
    port = serve.rsplit(":", 1)[1].rstrip("/")
    status, report, _ = bench(
        f":{port}/subscribe",
        *("-c", "1", "--duration", "1"),
        *("--publish", f":{port}/publish", "--publish-rate", "20"),
    )
    assert status == 0, report
    assert report["publish"]["errors"] == {} and report["publish"]["sent"] >= 1
    assert report["events"]["total"] >= 1


def test_a_204_ends_a_stream_as_the_server_asked_and_is_no_error(serve_socket: Serve) -> None:
    """As in listen: 204 tells the stream to stop reconnecting; bench counts it, not as an
    error, and the run ends when every stream has ended."""

    def first(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + b"retry: 10\nid: 1\ndata: a\n\nid: 2\ndata: b\n\n")

    def stop(conn: socket.socket, request: Request) -> None:
        assert request.headers.get("last-event-id") == "2"
        conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    status, report, err = bench(serve_socket(by_connection(first, stop)).url, "-c", "1")
    assert status == 0, err
    assert report["errors"] == {"total": 0, "by_kind": {}}
    assert report["streams"]["stopped_by_server"] == 1 and report["reconnects"] == 1
    assert report["events"]["total"] == 2
    assert report["duration_s"] < 8  # ended with its stream, not at the default 10 s


def test_the_publisher_waits_out_the_ramp_before_starting_anyway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream that never opens holds the publisher back PUBLISH_WAIT past the ramp's
    length, not PUBLISH_WAIT alone: a long ramp is not cut short by an early publish."""
    import asyncio
    import time

    from sse_cli.loadtest import engine

    monkeypatch.setattr(engine, "PUBLISH_WAIT", 0.1)
    never_all_open = 9

    def waited(ramp: float | None) -> float:
        start = time.monotonic()
        asyncio.run(engine.wait_open(lambda: never_all_open, 10, ramp))
        return time.monotonic() - start

    assert waited(None) < 0.4 + 0.6  # PUBLISH_WAIT and a busy machine's slack
    assert waited(20.0) >= 0.5  # 10 streams at 20 a second: 0.5 s of ramp, then more


def test_the_publisher_starts_as_soon_as_every_stream_is_open() -> None:
    import asyncio
    import time

    from sse_cli.loadtest import engine

    start = time.monotonic()
    asyncio.run(engine.wait_open(lambda: 10, 10, 0.001))  # a ramp of hours: no wait at all
    assert time.monotonic() - start < engine.PUBLISH_WAIT
