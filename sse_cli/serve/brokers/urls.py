"""The --broker URL: checked before anything is imported or bound, and shown without its
password. Stdlib only."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sse_cli.errors import UsageError

SCHEMES = ("redis", "rediss")
HINT = "write redis://HOST:PORT/DB, e.g. --broker redis://127.0.0.1:6379/0"


def check_url(url: str) -> str:
    """`url` if it names a Redis server; UsageError (exit 2) naming what is wrong if not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--broker {shown_url(url)!r} is malformed: {exc}", HINT) from None
    if parts.scheme not in SCHEMES:
        raise UsageError(f"--broker {shown_url(url)!r} is not a Redis URL", HINT)
    if not parts.hostname:
        raise UsageError(f"--broker {shown_url(url)!r} names no host", HINT)
    if not re.fullmatch(r"/?|/\d{1,5}", parts.path):
        raise UsageError(f"--broker {shown_url(url)!r}: the database must be a number", HINT)
    del port
    return url


def shown_url(url: str) -> str:
    """`url` with any password replaced by ***."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)
