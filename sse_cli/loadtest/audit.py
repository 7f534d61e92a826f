"""The resume audit of one stream, checked from outside: an id seen twice is a duplicate;
integer ids skipped across a reconnection are gaps.

It runs per chunk. The usual chunk (every item an event, integer ids each above the one
before) is settled by one call, `ascending`, which has a C twin in `sse_cli._speedups`, used
when it was built: on a fast stream this is the load tester's hot path.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from sse_cli.loadtest.metrics import Metrics
from sse_cli.protocol.decoder import Event, Item
from sse_cli.speedups import chosen

#: Ids other than integers are remembered up to this many per stream for the duplicate check.
MAX_IDS_KEPT = 4096
#: Longer digit strings are audited as strings: no counter has 19 digits, and int() refuses
#: strings of over 4,300.
MAX_DIGITS = 18
#: Where an Event keeps its id: `map` with a getter by position runs in C.
ID_AT = Event._fields.index("id")
_ID = operator.itemgetter(ID_AT)

Span = tuple[int, int]


def ascending(items: list[Item], event_cls: type[Event], at: int) -> Span | None:
    """Whether every item is an `event_cls` whose id (item[at]) is a decimal integer of at
    most MAX_DIGITS digits above the one before; if so, the first and last of them."""
    if not items or type(items[0]) is not event_cls or len(set(map(type, items))) > 1:
        return None
    ids = list(map(operator.itemgetter(at), items))
    try:
        joined = "".join(ids)
    except TypeError:  # an event without an id
        return None
    if not (joined.isascii() and joined.isdigit()):
        return None
    lengths = list(map(len, ids))
    if min(lengths) == 0 or max(lengths) > MAX_DIGITS:
        return None
    numbers = list(map(int, ids))
    if not all(map(operator.lt, numbers, numbers[1:])):
        return None
    return numbers[0], numbers[-1]


def _load() -> Callable[[list[Item], type[Event], int], Span | None]:
    """The C twin of `ascending` when it is to be used (`sse_cli.speedups`)."""
    fast = chosen()
    twin: Callable[[list[Item], type[Event], int], Span | None] = (
        ascending if fast is None else fast.ascending
    )
    return twin


ascending_ids = _load()


def _pair(event_id: str) -> tuple[int, int] | None:
    """An id of the form MS-SEQ (two decimal integers) as an ordered pair, else None."""
    head, dash, tail = event_id.partition("-")
    if not (dash and head and tail and len(head) <= MAX_DIGITS and len(tail) <= MAX_DIGITS):
        return None
    if not (head.isascii() and head.isdigit() and tail.isascii() and tail.isdigit()):
        return None
    return int(head), int(tail)


class Audit:
    """One stream's ids across its connections, counting duplicates and gaps into `metrics`."""

    __slots__ = ("highest", "highest_pair", "ids", "metrics", "prev_id", "resuming")

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.highest: int | None = None
        """The highest integer id so far."""
        self.highest_pair: tuple[int, int] | None = None
        """The highest `MS-SEQ` id so far (Redis Streams' form: serve's Redis broker sends it)."""
        self.ids: set[str] | None = None
        """Ids other than integers, up to MAX_IDS_KEPT."""
        self.resuming = False
        """A reconnection was made after integer ids: the next one may skip some (gaps)."""
        self.prev_id: str | None = None
        """The last id of this connection: events after it that keep it are not audited."""

    @property
    def resumable(self) -> bool:
        """Whether the stream sent ids, so that a reconnection can resume it."""
        return self.highest is not None or self.highest_pair is not None or bool(self.ids)

    def reconnecting(self) -> None:
        self.resuming = self.highest is not None

    def connected(self) -> None:
        self.prev_id = None

    def events(self, events: list[Event], span: Span | None) -> None:
        """Audit a chunk's events; `span` is what `ascending_ids` said of them, if it was asked."""
        highest = self.highest
        if span is not None and highest is not None and not self.resuming and span[0] > highest:
            # The usual case, settled at once: integer ids going up, after the highest so far.
            self.highest = span[1]
            self.prev_id = events[-1].id
            return
        ids = list(map(_ID, events))
        if ids.count(None) < len(ids):
            prev = self.prev_id
            for event_id in ids:
                if event_id is not None and event_id != prev:
                    prev = event_id
                    self._one(event_id)
        if ids[-1] is not None:
            self.prev_id = ids[-1]

    def _one(self, event_id: str) -> None:
        metrics = self.metrics
        if event_id.isascii() and event_id.isdigit() and len(event_id) <= MAX_DIGITS:
            number = int(event_id)
            if self.highest is not None and number <= self.highest:
                metrics.duplicates += 1
                return
            if self.resuming and self.highest is not None:
                metrics.gaps += number - self.highest - 1
            self.resuming = False
            self.highest = number
            return
        pair = _pair(event_id)
        if pair is not None:
            # Ordered like integers, but with no count of what a resume skipped: a gap
            # between two MS-SEQ ids says nothing of how many ids lay between them.
            if self.highest_pair is not None and pair <= self.highest_pair:
                metrics.duplicates += 1
                return
            self.highest_pair = pair
            return
        if self.ids is None:
            self.ids = set()
        if event_id in self.ids:
            metrics.duplicates += 1
        elif len(self.ids) < MAX_IDS_KEPT:
            self.ids.add(event_id)
