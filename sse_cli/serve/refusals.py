"""How the server refuses a request: `ApiError`, and the one function that writes the error
body in either of the two shapes the server speaks.

Paths under `/v1/` are the OpenAI mock's, so their errors are the API's error object,
`{"error": {"message", "type", "param", "code"}}`, and an invalid request there is a 400, as
the real API answers it. Every other path answers `{"error": "<message>"}`, an invalid
request being a 422. A validation failure of any body model is turned into one message that
names the field (`messages[0].role`), the same words in both shapes.

Imports no endpoint module.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

OPENAI_PREFIX = "/v1/"
INVALID = 422  # an invalid request outside the OpenAI mock; the mock answers 400


class JsonBody(JSONResponse):
    """A JSON response whose body ends with a newline, so `curl` run by a person leaves the
    shell's prompt on a line of its own. Every JSON body the server answers is one."""

    def render(self, content: Any) -> bytes:
        return super().render(content) + b"\n"


class ApiError(Exception):
    """A request the server refuses: its status, a message naming the problem, and for the
    OpenAI shape the parameter at fault and a machine-readable code."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.param = param
        self.code = code


def openai_type(status: int) -> str:
    """The API's `type` for an error status."""
    if status == 429:
        return "requests"
    return "server_error" if status >= 500 else "invalid_request_error"


def error_response(
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    path: str = "",
    param: str | None = None,
    code: str | None = None,
) -> Response:
    """The JSON error response for a refusal on `path`, in that path's shape."""
    if not path.startswith(OPENAI_PREFIX):
        return JsonBody({"error": message}, status_code=status, headers=headers)
    if status == INVALID:
        status = 400
    body = {"message": message, "type": openai_type(status), "param": param, "code": code}
    return JsonBody({"error": body}, status_code=status, headers=headers)


def refused(exc: ApiError, path: str) -> Response:
    return error_response(
        exc.status, exc.message, exc.headers, path=path, param=exc.param, code=exc.code
    )


KINDS = {
    "bool_type": "a boolean",
    "string_type": "a string",
    "list_type": "an array",
    "model_type": "an object",
    "dict_type": "an object",
    "content_type": "a string or an array of content parts",
    "model_attributes_type": "an object",
    "int_type": "an integer",
    "float_type": "a number",
}


def kind_of(value: Any) -> str:
    """What a JSON value is, in the API's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def param_of(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as the API writes it: `messages[0].role`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "body"


def invalid_field(error: Any) -> ApiError:
    """The refusal for one pydantic error: a message naming the field, its param and code."""
    param = param_of(tuple(error.get("loc", ())))
    kind = error.get("type", "")
    if kind == "missing":
        return ApiError(
            INVALID,
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    if kind in KINDS:
        got = kind_of(error.get("input"))
        message = f"Invalid type for '{param}': expected {KINDS[kind]}, but got {got} instead."
        return ApiError(INVALID, message, param=param, code="invalid_type")
    if kind == "too_short" and isinstance(error.get("input"), list):
        message = (
            f"Invalid '{param}': empty array. Expected an array with minimum length "
            f"{error.get('ctx', {}).get('min_length', 1)}, but got an empty array instead."
        )
        return ApiError(INVALID, message, param=param, code="empty_array")
    message = f"Invalid value for '{param}': {error.get('msg', 'invalid')}."
    return ApiError(INVALID, message, param=param, code="invalid_value")
