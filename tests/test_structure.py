"""The shape of the code, read from the tree by static analysis (``ast``; nothing is imported).

* no import cycle among the modules of ``lca``.  Imports inside functions count as edges too: a
  lazy import only postpones the cycle to the first call, and a module that needs another at run
  time depends on it as much as one that imports it at the top (``compare`` and ``compare_viz``
  importing each other was such a cycle);
* the layers of ``lca`` (:data:`LAYERS`, lowest first) import only downwards: a module of a
  subpackage imports nothing of a subpackage above its own (lazy imports count, as for cycles), a
  base module (``lca/_validation.py``, ``lca/neurons.py``, ...) no subpackage at all; only
  ``lca/__init__.py`` and ``lca/__main__.py``, the public surface, import anything.  Each subpackage's
  docstring names the layer below it, and ``lca/`` keeps at most :data:`MAX_TOP_MODULES` modules at its top;
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
# The layers of lca, lowest first: each subpackage may import those before it, never one after it.
LAYERS = ("store", "data", "models", "method", "runs", "report", "causal", "scale", "cli")
SURFACE = {"lca", "lca.__main__"}  # the public surface: may import every layer
MAX_TOP_MODULES = 10
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


def _module_name(path: Path, root: Path = ROOT) -> str:
    rel = (path.relative_to(root) if path.is_relative_to(root) else Path(path.name)).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path, root: Path = ROOT) -> list[tuple[str, tuple[str, ...], int]]:
    """``(absolute module, imported names, line)`` of every import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = _module_name(path, root) if path.name == "__init__.py" else _module_name(path, root).rpartition(".")[0]
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


def _lca_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the ``lca`` modules it imports.  ``from P import x`` of a package ``P`` counts as an
    import of its submodule ``P.x`` where there is one (``from .report import explore, viz``), else of ``P``."""
    modules = {_module_name(p, root): p for p in sorted((root / "lca").rglob("*.py")) if "__pycache__" not in p.parts}
    graph = {}
    for name, path in modules.items():
        edges = set()
        for module, names, _ in _imports(path, root):
            if module not in modules:
                continue
            edges |= {f"{module}.{n}" if f"{module}.{n}" in modules else module for n in names} or {module}
        edges.discard(name)
        graph[name] = edges
    return graph


def _layer(module: str) -> int | None:
    """Index in :data:`LAYERS` of the subpackage holding ``module``; None for a top-level module of ``lca``."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def _upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import against :data:`LAYERS`: a subpackage's module importing one of a higher layer (or the
    package ``lca`` itself), a base module importing any subpackage."""
    bad = []
    for module, edges in sorted(graph.items()):
        if module in SURFACE:
            continue
        own = _layer(module)
        for target in sorted(edges):
            layer = _layer(target)
            if target in SURFACE or (layer is not None and (own is None or layer > own)):
                where = "a base module" if own is None else f"layer {LAYERS[own]!r}"
                bad.append(f"{module} ({where}) imports {target}"
                           + ("" if layer is None else f" (layer {LAYERS[layer]!r})"))
    return bad


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


def test_the_layer_check_finds_a_planted_upward_import(tmp_path):
    graph = {"lca.store.cache": {"lca._validation"}, "lca.runs.pipeline": {"lca.store.cache", "lca.method.probe"},
             "lca.method.probe": {"lca.runs.result"}, "lca.neurons": {"lca.data.corpus"}, "lca": {"lca.cli.main"}}
    assert _upward(graph) == ["lca.method.probe (layer 'method') imports lca.runs.result (layer 'runs')",
                              "lca.neurons (a base module) imports lca.data.corpus (layer 'data')"]
    # The same on files: a lazy relative import of a package's submodule, deep in a function.
    for rel, text in {"lca/__init__.py": "from .runs import result\n", "lca/_validation.py": "",
                      "lca/store/__init__.py": "", "lca/runs/__init__.py": "", "lca/runs/result.py": "",
                      "lca/store/cache.py": "from .._validation import x\ndef f():\n    if 1:\n"
                                            "        from ..runs import result\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    tree = _lca_graph(tmp_path)
    assert tree["lca.store.cache"] == {"lca._validation", "lca.runs.result"} and tree["lca"] == {"lca.runs.result"}
    assert _upward(tree) == ["lca.store.cache (layer 'store') imports lca.runs.result (layer 'runs')"]


def test_lca_imports_only_down_its_layers():
    bad = _upward(_lca_graph())
    assert not bad, (f"imports against the layer order {' < '.join(LAYERS)} (function-level imports count; "
                     "move the shared code down a layer):\n" + "\n".join(bad))


def test_the_package_is_its_layers_and_a_few_base_modules():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert len(top) <= MAX_TOP_MODULES, f"lca/ has {len(top)} top-level modules (at most {MAX_TOP_MODULES}): {top}"
    assert folders == sorted(LAYERS), f"every subpackage of lca takes a place in LAYERS: {folders} vs {LAYERS}"


@pytest.mark.parametrize("layer", LAYERS)
def test_each_subpackage_docstring_says_what_it_may_import(layer):
    doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text(encoding="utf-8"))) or ""
    i = LAYERS.index(layer)
    below = "The lowest layer" if i == 0 else f"May import :mod:`lca.{LAYERS[i - 1]}`"
    assert below in doc, f"lca/{layer}/__init__.py's docstring should say {below!r} (LAYERS: {LAYERS})"
    if i == len(LAYERS) - 1:
        assert "nothing imports it" in doc


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
