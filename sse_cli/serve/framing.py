"""Lines out of a relayed command's bytes: the framing `serve --exec`, `--stdin` and
`--exec-per-client` share. Pure and stdlib only: bytes in, lines out, no I/O and no clock of
its own (the caller says what time it is and when a waiting partial line is due).

- A line ends at `\\n`, `\\r\\n` or a bare `\\r` (a progress bar redraws its line with `\\r`).
  A `\\r` ends its line at once; a `\\n` right after it, even in the next chunk, ends nothing
  more.
- Bytes are decoded as UTF-8 with U+FFFD for what is not, a character split between two
  chunks decoded once.
- A partial line (no end yet) is sent as it stands by `flush`, which the caller calls once
  `due()` has passed (--flush-after after the partial began); what follows starts a new line.
- A line longer than `limit` bytes of UTF-8 becomes several lines of at most `limit` bytes
  each, cut between characters, in order.
"""

from __future__ import annotations

import codecs

__all__ = ["LineFramer", "split_long"]


def split_long(line: str, limit: int) -> list[str]:
    """`line` in pieces of at most `limit` bytes of UTF-8, cut between characters."""
    if len(line) <= limit // 4:  # four bytes a character at most: short enough either way
        return [line]
    raw = line.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return [line]
    pieces = []
    start = 0
    while len(raw) - start > limit:
        cut = start + limit
        while raw[cut] & 0xC0 == 0x80:  # a continuation byte: the cut would split a character
            cut -= 1
        pieces.append(raw[start:cut].decode("utf-8", "surrogatepass"))
        start = cut
    pieces.append(raw[start:].decode("utf-8", "surrogatepass"))
    return pieces


class LineFramer:
    """One byte stream's lines. `feed` returns the lines each chunk completes; `flush` the
    partial line, once the caller's timer says it has waited long enough; `close` what is
    left at end of input."""

    __slots__ = ("_after_cr", "_decoder", "_partial", "limit", "since")

    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit = max(4, limit)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._after_cr = False  # the last character seen ended a line with \r
        self.since: float | None = None  # when the waiting partial line began

    @property
    def partial(self) -> str:
        return self._partial

    def due(self, wait: float) -> float | None:
        """When the waiting partial line is to be flushed, or None when nothing waits."""
        return None if self.since is None else self.since + wait

    def feed(self, chunk: bytes, now: float = 0.0) -> list[str]:
        """The lines `chunk` completes, in order."""
        return self._split(self._decoder.decode(chunk), now)

    def flush(self) -> list[str]:
        """The partial line as it stands (empty if there is none)."""
        line, self._partial, self.since = self._partial, "", None
        return split_long(line, self.limit) if line else []

    def close(self) -> list[str]:
        """End of input: the last partial line, with any bytes of an unfinished character
        as U+FFFD."""
        lines = self._split(self._decoder.decode(b"", final=True), 0.0)
        return lines + self.flush()

    def _split(self, text: str, now: float) -> list[str]:
        if not text:
            return []
        if self._after_cr and text[0] == "\n":
            text = text[1:]  # the \n of a \r\n split between two chunks
        self._after_cr = False
        if not text:
            return []
        if "\r" in text:
            self._after_cr = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        parts = text.split("\n")  # never splitlines(): it splits on U+2028 and others too
        lines: list[str] = []
        if len(parts) > 1:
            parts[0] = self._partial + parts[0]
            self._partial = parts.pop()
            self.since = now if self._partial else None
            for line in parts:
                lines += split_long(line, self.limit)
        else:
            if not self._partial:
                self.since = now
            self._partial += parts[0]
        if len(self._partial) >= self.limit:  # certainly over `limit` bytes: do not hold it
            *done, self._partial = split_long(self._partial, self.limit)
            lines += done
            if not self._partial:
                self.since = None
        return lines
