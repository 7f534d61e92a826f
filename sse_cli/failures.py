"""aiohttp's side of a failed attempt: its exceptions and responses, as the errors to raise.

What a response head means is the protocol core's (`sse_cli.protocol.response`); this module
only reads aiohttp's objects for it, and words aiohttp's network exceptions. Used by the
client only. aiohttp is imported inside the functions, never at module level.
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sse_cli.errors import ConnectError, SseCliError, UsageError
from sse_cli.protocol.response import PREVIEW_BYTES, Head, Outcome, preview_text
from sse_cli.request import ListenOptions, mask_url

if TYPE_CHECKING:
    import aiohttp


class Retryable(Exception):
    """A failed attempt that reconnecting may retry; wraps the error to raise otherwise."""

    def __init__(self, error: SseCliError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


async def _body_preview(response: aiohttp.ClientResponse) -> str:
    try:
        head = await asyncio.wait_for(response.content.read(PREVIEW_BYTES), 2.0)
    except Exception:  # the preview is a courtesy: never let it hide the real error
        return ""
    return preview_text(head)


def head_of(response: aiohttp.ClientResponse) -> Head:
    """What the protocol core needs of aiohttp's response head."""
    headers = response.headers
    return Head(
        response.status,
        response.reason or "",
        headers.get("Content-Type"),
        headers.get("Retry-After"),
        mask_url(str(response.url)),
    )


async def check_response(response: aiohttp.ClientResponse) -> None:
    """Fail a response that does not open an event stream (`Head.outcome`, 204 aside, which
    the client handles first); its body is never parsed as events, only previewed."""
    head = head_of(response)
    outcome = head.outcome
    if outcome is Outcome.OPEN:
        return
    error = head.error(await _body_preview(response))
    if outcome is Outcome.RETRY:
        raise Retryable(error, head.retry_delay())
    raise error


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
