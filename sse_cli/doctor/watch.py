"""The watch: the probes run side by side for the duration, then the checks read them.

Two probes start together, one asking as curl does (`Accept-Encoding: identity`) and one as a
browser's `EventSource` does (`Accept-Encoding: gzip, deflate, br`, and `Origin` when given).
Near the end (or when the curl-like stream ends) a third reconnects with the last event ID
the curl-like probe saw, as `EventSource` would, asking as curl does. For https, one more
connection reads the certificate and offers HTTP/2 (ALPN) without sending a request.
Stdlib only; nothing here prints.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from sse_cli import __version__
from sse_cli.doctor.probe import Probe, ProbeSpec
from sse_cli.errors import ConnectError
from sse_cli.loadtest.target import Endpoint, endpoint, ssl_context
from sse_cli.loadtest.wire import build_request
from sse_cli.protocol.reconnect import Reconnection
from sse_cli.request import ListenOptions

__all__ = ["BROWSER_HEADERS", "TlsInfo", "Watch", "WatchPlan", "watch"]

#: What a browser's EventSource sends besides the page's cookies.
BROWSER_HEADERS: tuple[tuple[str, str], ...] = (
    ("Accept", "text/event-stream"),
    ("Cache-Control", "no-cache"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("User-Agent", f"Mozilla/5.0 (compatible; sse-cli/{__version__} doctor)"),
)


@dataclass(frozen=True)
class WatchPlan:
    """What to watch, how, and for how long."""

    options: ListenOptions
    duration: float = 20.0
    origin: str | None = None


@dataclass(frozen=True)
class TlsInfo:
    """What a TLS handshake told: the certificate's end, and the protocol ALPN chose."""

    not_after: float | None = None
    """The certificate's expiry as a Unix time (None: not verified, so not read)."""
    alpn: str | None = None
    version: str | None = None
    error: str | None = None


@dataclass
class Watch:
    """Everything one watch saw: the probes by name, the DNS time, the TLS handshake."""

    plan: WatchPlan
    url: str
    probes: dict[str, Probe] = field(default_factory=dict)
    dns_s: float | None = None
    address: str | None = None
    tls: TlsInfo | None = None
    resume_seed: str | None = None
    """The last event ID the reconnecting probe sent (None: it did not run)."""
    resume_at: float | None = None
    elapsed: float = 0.0


def resume_window(duration: float) -> float:
    """How long before the end the reconnecting probe starts: long enough for an event."""
    return min(5.0, max(1.0, duration * 0.3))


async def watch(plan: WatchPlan, progress: Callable[[Watch], None] | None = None) -> Watch:
    """Run the probes for `plan.duration` seconds (less when every one has ended)."""
    options = plan.options
    where = endpoint(options.url)
    result = Watch(plan, options.url)
    origin = time.monotonic()
    result.address = await _resolve(where, options.connect_timeout)
    result.dns_s = time.monotonic() - origin
    tls_task = asyncio.ensure_future(_tls_info(where, result.address, options))
    curl = Probe(_spec("curl", plan, where, result.address), origin)
    browser = Probe(_spec("browser", plan, where, result.address), origin)
    result.probes = {"curl": curl, "browser": browser}
    tasks: list[asyncio.Future[None]] = [
        asyncio.ensure_future(p.run(plan.duration)) for p in (curl, browser)
    ]
    try:
        await _until_resume(result, tasks, origin, progress)
        seed = _seed(curl)
        if seed is not None:
            result.resume_seed, result.resume_at = seed, time.monotonic() - origin
            again = Probe(_spec("resume", plan, where, result.address, seed), origin)
            result.probes["resume"] = again
            tasks.append(asyncio.ensure_future(again.run(plan.duration)))
        await _until(tasks, origin, plan.duration, result, progress)
        result.elapsed = min(time.monotonic() - origin, plan.duration)
        if where.secure:
            result.tls = await tls_task
    finally:
        tls_task.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, tls_task, return_exceptions=True)
    return result


