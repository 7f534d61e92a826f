"""Which twin of the hot loops runs: the C ones of `sse_cli._speedups` when they were built
(a C compiler and Python's headers at install) and SSE_CLI_PURE_PYTHON is unset, else the
Python ones beside each caller (`protocol.decoder.scan_lines`, `loadtest.audit.ascending`)."""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def built() -> ModuleType | None:
    """`sse_cli._speedups`, or None when it was not built."""
    try:
        return importlib.import_module("sse_cli._speedups")
    except ImportError:
        return None


def chosen() -> ModuleType | None:
    """`sse_cli._speedups` when it is to be used: built, and not turned off."""
    return None if os.environ.get("SSE_CLI_PURE_PYTHON") else built()
