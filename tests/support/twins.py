"""The hot loops' twins: each C function of `sse_cli._speedups` beside the Python function it
mirrors. Tests that use the `twins` fixture run once with each set."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import ModuleType

import pytest

from sse_cli.loadtest import audit, hdr, stream
from sse_cli.protocol import decoder as parser
from sse_cli.speedups import built

NAMES = ("c", "python")


def speedups() -> ModuleType | None:
    """`sse_cli._speedups`, or None when it was not built (a machine without a compiler)."""
    return built()


@contextlib.contextmanager
def using(name: str) -> Iterator[None]:
    """The decoder, the load tester's audit and histograms on the C twins ("c") or on
    Python's ("python").
    CI builds the C ones: there, their absence fails the test instead of skipping it."""
    if name == "c":
        built = speedups()
        if built is None:
            if os.environ.get("CI"):
                pytest.fail("sse_cli._speedups was not built: is a C compiler installed?")
            pytest.skip("sse_cli._speedups was not built (no C compiler?)")
        built.bind(parser.Event, parser.Comment)
        scan, ascending = built.scan, built.ascending
        record = hdr.record_values_in_c
    else:
        scan, ascending = parser.scan_lines, audit.ascending
        record = hdr.record_values
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parser, "_scan", scan)
        patch.setattr(stream, "ascending_ids", ascending)
        patch.setattr(hdr, "add_values", record)
        yield
