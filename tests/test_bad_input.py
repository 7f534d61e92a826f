"""Bad invocations of `sse-cli listen`, table-tested.

Each exits 2 with exactly one line on stderr that says what is wrong and how to fix it, and
does so before any connection: the URLs point at a live loopback server that must see no
request (a bad invocation that slipped through would reach it, or exit 3 elsewhere).

The table runs in-process (`invoke`, on in-memory streams); test_listen's shell smoke test
runs the no-scheme case as a real process, for the exit status and stderr a shell sees.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.cli import invoke
from support.sockets import Request, SocketServer, head


def _answer(conn: socket.socket, request: Request) -> None:
    conn.sendall(head() + b"data: reached\n\n")


@pytest.fixture(scope="module")
def server() -> Iterator[SocketServer]:
    with SocketServer(_answer) as running:
        yield running


@dataclass(frozen=True)
class Bad:
    args: tuple[str, ...]
    what: str  # the line says what is wrong...
    fix: str  # ...and how to fix it
    stdin: bytes | None = None


HELP = "see 'sse-cli listen --help'"
URL = "{url}"
CASES: dict[str, Bad] = {
    # The URL
    "no-scheme": Bad(("/events",), "has no scheme", "e.g. http://localhost:8000/events"),
    "scheme-relative": Bad(("//127.0.0.1:{port}/",), "has no scheme", "http://127.0.0.1"),
    "empty-url": Bad(("",), "URL '' has no scheme", "write it in full"),
    "no-host": Bad(("http:///events",), "has no host", "e.g. http://127.0.0.1:8000/"),
    "ftp-scheme": Bad(("ftp://127.0.0.1:{port}/",), "unsupported URL scheme 'ftp:'", "http://"),
    "ws-scheme": Bad(("ws://127.0.0.1:{port}/",), "unsupported URL scheme 'ws:'", "http://"),
    "port-out-of-range": Bad(("http://127.0.0.1:99999/",), "invalid port", "1 to 65535"),
    "port-not-a-number": Bad(("http://127.0.0.1:http/",), "invalid port", "1 to 65535"),
    "broken-ipv6": Bad(("http://[::1/",), "is malformed", "e.g. http://[::1]:8000/"),
    "space-in-host": Bad(("http://127.0.0 .1:{port}/",), "space or control", "none in the host"),
    "newline-in-url": Bad(("http://127.0.0.1:{port}/a\nb",), "space or control", "%20"),
    "password-in-bad-url": Bad(("http://u:hunter2@:{port}/",), "u:***@", "e.g. http://"),
    # Headers
    "header-without-colon": Bad((URL, "-H", "Accept text/plain"), "malformed header", "Name: "),
    "header-without-name": Bad((URL, "-H", ": value"), "malformed header", "Name: value"),
    "space-in-header-name": Bad((URL, "-H", "X Y: 1"), "malformed header", "Name: value"),
    "newline-in-header": Bad((URL, "-H", "X-A: 1\nX-B: 2"), "holds a line break", "one line"),
    "control-in-header": Bad((URL, "-H", "X-A: a\x01b"), "control character", "printable"),
    "secret-without-colon": Bad(
        (URL, "-H", "Authorization Bearer hunter2"), "malformed header 'Authorization …'", "Name:"
    ),
    "newline-in-last-event-id": Bad(
        (URL, "--last-event-id", "7\n8"), "--last-event-id holds a line break", "one line"
    ),
    # Bodies
    "invalid-json": Bad((URL, "--json", '{"a": 1,}'), "--json is not valid JSON", "check quotes"),
    "json-nan": Bad((URL, "--json", '{"a": NaN}'), "NaN is not a JSON value", "check"),
    "json-from-empty-stdin": Bad((URL, "--json", "@-"), "not valid JSON", "check", stdin=b""),
    "missing-json-file": Bad((URL, "--json", "@/nonexistent/body.json"), "cannot read", "@-"),
    "missing-data-file": Bad((URL, "-d", "@/nonexistent/body.txt"), "cannot read --data", "@"),
    "data-and-json": Bad((URL, "-d", "a=1", "--json", "{}"), "both give a body", "only one"),
    "bad-method": Bad((URL, "-X", "GET /"), "invalid method", "e.g. -X POST"),
    # Durations and counts
    "negative-idle-timeout": Bad((URL, "--idle-timeout", "-1"), "more than 0, not -1", HELP),
    "word-idle-timeout": Bad((URL, "--idle-timeout", "soon"), "'soon' is not a valid float", HELP),
    "zero-connect-timeout": Bad((URL, "--connect-timeout", "0"), "more than 0, not 0", HELP),
    "nan-duration": Bad((URL, "--duration", "nan"), "more than 0, not nan", HELP),
    "infinite-duration": Bad((URL, "--duration", "inf"), "more than 0, not inf", HELP),
    "negative-count": Bad((URL, "-n", "-1"), "must be 0 or more, not -1", HELP),
    "word-count": Bad((URL, "-n", "ten"), "'ten' is not a valid int", HELP),
    "negative-retries": Bad((URL, "--max-retries", "-2"), "must be 0 or more", HELP),
    "fractional-retries": Bad((URL, "--max-retries", "1.5"), "'1.5' is not a valid int", HELP),
    "zero-size": Bad((URL, "--max-event-size", "0"), "'0' is not a size", "e.g. 512K, 16M"),
    "unknown-size-unit": Bad((URL, "--max-event-size", "12Q"), "'12Q' is not a size", "e.g."),
    # Everything else
    "unknown-format": Bad((URL, "-f", "yaml"), "'yaml' is not one of pretty, json", HELP),
    "missing-cacert": Bad((URL, "--cacert", "/nonexistent/ca.pem"), "not found", "PEM file"),
    "cacert-not-pem": Bad((URL, "--cacert", "{not_pem}"), "cannot use --cacert", "PEM file"),
    "bad-extract": Bad((URL, "-x", "choices[["), "not a valid JMESPath", "e.g. --extract"),
    "unknown-option": Bad((URL, "--follow"), "No such option: --follow", HELP),
    "extra-argument": Bad((URL, "{url}"), "unexpected extra argument", HELP),
    "missing-url": Bad((), "Missing argument 'URL'", HELP),
    "missing-header-value": Bad((URL, "-H"), "Option '-H' requires an argument", "--help"),
}


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: bytes
    stderr: str


def _fill(text: str, server: SocketServer, tmp_path: Path) -> str:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("this is not a certificate\n")
    values = {"{url}": server.url, "{port}": str(server.port), "{not_pem}": str(not_pem)}
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def _check(case: Bad, outcome: Outcome, server: SocketServer, tmp_path: Path) -> None:
    assert outcome.status == 2, outcome.stderr
    assert outcome.stdout == b""
    [line] = outcome.stderr.splitlines()
    assert line.startswith("sse-cli: error: ")
    assert _fill(case.what, server, tmp_path) in line, line
    assert _fill(case.fix, server, tmp_path) in line, line
    assert "hunter2" not in line  # a password or a token is never echoed
    assert server.requests == []


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_invocation_exits_2_with_one_line_before_connecting(
    name: str, server: SocketServer, tmp_path: Path
) -> None:
    case = CASES[name]
    args = ["listen", *(_fill(arg, server, tmp_path) for arg in case.args)]
    result = invoke(*args, stdin=case.stdin or b"")
    _check(case, Outcome(result.status, result.stdout, result.stderr), server, tmp_path)


def test_the_table_covers_at_least_25_bad_invocations() -> None:
    assert len(CASES) >= 25
