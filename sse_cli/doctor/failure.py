"""When no probe opened a stream: the one error `listen` would have ended with (status 3 to 6).

A probe's outcome is a raw socket's: an OSError or ssl.SSLError from connecting, or a
response head. Stdlib only.
"""

from __future__ import annotations

import ssl
from http import HTTPStatus

from sse_cli.doctor.probe import Probe
from sse_cli.errors import ConnectError, HttpStatusError, NotEventStreamError, SseCliError
from sse_cli.request import mask_url

__all__ = ["no_stream_error"]

_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL")


def no_stream_error(probe: Probe, url: str) -> SseCliError:
    """Why `probe` opened no stream, worded as `listen` words it."""
    shown = mask_url(url)
    response = probe.response
    if response is None:
        return _connect_error(probe.error, shown, probe.spec.connect_timeout)
    code = response.status
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = response.reason
    preview = " ".join(probe.preview.decode("utf-8", "replace").split())
    tail = f": {preview}" if preview else ""
    if not 200 <= code < 300:
        hint = "check the URL's path" if code == 404 else None
        return HttpStatusError(code, f"HTTP {code} {phrase} from {shown}{tail}".rstrip(), hint)
    if code != 200:
        return NotEventStreamError(
            f"{shown} answered {code} {phrase}, not 200{tail}",
            "only 200 opens an event stream, as in a browser's EventSource",
        )
    kind = response.headers.get("content-type") or "(none)"
    return NotEventStreamError(
        f"{shown} answered {code} with Content-Type {kind}, not text/event-stream{tail}",
        "check the URL and method; the server did not start an event stream",
    )


def _connect_error(error: BaseException | None, url: str, timeout: float | None) -> SseCliError:
    if isinstance(error, ssl.SSLCertVerificationError):
        return ConnectError(
            f"TLS certificate of {url} not trusted: {error.verify_message}",
            "give its CA with --cacert FILE, or skip verification with --insecure",
        )
    if isinstance(error, ssl.SSLError) and getattr(error, "reason", None) in _NOT_TLS:
        plain = url.replace("https://", "http://", 1)
        return ConnectError(
            f"TLS handshake with {url} failed: the server did not answer TLS; is it {plain}?"
        )
    if isinstance(error, ConnectionRefusedError):
        return ConnectError(
            f"could not connect to {url}: connection refused",
            "is the server running, and the port right?",
        )
    if isinstance(error, TimeoutError) or error is None:
        return ConnectError(
            f"timed out connecting to {url} after {timeout} s",
            "raise --connect-timeout, or check the host and port",
        )
    detail = str(error) or type(error).__name__
    return ConnectError(f"request to {url} failed: {detail}")
