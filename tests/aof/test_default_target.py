"""An AOF without an RDB part does not name its server: converting it to RDB picks the oldest
Redis release that holds the data, so the server that wrote the AOF loads the result (issue
12).  It used to be Redis 7.4's RDB 12, which Redis 6.2 and 7.0 refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from aof_servers import CORPUS, aof_of
from rdbtools import open_rdb
from rdbtools.ops.convert import convert
from servers import RedisServer, probe_server, spec_by_name

CASES = [
    # (AOF variant, expected header, a server that wrote such a file and must load the result)
    ("redis-6.2.5/aof/aof-nopreamble", b"REDIS0009", "redis-6.2.5"),
    ("redis-6.0.9/aof/aof-norewrite", b"REDIS0009", "redis-6.2.5"),
    ("redis-7.0.15/aof/aof-nopreamble", b"REDIS0010", "redis-7.0.15"),  # functions: 7.0
    ("redis-7.4.1/aof/aof-nopreamble", b"REDIS0012", "redis-8.2.3"),  # hash field TTLs: 7.4
    ("valkey-8.1.8/aof/aof-nopreamble", b"REDIS0010", "valkey-8.1.8"),
]


@pytest.mark.parametrize("variant,header,server", CASES, ids=[c[0] for c in CASES])
def test_aof_without_rdb_part_converts_for_the_oldest_release_holding_it(tmp_path, variant, header, server):
    aof = aof_of(CORPUS / variant)
    if not aof.exists():
        pytest.skip(f"corpus variant {variant} not here")
    out = tmp_path / "dump.rdb"
    convert(aof, out)
    assert out.read_bytes()[:9] == header
    with open_rdb(out) as rdb:
        ours = sorted((e.db, e.key) for e in rdb.iter_entries())
    reason = probe_server(server)
    if reason:
        pytest.skip(reason)
    with RedisServer(spec_by_name(server), load_rdb=out, workdir=tmp_path / "srv") as srv:
        loaded = []
        for db in sorted({db for db, _ in ours}):
            srv.execute("SELECT", db)
            loaded += [(db, k) for k in srv.execute("KEYS", "*")]
    assert sorted(loaded) == ours and ours
