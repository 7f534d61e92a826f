"""A minimal, honest SSE user for Locust: it streams the response and parses its lines.

Each user GETs the stream with `requests` (Locust's HttpUser), reads it line by line as it
arrives, dispatches an event at each blank line after `data:` lines, and reports every event
to Locust's statistics (its gap since the previous one as the "response time"), which is what
a Locust user must do to see anything about events. When the stream ends, the user opens it
again, or with SSE_ONCE=1 ends the run. The stream's path is the SSE_PATH environment
variable.

    locust -f bench/locust_sse.py --headless -u 10 -r 10 -t 10s --host URL --json
"""

from __future__ import annotations

import os
import time

from locust import HttpUser, task

PATH = os.environ.get("SSE_PATH", "/")
#: Set: the run ends when the first stream does (to time one stream of a known size).
ONCE = bool(os.environ.get("SSE_ONCE"))


class SseUser(HttpUser):
    @task
    def stream(self) -> None:
        fire = self.environment.events.request.fire
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        response = self.client.get(PATH, headers=headers, stream=True, name="stream")
        try:
            data = False
            last = time.perf_counter()
            # chunk_size=None: lines as the bytes arrive (requests documents it; the stubs
            # do not).
            for line in response.iter_lines(chunk_size=None):  # type: ignore[call-overload]
                if line.startswith(b"data:"):
                    data = True
                elif not line and data:
                    data = False
                    now = time.perf_counter()
                    fire(
                        request_type="SSE",
                        name="event",
                        response_time=(now - last) * 1000,
                        response_length=0,
                        exception=None,
                        context={},
                    )
                    last = now
        finally:
            response.close()
        if ONCE and self.environment.runner is not None:
            self.environment.runner.quit()
