"""Start-up stays light: `--help`, `--version` and completion never import the heavy stacks.

`import aiohttp` costs about 150 ms and fastapi + uvicorn + sse-starlette about 300 ms; every
`--help` and every TAB press (completion runs the program) would pay for them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.cli import cli_env

HEAVY = (
    "aiohttp",
    "fastapi",
    "uvicorn",
    "sse_starlette",
    "starlette",
    "pydantic",
    "jmespath",
    "orjson",
    "hdrh",
    "redis",
)

PROBE = """
import json, sys
from sse_cli.cli import run_cli
status = run_cli(sys.argv[1:])
heavy = %r
print(json.dumps({"status": status, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def probe(*args: str) -> dict[str, object]:
    """Run the CLI with ARGS in a fresh interpreter; its status and the heavy modules loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env=cli_env(),
        timeout=30,
        text=True,
    )
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["listen", "--help"],
        ["bench", "--help"],
        ["serve", "--help"],
        ["demo", "--help"],
    ],
    ids=" ".join,
)
def test_help_and_version_import_no_heavy_module(args: list[str]) -> None:
    assert probe(*args) == {"status": 0, "loaded": []}


def test_a_usage_error_imports_no_heavy_module() -> None:
    assert probe("listen", "not a url") == {"status": 2, "loaded": []}
