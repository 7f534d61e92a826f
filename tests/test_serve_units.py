"""`sse_cli.serve` in-process: the guard with an injected clock, the brokers' local fan-out, and
the route table (every stream counts against --max-streams and is in the banner and README).

The guard's and broker's rules run against httpx's ASGI transport or no transport at all;
what needs a stream held open runs on a real uvicorn bound to 127.0.0.1 port 0, one fresh
app per test.
"""

from __future__ import annotations

import ast
import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send
from support.cli import WAIT

from sse_cli.serve import ServeSettings, create_app
from sse_cli.serve.brokers.fanout import Fanout
from sse_cli.serve.guard import Guard, RateLimit
from sse_cli.serve.pubsub import FAREWELL
from sse_cli.serve.relay_settings import RelaySettings
from sse_cli.serve.routes import ROUTES, STREAM_PATHS
from sse_cli.serve.runner import banner

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ----------------------------------------------------------------------------- the guard


def test_rate_limit_allows_a_burst_of_rate_then_one_per_interval() -> None:
    clock = Clock()
    limit = RateLimit(5, clock)
    assert [limit.allow("a") for _ in range(6)] == [True] * 5 + [False]
    assert limit.allow("b"), "each client has its own bucket"
    clock.now += 0.1  # half a token
    assert not limit.allow("a")
    clock.now += 0.1
    assert limit.allow("a")
    assert not limit.allow("a")
    clock.now += 60  # a bucket never holds more than `rate`
    assert [limit.allow("a") for _ in range(6)] == [True] * 5 + [False]


