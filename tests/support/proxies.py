"""Real reverse proxies for tests: Debian's nginx and haproxy, started on a free loopback
port with a config the test writes into its own directory, and stopped by PID.

Each runs in the foreground (nginx `daemon off`, haproxy `-db`), so the child the test holds
is the master process; its logs stay in the test's directory.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path
from types import TracebackType

from support.cli import WAIT
from support.waiting import wait_until


def binary(name: str) -> str | None:
    """Where a proxy is installed: on PATH, or in /usr/sbin, which a user's PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def nginx_config(root: Path, port: int, upstream: str, location: str, listen: str = "") -> str:
    """nginx in front of `upstream` (host:port); `location` adds directives to `location /`,
    `listen` parameters to the listen line and directives after it (TLS, say)."""
    temp = root / "temp"
    temp.mkdir(exist_ok=True)
    paths = " ".join(
        f"{kind}_temp_path {temp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
user root;
worker_processes 1;
pid {root / "nginx.pid"};
error_log {root / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {root / "access.log"};
    {paths}
    server {{
        listen 127.0.0.1:{port} {listen};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            {location}
        }}
    }}
}}
"""


def haproxy_config(port: int, upstream: str, timeouts: str) -> str:
    """haproxy in HTTP mode in front of `upstream`; `timeouts` sets its `timeout` lines."""
    return f"""
defaults
    mode http
    timeout connect 2s
    {timeouts}
frontend front
    bind 127.0.0.1:{port}
    default_backend back
backend back
    server upstream {upstream}
"""


class Proxy:
    """A proxy process on `port`, started with a written config; a context manager."""

    def __init__(self, kind: str, root: Path, config: str, port: int) -> None:
        self.kind, self.root, self.port = kind, root, port
        path = root / f"{kind}.conf"
        path.write_text(config)
        if kind == "nginx":
            argv = [
                binary("nginx") or "nginx",
                "-p",
                str(root),
                "-c",
                str(path),
                "-g",
                "daemon off;",
            ]
        else:
            argv = [binary("haproxy") or "haproxy", "-db", "-f", str(path)]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Proxy:
        def ready() -> bool:
            if self.proc.poll() is not None:
                assert self.proc.stderr is not None
                raise AssertionError(f"{self.kind} exited: {self.proc.stderr.read().decode()}")
            return _listening(self.port)

        wait_until(ready, WAIT, f"{self.kind} listening on {self.port}")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if self.kind == "nginx" else signal.SIGUSR1)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def log(self) -> str:
        path = self.root / "error.log"
        return path.read_text() if path.exists() else ""


def nginx(root: Path, upstream: str, location: str = "", listen: str = "") -> Proxy:
    port = free_port()
    return Proxy("nginx", root, nginx_config(root, port, upstream, location, listen), port)


def haproxy(root: Path, upstream: str, timeouts: str) -> Proxy:
    port = free_port()
    return Proxy("haproxy", root, haproxy_config(port, upstream, timeouts), port)


def require(*names: str) -> None:
    """Skip a test when a proxy is not installed, except in CI (CI=true), where it fails:
    CI installs Debian's nginx and haproxy and must run these tests."""
    import os

    import pytest

    missing = [name for name in names if binary(name) is None]
    if not missing:
        return
    problem = f"{', '.join(missing)} not installed (Debian packages: {' '.join(missing)})"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{problem}: CI must run the proxy tests", pytrace=False)
    pytest.skip(problem)
