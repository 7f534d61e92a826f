"""The `sse-cli` command line: the Typer app (`app.py`) and one module per command
(`listen`, `bench`, `doctor`, `demo`, `serve`, `token`), each its option declarations, then
one call.

Importing this package registers the commands on `app`, in the order `--help` lists them.
"""

from sse_cli.cli import listen, bench, doctor, demo, serve, token  # noqa: I001 - the order of --help
from sse_cli.cli.app import Command, app, checked, fail, main, run_async, run_cli

__all__ = [
    "Command",
    "app",
    "bench",
    "checked",
    "demo",
    "doctor",
    "fail",
    "listen",
    "main",
    "run_async",
    "run_cli",
    "serve",
    "token",
]