async def _until_resume(
    result: Watch,
    tasks: Sequence[asyncio.Future[None]],
    origin: float,
    progress: Callable[[Watch], None] | None,
) -> None:
    """Wait until the reconnecting probe is due: near the end, or when the curl-like stream
    ended (as EventSource reconnects then)."""
    due = result.plan.duration - resume_window(result.plan.duration)
    await _until(tasks[:1], origin, due, result, progress)


async def _until(
    tasks: Sequence[asyncio.Future[None]],
    origin: float,
    end: float,
    result: Watch,
    progress: Callable[[Watch], None] | None,
) -> None:
    """Wait for `tasks` to finish, or watch time `end`, telling `progress` twice a second."""
    while True:
        left = end - (time.monotonic() - origin)
        pending = [t for t in tasks if not t.done()]
        if left <= 0 or not pending:
            return
        await asyncio.wait(pending, timeout=min(left, 0.5))
        if progress is not None:
            progress(result)


def _seed(probe: Probe) -> str | None:
    """The last event ID a probe holds, when it ever received one."""
    if not probe.ids_seen or not probe.arrivals:
        return None
    return probe.arrivals[-1].event.id


def _spec(
    name: str, plan: WatchPlan, where: Endpoint, address: str, seed: str | None = None
) -> ProbeSpec:
    options = plan.options
    # The reconnect asks as curl does: whether ids resume is its one question, kept apart
    # from what compression does to the browser-like probe.
    headers = options.request_headers()
    user = {n.lower() for n, _ in options.headers}
    if name == "browser":
        browser = {n.lower(): (n, v) for n, v in BROWSER_HEADERS if n.lower() not in user}
        headers = [browser.pop(n.lower(), (n, v)) for n, v in headers] + list(browser.values())
        if plan.origin and "origin" not in user:
            headers.append(("Origin", plan.origin))
    parts = urlsplit(options.url)
    if parts.username is not None and "authorization" not in user:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers.append(("Authorization", "Basic " + base64.b64encode(pair.encode()).decode()))
    last_id = options.last_event_id if seed is None else seed
    headers = Reconnection(options.policy, last_id).headers(headers)
    context = None
    if where.secure:
        context = ssl_context(options)
        context.set_alpn_protocols(["http/1.1"])  # the probe speaks HTTP/1.1 only
    request = build_request(options.method, where.target, where.host_header, headers, options.body)
    return ProbeSpec(
        name=name,
        host=address,
        port=where.port,
        request=request,
        headers=tuple(headers),
        ssl=context,
        server_hostname=where.hostname if where.secure else None,
        connect_timeout=options.connect_timeout,
        last_event_id=last_id or "",
        max_event_size=options.max_event_size,
    )


async def _resolve(where: Endpoint, timeout: float | None) -> str:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(where.hostname, where.port, type=socket.SOCK_STREAM), timeout
        )
    except (OSError, asyncio.TimeoutError):
        raise ConnectError(
            f"could not resolve host {where.hostname}", "check the host name or your network"
        ) from None
    return str(infos[0][4][0])


async def _tls_info(where: Endpoint, address: str, options: ListenOptions) -> TlsInfo:
    """A handshake offering h2 and http/1.1, for the certificate and the ALPN choice."""
    if not where.secure:
        return TlsInfo()
    context = ssl_context(options)
    context.set_alpn_protocols(["h2", "http/1.1"])
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                address, where.port, ssl=context, server_hostname=where.hostname
            ),
            options.connect_timeout,
        )
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
        return TlsInfo(error=str(exc) or type(exc).__name__)
    tls = writer.get_extra_info("ssl_object")
    cert = tls.getpeercert() if tls is not None else None
    not_after = cert.get("notAfter") if cert else None
    info = TlsInfo(
        not_after=ssl.cert_time_to_seconds(not_after) if isinstance(not_after, str) else None,
        alpn=tls.selected_alpn_protocol() if tls is not None else None,
        version=tls.version() if tls is not None else None,
    )
    writer.close()
    return info
