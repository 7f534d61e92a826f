"""Start-up stays light: `--help`, `--version` and completion never import the heavy stacks.

`import aiohttp` costs about 150 ms and fastapi + uvicorn + sse-starlette about 300 ms; every
`--help` and every TAB press (completion runs the program) would pay for them. Nor does any
of them import uvloop or httptools, which only `serve` needs.

One fresh interpreter runs the console script's entry point on every case in turn and reports
the heavy modules loaded after each: what is loaded stays loaded, so a case that imported one
shows in its own report and in every later one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    "uvloop",
    "httptools",
)

COMPLETION = {"_SSE_CLI_COMPLETE": "complete_bash", "COMP_WORDS": "sse-cli ", "COMP_CWORD": "1"}

#: (id, argv, environment variables, the exit status it must end with)
CASES: list[tuple[str, list[str], dict[str, str], int]] = [
    ("--help", ["--help"], {}, 0),
    ("--version", ["--version"], {}, 0),
    ("listen --help", ["listen", "--help"], {}, 0),
    ("bench --help", ["bench", "--help"], {}, 0),
    ("serve --help", ["serve", "--help"], {}, 0),
    ("demo --help", ["demo", "--help"], {}, 0),
    ("usage error", ["listen", "not a url"], {}, 2),
    ("completion", [], COMPLETION, 0),
]

# The console script's own path (`sse_cli.__main__.main`: process tuning, then the CLI), once
# per case; completion reads the process's environment, so each case's variables are set
# around its run. The report goes to a file: stdout is the CLI's.
PROBE = """
import json, os, sys
cases, heavy, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
sys.argv[0] = "sse-cli"
from sse_cli.__main__ import main
report = []
for argv, env in cases:
    os.environ.update(env)
    sys.argv[1:] = argv
    try:
        main()
    except SystemExit as exit:
        status = exit.code or 0
    for name in env:
        del os.environ[name]
    sys.stdout.flush()
    report.append({"status": status, "loaded": [m for m in heavy if m in sys.modules]})
with open(out, "w") as file:
    json.dump(report, file)
"""


def test_start_up_imports_no_heavy_module(tmp_path: Path) -> None:
    """Every case in one child (one test, so one child however the tests are shared out):
    each case's exit status, and the heavy modules loaded once it ended."""
    out = tmp_path / "report.json"
    cases = [(argv, env) for _, argv, env, _ in CASES]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(cases), json.dumps(HEAVY), str(out)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env=cli_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(out.read_text())
    assert dict(zip([c[0] for c in CASES], report, strict=True)) == {
        name: {"status": status, "loaded": []} for name, _, _, status in CASES
    }
