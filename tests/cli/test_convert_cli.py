"""``rdbtool convert``: formats, targets, filters, losses on stderr, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdbtools import open_rdb
from rdbtools_cli.rdbtool import rdbtool

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
MINIMAL = bytes.fromhex("524544495330303131 FE00 FB0100 00 03666F6F 03626172 FF 8D86B94C676EAB95")
HFE = CORPUS / "redis-7.4.1" / "rdb" / "dump.rdb"


def run(*args, input=None):
    return CliRunner().invoke(rdbtool, [str(a) for a in args], input=input, catch_exceptions=False)


def test_help_has_an_example():
    result = run("convert", "--help")
    assert result.exit_code == 0 and "Example:" in result.output and "--target" in result.output


def test_rdb_to_each_target_and_back(tmp_path):
    src = tmp_path / "in.rdb"
    src.write_bytes(MINIMAL)
    for target, magic in (("redis-6.2", b"REDIS0009"), ("valkey-9.1", b"VALKEY080")):
        out = tmp_path / f"{target}.rdb"
        result = run("convert", src, out, "--target", target)
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:9] == magic
        with open_rdb(out) as rdb:
            assert [(e.key, e.value) for e in rdb.iter_entries()] == [(b"foo", b"bar")]


def test_jsonl_round_trip_through_stdin_and_stdout(tmp_path):
    src = tmp_path / "in.rdb"
    src.write_bytes(MINIMAL)
    jsonl = run("convert", src, "-", "--to", "jsonl").stdout_bytes
    assert json.loads(jsonl)["key"] == "foo"
    rdb = run("convert", "-", "-", "--target", "redis-7.0", input=jsonl).stdout_bytes
    assert rdb[:9] == b"REDIS0010"
    resp = run("convert", "-", "-", "--to", "resp", input=rdb).stdout_bytes
    assert b"SET\r\n$3\r\nfoo" in resp


def test_usage_errors_exit_2(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"db":0,"key":"k","type":"string","expire_at_ms":null,"value":"v"}\n')
    assert run("convert", src, tmp_path / "out.rdb").exit_code == 2  # a dump needs a target
    assert run("convert", src, tmp_path / "o.rdb", "-t", "redis-5.0").exit_code == 2
    assert run("convert", src, tmp_path / "o.rdb", "-t", "redis-7.0",
               "--config", "bogus=1").exit_code == 2


@pytest.mark.skipif(not HFE.exists(), reason="corpus absent")
def test_losses_reported_and_strict_exits_1(tmp_path):
    out = tmp_path / "old.rdb"
    result = run("convert", HFE, out, "-t", "redis-7.0", "--type", "hash")
    assert result.exit_code == 0
    assert "field TTLs" in result.stderr and "hash:hfe_big" in result.stderr
    with open_rdb(out) as rdb:
        assert {e.type for e in rdb.iter_entries()} == {"hash"}
    strict = run("convert", HFE, tmp_path / "strict.rdb", "-t", "redis-7.0", "--strict")
    assert strict.exit_code == 1 and "cannot hold" in strict.stderr
    assert not (tmp_path / "strict.rdb").exists()
