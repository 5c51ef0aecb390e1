# rdbtools: tests/test_servers_harness.py
"""The real-server harness itself: each available server starts, answers, saves, and stops."""

from __future__ import annotations

import os

import pytest

from servers import SERVER_SPECS, RedisServer, ServerStartError, run_check_rdb, spec_by_name


def test_spec_names_are_unique_and_versions_consistent():
    names = [spec.name for spec in SERVER_SPECS]
    assert len(names) == len(set(names))
    for spec in SERVER_SPECS:
        assert spec.name == f"{'valkey' if spec.is_valkey else 'redis'}-{spec.version_text}"
        assert len(spec.rdb_magic) == 9
    assert spec_by_name("valkey-9.1.2").rdb_version == 80
    assert spec_by_name("redis-6.2.5").rdb_version == 9


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


def test_server_loads_its_fixture(server_spec, fixtures_dir, tmp_path):
    """fixtures/<server>/dump.rdb loads back into the server that wrote it, with the same keys."""
    import json

    folder = fixtures_dir / server_spec.name
    if not (folder / "dump.rdb").is_file():
        pytest.skip(f"no fixture for {server_spec.name} (run python fixtures/generate.py)")
    truth = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    assert (folder / "dump.rdb").read_bytes()[:9] == server_spec.rdb_magic
    with RedisServer(server_spec, load_rdb=folder / "dump.rdb", workdir=tmp_path / "s") as srv:
        for db, records in truth["dbs"].items():
            srv.execute("SELECT", db)
            assert srv.execute("DBSIZE") == len(records)
            for rec in records:
                if isinstance(rec["key"], str):
                    assert srv.execute("TYPE", rec["key"]).decode() == rec["type"]
