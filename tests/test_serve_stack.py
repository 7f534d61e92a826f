"""`serve` runs on uvloop and httptools when they import, on asyncio and h11 otherwise, and
its banner names the pair that runs (test_startup.py: start-up paths never import either).

Each server is a real child process. What its banner says is checked against what the child
has actually loaded (its /proc/PID/maps): a loop named `asyncio` means uvloop's extension
module was never mapped.
"""

from __future__ import annotations

import importlib.util
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.cli import SSE_CLI, WAIT, cli_env, invoke

from sse_cli.launcher import Launched, running

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
HAVE_HTTPTOOLS = importlib.util.find_spec("httptools") is not None

# `python -c` wrapper: the CLI with uvloop hidden from the import path (None in sys.modules
# makes `import uvloop` raise ImportError, as if it were not installed).
WITHOUT_UVLOOP = (
    "import sys; sys.modules['uvloop'] = None; sys.argv[0] = 'sse-cli'; "
    "from sse_cli.__main__ import main; main()"
)
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


@pytest.mark.skipif(not HAVE_HTTPTOOLS, reason="httptools absent")
def test_serve_falls_back_to_asyncio_when_uvloop_is_hidden() -> None:
    with served([sys.executable, "-c", WITHOUT_UVLOOP, *SERVE]) as (child, line):
        assert line == "sse-cli: event loop asyncio, HTTP parser httptools"
        counts_to_three(child.url)
        assert not mapped(child.pid, "/uvloop/")
        assert mapped(child.pid, "/httptools/parser/")


def test_stack_asyncio_forces_asyncio_and_h11() -> None:
    with served([*SSE_CLI, *SERVE], SSE_CLI_SERVE_STACK="asyncio") as (child, line):
        assert line == "sse-cli: event loop asyncio, HTTP parser h11"
        counts_to_three(child.url)
        assert not mapped(child.pid, "/uvloop/")
        assert not mapped(child.pid, "/httptools/")


def test_an_unknown_stack_is_a_usage_error_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSE_CLI_SERVE_STACK", "fast")  # read from the process's environment
    done = invoke(*SERVE)
    assert done.status == 2
    assert done.stderr.splitlines() == [
        "sse-cli: error: SSE_CLI_SERVE_STACK='fast' is not a stack (use auto or asyncio)"
    ]
