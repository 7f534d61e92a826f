"""A real `redis-server` (Debian's package) on a free loopback port with its own directory.

Started per test session by the `redis_server` fixture, or by a test that needs to stop and
restart one; stopped by its PID. Append-only persistence with fsync on every write, so a
restarted server still holds every stream entry it acknowledged.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from support.cli import WAIT

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
READY = "Ready to accept connections"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server; `start()` again after `stop()` reuses its port and its data."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sse-cli-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        argv = [
            REDIS_SERVER,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--daemonize", "no",
            "--loglevel", "notice",
        ]  # fmt: skip
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert proc.stdout is not None
            with proc.stdout:
                for line in proc.stdout:
                    lines.append(line)
                    if READY in line:
                        ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(WAIT):
            proc.kill()
            proc.wait(WAIT)
            raise AssertionError(f"redis-server did not start: {''.join(lines[-3:])}")
        self.proc = proc
        return self

    def stop(self) -> None:
        """SIGTERM by PID (Redis flushes its append-only file and exits), then wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
