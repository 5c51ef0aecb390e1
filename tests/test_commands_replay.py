"""Replay ``rdbtool dump -f resp`` output into a real server and compare what it saves with the
original file (the oracle test of rdbtools.output.commands)."""

from __future__ import annotations


import pytest

from rdbtools import open_rdb
from rdbtools.output.commands import encode_resp, entry_to_commands, function_to_command
from rdbtools.model import Entry, Function

pytestmark = pytest.mark.server


def _commands(path):
    """Every command of the RESP rendering of ``path``, in order, plus its RDB version."""
    out = []
    with open_rdb(path) as rdb:
        db = None
        for rec in rdb.iter_records():
            if isinstance(rec, Function):
                out.append(function_to_command(rec))
            elif isinstance(rec, Entry):
                if rec.db != db:
                    db = rec.db
                    out.append([b"SELECT", b"%d" % db])
                out.extend(entry_to_commands(rec, rdb.version))
    return out


def _normal(entry: Entry):
    """A comparable form of a key's data, independent of encodings and of what the replay
    cannot reproduce (consumer seen/active times)."""
    v, t = entry.value, entry.type
    if t in ("set",):
        v = sorted(v)
    elif t == "hash":
        v = sorted(v)
    elif t == "zset":
        v = sorted((m, s) for m, s in v)
    elif t == "stream":
        v = (
            [(e.id, e.fields) for e in v.entries], v.length, v.last_id, v.max_deleted_id, v.entries_added,
            sorted(
                (g.name, g.last_id, g.entries_read,
                 sorted((p.id, p.consumer, p.delivery_time_ms, p.delivery_count) for p in g.pending),
                 sorted((c.name, sorted(c.pending)) for c in g.consumers))
                for g in v.groups
            ),
        )  # fmt: skip
    elif t == "module":
        # RESTORE hands the raw bytes to the module, which may save its state differently
        # (vector sets rebuild their graph): compare the module type only
        v = (v.module_name, v.encver)
    return (t, v, entry.expire_at_ms, dict(entry.field_expire_at_ms or {}))


def _keyspace(path):
    with open_rdb(path) as rdb:
        return {(e.db, e.key): _normal(e) for e in rdb.iter_entries()}, [f.code for f in rdb.functions]


def test_resp_replay_rebuilds_the_keyspace(server_spec, corpus_dir, tmp_path):
    from servers import RedisServer

    source = corpus_dir / server_spec.name / "rdb" / "dump.rdb"
    if not source.exists():
        pytest.skip(f"no corpus file {source}")
    commands = _commands(source)
    with RedisServer(server_spec, workdir=tmp_path / "server") as srv:
        conn = srv.client.connection_pool.get_connection()
        try:
            conn.send_packed_command([b"".join(encode_resp(c) for c in commands)])
            errors = []
            for command in commands:
                try:
                    conn.read_response()
                except Exception as e:  # a redis.ResponseError names the refused command
                    errors.append((command[:3], str(e)))
        finally:
            srv.client.connection_pool.release(conn)
        assert errors == []
        saved = srv.save()
        ours, our_functions = _keyspace(source)
        theirs, their_functions = _keyspace(saved)
    assert sorted(their_functions) == sorted(our_functions)
    assert theirs.keys() == ours.keys()
    for key, value in ours.items():
        assert theirs[key] == value, key
