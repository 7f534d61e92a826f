"""`sse-cli doctor`: why a stream does not stream, and what to change.

- `probe`: one raw connection around the shared protocol core, timing every read;
- `watch`: the probes side by side (curl-like, browser-like, a reconnect) and the TLS look;
- `checks`, `timing`: the checks by id, each a verdict, what it saw and the fix;
- `verdicts`: a check's record; `failure`: the error when no stream opened;
- `report`: JSON and the checklist; `run`: one run, start to exit status.

Nothing here is imported by `sse-cli --help`; rich loads only for the checklist.
"""
