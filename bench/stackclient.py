"""The pub/sub load client of bench/loadclient.py, plus the server's CPU while idle.

    python -m bench.stackclient URL --pid PID --subscribers N ... (loadclient's options)

As loadclient.py, plus the server's user + system CPU time (from /proc/PID/stat, 10 ms
resolution): over the idle heartbeat phase divided by its length (`idle_cpu_percent`, one
core being 100), while the streams connect (`connect_cpu_s`) and per publish
(`cpu_ms` of each). CPU time moves far less than wall time when the machine is shared.
One JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from bench import loadclient
from bench.common import memory_kib


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StackLoad(loadclient.Load):
    async def run(self) -> dict[str, Any]:
        args = self.args
        (warm,) = await self.connect(1)
        await self.fan_out([warm], 0)
        warm.abort()
        await asyncio.sleep(0.2)
        baseline = memory_kib(args.pid)

        began, cpu_began = time.monotonic(), cpu_seconds(args.pid)
        streams = await self.connect(args.subscribers)
        connected = time.monotonic() - began
        connect_cpu = cpu_seconds(args.pid) - cpu_began
        before = [s.comments for s in streams]
        cpu_before, idle_began = cpu_seconds(args.pid), time.monotonic()
        await asyncio.sleep(min(args.idle, self.left()))
        idle = time.monotonic() - idle_began
        idle_cpu = cpu_seconds(args.pid) - cpu_before
        heartbeats = [s.comments - b for s, b in zip(streams, before, strict=True)]
        loaded = memory_kib(args.pid)

        publishes = []
        for k in range(1, args.publishes + 1):
            cpu_began = cpu_seconds(args.pid)
            publish = await self.fan_out(streams, k)
            publish["cpu_ms"] = (cpu_seconds(args.pid) - cpu_began) * 1000
            publishes.append(publish)
            await asyncio.sleep(0.1)
        lost = sum(s.lost for s in streams)
        for s in streams:
            s.abort()
        return {
            "subscribers": len(streams),
            "connect_s": connected,
            "connect_cpu_s": connect_cpu,
            "idle_cpu_percent": idle_cpu / idle * 100,
            "baseline_kib": baseline,
            "loaded_kib": loaded,
            "per_stream_kib": (loaded - baseline) / len(streams),
            "heartbeats_min": min(heartbeats),
            "heartbeats_mean": sum(heartbeats) / len(heartbeats),
            "lost": lost,
            "publishes": publishes,
        }


if __name__ == "__main__":
    # loadclient's own command line, options and errors, with this Load in place of its own.
    loadclient.Load = StackLoad  # type: ignore[misc]
    loadclient.main()
