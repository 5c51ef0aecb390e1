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


def _copy(variant: str, dest: Path) -> Path:
    from aof_servers import aof_of, writable_copy

    return writable_copy(aof_of(CORPUS / variant), dest)


def test_rewrite_json_report(tmp_path):
    aof = _copy("redis-7.0.15/aof/aof-preamble", tmp_path / "appendonlydir")
    res = CliRunner().invoke(aoftool, ["rewrite", str(aof), "-f", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["base"] == "rdb" and report["target"] == "redis-7.0"
    assert report["size_after"] < report["size_before"] and report["seconds"] >= 0
    assert report["written"] == ["appendonly.aof.3.base.rdb", "appendonly.aof.3.incr.aof"]
    res = CliRunner().invoke(aoftool, ["rewrite", str(aof)], catch_exceptions=False)
    assert res.exit_code == 0 and "size after" in res.output
    res = CliRunner().invoke(aoftool, ["rewrite", str(aof), "-o", str(aof)])
    assert res.exit_code == 2 and "not an empty directory" in res.output


def test_check_and_fix_exit_status(tmp_path):
    aof = _copy("redis-8.2.3/aof/aof-preamble", tmp_path / "appendonlydir")
    assert CliRunner().invoke(aoftool, ["check", str(aof)]).exit_code == 0
    incr = aof / "appendonly.aof.2.incr.aof"
    incr.write_bytes(incr.read_bytes()[:-5])
    res = CliRunner().invoke(aoftool, ["check", str(aof), "-f", "json"])
    assert res.exit_code == 1 and json.loads(res.output)["files"][1]["truncated"]
    res = CliRunner().invoke(aoftool, ["check", str(aof), "--fix", "-f", "json"])
    assert res.exit_code == 0 and json.loads(res.output)["backup"].endswith(".incr.aof.bak")
    base = aof / "appendonly.aof.2.base.rdb"
    base.write_bytes(base.read_bytes()[:-20])
    res = CliRunner().invoke(aoftool, ["check", str(aof), "--fix"])
    assert res.exit_code == 1 and "refused" in res.output and "not the last file" in res.output


def test_cut_and_convert(tmp_path):
    src = str(CORPUS / "redis-8.2.3/aof/aof-timestamp")
    res = CliRunner().invoke(aoftool, ["cut", src, "--to-offset", "60000", "-o",
                                       str(tmp_path / "cut.jsonl"), "-f", "json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["format"] == "jsonl"
    res = CliRunner().invoke(aoftool, ["cut", src, "-o", str(tmp_path / "x")])
    assert res.exit_code == 2
    res = CliRunner().invoke(aoftool, ["convert", src, str(tmp_path / "out.rdb"), "--key", "str:*"],
                             catch_exceptions=False)
    assert res.exit_code == 0 and "for redis-8.2 (REDIS0012)" in res.output
    from rdbtools import open_rdb

    with open_rdb(tmp_path / "out.rdb") as rdb:
        assert all(e.key.startswith(b"str:") for e in rdb.iter_entries())


def test_rdbtool_convert_reads_an_aof(tmp_path):
    from test_docs import rdbtool

    src = CORPUS / "valkey-9.1.2/aof/aof-preamble/appendonlydir"
    for name in ("keys.jsonl", "dump.rdb"):
        res = CliRunner().invoke(rdbtool, ["convert", str(src), str(tmp_path / name)],
                                 catch_exceptions=False)
        assert res.exit_code == 0, res.output
    assert len((tmp_path / "keys.jsonl").read_text().splitlines()) == 64
    assert (tmp_path / "dump.rdb").read_bytes()[:9] == b"VALKEY080"
