"""Build step for the optional C accelerators (everything else is in pyproject.toml).

``optional=True``: without a compiler the package still installs and runs on the pure-Python
code (see docs/architecture.md): ``_speedups`` is the read path, ``analysis._estimate`` the
memory estimator and its row rendering (docs/memory.md, Speed).
"""

from setuptools import Extension, setup

# rdbtools/rdb/_walkers.h (the blob walkers both extensions share) is listed so that a change to
# it rebuilds both; MANIFEST.in puts it in the sdist.
WALKERS = ["rdbtools/rdb/_walkers.h"]

setup(ext_modules=[Extension("rdbtools.rdb._speedups", ["rdbtools/rdb/_speedups.c"], depends=WALKERS,
                             optional=True),
                   Extension("rdbtools.analysis._estimate", ["rdbtools/analysis/_estimate.c"],
                             depends=WALKERS, optional=True)])
