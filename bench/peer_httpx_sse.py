"""The best Python peer today: httpx-sse, writing one JSON line per event to stdout.

`python bench/peer_httpx_sse.py URL`: what a user writes to get sse-cli's JSON output from
httpx-sse. Like `sse-cli --format json`, a missing id is null.
"""

from __future__ import annotations

import json
import sys

import httpx
from httpx_sse import EventSource


def main(url: str) -> None:
    write = sys.stdout.write
    with httpx.stream(
        "GET", url, headers={"Accept": "text/event-stream"}, timeout=None
    ) as response:
        response.raise_for_status()
        for sse in EventSource(response).iter_sse():
            write(json.dumps({"event": sse.event, "data": sse.data, "id": sse.id or None}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
