"""Make the ``cli/`` folder importable as ``rdbtools_cli`` when the package is not installed."""

import importlib.util
import sys
from pathlib import Path

CLI_DIR = Path(__file__).resolve().parents[2] / "cli"

try:
    import rdbtools_cli  # noqa: F401  (installed: pip install -e .)
except ImportError:
    spec = importlib.util.spec_from_file_location(
        "rdbtools_cli", CLI_DIR / "__init__.py", submodule_search_locations=[str(CLI_DIR)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["rdbtools_cli"] = module
    spec.loader.exec_module(module)
