"""GET /ui: a page that shows the streams live (static/ui.html), under a Content-Security-Policy
that lets only its own script and style run; and GET /favicon.ico, which browsers ask for."""

from __future__ import annotations

import base64
import functools
import hashlib
from importlib import resources

from fastapi.responses import HTMLResponse, Response


@functools.cache
def ui_page() -> tuple[str, str]:
    """The page and its Content-Security-Policy."""
    page = resources.files("sse_cli.serve").joinpath("static/ui.html").read_text(encoding="utf-8")

    def digest(tag: str) -> str:
        body = page.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]
        return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"

    policy = (
        f"default-src 'none'; script-src {digest('script')}; style-src {digest('style')}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, policy


async def ui() -> Response:
    """GET /ui: the page."""
    page, policy = ui_page()
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})


async def favicon() -> Response:
    """GET /favicon.ico: there is none."""
    return Response(status_code=204)
