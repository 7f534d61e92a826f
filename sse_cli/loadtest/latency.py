"""Send times carried in event data, for end-to-end latency.

`--latency-field PATH` names the time as a JMESPath expression over the event's JSON data.
A number is epoch time whose unit follows from its magnitude (seconds, milliseconds,
microseconds or nanoseconds since 1970); a string is that number written out, or an
RFC 3339 time. Without the flag, a top-level `t_ns` (what `sse-cli serve`'s `/clock` and
`bench --publish` send) is read, and data without it is skipped cheaply.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from sse_cli.errors import UsageError

#: What data holding the known field contains (a cheap test before parsing JSON).
KNOWN_MARKER = '"t_ns"'

#: Epoch times from this up are nanoseconds (`to_epoch_ns`).
NS_FROM = 10**17

Extract = Callable[[str], "int | None"]
"""Event data to its send time in epoch nanoseconds, or None when it carries none."""


def to_epoch_ns(value: Any) -> int | None:
    """A time as epoch nanoseconds: a number scaled by magnitude, or an RFC 3339 string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            return _rfc3339_ns(text)
    if not isinstance(value, int | float) or value != value or value <= 0:
        return None
    # Now is about 1.8e9 s = 1.8e12 ms = 1.8e15 us = 1.8e18 ns: the thresholds sit between.
    if value >= NS_FROM:
        return int(value)
    if value >= 1e14:
        return int(value * 1_000)
    if value >= 1e11:
        return int(value * 1_000_000)
    return int(value * 1_000_000_000)


def _rfc3339_ns(text: str) -> int | None:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    fraction = ""
    # fromisoformat (3.10) takes at most 6 fraction digits: keep the nanoseconds aside.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        fraction, text = digits, head + rest
    try:
        when = datetime.datetime.fromisoformat(text.replace("t", "T").replace(" ", "T", 1))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # RFC 3339 always has an offset; a local time would be a guess
    seconds = int(when.timestamp())
    return seconds * 1_000_000_000 + int((fraction + "000000000")[:9] or 0)


def extractor(path: str | None) -> Extract:
    """The send-time reader for `--latency-field PATH` (None: the known `t_ns` field)."""
    import orjson

    if path is None:

        def known(data: str) -> int | None:
            if KNOWN_MARKER not in data:
                return None
            try:
                doc = orjson.loads(data)
            except orjson.JSONDecodeError:
                return None
            if type(doc) is not dict:
                return None
            sent = doc.get("t_ns")
            if type(sent) is int and sent >= NS_FROM:
                return sent  # the usual: nanoseconds, as serve and bench --publish send them
            return to_epoch_ns(sent)

        return known
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        compiled = jmespath.compile(path)
    except JMESPathError as exc:
        raise UsageError(
            f"--latency-field {path!r} is not a JMESPath expression: {exc}", "e.g. meta.sent_at"
        ) from None

    def field(data: str) -> int | None:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        return to_epoch_ns(compiled.search(doc))

    return field
