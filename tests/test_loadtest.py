"""`bench`'s engine against scripted loopback servers with a known schedule.

Each server sends a known number of events at known gaps, cuts or refuses some connections,
and the report must count exactly what was sent, by kind, with times that match the
schedule within a tolerance that a busy 2-core machine keeps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import WAIT, invoke
from support.sockets import Handler, Request, SocketServer, by_connection, head

from sse_cli.loadtest.metrics import Metrics
from sse_cli.loadtest.options import BenchOptions, BenchSettings
from sse_cli.loadtest.report import build_report
from sse_cli.loadtest.runner import run_bench
from sse_cli.loadtest.stream import PIECE
from sse_cli.request import ListenOptions, RequestFlags, build_options

#: Every test here runs on the C twins of the hot loops, then on the Python ones.
pytestmark = pytest.mark.usefixtures("twins")

Serve = Callable[[Handler], SocketServer]
K = 5  # events per stream
GAP = 0.05  # seconds between two events
FIRST = 0.1  # seconds from the response head to the first event


def run(url: str, **load: Any) -> dict[str, Any]:
    """The engine in this process, as `bench` runs it; the JSON report."""
    return run_request(build_options(RequestFlags(url=url)), **load)


def run_request(request: ListenOptions, *, connections: int = 1, **load: Any) -> dict[str, Any]:
    from sse_cli.loadtest.engine import run_load

    load.setdefault("duration", 10.0)
    options = bench_options(request, connections=connections, **load)
    metrics = Metrics()
    elapsed = asyncio.run(run_load(options, metrics))
    return dict(build_report(options, metrics, elapsed))


def bench_options(
    request: ListenOptions, reconnect: bool | None = None, **load: Any
) -> BenchOptions:
    """The options of a run with these load flags, its report in JSON."""
    if reconnect is not None:
        request = dataclasses.replace(request, reconnect=reconnect)
    return BenchSettings(RequestFlags(url=request.url), output_format="json", **load).check(request)


def three_events(conn: socket.socket, request: Request) -> None:
    conn.sendall(head() + event(1) + event(2) + event(3))


def event(n: int) -> bytes:
    return b'id: %d\ndata: {"n": %d}\n\n' % (n, n)


def scheduled(conn: socket.socket, request: Request) -> None:
    """K events with ids 1..K: the first FIRST s after the head, then one every GAP s."""
    conn.sendall(head())
    time.sleep(FIRST)
    for n in range(1, K + 1):
        if n > 1:
            time.sleep(GAP)
        conn.sendall(event(n))


def refused_503(conn: socket.socket, request: Request) -> None:
    body = b"too many open streams: the limit is 2"
    conn.sendall(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\nRetry-After: 1\r\n\r\n%s"
        % (len(body), body)
    )


def not_a_stream(conn: socket.socket, request: Request) -> None:
    conn.sendall(head(200, "text/html") + b"<html></html>")


def reset_mid_event(conn: socket.socket, request: Request) -> None:
    """Two events, half a third, then a TCP reset."""
    conn.sendall(head() + event(1) + event(2) + b"data: half")
    time.sleep(0.05)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_counts_and_times_match_the_schedule(serve_socket: Serve) -> None:
    server = serve_socket(scheduled)
    report = run(server.url, connections=4, reconnect=False)
    assert report["events"]["total"] == 4 * K
    assert report["bytes"]["total"] == 4 * sum(len(event(n)) for n in range(1, K + 1))
    assert report["errors"]["total"] == 0
    assert report["streams"] == {"opened": 4, "max_open": 4, "stopped_by_server": 0}
    ttfe, gap = report["ttfe_ms"], report["gap_ms"]
    assert ttfe["count"] == 4 and gap["count"] == 4 * (K - 1)
    # The server's pauses bound the times from below; from above, only a loose bound (a busy
    # machine delays reads), which still catches a wrong unit or a time counted from the start.
    assert FIRST * 1000 - 5 <= ttfe["p50"] <= FIRST * 1000 + 1000
    assert GAP * 1000 - 5 <= gap["p50"] <= GAP * 1000 + 1000
    assert gap["p99"] <= gap["max"] < GAP * 1000 + 2000
    assert report["resume"] == {"duplicates": 0, "gaps": 0}
    assert report["per_stream_events_per_s"]["min"] > 0


def test_errors_are_counted_by_kind(serve_socket: Serve) -> None:
    handler = by_connection(refused_503, refused_503, not_a_stream, reset_mid_event, scheduled)
    server = serve_socket(handler)
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connection refused
    report = run(server.url, connections=5, reconnect=False, ramp=50.0)
    assert report["errors"]["by_kind"] == {
        "http-503": 2,
        "not-event-stream": 1,
        "reset": 1,
        "wire:incomplete-event": 1,
    }
    assert report["events"]["total"] == 2 + K
    assert "raise its --max-streams" in report["hints"][0]
    refused = run(f"http://127.0.0.1:{port}/", connections=3, reconnect=False)
    assert refused["errors"]["by_kind"] == {"refused": 3}
    assert refused["ttfe_ms"] is None


def test_a_bad_resume_shows_one_duplicate_and_one_gap(serve_socket: Serve) -> None:
    first = b"retry: 10\n\n" + event(1) + event(2) + event(3)
    # Asked to resume after 3, the server repeats 3 and skips 4.
    second = event(3) + event(5) + event(6)

    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + (first if request.index == 0 else second))

    server = serve_socket(handler)
    report = run(server.url, events_per_stream=6, duration=None)
    assert report["resume"] == {"duplicates": 1, "gaps": 1}
    assert report["events"]["total"] == 6
    assert report["reconnects"] == 1
    assert server.requests[1].headers["last-event-id"] == "3"


def test_a_good_resume_is_clean(serve_socket: Serve) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        start = int(request.headers.get("last-event-id", "0")) + 1
        conn.sendall(
            head() + b"retry: 10\n\n" + b"".join(event(n) for n in range(start, start + 3))
        )

    server = serve_socket(handler)
    report = run(server.url, connections=2, events_per_stream=9, duration=None)
    assert report["resume"] == {"duplicates": 0, "gaps": 0}
    assert report["events"]["total"] == 18
    assert report["reconnects"] == 4


def test_chunked_and_content_length_bodies_decode_alike(serve_socket: Serve) -> None:
    """Both end where the body ends: bench does not wait for the server to close, which it
    does only once the run is over."""
    body = b"".join(event(n) for n in range(1, 11)) + "data: é\n\n".encode()
    run_over = threading.Event()

    def chunked(conn: socket.socket, request: Request) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        # Chunks of 7 bytes, each in its own write, so events and the é straddle them.
        for i in range(0, len(body), 7):
            piece = body[i : i + 7]
            conn.sendall(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.001)
        conn.sendall(b"0\r\n\r\n")
        run_over.wait(WAIT)  # the body ended: the client must not wait for the close

    def sized(conn: socket.socket, request: Request) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n"
            % len(body)
            + body
            + b"ignored"
        )
        run_over.wait(WAIT)

    for handler in (chunked, sized):
        run_over.clear()
        server = serve_socket(handler)
        report = run(server.url, reconnect=False)
        run_over.set()
        assert report["events"]["total"] == 11, handler.__name__
        assert report["bytes"]["total"] == len(body)
        assert report["errors"]["total"] == 0
        # Ended by the body: waiting for the close would run out the whole 10 s duration.
        assert report["duration_s"] < 5.0


def test_latency_from_a_field_in_the_data(serve_socket: Serve) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head())
        for _ in range(5):
            sent_ms = (time.time_ns() - 20_000_000) // 1_000_000  # sent 20 ms ago, in ms
            conn.sendall(b'data: {"meta": {"sent": %d}}\n\n' % sent_ms)
            time.sleep(0.01)

    server = serve_socket(handler)
    report = run(server.url, reconnect=False, latency_field="meta.sent")
    latency = report["latency_ms"]
    assert latency["count"] == 5
    assert 19 <= latency["p50"] <= 60


def test_a_read_of_many_pieces_counts_every_event_once(serve_socket: Serve) -> None:
    """A body far larger than one piece (`stream.PIECE`), sent at once: every event is
    counted once, and the stream stops at --events-per-stream inside a read."""
    body = b"".join(event(n) for n in range(1, 20_001))
    assert len(body) > 8 * PIECE

    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + body)

    server = serve_socket(handler)
    report = run(server.url, reconnect=False)
    assert report["events"]["total"] == 20_000
    assert report["bytes"]["total"] == len(body)
    assert report["gap_ms"]["count"] == 19_999
    assert report["resume"] == {"duplicates": 0, "gaps": 0}
    cut = run(server.url, events_per_stream=12_345, duration=None)
    assert cut["events"]["total"] == 12_345
    assert cut["errors"]["total"] == 0


def test_the_known_send_time_is_read_however_the_chunks_cut_it(serve_socket: Serve) -> None:
    """Without --latency-field, `t_ns` is looked for once per chunk, in its bytes: a marker
    cut between two reads, or read two reads before its event ends, still counts. Each
    latency lies between the 20 ms the marker was back-dated by and the time since it was
    made, however slow the machine."""
    stamped: list[int] = []

    def handler(conn: socket.socket, request: Request) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent = time.time_ns() - 20_000_000  # 20 ms ago
        stamped.append(sent)
        pieces = [
            head(),
            b'data: {"seq": 1, "t_',  # the marker cut in two
            b'ns": %d}\n\n' % sent,
            b'data: {"t_ns": %d, "pad": "' % sent,  # the marker two reads before the end
            b"x" * 100,
            b'"}\n\n',
            b'data: {"seq": 3}\n\ndata: {"seq": 4, "t_ns": %d}\n\n' % sent,  # one of two
        ]
        for piece in pieces:
            conn.sendall(piece)
            time.sleep(0.02)  # the schedule: one read each

    server = serve_socket(handler)
    report = run(server.url, reconnect=False)
    assert report["events"]["total"] == 4
    latency = report["latency_ms"]
    assert latency["count"] == 3
    since_ms = (time.time_ns() - stamped[0]) / 1e6
    assert 19 <= latency["p50"] <= since_ms


def test_workers_merge_their_histograms_exactly(serve_socket: Serve) -> None:
    server = serve_socket(scheduled)
    request = build_options(RequestFlags(url=server.url))
    options = bench_options(request, connections=4, workers=2, reconnect=False, duration=10.0)
    report: dict[str, Any] = dict(run_bench(options))
    assert report["events"]["total"] == 4 * K
    assert report["ttfe_ms"]["count"] == 4
    assert report["gap_ms"]["count"] == 4 * (K - 1)
    assert GAP * 1000 - 5 <= report["gap_ms"]["p50"] <= GAP * 1000 + 30


@pytest.mark.parametrize("rate", [20.0])
def test_publisher_measures_from_when_each_send_was_due(serve_socket: Serve, rate: float) -> None:
    posts: list[bytes] = []

    def publish(conn: socket.socket, request: Request) -> None:
        posts.append(request.body)
        if len(posts) == 2:
            time.sleep(0.3)  # one slow answer: the sends due meanwhile must not look fast
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    def stream(conn: socket.socket, request: Request) -> None:
        conn.sendall(head() + b": open\n\n")
        time.sleep(1.1)

    streams, publisher = serve_socket(stream), serve_socket(publish)
    report = run(
        streams.url,
        reconnect=False,
        duration=1.0,
        publish=publisher.url + "publish",
        publish_rate=rate,
    )
    sent = report["publish"]
    # A send still in flight when the run ends is counted as sent, maybe not received.
    assert len(posts) <= sent["sent"] <= len(posts) + 1
    assert sent["sent"] == pytest.approx(rate * 1.0, abs=3)
    assert sent["errors"] == {}
    assert sent["latency_ms"]["max"] >= 250
    assert b'"t_ns": ' in posts[0]


class TlsSocketServer(SocketServer):
    """`SocketServer` behind TLS (a trustme CA); a failed handshake drops the connection."""

    context: ssl.SSLContext

    def _serve(self, conn: socket.socket) -> None:
        try:
            wrapped = self.context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        super()._serve(wrapped)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/"


def test_tls_is_verified_with_cacert_or_skipped_with_insecure(tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = TlsSocketServer(three_events)
    server.context = context
    with server:
        untrusted = run(server.url, reconnect=False)
        assert untrusted["errors"]["by_kind"] == {"tls-certificate": 1}
        for flags in (
            RequestFlags(server.url, cacert=ca_file),
            RequestFlags(server.url, insecure=True),
        ):
            report = run_request(build_options(flags), reconnect=False)
            assert report["events"]["total"] == 3, flags
            assert report["errors"]["total"] == 0


def test_connect_and_idle_timeouts_are_errors_of_their_own(serve_socket: Serve) -> None:
    release = threading.Event()

    def silent(conn: socket.socket, request: Request) -> None:
        if request.index == 0:
            release.wait(WAIT)  # no response head at all
        else:
            conn.sendall(head() + event(1))
            release.wait(WAIT)  # then nothing

    server = serve_socket(silent)
    flags = RequestFlags(server.url, connect_timeout=0.3, idle_timeout=0.3)
    try:
        report = run_request(build_options(flags), connections=2, ramp=20.0, reconnect=False)
    finally:
        release.set()
    assert report["errors"]["by_kind"] == {"timeout": 1, "idle-timeout": 1}
    assert report["events"]["total"] == 1
    assert report["duration_s"] < 3


def test_the_live_view_draws_on_a_terminal(serve_socket: Serve) -> None:
    """In-process, stdout and stderr terminals (test_terminal's smoke test has a real one)."""

    def slow(conn: socket.socket, request: Request) -> None:
        conn.sendall(head())
        for n in range(1, 11):
            conn.sendall(event(n))
            time.sleep(0.1)

    server = serve_socket(slow)
    result = invoke(
        "bench", server.url, "-c", "2", "--no-reconnect", tty=True, TERM="xterm", COLUMNS="120"
    )
    assert result.status == 0, result.stderr
    assert "streams open" in result.stderr  # the live view, on stderr
    assert "first event" in result.text  # the report's table, on stdout


@pytest.mark.parametrize(("fast", "module"), [(True, "uvloop"), (False, "asyncio")])
def test_bench_runs_on_uvloop_unless_told_not_to(fast: bool, module: str) -> None:
    from sse_cli.loadtest.runner import run_loop

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    assert run_loop(loop_module(), fast=fast) == module
