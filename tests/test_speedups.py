"""Which twin of the hot loops runs: the C one when it was built, Python's when asked
(SSE_CLI_PURE_PYTHON=1), and `--version` says which; and the C functions refuse wrong calls
with an exception."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from support.cli import cli_env, environment
from support.twins import speedups

from sse_cli import __version__
from sse_cli.cli import run_cli as run_in_process
from sse_cli.protocol.decoder import Event

WHICH = (
    "from sse_cli.protocol import decoder; from sse_cli.loadtest import audit, hdr; "
    "print(decoder._scan.__module__, audit.ascending_ids.__module__, hdr.add_values.__name__)"
)


def test_the_c_twins_run_when_they_were_built() -> None:
    """In this process, which imported them with SSE_CLI_PURE_PYTHON unset."""
    if speedups() is None and not os.environ.get("CI"):
        pytest.skip("sse_cli._speedups was not built (no C compiler?)")
    if os.environ.get("SSE_CLI_PURE_PYTHON"):
        pytest.skip("this process was started on the Python twins (SSE_CLI_PURE_PYTHON)")
    from sse_cli.loadtest import audit, hdr
    from sse_cli.protocol import decoder

    assert [decoder._scan.__module__, audit.ascending_ids.__module__, hdr.add_values.__name__] == [
        "sse_cli._speedups",
        "sse_cli._speedups",
        "record_values_in_c",
    ]


def test_sse_cli_pure_python_keeps_to_the_python_twins() -> None:
    """A fresh interpreter: the variable is read as the modules are imported."""
    done = subprocess.run(
        [sys.executable, "-c", WHICH],
        capture_output=True,
        env=cli_env(SSE_CLI_PURE_PYTHON="1"),
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=True,
    )
    assert done.stdout.decode().split() == [
        "sse_cli.protocol.decoder",
        "sse_cli.loadtest.audit",
        "record_values",
    ]


@pytest.mark.skipif(speedups() is None, reason="sse_cli._speedups was not built")
def test_wrong_calls_raise_instead_of_crashing() -> None:
    built = speedups()
    assert built is not None
    with pytest.raises(TypeError):
        built.scan("text")
    with pytest.raises(TypeError):
        built.scan(b"not str", 0, [], "", "", "", None, 0, 0, False, 10, 10, print, None)
    with pytest.raises(TypeError):
        built.scan("a\n\n", 3, [], "", "", "", None, 0, 0, False, 10, 10, print, int)
    with pytest.raises(ValueError):
        built.scan("a\n", 5, [], "", "", "", None, 0, 0, False, 10, 10, print, None)
    with pytest.raises(TypeError):
        built.bind(int, Event)
    with pytest.raises(TypeError):
        built.ascending((), Event, 2)
    assert built.ascending([Event("message", "x", "1")], Event, 7) is None  # no item 7
    counts = bytearray(16)
    with pytest.raises(TypeError):
        built.record_values(counts, 8, (1, 2), 2, 0, 10, 2047, 100)
    with pytest.raises(BufferError):
        built.record_values(b"read-only", 8, [1], 2, 0, 10, 2047, 100)
    with pytest.raises(ValueError):
        built.record_values(counts, 3, [1], 2, 0, 10, 2047, 100)
    with pytest.raises(TypeError):
        built.record_values(counts, 8, ["1"], 2, 0, 10, 2047, 100)
    nothing = (0, 2**63 - 1, 0)
    assert built.record_values(counts, 8, [100], 2048, 0, 10, 2047, 10**6) == nothing  # past 16 B
    assert built.record_values(counts, 8, [3000], 1, 0, 10, 2047, 10**6) == nothing
    wide = bytearray(8 * 2048)
    assert built.record_values(wide, 8, [1, 5000], 2048, 0, 10, 2047, 100) == (2, 1, 100)
    assert wide[8:9] == wide[800:801] == b"\x01"  # 5000 is clamped to the highest, 100


def version_line(**environ: str) -> str:
    """`sse-cli --version` in-process, with exactly these environment variables."""
    env = environment(environ=environ)
    assert run_in_process(["--version"], env) == 0
    assert isinstance(env.stdout, io.BytesIO)
    return env.stdout.getvalue().decode()


def test_version_names_the_c_decoder_when_it_runs() -> None:
    if speedups() is None and not os.environ.get("CI"):
        pytest.skip("sse_cli._speedups was not built (no C compiler?)")
    assert version_line() == f"sse-cli {__version__} (decoder: C)\n"


def test_version_names_the_python_decoder_under_sse_cli_pure_python() -> None:
    assert version_line(SSE_CLI_PURE_PYTHON="1") == f"sse-cli {__version__} (decoder: Python)\n"
