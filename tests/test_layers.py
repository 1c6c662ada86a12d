"""The layers stay layers: an import walk of the project's own modules.

Allowed imports: `micropim` -> anything; `handlers` -> `search`, `store`; `search` ->
`store`; `store` -> nothing above it. Within and across packages the module graph has
no cycle. Imports under `if TYPE_CHECKING:` are for annotations only and not counted;
imports inside functions are (they are still a dependency). See ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("handlers", "search", "store")
# What each layer may import, besides itself.
ALLOWED = {"micropim": {"handlers", "search", "store"}, "handlers": {"search", "store"},
           "search": {"store"}, "store": set()}


def _modules() -> dict[str, pathlib.Path]:
    found = {"micropim": ROOT / "micropim.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of the statements inside `if TYPE_CHECKING:` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                for inner in ast.walk(child):
                    if hasattr(inner, "lineno"):
                        lines.add(inner.lineno)
    return lines


def _resolve(target: str, modules: dict[str, pathlib.Path]) -> str | None:
    """The project module an import names (`store.products.read`), or None (a library)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_only(tree)
        edges: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from store.products import read` imports the module store.products.read.
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            for target in targets:
                found = _resolve(target, modules)
                if found is not None and found != name:
                    edges.add(found)
        graph[name] = edges
    return graph


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_no_module_imports_a_layer_above_its_own() -> None:
    forbidden = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items() for target in targets
        if _layer(target) != _layer(module) and _layer(target) not in ALLOWED[_layer(module)]
    )
    assert forbidden == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_walk_sees_the_project() -> None:
    """The walk must find real edges, or the two tests above prove nothing."""
    graph = import_graph()
    assert "store.db" in graph["store.orgs"]
    assert "store.products.read" in graph["store.products.query"]
    assert "search.pipeline" in graph["handlers.app"]
    # Annotations only: handlers.base names the application's type, not its module.
    assert "handlers.app" not in graph["handlers.base"]
    assert len(graph) > 40
