"""The architecture of DESIGN.md section 2, read from the source: three rings, imports that
point inward, no import cycles. Imports inside functions count like any other."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "chalicelib"

# The rules ring: plain Python, tested without AWS. A module named here may import only the
# standard library, pure third-party libraries and other modules of this ring.
RULES = frozenset({
    "chalicelib.clock", "chalicelib.durations", "chalicelib.problems", "chalicelib.retry",
    "chalicelib.vocabulary", "chalicelib.limits",
    "chalicelib.criteria", "chalicelib.criteria.deps", "chalicelib.criteria.evaluate",
    "chalicelib.criteria.fields", "chalicelib.criteria.operators", "chalicelib.criteria.subjects",
    "chalicelib.criteria.validate", "chalicelib.criteria.values",
    "chalicelib.scenarios.schema", "chalicelib.scenarios.compiler", "chalicelib.scenarios.diagram",
    "chalicelib.scenarios.errors", "chalicelib.scenarios.semantics", "chalicelib.scenarios.simulate",
    "chalicelib.scoring.rules", "chalicelib.activity.rank", "chalicelib.segments.timing",
    "chalicelib.channels.gate", "chalicelib.channels.templates", "chalicelib.channels.headers",
    "chalicelib.channels.sms_text", "chalicelib.channels.tracking", "chalicelib.channels.render",
    "chalicelib.channels.addresses", "chalicelib.scenarios.references",
    "chalicelib.imports.csv_parse", "chalicelib.contacts.fields", "chalicelib.events.validate",
    "chalicelib.reports.flow", "chalicelib.events.readers",
    "chalicelib.campaigns.definition", "chalicelib.campaigns.ab", "chalicelib.campaigns.moments",
})
# What the rules ring never imports: AWS, its SDKs and the embedded AWS.
IMPURE_LIBRARIES = frozenset({"boto3", "botocore", "pynamodb", "chalice", "moto"})
# The adapters ring: only other adapters (and app.py) may import these.
ADAPTERS = ("chalicelib.api", "chalicelib.local")


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)  # modules of chalicelib
    libraries: set[str] = field(default_factory=set)  # top-level names of everything else


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _graph() -> dict[str, Module]:
    paths = _modules()
    modules = {name: Module(name, path) for name, path in paths.items()}
    for module in modules.values():
        for node in ast.walk(ast.parse(module.path.read_text(), str(module.path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = module.name.split(".")
                    if module.path.name != "__init__.py":
                        parts = parts[:-1]
                    parts = parts[:len(parts) - node.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                # `from package import module` imports the module; `from module import name` the module
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base for alias in node.names]
            for target in targets:
                if target.split(".")[0] != PACKAGE:
                    module.libraries.add(target.split(".")[0])
                    continue
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target not in (module.name, PACKAGE):
                    module.imports.add(target)
    return modules


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_is_read_from_the_source():
    assert "chalicelib.criteria.validate" in GRAPH["chalicelib.scenarios.schema"].imports  # from package import module
    assert "chalicelib.local.outbox" in GRAPH["chalicelib.api.outbox"].imports  # imported inside a function
    assert "chalicelib.store.models" in GRAPH["chalicelib.contacts.service"].imports
    assert "pynamodb" in GRAPH["chalicelib.store.models"].libraries


def test_cycles_are_found_through_imports_inside_functions():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_chalicelib_has_no_import_cycle():
    cycles = _cycles({name: module.imports for name, module in GRAPH.items()})
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(cycle) for cycle in cycles)


def test_every_rules_module_exists():
    assert sorted(RULES - GRAPH.keys()) == []


@pytest.mark.parametrize("name", sorted(RULES))
def test_rules_import_only_rules(name):
    module = GRAPH[name]
    assert sorted(module.libraries & IMPURE_LIBRARIES) == [], f"{name} imports AWS code"
    assert sorted(module.imports - RULES) == [], f"{name} imports outside the rules ring"


def test_adapters_are_imported_only_by_adapters():
    inward = {name: sorted(target for target in module.imports if target.startswith(ADAPTERS))
              for name, module in GRAPH.items() if not name.startswith(ADAPTERS)}
    assert {name: targets for name, targets in inward.items() if targets} == {}


def test_moto_is_imported_only_by_the_local_stack():
    assert sorted(name for name, module in GRAPH.items()
                  if "moto" in module.libraries and not name.startswith("chalicelib.local")) == []


def _import_time_calls(tree: ast.Module, function: str) -> list[int]:
    """Lines where `function()` is called while the module is imported (outside any function)."""
    lines: list[int] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function:
            lines.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return lines


def test_settings_are_read_when_first_used_not_at_import():
    assert _import_time_calls(ast.parse("x = settings()\ndef f():\n    return settings()\n"), "settings") == [1]
    found = {name: lines for name, module in GRAPH.items()
             if (lines := _import_time_calls(ast.parse(module.path.read_text()), "settings"))}
    assert found == {}
