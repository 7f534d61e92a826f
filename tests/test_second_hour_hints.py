"""Hints and words a new user reads in the second hour (issue 27, point 11): reconnects are
counted as reconnects, each usage error points at the right help and names its flag, and
a hint holds no nested parentheses."""

from __future__ import annotations

import pytest
from support.cli import invoke
from support.serve import serving_args

NOWHERE = "http://127.0.0.1:1/"


def test_reconnects_after_streams_that_ran_are_counted_as_reconnects() -> None:
    with serving_args("-q", "--delay", "0") as server:
        done = invoke("listen", f"{server.url}/counter?drop_after=2&limit=6", "-f", "data")
    assert done.status == 0, done.stderr
    assert done.stdout.split() == [b"1", b"2", b"3", b"4", b"5", b"6"]
    err = done.stderr
    assert "(reconnect 1)" in err and "(reconnect 2)" in err, err
    assert "attempt" not in err, err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bench", NOWHERE, "-f", "csv"], "-f/--format 'csv' is not one of table, json"),
        (["listen", NOWHERE, "--record"], "(see 'sse-cli listen --help')"),
        (["bench", NOWHERE, "-c"], "(see 'sse-cli bench --help')"),
        (["--no-such-flag"], "(see 'sse-cli --help')"),
    ],
)
def test_a_usage_error_names_its_flag_and_the_right_help(args: list[str], expected: str) -> None:
    done = invoke(*args)
    assert done.status == 2
    [line] = done.stderr.splitlines()
    assert expected in line, line


def test_a_malformed_header_hint_has_no_nested_parentheses() -> None:
    done = invoke("listen", NOWHERE, "-H", "Authorization Bearer x")
    assert done.status == 2
    [line] = done.stderr.splitlines()
    assert "Bearer" not in line  # the value may be a secret
    assert line.count("(") == line.count(")") == 1, line
