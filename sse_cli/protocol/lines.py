"""Bytes in, complete lines out: the first steps of "Parsing an event stream" (WHATWG HTML
Standard, "Server-sent events"), for the decoder and for the recording reader."""

from __future__ import annotations

import codecs

__all__ = ["MERGED_PIECE", "LineSplitter"]

#: Pieces of an unfinished line are merged up to this many characters: every string costs
#: memory besides its text, so a line that drips in a byte at a time stays near its size.
#: Large enough that merged pieces get memory of their own from malloc: left as one read's
#: worth each, the space freed between them is too small to reuse (bench/RESULTS.md).
MERGED_PIECE = 1 << 18


class LineSplitter:
    """Bytes in, complete lines out: the first steps of "Parsing an event stream".

    It decodes UTF-8 incrementally (invalid sequences become U+FFFD), drops one leading
    BOM, ends lines at CRLF, LF or CR, and keeps the pieces of an unfinished line. It works
    per chunk: `cut` gives a chunk's complete lines as one text (the decoder reads them in
    place), `split` as a list, with one `str.split("\\n")`.
    """

    __slots__ = ("_bom_pending", "_decode", "_skip_lf", "pending", "pending_size", "span")

    def __init__(self) -> None:
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._bom_pending = True
        self._skip_lf = False
        self.pending: list[str] = []
        """The pieces of the unfinished line, joined once it ends."""
        self.pending_size = 0
        """The unfinished line's length in characters."""
        self.span = 0
        """How many characters the last `split` covered, the unfinished line's included."""

    def split(self, chunk: bytes) -> list[str]:
        """The lines this chunk completes, without their line endings (often none)."""
        text, end = self.cut(chunk)
        if not end:
            return []
        lines = text.split("\n")
        lines.pop()  # what follows the last newline: kept as the unfinished line
        return lines

    def cut(self, chunk: bytes) -> tuple[str, int]:
        """The text of this chunk with the unfinished line before it, its line endings made
        "\\n", and where its complete lines end: text[:end] is every line the chunk completes,
        each ended by "\\n" (end is 0 when it completes none). What follows is kept."""
        text = self._decode(chunk)
        if self._bom_pending and text:
            # "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are present."
            self._bom_pending = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf and text:
            # The previous chunk ended with CR: an LF starting this one completes a CRLF.
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if not text:
            return "", 0
        if "\r" in text:
            # Lines end with CRLF, LF or CR. A CR that ends the chunk ends its line now, so a
            # complete event is never held back waiting for the next chunk.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        end = text.rfind("\n") + 1
        if not end:
            self._hold(text)
            return "", 0
        pending = self.pending
        if pending:
            head = "".join(pending)
            pending.clear()
            text = head + text
            end += len(head)
        self.span = len(text)
        tail = text[end:]
        self.pending_size = len(tail)
        if tail:
            pending.append(tail)
        return text, end

    def _hold(self, text: str) -> None:
        """Keep a piece of a long line. Small pieces are merged pairwise (the one before is
        no longer) up to MERGED_PIECE characters: bounded memory when a line drips in."""
        pending = self.pending
        pending.append(text)
        while (
            len(pending) > 1
            and len(pending[-2]) <= len(pending[-1])
            and len(pending[-2]) + len(pending[-1]) <= MERGED_PIECE
        ):
            pending[-2:] = [pending[-2] + pending[-1]]
        self.pending_size += len(text)

    def discard(self) -> None:
        """Drop the unfinished line."""
        self.pending.clear()
        self.pending_size = 0

    def close(self) -> bool:
        """End the input; whether an unfinished line (or an unfinished character) was left."""
        left = bool(self._decode(b"", True) or self.pending)
        self.discard()
        return left
