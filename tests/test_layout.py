"""The package's shape, held by a test: room sizes, function sizes and the way imports flow.

Read from the source as text (the `ast` of each module), so nothing of the package runs.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sse_cli"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Who may not import whom: the left side never imports a module named on the right.
FORBIDDEN = {
    "sse_cli.serve": ("sse_cli.client", "sse_cli.cli", "sse_cli.render", "sse_cli.session"),
    "sse_cli.client": ("sse_cli.serve", "sse_cli.cli", "sse_cli.render", "sse_cli.session"),
    "sse_cli.session": ("sse_cli.client", "sse_cli.serve", "sse_cli.cli"),
    "sse_cli.render": ("sse_cli.client", "sse_cli.serve", "sse_cli.cli"),
    "sse_cli.request": ("sse_cli.client", "sse_cli.serve", "sse_cli.cli", "sse_cli.render"),
    "sse_cli.launcher": ("sse_cli.serve", "sse_cli.client", "sse_cli.cli"),
    "sse_cli.doctor": ("sse_cli.serve", "sse_cli.cli", "sse_cli.render", "sse_cli.session"),
}
# The bottom floor: pure modules that import nothing of the package but each other.
BOTTOM = (
    "sse_cli.protocol",
    "sse_cli.protocol.decoder",
    "sse_cli.protocol.lines",
    "sse_cli.protocol.response",
    "sse_cli.protocol.reconnect",
    "sse_cli._speedups",
    "sse_cli.speedups",
    "sse_cli.actions",
    "sse_cli.encode",
    "sse_cli.errors",
    "sse_cli.checks",
)


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


MODULES = dict(modules())


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES}


def imported_at_load(path: Path) -> set[str]:
    """What a module imports when it is loaded (its top level, `if TYPE_CHECKING:` included;
    not the imports inside functions, which are how a heavy or upper module is reached late).
    `from package import module` counts as importing the module, not the package."""
    found: set[str] = set()
    statements = list(ast.parse(path.read_text()).body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If | ast.Try):
            statements.extend(node.body + node.orelse)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
            found |= submodules
            if len(submodules) < len(node.names):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES}


def in_cli(name: str) -> bool:
    return name == "sse_cli.cli" or name.startswith("sse_cli.cli.")


def is_command(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function whose parameters are all Typer declarations: `Annotated[..., typer.Option]`
    written out, or a shared alias of one (`UrlArgument`, `MethodOption`), besides the
    context Typer passes (`ctx: typer.Context`)."""
    args = [
        a
        for a in node.args.args
        if not a.annotation or ast.unparse(a.annotation) != "typer.Context"
    ]
    annotations = [ast.unparse(a.annotation) for a in args if a.annotation]
    return len(annotations) == len(args) > 0 and all(
        a.startswith("Annotated[") or a.endswith(("Option", "Argument")) for a in annotations
    )


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_400_lines(name: str) -> None:
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_function_is_over_60_lines_and_commands_only_wire(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        assert node.end_lineno is not None
        length = node.end_lineno - node.lineno + 1
        if in_cli(name) and is_command(node):
            problem = wiring_problem(node)
            assert problem is None, f"{name}.{node.name}: {problem}"
        else:
            assert length <= MAX_FUNCTION_LINES, f"{name}.{node.name} has {length} lines"


def wiring_problem(command: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Why a command's body is more than wiring, or None: past its docstring and its lazy
    imports, a body builds one settings object from its flags (an assignment, or inline as
    an argument) and makes one call (which a `try` may wrap, its handlers calling `fail`).
    Every flag is passed once, by keyword to a constructor; no tuple packs flags by
    position. The option declarations may take as many lines as they need."""
    body = [
        statement
        for statement in command.body
        if not isinstance(statement, ast.Import | ast.ImportFrom)
        and not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
    ]
    if not body:
        return None  # declarations only: a group's callback, its options eager
    wiring = ast.Module(body=list(body), type_ignores=[])
    attempt = body[-1]
    if isinstance(attempt, ast.Try):
        if any(not one_call(handler.body) for handler in attempt.handlers):
            return "a try whose handlers do more than one call (fail)"
        body = body[:-1] + attempt.body
    if len(body) == 2 and isinstance(body[0], ast.Assign) and isinstance(body[0].value, ast.Call):
        body = body[1:]
    if not one_call(body):
        return "more than one settings construction and one call"
    flags = [a.arg for a in command.args.args if ast.unparse(a.annotation or a) != "typer.Context"]
    names = [n.id for n in ast.walk(wiring) if isinstance(n, ast.Name) and n.id in flags]
    for flag in flags:
        if names.count(flag) != 1:
            return f"the flag {flag} is used {names.count(flag)} times, not once"
    for node in ast.walk(wiring):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and node.elts:
            return f"flags packed by position: {ast.unparse(node)}"
        if isinstance(node, ast.Starred):
            return f"flags unpacked by position: {ast.unparse(node)}"
        if isinstance(node, ast.Call) and any(
            isinstance(arg, ast.Name) and arg.id in flags for arg in node.args
        ):
            return f"a flag passed by position: {ast.unparse(node)[:60]}"
    return None


def one_call(body: list[ast.stmt]) -> bool:
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Call)


@pytest.mark.parametrize("name", [name for name in sorted(MODULES) if in_cli(name)])
def test_no_locals_in_the_cli(name: str) -> None:
    """Commands name each flag they pass on: `locals()` hides which flags reach which
    settings, and a renamed parameter would silently drop out."""
    tree = ast.parse(MODULES[name].read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in ("locals", "vars")]
    assert not calls, f"{name} calls {calls[0].id}() on line {calls[0].lineno}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_flow_one_way(name: str) -> None:
    targets = imported(MODULES[name])
    for owner, banned in FORBIDDEN.items():
        if name == owner or name.startswith(owner + "."):
            wrong = {t for t in targets for b in banned if t == b or t.startswith(b + ".")}
            assert not wrong, f"{name} imports {sorted(wrong)}"
    if name in BOTTOM:
        assert targets <= set(BOTTOM), f"{name} imports {sorted(targets - set(BOTTOM))}"
    if not (in_cli(name) or name == "sse_cli.__main__"):
        assert not {t for t in targets if in_cli(t)}, f"{name} imports the cli"


def test_no_import_circle_at_load() -> None:
    graph = {name: sorted(imported_at_load(path) - {name}) for name, path in MODULES.items()}
    done: set[str] = set()

    def circle_from(name: str, trail: list[str]) -> list[str] | None:
        """Depth first; each module is left once, so this is linear in the imports."""
        for target in graph[name]:
            if target in trail:
                return [*trail[trail.index(target) :], target]
            if target not in done:
                found = circle_from(target, [*trail, target])
                if found:
                    return found
        done.add(name)
        return None

    for start in sorted(graph):
        circle = None if start in done else circle_from(start, [start])
        assert circle is None, f"an import circle: {' -> '.join(circle)}"


def test_the_checks_see_the_whole_package() -> None:
    assert {"sse_cli.protocol.decoder", "sse_cli.client", "sse_cli.cli", "sse_cli.serve"} <= set(
        MODULES
    )
    assert imported(MODULES["sse_cli.cli.listen"]) & {"sse_cli.client", "sse_cli.request"}


#: What the protocol core may import of the package: itself, the errors and the C twin.
CORE_IMPORTS = ("sse_cli.protocol", "sse_cli.errors", "sse_cli.speedups", "sse_cli._speedups")
#: Standard library modules that do I/O or run an event loop: none belongs in the core.
IO_MODULES = ("asyncio", "socket", "ssl", "selectors", "subprocess", "threading", "io", "os")


def stdlib_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("sse_cli.protocol")))
def test_the_protocol_core_is_pure(name: str) -> None:
    """Standard library only, no I/O: every client transport can use it, and its tests need
    no socket."""
    targets = imported(MODULES[name])
    assert all(t.startswith(CORE_IMPORTS) for t in targets), sorted(targets)
    outside = stdlib_imports(MODULES[name]) - {"sse_cli", "__future__"}
    assert not outside & set(IO_MODULES), sorted(outside & set(IO_MODULES))
    assert all(module in sys.stdlib_module_names for module in outside), sorted(outside)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_core_reads_response_statuses_and_keeps_a_backoff(name: str) -> None:
    """The rules of being a client live once: no transport compares a status with 204, 429 or
    500, parses Retry-After or makes its own backoff. Exempt: serve, which answers statuses,
    and the exit status table, which maps 4xx and 5xx to their statuses."""
    if name.startswith(("sse_cli.protocol", "sse_cli.serve")) or name == "sse_cli.errors":
        return
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            numbers = [
                c.value
                for c in (node.left, *node.comparators)
                if isinstance(c, ast.Constant) and type(c.value) is int
            ]
            assert not {204, 429, 500} & set(numbers), f"{name}:{node.lineno} classifies a status"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "Backoff", f"{name}:{node.lineno} makes its own backoff"
        if isinstance(node, ast.Name):
            assert node.id != "parsedate_to_datetime", f"{name}:{node.lineno} parses Retry-After"
