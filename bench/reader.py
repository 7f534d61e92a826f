"""The far end of the latency pipe: `CLIENT | python bench/reader.py`.

Reads stdin as it arrives (one `os.read` at a time, so nothing here waits for a full buffer),
takes the time of each read, and for every line carrying `"seq": n` and `"t_ns": send time`
(plain, or escaped inside a JSON string) records how long after its sending it arrived. At
the end of input it prints a JSON list of [seq, latency in ns] on stdout.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

SEQ = re.compile(rb'seq\\?": (\d+)')
SENT = re.compile(rb't_ns\\?": (\d+)')


def main() -> None:
    seen: list[tuple[int, int]] = []
    pending = b""
    while True:
        chunk = os.read(0, 1 << 16)
        now = time.time_ns()
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            sent = SENT.search(line)
            seq = SEQ.search(line)
            if sent and seq:
                seen.append((int(seq.group(1)), now - int(sent.group(1))))
    sys.stdout.write(json.dumps(seen))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
