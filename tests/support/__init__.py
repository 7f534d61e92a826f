"""Helpers shared by the test files, one module per kind of helper.

- `support.cli`: the CLI in-process through `run_cli(argv, env)` (`invoke` to its end,
  `start` in a thread with stdout on a pipe), and as a subprocess for the smoke tests (run,
  spawn, read a line, finish), and WAIT.
- `support.sockets`: a scripted raw-socket HTTP server that controls every byte and write.
- `support.serve`: what tests ask of a running `sse-cli serve` (its `/stats`); the server
  itself starts through `sse_cli.launcher`, as the demo and the benchmarks start it.
- `support.redis`: a real redis-server on a free loopback port, stopped by its PID.
- `support.relays`: `serve` with a relay as a child, scripts for it to run, checks by PID.
- `support.sse_reader`: a stream read on a thread, as a subscriber a test can cut.
- `support.waiting`: waiting on a condition that has no event, bounded in time.
- `support.measure`: what /proc says of a process (resident memory, open files).

`conftest.py` holds the fixtures only; test files import helpers from here.
"""
