"""The structure holds: no import cycles, no private names across modules, every module's
public API in ``__all__`` (the import-linter contracts and ruff run in the slow tier,
tests/integration/test_packaging.py)."""

import ast
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "synthgen"


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _modules() -> dict[str, ast.Module]:
    trees = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        trees[name] = ast.parse(path.read_text(), filename=str(path))
    return trees


def test_no_import_cycles_between_modules():
    import grimp
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    graph = grimp.build_graph("synthgen")
    modules = sorted(graph.modules)
    position = {module: i for i, module in enumerate(modules)}
    edges = [(position[a], position[b]) for a in modules for b in graph.find_modules_directly_imported_by(a)
             if b in position]
    rows, columns = zip(*edges)
    matrix = csr_matrix((np.ones(len(edges)), (rows, columns)), shape=(len(modules), len(modules)))
    _, component = connected_components(matrix, directed=True, connection="strong")
    cycles = [[m for m, c in zip(modules, component) if c == label] for label, size in Counter(component).items()
              if size > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_imports_another_modules_private_names():
    offending = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("synthgen"):
                offending += [f"{name}: from {node.module} import {alias.name}" for alias in node.names
                              if alias.name.startswith("_") and alias.name != "__version__"]
    assert not offending, offending


def test_every_module_lists_its_public_api():
    missing, undefined = [], []
    for name, tree in _modules().items():
        defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        public = [n for n in defined if not n.startswith("_")]
        exported = next((node.value for node in tree.body if isinstance(node, ast.Assign)
                         and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)), None)
        if exported is None:
            if public:
                missing.append(name)
            continue
        names = set(ast.literal_eval(exported))
        undefined += [f"{name}.{n}" for n in public if n not in names]
    assert not missing, f"modules without __all__: {missing}"
    assert not undefined, f"public functions and classes missing from __all__: {undefined}"
