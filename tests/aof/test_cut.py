"""Point-in-time cuts (rdbtools.ops.cut) against real servers.

A server with ``aof-timestamp-enabled yes`` writes in rounds, one second apart; after each
round its dataset is saved (SAVE, read back).  Cutting the AOF at the round's timestamp must give
that dataset: as an AOF directory the real server loads, as an RDB file and as a JSONL dump.
The input is never modified.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from aof_servers import CORPUS, aof_of, load_in_server, skip_reason
from rdbtools import open_rdb
from rdbtools.aof import open_aof, read_aof
from rdbtools.ops.cut import cut_aof, cut_format
from rdbtools.aof.replay import replay
from rdbtools.output.dump import iter_dump
from servers import RedisServer, spec_by_name
from test_rewrite import _dataset

SERVERS = ["redis-7.0.15", "redis-8.2.3", "valkey-9.1.2"]


def _round(conn, n: int) -> None:
    pipe = conn.pipeline(transaction=False)
    for i in range(200):
        pipe.set(b"s:%d" % (i % 50), b"r%d-%d" % (n, i))
        pipe.rpush(b"l:%d" % (i % 5), b"%d" % i)
        pipe.hset(b"h", b"f%d" % (i % 30), b"%d" % n)
        pipe.zadd(b"z", {b"m%d" % (i % 40): n + i / 8})
    if n % 2:
        pipe.delete(b"l:1")
    pipe.execute()
    txn = conn.pipeline(transaction=True)  # MULTI ... EXEC in the AOF
    txn.incr(b"counter")
    txn.pexpireat(b"s:3", 4102444800000 + n)
    txn.execute()


def _next_second() -> None:
    time.sleep(math.floor(time.time()) + 1.05 - time.time())


@pytest.mark.server
@pytest.mark.parametrize("server", SERVERS)
def test_cut_at_timestamps_equals_server_state(server: str, tmp_path: Path):
    spec = spec_by_name(server)
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    config = {"appendonly": "yes", "aof-timestamp-enabled": "yes", "appendfsync": "always",
              "aof-use-rdb-preamble": "no"}
    states = []
    with RedisServer(spec, config, workdir=tmp_path / "gen") as srv:
        _round(srv.client, 0)
        srv.execute("BGREWRITEAOF")  # a RESP base starting with #TS:, then the incr file
        while srv.info("persistence").get("aof_rewrite_in_progress") != "0":
            time.sleep(0.02)
        _next_second()
        for n in range(1, 4):
            _round(srv.client, n)
            stamp = math.floor(time.time())
            with open_rdb(srv.save()) as rdb:
                states.append((stamp, _dataset(rdb.iter_entries())))
            _next_second()
        _round(srv.client, 9)  # after the last captured state
    source = tmp_path / "gen" / "appendonlydir"
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    for i, (stamp, state) in enumerate(states):
        out = tmp_path / f"cut{i}"
        result = cut_aof(source, out / "appendonlydir", to_timestamp=stamp)
        assert result.cut is not None
        loaded, _, _ = load_in_server(spec, out / "appendonlydir", tmp_path / f"srv{i}")
        assert _dataset(loaded) == state, stamp
        cut_aof(source, out / "state.rdb", to_timestamp=stamp)
        with open_rdb(out / "state.rdb") as rdb:
            assert _dataset(rdb.iter_entries()) == state
        result = cut_aof(source, out / "state.jsonl", to_timestamp=stamp)
        with open(out / "state.jsonl", "rb") as f:
            assert _dataset(iter_dump(f)) == state
        assert result.keys == len(state)
    assert {p.name: p.read_bytes() for p in source.iterdir()} == before
    with pytest.raises(ValueError, match="nothing is at or before"):
        cut_aof(source, tmp_path / "early.rdb", to_timestamp=states[0][0] - 100)


def test_cut_at_offsets_equals_replay_upto(tmp_path: Path):
    source = aof_of(CORPUS / "redis-7.0.15/aof/aof-multi-incr")
    with open_aof(source) as aof:
        total = aof.total_size
        base_size = aof.parts[0].size
    for i, offset in enumerate([base_size - 1, base_size + 5000, total // 2, total - 100, total]):
        with open_aof(source) as aof:
            expected = _dataset(replay(aof, upto_offset=offset).iter_entries())
        result = cut_aof(source, tmp_path / f"d{i}", to_offset=offset)
        assert _dataset(read_aof(tmp_path / f"d{i}")) == expected
        assert (result.cut is None) == (offset == total)
        cut_aof(source, tmp_path / f"d{i}.jsonl", to_offset=offset)
        with open(tmp_path / f"d{i}.jsonl", "rb") as f:
            assert _dataset(iter_dump(f)) == expected


def test_single_file_cut_and_forms(tmp_path: Path):
    source = aof_of(CORPUS / "redis-6.2.5/aof/aof-norewrite")
    size = source.stat().st_size
    result = cut_aof(source, tmp_path / "half.aof", to_offset=size // 2)
    assert (tmp_path / "half.aof").read_bytes() == source.read_bytes()[: result.cut[1]]
    assert cut_format("x.rdb") == "rdb" and cut_format("x.json") == "jsonl"
    assert cut_format("appendonlydir") == "aof" and cut_format("x", "resp") == "resp"
    with pytest.raises(ValueError, match="annotations"):
        cut_aof(source, tmp_path / "t.rdb", to_timestamp=1)
    with pytest.raises(ValueError, match="exactly one"):
        cut_aof(source, tmp_path / "t.rdb")


def test_cut_in_a_resp_base_adds_an_empty_incr(tmp_path: Path):
    source = aof_of(CORPUS / "redis-7.4.1/aof/aof-nopreamble")
    cut_aof(source, tmp_path / "d", to_offset=1000)
    names = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert names == ["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof",
                     "appendonly.aof.manifest"]
    assert (tmp_path / "d" / "appendonly.aof.2.incr.aof").stat().st_size == 0
    assert (tmp_path / "d" / "appendonly.aof.2.base.aof").stat().st_size <= 1000
