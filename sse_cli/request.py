"""What to request: URL, header, body, size and id parsing, and the options one `listen` needs.

Every check on a request flag lives here and raises `UsageError` (exit status 2); the
command line only declares the flags and passes them on, so `listen` and any other command
that sends the same request flags give the same errors. The rules that messages and the
client share are written once: which characters no header or URL may hold (`CONTROL`),
which headers are secrets (`SECRET_HEADERS`) and how a URL's password is hidden
(`mask_url`). Stdlib only: it must not import aiohttp.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sse_cli import __version__
from sse_cli.checks import check_count, check_seconds
from sse_cli.errors import UsageError
from sse_cli.protocol.decoder import DEFAULT_MAX_EVENT_SIZE
from sse_cli.protocol.reconnect import CONTROL, DEFAULT_BACKOFF_CAP, DEFAULT_RETRY, Policy

#: What an SSE client sends unless a -H overrides it (an empty -H value removes one).
DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Accept", "text/event-stream"),
    ("Cache-Control", "no-cache"),
    # Compression makes servers and proxies buffer a stream.
    ("Accept-Encoding", "identity"),
    ("User-Agent", f"sse-cli/{__version__}"),
)
#: Headers whose values are masked in messages and never follow a redirect to another origin.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: An HTTP token: what a header name or a method may be.
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
#: A URL that starts with a host (and port), not a scheme: `localhost:8000/x`, `[::1]/x`.
_SCHEMELESS = re.compile(
    r"^(?:[^/?#@\s]*@)?(?:\[[0-9A-Fa-f:.]+\]|[^/?#:@\s\[\]]+)(?::\d*)?(?:[/?#]|$)"
)


@dataclass(frozen=True, slots=True)
class ListenOptions:
    """Everything one `listen` needs, validated by `build_options`."""

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

    def request_headers(self) -> list[tuple[str, str]]:
        """The headers every request of this stream sends: the defaults, less those a `-H`
        names, then the user's in order (an empty value only removes a default)."""
        user = {name.lower() for name, _ in self.headers}
        headers = [(n, v) for n, v in DEFAULT_HEADERS if n.lower() not in user]
        return headers + [(n, v) for n, v in self.headers if v]

    @property
    def policy(self) -> Policy:
        """How this stream reconnects (`sse_cli.protocol.reconnect`)."""
        return Policy(
            self.method, self.reconnect, self.max_retries, self.default_retry, self.backoff_cap
        )


@dataclass(frozen=True, slots=True)
class RequestFlags:
    """The request flags as given on the command line (`listen`, and commands like it)."""

    url: str
    method: str | None = None
    data: str | None = None
    json_body: str | None = None
    header: Sequence[str] | None = None
    last_event_id: str | None = None
    reconnect: bool | None = None
    max_retries: int | None = None
    connect_timeout: float = 30.0
    idle_timeout: float | None = None
    insecure: bool = False
    cacert: Path | None = None
    max_event_size: str = "16M"


def build_options(flags: RequestFlags, stdin: IO[bytes] | None = None) -> ListenOptions:
    """Check every request flag and build the options; raises `UsageError` for a bad one."""
    url = parse_url(flags.url)
    if flags.data is not None and flags.json_body is not None:
        raise UsageError("-d/--data and --json both give a body", "give only one of them")
    headers = [parse_header(h) for h in flags.header or ()]
    headers, last_event_id = seed_id(headers, flags.last_event_id)
    body, content_type = _body(flags, stdin)
    if content_type and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", content_type))
    verb = (flags.method or ("POST" if body is not None else "GET")).upper()
    if not TOKEN.match(verb):
        raise UsageError(f"invalid method {flags.method!r}", "e.g. -X POST")
    size = parse_size(flags.max_event_size, "--max-event-size")
    if flags.cacert is not None and not flags.cacert.is_file():
        raise UsageError(f"--cacert file {str(flags.cacert)!r} not found", "give a PEM file")
    return ListenOptions(
        url=url,
        method=verb,
        headers=tuple(headers),
        body=body,
        last_event_id=last_event_id or "",
        reconnect=flags.reconnect,
        connect_timeout=check_seconds(flags.connect_timeout),
        idle_timeout=check_seconds(flags.idle_timeout),
        insecure=flags.insecure,
        cacert=str(flags.cacert) if flags.cacert else None,
        max_retries=check_count(flags.max_retries),
        max_event_size=size,
    )


def seed_id(
    headers: list[tuple[str, str]], last_event_id: str | None
) -> tuple[list[tuple[str, str]], str | None]:
    """Move a `Last-Event-ID` header into the seed id, which `--last-event-id` wins over.

    A reconnection must carry the newest id the server sent, not the one typed at the start,
    so the id is the client's to send, never a fixed header.
    """
    seed = last_event_id
    for name, value in headers:
        if name.lower() == "last-event-id" and seed is None:
            seed = value
    if seed is not None and CONTROL.search(seed):
        raise UsageError(
            "--last-event-id holds a line break or control character",
            "give the id as one line of text",
        )
    return [(n, v) for n, v in headers if n.lower() != "last-event-id"], seed


