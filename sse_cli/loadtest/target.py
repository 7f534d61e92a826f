"""Where every stream of one run connects, and what it sends; helpers for failed requests.

`make_target` parses the URL once, resolves the host once, and builds the request headers
(listen's defaults, the user's, Basic credentials from the URL), so the many streams share
them. Stdlib only.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import sys
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sse_cli.errors import ConnectError
from sse_cli.loadtest.latency import Extract
from sse_cli.loadtest.metrics import Metrics
from sse_cli.request import ListenOptions


@dataclass
class Target:
    """The parsed URL and everything every stream shares."""

    options: ListenOptions
    metrics: Metrics
    extract: Extract | None
    events_per_stream: int | None
    host: str
    """The address connected to: the URL's host, resolved once for every stream."""
    port: int
    target: str
    ssl: ssl.SSLContext | None
    server_hostname: str | None
    host_header: str
    headers: list[tuple[str, str]]
    marker: str | None = None
    """Text that event data must hold for `extract` to be worth calling (None: always call)."""
    unreachable: bool = False
    """Every attempt so far was refused and no stream ever opened: open no more."""


@dataclass(frozen=True)
class Endpoint:
    """Where a URL says to connect, and what to ask there: for the streams and the publisher."""

    secure: bool
    hostname: str
    port: int
    host_header: str
    target: str


def endpoint(url: str) -> Endpoint:
    parts = urlsplit(url)
    secure = parts.scheme.lower() == "https"
    hostname = parts.hostname or ""
    host_header = f"[{hostname}]" if ":" in hostname else hostname
    if parts.port is not None:
        host_header += f":{parts.port}"
    return Endpoint(
        secure=secure,
        hostname=hostname,
        port=parts.port or (443 if secure else 80),
        host_header=host_header,
        target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    )


def make_target(
    options: ListenOptions,
    metrics: Metrics,
    extract: Extract | None,
    per_stream: int | None,
    marker: str | None = None,
) -> Target:
    parts = urlsplit(options.url)  # for the credentials it may hold
    where = endpoint(options.url)
    headers = options.request_headers()
    if parts.username is not None and not any(n.lower() == "authorization" for n, _ in headers):
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers.append(("Authorization", "Basic " + base64.b64encode(pair.encode()).decode()))
    return Target(
        options=options,
        metrics=metrics,
        extract=extract,
        events_per_stream=per_stream,
        host=resolve(where.hostname, where.port),
        port=where.port,
        target=where.target,
        ssl=ssl_context(options) if where.secure else None,
        server_hostname=where.hostname if where.secure else None,
        host_header=where.host_header,
        headers=headers,
        marker=marker,
    )


def resolve(host: str, port: int) -> str:
    """The host's first address: resolved once, not once per stream."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ConnectError(f"could not resolve host {host}", "check the URL's host name") from None
    return str(infos[0][4][0])


#: Linux's IP_BIND_ADDRESS_NO_PORT (in the socket module from Python 3.12).
NO_PORT: int | None = getattr(
    socket, "IP_BIND_ADDRESS_NO_PORT", 24 if sys.platform == "linux" else None
)


async def connect_from(
    loop: asyncio.AbstractEventLoop, source: str, host: str, port: int
) -> socket.socket:
    """A TCP connection from the address `source` to host:port, its socket non-blocking.

    With IP_BIND_ADDRESS_NO_PORT the bind takes the address only and the kernel picks the
    port at connect, per destination, as it does without a bind; a plain bind would take a
    port for every destination at once."""
    sock = socket.socket(socket.AF_INET6 if ":" in source else socket.AF_INET)
    try:
        sock.setblocking(False)
        if NO_PORT is not None:
            sock.setsockopt(socket.IPPROTO_IP, NO_PORT, 1)
        sock.bind((source, 0))
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def ssl_context(options: ListenOptions) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=options.cacert)
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def error_note(body: bytes) -> str:
    """An error response's message: its JSON "error" (as `sse-cli serve` sends), or its text."""
    import json

    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return str(doc["error"])
    return " ".join(body.decode("utf-8", "replace").split())


def connect_error_kind(exc: BaseException) -> str:
    """A failed connection attempt's kind, as the report counts it."""
    import errno

    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls-certificate"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        return "open-files"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRNOTAVAIL:
        return "no-ports"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "connect"
