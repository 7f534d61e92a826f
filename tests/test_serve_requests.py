"""How `sse-cli serve` takes requests, checked on the code itself: one body-reading path, one
validation style, one error shape per path family.

A client that leaves mid-body is handled once, for the whole app, where `read_body` raises
Starlette's `ClientDisconnect`; these tests keep every endpoint on that path, so the next
endpoint cannot read a body some other way. The behaviour over real sockets is in
test_server_hardening.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from sse_cli.serve.refusals import error_response, invalid_field, param_of

SERVE = Path(__file__).resolve().parents[1] / "sse_cli" / "serve"
BODY_READERS = {"body", "json", "form", "stream"}


def body_reads(path: Path) -> list[str]:
    """Calls such as `request.body()` in a module: reading the body around `read_body`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in BODY_READERS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "request"
        ):
            found.append(f"{path.name}:{node.lineno} request.{node.func.attr}()")
    return found


def test_only_read_body_reads_a_request_body() -> None:
    found = [hit for source in sorted(SERVE.rglob("*.py")) for hit in body_reads(source)]
    assert len(found) == 1, found
    assert found[0].startswith("streams.py:") and found[0].endswith(" request.stream()"), found


def test_no_endpoint_declares_a_body_parameter_fastapi_would_read() -> None:
    """FastAPI reads a declared body itself, around `read_body` and its --max-body check."""
    from sse_cli.serve.routes import ROUTES

    for route in ROUTES:
        if route.bare:
            continue
        annotations = getattr(route.handler, "__annotations__", {})
        names = set(annotations) - {"return"}
        assert not any("Body" in str(annotations[n]) for n in names), route.path


class Sample(BaseModel):
    flag: bool = False
    items: list[dict[str, str]] = []


def first_error(value: object) -> dict[str, object]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(value, strict=True)
    error: dict[str, object] = dict(caught.value.errors()[0])
    return error


def test_a_wrong_type_is_named_as_the_api_names_it() -> None:
    refusal = invalid_field(first_error({"flag": "yes"}))
    assert (
        refusal.message == "Invalid type for 'flag': expected a boolean, but got a string instead."
    )
    assert (refusal.param, refusal.code, refusal.status) == ("flag", "invalid_type", 422)


def test_a_nested_field_is_named_by_its_path() -> None:
    assert param_of(("messages", 0, "role")) == "messages[0].role"
    assert param_of(()) == "body"
    refusal = invalid_field(first_error({"items": [{"a": 1}]}))
    assert refusal.param == "items[0].a"


def test_openai_paths_answer_the_api_error_object_and_400_for_invalid() -> None:
    reply = error_response(422, "bad", path="/v1/chat/completions", param="stream", code="x")
    assert reply.status_code == 400
    assert reply.body == (
        b'{"error":{"message":"bad","type":"invalid_request_error","param":"stream","code":"x"}}\n'
    )
    plain = error_response(422, "bad", path="/sse")
    assert (plain.status_code, plain.body) == (422, b'{"error":"bad"}\n')
