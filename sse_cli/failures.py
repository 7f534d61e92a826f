"""What a failed request or a wrong response means: the error to raise, with its hint.

Used by the client only. aiohttp is imported inside the functions that classify its
exceptions, never at module level.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sse_cli.errors import (
    ConnectError,
    HttpStatusError,
    NotEventStreamError,
    SseCliError,
    UsageError,
)
from sse_cli.request import ListenOptions, mask_url

if TYPE_CHECKING:
    import aiohttp


class Retryable(Exception):
    """A failed attempt that reconnecting may retry; wraps the error to raise otherwise."""

    def __init__(self, error: SseCliError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a count of seconds, or an HTTP date (None if neither)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_event_stream(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "text/event-stream"


async def _body_preview(response: aiohttp.ClientResponse, limit: int = 200) -> str:
    try:
        head = await asyncio.wait_for(response.content.read(limit), 2.0)
    except Exception:  # the preview is a courtesy: never let it hide the real error
        return ""
    text = " ".join(head.decode("utf-8", "replace").split())
    if not text:
        return ""
    return ": " + (text if len(head) < limit else text + " …")


async def check_response(response: aiohttp.ClientResponse, options: ListenOptions) -> None:
    """Fail a response that is not an event stream; its body is never parsed as events."""
    status = response.status
    url = mask_url(str(response.url))
    if not 200 <= status < 300:
        preview = await _body_preview(response)
        error = HttpStatusError(
            status,
            f"HTTP {status} {response.reason or ''}".rstrip() + f" from {url}{preview}",
            _status_hint(status),
        )
        if status >= 500 or status == 429:
            raise Retryable(error, retry_after(response.headers.get("Retry-After")))
        raise error
    if status != 200:
        # WHATWG "fail the connection": only 200 announces an event stream; any other 2xx
        # (204 aside, which the client handles first) is neither parsed nor reconnected.
        # A deliberate match with EventSource: curl would print any 2xx body.
        preview = await _body_preview(response)
        raise NotEventStreamError(
            f"{url} answered {_status_text(status, response.reason)}, not 200{preview}",
            "only 200 opens an event stream, as in a browser's EventSource",
        )
    content_type = response.headers.get("Content-Type")
    if not _is_event_stream(content_type):
        preview = await _body_preview(response)
        raise NotEventStreamError(
            f"{url} answered {status} with Content-Type {content_type or '(none)'}, "
            f"not text/event-stream{preview}",
            "check the URL and method; the server did not start an event stream",
        )


def _status_text(status: int, reason: str | None) -> str:
    """`205 Reset Content`: the standard phrase where there is one, else the server's."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = reason or ""
    return f"{status} {phrase}".rstrip()


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


def network_error(exc: BaseException, options: ListenOptions, *, connected: bool) -> SseCliError:
    import aiohttp

    url = mask_url(options.url)
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
        return ConnectError(f"could not resolve host {host}", "check the host name or your network")
    if not_tls(exc):
        plain = urlsplit(options.url)._replace(scheme="http").geturl()
        return ConnectError(
            f"TLS handshake with {url} failed: the server did not answer TLS; "
            f"is it {mask_url(plain)}?"
        )
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


#: Why a refused first connection fails at once, and how to wait for a server instead.
REFUSED_HINT = (
    "is the server running, and the port right? --reconnect waits for a server that is "
    "starting; --max-retries N stops after N retries"
)
#: OpenSSL's reasons for a handshake answered by something that does not speak TLS.
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL"})


def not_tls(exc: BaseException) -> bool:
    """An https:// handshake that met a server answering plain HTTP (or anything but TLS)."""
    import aiohttp

    if not isinstance(exc, aiohttp.ClientConnectorSSLError):
        return False
    return getattr(exc.os_error, "reason", None) in _NOT_TLS_REASONS


def futile_at_start(exc: BaseException, error: SseCliError) -> SseCliError | None:
    """The error to fail with at once when no stream has run yet and no retry was asked for.

    The spec lets a client give up when reconnecting is futile. A host name that never
    resolved is a typo far more often than an outage, and a refused connection is a server
    that is not running or a wrong port (curl retries it only with --retry-connrefused).
    """
    import aiohttp

    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return error
    if isinstance(exc, aiohttp.ClientConnectorError) and _refused(exc.os_error):
        return ConnectError(error.message, REFUSED_HINT)
    return None


def _refused(error: OSError) -> bool:
    # Happy Eyeballs over several addresses may wrap the refusals in one OSError.
    return (
        isinstance(error, ConnectionRefusedError)
        or error.errno == errno.ECONNREFUSED
        or f"[Errno {errno.ECONNREFUSED}]" in str(error)
    )


def _is_timeout(exc: BaseException) -> bool:
    import aiohttp

    return isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError)
