"""What the terminal says about this process: whether it may draw on it now. Stdlib only."""

from __future__ import annotations

import os
from typing import IO

__all__ = ["in_foreground"]


def in_foreground(stream: IO[str]) -> bool:
    """Is this process in the foreground process group of the terminal `stream` writes to?
    A job started with `&` (or sent there with Ctrl-Z and `bg`) is not: its status line would
    be drawn over the shell's prompt and what the next command prints, so it draws none, as
    `rsync --progress` and `pv` behave. True when `stream` is no terminal of this process."""
    try:
        return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return True
