"""A replay of a stream that ended ends too (issue 27, point 1): a resume at or past the
recording's last event gets what the live server answered then, the 204 that stops
reconnecting, so `listen` exits 0 as it did live instead of reconnecting forever."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import WAIT, invoke
from support.serve import serve_flags, serving

REQUEST = "http://127.0.0.1:8000/counter?limit=10"
SSE = [["Content-Type", "text/event-stream; charset=utf-8"], ["Cache-Control", "no-cache"]]


def recording(tmp_path: Path, ending: int | None = 204) -> Path:
    """What `listen URL/counter?limit=10 --record` writes: ten events, the stream's close, and
    the reconnect answered `ending` (none: the recording stopped with the stream)."""
    lines: list[dict[str, object]] = [
        {"format": "sse-cli recording", "version": 1},
        {"type": "request", "method": "GET", "url": REQUEST, "headers": [], "body": None},
        {"type": "response", "status": 200, "reason": "OK", "url": REQUEST, "headers": SSE},
    ]
    for n in range(1, 11):
        event = {"type": "event", "at_us": 500, "event": "message", "data": str(n), "id": str(n)}
        lines.append({**event, "retry": None})
    if ending is None:
        lines.append({"type": "end", "at_us": 900, "reason": "the server closed the stream"})
    else:
        lines.append({"type": "reconnect", "at_us": 900, "delay_s": 3.2, "reason": "closed"})
        lines.append({"type": "response", "status": ending, "reason": "No Content",
                      "url": REQUEST, "headers": [["Cache-Control", "no-cache"]]})  # fmt: skip
        lines.append({"type": "end", "at_us": 200, "reason": "the server answered 204"})
    path = tmp_path / "counter.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[str]:
    """`serve -q --replay counter.jsonl`, in this process: its base URL."""
    settings, _ = serve_flags("-q", "--replay", str(recording(tmp_path)))
    with serving(**settings) as server:
        yield server.url


def status_of(url: str, last_id: str | None) -> int:
    headers = {} if last_id is None else {"Last-Event-ID": last_id}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as refused:
        refused.close()
        return refused.code


def test_a_resume_past_the_last_event_gets_the_recorded_204(replay: str) -> None:
    url = f"{replay}/counter?speed=0"
    assert status_of(url, None) == 200
    assert status_of(url, "9") == 200  # event 10 is still to come
    assert status_of(url, "10") == 204


@pytest.mark.parametrize("query", ["drop_after=3", "reconnects=1&drop_after=4"])
def test_listen_to_a_replay_of_a_finished_stream_exits_0(replay: str, query: str) -> None:
    done = invoke("listen", f"{replay}/counter?speed=0&{query}", "-f", "data", timeout=WAIT)
    assert done.status == 0, done.stderr
    assert done.stdout.split() == [str(n).encode() for n in range(1, 11)]
    assert "204" in done.stderr


def test_a_recording_that_stopped_with_its_stream_has_no_ending(tmp_path: Path) -> None:
    """Nothing recorded what came after: the replay keeps the live server's 200."""
    settings, _ = serve_flags("-q", "--replay", str(recording(tmp_path, ending=None)))
    with serving(**settings) as server:
        assert status_of(f"{server.url}/counter?speed=0", "10") == 200
