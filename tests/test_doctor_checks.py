"""The doctor's checks on byte-exact streams: scripted loopback sockets that send what a
broken server sends (a restart on every reconnect, malformed lines, stale send times, an
HTTP/1.0 head), and the Content-Encoding decoder on its own."""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from support.sockets import Handler, Request, SocketServer, head, steps

from sse_cli.cli import run_cli
from sse_cli.doctor.probe import _Inflater

Serve = Callable[[Handler], SocketServer]


def check(capsys: pytest.CaptureFixture[str], url: str, check_id: str) -> tuple[int, Any]:
    """Watch `url` for 1.5 s in-process; the exit status and the one check's record."""
    code = run_cli(["doctor", url, "--duration", "1.5", "-f", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    report = json.loads(out)
    return code, next(c for c in report["checks"] if c["id"] == check_id)


def test_a_stream_that_starts_over_on_reconnect_fails_resume(
    capsys: pytest.CaptureFixture[str], serve_socket: Serve, gate: threading.Event
) -> None:
    server = serve_socket(steps(b"id: 1\ndata: a\n\nid: 2\ndata: b\n\n", gate))
    code, resume = check(capsys, server.url, "resume")
    assert (code, resume["verdict"]) == (9, "fail"), resume
    assert resume["summary"] == "after Last-Event-ID 2, the stream repeated from id 1"
    assert server.requests[-1].headers["last-event-id"] == "2"


def test_malformed_lines_warn_on_wire_with_the_decoder_s_codes(
    capsys: pytest.CaptureFixture[str], serve_socket: Serve, gate: threading.Event
) -> None:
    server = serve_socket(steps(b"retry: +5\nbogus: x\ndata: a\n\n", gate))
    code, wire = check(capsys, server.url, "wire")
    assert (code, wire["verdict"]) == (0, "warn"), wire
    assert {"invalid-retry", "unknown-field"} <= set(wire["diagnostics"])


def test_events_sent_long_before_they_arrive_fail_buffering(
    capsys: pytest.CaptureFixture[str], serve_socket: Serve, gate: threading.Event
) -> None:
    stale = time.time_ns() - 3_000_000_000  # sent 3 s before the watch starts
    server = serve_socket(steps(f'data: {{"t_ns": {stale}}}\n\n'.encode(), gate))
    code, buffering = check(capsys, server.url, "buffering")
    assert (code, buffering["verdict"]) == (9, "fail"), buffering
    assert buffering["probes"]["curl"]["delay_ms"]["p50"] >= 3000


def test_an_http_1_0_head_without_cache_control_warns_on_headers(
    capsys: pytest.CaptureFixture[str], serve_socket: Serve, gate: threading.Event
) -> None:
    def old(conn: Any, request: Request) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\n\n")
        gate.wait(15)

    server = serve_socket(old)
    code, headers = check(capsys, server.url, "headers")
    assert (code, headers["verdict"]) == (0, "warn"), headers
    assert "HTTP/1.0" in headers["summary"] and "Cache-Control (none)" in headers["summary"]


def test_the_checklist_on_a_terminal_format(
    capsys: pytest.CaptureFixture[str], serve_socket: Serve, gate: threading.Event
) -> None:
    server = serve_socket(steps(b"id: 1\ndata: a\n\n", gate))
    code = run_cli(["doctor", server.url, "--duration", "1", "-f", "pretty"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"{server.url}: WARN (watched ")
    assert " ✔ connect " in out and " ! headers " in out
    assert "fix: send 'Cache-Control: no-cache'" in out


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", lambda b: zlib.compressobj(wbits=31)),
        ("deflate", lambda b: zlib.compressobj(wbits=15)),
        ("deflate", lambda b: zlib.compressobj(wbits=-15)),  # raw, as some servers send it
    ],
)
def test_each_content_encoding_decodes_piece_by_piece(
    coding: str, compress: Callable[[bytes], Any]
) -> None:
    text = b"".join(b"data: %d\n\n" % n for n in range(200))
    packer = compress(text)
    wire = packer.compress(text) + packer.flush()
    inflate = _Inflater.for_coding(coding)
    assert inflate is not None
    assert b"".join(inflate.feed(wire[i : i + 7]) for i in range(0, len(wire), 7)) == text


def test_brotli_is_seen_but_not_decoded() -> None:
    assert _Inflater.for_coding("br") is None


def test_a_brotli_body_is_timed_by_its_bytes_and_warns_on_compression(
    capsys: pytest.CaptureFixture[str], serve_socket: Serve, gate: threading.Event
) -> None:
    def brotli_for_browsers(conn: Any, request: Request) -> None:
        if "br" in request.headers.get("accept-encoding", ""):
            # Not real Brotli: the doctor does not decode br, only sees it arrive.
            conn.sendall(head(headers={"Content-Encoding": "br"}) + b"\x8b\x02\x80opaque")
        else:
            conn.sendall(head() + b"data: a\n\ndata: b\n\n")
        gate.wait(15)

    server = serve_socket(brotli_for_browsers)
    code, compression = check(capsys, server.url, "compression")
    assert (code, compression["verdict"]) == (0, "warn"), compression
    assert (compression["content_encoding"], compression["decoded"]) == ("br", False)


def test_a_server_that_never_answers_exits_3_after_the_watch(
    capsys: pytest.CaptureFixture[str], serve_socket: Serve, gate: threading.Event
) -> None:
    def silent(conn: Any, request: Request) -> None:
        gate.wait(15)  # no head until the test is over

    server = serve_socket(silent)
    code = run_cli(["doctor", server.url, "--duration", "1"])
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    assert err.splitlines() == [
        f"sse-cli: error: no response head from {server.url} in 1 s of watching "
        "(the server accepted the connection but never answered)"
    ]
