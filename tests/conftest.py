# rdbtools: tests/conftest.py
"""Shared fixtures: paths (repo fixtures/, the shared corpus), real servers, hypothesis profiles;
skip accounting (docs/testing.md)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
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


# -- skip accounting ----------------------------------------------------------------------------
#
# With RDBTOOLS_EXPECTED_SKIPS naming a JSON file (.ci/run sets .ci/expected-skips.json), a skip
# that the file does not list fails the session, and so does a listed skip that did not happen: CI
# runs every test it can, and a missing server or an unbuilt extension cannot pass as a skip.  The
# file has one list per pass, "compiled" and "pure" (RDBTOOLS_PUREPYTHON=1), of entries
# {"reason": exact skip reason, "count": n} with an optional "nodeid" (a regular expression that
# the test id must match in full).  RDBTOOLS_WRITE_EXPECTED_SKIPS=FILE writes this run's skips as
# the current pass's list instead (the other pass's list is kept).
#
# Skips are counted from the test reports, which pytest-xdist replays in the controller; workers
# count nothing.

EXPECTED_SKIPS_ENV = "RDBTOOLS_EXPECTED_SKIPS"
WRITE_SKIPS_ENV = "RDBTOOLS_WRITE_EXPECTED_SKIPS"
_skips: list[tuple[str, str]] = []      # (nodeid, reason) in report order
_skip_problems: list[str] = []


def _skip_pass() -> str:
    from rdbtools.rdb._accel import PURE_REQUESTED

    return "pure" if PURE_REQUESTED else "compiled"


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_collectreport(report):
    """A module skipped as a whole (``pytest.skip(allow_module_level=True)``) counts too."""
    pytest_runtest_logreport(report)


def pytest_runtest_logreport(report):
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    # A skip's longrepr is (path, line, "Skipped: <reason>").
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    _skips.append((report.nodeid, reason.removeprefix("Skipped: ")))


def _compare_skips(expected: list[dict], skips: list[tuple[str, str]]) -> list[str]:
    """The differences between the expected and the observed skips, one readable line each."""
    unmatched = list(skips)
    problems = []
    for entry in expected:
        pattern = re.compile(entry["nodeid"]) if "nodeid" in entry else None
        hits = [i for i, (nodeid, reason) in enumerate(unmatched)
                if reason == entry["reason"] and (pattern is None or pattern.fullmatch(nodeid))]
        taken = set(hits[:entry["count"]])
        unmatched = [s for i, s in enumerate(unmatched) if i not in taken]
        if len(hits) < entry["count"]:
            where = f" (nodeid {entry['nodeid']})" if pattern is not None else ""
            problems.append(f"- expected {entry['count']}, got {len(hits)}: {entry['reason']}{where}")
    for nodeid, reason in unmatched:
        problems.append(f"+ unexpected skip: {nodeid}: {reason}")
    return problems


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    if _is_worker(session.config):
        return
    pass_name = _skip_pass()
    out = os.environ.get(WRITE_SKIPS_ENV)
    if out:
        path = Path(out)
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        counts = Counter(reason for _nodeid, reason in _skips)
        data[pass_name] = [{"reason": reason, "count": n} for reason, n in sorted(counts.items())]
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    spec = os.environ.get(EXPECTED_SKIPS_ENV)
    if not spec:
        return
    expected = json.loads(Path(spec).read_text(encoding="utf-8")).get(pass_name, [])
    _skip_problems.extend(_compare_skips(expected, _skips))
    if _skip_problems and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skip_problems:
        terminalreporter.section(f"skips differ from {os.environ[EXPECTED_SKIPS_ENV]} ({_skip_pass()} pass)",
                                 red=True)
        for line in _skip_problems:
            terminalreporter.line(line)
        terminalreporter.line(f"(an inherent new skip: regenerate with {WRITE_SKIPS_ENV}=FILE, see docs/testing.md)")
