"""Build step for the optional C accelerator (everything else is in pyproject.toml).

``optional=True``: without a compiler the package still installs and runs on the pure-Python
read path (see docs/architecture.md).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("rdbtools._speedups", ["rdbtools/_speedups.c"],
                             optional=True)])
