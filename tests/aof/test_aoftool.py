"""aoftool through click's CliRunner, on corpus AOFs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from test_docs import aoftool  # the cli/ -> rdbtools_cli mapping lives there

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not found")


def test_dump_matches_filters():
    res = CliRunner().invoke(aoftool, ["dump", str(CORPUS / "redis-8.2.3/aof/aof-timestamp"),
                                       "--key", "str:int*", "--db", "0"], catch_exceptions=False)
    assert res.exit_code == 0
    keys = sorted(json.loads(line)["key"] for line in res.output.splitlines())
    assert keys == ["str:int16", "str:int32", "str:int64", "str:int64max", "str:int8"]


def test_dump_unknown_module_command_fails_then_skips():
    path = str(CORPUS / "redis-7.4.1/with-modules/aof/aof-preamble")
    res = CliRunner().invoke(aoftool, ["dump", path])
    assert res.exit_code == 1 and "JSON.SET" in res.output
    res = CliRunner().invoke(aoftool, ["dump", path, "--skip-unknown", "-f", "json"])
    assert res.exit_code == 0 and "skipped 3 unknown command(s)" in res.output


def test_info_json():
    res = CliRunner().invoke(aoftool, ["info", str(CORPUS / "redis-7.2.4/aof/aof-preamble"),
                                       "-f", "json"], catch_exceptions=False)
    report = json.loads(res.output)
    assert report["layout"] == "multi-part" and report["server"] == "redis-7.2.4"
    assert [p["kind"] for p in report["parts"]] == ["base", "incr"]
    assert len(report["history"]) == 2 and report["truncation"] is None
    assert report["histogram"]["SET"] > 0
