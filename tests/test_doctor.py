"""`sse-cli doctor` against `sse-cli serve` and scripted sockets: its endings and exit statuses.

The proxies' cases are in test_doctor_proxies.py. Every server is on loopback and in this
process, and every run too (`run_cli`, `invoke`): Ctrl-C is a real SIGINT to this process
while doctor runs in its main thread, and a terminal is an in-memory stream that says it is
one, replayed through a VT100 emulator.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from support.cli import WAIT, environment, invoke
from support.serve import serve_flags, serving, stats
from support.sockets import Handler, SocketServer, stream
from support.waiting import wait_until

from sse_cli.cli import run_cli

Serve = Callable[[Handler], SocketServer]
APP = "http://app.test"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """`sse-cli serve` with CORS for one origin, in this process, for this module's tests."""
    settings, _ = serve_flags("--cors-origin", APP)
    with serving(**settings) as server:
        yield server.url


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    """`sse-cli doctor ARGS -f json` in-process: the status, the report (or None), stderr."""
    code = run_cli(["doctor", *args, "-f", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out) if out.strip() else None, err


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {check["id"]: check["verdict"] for check in report["checks"]}


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sse-cli: error: ")
    return lines[0]


def test_a_refused_port_exits_3_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    began = time.monotonic()
    code, report, err = doctor(capsys, f"http://127.0.0.1:{port}/", "--duration", "8")
    assert (code, report) == (3, None)
    assert "connection refused" in one_error_line(err)
    assert time.monotonic() - began < 2


@pytest.mark.parametrize(
    ("status", "content_type", "code", "words"),
    [
        (404, "text/plain", 4, "HTTP 404"),
        (200, "text/html", 6, "Content-Type text/html"),
        (201, "text/event-stream", 6, "201 Created, not 200"),
        (503, "text/plain", 5, "HTTP 503"),
    ],
)
def test_no_stream_exits_as_listen_with_one_line(
    capsys: pytest.CaptureFixture[str],
    serve_socket: Serve,
    status: int,
    content_type: str,
    code: int,
    words: str,
) -> None:
    server = serve_socket(
        stream(b"data: not for you\n\n", status=status, content_type=content_type)
    )
    got, report, err = doctor(capsys, server.url, "--duration", "3")
    assert (got, report) == (code, None)
    assert words in one_error_line(err)


def test_tls_to_a_plain_port_exits_3_naming_http(
    capsys: pytest.CaptureFixture[str], served: str
) -> None:
    code, report, err = doctor(capsys, served.replace("http:", "https:") + "/clock")
    assert (code, report) == (3, None)
    assert "did not answer TLS; is it http://" in one_error_line(err)


def test_a_stream_without_ids_warns_on_resume_and_exits_0(
    capsys: pytest.CaptureFixture[str], served: str
) -> None:
    message = '{"message": "no ids on this stream"}'
    secret = ("-H", "Authorization: Bearer s3cret")
    code, report, _ = doctor(
        capsys, served + "/sse?delay=0.1", "--json", message, *secret, "--duration", "2"
    )
    assert code == 0
    assert "s3cret" not in json.dumps(report)
    assert verdicts(report)["resume"] == "warn"
    assert report["verdict"] == "warn"


@pytest.mark.parametrize(
    ("origin", "verdict", "code"), [(APP, "pass", 0), ("http://other.test", "fail", 9)]
)
def test_cors_for_the_allowed_and_for_another_origin(
    capsys: pytest.CaptureFixture[str], served: str, origin: str, verdict: str, code: int
) -> None:
    got, report, err = doctor(capsys, served + "/counter", "--origin", origin, "--duration", "1.5")
    assert got == code
    cors = next(c for c in report["checks"] if c["id"] == "cors")
    assert cors["verdict"] == verdict, cors
    if verdict == "fail":
        assert origin in cors["summary"] and cors["fix"]
        assert "checks failed: cors" in one_error_line(err)
    browser = next(p for p in report["probes"] if p["name"] == "browser")
    assert browser["request_headers"]["Origin"] == origin


def test_serve_s_own_streams_pass_and_duration_bounds_the_watch(served: str) -> None:
    """Several watches at once, each on its own thread: each exits 0, and --duration 8 ends
    in time."""
    runs = {
        "/clock": ("--duration", "8"),
        "/counter": ("--duration", "3"),
        "/": ("--duration", "4"),
        "/showcase": ("--duration", "3"),
        "/subscribe": ("--duration", "3"),
    }
    began = time.monotonic()
    ended = {}
    with ThreadPoolExecutor(len(runs)) as pool:
        watches = {
            path: pool.submit(invoke, "doctor", served + path, *args, timeout=20)
            for path, args in runs.items()
        }
        for path, watch in watches.items():
            done = watch.result()
            ended[path] = time.monotonic() - began
            assert "Traceback" not in done.stderr
            report = json.loads(done.stdout)
            failed = {k: v for k, v in verdicts(report).items() if v == "fail"}
            assert (done.status, failed) == (0, {}), (path, report["checks"], done.stderr)
            assert report["verdict"] == "pass", (path, report["checks"])
            if path == "/clock":
                assert report["duration_s"] <= 8.3, report["duration_s"]
    # The watch's own clock holds the tight bound (duration_s above); the wall clock catches
    # an exit that hangs after it. No interpreter starts: 8.1-8.2 s beside a CPU-bound job.
    assert ended["/clock"] < 8 + 2, ended


def test_ctrl_c_during_the_watch_exits_130_with_one_line(served: str) -> None:
    """A real SIGINT to this process while doctor runs in its main thread, where run_async
    handles it as in a `sse-cli` process."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("a signal is handled only by the main thread")
    before = stats(served)["streams_started"]
    env = environment()

    def interrupt() -> None:
        wait_until(lambda: stats(served)["streams_started"] >= before + 2, what="both probes")
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=interrupt, daemon=True)
    interrupter.start()
    status = run_cli(["doctor", served + "/clock", "--duration", "20"], env)
    interrupter.join(WAIT)
    assert isinstance(env.stdout, io.BytesIO) and isinstance(env.stderr, io.StringIO)
    assert (status, env.stdout.getvalue()) == (130, b"")
    assert env.stderr.getvalue().splitlines() == ["sse-cli: interrupted"]


def test_on_a_terminal_a_live_line_while_watching_then_the_checklist(served: str) -> None:
    """stdout and stderr terminals 160 columns wide: the live line on stderr, cleared at the
    end, then the checklist on stdout, both replayed in turn through a VT100 emulator (pyte)
    for the final screen, as a terminal would show them."""
    import pyte

    done = invoke(
        "doctor", served + "/clock", "--duration", "3", tty=True, COLUMNS="160", LINES="40"
    )
    assert done.status == 0, done.stderr
    live = r"\r\x1b\[2Kwatching \S+/clock · curl: 200, \d+ events · browser: 200, \d+ events"
    assert re.search(live, done.stderr), done.stderr
    screen = pyte.Screen(160, 40)
    terminal = pyte.Stream(screen)
    for written in (done.stderr, done.text):
        terminal.feed(written.replace("\n", "\r\n"))  # as a terminal's onlcr does
    lines = [line.rstrip() for line in screen.display if line.strip()]
    assert lines[0] == f"{served}/clock: PASS (watched 3.0 s)", lines  # the probes' watch
    assert any(line.startswith(" ✔ buffering    each event arrived on time") for line in lines)
    assert not any("watching" in line for line in lines), lines
