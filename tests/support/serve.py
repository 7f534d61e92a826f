"""What tests ask of a running `sse-cli serve`: its counters at GET /stats.

Starting it is `sse_cli.launcher`'s job (the demo and the benchmarks start it the same way).
"""

from __future__ import annotations

import json
import urllib.request

from support.cli import WAIT


def stats(url: str) -> dict[str, int]:
    """The server's counters (`/stats`): streams, subscribers, events sent, abandoned..."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/stats", timeout=WAIT) as response:
        reply = json.loads(response.read())
    assert isinstance(reply, dict), reply
    return {k: v for k, v in reply.items() if isinstance(v, int)}
