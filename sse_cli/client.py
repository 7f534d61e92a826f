"""The SSE client: aiohttp's connect-and-reconnect loop, yielding typed actions.

`listen()` opens the stream, feeds every network chunk to the pure `Decoder` and yields what
happened as values (`Connecting`, `Connected`, `Received`, `Retrying`, `Ended`); fatal
failures are raised as `SseCliError`s. It never prints: the renderer decides what people
and pipes see. aiohttp is imported here only, and only when `listen()` runs.

Reconnecting follows the WHATWG "Reconnecting" rules of `EventSource`, and the policy for
unsafe methods that the README documents (see `ListenOptions.reconnect`).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from sse_cli import __version__
from sse_cli.errors import (
    ConnectError,
    EventTooLargeError,
    HttpStatusError,
    NotEventStreamError,
    SseCliError,
    UsageError,
)
from sse_cli.parser import DEFAULT_MAX_EVENT_SIZE, Decoder, Diagnostic, Event, Item

if TYPE_CHECKING:
    import aiohttp

#: The reconnection time before any `retry:` arrives (Chrome and Safari use 3 s).
DEFAULT_RETRY = 3.0
#: Consecutive failures back off exponentially up to this many seconds.
DEFAULT_BACKOFF_CAP = 30.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Credentials that never follow a redirect to another origin (as curl does).
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Accept", "text/event-stream"),
    ("Cache-Control", "no-cache"),
    # Compression makes servers and proxies buffer a stream.
    ("Accept-Encoding", "identity"),
    ("User-Agent", f"sse-cli/{__version__}"),
)


@dataclass(frozen=True, slots=True)
class ListenOptions:
    """Everything one `listen` needs, validated by the CLI."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    """User headers in order; an empty value removes a default header (curl's `-H 'Name:'`)."""
    body: bytes | None = None
    last_event_id: str = ""
    reconnect: bool | None = None
    """True or False forces it; None: safe methods reconnect, others once the server sent an id."""
    connect_timeout: float | None = 30.0
    idle_timeout: float | None = None
    insecure: bool = False
    cacert: str | None = None
    max_retries: int | None = None
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE
    max_redirects: int = 10
    default_retry: float = DEFAULT_RETRY
    backoff_cap: float = DEFAULT_BACKOFF_CAP
    parse: bool = True
    """False: pass chunks on unparsed (`Received(chunk, [])`), as curl -N does, when nothing
    needs events: raw output with no filter, check or stats. Ignored while reconnecting is
    possible, which needs the last event ID and the server's retry."""


@dataclass(frozen=True, slots=True)
class Connecting:
    url: str
    attempt: int
    """1 for the first connection; counts every attempt after it."""


@dataclass(frozen=True, slots=True)
class Connected:
    url: str
    """The final URL, after redirects."""
    status: int
    reason: str
    headers: Mapping[str, str]
    method: str
    request_headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Received:
    """One network chunk: its bytes as received and the items it completed, in order."""

    raw: bytes
    items: list[Item]


@dataclass(frozen=True, slots=True)
class Retrying:
    delay: float
    attempt: int
    """The attempt that comes after the wait."""
    reason: str


@dataclass(frozen=True, slots=True)
class Ended:
    """Listening is over and it is not an error (stream finished, 204)."""

    reason: str


Action = Connecting | Connected | Received | Retrying | Ended


class Backoff:
    """The wait before a reconnection: the reconnection time, doubled per consecutive failure.

    Pure and deterministic given `rand`: jitter only lengthens a wait (by up to `jitter` of
    it), so a wait is never shorter than the server's `retry:`.
    """

    def __init__(
        self,
        cap: float = DEFAULT_BACKOFF_CAP,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.cap = cap
        self.jitter = jitter
        self.rand = rand
        self.failures = 0

    def next_delay(self, retry: float) -> float:
        """The wait before the next attempt, given the reconnection time in seconds."""
        n = self.failures
        self.failures += 1
        if n == 0:
            delay = retry
        else:
            # A floor keeps a `retry: 0` server that keeps failing from a busy loop.
            delay = min(max(retry, 0.5) * 2.0**n, max(self.cap, retry))
        return delay * (1.0 + self.jitter * self.rand())

    def reset(self) -> None:
        """A connection succeeded: the next wait is the plain reconnection time."""
        self.failures = 0


NOTHING_DISPATCHED = Diagnostic(
    "nothing-dispatched",
    "the stream ended without one event: none of its lines was an SSE field "
    "(an event is 'data: ...' lines, then a blank line)",
)
#: The most bytes decoded at once. A read returns what has arrived, up to this: a reader that
#: falls behind would otherwise take up to 256 KiB at a time, and decoding, splitting and
#: writing a chunk that size runs each pass out of the CPU's cache (about 20% slower on 1 KiB
#: events). Events are still handed on the moment their bytes arrive.
READ_SIZE = 64 * 1024
#: What an HTTP header value cannot hold (aiohttp refuses to send it); a tab is allowed.
UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
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


class _Retryable(Exception):
    """A failed attempt that reconnecting may retry; wraps the error to raise otherwise."""

    def __init__(self, error: SseCliError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def display_url(url: str) -> str:
    """The URL without its password, for messages (secrets never reach stderr)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _is_event_stream(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "text/event-stream"


class _Connection:
    """The state that outlives one connection: last event ID, reconnection time, backoff."""

    def __init__(self, options: ListenOptions) -> None:
        self.options = options
        self.last_event_id = options.last_event_id
        self.retry = options.default_retry
        self.backoff = Backoff(cap=options.backoff_cap)
        self.ids_seen = False
        self.failed_attempts = 0
        self.connected = False  # has any attempt reached an event stream?
        self.headers = self._request_headers()

    def may_reconnect(self) -> bool:
        if self.options.reconnect is not None:
            return self.options.reconnect
        # Re-sending an unsafe request may repeat a paid call: only a server that sent an
        # event id (so it can resume) is asked again.
        return self.options.method in SAFE_METHODS or self.ids_seen

    def _request_headers(self) -> list[tuple[str, str]]:
        user = {name.lower() for name, _ in self.options.headers}
        headers = [(n, v) for n, v in DEFAULT_HEADERS if n.lower() not in user]
        headers += [(n, v) for n, v in self.options.headers if v]
        return headers

    def headers_for(self, url: str) -> list[tuple[str, str]]:
        headers = list(self.headers)
        # Deliberate divergence: an id a header cannot carry is not sent (UNSENDABLE_ID says so).
        if self.last_event_id and not UNSENDABLE.search(self.last_event_id):
            if not any(n.lower() == "last-event-id" for n, _ in headers):
                headers.append(("Last-Event-ID", self.last_event_id))
        return headers


async def listen(options: ListenOptions) -> AsyncIterator[Action]:
    """Listen to an event stream, reconnecting as `EventSource` does; yield what happens.

    Raises an `SseCliError` for a failure that ends listening (bad status, wrong content
    type, network errors when not reconnecting, retries spent, an over-long event).
    """
    import aiohttp

    state = _Connection(options)
    timeout = aiohttp.ClientTimeout(
        total=None, connect=options.connect_timeout, sock_read=options.idle_timeout
    )
    removed = {name for name, value in options.headers if not value}
    async with aiohttp.ClientSession(
        timeout=timeout,
        trust_env=True,
        skip_auto_headers=removed,
        connector=aiohttp.TCPConnector(ssl=_ssl_context(options)),
    ) as session:
        attempt = 0
        while True:
            attempt += 1
            yield Connecting(display_url(options.url), attempt)
            reason: str
            try:
                async with _open(session, state) as response:
                    yield Connected(
                        url=display_url(str(response.url)),
                        status=response.status,
                        reason=response.reason or "",
                        headers=response.headers,
                        method=response.method,
                        request_headers=response.request_info.headers,
                    )
                    if response.status == 204:
                        yield Ended("the server answered 204 No Content (stop reconnecting)")
                        return
                    await _check_response(response, options)
                    state.backoff.reset()
                    state.failed_attempts = 0
                    state.connected = True
                    decoder = Decoder(state.last_event_id, options.max_event_size)
                    watch = _DispatchWatch()
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
                                if not state.ids_seen and decoder.ids_seen:
                                    state.ids_seen = True
                        reason = "the server closed the stream"
                        lost: SseCliError | None = None
                    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                        lost = _network_error(exc, options, connected=True)
                        reason = lost.message
                    finally:
                        state.last_event_id = decoder.last_event_id
                        if decoder.retry is not None:
                            state.retry = decoder.retry / 1000.0
                    tail: list[Item] = list(decoder.close())
                    if watch.active and watch.ignored_fields:
                        tail.append(NOTHING_DISPATCHED)
                    if UNSENDABLE.search(state.last_event_id) and state.may_reconnect():
                        tail.append(UNSENDABLE_ID)
                    if tail:
                        yield Received(b"", tail)
                    if not state.may_reconnect():
                        if lost is not None:
                            raise lost
                        yield Ended(reason)
                        return
                    delay = state.backoff.next_delay(state.retry)
            except _Retryable as failure:
                state.failed_attempts += 1
                if not state.may_reconnect() or (
                    options.max_retries is not None and state.failed_attempts > options.max_retries
                ):
                    raise failure.error from None
                reason = failure.error.message
                delay = state.backoff.next_delay(state.retry)
                if failure.retry_after is not None:
                    delay = max(delay, failure.retry_after)
            yield Retrying(delay, attempt + 1, reason)
            await asyncio.sleep(delay)


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


class _open:
    """`async with _open(session, state) as response`: one request, redirects followed by hand.

    By hand, so that credentials are dropped on a redirect to another origin and the
    method becomes GET after a 303 (and after 301 or 302 for a POST), as curl and browsers do.
    """

    def __init__(self, session: aiohttp.ClientSession, state: _Connection) -> None:
        self.session = session
        self.state = state
        self.response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        import aiohttp
        from yarl import URL

        options = self.state.options
        method, url, body = options.method, options.url, options.body
        headers = self.state.headers_for(url)
        for _ in range(options.max_redirects + 1):
            target_url = URL(url)
            authorized = any(n.lower() == "authorization" for n, _ in headers)
            if target_url.user is not None and authorized:
                # An Authorization header wins over credentials in the URL, as in curl
                # (aiohttp refuses to be given both).
                target_url = target_url.with_user(None)
            try:
                response = await self.session.request(
                    method, target_url, headers=headers, data=body, allow_redirects=False
                )
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                error = _network_error(exc, options, connected=False)
                if isinstance(error, UsageError) or isinstance(
                    exc, aiohttp.ClientConnectorCertificateError
                ):
                    raise error from None  # no retry fixes a bad URL or an untrusted certificate
                if (
                    isinstance(exc, aiohttp.ClientConnectorDNSError)
                    and not self.state.connected
                    and options.reconnect is None
                ):
                    # The spec lets a client give up when reconnecting is futile: a host that
                    # never resolved is a typo far more often than an outage (--reconnect
                    # retries anyway). Once a stream has run, a DNS failure is retried.
                    raise error from None
                raise _Retryable(error) from None
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                self.response = response
                return response
            response.release()
            try:
                target = str(response.url.join(URL(location)))
                origin = _origin(target)
            except ValueError as exc:
                raise ConnectError(
                    f"{display_url(url)} redirected to a malformed URL: {exc}",
                    "the server's Location header is broken",
                ) from None
            if origin[0] not in ("http", "https"):
                raise ConnectError(
                    f"{display_url(url)} redirected to {display_url(target)}",
                    "sse-cli follows redirects to http:// and https:// URLs only",
                )
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
            if origin != _origin(url):
                headers = [(n, v) for n, v in headers if n.lower() not in CREDENTIAL_HEADERS]
            url = target
        raise ConnectError(
            f"stopped after {options.max_redirects} redirects at {display_url(url)}",
            "the server redirects in a loop",
        )

    async def __aexit__(self, *exc_info: object) -> None:
        if self.response is not None:
            self.response.release()
            self.response.close()


async def _body_preview(response: aiohttp.ClientResponse, limit: int = 200) -> str:
    try:
        head = await asyncio.wait_for(response.content.read(limit), 2.0)
    except Exception:  # the preview is a courtesy: never let it hide the real error
        return ""
    text = " ".join(head.decode("utf-8", "replace").split())
    if not text:
        return ""
    return ": " + (text if len(head) < limit else text + " …")


async def _check_response(response: aiohttp.ClientResponse, options: ListenOptions) -> None:
    """Fail a response that is not an event stream; its body is never parsed as events."""
    status = response.status
    url = display_url(str(response.url))
    if not 200 <= status < 300:
        preview = await _body_preview(response)
        error = HttpStatusError(
            status,
            f"HTTP {status} {response.reason or ''}".rstrip() + f" from {url}{preview}",
            _status_hint(status),
        )
        if status >= 500 or status == 429:
            raise _Retryable(error, _retry_after(response.headers.get("Retry-After")))
        raise error
    content_type = response.headers.get("Content-Type")
    if not _is_event_stream(content_type):
        preview = await _body_preview(response)
        raise NotEventStreamError(
            f"{url} answered {status} with Content-Type {content_type or '(none)'}, "
            f"not text/event-stream{preview}",
            "check the URL and method; the server did not start an event stream",
        )


def _status_hint(status: int) -> str | None:
    if status in (401, 403):
        return "send credentials with -H 'Authorization: ...'"
    if status == 404:
        return "check the URL's path"
    if status == 405:
        return "try another method with -X, or a body with -d / --json"
    if status == 429:
        return "the server is rate limiting; wait, or let sse-cli reconnect"
    if status >= 500:
        return "a server error; sse-cli retries it unless --no-reconnect"
    return None


def _network_error(exc: BaseException, options: ListenOptions, *, connected: bool) -> SseCliError:
    import aiohttp

    url = display_url(options.url)
    if isinstance(exc, aiohttp.SocketTimeoutError) or (connected and _is_timeout(exc)):
        return ConnectError(
            f"no data from {url} for {options.idle_timeout} s", "the --idle-timeout elapsed"
        )
    if _is_timeout(exc):
        return ConnectError(
            f"timed out connecting to {url} after {options.connect_timeout} s",
            "raise --connect-timeout, or check the host and port",
        )
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ConnectError(
            f"TLS certificate of {url} not trusted: {exc.certificate_error}",
            "give its CA with --cacert FILE, or skip verification with --insecure",
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        host = urlsplit(options.url).hostname
        return ConnectError(f"could not resolve host {host}", "check the URL's host name")
    if isinstance(exc, aiohttp.ClientSSLError):
        return ConnectError(f"TLS error with {url}: {exc}", "check the URL's scheme and port")
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno_ = exc.os_error.errno
        detail = os.strerror(errno_).lower() if errno_ else str(exc.os_error)
        return ConnectError(
            f"could not connect to {url}: {detail}", "is the server running, and the port right?"
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return UsageError(f"invalid URL {url}", "give a full http:// or https:// URL")
    detail = str(exc) or type(exc).__name__
    if connected:
        return ConnectError(f"connection to {url} lost: {detail}")
    return ConnectError(f"request to {url} failed: {detail}")


def _is_timeout(exc: BaseException) -> bool:
    import aiohttp

    return isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError)
