"""rdbtools.output.commands: AOF-rewrite style commands, DUMP payloads and RESP framing."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rdbtools.output.commands import (
    encode_resp,
    entry_to_commands,
    function_to_command,
    score_text,
    write_resp,
)
from rdbtools.errors import EncodeError
from rdbtools.rdb.writer import dump_payload
from rdbtools.model import (
    Entry,
    Function,
    ModuleValue,
    Stream,
    StreamConsumer,
    StreamEntry,
    StreamGroup,
    StreamPendingEntry,
)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def cmds(entry, **kw):
    return list(entry_to_commands(entry, **kw))


def test_string_with_ttl():
    assert cmds(Entry(0, b"k", "string", b"v", expire_at_ms=1700000000123)) == [
        [b"SET", b"k", b"v"],
        [b"PEXPIREAT", b"k", b"1700000000123"],
    ]


def test_list_set_batched_by_64():
    items = [b"%d" % i for i in range(130)]
    out = cmds(Entry(0, b"l", "list", items))
    assert [len(c) - 2 for c in out] == [64, 64, 2]
    assert all(c[:2] == [b"RPUSH", b"l"] for c in out)
    assert [x for c in out for x in c[2:]] == items
    out = cmds(Entry(0, b"s", "set", items[:64]))
    assert out == [[b"SADD", b"s"] + items[:64]]


def test_zset_scores_and_batching():
    members = [(b"m%d" % i, i / 4) for i in range(65)] + [(b"top", math.inf), (b"bot", -math.inf)]
    out = cmds(Entry(0, b"z", "zset", members))
    assert [len(c) for c in out] == [2 + 128, 2 + 6]
    assert out[0][2:6] == [b"0", b"m0", b"0.25", b"m1"]
    assert out[1][2:] == [b"16", b"m64", b"inf", b"top", b"-inf", b"bot"]


@given(st.floats(allow_nan=False))
def test_score_text_round_trips(score):
    assert float(score_text(score)) == score


def test_score_text_nan_refused():
    with pytest.raises(EncodeError):
        score_text(math.nan)
    assert score_text(1e300) == b"1e+300" and score_text(0.1) == b"0.1" and score_text(-0.0) == b"-0"


def test_hash_with_field_ttls():
    fields = [(b"f%d" % i, b"v") for i in range(70)]
    out = cmds(Entry(0, b"h", "hash", fields, field_expire_at_ms={b"f3": 1800000000000}, expire_at_ms=5))
    assert out[0][:4] == [b"HSET", b"h", b"f0", b"v"] and len(out[0]) == 2 + 128
    assert len(out[1]) == 2 + 12
    assert out[2] == [b"HPEXPIREAT", b"h", b"1800000000000", b"FIELDS", b"1", b"f3"]
    assert out[3] == [b"PEXPIREAT", b"h", b"5"]


def _stream(entries):
    return Stream(
        entries=entries, length=len(entries), last_id=(9, 1), first_id=(1, 0), max_deleted_id=(5, 0),
        entries_added=7,
        groups=[
            StreamGroup(b"g1", (2, 0), 2,
                        [StreamPendingEntry((1, 0), b"alice", 1000, 3), StreamPendingEntry((2, 0), b"alice", 2000, 1)],
                        [StreamConsumer(b"alice", 3000, 3000, [(1, 0), (2, 0)]), StreamConsumer(b"bob", 10, None, [])]),
            StreamGroup(b"g2", (0, 0), None, [], []),
        ],
    )  # fmt: skip


def test_stream():
    s = _stream([StreamEntry((1, 0), [(b"a", b"1"), (b"b", b"2")]), StreamEntry((2, 0), [(b"a", b"3")])])
    assert cmds(Entry(0, b"s", "stream", s)) == [
        [b"XADD", b"s", b"1-0", b"a", b"1", b"b", b"2"],
        [b"XADD", b"s", b"2-0", b"a", b"3"],
        [b"XSETID", b"s", b"9-1", b"ENTRIESADDED", b"7", b"MAXDELETEDID", b"5-0"],
        [b"XGROUP", b"CREATE", b"s", b"g1", b"2-0", b"ENTRIESREAD", b"2"],
        [b"XCLAIM", b"s", b"g1", b"alice", b"0", b"1-0", b"TIME", b"1000", b"RETRYCOUNT", b"3", b"JUSTID", b"FORCE"],
        [b"XCLAIM", b"s", b"g1", b"alice", b"0", b"2-0", b"TIME", b"2000", b"RETRYCOUNT", b"1", b"JUSTID", b"FORCE"],
        [b"XGROUP", b"CREATECONSUMER", b"s", b"g1", b"bob"],
        [b"XGROUP", b"CREATE", b"s", b"g2", b"0-0", b"ENTRIESREAD", b"-1"],
    ]  # fmt: skip


def test_stream_from_an_rdb_9_file_uses_redis_6_forms():
    s = _stream([StreamEntry((1, 0), [(b"a", b"1")])])
    out = list(entry_to_commands(Entry(0, b"s", "stream", s), rdb_version=9))
    assert [b"XSETID", b"s", b"9-1"] in out
    assert [b"XGROUP", b"CREATE", b"s", b"g1", b"2-0"] in out
    assert not any(b"ENTRIESREAD" in c or b"ENTRIESADDED" in c for c in out)


def test_empty_stream_uses_maxlen_0_trick():
    out = cmds(Entry(0, b"s", "stream", _stream([])))
    assert out[0] == [b"XADD", b"s", b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    assert out[1][0] == b"XSETID"


def test_module_restore():
    mv = ModuleValue("ReJSON-RL", 3, 1, b"\x81raw")
    out = cmds(Entry(0, b"m", "module", mv, expire_at_ms=9), rdb_version=11)
    assert out[0][:3] == [b"RESTORE", b"m", b"0"]
    assert out[0][3] == dump_payload(Entry(0, b"m", "module", mv), 11)
    assert out[0][3][:5] == b"\x07\x81raw" and out[0][3][5:7] == b"\x0b\x00"
    assert out[1] == [b"PEXPIREAT", b"m", b"9"]
    with pytest.raises(EncodeError):
        cmds(Entry(0, b"m", "module", mv))


def test_sizes_only_entry_refused():
    with pytest.raises(EncodeError):
        cmds(Entry(0, b"k", "list", None, length=3))


def test_lazy_value_accepted():
    assert cmds(Entry(0, b"l", "list", iter([b"a"]))) == [[b"RPUSH", b"l", b"a"]]


def test_encode_resp():
    assert encode_resp([b"SET", b"k", b""]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"


def test_write_resp_selects_and_functions():
    code = b"#!lua name=lib\nredis.register_function('f', function() return 1 end)"
    records = [
        Function(code),
        Entry(0, b"a", "string", b"1"),
        Entry(0, b"b", "string", b"2"),
        Entry(3, b"c", "string", b"3"),
        Entry(0, b"d", "string", b"4"),
    ]
    buf = io.BytesIO()
    assert write_resp(records, buf) == 4
    expected = b"".join(
        encode_resp(c)
        for c in [
            function_to_command(records[0]),
            [b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"],
            [b"SELECT", b"3"], [b"SET", b"c", b"3"],
            [b"SELECT", b"0"], [b"SET", b"d", b"4"],
        ]
    )  # fmt: skip
    assert buf.getvalue() == expected
    assert function_to_command(records[0]) == [b"FUNCTION", b"LOAD", code]


@pytest.mark.skipif(not (CORPUS / "redis-7.4.1/with-modules/rdb/dump.rdb").exists(), reason="shared corpus not present")
def test_corpus_to_resp():
    from rdbtools import open_rdb

    buf = io.BytesIO()
    with open_rdb(CORPUS / "redis-7.4.1/with-modules/rdb/dump.rdb") as rdb:
        n = write_resp(rdb.iter_records(), buf, rdb_version=rdb.version)
    assert n == 105
    data = buf.getvalue()
    assert data.startswith(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n")
    assert b"RESTORE" in data and b"XSETID" in data and b"HPEXPIREAT" in data


@pytest.mark.skipif(not (CORPUS / "redis-7.4.1/with-modules/rdb/dump.json").exists(), reason="shared corpus not present")
def test_module_restore_payload_equals_server_dump():
    """The RESTORE payload built from a module value's raw bytes is what the server's DUMP gave."""
    import base64
    import json

    from rdbtools import open_rdb

    folder = CORPUS / "redis-7.4.1/with-modules/rdb"
    truth = json.loads((folder / "dump.json").read_text())
    from rdbtools.output.dump import decode_bytes

    dumps = {(int(db), decode_bytes(k["key"])): k.get("dump_b64") for db, keys in truth["dbs"].items() for k in keys}
    checked = 0
    with open_rdb(folder / "dump.rdb") as rdb:
        for entry in rdb.iter_entries():
            expected = dumps.get((entry.db, entry.key))
            if entry.type != "module" or not expected or entry.key.startswith(b"ts:temp"):
                # ts:temp / ts:temp:avg are a compaction rule's source and destination:
                # RedisTimeSeries serialises them differently for DUMP than for the RDB
                continue
            restore = next(entry_to_commands(entry, rdb_version=rdb.version))
            assert restore[3] == base64.b64decode(expected), entry.key
            checked += 1
    assert checked > 0
