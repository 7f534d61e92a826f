"""The floor of our own stack: a minimal aiohttp `iter_any()` loop that discards the bytes.

`python bench/peer_aiohttp.py URL`: reads the body to its end and prints on stderr the byte
count (the verification run checks it) and the seconds from the response's first byte to
its end, timed here: its few milliseconds would drown in the noise of two process start-ups.
`--write`: writes each chunk to stdout and flushes it, as `listen --format raw` does, for the
raw comparison, which times both on a pipe the harness drains.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp


async def main(url: str, write: bool) -> None:
    size = 0
    out = sys.stdout.buffer
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        first = time.perf_counter()  # the head has arrived: the response's first bytes
        response.raise_for_status()
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if write:
                out.write(chunk)
                out.flush()
        end = time.perf_counter()
    sys.stderr.write(f"{size} {end - first:.6f}\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], "--write" in sys.argv[2:]))
