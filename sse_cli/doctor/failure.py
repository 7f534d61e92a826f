"""When no probe opened a stream: the one error `listen` would have ended with (status 3 to 6).

A response head means what `sse_cli.protocol.response` says, worded as it words it; a
connection that failed is a raw socket's OSError or ssl.SSLError, worded here. Stdlib only.
"""

from __future__ import annotations

import ssl

from sse_cli.doctor.probe import Probe
from sse_cli.errors import ConnectError, SseCliError
from sse_cli.protocol.response import preview_text
from sse_cli.request import mask_url

__all__ = ["no_stream_error"]

_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL")


def no_stream_error(probe: Probe, url: str, watched: float) -> SseCliError:
    """Why `probe` opened no stream in `watched` seconds, worded as `listen` words it."""
    shown = mask_url(url)
    head = probe.head(shown)
    if head is None and probe.error is None and probe.connected_at is not None:
        return ConnectError(
            f"no response head from {shown} in {watched:g} s of watching",
            "the server accepted the connection but never answered",
        )
    if head is None:
        return _connect_error(probe.error, shown, probe.spec.connect_timeout)
    return head.error(preview_text(probe.preview))


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
