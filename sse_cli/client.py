"""The SSE client: aiohttp's connect-and-reconnect loop, yielding typed actions.

`listen()` opens the stream, feeds every network chunk to the pure `Decoder` and yields what
happened as values (`sse_cli.actions`); fatal failures are raised as `SseCliError`s. It never
prints: the renderer decides what people and pipes see. aiohttp is imported here only, and
only when `listen()` runs. It never imports `sse_cli.serve`.

Reconnecting follows the WHATWG "Reconnecting" rules of `EventSource`, and the policy for
unsafe methods that the README documents (see `ListenOptions.reconnect`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sse_cli.actions import Action, Connected, Connecting, Ended, Received, Retrying
from sse_cli.errors import (
    ConnectError,
    EventTooLargeError,
    HttpStatusError,
    SseCliError,
    UsageError,
)
from sse_cli.failures import (
    Retryable,
    check_response,
    futile_at_start,
    head_of,
    network_error,
    not_tls,
)
from sse_cli.protocol.decoder import Decoder, Diagnostic, Event, Item
from sse_cli.protocol.reconnect import CONTROL, GiveUp, Reconnection
from sse_cli.protocol.response import Outcome
from sse_cli.request import SECRET_HEADERS, TOKEN, ListenOptions, mask_url

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: The most bytes decoded at once. A read returns what has arrived, up to this: a reader that
#: falls behind would otherwise take far more at a time, and decoding, splitting and writing
#: a chunk that size runs each pass out of the CPU's cache (bench/RESULTS.md has the figures).
#: Events are still handed on the moment their bytes arrive.
READ_SIZE = 64 * 1024
NOTHING_DISPATCHED = Diagnostic(
    "nothing-dispatched",
    "the stream ended without one event: none of its lines was an SSE field "
    "(an event is 'data: ...' lines, then a blank line)",
)
UNSENDABLE_ID = Diagnostic(
    "unsendable-id",
    "the last event id holds a control character, which an HTTP header cannot carry: "
    "reconnecting without Last-Event-ID, so the server may repeat events",
)
NO_BLANK_LINE = Diagnostic(
    "no-blank-line",
    "data lines keep arriving but no blank line ends an event, so nothing is dispatched yet "
    "(an event ends with an empty line)",
)


def check_sendable(url: str, headers: Iterable[tuple[str, str]]) -> None:
    """The last check before a request is sent: no URL or header holds what HTTP cannot carry.

    The same rule (`CONTROL`) that refuses a bad `-H` or URL on the command line, for
    options built by other means; a value is never echoed, since it may be a secret.
    """
    if CONTROL.search(url):
        raise UsageError(
            f"URL {mask_url(url)!r} holds a control character", "give the URL as one line"
        )
    for name, value in headers:
        if not TOKEN.match(name) or CONTROL.search(value):
            raise UsageError(
                f"header {name!r} cannot be sent: it holds a control character",
                "give one line of printable text per header",
            )


class _DispatchWatch:
    """Notices a stream that sends lines but never dispatches, to say why nothing prints."""

    __slots__ = ("active", "ignored_fields")

    def __init__(self) -> None:
        self.active = True
        self.ignored_fields = False

    def check(self, items: list[Item], decoder: Decoder) -> None:
        for item in items:
            if type(item) is Event:
                self.active = False
                return
            if type(item) is Diagnostic and item.code == "unknown-field":
                self.ignored_fields = True
        if decoder.pending_data_lines >= 64:
            items.append(NO_BLANK_LINE)
            self.active = False


class _Dropped(Exception):
    """A stream that had started was lost; reconnecting may resume it."""

    def __init__(self, error: SseCliError) -> None:
        super().__init__(str(error))
        self.error = error


class _Connection:
    """One stream's transport state: its options and headers, around the protocol core's
    reconnection state (last event ID, retry, backoff, retries)."""

    def __init__(self, options: ListenOptions) -> None:
        self.options = options
        self.state = Reconnection(options.policy, options.last_event_id)
        self.headers = options.request_headers()


async def listen(options: ListenOptions) -> AsyncIterator[Action]:
    """Listen to an event stream, reconnecting as `EventSource` does; yield what happens.

    Raises an `SseCliError` for a failure that ends listening (bad status, wrong content
    type, network errors when not reconnecting, retries spent, an over-long event).
    """
    conn = _Connection(options)
    state = conn.state
    async with _session(options) as session:
        attempt = 0
        while True:
            attempt += 1
            yield Connecting(mask_url(options.url), attempt)
            try:
                async with _opened(session, conn) as response:
                    yield _connected(response)
                    if head_of(response).outcome is Outcome.STOP:
                        yield Ended("the server answered 204 No Content (stop reconnecting)")
                        return
                    await check_response(response)
                    state.opened()
                    lost: SseCliError | None = None
                    try:
                        async with contextlib.aclosing(_read(response, conn)) as chunks:
                            async for received in chunks:
                                yield received
                    except _Dropped as dropped:
                        lost = dropped.error
                    reason = lost.message if lost else "the server closed the stream"
                    decision = state.after_stream()
                    if isinstance(decision, GiveUp):
                        if lost is not None:
                            raise _given_up(lost, decision)
                        yield Ended(reason)
                        return
            except Retryable as failure:
                decision = state.after_failure(failure.retry_after)
                if isinstance(decision, GiveUp):
                    raise _given_up(failure.error, decision) from None
                reason = failure.error.message
            yield Retrying(decision.delay, attempt + 1, reason)
            await asyncio.sleep(decision.delay)


def _given_up(error: SseCliError, decision: GiveUp) -> SseCliError:
    """The error that ends listening, its hint saying what stopped the retries (a status's
    usual hint is about retrying, so the reason replaces it)."""
    if error.hint is None or isinstance(error, HttpStatusError):
        error.hint = decision.reason
    return error


def _session(options: ListenOptions) -> aiohttp.ClientSession:
    import aiohttp

    timeout = aiohttp.ClientTimeout(
        total=None, connect=options.connect_timeout, sock_read=options.idle_timeout
    )
    return aiohttp.ClientSession(
        timeout=timeout,
        trust_env=True,
        skip_auto_headers={name for name, value in options.headers if not value},
        connector=aiohttp.TCPConnector(ssl=_ssl_context(options)),
    )


def _connected(response: aiohttp.ClientResponse) -> Connected:
    return Connected(
        url=mask_url(str(response.url)),
        status=response.status,
        reason=response.reason or "",
        headers=response.headers,
        method=response.method,
        request_headers=response.request_info.headers,
    )


async def _read(
    response: aiohttp.ClientResponse, conn: _Connection
) -> AsyncGenerator[Received, None]:
    """One stream's chunks and what they completed; the state keeps its id and retry.

    Ends with what closing the decoder reports; raises `_Dropped` when the network failed.
    """
    import aiohttp

    options, state = conn.options, conn.state
    decoder = Decoder(state.last_event_id, options.max_event_size)
    watch = _DispatchWatch()
    lost: SseCliError | None = None
    try:
        if not options.parse and not state.may_reconnect():
            async for chunk in response.content.iter_any():
                yield Received(chunk, [])
        else:
            async for chunk in response.content.iter_chunked(READ_SIZE):
                try:
                    items = decoder.feed(chunk)
                except EventTooLargeError as exc:
                    # Deliver what the chunk completed before the bound tripped.
                    yield Received(chunk, exc.items)
                    raise
                if watch.active:
                    watch.check(items, decoder)
                yield Received(chunk, items)
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        lost = network_error(exc, options, connected=True)
    finally:
        state.seen(decoder.last_event_id, decoder.retry, decoder.ids_seen)
    tail: list[Item] = list(decoder.close())
    if watch.active and watch.ignored_fields:
        tail.append(NOTHING_DISPATCHED)
    if not state.sendable_id() and state.may_reconnect():
        tail.append(UNSENDABLE_ID)
    if tail:
        yield Received(b"", tail)
    if lost is not None:
        raise _Dropped(lost)


def _ssl_context(options: ListenOptions) -> ssl.SSLContext | bool:
    if options.insecure:
        return False
    if options.cacert:
        try:
            return ssl.create_default_context(cafile=options.cacert)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(
                f"cannot use --cacert {options.cacert}: {exc}", "give a PEM file of CA certificates"
            ) from None
    return True


@contextlib.asynccontextmanager
async def _opened(
    session: aiohttp.ClientSession, conn: _Connection
) -> AsyncIterator[aiohttp.ClientResponse]:
    """One request, redirects followed by hand; the response is released on leaving.

    By hand, so that credentials are dropped on a redirect to another origin and the
    method becomes GET after a 303 (and after 301 or 302 for a POST), as curl and browsers do.
    """

    options = conn.options
    method, url, body = options.method, options.url, options.body
    headers = conn.state.headers(conn.headers)
    for _ in range(options.max_redirects + 1):
        response = await _send(session, conn, method, url, headers, body)
        location = response.headers.get("Location")
        if response.status not in REDIRECT_STATUSES or not location:
            try:
                yield response
            finally:
                response.release()
                response.close()
            return
        response.release()
        target = _redirect_target(url, response.url, location)
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = "GET", None
            headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
        if _origin(target) != _origin(url):
            # Credentials never follow a redirect to another origin (as curl does).
            headers = [(n, v) for n, v in headers if n.lower() not in SECRET_HEADERS]
        url = target
    raise ConnectError(
        f"stopped after {options.max_redirects} redirects at {mask_url(url)}",
        "the server redirects in a loop",
    )


async def _send(
    session: aiohttp.ClientSession,
    conn: _Connection,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
) -> aiohttp.ClientResponse:
    """Send one request; a failure that reconnecting may fix is raised as `Retryable`."""
    import aiohttp
    from yarl import URL

    check_sendable(url, headers)
    target_url = URL(url)
    if target_url.user is not None and any(n.lower() == "authorization" for n, _ in headers):
        # An Authorization header wins over credentials in the URL, as in curl
        # (aiohttp refuses to be given both).
        target_url = target_url.with_user(None)
    try:
        return await session.request(
            method, target_url, headers=headers, data=body, allow_redirects=False
        )
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        error = network_error(exc, conn.options, connected=False)
        if (
            isinstance(error, UsageError)
            or isinstance(exc, aiohttp.ClientConnectorCertificateError)
            or not_tls(exc)
        ):
            # No retry fixes a bad URL, an untrusted certificate or a wrong scheme.
            raise error from None
        if not conn.state.connected and not conn.state.retries_asked():
            # Deliberate divergence from EventSource, which retries these: before any
            # stream has run, a host that never resolves or a refused connection fails at
            # once. Once a stream has run, both are retried.
            futile = futile_at_start(exc, error)
            if futile is not None:
                raise futile from None
        raise Retryable(error) from None


def _redirect_target(url: str, base: URL, location: str) -> str:
    """The URL a redirect leads to, if sse-cli follows it there."""
    from yarl import URL

    try:
        target = str(base.join(URL(location)))
        scheme = _origin(target)[0]
    except ValueError as exc:
        raise ConnectError(
            f"{mask_url(url)} redirected to a malformed URL: {exc}",
            "the server's Location header is broken",
        ) from None
    if scheme not in ("http", "https"):
        raise ConnectError(
            f"{mask_url(url)} redirected to {mask_url(target)}",
            "sse-cli follows redirects to http:// and https:// URLs only",
        )
    return target


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port
