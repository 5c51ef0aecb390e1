# rdbtools: tests/test_servers_harness.py
"""The real-server harness itself: each available server starts, answers, saves, and stops."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from servers import (SERVER_CACHE_ENV, SERVER_SPECS, RedisServer, ServerStartError, probe_server, run_check_aof,
                     run_check_rdb, server_cache, spec_by_name)

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE_SERVERS = sorted(p.name for p in FIXTURES_DIR.iterdir() if (p / "dump.rdb").is_file())
# Servers with key metadata (KEY_META, Redis 8.6+) that scripts/install.sh builds with Redis's
# own test module test_keymeta.so beside them.
KEYMETA_SPECS = [spec for spec in SERVER_SPECS if spec.cached and spec.version >= (8, 6, 0)]


def test_spec_names_are_unique_and_versions_consistent():
    names = [spec.name for spec in SERVER_SPECS]
    assert len(names) == len(set(names))
    for spec in SERVER_SPECS:
        assert spec.name == f"{'valkey' if spec.is_valkey else 'redis'}-{spec.version_text}"
        assert len(spec.rdb_magic) == 9
    assert spec_by_name("valkey-9.1.2").rdb_version == 80
    assert spec_by_name("redis-6.2.5").rdb_version == 9
    assert spec_by_name("redis-8.6.2").rdb_version == 13
    assert spec_by_name("redis-8.10.2").rdb_version == 15


def test_cached_builds_are_found_in_the_server_cache(monkeypatch, tmp_path):
    cached = [spec for spec in SERVER_SPECS if spec.cached or spec.lib_dir]
    assert {spec.name for spec in cached} == {"redis-7.4.1", "redis-8.6.2", "redis-8.10.2"}
    monkeypatch.setenv(SERVER_CACHE_ENV, str(tmp_path / "empty-cache"))
    assert server_cache() == tmp_path / "empty-cache"
    for spec in cached:
        reason = spec.missing()
        assert reason is not None and "scripts/install.sh" in reason
        if spec.cached:
            assert spec.find_binary() is None
    monkeypatch.delenv(SERVER_CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert server_cache() == tmp_path / "xdg" / "rdbtools" / "servers"


def test_set_get_and_info(redis_server, server_spec):
    client = redis_server.client
    assert client.ping()
    client.set(b"bin\x00key", b"\x00\xffvalue")
    assert client.get(b"bin\x00key") == b"\x00\xffvalue"
    info = redis_server.info("server")
    if server_spec.is_valkey:
        assert info["valkey_version"] == server_spec.version_text
    else:
        assert info["redis_version"] == server_spec.version_text
    assert info["tcp_port"] == str(redis_server.port)


def test_save_writes_expected_header(redis_server, server_spec):
    redis_server.client.set(b"k", b"v")
    path = redis_server.save()
    assert path == redis_server.rdb_path and path.parent == redis_server.dir
    data = path.read_bytes()
    assert data[:9] == server_spec.rdb_magic
    assert data.endswith(b"\xff" + data[-8:])  # EOF opcode, then the 8-byte CRC64
    checked = run_check_rdb(server_spec, path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_aof_checker_accepts_the_servers_aof(server_spec, tmp_path):
    # Without the RDB preamble: valkey-check-aof 9.1.2 rejects its own server's preamble (it
    # expects the REDIS magic in the base RDB and finds VALKEY080; the corpus manifest notes it).
    config = {"appendonly": "yes", "appendfsync": "always", "aof-use-rdb-preamble": "no"}
    with RedisServer(server_spec, config=config, workdir=tmp_path / "s") as srv:
        srv.client.set(b"k", b"v")
        srv.client.rpush(b"list", b"a", b"b")
        # Redis 7.0 made the AOF a folder of parts named by a manifest; 6.x writes one file.
        aof = srv.dir / ("appendonlydir/appendonly.aof.manifest" if server_spec.version >= (7, 0, 0)
                         else "appendonly.aof")
        checked = run_check_aof(server_spec, aof)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "valid" in checked.stdout


@pytest.mark.parametrize("spec", KEYMETA_SPECS, ids=[spec.name for spec in KEYMETA_SPECS])
def test_key_metadata_module_saves_and_reloads(spec, tmp_path):
    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    module = spec.module_path("test_keymeta.so")
    assert module is not None, f"{spec.name}: test_keymeta.so missing from the server cache (run scripts/install.sh)"
    with RedisServer(spec, config={"loadmodule": module}, workdir=tmp_path / "s") as srv:
        # A class is meant to be registered in the module's OnLoad.  8.6.2 also allows it later
        # when the DEBUG command is enabled; 8.10.2 wants this switch too (as Redis's keymeta.tcl).
        if spec.version >= (8, 10, 0):
            srv.execute("DEBUG", "ENABLE-KEYMETA-RUNTIME-REGISTRATION", "1")
        class_id = srv.execute("KEYMETA.REGISTER", "KMT1", "1", "ALLOWIGNORE:RDBLOAD:RDBSAVE")
        assert isinstance(class_id, int)
        srv.client.set(b"k", b"v")
        assert srv.execute("KEYMETA.SET", "KMT1", "k", "meta1") == b"OK"
        path = srv.save()
        assert path.read_bytes()[:9] == spec.rdb_magic
        checked = run_check_rdb(spec, path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        srv.execute("DEBUG", "RELOAD")  # saves and loads again, with the class still registered
        assert srv.execute("KEYMETA.GET", "KMT1", "k") == b"meta1"
        assert srv.client.get(b"k") == b"v"


def test_config_set_and_extra_config(server_spec, tmp_path):
    with RedisServer(server_spec, config={"rdbcompression": "no"}, workdir=tmp_path / "s") as srv:
        assert srv.execute("CONFIG", "GET", "rdbcompression") == [b"rdbcompression", b"no"]
        srv.config_set("maxmemory-policy", "allkeys-lfu")
        assert srv.execute("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"allkeys-lfu"]


def test_loads_an_existing_rdb(server_spec, tmp_path):
    with RedisServer(server_spec, workdir=tmp_path / "a") as first:
        first.client.set(b"carried", b"over")
        rdb = first.save()
        copy = tmp_path / "copy.rdb"
        copy.write_bytes(rdb.read_bytes())
    with RedisServer(server_spec, load_rdb=copy, workdir=tmp_path / "b") as second:
        assert second.client.get(b"carried") == b"over"


def test_stops_process_on_exit(server_spec):
    with RedisServer(server_spec) as srv:
        pid, workdir = srv.pid, srv.dir
        assert os.path.isdir(workdir)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not workdir.exists()  # its own temp dir is removed


def test_stops_process_when_block_raises(server_spec):
    with pytest.raises(RuntimeError, match="boom"):
        with RedisServer(server_spec) as srv:
            pid = srv.pid
            raise RuntimeError("boom")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_start_failure_is_reported(server_spec, tmp_path):
    with pytest.raises(ServerStartError, match="did not start"):
        with RedisServer(server_spec, config={"no-such-option": "1"}, workdir=tmp_path / "bad"):
            pass


@pytest.mark.parametrize("name", FIXTURE_SERVERS)
def test_server_loads_its_fixture(name, tmp_path):
    """fixtures/<server>/dump.rdb loads back into the server that wrote it, with the same keys."""
    spec = spec_by_name(name)
    reason = probe_server(name)
    if reason is not None:
        pytest.skip(reason)
    folder = FIXTURES_DIR / name
    truth = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    assert (folder / "dump.rdb").read_bytes()[:9] == spec.rdb_magic
    with RedisServer(spec, load_rdb=folder / "dump.rdb", workdir=tmp_path / "s") as srv:
        for db, records in truth["dbs"].items():
            srv.execute("SELECT", db)
            assert srv.execute("DBSIZE") == len(records)
            for rec in records:
                if isinstance(rec["key"], str):
                    assert srv.execute("TYPE", rec["key"]).decode() == rec["type"]
