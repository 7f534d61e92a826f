"""`serve --workers N`: N forked processes accepting on the one listening socket.

The parent binds, prints the banner and forks; each child builds its own app and broker
connections and runs uvicorn. The parent forwards SIGINT and SIGTERM as one SIGTERM to each
child and exits once all have; a child whose parent dies (even by SIGKILL) stops too, since
the pipe the parent holds open reaches end of file. Workers share topics only through a
broker, so more than one needs --broker. Stdlib only; POSIX only.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType


def supervise(count: int, run: Callable[[], None], announce: Callable[[], None]) -> int:
    """Run `run` in `count` forked children until they end; 0 if every one ended cleanly.
    `announce` runs once the parent handles SIGINT and SIGTERM."""
    lifeline, keep = os.pipe()
    children: list[int] = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:  # the child
            os.close(keep)
            os._exit(child(lifeline, run))
        children.append(pid)
    os.close(lifeline)
    stopping = False

    def stop(sig: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            for pid in children:
                with_gone_ignored(os.kill, pid, signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    announce()
    worst = 0
    while children:
        pid, status = os.waitpid(-1, 0)
        if pid in children:
            children.remove(pid)
            code = os.waitstatus_to_exitcode(status)
            if code != 0 and not stopping:
                worst = 1  # a worker failed on its own: stop the rest
                stop(signal.SIGTERM, None)
    os.close(keep)
    return worst


def child(lifeline: int, run: Callable[[], None]) -> int:
    def watch() -> None:
        while os.read(lifeline, 1):
            pass
        os.kill(os.getpid(), signal.SIGTERM)  # the parent is gone

    threading.Thread(target=watch, daemon=True).start()
    status = 0
    try:
        run()
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # a worker's failure is its line, never a traceback
        sys.stderr.write(f"sse-cli: worker {os.getpid()} failed: {exc!r}\n")
        status = 1
    sys.stderr.flush()
    return status


def with_gone_ignored(kill: Callable[[int, int], None], pid: int, sig: int) -> None:
    try:
        kill(pid, sig)
    except ProcessLookupError:
        pass
