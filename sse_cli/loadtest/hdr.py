"""Recording many times into an HdrHistogram at once: hdrh's `record_value` is pure Python,
about 3 us a call, so a list of samples is recorded in one call, in C when
`sse_cli._speedups` is built (`record_values_in_c`), else value by value (`record_values`,
the reference).

hdrhistogram itself is never imported here: the functions take a histogram.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sse_cli.speedups import chosen

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

#: The largest time a histogram holds, in microseconds (an hour); larger ones count as it.
HIGHEST_US = 3_600_000_000


def record_values(hist: HdrHistogram, values: list[int]) -> None:
    """Record each value (microseconds, clamped to 0..HIGHEST_US) into `hist`, as one
    `record_value` each does: the reference of the C twin, `_speedups.record_values`."""
    for value in values:
        hist.record_value(min(max(value, 0), HIGHEST_US))


def record_values_in_c(hist: HdrHistogram, values: list[int]) -> None:
    """`record_values` by `sse_cli._speedups`, which must be built: the counts in one C loop
    (hdrh's index of a value, computed as hdrh does), then the totals, min and max."""
    import sse_cli._speedups as fast

    counts = hist.counts
    recorded, low, high = fast.record_values(
        counts, memoryview(counts).itemsize, values, hist.counts_len, hist.unit_magnitude,
        hist.sub_bucket_half_count_magnitude, hist.sub_bucket_mask, HIGHEST_US,
    )  # fmt: skip
    if recorded:
        hist.total_count += recorded
        hist.min_value = min(hist.min_value, low)
        hist.max_value = max(hist.max_value, high)


def _load() -> Callable[[HdrHistogram, list[int]], None]:
    """The C twin of `record_values` when it is to be used (`sse_cli.speedups`)."""
    return record_values if chosen() is None else record_values_in_c


add_values = _load()
