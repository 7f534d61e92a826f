"""`sse-cli listen` telling people what happened: text mode, --extract, wire-format warnings
and --strict, -v, --stats. The CLI runs in-process against raw-socket loopback servers.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import invoke
from support.sockets import Handler, Request, SocketServer, by_connection, head, steps, stream

Serve = Callable[[Handler], SocketServer]

SAMPLES = Path(__file__).resolve().parent / "samples"
NO_CONTENT = stream(status=204, content_type=None)
PROMPT = '{"model": "m", "stream": true, "messages": [{"role": "user", "content": "Hi"}]}'


def sample(name: str) -> bytes:
    return (SAMPLES / f"{name}.sse").read_bytes()


def expected(name: str) -> list[dict[str, Any]]:
    lines = (SAMPLES / f"{name}.expected.ndjson").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def pieces(body: bytes, size: int = 97) -> list[bytes]:
    """The body in TCP writes of `size` bytes, cutting lines and UTF-8 characters anywhere."""
    return [body[i : i + size] for i in range(0, len(body), size)]


def json_data(event: dict[str, Any]) -> Any:
    try:
        return json.loads(event["data"])
    except ValueError:
        return None


def openai_contents() -> list[str]:
    """choices[0].delta.content of every OpenAI chunk that has one, from the expected events."""
    contents = []
    for event in expected("openai-chat-completions"):
        value = json_data(event)
        if isinstance(value, dict):
            content = value["choices"][0]["delta"].get("content")
            if content is not None:
                contents.append(content)
    return contents


def anthropic_text() -> str:
    return "".join(
        event_data["delta"]["text"]
        for event in expected("anthropic-messages")
        if event["event"] == "content_block_delta" and (event_data := json_data(event))
    )


# Text mode and --extract


def test_text_mode_prints_the_openai_reply_and_stops_at_done(
    serve_socket: Serve, gate: threading.Event
) -> None:
    reply = "".join(openai_contents())
    assert reply.startswith("Hello!") and len(reply) > 20
    # The server keeps the stream open after [DONE]: only text mode's own stop ends it.
    server = serve_socket(steps(*pieces(sample("openai-chat-completions")), gate))
    result = invoke("listen", server.url, "-f", "text", "--json", PROMPT)
    assert result.status == 0, result.stderr
    assert result.stdout.decode() == reply + "\n"


def test_text_mode_prints_the_anthropic_reply(serve_socket: Serve) -> None:
    reply = anthropic_text()
    assert "世界" in reply and "🌍" in reply
    server = serve_socket(stream(*pieces(sample("anthropic-messages"), 13)))
    result = invoke("listen", server.url, "-f", "text", "--json", PROMPT)
    assert result.status == 0, result.stderr
    assert result.stdout.decode() == reply + "\n"
    assert len(server.requests) == 1  # a POST without ids is not sent again


def test_text_mode_with_extract_uses_the_path_only(serve_socket: Serve) -> None:
    body = (
        b'data: {"msg": {"t": "Hel"}}\n\n'
        b'data: {"choices": [{"delta": {"content": "not this"}}]}\n\n'
        b"data: nor this plain text\n\n"
        b'data: {"msg": {"t": "lo \xe2\x9c\x93"}}\n\n'
    )
    server = serve_socket(stream(body))
    result = invoke("listen", server.url, "-f", "text", "-x", "msg.t", "--no-reconnect")
    assert result.status == 0, result.stderr
    assert result.stdout.decode() == "Hello ✓\n"


@pytest.mark.parametrize(
    ("output_format", "expected"),
    [
        ("json", '{"event": "message", "data": "a\ufffdb", "id": null}\n'),
        ("data", "a\ufffdb\n"),
        ("text", "a\ufffdb\n"),
    ],
)
def test_extracted_lone_surrogate_becomes_a_replacement_character(
    serve_socket: Serve, output_format: str, expected: str
) -> None:
    # JSON may escape half a surrogate pair; UTF-8 output cannot carry it (it was a crash).
    server = serve_socket(stream(b'data: {"t": "a\\ud800b"}\n\n'))
    result = invoke("listen", server.url, "-f", output_format, "-x", "t", "--no-reconnect")
    assert result.status == 0, result.stderr
    assert result.stdout.decode() == expected


@pytest.mark.parametrize("output_format", ["json", "data"])
def test_extract_replaces_data_and_skips_events_without_it(
    serve_socket: Serve, output_format: str
) -> None:
    contents = openai_contents()
    server = serve_socket(stream(*pieces(sample("openai-chat-completions"))))
    result = invoke(
        "listen",
        server.url,
        "-f",
        output_format,
        "--extract",
        "choices[0].delta.content",
        "--no-reconnect",
    )
    assert result.status == 0, result.stderr
    if output_format == "data":
        assert result.stdout.decode() == "".join(content + "\n" for content in contents)
    else:
        assert [json.loads(line) for line in result.stdout.decode().splitlines()] == [
            {"event": "message", "data": content, "id": None} for content in contents
        ]


# Wire-format warnings: once each, even across reconnects; --strict makes the first fatal.


def compressed(body: bytes) -> Handler:
    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(head(headers={"Content-Encoding": "gzip"}) + gzip.compress(body))

    return handler


# (name, what each connection sends, the warning's key phrase)
WARNINGS: list[tuple[str, Callable[[bytes], Handler], bytes, str]] = [
    (
        "unknown-field",
        stream,
        b"foo: bar\ndata: 1\n\nfoo: bar\ndata: 2\n\n",
        "field 'foo' is not an SSE field and was ignored",
    ),
    (
        "ndjson",
        stream,
        b'{"type": "start"}\n{"delta": "Hi"}\n["delta", "!"]\n{"type": "end"}\n',
        "looks like NDJSON",
    ),
    ("no-blank-line", stream, b"data: x\n" * 70, "no blank line ends an event"),
    (
        "invalid-retry",
        stream,
        b"retry: 1_000\ndata: 1\n\nretry: 1_000\ndata: 2\n\n",
        "retry: '1_000' was ignored",
    ),
    (
        "id-holds-nul",
        stream,
        b"id: a\x00b\ndata: 1\n\nid: a\x00b\ndata: 2\n\n",
        "an id field holding NUL was ignored",
    ),
    (
        "incomplete-event",
        stream,
        b"data: 1\n\ndata: cut off",
        "the stream ended inside an event, which was discarded",
    ),
    ("compressed", compressed, b"data: zipped\n\n", "the response is compressed (gzip)"),
]


@pytest.mark.parametrize(
    ("serve_body", "body", "phrase"),
    [case[1:] for case in WARNINGS],
    ids=[case[0] for case in WARNINGS],
)
def test_wire_warning_is_said_once_across_reconnects(
    serve_socket: Serve, serve_body: Callable[[bytes], Handler], body: bytes, phrase: str
) -> None:
    body = b"retry: 0\n\n" + body
    server = serve_socket(by_connection(serve_body(body), serve_body(body), NO_CONTENT))
    result = invoke("listen", server.url)
    assert result.status == 0, result.stderr
    assert len(server.requests) == 3
    err = result.stderr
    warnings = [line for line in err.splitlines() if phrase in line]
    assert len(warnings) == 1, err
    assert warnings[0].startswith("sse-cli: warning: ")


@pytest.mark.parametrize(
    ("serve_body", "body", "phrase"),
    [case[1:] for case in WARNINGS],
    ids=[case[0] for case in WARNINGS],
)
def test_strict_turns_the_warning_into_status_7(
    serve_socket: Serve, serve_body: Callable[[bytes], Handler], body: bytes, phrase: str
) -> None:
    server = serve_socket(serve_body(body))
    result = invoke("listen", server.url, "--strict")
    assert result.status == 7, result.stderr
    err = result.stderr
    assert err.startswith("sse-cli: error: ") and phrase in err and "--strict" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert len(server.requests) == 1


def test_quoted_field_names_say_why_nothing_was_dispatched(serve_socket: Serve) -> None:
    server = serve_socket(stream(*pieces(sample("malformed-quoted-fields"), 5)))
    result = invoke("listen", server.url, "--no-reconnect")
    assert result.status == 0, result.stderr
    assert result.stdout == b""
    err = result.stderr.splitlines()
    # "event" comes twice in the sample; it is said once.
    for name in ('"event"', '"retry"', '"data"'):
        said = [line for line in err if f"field '{name}' was ignored" in line]
        assert len(said) == 1, err
        assert "without quotes" in said[0]
    assert sum("the stream ended without one event" in line for line in err) == 1, err
    assert err[-1] == "sse-cli: stopped: the server closed the stream"


def test_missing_content_type_is_not_an_event_stream(serve_socket: Serve) -> None:
    server = serve_socket(stream(b"data: x\n\n", content_type=None))
    result = invoke("listen", server.url)
    assert result.status == 6
    assert result.stdout == b""
    err = result.stderr
    assert err.startswith("sse-cli: error: ")
    assert "Content-Type (none), not text/event-stream" in err
    assert len(err.splitlines()) == 1


# -v and --stats


@pytest.mark.parametrize("flag", ["-v", "-vv"])
def test_verbose_prints_headers_with_secrets_masked_unless_vv(
    serve_socket: Serve, flag: str
) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        extra = {"Set-Cookie": "sid=cookie-s3cret; Path=/", "X-Served-By": "test"}
        conn.sendall(head(headers=extra) + b"data: x\n\n")

    server = serve_socket(handler)
    result = invoke(
        "listen",
        server.url,
        flag,
        "-n",
        "1",
        "-H",
        "Authorization: Bearer token-s3cret",
        "-H",
        "Cookie: jar=biscuit-s3cret",
    )
    assert result.status == 0, result.stderr
    (request,) = server.requests
    assert request.headers["authorization"] == "Bearer token-s3cret"
    err = result.stderr.splitlines()
    assert f"> GET {server.url}" in err
    assert "> Accept: text/event-stream" in err
    assert "< HTTP 200 OK" in err
    assert "< X-Served-By: test" in err
    if flag == "-v":
        assert "> Authorization: Bearer ***" in err
        assert "> Cookie: ***" in err
        assert "< Set-Cookie: ***" in err
        assert "s3cret" not in result.stderr
    else:
        assert "> Authorization: Bearer token-s3cret" in err
        assert "> Cookie: jar=biscuit-s3cret" in err
        assert "< Set-Cookie: sid=cookie-s3cret; Path=/" in err
    assert result.stdout == b'{"event": "message", "data": "x", "id": null}\n'


def test_stats_counts_events_by_type_bytes_and_reconnects(serve_socket: Serve) -> None:
    first = b"retry: 0\nid: 1\ndata: a\n\nevent: t\ndata: b\n\n"
    second = b": ping\n\nevent: t\ndata: c\n\n"
    server = serve_socket(by_connection(stream(first), stream(second), NO_CONTENT))
    result = invoke("listen", server.url, "--stats", "-q", "-e", "t")
    assert result.status == 0, result.stderr
    assert result.stdout.decode().count("\n") == 2  # -e filters the output, not the stats
    err = result.stderr.splitlines()
    assert err[0] == "sse-cli: stats"
    assert "  events       3 (t 2, message 1)" in err
    assert f"  bytes        {len(first) + len(second):,}" in err
    assert "  reconnects   2" in err
    assert any(line.startswith("  duration     ") for line in err)


def test_text_mode_on_events_without_text_says_why_once_and_exits_0(serve_socket: Serve) -> None:
    ticks = b"".join(
        b'event: tick\nid: %d\ndata: {"seq": %d, "time": "12:00:0%d"}\n\n' % (n, n, n)
        for n in range(1, 7)
    )
    server = serve_socket(stream(ticks))
    result = invoke("listen", server.url, "-f", "text", "--no-reconnect")
    assert result.status == 0, result.stderr
    assert result.stdout == b""
    warning, stopped = result.stderr.splitlines()
    assert warning.startswith("sse-cli: warning: -f text shows nothing: ")
    assert "-x PATH" in warning
    assert stopped == "sse-cli: stopped: the server closed the stream"
