# rdbtools: tests/conftest.py
"""Shared fixtures: paths (repo fixtures/, the shared corpus), real servers, hypothesis profiles."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so `import servers` works in any layout

from servers import SERVER_SPECS, RedisServer, ServerSpec, probe_server  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = REPO_ROOT / "fixtures"
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"

# -- hypothesis ---------------------------------------------------------------------------------

settings.register_profile("default", max_examples=100)
# CI machines are shared and slow to start: no per-example deadline, show the reproducer blob.
settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "default"))


# -- paths --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The repo's own generated fixtures (fixtures/<server>/dump.rdb + expected.json)."""
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared read-only corpus at ../shared/corpus (see its README.md)."""
    if not (CORPUS_DIR / "README.md").is_file():
        pytest.skip(f"shared corpus not found at {CORPUS_DIR} (expected ../shared/corpus beside the repo)")
    return CORPUS_DIR


# -- real servers -------------------------------------------------------------------------------

@pytest.fixture(scope="session", params=SERVER_SPECS, ids=[spec.name for spec in SERVER_SPECS])
def server_spec(request) -> ServerSpec:
    """Each known server in turn; skipped (with the reason) where it is missing or will not start."""
    spec: ServerSpec = request.param
    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    return spec


@pytest.fixture
def redis_server(server_spec, tmp_path):
    """A fresh running server of ``server_spec`` in ``tmp_path/server``, stopped after the test."""
    with RedisServer(server_spec, workdir=tmp_path / "server") as srv:
        yield srv


def pytest_collection_modifyitems(config, items):
    # Any test that runs against a real server carries the `server` marker, so `-m "not server"` works.
    for item in items:
        if "server_spec" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)
