"""The import paths of modules that moved when the package was laid out by layer.

docs/library.md promised ``rdbtools.writer``, ``rdbtools.dump``, ``rdbtools.convert`` ... before
those modules moved into their layer's subpackage.  Code written against those paths keeps
working: importing an old name gives the very module object of the new one (not a copy), so
``rdbtools.writer is rdbtools.rdb.writer``.  Only the paths the documentation promised are kept.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

#: old import path -> the module's place in the layered tree
MOVED = {
    "rdbtools.commands": "rdbtools.output.commands",
    "rdbtools.convert": "rdbtools.ops.convert",
    "rdbtools.dump": "rdbtools.output.dump",
    "rdbtools.filters": "rdbtools.rdb.filters",
    "rdbtools.info": "rdbtools.analysis.info",
    "rdbtools.shards": "rdbtools.ops.shards",
    "rdbtools.targets": "rdbtools.rdb.targets",
    "rdbtools.writer": "rdbtools.rdb.writer",
    "rdbtools.aof.cut": "rdbtools.ops.cut",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the module at its new place."""

    def __init__(self) -> None:
        self._specs: dict[str, object] = {}

    def find_spec(self, fullname, path, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec) -> ModuleType:
        module = importlib.import_module(MOVED[spec.name])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system stamped the old name's spec on the shared module: give it back its own
        module.__spec__ = self._specs.pop(module.__spec__.name)


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
