"""`listen --record FILE`: what the recording holds, what it leaves out, and its refusals."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from support.cli import WAIT, finish, invoke, read_line, start
from support.sockets import Handler, SocketServer, by_connection, steps, stream

from sse_cli.protocol.decoder import Event
from sse_cli.recording.reader import read_recording

SAMPLE = b"retry: 2000\n\nid: 1\ndata: one\n\n: beat\n\nevent: update\ndata: a\ndata: b\n\n"


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_recording_holds_every_item_with_offsets(
    serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    server = serve_socket(stream(SAMPLE[:20], SAMPLE[20:]))
    out = tmp_path / "r.jsonl"
    done = invoke("listen", server.url, "--no-reconnect", "--record", str(out), "-e", "update")
    assert done.status == 0, done.stderr
    lines = records(out)
    assert lines[0] == {"format": "sse-cli recording", "version": 1}
    assert lines[1]["type"] == "request" and lines[2]["type"] == "response"
    assert lines[2]["status"] == 200
    kinds = [(r["type"], r.get("data", r.get("text", r.get("retry")))) for r in lines[3:]]
    # The filter (-e update) let one event through; the recording holds the wire.
    assert kinds == [
        ("block", 2000),
        ("event", "one"),
        ("comment", " beat"),
        ("event", "a\nb"),
        ("end", None),
    ]
    offsets = [int(str(r["at_us"])) for r in lines[3:]]
    assert offsets == sorted(offsets)
    recording = read_recording(out)
    assert [e.item for e in recording.responses[0].entries][1] == Event("message", "one", "1")


def test_secrets_never_reach_the_recording(
    serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    server = serve_socket(stream(b"data: x\n\n"))
    out = tmp_path / "r.jsonl"
    url = server.url + "v1/x?api_key=YSECRET&page=2&access_token=ZSECRET"
    done = invoke(
        "listen", url, "--no-reconnect", "--record", str(out),
        "-H", "Authorization: Bearer XSECRET", "-H", "Cookie: c=CSECRET",
    )  # fmt: skip
    assert done.status == 0, done.stderr
    text = out.read_text()
    for secret in ("XSECRET", "YSECRET", "ZSECRET", "CSECRET"):
        assert secret not in text
    assert "page=2" in text and "Authorization" in text


def test_reconnects_are_recorded_with_each_response(
    serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    first = stream(b"retry: 10\nid: 1\ndata: a\n\n")
    server = serve_socket(by_connection(first, stream(b"id: 2\ndata: b\n\n")))
    out = tmp_path / "r.jsonl"
    done = invoke("listen", server.url, "--record", str(out), "-n", "2")
    assert done.status == 0, done.stderr
    assert [r["type"] for r in records(out)[2:]] == [
        "response", "event", "reconnect", "response", "event", "end",
    ]  # fmt: skip
    assert server.wait_requests(2)[1].headers["last-event-id"] == "1"


def test_an_existing_file_is_refused_unless_force(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text("keep me")
    done = invoke("listen", "http://127.0.0.1:9/", "--record", str(out))
    assert done.status == 2
    assert "exists" in done.stderr and "--force" in done.stderr
    assert out.read_text() == "keep me"


def test_record_to_stdout_is_refused() -> None:
    done = invoke("listen", "http://127.0.0.1:9/", "--record", "-")
    assert done.status == 2
    assert done.stderr.count("\n") == 1 and "stdout" in done.stderr


def assert_valid_up_to_the_last_event(out: Path) -> None:
    """The recording reads back, holds the whole event, and not the one cut short."""
    recording = read_recording(out)
    events = [e.item for r in recording.responses for e in r.entries if type(e.item) is Event]
    assert events[0] == Event("message", "one", "1")
    assert all(e.data != "tw" for e in events)


def test_a_recording_ended_by_ctrl_c_is_valid_up_to_the_last_event(
    serve_socket: Callable[[Handler], SocketServer],
    gate: threading.Event,
    spawned: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """A real process: the signal is the point."""
    server = serve_socket(steps(b"id: 1\ndata: one\n\nid: 2\ndata: tw", gate))
    out = tmp_path / "r.jsonl"
    proc = spawned("listen", server.url, "-f", "json", "--record", str(out))
    assert proc.stdout is not None
    assert json.loads(read_line(proc.stdout))["data"] == "one"
    proc.send_signal(signal.SIGINT)
    status, _, err = finish(proc, WAIT)
    assert status == 130, err
    assert_valid_up_to_the_last_event(out)


def test_a_recording_ended_by_a_closed_pipe_is_valid_up_to_the_last_event(
    serve_socket: Callable[[Handler], SocketServer], gate: threading.Event, tmp_path: Path
) -> None:
    server = serve_socket(steps(b"retry: 10\n\nid: 1\ndata: one\n\nid: 2\ndata: tw", gate))
    out = tmp_path / "r.jsonl"
    running = start("listen", server.url, "-f", "json", "--record", str(out))
    assert json.loads(read_line(running.stdout))["data"] == "one"
    running.stdout.close()  # `| head -n 1`
    gate.set()  # the stream ends mid-event; the reconnect's first event meets the closed pipe
    result = running.finish()
    assert result.status == 0, result.stderr
    assert_valid_up_to_the_last_event(out)


def test_a_recording_that_cannot_be_written_ends_in_one_line_not_a_traceback(
    serve_socket: Callable[[Handler], SocketServer],
) -> None:
    server = serve_socket(stream(SAMPLE))
    done = invoke("listen", server.url, "--record", "/dev/full", "--force", "--no-reconnect")
    assert done.status == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "cannot write --record file '/dev/full'" in done.stderr
    assert "Traceback" not in done.stderr and "bug" not in done.stderr