def _body(flags: RequestFlags, stdin: IO[bytes] | None) -> tuple[bytes | None, str | None]:
    """The body and the Content-Type it implies (a -H Content-Type wins over it)."""
    if flags.json_body is not None:
        body = read_argument(flags.json_body, "--json", stdin)
        import json

        try:
            # NaN and Infinity are Python's extensions, not JSON: servers refuse them.
            json.loads(body, parse_constant=_not_json)
        except ValueError as exc:
            raise UsageError(
                f"--json is not valid JSON: {exc}", "check quotes and commas"
            ) from None
        return body, "application/json"
    if flags.data is not None:
        return read_argument(flags.data, "--data", stdin), "application/x-www-form-urlencoded"
    return None, None


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def read_argument(value: str, flag: str, stdin: IO[bytes] | None = None) -> bytes:
    """A body argument: literal text, `@file`, or `@-` for standard input."""
    if not value.startswith("@"):
        return value.encode()
    name = value[1:]
    if name == "-":
        return (stdin or sys.stdin.buffer).read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read {flag} file {name!r}: {exc.strerror or exc}",
            "give an existing file after @, or @- for standard input",
        ) from None


def parse_header(raw: str) -> tuple[str, str]:
    """`Name: value` as a pair; an empty value is kept (it removes a default header)."""
    name, sep, value = raw.partition(":")
    name = name.strip()
    if not sep or not TOKEN.match(name):
        shown = repr(raw)
        first = raw.replace(":", " ").split(maxsplit=1)
        if first and first[0].lower() in SECRET_HEADERS:
            shown = f"'{first[0]} …'"  # a secret written without its colon is never echoed
        raise UsageError(
            f"malformed header {shown}", "write -H 'Name: value'; an empty value removes it"
        )
    value = value.strip()
    if "\r" in value or "\n" in value:
        raise UsageError(f"header {name} holds a line break", "give one line per -H")
    if CONTROL.search(value):
        raise UsageError(
            f"header {name} holds a control character", "give printable text (tabs are fine)"
        )
    return name, value


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, however malformed the rest is."""
    start = url.find("//")
    start = 0 if start < 0 else start + 2
    end = min([i for i in (url.find(c, start) for c in "/?#") if i >= 0], default=len(url))
    at = url.rfind("@", start, end)
    colon = url.find(":", start, at) if at >= 0 else -1
    return url if colon < 0 else url[: colon + 1] + "***" + url[at:]


def expand_url(url: str) -> str:
    """A short URL in full, as HTTPie reads one: `:8000/x` is `http://localhost:8000/x`, and
    a host with no scheme (`localhost:8000/x`, `127.0.0.1:8000/x`) is given `http://`."""
    if "://" in url:
        return url
    if url.startswith(":"):
        return "http://localhost" + (url[1:] if url.startswith(":/") else url)
    if _SCHEMELESS.match(url):
        return "http://" + url
    return url


def parse_url(url: str) -> str:
    """An http:// or https:// URL with a host, a valid port and no control character.

    A short URL is expanded first (`expand_url`); the URL returned is the full one.
    """
    from urllib.parse import urlsplit

    url = expand_url(url)
    shown = repr(mask_url(url))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise UsageError(
                f"URL {shown} has an invalid port", "use a port from 1 to 65535"
            ) from None
        raise UsageError(f"URL {shown} is malformed: {exc}", "e.g. http://[::1]:8000/") from None
    if not parts.scheme:
        path = mask_url(url).lstrip("/")
        example = (
            f"http://{path}"
            if url.startswith("//")
            else f"http://localhost:8000/{path}, or :8000/{path} for short"
        )
        raise UsageError(f"URL {shown} has no scheme", f"write it in full, e.g. {example}")
    if parts.scheme.lower() not in ("http", "https"):
        raise UsageError(
            f"unsupported URL scheme {parts.scheme + ':'!r} in {shown}", "use http:// or https://"
        )
    if not parts.hostname:
        raise UsageError(f"URL {shown} has no host", "e.g. http://127.0.0.1:8000/")
    if CONTROL.search(url) or any(c.isspace() for c in parts.netloc):
        raise UsageError(
            f"URL {shown} holds a space or control character",
            "write spaces as %20, and none in the host",
        )
    return url


def parse_size(value: str, flag: str) -> int:
    """A size in bytes: a count, or one with a unit (512K, 16M, 1G; KB, KiB and the like)."""
    match = _SIZE.match(value)
    if not match or int(match.group(1)) <= 0:
        raise UsageError(f"{flag}: {value!r} is not a size; give bytes, or e.g. 512K, 16M, 1G")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * _SIZE_UNITS[unit]


def stop_data(output_format: str, until: str | None) -> str | None:
    """The data that stops listening: `-f text` stops at `[DONE]` unless `--until` says."""
    from sse_cli.extract import DONE  # here: json and the extractors only for a run

    return DONE if output_format == "text" and until is None else until


def pass_through(options: ListenOptions, output_format: str, needs_events: bool) -> ListenOptions:
    """Raw output that nothing inspects (filter, check, stats, -v) passes bytes on unparsed."""
    if output_format == "raw" and not needs_events:
        return dataclasses.replace(options, parse=False)
    return options
