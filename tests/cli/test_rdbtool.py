"""The ``rdbtool`` command line, through click's CliRunner."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdbtools.output.commands import encode_resp
from rdbtools.output.dump import iter_dump
from rdbtools_cli.rdbtool import rdbtool

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
REDIS_74 = CORPUS / "redis-7.4.1" / "rdb" / "dump.rdb"
needs_corpus = pytest.mark.skipif(not REDIS_74.exists(), reason="shared corpus ../shared/corpus not present")

# FORMATS.md §5: a complete RDB 11 file holding db 0, foo = bar
MINIMAL = bytes.fromhex("524544495330303131 FE00 FB0100 00 03666F6F 03626172 FF 8D86B94C676EAB95")
BAD_CRC = MINIMAL[:-1] + b"\x00"
TRUNCATED = MINIMAL[:20]


def run(*args, input=None):
    return CliRunner().invoke(rdbtool, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def minimal(tmp_path):
    path = tmp_path / "min.rdb"
    path.write_bytes(MINIMAL)
    return path


@pytest.fixture
def damaged(tmp_path):
    path = tmp_path / "bad.rdb"
    path.write_bytes(TRUNCATED)
    return path


# --- help and usage ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(rdbtool.commands))
def test_every_command_has_help_with_example(name):
    result = run(name, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output and f"rdbtool {name}" in result.output
    assert rdbtool.commands[name].help


def test_group_help_and_version():
    assert run("--help").exit_code == 0
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("rdbtool ")


@pytest.mark.parametrize(
    "args",
    [
        ["dump"],
        ["dump", "does-not-exist.rdb"],
        ["nosuchcommand"],
        ["info", "{minimal}", "--format", "xml"],
        ["dump", "{minimal}", "--type", "json"],
        ["dump", "{minimal}", "--key-regex", "("],
        ["dump", "{minimal}", "--db", "-1"],
    ],
)
def test_usage_errors_exit_2(args, minimal):
    result = run(*[a.replace("{minimal}", str(minimal)) for a in args])
    assert result.exit_code == 2


# --- dump ----------------------------------------------------------------------------------


def test_dump_jsonl(minimal):
    result = run("dump", minimal)
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "db": 0, "key": "foo", "type": "string", "expire_at_ms": None, "rdb_type": 0, "value": "bar",
    }  # fmt: skip


def test_dump_formats(minimal):
    assert json.loads(run("dump", minimal, "-f", "json").output)[0]["key"] == "foo"
    assert run("dump", minimal, "-f", "text").output == "db=0 string foo bar\n"
    assert run("dump", minimal, "-f", "resp").stdout_bytes == encode_resp([b"SELECT", b"0"]) + encode_resp(
        [b"SET", b"foo", b"bar"]
    )


def test_dump_stdin_and_gzip(minimal):
    assert json.loads(run("dump", "-", input=MINIMAL).output)["value"] == "bar"
    assert json.loads(run("dump", "-", input=gzip.compress(MINIMAL)).output)["value"] == "bar"


def test_dump_filters(minimal):
    assert run("dump", minimal, "--key", "f*").output.count("\n") == 1
    assert run("dump", minimal, "--key", "g*").output == ""
    assert run("dump", minimal, "--type", "hash").output == ""
    assert run("dump", minimal, "--db", "1").output == ""
    assert run("dump", minimal, "--expiring").output == ""
    assert run("dump", minimal, "--persistent").output.count("\n") == 1
    assert run("dump", minimal, "--not-key-regex", "^fo").output == ""


def test_dump_output_file_is_atomic(minimal, damaged, tmp_path):
    out = tmp_path / "out.jsonl"
    assert run("dump", minimal, "-o", out).exit_code == 0
    assert json.loads(out.read_text())["key"] == "foo"
    # a failing dump leaves the previous file untouched and no temporary file behind
    result = CliRunner().invoke(rdbtool, ["dump", str(damaged), "-o", str(out)])
    assert result.exit_code == 1
    assert json.loads(out.read_text())["key"] == "foo"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.rdb", "min.rdb", "out.jsonl"]


def test_bad_input_exits_1_with_one_line(damaged, tmp_path):
    result = CliRunner().invoke(rdbtool, ["dump", str(damaged)])
    assert result.exit_code == 1
    assert "offset 19" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    notrdb = tmp_path / "x.rdb"
    notrdb.write_bytes(b"hello world")
    result = CliRunner().invoke(rdbtool, ["info", str(notrdb)])
    assert result.exit_code == 1 and "not an RDB file" in result.stderr


def test_traceback_option(damaged):
    result = CliRunner().invoke(rdbtool, ["--traceback", "dump", str(damaged)])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "offset 19" in result.stderr


# --- info ----------------------------------------------------------------------------------


def test_info_table_and_json(minimal):
    result = run("info", minimal)
    assert result.exit_code == 0 and "REDIS RDB version 11" in result.output
    data = json.loads(run("info", minimal, "-f", "json").output)
    assert data["keys"] == 1 and data["version"] == 11 and data["checksum"] == "ok"
    assert data["dbs"] == {"0": {"keys": 1, "expires": 0, "resize_keys": 1, "resize_expires": 0}}
    assert data["rdb_types"] == [{"code": 0, "name": "STRING", "keys": 1}]
    assert json.loads(run("info", "-", "-f", "json", input=MINIMAL).output)["keys"] == 1


# --- check ---------------------------------------------------------------------------------


def test_check(minimal, damaged, tmp_path):
    result = run("check", minimal)
    assert result.exit_code == 0 and "ok" in result.output
    result = CliRunner().invoke(rdbtool, ["check", str(damaged)])
    assert result.exit_code == 1 and "offset 19" in result.stderr
    bad_crc = tmp_path / "crc.rdb"
    bad_crc.write_bytes(BAD_CRC)
    result = CliRunner().invoke(rdbtool, ["check", str(bad_crc), "-f", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["offset"] == 24 and "CRC64" in data["error"] and data["keys"] == 1
    data = json.loads(run("check", "-", "-f", "json", input=MINIMAL).output)
    assert data["ok"] and data["checksum"] == "ok"


# --- the shared corpus -------------------------------------------------------------------------


@needs_corpus
def test_corpus_dump_round_trips_through_jsonl():
    from rdbtools import open_rdb

    result = run("dump", REDIS_74)
    assert result.exit_code == 0
    back = list(iter_dump(io.BytesIO(result.stdout_bytes)))
    with open_rdb(REDIS_74) as rdb:
        assert [(e.db, e.key) for e in back] == [(e.db, e.key) for e in rdb.iter_entries()]


@needs_corpus
def test_corpus_filters():
    out = run("dump", REDIS_74, "--db", "15", "--type", "zset").stdout_bytes
    keys = [e.key for e in iter_dump(io.BytesIO(out))]
    assert keys == [b"db15:zset"]
    out = run("dump", REDIS_74, "--expiring").stdout_bytes
    assert all(e.expire_at_ms is not None for e in iter_dump(io.BytesIO(out)))


@needs_corpus
def test_corpus_info_matches_ground_truth():
    truth = json.loads(REDIS_74.with_suffix(".json").read_text())
    data = json.loads(run("info", REDIS_74, "-f", "json").output)
    assert data["version"] == 12 and data["magic"] == "REDIS" and data["checksum"] == "ok"
    for db, counts in truth["info_keyspace"].items():
        ours = data["dbs"][db[2:]]
        assert (ours["keys"], ours["expires"]) == (int(counts["keys"]), int(counts["expires"]))
    assert sorted(data["functions"]) == ["corpuslib", "corpuslib2"]


@needs_corpus
@pytest.mark.parametrize("server", sorted(p.name for p in CORPUS.iterdir() if (p / "rdb" / "dump.rdb").exists())
                         if CORPUS.is_dir() else [])  # fmt: skip
def test_corpus_check_every_server(server):
    for fmt in ("jsonl", "resp"):
        assert run("dump", CORPUS / server / "rdb" / "dump.rdb", "-f", fmt).exit_code == 0
    result = run("check", CORPUS / server / "rdb" / "dump.rdb", "-f", "json")
    assert result.exit_code == 0 and json.loads(result.output)["ok"]


def test_progress_bar_follows_bytes_read(monkeypatch):
    import rdbtools_cli.render as render
    from rich.console import Console

    monkeypatch.setattr(render, "err_console", Console(file=io.StringIO(), force_terminal=True, width=80))

    class FakeReader:
        name, total_size, bytes_read = "big.rdb", 1000, 0

    reader = FakeReader()

    def records():
        for i in range(1000):
            reader.bytes_read = i + 1
            yield i

    assert list(render.progress_records(reader, records())) == list(range(1000))  # 1000 B: no bar
    assert render.err_console.file.getvalue() == ""
    reader.bytes_read = 0
    assert list(render.progress_records(reader, records(), force=True)) == list(range(1000))
    assert "1.0/1.0 kB" in render.err_console.file.getvalue()
