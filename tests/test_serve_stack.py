"""`serve` runs on uvloop and httptools when they import, on asyncio and h11 otherwise, and
its banner names the pair that runs (test_startup.py: start-up paths never import either).

One server is a real child process: what its banner says is checked against what the child
has actually loaded (its /proc/PID/maps). The fallbacks run in this process, where uvloop is
loaded already: the app on a thread runs on the pair `stack()` chose, as `serve` does, and
the test checks the loop and the HTTP protocol that actually run against the banner.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.cli import SSE_CLI, WAIT, cli_env, invoke
from support.serve import InProcessServer, serving_args

from sse_cli.launcher import Launched, running
from sse_cli.serve.runner import stack

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
HAVE_HTTPTOOLS = importlib.util.find_spec("httptools") is not None

SERVE = ["serve", "--port", "0"]  # not -q: the stack line is in the full banner


@contextmanager
def served(argv: list[str], **env: str) -> Iterator[tuple[Launched, str]]:
    """A running `serve` child and its banner's stack line."""
    with running(argv, env=cli_env(**env), timeout=WAIT, name="serve") as child:
        yield child, child.wait_line("sse-cli: event loop ", WAIT).strip()


def mapped(pid: int, fragment: str) -> bool:
    """Whether the process has a file whose path contains `fragment` mapped in memory."""
    maps = Path(f"/proc/{pid}/maps")
    if not maps.exists():
        pytest.skip("needs /proc (Linux)")
    return fragment in maps.read_text()


def counts_to_three(url: str) -> None:
    """The server streams: /counter sends events 1, 2, 3 and ends."""
    with urllib.request.urlopen(f"{url}/counter?limit=3&delay=0", timeout=WAIT) as response:
        body = response.read().decode()
    assert [line for line in body.splitlines() if line.startswith("data:")] == [
        "data: 1",
        "data: 2",
        "data: 3",
    ]


@pytest.mark.skipif(not (HAVE_UVLOOP and HAVE_HTTPTOOLS), reason="uvloop/httptools absent")
def test_serve_runs_on_uvloop_and_httptools_when_they_import() -> None:
    with served([*SSE_CLI, *SERVE]) as (child, line):
        assert line == "sse-cli: event loop uvloop, HTTP parser httptools"
        counts_to_three(child.url)
        assert mapped(child.pid, "/uvloop/loop.")
        assert mapped(child.pid, "/httptools/parser/")


def running_on(server: InProcessServer) -> tuple[str, str]:
    """The event loop and HTTP protocol the server on a thread actually runs, as uvicorn
    names them, and checks that its banner names the same."""
    loop = "asyncio" if isinstance(server.loop, asyncio.SelectorEventLoop) else "other"
    protocol = server.config.http_protocol_class
    assert isinstance(protocol, type), protocol
    parser = {
        "uvicorn.protocols.http.httptools_impl": "httptools",
        "uvicorn.protocols.http.h11_impl": "h11",
    }.get(protocol.__module__, protocol.__module__)
    assert f"sse-cli: event loop {loop}, HTTP parser {parser}\n" in server.log.lines()
    return loop, parser


@pytest.mark.skipif(not HAVE_HTTPTOOLS, reason="httptools absent")
def test_serve_falls_back_to_asyncio_when_uvloop_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import uvloop` raise ImportError, as if it were not installed.
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert stack() == ("asyncio", "httptools")
    with serving_args() as server:  # not -q: the stack line is in the full banner
        counts_to_three(server.url)
        assert running_on(server) == ("asyncio", "httptools")


def test_stack_asyncio_forces_asyncio_and_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSE_CLI_SERVE_STACK", "asyncio")  # in the environment the run gets
    with serving_args() as server:
        assert server.settings.stack == "asyncio"
        counts_to_three(server.url)
        assert running_on(server) == ("asyncio", "h11")


def test_an_unknown_stack_is_a_usage_error_in_one_line() -> None:
    done = invoke(*SERVE, SSE_CLI_SERVE_STACK="fast")
    assert done.status == 2
    assert done.stderr.splitlines() == [
        "sse-cli: error: SSE_CLI_SERVE_STACK='fast' is not a stack (use auto or asyncio)"
    ]
