"""`serve --replay`: round trips of every sample, resume, faults, other inputs, bad files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.cli import invoke
from support.serve import serve_flags, serving, tapes
from support.sockets import Handler, SocketServer, stream

from sse_cli.protocol.decoder import Event
from sse_cli.recording.reader import read_recording

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.sse"))


@contextmanager
def replaying(*paths: Path, delay: float = 0.1) -> Iterator[tuple[str, list[str]]]:
    """`serve --replay PATH...` (a fresh app, in this process): its base URL and the banner
    lines it prints."""
    from sse_cli.serve.runner import banner

    with serving(replays=tapes(*paths), delay=delay, access_log=False) as server:
        yield server.url, banner(server.settings, server.port)


def events_of(output: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def record(url: str, out: Path, *args: str) -> bytes:
    done = invoke("listen", url, "--no-reconnect", "-f", "json", "--record", str(out), *args)
    assert done.status == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_round_trip_of_each_sample(
    name: str, serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    body = (SAMPLES / f"{name}.sse").read_bytes()
    server = serve_socket(stream(body))
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    original = record(server.url, first)
    expected = (SAMPLES / f"{name}.expected.ndjson").read_bytes()
    assert events_of(original) == events_of(expected)
    with replaying(first) as (base, _):
        replayed = record(base + "/", second)
    assert events_of(replayed) == events_of(original)
    # Recording the replay gives the same recording. The sample came in one burst, so its
    # replay does too: no event waits anywhere near a second (a per-event --delay would),
    # however busy the machine. Pacing itself is the test below and the bench's target.
    a, b = read_recording(first).responses, read_recording(second).responses
    assert len(a) == len(b) == 1
    assert [e.item for e in a[0].entries] == [e.item for e in b[0].entries]
    assert all(e.at_us < 1_000_000 for e in b[0].entries)


@pytest.mark.parametrize("speed", [1.0, 0.5, 4.0])
def test_each_write_waits_for_its_recorded_offset_over_the_speed(speed: float) -> None:
    """Never early, however fast the machine: a write comes no sooner than its offset from
    the start divided by `speed` (late is only the machine's load, which the bench measures)."""
    import asyncio
    import time

    from sse_cli.serve.replay import replay
    from sse_cli.serve.tapes import Step, Tape

    offsets_us = [0, 40_000, 40_000, 120_000, 200_000]
    steps = [Step(at, f"data: {n}\n\n".encode(), True, "") for n, at in enumerate(offsets_us)]
    tape = Tape("test", "GET", "/t", 200, (), steps)

    async def writes() -> list[tuple[float, bytes]]:
        start = time.perf_counter()
        return [(time.perf_counter() - start, chunk) async for chunk in replay(tape, speed=speed)]

    seen = asyncio.run(writes())
    # Steps due at the same moment go out as one write.
    assert [chunk for _, chunk in seen] == [
        b"data: 0\n\n",
        b"data: 1\n\ndata: 2\n\n",
        b"data: 3\n\n",
        b"data: 4\n\n",
    ]
    for (when, _), due_us in zip(seen, [0, 40_000, 120_000, 200_000], strict=True):
        assert when >= due_us / 1e6 / speed


def test_resume_with_drop_after_gets_every_event_once_in_order(
    serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    body = b"".join(b"id: %d\ndata: n%d\n\n" % (n, n) for n in range(1, 11))
    server = serve_socket(stream(body))
    recording = tmp_path / "ids.jsonl"
    record(server.url + "feed", recording)
    with replaying(recording) as (base, _):
        done = invoke("listen", base + "/feed?drop_after=3&speed=0", "-f", "json", "-n", "10")
    assert done.status == 0, done.stderr
    assert [e["data"] for e in events_of(done.stdout)] == [f"n{n}" for n in range(1, 11)]
    assert done.stderr.count("reconnecting") == 3


def test_faults_status_and_stall(
    serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    server = serve_socket(stream(b"id: 1\ndata: a\n\nid: 2\ndata: b\n\n"))
    recording = tmp_path / "r.jsonl"
    record(server.url + "s", recording)
    with replaying(recording) as (base, _):
        refused = invoke("listen", base + "/s?status=503", "--no-reconnect")
        assert refused.status == 5
        stalled = invoke(
            "listen", base + "/s?stall_after=1", "-f", "json", "--idle-timeout", "0.5",
            "--no-reconnect",
        )  # fmt: skip
        assert stalled.status == 3
        assert [e["data"] for e in events_of(stalled.stdout)] == ["a"]
        bad = invoke("listen", base + "/s?speed=fast", "--no-reconnect")
        assert bad.status == 4


def test_replay_wins_over_the_builtin_route_and_the_banner_says_so(
    serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    server = serve_socket(stream(b"data: recorded\n\n"))
    recording = tmp_path / "root.jsonl"
    record(server.url, recording)
    with replaying(recording) as (base, banner):
        done = invoke("listen", base + "/", "-f", "data", "--no-reconnect")
    assert done.stdout == b"recorded\n"
    assert any("replays" in line and "replaces the built-in" in line for line in banner)


def test_recordings_on_one_path_are_served_in_turn(
    serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    folder = tmp_path / "tapes"
    folder.mkdir()
    for word in ("one", "two"):
        server = serve_socket(stream(b"data: %s\n\n" % word.encode()))
        record(server.url + "x", folder / f"{word}.jsonl")
    with replaying(folder) as (base, _):
        got = [invoke("listen", base + "/x", "-f", "data", "--no-reconnect").stdout for _ in "123"]
    assert got == [b"one\n", b"two\n", b"one\n"]


def test_unknown_last_event_id_restarts_with_one_log_line(
    serve_socket: Callable[[Handler], SocketServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve_socket(stream(b"id: 1\ndata: a\n\n"))
    recording = tmp_path / "r.jsonl"
    record(server.url, recording)
    settings, _ = serve_flags("-q", "--replay", str(recording))
    capsys.readouterr()
    with serving(**settings) as served:  # its app writes its log lines to sys.stderr
        done = invoke(
            "listen", served.url + "/", "--last-event-id", "zz", "-f", "json", "--no-reconnect"
        )
        assert [e["data"] for e in events_of(done.stdout)] == ["a"]
    said = capsys.readouterr().err
    assert "Traceback" not in said
    logged = [line for line in said.splitlines() if "Last-Event-ID" in line]
    assert logged == [
        f"sse-cli: replay: Last-Event-ID 'zz' is not in {recording}; "
        "replaying it from the beginning"
    ]


def test_reconnects_1_reproduces_the_recorded_drop(
    serve_socket: Callable[[Handler], SocketServer], tmp_path: Path
) -> None:
    from support.sockets import by_connection

    server = serve_socket(
        by_connection(stream(b"retry: 10\nid: 1\ndata: a\n\n"), stream(b"id: 2\ndata: b\n\n"))
    )
    recording = tmp_path / "r.jsonl"
    done = invoke("listen", server.url, "--record", str(recording), "-n", "2")
    assert done.status == 0, done.stderr
    with replaying(recording) as (base, _):
        merged = invoke("listen", base + "/", "-f", "data", "--no-reconnect")
        assert merged.stdout == b"a\nb\n"
        dropped = invoke("listen", base + "/?reconnects=1", "-f", "data", "-n", "2")
        assert dropped.stdout == b"a\nb\n"
        assert "reconnecting" in dropped.stderr


def test_raw_sse_and_timestamped_json_are_replayed_at_replay_stem(tmp_path: Path) -> None:
    wire = tmp_path / "feed.sse"
    wire.write_bytes((SAMPLES / "counter-with-ids.sse").read_bytes())
    stamped = tmp_path / "stamped.jsonl"
    stamped.write_text(
        '{"event": "message", "data": "x", "id": null, "ts": "2026-01-01T00:00:00.000000Z"}\n'
        '{"event": "tick", "data": "y", "id": "7", "ts": "2026-01-01T00:00:00.050000Z"}\n'
    )
    with replaying(wire, stamped, delay=0) as (base, _):
        raw = invoke("listen", base + "/replay/feed", "-f", "json", "--no-reconnect")
        ts = invoke("listen", base + "/replay/stamped", "-f", "json", "--no-reconnect")
    expected = (SAMPLES / "counter-with-ids.expected.ndjson").read_bytes()
    assert events_of(raw.stdout) == events_of(expected)
    assert events_of(ts.stdout) == [
        {"event": "message", "data": "x", "id": None},
        {"event": "tick", "data": "y", "id": "7"},
    ]


GOOD_HEAD = (
    '{"format": "sse-cli recording", "version": 1}\n'
    '{"type": "request", "method": "GET", "url": "http://h/x", "headers": [], "body": null}\n'
    '{"type": "response", "status": 200, "reason": "OK", "headers": []}\n'
)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (GOOD_HEAD + '{"type": "event", "at_us": 5, "event": "message", "da', ":4: not a JSON"),
        (GOOD_HEAD.replace('"version": 1', '"version": 9'), ":1: unknown format version 9"),
        (
            GOOD_HEAD
            + '{"type": "event", "at_us": 50, "event": "message", "data": "a", "id": null}\n'
            + '{"type": "event", "at_us": 10, "event": "message", "data": "b", "id": null}\n',
            ":5: out of time order",
        ),
        ("", ":1: the recording is empty"),
    ],
    ids=["truncated", "unknown-version", "out-of-order", "empty"],
)
def test_a_bad_recording_stops_serve_before_binding(
    content: str, problem: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    done = invoke("serve", "--port", "0", "--replay", str(bad), timeout=20)
    assert done.status == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert str(bad) + problem in done.stderr
    assert "serving on" not in done.stderr


def test_events_with_ids_keep_their_ids_when_resumed_in_process() -> None:
    from sse_cli.recording import Entry
    from sse_cli.serve.tapes import Tape, _compile

    tape = Tape("t", "GET", "/", 200, ())
    _compile(tape, [[Entry(0, Event("message", "a", "1")), Entry(1, Event("message", "b", "1"))]])
    assert tape.resume_index("1") == 1
    assert tape.steps[1].wire == b"data: b\n\n"


def test_timestamped_json_keeps_a_line_separator_inside_its_data(tmp_path: Path) -> None:
    # `listen -f json` writes U+2028 and U+0085 unescaped: they are not line ends there.
    stamped = tmp_path / "seps.jsonl"
    stamped.write_text(
        '{"event": "message", "data": "a\u2028b\u0085c", "id": "1", '
        '"ts": "2026-01-01T00:00:00.000000Z"}\n',
        encoding="utf-8",
    )
    with replaying(stamped, delay=0) as (base, _):
        done = invoke("listen", base + "/replay/seps", "-f", "json", "--no-reconnect")
    assert done.status == 0, done.stderr
    assert events_of(done.stdout) == [{"event": "message", "data": "a\u2028b\u0085c", "id": "1"}]
