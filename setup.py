"""Build step for the optional C accelerators (everything else is in pyproject.toml).

``optional=True``: without a compiler the package still installs and runs on the pure-Python
code (see docs/architecture.md): ``_speedups`` is the read path, ``analysis._estimate`` the
memory estimator and its row rendering (docs/memory.md, Speed).

Each extension is several translation units, one per concern, in a ``csrc/`` folder next to the
Python code it mirrors (rdbtools/rdb/csrc/speedups.h and rdbtools/analysis/csrc/estimate.h list
them).  The blob walkers, rdbtools/rdb/csrc/walkers.c, are compiled into both, so that the
estimator accepts exactly what the reader accepts.  The sources are sorted, so the link order
does not depend on the file system; ``depends`` lists the headers, so that a change to one
rebuilds what includes it.  MANIFEST.in puts all of them in the sdist.

``include_package_data=False``: the C sources are the only non-Python files under rdbtools/, and a
wheel needs only the built modules.  (With it on, setuptools would install the csrc/ folders as
data and warn that they look like packages missing from ``packages``.)  A data file added to the
package later must be listed in ``package_data``.
"""

from glob import glob

from setuptools import Extension, setup

RDB = "rdbtools/rdb/csrc"
ANALYSIS = "rdbtools/analysis/csrc"
WALKERS = [f"{RDB}/walkers.c"]
WALKERS_H = [f"{RDB}/walkers.h"]

setup(ext_modules=[Extension("rdbtools.rdb._speedups", sorted(glob(f"{RDB}/*.c")),
                             depends=sorted(glob(f"{RDB}/*.h")), optional=True),
                   Extension("rdbtools.analysis._estimate", sorted(glob(f"{ANALYSIS}/*.c")) + WALKERS,
                             depends=sorted(glob(f"{ANALYSIS}/*.h")) + WALKERS_H, optional=True)],
      include_package_data=False)
