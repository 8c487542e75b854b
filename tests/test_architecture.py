"""Rules of STYLE.md that a check can enforce, so the page stays honest."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
# Composition roots: they wire the domains together and may import any of them.
ROOTS = {"main", "cli", "commands", "runtime", "deps", "web", "registry", "__main__"}
FOUNDATION = {"config", "errors", "logging", "core", "models"}
COMMIT_ALLOWED = {"core/db.py", "deps.py"}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(APP)), ast.parse(path.read_text(), str(path)))
        for path in sorted(APP.rglob("*.py"))
    ]


def _package(relative: str) -> str:
    return relative.split("/")[0].removesuffix(".py")


def _imported_packages(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found.update(n.split(".")[1] for n in names if n.startswith("app.") and n.count(".") >= 1)
    return found


def test_only_the_unit_of_work_commits() -> None:
    offenders = [
        f"{relative}:{node.lineno}"
        for relative, tree in _modules()
        if relative not in COMMIT_ALLOWED
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "commit"
    ]
    assert offenders == [], "services flush, they never commit"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for relative, tree in _modules():
        source = _package(relative)
        if source in ROOTS:
            continue
        graph[source] |= {p for p in _imported_packages(tree) if p not in ROOTS} - {source}
    return graph


def test_foundation_imports_no_domain() -> None:
    graph = _graph()
    for package in FOUNDATION:
        assert graph.get(package, set()) <= FOUNDATION, package


def test_domains_do_not_import_the_composition_roots() -> None:
    allowed_deps = {
        "accounts",
        "catalog",
        "comments",
        "conversations",
        "moderation",
        "worker",
        "ops",
        "users",
        "privacy",
        "audit",
        "reports",
        "ui",
        "links",
    }
    for relative, tree in _modules():
        package = _package(relative)
        if package in ROOTS:
            continue
        roots = _imported_packages(tree) & ROOTS
        # Routers need the request dependencies; workers' handlers need the runtime type.
        web_facing = relative.endswith(("router.py", "pages.py")) or package == "ui"
        if web_facing and package in allowed_deps:
            roots -= {"deps", "web"}
        roots -= {"runtime"}
        assert not roots, f"{relative} imports {roots}"


def test_imports_between_domains_point_one_way() -> None:
    graph = _graph()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join([*visiting, node])
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            visit(target)
        visiting.pop()
        done.add(node)

    for package in sorted(graph):
        visit(package)
