"""The checks on a flag's value that the commands share: seconds, counts, ranges, choices.

Each raises `UsageError` (exit status 2) with the rule it broke; typer names the flag. Stdlib
and the errors only, so that declaring the flags (`sse-cli --help`, a TAB press) imports
nothing else: what a request or a run needs is imported when one runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sse_cli.errors import UsageError

__all__ = ["check_between", "check_choice", "check_count", "check_seconds"]

Number = TypeVar("Number", int, float)


def check_seconds(value: float | None) -> float | None:
    """A duration in seconds: more than 0 and finite (leave a flag out for "never")."""
    # `not value > 0` also refuses nan.
    if value is not None and (not value > 0 or value == float("inf")):
        raise UsageError(f"must be a number of seconds more than 0, not {value:g}")
    return value


def check_count(value: int | None) -> int | None:
    """A count: 0 or more."""
    if value is not None and value < 0:
        raise UsageError(f"must be 0 or more, not {value}")
    return value


def check_between(low: float, high: float | None = None) -> Callable[[Number], Number]:
    """A check that a number is at least `low` (and at most `high`, if given)."""

    def check(value: Number) -> Number:
        # `not value >= low` also refuses nan.
        if not value >= low or (high is not None and value > high):
            bounds = f"from {low:g} to {high:g}" if high is not None else f"{low:g} or more"
            raise UsageError(f"must be {bounds}, not {value:g}")
        return value

    return check


def check_choice(value: str | None, choices: Sequence[str], flag: str = "") -> str | None:
    """`value` if it is one of `choices`; a UsageError naming `flag` (when given) if not."""
    if value is not None and value not in choices:
        named = f"{flag} " if flag else ""
        raise UsageError(f"{named}{value!r} is not one of {', '.join(choices)}")
    return value
