"""`sse-cli serve`: every endpoint read by `sse-cli listen` and by an independent client.

The server is a fresh app served on a thread of the test process (`support.serve`: it never
sets sse-starlette's process-wide shutdown state); the banner test serves what
`sse-cli serve --port 0` would and reads the banner it would print. The independent client is
httpx with httpx-sse; where a test needs the bytes themselves it reads a raw socket.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from support.cli import WAIT, invoke, start
from support.serve import serving, serving_args, stats
from support.waiting import wait_until

from sse_cli.launcher import BANNER
from sse_cli.serve.demo import DEFAULT_MESSAGE

SERVE = ["--delay", "0", "-q", "--rate-limit", "0", "--queue-size", "8"]
SAMPLES = Path(__file__).resolve().parent / "samples"

Record = tuple[str, str, str | None]  # event type, data, last event id


IN_PROCESS = {"delay": 0, "rate_limit": 0, "queue_size": 8, "access_log": False}  # SERVE's


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    """One fresh app served in this process for the module (SERVE's settings)."""
    with serving(**IN_PROCESS) as server:
        yield server.url


def listen(url: str, *args: str) -> list[dict[str, Any]]:
    """Events as `sse-cli listen -f json` prints them; the run must end with status 0."""
    done = invoke("listen", url, "-f", "json", "--no-reconnect", *args)
    assert done.status == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def records_of(lines: Iterable[dict[str, Any]]) -> list[Record]:
    return [(e["event"], e["data"], e["id"]) for e in lines]


def read_httpx(method: str, url: str, **kwargs: Any) -> list[Record]:
    """Events as httpx-sse reads them (its `id` is the last event ID, "" when none).

    httpx-sse also dispatches blocks with no data field, a comment or a lone `retry` (its
    issue #35), which the spec and browsers do not; no endpoint here sends empty data, so
    those phantom events are left out.
    """
    with httpx.Client(timeout=WAIT) as client, connect_sse(client, method, url, **kwargs) as src:
        assert src.response.status_code == 200
        return [(e.event, e.data, e.id or None) for e in src.iter_sse() if e.data]


def test_root_streams_the_message_one_character_per_event(base: str) -> None:
    expected = [("message", c, str(n)) for n, c in enumerate(DEFAULT_MESSAGE, 1)]
    events = listen(f"{base}/")
    assert records_of(events) == expected
    assert {e["retry"] for e in events} == {15000}
    assert read_httpx("GET", f"{base}/") == expected


def test_root_takes_message_and_delay_from_the_query(base: str) -> None:
    started = time.monotonic()
    events = listen(f"{base}/?message=h%C3%A9%20%E4%B8%83&delay=0.05")
    assert [e["data"] for e in events] == ["h", "é", " ", "七"]
    assert time.monotonic() - started >= 0.15  # three pauses between four events


def test_post_sse_streams_the_posted_message_back(base: str) -> None:
    message = "héllo\n七夕"
    expected = [("message", c, None) for c in message]
    body = json.dumps({"message": message})
    assert records_of(listen(f"{base}/sse", "--json", body)) == expected
    assert read_httpx("POST", f"{base}/sse", json={"message": message}) == expected


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{bad", "not valid JSON"),
        (b'{"text": "x"}', "Missing required parameter: 'message'"),
        (b'{"message": 5}', "Invalid type for 'message': expected a string"),
        (b'{"message": ""}', "'message'"),
        (b"[1, 2]", "must be a JSON object"),
    ],
)
def test_post_sse_refuses_a_bad_body_with_a_json_error(
    base: str, body: bytes, problem: str
) -> None:
    reply = httpx.post(f"{base}/sse", content=body, timeout=WAIT)
    assert 400 <= reply.status_code < 500
    assert problem in reply.json()["error"]


def test_counter_counts_to_its_limit(base: str) -> None:
    expected = [("message", str(n), str(n)) for n in range(1, 6)]
    assert records_of(listen(f"{base}/counter?limit=5")) == expected
    assert read_httpx("GET", f"{base}/counter?limit=5") == expected


