"""The `sse-cli` console script, and `python -m sse_cli`: process-wide tuning, then the CLI."""

import gc
import sys
from typing import NoReturn

#: How many more tracked objects than freed ones start the cycle collector (CPython's default
#: is 700). A big network chunk completes thousands of events (a tuple each) that all die
#: once written: at 700 the collector runs hundreds of times and finds nothing (15% of the
#: time on 200,000 small events).
GC_THRESHOLD = 50_000
#: glibc's M_TOP_PAD: free memory kept at the top of the heap instead of being given back.
M_TOP_PAD = -2
#: A chunk of a fast stream (up to 256 KiB) makes some MiB of short-lived objects. With the
#: default padding, glibc returns that memory after every chunk and the next chunk faults it
#: back in, page by page: about 13,000 page faults and a quarter of the CPU time on 20,000
#: events of 1 KiB. Keeping 4 MiB costs at most 4 MiB of resident memory.
TOP_PAD = 4 << 20


def _tune_malloc() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # glibc's; musl and others have none
    except (ImportError, OSError, AttributeError):
        return
    mallopt(M_TOP_PAD, TOP_PAD)


def main() -> NoReturn:
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    _tune_malloc()
    from sse_cli.cli import main as run

    run()


if __name__ == "__main__":
    main()
