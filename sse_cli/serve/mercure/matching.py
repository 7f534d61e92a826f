"""Topic selectors and the one cache of their results. Stdlib only.

A selector is a kind and a text: `exact`, `all` (`*`), `template` (RFC 6570 URI template,
legacy `topic=`) or `urlpattern` (draft-08 `match_urlpattern=`, the subset named below).
Both compile to one regular expression without nested quantifiers, matched with
`fullmatch` on topics of at most MAX_TOPIC characters: a bounded cost per match, and one
match per (topic, selector) however many subscribers share the selector.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_TOPIC = 2048
MAX_CACHED = 100_000  # (topic, selector) results kept; then the cache starts again

# RFC 6570 operators: what one expression may expand to, as a regular expression.
_TEMPLATE_PARTS = dict(
    zip(
        ("", *"+#./;?&"),  # no operator, then RFC 6570's operators in this order
        (
            r"[^/?#&,]*",
            r"[^#]*?",
            r"(?:#[^#]*)?",
            r"(?:\.[^/?#]*)?",
            r"(?:/[^/?#]*)*?",
            r"(?:;[^/?#]*)*?",
            r"(?:\?[^#]*)?",
            r"(?:&[^#]*)?",
        ),
        strict=True,
    )
)
_EXPRESSION = re.compile(r"\{([+#./;?&]?)[A-Za-z0-9_.%,:*]+\}")
# URL Pattern, the part that compiles to a linear-time expression: `:name` (one segment),
# `*` (anything), `{...}` groups with an optional `?`, and `\` escapes. Regular-expression
# groups `(...)` are refused (400).
_PATTERN_TOKEN = re.compile(r"\\(.)|:[A-Za-z_][A-Za-z0-9_]*|\*|\{|\}\?|\}|\(|.", re.S)


class SelectorError(ValueError):
    """A selector the hub cannot match (400)."""


class Selector(NamedTuple):
    kind: str  # exact, all, template or urlpattern
    text: str


def legacy(text: str) -> Selector:
    """A legacy `topic=` value: `*`, a URI template when it holds `{`, else exact."""
    if text == "*":
        return Selector("all", text)
    return Selector("template" if "{" in text else "exact", text)


def template_regex(template: str) -> re.Pattern[str]:
    parts, at = [], 0
    for found in _EXPRESSION.finditer(template):
        parts.append(re.escape(template[at : found.start()]))
        parts.append(_TEMPLATE_PARTS[found.group(1)])
        at = found.end()
    rest = template[at:]
    if "{" in rest or "}" in rest:
        raise SelectorError(f"not a URI template: {template!r}")
    parts.append(re.escape(rest))
    return re.compile("".join(parts), re.S)


def pattern_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    depth = 0
    for found in _PATTERN_TOKEN.finditer(pattern):
        token = found.group(0)
        if found.group(1) is not None:
            parts.append(re.escape(found.group(1)))
        elif token.startswith(":"):
            parts.append(r"[^/?#]+")
        elif token == "*":
            parts.append(r".*")
        elif token == "{":
            depth += 1
            parts.append("(?:")
        elif token in ("}", "}?") and depth:
            depth -= 1
            parts.append(")?" if token == "}?" else ")")
        elif token == "(" or token.startswith("}"):
            raise SelectorError(f"URL pattern not supported: {pattern!r}")
        else:
            parts.append(re.escape(token))
    if depth:
        raise SelectorError(f"URL pattern not supported: {pattern!r}")
    return re.compile("".join(parts), re.S)


class Matcher:
    """Compiled selectors and the results per (topic, selector), shared by every subscriber
    of one process."""

    def __init__(self) -> None:
        self.compiled: dict[Selector, re.Pattern[str]] = {}
        self.results: dict[tuple[str, Selector], bool] = {}

    def check(self, selector: Selector) -> None:
        """Compile `selector` now; SelectorError if it cannot be matched."""
        if selector.kind in ("template", "urlpattern") and selector not in self.compiled:
            if len(self.compiled) >= MAX_CACHED:
                self.compiled.clear()
            build = template_regex if selector.kind == "template" else pattern_regex
            self.compiled[selector] = build(selector.text)

    def matches(self, topic: str, selector: Selector) -> bool:
        if selector.kind == "all":
            return True
        if selector.kind == "exact":
            return topic == selector.text
        key = (topic, selector)
        found = self.results.get(key)
        if found is None:
            self.check(selector)
            found = len(topic) <= MAX_TOPIC and bool(self.compiled[selector].fullmatch(topic))
            if len(self.results) >= MAX_CACHED:
                self.results.clear()
            self.results[key] = found
        return found

    def any(self, topics: tuple[str, ...], selectors: tuple[Selector, ...]) -> bool:
        return any(self.matches(t, s) for s in selectors for t in topics)
