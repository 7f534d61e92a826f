"""`serve --exec` and `serve --stdin`: a command or a pipe relayed as events on a topic, with
real child processes (small Python scripts written here) and real subscribers. The server is
an app on a thread of the test process (the relay's commands are children of the test
process, each in a session of its own, and --stdin reads a pipe the test writes to). Ctrl-C
to a `serve` child with its commands running, the signal being the point, is in
test_server_hardening.py's shutdown tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import WAIT, invoke
from support.redis import RedisServer
from support.relays import (
    alive,
    forever_script,
    relay_of,
    relay_serving,
    script,
    stdin_pipe,
    wait_for_file,
)
from support.serve import serving, tapes
from support.sse_reader import StreamReader, close_all
from support.waiting import wait_until

SAMPLES = Path(__file__).parent / "samples"
PAD = "x" * 50


@pytest.fixture(autouse=True)
def readers_closed() -> Iterator[None]:
    yield
    close_all()


def subscribe(url: str, query: str = "", **kwargs: object) -> StreamReader:
    reader = StreamReader(f"{url}/subscribe?topic=exec{query}", **kwargs)  # type: ignore[arg-type]
    reader.wait(lambda r: bool(r.comments))  # ": subscribed to topic exec": it is in
    return reader


def outputs(reader: StreamReader, event: str = "stdout") -> list[str]:
    return [e.data for e in reader.events if e.event == event]


def test_a_fast_writer_reaches_two_subscribers_every_line_once_in_order(tmp_path: Path) -> None:
    go = tmp_path / "go"
    writer = script(
        tmp_path,
        "fast",
        # 2,000 lines of 61 bytes, written at once: 122 kB, about twice a pipe's buffer, so
        # the relay reads them in pieces that split lines, as from any fast writer.
        wait_for_file(go)
        + f"PAD = {PAD!r}\n"
        + "import sys\nsys.stdout.write(''.join(f'line {i:04} {PAD}\\n' for i in range(2000)))\n",
    )
    with relay_serving(relay=relay_of(writer)) as server:
        readers = [subscribe(server.url), subscribe(server.url)]
        go.touch()
        for reader in readers:
            reader.wait(lambda r: any(e.event == "exit" for e in r.events))
            assert outputs(reader) == [f"line {i:04} {PAD}" for i in range(2000)]
            ids = [int(e.id or 0) for e in reader.events]
            assert ids == list(range(1, 2002))
            assert json.loads(reader.events[-1].data) == {"status": 0}


def test_a_subscriber_cut_midway_resumes_with_last_event_id_and_misses_nothing(
    tmp_path: Path,
) -> None:
    go = tmp_path / "go"
    writer = script(
        tmp_path,
        "steady",
        wait_for_file(go)
        + "import time\n"
        + "for i in range(3000):\n    print(i)\n    if i % 50 == 0: time.sleep(0.01)\n",
    )
    # The history holds every line, so the resume is complete however far the writer got
    # while no one was subscribed (with the default 1,000, a busy machine could outrun it).
    with relay_serving(relay=relay_of(writer), history=4000) as server:
        first = subscribe(server.url)
        go.touch()
        first.wait(lambda r: len(r.events) >= 500)
        first.cut()
        seen = list(first.events)
        assert seen[-1].event == "stdout" and not any(e.event == "exit" for e in seen)
        second = StreamReader(
            f"{server.url}/subscribe?topic=exec", headers={"Last-Event-ID": seen[-1].id or ""}
        )
        second.wait(lambda r: any(e.event == "exit" for e in r.events))
        assert second.response_headers.get("x-sse-resume") == "complete"
        lines = [e.data for e in seen + second.events if e.event == "stdout"]
        assert lines == [str(i) for i in range(3000)]


def test_a_partial_line_arrives_after_about_200_ms(tmp_path: Path) -> None:
    go = tmp_path / "go"
    writer = script(
        tmp_path,
        "partial",
        "import sys, time\n"
        "sys.stdout.write(f'Downloading {time.monotonic()!r}')\n"
        "sys.stdout.flush()\n" + wait_for_file(go) + "print(' done')\n",
    )
    with relay_serving(relay=relay_of(writer)) as server:
        reader = subscribe(server.url, "&history=10")
        reader.wait(lambda r: len(outputs(r)) >= 1)
        arrived = time.monotonic()
        written = float(outputs(reader)[0].split()[1])
        go.touch()
        reader.wait(lambda r: any(e.event == "exit" for e in r.events))
    assert 0.15 <= arrived - written <= 0.6, arrived - written
    assert outputs(reader)[1] == " done"


def test_a_python_command_runs_unbuffered_so_each_line_arrives_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go = tmp_path / "go"
    writer = script(
        tmp_path, "chatty", "print('first')\n" + wait_for_file(go) + "print('second')\n"
    )
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # serve's environment lacks it
    with relay_serving(relay=relay_of(writer)) as server:
        reader = subscribe(server.url, "&history=10")
        reader.wait(lambda r: outputs(r) == ["first"])  # before the script goes on, or ends
        go.touch()
        reader.wait_for_event("exit")
    assert outputs(reader) == ["first", "second"]


def test_progress_lines_stderr_lines_and_exit_arrive_with_their_event_types(
    tmp_path: Path,
) -> None:
    writer = script(
        tmp_path,
        "progress",
        """\
        import sys
        sys.stdout.write("10%\\r20%\\r30%\\r\\n")
        sys.stdout.flush()
        print("warning: disk almost full", file=sys.stderr)
        sys.stdout.write("done\\r\\n")
        sys.exit(3)
        """,
    )
    with relay_serving(relay=relay_of(writer, topic="build")) as server:
        reader = StreamReader(f"{server.url}/subscribe?topic=build&history=100")
        reader.wait(lambda r: any(e.event == "exit" for e in r.events))
    assert outputs(reader) == ["10%", "20%", "30%", "done"]
    assert outputs(reader, "stderr") == ["warning: disk almost full"]
    assert json.loads(outputs(reader, "exit")[0]) == {"status": 3}
    assert reader.events[-1].event == "exit"


def test_a_command_ended_by_a_signal_exits_with_the_signal_named(tmp_path: Path) -> None:
    writer = script(tmp_path, "killed", "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    with relay_serving(relay=relay_of(writer)) as server:
        reader = subscribe(server.url, "&history=10")
        exit_event = reader.wait_for_event("exit")
    assert json.loads(exit_event.data) == {"status": 143, "signal": "SIGTERM"}


def test_exec_restart_runs_the_command_again_after_a_backoff(tmp_path: Path) -> None:
    writer = script(tmp_path, "once", "print('ran')\n")
    with relay_serving(relay=relay_of(writer, restart=True)) as server:
        reader = subscribe(server.url, "&history=10")
        reader.wait(lambda r: len(outputs(r, "exit")) >= 2)
    assert outputs(reader)[:2] == ["ran", "ran"]


def test_stdin_lines_are_published_and_the_end_is_an_event() -> None:
    with (
        stdin_pipe() as (stdin, writer),
        relay_serving(stdin, relay=relay_of(stdin=True)) as server,
    ):
        reader = StreamReader(f"{server.url}/subscribe?topic=stdin")
        reader.wait(lambda r: bool(r.comments))
        writer.write("one\ntwo\r\nthree")
        writer.close()
        end = reader.wait_for_event("end")
    assert [e.data for e in reader.events if e.event == "message"] == ["one", "two", "three"]
    assert json.loads(end.data) == {"lines": 3, "invalid": 0}


def test_stdin_lines_json_reserves_listen_output_of_the_samples_event_for_event() -> None:
    samples = sorted(SAMPLES.glob("*.sse"))
    expected = []
    for sample in samples:
        lines = sample.with_suffix(".expected.ndjson").read_text().splitlines()
        expected += [(json.loads(line)["event"], json.loads(line)["data"]) for line in lines]
    with (
        serving(delay=0, replays=tapes(*samples)) as source,
        stdin_pipe() as (stdin, writer),
        relay_serving(stdin, relay=relay_of(stdin=True, lines="json")) as server,
    ):
        reader = StreamReader(f"{server.url}/subscribe?topic=stdin")
        reader.wait(lambda r: bool(r.comments))
        for sample in samples:
            count = len(sample.with_suffix(".expected.ndjson").read_text().splitlines())
            done = invoke(
                "listen", f"{source.url}/replay/{sample.stem}", "-f", "json", "-n", str(count)
            )
            assert done.status == 0, done.stderr
            writer.write(done.stdout.decode())
            writer.flush()
        writer.close()
        end = reader.wait_for_event("end")
    got = [(e.event, e.data) for e in reader.events if e.event != "end"]
    assert got == expected
    assert json.loads(end.data)["invalid"] == 0


def test_an_invalid_json_line_is_a_counted_warning_event_not_the_end() -> None:
    with (
        stdin_pipe() as (stdin, writer),
        relay_serving(stdin, relay=relay_of(stdin=True, lines="json")) as server,
    ):
        reader = StreamReader(f"{server.url}/subscribe?topic=stdin")
        reader.wait(lambda r: bool(r.comments))
        writer.write('not json\n{"data": 5}\n{"event": "tick", "data": "ok", "id": "9"}\n')
        writer.close()
        end = reader.wait_for_event("end")
    warnings = [e.data for e in reader.events if e.event == "stderr"]
    assert len(warnings) == 2 and "line 1" in warnings[0] and "line 2" in warnings[1]
    assert [(e.event, e.data) for e in reader.events if e.event == "tick"] == [("tick", "ok")]
    assert json.loads(end.data) == {"lines": 3, "invalid": 2}


def test_a_slow_subscriber_is_dropped_and_the_others_and_the_child_are_not(
    tmp_path: Path,
) -> None:
    go = tmp_path / "go"
    writer = script(
        tmp_path,
        "flood",
        wait_for_file(go)
        + "import sys\n"
        + "for i in range(20000):\n    sys.stdout.write(f'{i:06} ' + 'x' * 200 + '\\n')\n",
    )
    with relay_serving(relay=relay_of(writer), queue_size=50) as server:
        fast = subscribe(server.url)
        slow = subscribe(server.url, read_delay=0.05, read_size=512)
        go.touch()
        fast.wait(lambda r: any(e.event == "exit" for e in r.events))
        slow.read_delay = 0.0  # now read what the server did send, to its end
        slow.wait(lambda r: r.ended)
    assert [line[:6] for line in outputs(fast)] == [f"{i:06}" for i in range(20000)]
    assert json.loads(outputs(fast, "exit")[0]) == {"status": 0}
    assert any("dropped: this client fell too far behind" in c for c in slow.comments)
    assert len(slow.events) < 20000


def test_stopping_the_server_stops_and_reaps_the_command_and_each_client_s_process(
    tmp_path: Path,
) -> None:
    forever = forever_script(tmp_path)
    with relay_serving(relay=relay_of(forever, per_client=forever)) as server:
        shared = subscribe(server.url, "&history=10")
        shared.wait(lambda r: bool(outputs(r)))
        own = StreamReader(f"{server.url}/exec")
        own.wait(lambda r: bool(outputs(r)))
        pids = {int(outputs(shared)[0]), int(outputs(own)[0])}
        assert server.children() == pids
        began = time.monotonic()
        server.stop()
        took = time.monotonic() - began
    assert not [pid for pid in pids if alive(pid)]  # stopped and reaped, not zombies
    assert took < 2.0, took


def test_a_relay_on_one_serve_reaches_subscribers_of_another_through_the_broker(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    url = redis_server.url
    go = tmp_path / "go"
    writer = script(tmp_path, "shared", wait_for_file(go) + "for i in range(500):\n    print(i)\n")
    topic = f"exec-{time.monotonic_ns()}"
    # Two apps, each on a thread of this process, that share only the broker (and the
    # process's logging, so the traceback check covers both).
    with (
        relay_serving(broker=url, relay=relay_of(writer, topic=topic)) as relay,
        serving(broker=url) as other,
    ):
        reader = StreamReader(f"{other.url}/subscribe?topic={topic}")
        reader.wait(lambda r: bool(r.comments))
        go.touch()
        reader.wait(lambda r: any(e.event == "exit" for e in r.events))
        assert relay.server.thread.is_alive()  # serve still runs
    # Leaving the block stopped both servers, and failed the test if either had failed.
    assert [e.data for e in reader.events if e.event == "stdout"] == [str(i) for i in range(500)]
    assert not relay.said.tracebacks(), relay.said.text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--exec", "no-such-program-for-sse-cli"], "is not a program this machine can run"),
        (["--exec", "echo 'unclosed"], "No closing quotation"),
        (["--exec", ""], "--exec needs a command"),
        (["--exec", "echo", "--stdin"], "--exec and --stdin both publish"),
        (["--exec-restart"], "--exec-restart needs --exec"),
        (["--exec-topic", "logs"], "--exec-topic needs --exec or --stdin"),
        (["--lines", "json"], "--lines needs --exec or --stdin"),
        (["--flush-after", "1"], "--flush-after needs --exec, --stdin or --exec-per-client"),
        (["--stdin", "--flush-after", "0"], "must be from 0.001 to 3600"),
        (["--stdin", "--exec-topic", "a b"], "--exec-topic 'a b'"),
        (["--stdin", "--lines", "xml"], "--lines 'xml'"),
        (["--stdin", "--workers", "2", "--broker", "redis://127.0.0.1:1/0"], "--workers 2"),
        (["--exec-per-client", "no-such-program-for-sse-cli"], "--exec-per-client"),
    ],
)
def test_a_bad_relay_option_is_one_line_and_exit_2_before_binding(
    args: list[str], words: str
) -> None:
    done = invoke("serve", "--port", "0", *args)
    assert done.status == 2, done.stderr
    err = done.stderr
    assert words in err and "Traceback" not in err and "serving on" not in err, err


def test_relaying_on_every_interface_warns_that_the_output_is_public() -> None:
    from sse_cli.serve import ServeSettings
    from sse_cli.serve.relay_settings import RelaySettings
    from sse_cli.serve.runner import banner

    for relay, words in [
        (RelaySettings(command=("echo",)), "the --exec command's output is public"),
        (RelaySettings(stdin=True), "standard input is public"),
        (RelaySettings(per_client=("echo",)), "starts a --exec-per-client process"),
    ]:
        public = banner(ServeSettings(host="0.0.0.0", port=0, relay=relay), 8000)
        assert any(words in line for line in public), public
        local = banner(ServeSettings(port=0, relay=relay), 8000)
        assert not any("public" in line or "starts a" in line for line in local)


def test_while_the_broker_is_down_lines_are_dropped_and_the_command_is_not_held_back(
    tmp_path: Path,
) -> None:
    redis = RedisServer().start()
    go, went, again = tmp_path / "go", tmp_path / "went", tmp_path / "again"
    writer = script(
        tmp_path,
        "outage",
        wait_for_file(go)
        + "import pathlib, sys\n"
        # 256 KiB in lines of 1 KiB: more than the pipe and the relay's reader hold together
        + "sys.stdout.write(''.join(f'lost {i:04} {\"x\" * 1014}\\n' for i in range(256)))\n"
        + "sys.stdout.flush()\n"
        + f"pathlib.Path({str(went)!r}).touch()\n"
        + wait_for_file(again)
        + "print('after')\n",
    )
    try:
        with relay_serving(broker=redis.url, relay=relay_of(writer)) as server:
            redis.stop()
            go.touch()
            server.said.wait_line("the relay is dropping lines", WAIT)
            wait_until(went.exists, what="the command wrote past a full pipe")
            redis.start()
            again.touch()
            server.said.wait_line("the relay publishes again", WAIT)
            # Lines still in the pipe when Redis came back are published now, up to hundreds at
            # once: a subscriber joining in that burst may fall --queue-size behind and be
            # dropped. It joins once the exit event is the newest entry in Redis.
            wait_until(lambda: newest_event(redis) == "exit", what="the exit event in Redis")
            reader = subscribe(server.url, "&history=10")
            exit_event = reader.wait_for_event("exit")
        assert "after" in outputs(reader)
        assert json.loads(exit_event.data) == {"status": 0}
    finally:
        redis.close()


def newest_event(redis: RedisServer, topic: str = "exec") -> str | None:
    """The event type of the newest entry Redis keeps on `topic`."""
    import redis as redis_py

    with redis_py.Redis.from_url(redis.url, decode_responses=True) as client:
        newest = client.xrevrange(f"sse-cli:topic:{topic}", count=1)
    return str(newest[0][1].get("event")) if newest else None