def test_counter_resumes_after_last_event_id_and_ends_with_204(base: str) -> None:
    url = f"{base}/counter?limit=10"
    resumed = read_httpx("GET", url, headers={"Last-Event-ID": "7"})
    assert [data for _, data, _ in resumed] == ["8", "9", "10"]
    assert records_of(listen(url, "--last-event-id", "7")) == resumed
    assert httpx.get(url, headers={"Last-Event-ID": "10"}, timeout=WAIT).status_code == 204


def test_listen_resumes_across_dropped_connections_exactly_once(base: str) -> None:
    done = invoke("listen", f"{base}/counter?drop_after=5&limit=40", "-f", "json")
    assert done.status == 0, done.stderr
    ids = [json.loads(line)["id"] for line in done.stdout.decode().splitlines()]
    assert ids == [str(n) for n in range(1, 41)]
    assert done.stderr.count("reconnecting") >= 7  # 8 connections of 5 events


def test_clock_ticks_carry_their_send_time(base: str) -> None:
    events = listen(f"{base}/clock?interval=0.05&limit=3")
    assert [(e["event"], e["id"]) for e in events] == [("tick", "1"), ("tick", "2"), ("tick", "3")]
    independent = read_httpx("GET", f"{base}/clock?interval=0.05&limit=3")
    assert [(kind, id) for kind, _, id in independent] == [(e["event"], e["id"]) for e in events]
    assert [json.loads(data)["seq"] for _, data, _ in independent] == [1, 2, 3]
    now = time.time_ns()
    for seq, event in enumerate(events, 1):
        data = json.loads(event["data"])
        assert data["seq"] == seq
        assert abs(now - data["t_ns"]) < 60 * 10**9
        assert data["time"].endswith("Z")
        moment = datetime.fromisoformat(data["time"].replace("Z", "+00:00"))
        assert abs(moment.timestamp() - data["t_ns"] / 1e9) < 1e-5
    gaps = [
        json.loads(b["data"])["t_ns"] - json.loads(a["data"])["t_ns"]
        for a, b in zip(events, events[1:], strict=False)
    ]
    assert all(gap >= 0.04 * 10**9 for gap in gaps)


def test_showcase_has_one_of_every_wire_feature(base: str) -> None:
    expected: list[Record] = [
        ("greeting", "hello", None),
        ("message", "an event with an id", "1"),
        ("multiline", "line one\nline two\nline three", "1"),
        ("json", '{"n": 1, "ok": true, "tags": ["a", "b"]}', "1"),
        ("message", "unicode survives: 七夕 ✓ 🎉", "1"),
        ("error", "something went wrong (a demo error)", "2"),
    ]
    assert records_of(listen(f"{base}/showcase")) == expected
    assert read_httpx("GET", f"{base}/showcase") == expected
    raw = invoke("listen", f"{base}/showcase", "-f", "raw", "--no-reconnect").stdout
    assert raw.startswith(b": sse-cli showcase")
    assert b"\nretry: 3000\n" in raw


FINITE = {  # a finite demo stream -> its final event id
    "/?message=abc": "3",
    "/showcase": "2",
    "/clock?interval=0.01&limit=2": "2",
    "/counter?limit=3": "3",
}


@pytest.mark.parametrize("target", FINITE)
def test_a_finite_stream_answers_a_reconnect_after_its_last_id_with_204(
    base: str, target: str
) -> None:
    events = read_httpx("GET", f"{base}{target}")
    assert events[-1][2] == FINITE[target]
    after_last = httpx.get(f"{base}{target}", headers={"Last-Event-ID": FINITE[target]})
    assert after_last.status_code == 204
    at = next(i for i, (_, _, id) in enumerate(events) if id)  # the first id: resume there
    resumed = read_httpx("GET", f"{base}{target}", headers={"Last-Event-ID": events[at][2]})
    assert len(resumed) == len(events) - at - 1
    assert resumed[-1] == events[-1] or target.startswith("/clock")  # a tick's time differs
    assert resumed[-1][2] == FINITE[target]