def hold_until(release: asyncio.Event, started: asyncio.Event) -> Callable[..., Any]:
    """An app whose /stream ends once `release` is set; `started` says it has begun."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["path"] == "/stream":
            started.set()
            await release.wait()
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})

    return app


def guarded(app: Callable[..., Awaitable[None]], clock: Clock, **caps: Any) -> httpx.AsyncClient:
    guard = Guard(app, stream_paths={"/stream"}, clock=clock, **caps)
    transport = httpx.ASGITransport(app=guard, client=("203.0.113.7", 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def test_guard_answers_429_once_the_bucket_is_empty_until_the_clock_moves() -> None:
    async def main() -> None:
        clock = Clock()
        app = hold_until(asyncio.Event(), asyncio.Event())
        async with guarded(app, clock, rate_limit=2, max_streams=10) as client:
            statuses = [(await client.get("/x")).status_code for _ in range(3)]
            assert statuses == [200, 200, 429]
            refused = await client.get("/x")
            assert refused.headers["retry-after"] == "1"
            assert "the limit is 2 per second" in refused.json()["error"]
            assert "203.0.113.7" in refused.json()["error"]
            assert refused.headers["x-content-type-options"] == "nosniff"
            clock.now += 0.5
            assert (await client.get("/x")).status_code == 200

    asyncio.run(main())


def test_guard_caps_open_streams_and_frees_the_place_when_one_ends() -> None:
    async def main() -> None:
        release, started = asyncio.Event(), asyncio.Event()
        app = hold_until(release, started)
        async with guarded(app, Clock(), rate_limit=0, max_streams=1) as client:
            first = asyncio.ensure_future(client.get("/stream"))
            await asyncio.wait_for(started.wait(), WAIT)
            refused = await client.get("/stream")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"] == "too many open streams: the limit is 1"
            assert (await client.get("/other")).status_code == 200, "only streams count"
            release.set()
            assert (await asyncio.wait_for(first, WAIT)).status_code == 200
            started.clear()
            second = asyncio.ensure_future(client.get("/stream"))
            await asyncio.wait_for(started.wait(), WAIT)
            assert (await asyncio.wait_for(second, WAIT)).status_code == 200

    asyncio.run(main())


def test_guard_adds_security_headers_and_keeps_an_endpoints_cache_control() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"cache-control", b"max-age=5")] if scope["path"] == "/cached" else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def main() -> None:
        async with guarded(app, Clock(), rate_limit=0, max_streams=1) as client:
            plain = await client.get("/plain")
            assert plain.headers["cache-control"] == "no-cache"
            assert plain.headers["x-content-type-options"] == "nosniff"
            assert plain.headers["x-accel-buffering"] == "no"
            assert (await client.get("/cached")).headers["cache-control"] == "max-age=5"

    asyncio.run(main())


def test_guard_calls_a_bare_app_itself_leaves_its_writes_alone_and_counts_its_streams() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def framework(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("a bare path never reaches the framework")

    async def main() -> None:
        guard = Guard(
            framework,
            rate_limit=0,
            max_streams=0,
            stream_paths={"/bare"},
            clock=Clock(),
            bare_apps={"/bare": app},
        )
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/bare")).status_code == 503, "the cap still holds"
            guard.max_streams = 1
            reply = await client.get("/bare")
            assert reply.status_code == 200
            assert "x-content-type-options" not in reply.headers, "the app sets its own"

    asyncio.run(main())


# ----------------------------------------------------------------------------- the broker


def test_broker_publishes_to_the_topics_subscribers_only() -> None:
    broker = Fanout(queue_size=10)
    news, also_news, other = (
        broker.subscribe("news"),
        broker.subscribe("news"),
        broker.subscribe("x"),
    )
    assert broker.subscribers == 3
    assert broker.publish("news", b"data: 1\n\n") == 2
    assert news.pending == also_news.pending == [b"data: 1\n\n"]
    assert other.pending == []
    assert broker.publish("nobody", b"data: 2\n\n") == 0
    assert broker.has_subscribers("news") and not broker.has_subscribers("nobody")


def test_broker_unsubscribe_forgets_an_empty_topic() -> None:
    broker = Fanout(queue_size=10)
    first, second = broker.subscribe("t"), broker.subscribe("t")
    broker.unsubscribe("t", first)
    assert broker.publish("t", b"data: a\n\n") == 1
    assert first.pending == []
    broker.unsubscribe("t", second)
    broker.unsubscribe("t", second)  # twice is harmless
    assert not broker.has_subscribers("t")
    assert broker.subscribers == 0
    assert list(broker.everyone()) == []


def test_broker_drops_a_subscriber_that_falls_queue_size_behind() -> None:
    broker = Fanout(queue_size=2)
    slow, fast = broker.subscribe("t"), broker.subscribe("t")
    assert broker.publish("t", b"data: 1\n\n") == 2
    fast.pending.clear()  # the fast one's writer has caught up
    assert broker.publish("t", b"data: 2\n\n") == 2
    assert broker.publish("t", b"data: 3\n\n") == 1
    assert slow.dropped and not fast.dropped
    assert broker.subscribers == 1
    assert slow.pending == [b"data: 1\n\n", b"data: 2\n\n"], "nothing more is queued"
    assert FAREWELL.startswith(b": dropped")


def test_a_publish_wakes_the_subscribers_writer() -> None:
    async def main() -> None:
        broker = Fanout(queue_size=10)
        subscriber = broker.subscribe("t")
        subscriber.wake = asyncio.get_running_loop().create_future()
        broker.publish("t", b"data: hi\n\n")
        await asyncio.wait_for(subscriber.wake, WAIT)
        subscriber.notify()  # a woken writer is woken only once

    asyncio.run(main())


# ----------------------------------------------------------------------------- the route table


HOLD: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    # a stream route -> a request that keeps it open (method, target, JSON body)
    "/": ("GET", "/?message=ab&delay=30", None),
    "/sse": ("POST", "/sse?delay=30", {"message": "ab"}),
    "/counter": ("GET", "/counter?delay=30", None),
    "/clock": ("GET", "/clock?interval=30", None),
    "/showcase": ("GET", "/showcase?delay=30", None),
    "/v1/chat/completions": (
        "POST",
        "/v1/chat/completions?delay=30",
        {"messages": [{"role": "user", "content": "hi there"}], "stream": True},
    ),
    "/subscribe": ("GET", "/subscribe?topic=held", None),
    "/.well-known/mercure": ("GET", "/.well-known/mercure?topic=held", None),
    "/exec": ("GET", "/exec", None),  # with HELD_COMMAND, a process that runs for 30 s
}
HELD_COMMAND = (sys.executable, "-c", "import time; print('held'); time.sleep(30)")


@asynccontextmanager
async def uvicorn_on_loopback(settings: ServeSettings) -> AsyncIterator[str]:
    """A fresh app on a real uvicorn on 127.0.0.1 port 0, for the block; its base URL."""
    import uvicorn

    app = create_app(settings)
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="critical", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        app.state.shared.hub.close()
        server.should_exit = True
        await asyncio.wait_for(task, WAIT)
        sock.close()


def test_every_stream_route_has_a_way_to_hold_it_open_here() -> None:
    assert set(HOLD) == set(STREAM_PATHS)


@pytest.mark.parametrize("path", sorted(STREAM_PATHS))
def test_every_stream_route_counts_against_max_streams(path: str) -> None:
    method, target, body = HOLD[path]
    relay = RelaySettings(per_client=HELD_COMMAND)
    settings = ServeSettings(max_streams=1, rate_limit=0, delay=0, access_log=False, relay=relay)

    async def main() -> None:
        async with (
            uvicorn_on_loopback(settings) as base,
            httpx.AsyncClient(base_url=base, timeout=WAIT) as client,
        ):
            async with client.stream(method, target, json=body) as held:
                assert held.status_code == 200
                assert held.headers["content-type"].startswith("text/event-stream")
                first = await anext(held.aiter_bytes())
                assert first, "the held stream sent nothing"
                refused = await client.request(method, target, json=body)
                assert refused.status_code == 503, refused.text
                error = refused.json()["error"]  # under /v1/, the OpenAI error object
                assert "the limit is 1" in (error["message"] if path.startswith("/v1/") else error)
                assert (await client.get("/stats")).status_code == 200
            # The held stream's place is free again once the server has seen it go.
            for _ in range(int(WAIT / 0.02)):
                if (await client.get("/stats")).json()["generators"] == 0:
                    break
                await asyncio.sleep(0.02)
            async with client.stream(method, target, json=body) as again:
                assert again.status_code == 200

    asyncio.run(main())


def test_every_stream_route_is_in_the_banner() -> None:
    relay = RelaySettings(per_client=("echo",))
    lines = banner(ServeSettings(port=0, relay=relay), 8000)
    for path in STREAM_PATHS:
        assert any(f" {path} " in line for line in lines[1:]), path


def test_the_banner_lists_a_route_only_when_its_flag_serves_it() -> None:
    def listed(settings: ServeSettings) -> set[str]:
        return {
            route.path
            for route in ROUTES
            if any(f" {route.path} " in line for line in banner(settings, 8000)[1:])
        }

    per_client = {r.path for r in ROUTES if r.shown is not None}
    assert per_client, "a route shown only with its flag"
    assert not listed(ServeSettings(port=0)) & per_client
    with_flag = ServeSettings(port=0, relay=RelaySettings(per_client=("echo",)))
    assert listed(with_flag) >= per_client


def test_every_documented_route_is_in_the_readme_endpoint_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for route in ROUTES:
        if route.documented:
            assert f"| `{route.method} {route.path}` |" in readme, route.path
    assert all(route.documented for route in ROUTES if route.stream)


def string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = (n.value for n in ast.walk(tree) if isinstance(n, ast.Constant))
    return [value for value in constants if isinstance(value, str)]


def test_every_endpoint_path_is_written_once_in_the_code() -> None:
    found: dict[str, list[str]] = {route.path: [] for route in ROUTES}
    for source in (ROOT / "sse_cli").rglob("*.py"):
        for value in string_constants(source):
            if value in found and (value != "/" or "serve" in source.parts):
                found[value].append(source.relative_to(ROOT).as_posix())
    assert found == {path: ["sse_cli/serve/routes.py"] for path in found}
