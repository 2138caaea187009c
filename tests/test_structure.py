"""The shape of the code, read from the tree by static analysis (``ast``; nothing is imported).

* no import cycle among the modules of ``lca``.  Imports inside functions count as edges too: a
  lazy import only postpones the cycle to the first call, and a module that needs another at run
  time depends on it as much as one that imports it at the top (``compare`` and ``compare_viz``
  importing each other was such a cycle);
* ``lca`` never imports streamlit or the app (``app_state``, ``lca_app``, ``pages``);
* no file imports a private Streamlit module (``streamlit.runtime...``, ``PagesManager``): only
  ``streamlit`` itself and its documented sub-packages;
* every file of the app and of ``lca`` stays readable in one sitting (at most 350 lines).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lca"
APP_PARTS = ("app.py", "lca", "lca_app", "pages")
MAX_LINES = 350
# Streamlit's documented import paths; anything else under streamlit is its private machinery.
PUBLIC_STREAMLIT = {"streamlit", "streamlit.testing.v1", "streamlit.components.v1", "streamlit.column_config"}
PRIVATE_NAMES = {"PagesManager"}


def _files(*parts: str) -> list[Path]:
    found = []
    for part in parts:
        path = ROOT / part
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    return found


def _module_name(path: Path) -> str:
    rel = (path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """``(absolute module, imported names, line)`` of every import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if package else []
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((module, tuple(alias.name for alias in node.names), node.lineno))
    return out


def _lca_graph() -> dict[str, set[str]]:
    """Module → the ``lca`` modules it imports (``from . import x`` of a submodule counts as ``lca.x``)."""
    modules = {_module_name(p): p for p in _files("lca")}
    graph = {}
    for name, path in modules.items():
        edges = set()
        for module, names, _ in _imports(path):
            if module == "lca":  # from lca import x / from . import x: a submodule, or the package itself
                edges |= {f"lca.{n}" if f"lca.{n}" in modules else "lca" for n in names} if names else {"lca"}
            elif module in modules:
                edges.add(module)
        edges.discard(name)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]] and _cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve_to_lca_modules():
    graph = _lca_graph()
    assert "lca.report.compare" in graph["lca.report.compare_viz"]  # figures import the data, never the reverse
    assert "lca.report.compare_viz" not in graph["lca.report.compare"]


def test_no_import_cycle_among_lca_modules():
    cycles = _cycles(_lca_graph())
    assert not cycles, f"import cycles among lca modules (function-level imports count): {cycles}"


def test_lca_never_imports_streamlit_or_the_app():
    forbidden = ("streamlit", "app_state", "lca_app", "pages", "app")
    bad = [f"{path.relative_to(ROOT)}:{line} imports {module}"
           for path in _files("lca") for module, _, line in _imports(path)
           if module.split(".")[0] in forbidden]
    assert not bad, "lca must stay free of the app:\n" + "\n".join(bad)


def _private_streamlit(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    aliases = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names if alias.name == "streamlit"}
    bad = [f"imports {module}" for module, names, _ in _imports(path)
           if module.split(".")[0] == "streamlit" and module not in PUBLIC_STREAMLIT]
    bad += [f"imports {module}.{n}" for module, names, _ in _imports(path) if module.split(".")[0] == "streamlit"
            for n in names if n.startswith("_") or n in PRIVATE_NAMES]
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in PRIVATE_NAMES:
            bad.append(f"line {node.lineno} uses {node.id}")
        elif isinstance(node, ast.Attribute) and (node.attr in PRIVATE_NAMES or (
                node.attr == "runtime" and isinstance(node.value, ast.Name) and node.value.id in aliases)):
            bad.append(f"line {node.lineno} uses .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                node.value in PRIVATE_NAMES or node.value.startswith("streamlit.runtime")):
            bad.append(f"line {node.lineno} names {node.value!r}")
    return bad


def test_the_private_streamlit_check_catches_the_usual_ways_in(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from streamlit.runtime.pages_manager import PagesManager\nimport streamlit as st\n"
                      "st.runtime.exists()\nsetattr(object, 'PagesManager', None)\n")
    assert len(_private_streamlit(sample)) >= 4
    sample.write_text("import streamlit as st\nfrom streamlit.testing.v1 import AppTest\nst.write(1)\n")
    assert _private_streamlit(sample) == []


@pytest.mark.parametrize("part", ["app.py", "lca", "lca_app", "pages", "tests", "bench"])
def test_no_private_streamlit_module_is_imported(part):
    bad = [f"{path.relative_to(ROOT)}: {what}" for path in _files(part) if path != Path(__file__).resolve()
           for what in _private_streamlit(path)]
    assert not bad, "only Streamlit's public API may be used:\n" + "\n".join(bad)


def test_every_module_of_the_app_and_of_lca_is_at_most_350_lines():
    long = {str(p.relative_to(ROOT)): n for p in _files(*APP_PARTS)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines (split them by responsibility): {long}"