def test_listen_on_the_showcase_ends_by_itself(base: str) -> None:
    """GET reconnects by default: after the showcase's `retry: 3000` the reconnect carries
    its last id, gets 204, and listen exits 0 having printed every event once."""
    done = invoke("listen", f"{base}/showcase", "-f", "json", timeout=WAIT + 5)
    assert done.status == 0, done.stderr
    assert [json.loads(line)["event"] for line in done.stdout.decode().splitlines()] == [
        "greeting",
        "message",
        "multiline",
        "json",
        "message",
        "error",
    ]


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi there"}], "stream": True}


def test_chat_completions_stream_like_openai(base: str) -> None:
    url = f"{base}/v1/chat/completions"
    text = invoke("listen", url, "--json", json.dumps(CHAT), "-f", "text", "--no-reconnect")
    assert text.status == 0, text.stderr
    assert text.stdout.decode() == "Hello! You said: hi there\n"
    chunks = read_httpx("POST", url, json=CHAT)
    assert chunks[-1] == ("message", "[DONE]", None)
    as_json = listen(url, "--json", json.dumps(CHAT))
    assert [(e["event"], json.loads(e["data"])["choices"]) for e in as_json[:-1]] == [
        (kind, json.loads(data)["choices"]) for kind, data, _ in chunks[:-1]
    ]
    with open(SAMPLES / "openai-chat-completions.sse", encoding="utf-8") as sample:
        first = json.loads(sample.read().split("\n\n")[0].removeprefix("data: "))
    for _, data, _ in chunks[:-1]:
        chunk = json.loads(data)
        assert chunk.keys() == first.keys()
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["choices"][0].keys() == first["choices"][0].keys()
    assert json.loads(chunks[-2][1])["choices"][0]["finish_reason"] == "stop"


def test_chat_completions_without_stream_answer_one_completion(base: str) -> None:
    reply = httpx.post(f"{base}/v1/chat/completions", json={**CHAT, "stream": False}, timeout=WAIT)
    completion = reply.json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello! You said: hi there",
    }


def test_an_openai_sdk_client_works_against_the_mock(base: str) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="not-needed")
    messages = [{"role": "user", "content": "hello mock"}]
    stream = client.chat.completions.create(model="m", messages=messages, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello! You said: hello mock"
    completion = client.chat.completions.create(model="m", messages=messages)
    assert completion.choices[0].message.content == text


def sdk(base: str) -> Any:
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=f"{base}/v1", api_key="not-needed", max_retries=0)


@pytest.mark.parametrize("bad", ["yes", 1, None], ids=["string", "integer", "null"])
def test_the_openai_sdk_sending_a_bad_stream_type_gets_bad_request_naming_stream(
    base: str, bad: object
) -> None:
    openai = pytest.importorskip("openai")
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(base).chat.completions.create(model="m", messages=messages, stream=bad)
    assert caught.value.status_code == 400
    assert "'stream'" in caught.value.message
    assert caught.value.param == "stream"
    assert caught.value.code == "invalid_type"
    assert caught.value.type == "invalid_request_error"


def test_the_openai_sdk_lists_and_retrieves_the_mock_model(base: str) -> None:
    openai = pytest.importorskip("openai")
    client = sdk(base)
    models = list(client.models.list())
    assert [m.id for m in models] == ["sse-cli-mock"]
    assert models[0].object == "model" and models[0].owned_by == "sse-cli"
    assert client.models.retrieve("sse-cli-mock").id == "sse-cli-mock"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-nope")
    assert caught.value.code == "model_not_found"
    assert "gpt-nope" in caught.value.message


