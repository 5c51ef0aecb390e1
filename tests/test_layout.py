"""The package tree is the architecture (docs/architecture.md): a cheap guard, not a style police.

The import graph of ``rdbtools/`` (every ``import`` in every module, lazy ones inside functions
included) has no circles and no lower layer importing a higher one; ``cli/`` imports only the
public library (the modules and names docs/library.md lists); every source file says what it is
for; the packages ``pip install .`` installs are exactly the package folders; the old import
paths docs/library.md once promised still give the same modules.
"""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "rdbtools"

# docs/architecture.md, "Layers": what each layer may import besides itself
FOUNDATION = "foundation"  # rdbtools/errors.py, model.py, files.py
ALLOWED = {
    FOUNDATION: set(),
    "format": {FOUNDATION},
    "rdb": {FOUNDATION, "format"},
    "output": {FOUNDATION, "format", "rdb"},
    "aof": {FOUNDATION, "format", "rdb", "output"},
    "analysis": {FOUNDATION, "format", "rdb"},
    "ops": {FOUNDATION, "format", "rdb", "output", "aof", "analysis"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PKG.rglob("*.py")}
EXTENSIONS = {"rdbtools.rdb._speedups", "rdbtools.analysis._estimate"}  # setup.py


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """The rdbtools modules ``name`` imports (a ``from pkg import sub`` names the submodule)."""
    tree = ast.parse(MODULES[name].read_text())
    here = name if _is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for a in node.names:
                sub = f"{module}.{a.name}"
                if sub not in EXTENSIONS:
                    found.add(sub if sub in MODULES else module)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _layer(name: str) -> str | None:
    parts = name.split(".")
    if len(parts) == 1:
        return None  # rdbtools/__init__.py: the public API, may import anything
    if len(parts) == 2 and MODULES[name].parent == PKG:
        return None if name == "rdbtools._moved" else FOUNDATION
    return parts[1]


def test_every_module_has_a_layer():
    assert {_layer(n) for n in MODULES} - {None} == set(ALLOWED)


def test_no_import_circles():
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _layer(n)))
def test_no_lower_layer_imports_a_higher_one(name):
    layer = _layer(name)
    for dep in sorted(GRAPH[name]):
        other = _layer(dep)
        assert other is not None, f"{name} imports the package root {dep}"
        assert other == layer or other in ALLOWED[layer], (
            f"{name} ({layer}) imports {dep} ({other}); {layer} may import "
            f"{sorted(ALLOWED[layer])}")


def _public_api() -> dict[str, set[str]]:
    """The table of public modules in docs/library.md: module -> the names it lists."""
    text = (ROOT / "docs" / "library.md").read_text()
    section = text.split("## Public modules", 1)[1]
    rows = re.findall(r"^\| `(rdbtools[\w.]*)` \| [^|]* \| (.*?) \|$", section, re.M)
    assert rows, "docs/library.md has no table of public modules"
    return {module: set(re.findall(r"`(\w+)`", names)) for module, names in rows}


def test_public_module_table_matches_all():
    """Every public module's ``__all__`` is what docs/library.md lists for it."""
    for module, names in _public_api().items():
        mod = importlib.import_module(module)
        assert set(mod.__all__) == names, (
            f"{module}: __all__ and docs/library.md differ: only in __all__ "
            f"{sorted(set(mod.__all__) - names)}, only in the docs {sorted(names - set(mod.__all__))}")


def test_cli_imports_only_the_public_library():
    public = _public_api()
    for path in sorted((ROOT / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rdbtools"):
                assert node.module in public, f"cli/{path.name} imports the private {node.module}"
                for a in node.names:
                    assert a.name in public[node.module], (
                        f"cli/{path.name} imports {node.module}.{a.name}, which is not public")
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("rdbtools.") for a in node.names), path


SOURCES = sorted([*PKG.rglob("*.py"), *(ROOT / "cli").glob("*.py"), *PKG.rglob("*.c"),
                  *PKG.rglob("*.h")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_says_what_it_is_for(path):
    text = path.read_text()
    if path.suffix == ".py":
        doc = ast.get_docstring(ast.parse(text))
        if path.name == "__init__.py" and path.parent.name == "cli":
            return  # the CLI package marker: its modules say what they are
        assert doc and len(doc.split()) >= 8, f"{path} has no docstring saying what it is for"
    else:
        assert text.lstrip().startswith("/*"), f"{path} does not open with a comment"


def test_installed_packages_are_the_package_folders():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {_module_name(p.parent / "__init__.py") for p in PKG.rglob("__init__.py")}
    assert set(config["packages"]) == folders | {"rdbtools_cli"}


def test_moved_modules_keep_their_documented_paths():
    from rdbtools._moved import MOVED

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new)
        assert importlib.import_module(new).__spec__.name == new
