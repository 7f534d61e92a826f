"""Fixtures only: the Hypothesis profiles, and fixtures that start and stop helpers.

The helpers themselves live in the `support` package beside this file.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from support.cli import WAIT, spawn_cli
from support.redis import RedisServer
from support.sockets import Handler, SocketServer
from support.twins import NAMES, speedups, using

# Hypothesis profiles. "ci" (the default) checks the same examples on every run, in bounded
# time; `pytest --hypothesis-profile=long` explores many more, new ones each run, for a long
# local session. Tests that should scale with the profile leave max_examples unset.
settings.register_profile(
    "ci",
    # A fixed set (derandomized): 100 examples take a third less time than 150 did, and the
    # "long" profile is where new examples are found.
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=20_000,
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


@pytest.fixture
def serve_socket() -> Iterator[Callable[[Handler], SocketServer]]:
    """Start SocketServers for a test; all are stopped when it ends."""
    servers: list[SocketServer] = []

    def start(handler: Handler) -> SocketServer:
        server = SocketServer(handler).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def gate(serve_socket: Callable[[Handler], SocketServer]) -> Iterator[threading.Event]:
    """An Event for `steps` to hold a connection on; set at the end, before servers stop."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def spawned() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """`spawn_cli` for a test; any CLI still running when the test ends is killed."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        proc = spawn_cli(*args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(WAIT)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def streams() -> Iterator[list[Any]]:
    """A list for the streams a test opens (anything with `close()`), closed at its end."""
    opened: list[Any] = []
    yield opened
    for stream in opened:
        stream.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port for the whole session, stopped by PID."""
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def built_twin() -> Iterator[str]:
    """The hot loops' twin a user gets: the C one (CI fails without it), else Python's."""
    name = "c" if speedups() is not None or os.environ.get("CI") else "python"
    with using(name):
        yield name


@pytest.fixture(scope="module", params=NAMES)
def twins(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test of a module that uses this runs on the C twins of the hot loops, then on the
    Python ones (module-scoped, so that Hypothesis's tests can use it)."""
    with using(request.param):
        yield request.param