def test_include_usage_ends_the_stream_with_the_usage_chunk(base: str) -> None:
    client = sdk(base)
    messages = [{"role": "user", "content": "count these words"}]
    chunks = list(
        client.chat.completions.create(
            model="m", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    reply = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert last.usage.completion_tokens == len(reply.split())
    assert last.usage.prompt_tokens == 3
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    without = list(client.chat.completions.create(model="m", messages=messages, stream=True))
    assert all(c.choices for c in without)  # no usage chunk unless asked


class Subscriber:
    """A /subscribe stream read by httpx-sse on a thread until `count` events arrived."""

    def __init__(self, base: str, topic: str, count: int) -> None:
        self.events: list[Record] = []
        self.done = threading.Event()
        self.url = f"{base}/subscribe?topic={topic}"
        self.count = count
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with httpx.Client(timeout=WAIT) as client, connect_sse(client, "GET", self.url) as src:
            for event in src.iter_sse():
                self.events.append((event.event, event.data, event.id or None))
                if len(self.events) == self.count:
                    break
        self.done.set()


def publish(base: str, data: str, **query: str) -> httpx.Response:
    return httpx.post(f"{base}/publish", params=query, content=data.encode(), timeout=WAIT)


def test_publish_reaches_every_subscriber_of_its_topic_only(base: str) -> None:
    news = [Subscriber(base, "news", 3) for _ in range(4)]
    chat = [Subscriber(base, "chat", 1) for _ in range(2)]
    cli_news = start("listen", f"{base}/subscribe?topic=news", "-f", "json", "-n", "3")
    wait_until(lambda: stats(base)["subscribers"] == 7)
    assert publish(base, "one", topic="news").json()["subscribers"] == 5
    assert publish(base, "hi", topic="chat", event="chat").json()["subscribers"] == 2
    assert publish(base, "two\nlines", topic="news", event="alert").json()["subscribers"] == 5
    assert publish(base, "three", topic="news").json()["subscribers"] == 5
    for subscriber in news + chat:
        assert subscriber.done.wait(WAIT)
    assert records_of(json.loads(line) for line in cli_news.finish().stdout.splitlines()) == [
        ("message", "one", "1"),
        ("alert", "two\nlines", "2"),
        ("message", "three", "3"),
    ]
    expected = [("message", "one", "1"), ("alert", "two\nlines", "2"), ("message", "three", "3")]
    assert all(s.events == expected for s in news)  # each topic numbers its events
    assert all(s.events == [("chat", "hi", "1")] for s in chat)
    wait_until(lambda: stats(base)["subscribers"] == 0)
    kept = publish(base, "nobody", topic="news")  # kept in the topic's history
    assert (kept.status_code, kept.json()["subscribers"]) == (200, 0)


def test_a_slow_subscriber_is_dropped_while_others_keep_receiving(
    base: str, tmp_path: Path
) -> None:
    port = int(base.rsplit(":", 1)[1])
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    slow.settimeout(WAIT)
    slow.connect(("127.0.0.1", port))
    slow.sendall(b"GET /subscribe?topic=load HTTP/1.1\r\nHost: test\r\n\r\n")
    count = 60
    output = (tmp_path / "fast.out").open("wb")  # a file: the fast reader never blocks
    fast = start(
        "listen", f"{base}/subscribe?topic=load", "-f", "data", "-n", str(count), stdout=output
    )
    wait_until(lambda: stats(base)["subscribers"] == 2)
    payload = "x" * 131072  # the slow socket's buffers fill after a few MiB
    with httpx.Client(timeout=WAIT) as client:
        reached = [
            client.post(f"{base}/publish?topic=load", content=f"{n} {payload}").json()[
                "subscribers"
            ]
            for n in range(count)
        ]
    assert reached[0] == 2 and reached[-1] == 1  # the slow one was dropped along the way
    result = fast.finish()
    output.close()
    assert result.status == 0, result.stderr
    out = (tmp_path / "fast.out").read_bytes()
    assert [line.split(b" ")[0] for line in out.splitlines()] == [b"%d" % n for n in range(count)]
    received = b""
    while b"dropped" not in received and len(received) < 64 * 2**20:
        piece = slow.recv(1 << 20)
        if not piece:
            break
        received += piece
    slow.close()
    assert b": dropped: this client fell too far behind" in received


def test_an_idle_subscriber_gets_each_event_as_one_chunk_written_without_its_writer() -> None:
    with serving() as server:
        client = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        client.sendall(b"GET /subscribe?topic=t HTTP/1.1\r\nHost: test\r\n\r\n")
        received = b""
        while b": subscribed to topic t\n\n\r\n" not in received:
            piece = client.recv(4096)
            assert piece, received
            received += piece
        fanout = server.app.state.shared.hub.broker.fanout
        (subscriber,) = fanout.topics["t"]
        expected = b""
        for n in (1, 2, 3):
            # the writer asleep on an empty inbox: an event goes straight to the socket
            wait_until(lambda: subscriber.wake is not None and not subscriber.wake.done())
            publish(server.url, f"event {n}", topic="t")
            event = b"id: %d\ndata: event %d\n\n" % (n, n)
            expected += b"%x\r\n%b\r\n" % (len(event), event)
            while not received.endswith(expected):
                piece = client.recv(4096)
                assert piece, received
                received += piece
        assert fanout.written == 3  # none went through the inbox and its writer
        assert stats(server.url)["events_sent"] == 3
        client.close()


@pytest.mark.parametrize("path", ["/counter?delay=0.2", "/subscribe?topic=gone"])
def test_a_client_that_leaves_stops_its_generator_within_a_second(base: str, path: str) -> None:
    wait_until(lambda: stats(base)["generators"] == 0)
    port = int(base.rsplit(":", 1)[1])
    client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    assert client.recv(4096).startswith(b"HTTP/1.1 200")
    wait_until(lambda: stats(base)["generators"] == 1)
    client.close()
    assert wait_until(lambda: stats(base)["generators"] == 0, timeout=1.0) < 1.0


def test_port_0_banner_names_the_bound_port_and_every_endpoint() -> None:
    with serving_args(*SERVE) as server:
        match = BANNER.search(server.banner[0])  # the line serve prints first, as launch reads it
        assert match is not None, server.banner
        url, port = match[1], int(match[3])
        assert port > 0
        assert httpx.get(f"{url}/stats", timeout=WAIT).status_code == 200
    from sse_cli.serve import ServeSettings
    from sse_cli.serve.routes import ROUTES
    from sse_cli.serve.runner import banner

    lines = banner(ServeSettings(port=0), port)
    assert lines[0] == f"sse-cli: serving on http://127.0.0.1:{port} (Ctrl-C to stop)"
    for route in ROUTES:
        if route.example is not None:
            listed = any(f" {route.path} " in line for line in lines[1:])
            # A route that a flag serves (GET /exec) is listed only with that flag.
            assert listed == (route.shown is None), route.path


@pytest.mark.parametrize("path", ["/subscribe", "/clock?interval=30"])
def test_ping_sends_heartbeat_comments_on_idle_streams(path: str) -> None:
    # Three pings in a row, each within 2 s of the line before: at --ping 0.1 that holds on a
    # busy machine, and at the default (none on /subscribe, 15 s on /clock) it cannot.
    pings = 0
    with serving(**IN_PROCESS, ping=0.1) as server:
        timeout = httpx.Timeout(WAIT, read=2.0)
        with httpx.Client(timeout=timeout) as client, client.stream("GET", server.url + path) as r:
            for line in r.iter_lines():  # bounded: a read that waits 2 s fails the test
                pings += line == ": ping"
                if pings == 3:
                    break
    assert pings == 3


def test_events_sent_counts_published_events_not_heartbeats() -> None:
    with serving(**IN_PROCESS, ping=0.05) as server:
        url = server.url
        topic = "counted"
        with httpx.Client(timeout=WAIT) as client:
            with client.stream("GET", f"{url}/subscribe?topic={topic}") as response:
                lines = response.iter_lines()
                assert next(lines).startswith(": subscribed")
                heartbeats = 0
                for line in lines:  # bounded by WAIT: heartbeats come every 0.05 s
                    heartbeats += line == ": ping"
                    if heartbeats == 2:
                        break
                before = stats(url)["events_sent"]
                for n in range(3):
                    client.post(f"{url}/publish?topic={topic}", content=f"event {n}")
                data: list[str] = []
                heartbeats = 0
                for line in lines:  # the 3 events, then 2 more heartbeats (counted, if ever)
                    if line.startswith("data: "):
                        data.append(line[6:])
                    heartbeats += len(data) == 3 and line == ": ping"
                    if heartbeats == 2:
                        break
                sent = stats(url)["events_sent"] - before
        assert data == ["event 0", "event 1", "event 2"]
        assert sent == 3
