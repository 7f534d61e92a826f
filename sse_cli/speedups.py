"""Which twin of the hot loops runs: the C ones of `sse_cli._speedups` when they were built
(a C compiler and Python's headers at install) and SSE_CLI_PURE_PYTHON is unset, else the
Python ones beside each caller (`protocol.decoder.scan_lines`, `loadtest.audit.ascending`)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType


def built() -> ModuleType | None:
    """`sse_cli._speedups`, or None when it was not built."""
    try:
        return importlib.import_module("sse_cli._speedups")
    except ImportError:
        return None


def chosen(environ: Mapping[str, str] | None = None) -> ModuleType | None:
    """`sse_cli._speedups` when it is to be used: built, and not turned off in `environ`
    (this process's environment variables by default)."""
    environ = os.environ if environ is None else environ
    return None if environ.get("SSE_CLI_PURE_PYTHON") else built()
