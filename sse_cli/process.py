"""Process-wide tuning of the `sse-cli` program, asked for by its entry point only.

Importing the package changes nothing: the console script and `python -m sse_cli` call
`start()` first, and a command that runs for long calls `settled()` once it has imported its
stack. Both measured with `bench/run` (figures in the functions' comments).
"""

import gc
import sys

#: How many more tracked objects than freed ones start the cycle collector (CPython's
#: default is 700). A 64 KiB chunk completes up to ~1,400 events, a tuple each, which all die
#: once written: at 700 the collector ran 225 times on 200,000 small events and found nothing
#: (52 ms, by gc.callbacks).
GC_THRESHOLD = 50_000
#: glibc's M_TOP_PAD: free memory kept at the top of the heap instead of being given back.
M_TOP_PAD = -2
#: A fast stream makes some MiB of short-lived objects per second. With the default padding,
#: glibc gave that memory back after each chunk and faulted it in again, page by page: about
#: 10,000 page faults on 20,000 events of 1 KiB (perf stat). With 4 MiB they still varied from
#: run to run (6,900 to 11,400, and the time with them); with 16 MiB, 6,900 in each of 6 runs.
#: Only memory the process touched stays resident, at most 16 MiB more than it would.
TOP_PAD = 16 << 20

_paused = False


def start() -> None:
    """At the entry point: no cycle collection while the program starts, and a padded heap.

    Start-up creates some 100,000 objects that live as long as the process; the collector
    only scanned them again and again (about 20 ms of a 250 ms `listen` start).
    """
    global _paused
    gc.disable()
    _paused = True
    _tune_malloc()


def settled() -> None:
    """Start-up is over: collect again, but never the objects made so far, and rarely."""
    global _paused
    if not _paused:
        return
    _paused = False
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()


def _tune_malloc() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # glibc's; musl and others have none
    except (ImportError, OSError, AttributeError):
        return
    mallopt(M_TOP_PAD, TOP_PAD)
