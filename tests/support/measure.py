"""What /proc says of a live process: resident memory and open file descriptors."""

from __future__ import annotations

import os
from pathlib import Path


def memory_kib(pid: int, key: str = "VmRSS") -> int:
    """A process's resident set size (or VmHWM, its peak) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def open_fds(pid: int) -> int:
    """How many file descriptors a process holds open."""
    return len(os.listdir(f"/proc/{pid}/fd"))
