"""Rules of STYLE.md that a check can enforce, so the page stays honest."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
# Composition roots: they wire the domains together and may import any of them. The
# package-level rules below leave them out (a router needs `deps`, which needs `users`);
# test_no_import_cycle_between_modules keeps them in, so no circle hides behind them.
ROOTS = {"main", "cli", "commands", "runtime", "deps", "web", "registry", "__main__"}
# The worker hands each handler the runtime, so the modules that run jobs may name its type:
# a domain's jobs.py, the worker and the health check (the engine). Nothing else: a
# handler's body gets the clients it uses passed in.
RUNTIME_USERS = {
    "worker/runner.py",
    "ops/router.py",
}
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
        if relative.endswith("/jobs.py") or relative in RUNTIME_USERS:
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


def _app_modules() -> dict[str, ast.Module]:
    return {
        ".".join(("app", *Path(relative).with_suffix("").parts)).removesuffix(".__init__"): tree
        for relative, tree in _modules()
    }


def _module_graph(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module -> the app modules it imports, wherever the import sits: one behind
    `if TYPE_CHECKING:` or inside a function is a circle all the same, only hidden."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    graph[name].add(submodule if submodule in modules else node.module)
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name.startswith("app.")}
    return {name: targets & modules.keys() - {name} for name, targets in graph.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    path: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            if (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        if (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle_between_modules() -> None:
    """Wiring files included: the runtime builds clients from domain modules, so a domain
    module it reaches must not import the runtime back (embeddings did, for a type)."""
    cycle = _find_cycle(_module_graph(_app_modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_the_cycle_check_sees_hidden_imports() -> None:
    modules = {
        "app.runtime": ast.parse("from app.drafting.embeddings import Embedder\n"),
        "app.drafting": ast.parse(""),
        "app.drafting.embeddings": ast.parse(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from app.runtime import Runtime\n"
        ),
        "app.drafting.jobs": ast.parse("def f():\n    from app import runtime\n"),
    }
    graph = _module_graph(modules)
    assert graph["app.drafting.jobs"] == {"app.runtime"}
    assert _find_cycle(graph) == [
        "app.drafting.embeddings",
        "app.runtime",
        "app.drafting.embeddings",
    ]
    del modules["app.drafting.embeddings"]
    assert _find_cycle(_module_graph(modules)) is None


def _spelled_kinds(tree: ast.Module) -> list[int]:
    """Lines that give a job kind other than as `JobKind.X` (or a variable passing one on):
    a string, or a constant of a second vocabulary, to `enqueue`/`ensure_scheduled` or
    compared with `Job.kind`."""

    def spelled(node: ast.expr | None) -> bool:
        if node is None:
            return False
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return any(spelled(e) for e in node.elts)
        if isinstance(node, ast.Attribute):
            return not (isinstance(node.value, ast.Name) and node.value.id == "JobKind")
        return not (isinstance(node, ast.Name) and node.id.islower())

    def is_job_kind(node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "kind"
            and isinstance(node.value, ast.Name)
            and node.value.id == "Job"
        )

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"enqueue", "ensure_scheduled"}:
                # enqueue(session, kind, ...), ensure_scheduled(session, kind, ...)
                kind = next((k.value for k in node.keywords if k.arg == "kind"), None)
                kind = kind or (node.args[1] if len(node.args) > 1 else None)
                if spelled(kind):
                    lines.append(node.lineno)
            elif isinstance(func, ast.Attribute) and func.attr in {"in_", "not_in"}:
                if is_job_kind(func.value) and any(spelled(a) for a in node.args):
                    lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and is_job_kind(node.left):
            if any(spelled(c) for c in node.comparators):
                lines.append(node.lineno)
    return lines


def test_job_kinds_are_named_not_spelled() -> None:
    """Every kind comes from app/worker/kinds.py: a typo there fails at import, not in
    a queue that nobody drains."""
    offenders = [
        f"{relative}:{line}" for relative, tree in _modules() for line in _spelled_kinds(tree)
    ]
    assert offenders == [], "use app.worker.kinds.JobKind"


def test_the_kind_check_sees_bare_strings() -> None:
    tree = ast.parse(
        "await enqueue(session, 'send_reply', {})\n"
        "await queue.enqueue(session, kind=f'x', payload={})\n"
        "await ensure_scheduled(session, 'catalog.embed', every_seconds=1)\n"
        "select(Job).where(Job.kind == 'send_reply')\n"
        "select(Job).where(Job.kind.in_(['draft_reply']))\n"
        "await enqueue(session, SEND_JOB, {})\n"
        "await enqueue(session, JobKind.SEND_REPLY, {'kind': 'x'})\n"
        "select(Job).where(Job.kind == JobKind.SEND_REPLY, Message.kind == 'text')\n"
        "await enqueue(session, kind, {}, dedupe_key=key)\n"
    )
    assert _spelled_kinds(tree) == [1, 2, 3, 4, 5, 6]


def test_every_job_kind_has_a_handler() -> None:
    from app.registry import JOB_HANDLERS, PERIODIC_JOBS
    from app.worker.kinds import JobKind

    assert set(JOB_HANDLERS) == set(JobKind)
    assert all(isinstance(kind, JobKind) for kind in [*JOB_HANDLERS, *PERIODIC_JOBS])
    assert set(PERIODIC_JOBS) <= set(JOB_HANDLERS)


def test_the_registry_takes_handlers_from_jobs_modules() -> None:
    """One place per domain to look for what its worker jobs do."""
    tree = ast.parse((APP / "registry.py").read_text())
    sources = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app.")
    }
    domains = {s for s in sources if not s.startswith(("app.worker.", "app.runtime"))}
    assert domains, "the registry imports no handler at all?"
    assert all(s.endswith(".jobs") for s in domains), sorted(domains)
