"""Helpers shared by the test files, one module per kind of helper.

- `support.cli`: the CLI as a subprocess (run, spawn, read a line, finish) and WAIT.
- `support.sockets`: a scripted raw-socket HTTP server that controls every byte and write.
- `support.serve`: `sse-cli serve` as a child process, through `sse_cli.launcher`.
- `support.waiting`: waiting on a condition that has no event, bounded in time.
- `support.measure`: what /proc says of a process (resident memory, open files).

`conftest.py` holds the fixtures only; test files import helpers from here.
"""
