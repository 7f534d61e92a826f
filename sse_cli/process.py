"""Process-wide tuning of the `sse-cli` program, asked for by its entry point only.

Importing the package changes nothing: the console script and `python -m sse_cli` call
`start()` first, and a command that runs for long calls `settled()` once it has imported its
stack. Both measured with `bench/run` (the figures are in bench/RESULTS.md).
"""

import gc
import sys

#: How many more tracked objects than freed ones start the cycle collector (CPython's
#: default is 700). One read completes many events, a tuple each, which all die once
#: written: at the default the collector runs again and again on a fast stream and finds
#: nothing.
GC_THRESHOLD = 50_000
#: glibc's M_TOP_PAD: free memory kept at the top of the heap instead of being given back.
M_TOP_PAD = -2
#: A fast stream makes many short-lived objects per second. With the default padding, glibc
#: gives that memory back after each chunk and faults it in again, page by page; a smaller
#: padding than this one still left the page faults varying from run to run. Only memory the
#: process touched stays resident, at most TOP_PAD more than it would.
TOP_PAD = 16 << 20

_paused = False


def start() -> None:
    """At the entry point: no cycle collection while the program starts.

    Start-up creates many objects that live as long as the process; the collector would only
    scan them again and again.
    """
    global _paused
    gc.disable()
    _paused = True


def settled() -> None:
    """Start-up is over: collect again, but never the objects made so far, and rarely; and
    pad the heap for the stream to come (here, not at the entry point: ctypes costs `--help`
    and `--version` about 3 ms, and only a long run has a heap worth padding)."""
    global _paused
    if not _paused:
        return
    _paused = False
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()
    _tune_malloc()


def _tune_malloc() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # glibc's; musl and others have none
    except (ImportError, OSError, AttributeError):
        return
    mallopt(M_TOP_PAD, TOP_PAD)
