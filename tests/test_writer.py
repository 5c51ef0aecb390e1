"""The RDB writer: blob encoders equal to the grammars, model -> write -> read round trips for
every target, same-version rewrites of server-written files, losses, and the backbone: every
corpus file converted for every installed server, loaded by that real server and compared
key by key with the ground truth."""

from __future__ import annotations

import io
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdbtools import open_rdb
from rdbtools.ops.convert import convert
from rdbtools.output.dump import entry_to_dict, iter_dump, write_jsonl
from rdbtools.errors import EncodeError
from rdbtools.format import constants as C
from rdbtools.rdb.filters import KeyFilter
from rdbtools.format.intset import build_intset
from rdbtools.format.listpack import build_listpack
from rdbtools.format.ziplist import build_ziplist
from rdbtools.model import (Entry, Function, KeyMeta, ModuleAux, ModuleValue, RawValue, Stream,
                            StreamConsumer, StreamEntry, StreamGroup, StreamIdmp,
                            StreamIdmpProducer, StreamPendingEntry)
from rdbtools.rdb.targets import get_target, target_names
from rdbtools.rdb.encoders import encode_intset, encode_listpack, encode_ziplist
from rdbtools.rdb.writer import (RestoreWriter, dump_payload,
                             write_rdb)
from servers import SERVER_SPECS, RedisServer, probe_server, run_check_rdb, spec_by_name
from strategies import live_examples
from truth import compare_entries, compare_key_meta, truth_bytes
from truth_losses import expected_after_losses, unreported_losses

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
TRUTH_RDBS = sorted(p for p in CORPUS.glob("*/**/rdb/*.rdb") if p.with_suffix(".json").exists()) \
    if CORPUS.is_dir() else []
NAMED = ["redis-6.2", "redis-7.0", "redis-7.2", "redis-7.4", "redis-8.2", "redis-8.6",
         "redis-8.10", "valkey-8.1", "valkey-9.1"]


def _id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


def _read(data: bytes) -> tuple[list[Entry], object]:
    with open_rdb(data) as rdb:
        records = list(rdb.iter_records())
        assert rdb.checksum == "ok"
    return [r for r in records if isinstance(r, Entry)], rdb


# -- blob encoders: the same bytes as the grammars (STYLE §2.5) --------------------------------

blob_element = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 12, 13, 127, 128, -128, -129, 4095, 4096, -4096, -4097, 32767, 32768,
                     2**23 - 1, 2**23, 2**31 - 1, 2**31, -(2**31) - 1]),
    st.binary(max_size=80),
    st.sampled_from([b"x" * 63, b"x" * 64, b"x" * 4095, b"x" * 4096, b"x" * 16384]),
)


@given(st.lists(blob_element, max_size=40))
def test_listpack_encoder_equals_grammar(elements):
    assert encode_listpack(elements) == build_listpack(elements)


@given(st.lists(blob_element, max_size=40))
def test_ziplist_encoder_equals_grammar(elements):
    assert encode_ziplist(elements) == build_ziplist(elements)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=40))
def test_intset_encoder_equals_grammar(members):
    assert encode_intset(members) == build_intset(members)


# -- model -> write -> read ------------------------------------------------------------------

member = st.one_of(st.binary(max_size=12), st.integers(-(2**64), 2**64).map(lambda i: b"%d" % i),
                   st.sampled_from([b"0012", b"-0", b"+1", b" 1", b"x" * 70]))
score = st.one_of(st.floats(allow_nan=False), st.integers(-(2**53), 2**53).map(float))
# no 0: a server drops an empty collection when loading, so the writer leaves it out as a loss
# (test_empty_collections_are_reported_losses)
sizes = st.sampled_from([1, 3, 20, 130, 600])


@st.composite
def _collection(draw, elements):
    n = draw(sizes)
    return draw(st.lists(elements, min_size=n, max_size=n, unique_by=lambda x: x if not
                         isinstance(x, tuple) else x[0]))


@st.composite
def _stream(draw) -> Stream:
    n = draw(st.integers(0, 130))
    ids = sorted(draw(st.sets(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
                              min_size=n, max_size=n)))
    fields = st.lists(st.tuples(member, member), min_size=1, max_size=3)
    entries = [StreamEntry(i, draw(fields)) for i in ids]
    last = ids[-1] if ids else (5, 0)
    groups = []
    for name in draw(st.lists(member, max_size=2, unique=True)):
        pending_ids = draw(st.lists(st.sampled_from(ids), unique=True, max_size=5)) if ids else []
        consumers = [StreamConsumer(b"c1", 1000, 2000, pending_ids)]
        pel = [StreamPendingEntry(i, b"c1", 1500, 2) for i in pending_ids]
        # entries-read is at most entries-added (Redis 8.10's loader refuses more)
        groups.append(StreamGroup(name, last, draw(st.none() | st.integers(0, len(ids))), pel,
                                  consumers))
    return Stream(entries, len(entries), last, ids[0] if ids else (0, 0), (0, 0), len(entries),
                  groups)


@st.composite
def entries(draw) -> list[Entry]:
    out = []
    for i in range(draw(st.integers(1, 6))):
        key = b"k%d" % i
        kind = draw(st.sampled_from(["string", "list", "set", "zset", "hash", "stream"]))
        expire = draw(st.none() | st.integers(1, 2**48))
        ttls = None
        if kind == "string":
            value = draw(member | st.binary(min_size=20, max_size=200) | st.just(b"ab" * 60))
        elif kind == "list":
            value = draw(st.lists(member | st.just(b"y" * 9000), min_size=1, max_size=300))
        elif kind == "set":
            value = draw(_collection(member))
        elif kind == "zset":
            value = draw(_collection(st.tuples(member, score)))
        elif kind == "hash":
            value = draw(_collection(st.tuples(member, member)))
            timed = draw(st.lists(st.sampled_from([f for f, _ in value]), unique=True)) if value else []
            ttls = {f: draw(st.integers(1, 2**48 - 1)) for f in timed} or None
        else:
            value = draw(_stream())
        out.append(Entry(draw(st.sampled_from([0, 1, 15])), key, kind, value, expire,
                         field_expire_at_ms=ttls))
    return sorted(out, key=lambda e: e.db)


def _comparable(entry: Entry, field_ttls: bool, stream_version: int) -> dict:
    if entry.type == "stream" and stream_version >= 26:
        # a stream of an older server gets the IDMP defaults (8.6) and empty NACK zones (8.8)
        s = entry.value
        groups = [replace(g, nacked=[] if g.nacked is None and stream_version >= 27
                          else g.nacked) for g in s.groups]
        entry = replace(entry, value=replace(s, idmp=s.idmp or StreamIdmp(100, 100, [], 0, 0),
                                             groups=groups))
    d = entry_to_dict(entry)
    d.pop("rdb_type")
    if entry.type == "set":
        d["value"] = sorted(d["value"], key=json.dumps)
    if entry.type in ("zset", "hash"):
        d["value"] = sorted(d["value"], key=json.dumps)
    if entry.type == "hash" and not field_ttls:
        d.pop("field_expire_at_ms", None)
    elif d.get("field_expire_at_ms"):
        d["field_expire_at_ms"] = sorted(d["field_expire_at_ms"], key=json.dumps)
    if entry.type == "stream":
        for g in d["value"]["groups"]:
            g["pending"].sort(key=json.dumps)
            for c in g["consumers"]:
                c["pending"].sort()
                if stream_version < 21:
                    c.pop("active_time_ms", None)
            if stream_version < 19:
                g.pop("entries_read", None)
    return d


@pytest.mark.parametrize("target", NAMED)
@settings(max_examples=25, deadline=None)
@given(data=entries())
def test_model_round_trip(target, data):
    t = get_target(target)
    buf = io.BytesIO()
    result = write_rdb(data, buf, t, ctime=0)
    back, _ = _read(buf.getvalue())
    assert result.keys == len(back) == len(data)
    version = t.stream_type
    for ours, theirs in zip(data, back):
        assert _comparable(theirs, t.field_ttl_types is not None, version) == \
            _comparable(ours, t.field_ttl_types is not None, version)
    lost_ttls = {loss.key for loss in result.losses if "field TTLs" in loss.what}
    assert lost_ttls == ({e.key for e in data if e.field_expire_at_ms}
                         if t.field_ttl_types is None else set())


@pytest.mark.parametrize("target", NAMED)
@settings(max_examples=10, deadline=None)
@given(data=entries())
def test_jsonl_rdb_jsonl_identical(target, data):
    """JSONL -> RDB -> JSONL keeps every key as the target can hold it (the same comparison as
    the model round trip: stream metadata of newer stream types, field TTLs before 7.4), and a
    second trip through the same target changes nothing at all."""
    t = get_target(target)
    first = io.BytesIO()
    write_jsonl(data, first)
    rdb = io.BytesIO()
    convert(first.getvalue(), rdb, to="rdb", target=t)
    second = io.BytesIO()
    convert(rdb.getvalue(), second, to="jsonl")
    third_rdb = io.BytesIO()
    convert(second.getvalue(), third_rdb, to="rdb", target=t)
    fourth = io.BytesIO()
    convert(third_rdb.getvalue(), fourth, to="jsonl")
    assert second.getvalue() == fourth.getvalue()
    back = list(iter_dump(io.BytesIO(second.getvalue())))
    assert len(back) == len(data)
    ttls = t.field_ttl_types is not None
    for ours, theirs in zip(data, back):
        assert _comparable(theirs, ttls, t.stream_type) == _comparable(ours, ttls, t.stream_type)


# -- targets -----------------------------------------------------------------------------------

def test_target_table():
    assert get_target("valkey-9.1").magic == b"VALKEY080"
    assert get_target("valkey-8.1").magic == b"REDIS0011"
    assert get_target("rdb-10").rdb_version == 10 and get_target(12).field_ttl_types == (24, 25)
    assert get_target("redis-7.2", {"hash-max-ziplist-entries": 4}).thresholds \
        .hash_max_listpack_entries == 4
    assert set(NAMED) <= set(target_names())
    assert (get_target("rdb-13").stream_type, get_target("redis-8.10").stream_type) == (26, 27)
    assert get_target("redis-8.10").magic == b"REDIS0015" and get_target(14).arrays
    for bad in ("redis-5.0", "rdb-16", "8"):
        with pytest.raises(ValueError):
            get_target(bad)
    with pytest.raises(ValueError, match="unknown encoding threshold"):
        get_target("redis-7.0", {"hash-max-foo": 1})


@pytest.mark.parametrize("target, expected", [
    ("redis-6.2", {"h": 13, "z": 12, "s": 2, "i": 11, "l": 14, "x": 15}),
    ("redis-7.0", {"h": 16, "z": 17, "s": 2, "i": 11, "l": 18, "x": 19}),
    ("redis-7.2", {"h": 16, "z": 17, "s": 20, "i": 11, "l": 18, "x": 21}),
    ("redis-7.4", {"h": 25, "z": 17, "s": 20, "i": 11, "l": 18, "x": 21}),
    ("redis-8.6", {"h": 25, "z": 17, "s": 20, "i": 11, "l": 18, "x": 26}),
    ("redis-8.10", {"h": 25, "z": 17, "s": 20, "i": 11, "l": 18, "x": 27}),
    ("valkey-9.1", {"h": 22, "z": 17, "s": 20, "i": 11, "l": 18, "x": 21}),
])
def test_encodings_per_target(target, expected):
    stream = Stream([StreamEntry((1, 1), [(b"f", b"v")])], 1, (1, 1), (1, 1), (0, 0), 1, [])
    data = [Entry(0, b"h", "hash", [(b"f", b"v")], field_expire_at_ms={b"f": 4102444800000}),
            Entry(0, b"z", "zset", [(b"m", 1.5)]), Entry(0, b"s", "set", [b"a", b"b"]),
            Entry(0, b"i", "set", [b"1", b"-5"]), Entry(0, b"l", "list", [b"a"]),
            Entry(0, b"x", "stream", stream)]
    buf = io.BytesIO()
    write_rdb(data, buf, target)
    back, _ = _read(buf.getvalue())
    assert {e.key.decode(): e.rdb_type for e in back} == expected


def test_thresholds_decide_the_encoding():
    data = [Entry(0, b"h", "hash", [(b"f%d" % i, b"v") for i in range(5)])]
    for config, rdb_type in (({}, 16), ({"hash-max-listpack-entries": 4}, 4),
                             ({"hash-max-listpack-value": 1}, 4)):
        buf = io.BytesIO()
        write_rdb(data, buf, get_target("redis-7.2", config))
        assert _read(buf.getvalue())[0][0].rdb_type == rdb_type


# -- losses ------------------------------------------------------------------------------------

def _lossy() -> list:
    return [Function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)"),
            Entry(0, b"h", "hash", [(b"f", b"v"), (b"g", b"w")],
                  field_expire_at_ms={b"f": 4102444800000}),
            Entry(0, b"m", "module", ModuleValue("ReJSON-RL", 3, 0, b"\x00")),
            Entry(0, b"ok", "string", b"v")]


def test_losses_are_reported_per_key():
    buf = io.BytesIO()
    result = write_rdb(_lossy(), buf, "redis-6.2", modules=())
    back, _ = _read(buf.getvalue())
    assert [e.key for e in back] == [b"h", b"ok"] and back[0].field_expire_at_ms is None
    assert [(loss.key, loss.dropped) for loss in result.losses] == [
        (None, True), (b"h", False), (b"m", True)]
    assert result.dropped_keys == 1
    assert "field TTLs" in str(result.losses[1])


def test_strict_and_unwritable_fail():
    with pytest.raises(EncodeError, match="key b'h'"):
        write_rdb(_lossy()[1:], io.BytesIO(), "redis-7.2", strict=True)
    with pytest.raises(EncodeError, match="function library"):
        write_rdb(_lossy(), io.BytesIO(), "redis-6.2", unwritable="fail")
    # degradations never fail without strict
    write_rdb(_lossy()[1:2], io.BytesIO(), "redis-7.2", unwritable="fail")


def test_bad_values_name_the_key():
    with pytest.raises(EncodeError, match=r"db 3 key b'z'.*NaN"):
        write_rdb([Entry(3, b"z", "zset", [(b"m", float("nan"))])], io.BytesIO())
    with pytest.raises(EncodeError, match="key b's'.*without its value"):
        write_rdb([Entry(0, b"s", "string", None)], io.BytesIO())


def test_path_output_is_atomic(tmp_path):
    out = tmp_path / "out.rdb"
    out.write_bytes(b"old")
    with pytest.raises(EncodeError):
        write_rdb(_lossy(), out, "redis-6.2", strict=True)
    assert out.read_bytes() == b"old" and list(tmp_path.iterdir()) == [out]
    write_rdb(_lossy()[3:], out, "redis-6.2")
    assert [e.key for e in _read(out.read_bytes())[0]] == [b"ok"]


@pytest.mark.parametrize("target,field", [("redis-6.2", b"aof-preamble"), ("redis-7.4", b"aof-base"),
                                          ("valkey-9.1", b"aof-base")])
def test_aof_base_marks_the_file(target, field):
    """The base of an AOF rewrite carries aof-base 1 (aof-preamble 1 before RDB 10), as the
    server's rdbSaveInfoAuxFields() writes it; a plain file 0."""
    from rdbtools.model import Aux
    from rdbtools.rdb.writer import RdbWriter

    for aof_base, want in ((True, b"1"), (False, b"0")):
        buf = io.BytesIO()
        writer = RdbWriter(buf, target, aof_base=aof_base)
        writer.write(Entry(0, b"k", "string", b"v"))
        writer.close()
        with open_rdb(buf.getvalue()) as rdb:
            aux = {r.key: r.value for r in rdb.iter_records() if isinstance(r, Aux)}
        assert aux[field] == want


# -- Redis 8.6 / 8.10 structures (RDB 13 / 15) -------------------------------------------------

# keyMetaClassEncode("KMT1", 1, ALLOW_IGNORE) = 09 F5 C4 28 (FORMATS-RDB13-15 §3), then a
# module-typed STRING value and the EOF
_KMT1 = KeyMeta("KMT1", 1, 1, bytes.fromhex("09f5c428") + b"\x05\x03abc\x00")


def _nack_stream(nacked: list | None = None) -> Stream:
    """A group with two NACKed entries (no consumer) and one owned by consumer c, IDMP state."""
    ids = [(5, i) for i in range(4)]
    pel = [StreamPendingEntry((5, 0), None, 0, 3), StreamPendingEntry((5, 1), b"c", 1000, 1),
           StreamPendingEntry((5, 2), None, 0, 0)]
    group = StreamGroup(b"g", (5, 3), 4, pel, [StreamConsumer(b"c", 1000, 1000, [(5, 1)])],
                        [(5, 2), (5, 0)] if nacked is None else nacked)
    idmp = StreamIdmp(86400, 1000, [StreamIdmpProducer(b"pb", [(b"i2", (5, 3))]),
                                    StreamIdmpProducer(b"pa", [(b"i0", (5, 1)), (b"i1", (5, 2))])],
                      3, 1)
    return Stream([StreamEntry(i, [(b"n", b"%d" % i[1])]) for i in ids], 4, (5, 3), (5, 0),
                  (0, 0), 4, [group], idmp)


def _new_structures() -> list[Entry]:
    array = [(0, b"1"), (1, b"3.5"), (2, b"0.1"), (7, b"a string longer than 7"),
             (2**64 - 2, b"2305843009213693952")]
    return [Entry(0, b"ar", "array", array, array_next_insert_index=8),
            Entry(0, b"ar:nocursor", "array", [(3, b"x")]),
            Entry(0, b"st", "stream", _nack_stream()),
            Entry(0, b"km", "string", b"v", expire_at_ms=4102444800000, key_meta=[_KMT1])]


@pytest.mark.parametrize("target", ["redis-8.6", "redis-8.10"])
def test_new_structures_round_trip(target):
    t = get_target(target)
    buf = io.BytesIO()
    result = write_rdb(_new_structures(), buf, t, ctime=0)
    back, rdb = _read(buf.getvalue())
    assert rdb.version == t.rdb_version
    got = {e.key: e for e in back}
    assert got[b"km"].key_meta == [_KMT1] and got[b"km"].value == b"v"
    st = got[b"st"].value
    assert got[b"st"].rdb_type == t.stream_type
    # producers come back in rax (pid) order, as the server writes them
    assert [p.pid for p in st.idmp.producers] == [b"pa", b"pb"]
    assert (st.idmp.duration_s, st.idmp.max_size, st.idmp.iids_added) == (86400, 1000, 3)
    g = st.groups[0]
    if t.stream_nack:
        assert result.losses == []
        assert g.nacked == [(5, 2), (5, 0)]
        assert sorted(p.id for p in g.pending if p.consumer is None) == [(5, 0), (5, 2)]
        assert got[b"ar"].value == _new_structures()[0].value
        assert got[b"ar"].array_next_insert_index == 8
        assert got[b"ar:nocursor"].array_next_insert_index is None
    else:
        assert g.nacked is None and [p.id for p in g.pending] == [(5, 1)]
        assert b"ar" not in got
        assert sorted(loss.what.split(" (")[0] for loss in result.losses) == [
            "2 NACKed PEL entries of group b'g'", "array of 1 element(s)",
            "array of 5 element(s)"]


@pytest.mark.parametrize("target", ["redis-6.2", "redis-7.0", "redis-7.4", "redis-8.2",
                                    "valkey-8.1", "valkey-9.1"])
def test_new_structures_downgrade(target):
    """Each kind of 8.6+ state a target cannot hold is one reported loss of its key; arrays
    are dropped keys; the file reads back without them."""
    buf = io.BytesIO()
    result = write_rdb(_new_structures(), buf, target, ctime=0)
    back, _ = _read(buf.getvalue())
    assert [e.key for e in back] == [b"st", b"km"]
    st = back[0].value
    assert [p.id for p in st.groups[0].pending] == [(5, 1)] and st.idmp is None
    assert back[1].key_meta is None and back[1].expire_at_ms == 4102444800000
    assert [(loss.key, loss.dropped, loss.what.split(" (")[0]) for loss in result.losses
            if "entries-read" not in loss.what] == [
        (b"ar", True, "array of 5 element(s)"), (b"ar:nocursor", True, "array of 1 element(s)"),
        (b"st", False, "stream IDMP state"),
        (b"st", False, "2 NACKed PEL entries of group b'g'"),
        (b"km", False, "key metadata of 1 class(es)")]
    with pytest.raises(EncodeError, match="key b'st'"):
        write_rdb(_new_structures()[2:3], io.BytesIO(), target, strict=True)


def test_default_idmp_state_is_no_loss():
    """A stream whose IDMP state is the servers' default loses nothing on an older target, and
    a stream of an older server gets the defaults on 8.6+."""
    s = _nack_stream([])
    s.groups = []
    s.idmp = StreamIdmp(100, 100, [], 0, 0)
    assert write_rdb([Entry(0, b"s", "stream", s)], io.BytesIO(), "redis-7.4").losses == []
    s.idmp = None
    buf = io.BytesIO()
    write_rdb([Entry(0, b"s", "stream", s)], buf, "redis-8.6")
    assert _read(buf.getvalue())[0][0].value.idmp == StreamIdmp(100, 100, [], 0, 0)


@pytest.mark.parametrize("entry, message", [
    (Entry(0, b"a", "array", []), "cannot be empty"),
    (Entry(0, b"a", "array", [(2, b"x"), (1, b"y")]), "must ascend"),
    (Entry(0, b"a", "array", [(2**64 - 1, b"x")]), "must ascend"),
    (Entry(0, b"a", "array", [(0, b"x")], array_next_insert_index=0), "next insert index"),
    (Entry(0, b"s", "stream", _nack_stream([(5, 1)])), "NACK zone"),
    (Entry(0, b"s", "stream", _nack_stream([(5, 0)])), "outside its NACK zone"),
    (Entry(0, b"s", "stream", replace(_nack_stream(), idmp=StreamIdmp(0, 100, [], 0, 0))),
     "duration 0"),
    (Entry(0, b"s", "stream", replace(_nack_stream(), idmp=StreamIdmp(
        100, 100, [StreamIdmpProducer(b"p", []), StreamIdmpProducer(b"p", [])], 0, 0))),
     "appears twice"),
    (Entry(0, b"k", "string", b"v", key_meta=[replace(_KMT1, version=2)]), "class spec"),
    (Entry(0, b"k", "string", b"v", key_meta=[_KMT1] * 8), "at most 7"),
])
def test_new_structures_invalid(entry, message):
    """Values the loader would refuse (or misread) are errors naming the key."""
    with pytest.raises(EncodeError, match=rf"key b'{entry.key.decode()}'.*{message}"):
        write_rdb([entry], io.BytesIO(), "redis-8.10")


def test_gcra_is_unwritable():
    result = write_rdb([Entry(0, b"g", "gcra", 1700000000000000)], io.BytesIO(), "redis-8.10")
    assert [(loss.key, loss.dropped) for loss in result.losses] == [(b"g", True)]


@pytest.mark.server
def test_array_tags_match_the_server():
    """arEncode()'s tag for a few thousand values, against Redis 8.10.2 itself: our DUMP payload
    of each array is the server's, byte for byte, except where the tag rule leaves a float
    undecided (then we write the text, which the server loads as the same value)."""
    import random
    import struct

    reason = probe_server("redis-8.10.2")
    if reason is not None:
        pytest.skip(reason)
    rnd = random.Random(13)
    values = [b"1.0", b"-0.0", b"0.0", b"1.", b".5", b"-", b"1e5", b"100.0", b"0.001", b"007",
              b"%d" % 2**61, b"%d" % (2**61 - 1), b"%d" % -(2**61), b"%d" % (-(2**61) - 1)]
    for _ in range(1500):
        kind = rnd.randrange(4)
        if kind == 0:
            values.append(b"%.*f" % (rnd.randrange(8), rnd.uniform(-1e6, 1e6)))
        elif kind == 1:  # doubles whose low 2 bits are clear: FLOAT candidates
            bits = struct.unpack("<Q", struct.pack("<d", rnd.uniform(-1e4, 1e4)))[0] & ~3
            values.append(repr(struct.unpack("<d", struct.pack("<Q", bits))[0]).encode())
        elif kind == 2:
            values.append(b"%d.0" % rnd.randrange(-10**20, 10**20))
        else:
            values.append(b"%d" % rnd.randrange(-2**63, 2**63))
    undecided = 0
    with RedisServer(spec_by_name("redis-8.10.2"), {"sanitize-dump-payload": "yes"}) as srv:
        for i, value in enumerate(values):
            srv.execute("ARSET", "a", 0, value)
            theirs = srv.execute("DUMP", "a")
            ours = dump_payload(Entry(0, b"a", "array", [(0, value)]), "redis-8.10")
            if ours != theirs:
                # only a FLOAT the server chose and we left as text: it loads as the same value
                # type, count, has_insert_idx 0, index 0, then the tag
                assert theirs[4] == C.ARRAY_TAG_FLOAT and ours[4] != C.ARRAY_TAG_FLOAT, value
                srv.execute("RESTORE", "b", 0, ours, "REPLACE")
                assert srv.execute("ARGET", "b", 0) == value
                undecided += 1
    assert undecided <= len(values) // 100


def test_dump_payload_matches_redis():
    # FORMATS.md §5: DUMP of "bar" at RDB 12
    entry = Entry(0, b"k", "string", b"bar")
    assert dump_payload(entry, "redis-7.4").hex() == "0003626172" "0c00" "2dc87da0144c635e"


# -- server-written files ----------------------------------------------------------------------

pytestmark_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")


TEMPLATE_TYPES = tuple(range(C.RDB_TYPE_HASH_TMPL_LP, C.RDB_TYPE_HASH_TMPL_ARRAY_REF + 1))


def _source_target(path: Path) -> str:
    with open_rdb(path, values="sizes") as rdb:
        return "rdb-80" if rdb.valkey else f"rdb-{rdb.version}"


@pytestmark_corpus
@pytest.mark.parametrize("path", TRUTH_RDBS, ids=_id)
def test_same_version_rewrite(path: Path):
    """Same records; on the fast path the value bytes are the server's own."""
    raw = io.BytesIO()
    result = convert(path, raw, to="rdb")
    with open_rdb(path) as rdb:
        # Redis 8.10 template hashes are written as plain hashes (no HASH_TEMPLATE records)
        templates = {(e.db, e.key) for e in rdb.iter_entries() if e.rdb_type in TEMPLATE_TYPES}
    assert result.losses == [] and result.raw_copies == result.keys - len(templates)
    decoded = io.BytesIO()
    convert(path, decoded, to="rdb", reencode=True)
    with open_rdb(path) as rdb:
        original = [(e.db, e.key, e.type, e.expire_at_ms, e.idle_s, e.freq) for e in rdb.iter_entries()]
    for data in (raw.getvalue(), decoded.getvalue()):
        with open_rdb(data) as rdb:
            again = [(e.db, e.key, e.type, e.expire_at_ms, e.idle_s, e.freq) for e in rdb.iter_entries()]
        assert again == original
    with open_rdb(path) as a, open_rdb(raw.getvalue()) as b:
        types = get_target(_source_target(path)).native_types
        spans = [(x.rdb_type, x.size) for x in a.iter_entries()]
        ours = list(b.iter_entries())
    assert [e.rdb_type for e in ours] == [
        C.RDB_TYPE_HASH_LISTPACK if (e.db, e.key) in templates and len(e.value) <= 512
        and all(len(x) <= 64 for pair in e.value for x in pair) else
        C.RDB_TYPE_HASH if (e.db, e.key) in templates else t for e, (t, _) in zip(ours, spans)]
    assert all(t in types or t in (7, *TEMPLATE_TYPES) for t, _ in spans)
    src = path.read_bytes()
    with open_rdb(path) as a:
        originals = [src[e.offset:e.offset + e.size] for e in a.iter_entries()]
    data = raw.getvalue()
    copies = [data[e.offset:e.offset + e.size] for e in ours]
    # the record bytes may differ only in the expiry/LRU prefix order; the value is verbatim
    for o, c, e in zip(originals, copies, ours):
        if (e.db, e.key) not in templates:
            assert c.endswith(o[-min(len(o), len(c)):]) or o.endswith(c)


def test_raw_value_needs_a_native_type():
    entry = Entry(0, b"k", "hash", RawValue(b"\x00"), rdb_type=13)
    with pytest.raises(EncodeError, match="cannot be copied"):
        write_rdb([entry], io.BytesIO(), "redis-7.4")


def test_filters_make_convert_an_extract(tmp_path):
    path = CORPUS / "redis-7.2.4" / "rdb" / "dump.rdb"
    if not path.exists():
        pytest.skip("corpus absent")
    out = tmp_path / "hashes.rdb"
    result = convert(path, out, key_filter=KeyFilter(types={"hash"}, dbs={0}))
    back, _ = _read(out.read_bytes())
    assert back and all(e.type == "hash" and e.db == 0 for e in back)
    assert result.keys == len(back)


# -- the backbone: every corpus file x every installed server --------------------------------

SERVER_TARGETS = {"redis-6.2.5": "redis-6.2", "redis-7.0.15": "redis-7.0",
                  "redis-7.4.1": "redis-7.4", "redis-8.2.3": "redis-8.2",
                  "redis-8.6.2": "redis-8.6", "redis-8.10.2": "redis-8.10",
                  "valkey-8.1.8": "valkey-8.1", "valkey-9.1.2": "valkey-9.1"}
UNSTABLE_MODULE_DUMPS = ("ts:temp", "ts:temp:avg")
RELOAD_UNSTABLE = ("vset:noquant", "vset:q8")  # Redis 8.2 re-serialises vector sets on SAVE


def _header(path: Path) -> tuple[int, bool]:
    with open_rdb(path, values="sizes") as rdb:
        return rdb.version, rdb.valkey


def _matrix(fast_only: bool):
    for path in TRUTH_RDBS:
        if (path.name == "dump.rdb") != fast_only:
            continue
        for spec in SERVER_SPECS:
            if spec.name in SERVER_TARGETS:
                yield pytest.param(path, spec, id=f"{_id(path)}->{spec.name}")


def _backbone(path: Path, spec, tmp_path: Path) -> None:
    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    truth = json.loads(path.with_suffix(".json").read_text())
    out = tmp_path / "converted.rdb"
    # the test servers load no module: module values are written only for a module type the
    # target has built in (vector sets, Redis 8.0+), which the target table says
    result = convert(path, out, target=SERVER_TARGETS[spec.name], modules=())
    check = run_check_rdb(spec, out)
    assert check.returncode == 0, check.stdout + check.stderr
    with open_rdb(out) as rdb:
        written = list(rdb.iter_entries())
        same_version = (rdb.version, rdb.valkey) == _header(path)
    ours = {(e.db, e.key): e.rdb_type for e in written}
    # module values are copied verbatim (reloading may re-serialise them: vector sets do)
    with open_rdb(path) as rdb:
        source_modules = {(e.db, e.key): e.value.raw for e in rdb.iter_entries()
                          if e.type == "module"}
    assert {(e.db, e.key): e.value.raw for e in written if e.type == "module"} == {
        k: v for k, v in source_modules.items() if k in ours}
    # every key of the truth is either written or reported
    reported = {(loss.db, loss.key) for loss in result.losses if loss.dropped and loss.key}
    truth_keys = {(int(db), truth_bytes(r["key"])) for db, rs in truth["dbs"].items() for r in rs}
    assert truth_keys == set(ours) | reported
    assert unreported_losses(truth, result) == []
    # key metadata (8.6+) is in our file as the source had it (the server drops it on load:
    # it has no such module class, and the class allows that)
    records = {(int(db), truth_bytes(r["key"])): r for db, rs in truth["dbs"].items() for r in rs}
    for e in written:
        if result.target.key_meta:
            assert compare_key_meta(e, records[(e.db, e.key)]) == []
        else:
            assert e.key_meta is None
    policy = (truth.get("variant_config") or {}).get("maxmemory-policy")
    config = {"maxmemory-policy": policy} if policy else {}
    with RedisServer(spec, config, load_rdb=out) as srv:
        saved = srv.save()
        with open_rdb(saved) as rdb:
            entries = list(rdb.iter_entries())
        if "functions" in truth and get_target(SERVER_TARGETS[spec.name]).functions:
            libs = srv.execute("FUNCTION", "LIST", "WITHCODE")
            codes = sorted(lib[lib.index(b"library_code") + 1] for lib in libs)
            assert codes == sorted(f["library_code"].encode() for f in truth["functions"])
    saved = {(e.db, e.key): e.rdb_type for e in entries}
    problems = compare_entries(entries, expected_after_losses(truth, result, ours, saved, same_version, entries),
                               skip_module_raw=UNSTABLE_MODULE_DUMPS + RELOAD_UNSTABLE)
    assert problems == []


@pytestmark_corpus
@pytest.mark.server
@pytest.mark.parametrize("path, spec", list(_matrix(True)))
def test_backbone_real_servers(path, spec, tmp_path):
    _backbone(path, spec, tmp_path)


@pytestmark_corpus
@pytest.mark.server
@pytest.mark.parametrize("path, spec", list(_matrix(False)))
def test_backbone_real_servers_all_variants(path, spec, tmp_path):
    _backbone(path, spec, tmp_path)


@pytest.mark.server
@pytest.mark.parametrize("spec", [s for s in SERVER_SPECS if s.name in SERVER_TARGETS],
                         ids=lambda s: s.name)
def test_new_structures_load_with_deep_sanitization(spec, tmp_path):
    """Every installed server loads the 8.6+ structures written for it, as a file and as
    RESTORE payloads, with deep sanitization (sanitize-dump-payload yes: the mode that refuses
    a PEL entry without consumer), and holds exactly what was not reported lost."""
    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    target = get_target(SERVER_TARGETS[spec.name])
    out = tmp_path / "new.rdb"
    result = write_rdb(_new_structures(), out, target)
    lost = {loss.key for loss in result.losses if loss.dropped}
    assert run_check_rdb(spec, out).returncode == 0
    with RedisServer(spec, {"sanitize-dump-payload": "yes"}, load_rdb=out) as srv:
        for entry in _new_structures():
            if entry.key not in lost:
                payload = dump_payload(entry, target)
                srv.execute("RESTORE", entry.key + b":restored", 0, payload)
        keys = {k for k in srv.execute("KEYS", "*")}
        assert keys == {k + suffix for k in (b"ar", b"ar:nocursor", b"st", b"km") if k not in lost
                        for suffix in (b"", b":restored")}
        for key in (b"st", b"st:restored"):
            pending = srv.execute("XPENDING", key, "g", "-", "+", 10)
            owned = [[b"5-1", b"c"]] if not target.stream_nack else [
                [b"5-0", b""], [b"5-1", b"c"], [b"5-2", b""]]
            assert [p[:2] for p in pending] == owned
        if target.arrays:
            assert srv.execute("ARGET", "ar:restored", 7) == b"a string longer than 7"


@pytest.mark.parametrize("kind", ["list", "set", "zset", "hash"])
def test_empty_collections_are_reported_losses(kind):
    """rdbLoadObject() skips an empty list, set, sorted set or hash ("empty keys skipped"): the
    writer does not write one and says so, instead of writing a key the server drops."""
    buf = io.BytesIO()
    result = write_rdb([Entry(0, b"empty", kind, []), Entry(0, b"kept", "string", b"v")], buf, "redis-7.4")
    assert [(loss.key, loss.dropped) for loss in result.losses] == [(b"empty", True)]
    assert "server drops empty keys" in result.losses[0].what
    back, _ = _read(buf.getvalue())
    assert [e.key for e in back] == [b"kept"]


def _stream_of(groups) -> Stream:
    return Stream([StreamEntry((1, 1), [(b"f", b"v")])], 1, (1, 1), (1, 1), (0, 0), 1, groups)


@pytest.mark.parametrize("entries,error", [
    ([Entry(0, b"k", "string", b"a"), Entry(0, b"k", "string", b"b")], "appears twice: a server refuses"),
    ([Entry(0, b"s", "set", [b"a", b"a"])], "set member b'a' appears twice"),
    ([Entry(0, b"h", "hash", [(b"f", b"1"), (b"f", b"2")])], "hash field b'f' appears twice"),
    ([Entry(0, b"z", "zset", [(b"m", 1.0), (b"m", 2.0)])], "zset member b'm' appears twice"),
    ([Entry(16, b"k", "string", b"a")], "has databases 0..15"),
    ([Entry(-1, b"k", "string", b"a")], "cannot be negative"),
    ([Entry(0, b"x", "stream", _stream_of([StreamGroup(b"g", (0, 0), None, [], []),
                                            StreamGroup(b"g", (0, 0), None, [], [])]))],
     "consumer group b'g' appears twice"),
    ([Entry(0, b"x", "stream", _stream_of([StreamGroup(
        b"g", (1, 1), None, [StreamPendingEntry((1, 1), b"c", 0, 1)], [])]))],
     "which is not a consumer of the group"),
    ([Entry(0, b"x", "stream", _stream_of([StreamGroup(
        b"g", (1, 1), None, [StreamPendingEntry((1, 1), b"c", 0, 1)],
        [StreamConsumer(b"c", 0, 0, []), StreamConsumer(b"d", 0, 0, [(1, 1)])])]))],
     "its pending IDs are not the group PEL entries"),
    ([Entry(0, b"x", "stream", _stream_of([StreamGroup(
        b"g", (1, 1), None, [StreamPendingEntry((1, 1), b"c", 0, 1)] * 2,
        [StreamConsumer(b"c", 0, 0, [(1, 1)])])]))], "appears twice"),
], ids=["key", "set", "hash", "zset", "db-16", "db-negative", "group", "pel-owner",
        "consumer-pel", "pel-twice"])
def test_what_the_loader_refuses_is_an_error_naming_the_key(entries, error):
    """Every one of these made a file (or RESTORE commands) the server refuses to load or loads
    wrong; the writer now stops with the key named, in both the file and the RESTORE writer."""
    for target in ("redis-7.4", "redis-8.10", "valkey-9.1"):
        with pytest.raises(EncodeError, match=error):
            write_rdb(entries, io.BytesIO(), target)
        with pytest.raises(EncodeError, match=error):
            RestoreWriter(io.BytesIO(), target).write_all(entries)


def test_databases_config_allows_more_databases():
    buf = io.BytesIO()
    write_rdb([Entry(20, b"k", "string", b"v")], buf, get_target("redis-7.4", {"databases": 32}))
    back, _ = _read(buf.getvalue())
    assert [(e.db, e.key) for e in back] == [(20, b"k")]


# -- integers and IDs in range; module types per target (issue 12) ----------------------------

def _one_entry_stream(**changes) -> Stream:
    fields = {"entries": [StreamEntry((1, 1), [(b"f", b"v")])], "length": 1, "last_id": (1, 1),
              "first_id": (1, 1), "max_deleted_id": (0, 0), "entries_added": 1, "groups": []}
    return Stream(**{**fields, **changes})


def _group(**changes) -> StreamGroup:
    return StreamGroup(**{"name": b"g", "last_id": (1, 1), "entries_read": None, "pending": [],
                          "consumers": [], **changes})


def _pending(**changes) -> StreamGroup:
    """A group whose one PEL entry 1-1 (consumer c) has ``changes``."""
    entry = StreamPendingEntry(**{"id": (1, 1), "consumer": b"c", "delivery_time_ms": 0,
                                  "delivery_count": 1, **changes})
    return _group(pending=[entry], consumers=[StreamConsumer(b"c", 0, 0, [entry.id])])


def _stream_key(**changes) -> Entry:
    return Entry(0, b"x", "stream", _one_entry_stream(**changes))


@pytest.mark.parametrize("entry, message", [
    (Entry(0, b"k", "string", b"v", expire_at_ms=-1), r"expire time -1 is outside 0\.\.2\^63-1"),
    (Entry(0, b"k", "string", b"v", expire_at_ms=2**63), "expire time 9223372036854775808"),
    (Entry(0, b"k", "string", b"v", idle_s=-1), "LRU idle time -1"),
    (Entry(0, b"k", "string", b"v", idle_s=2**63),
     r"LRU idle time 9223372036854775808 is outside 0\.\.2\^63-1"),
    (Entry(0, b"k", "string", b"v", freq=256), r"LFU counter 256 is outside 0\.\.255"),
    (Entry(0, b"k", "string", b"v", freq=-1), "LFU counter -1"),
    (_stream_key(entries=[StreamEntry((2**64, 0), [(b"f", b"v")])], last_id=(2**64, 0)),
     "stream entry ID .* is not a stream ID"),
    (_stream_key(entries=[StreamEntry((2, 0), [(b"f", b"v")]), StreamEntry((1, 0), [(b"f", b"v")])],
                 length=2, entries_added=2, last_id=(2, 0)), "entry ID 1-0 after 2-0"),
    (_stream_key(entries=[StreamEntry((1, 0), [(b"f", b"v")])] * 2, length=2, entries_added=2,
                 last_id=(1, 0)), "entry ID 1-0 after 1-0"),
    (_stream_key(last_id=(0, 5)), "last ID 0-5 is below its last entry 1-1"),
    (_stream_key(last_id=(-1, 0)), "stream last ID .* is not a stream ID"),
    (_stream_key(max_deleted_id=(0, 2**64)), "max-deleted-entry ID"),
    (_stream_key(length=5, entries_added=5), "stream length 5 but 1 entries"),
    (_stream_key(entries_added=0), "entries-added 0 is outside 1"),
    (_stream_key(entries_added=2**63), "entries-added 9223372036854775808"),
    (_stream_key(groups=[_group(entries_read=-5)]), "entries-read of group b'g' -5"),
    (_stream_key(groups=[_group(entries_read=2)]),
     r"entries-read of group b'g' 2 is outside 0\.\.1"),
    (_stream_key(groups=[_group(last_id=(1, -1))]), "last ID of group b'g'"),
    (_stream_key(groups=[_pending(id=(2**64, 1))]), "PEL entry of group b'g': ID"),
    (_stream_key(groups=[_pending(delivery_count=-1)]),
     "PEL entry 1-1 of group b'g': delivery count -1"),
    (_stream_key(groups=[_pending(delivery_count=2**63)]), "delivery count 9223372036854775808"),
    (_stream_key(groups=[_pending(delivery_time_ms=2**63)]), "delivery time 9223372036854775808"),
    (_stream_key(groups=[_group(consumers=[StreamConsumer(b"c", -(2**63) - 1, 0, [])])]),
     "consumer b'c' of group b'g': seen time"),
    (_stream_key(groups=[_group(consumers=[StreamConsumer(b"c", 0, 2**63, [])])]),
     "consumer b'c' of group b'g': active time"),
    (Entry(0, b"h", "hash", [(b"f", b"v")], field_expire_at_ms={b"f": 2**48}),
     r"field b'f' TTL .* 1\.\.2\^48-1"),
], ids=["expire-neg", "expire-2^63", "idle-neg", "idle-2^63", "freq-256", "freq-neg", "id-2^64",
        "ids-descend", "ids-twice", "last-below", "last-neg", "maxdel", "length", "added-low",
        "added-2^63", "read-neg", "read-high", "group-last", "pel-id", "count-neg",
        "count-2^63", "delivery-time", "seen", "active", "field-ttl"])
def test_integers_outside_their_field_are_errors_naming_the_key(entry, message):
    """Each of these gave a struct/construct traceback, or was written wrapped or inconsistent
    (a negative entries-read became 2^64-5, descending entry IDs a corrupt stream, expiry -1
    a key without TTL): now an EncodeError naming the key, from both writers."""
    where = rf"db 0 key {entry.key!r}: .*"
    for target in ("redis-7.4", "redis-8.10", "valkey-9.1"):
        with pytest.raises(EncodeError, match=where + message):
            write_rdb([entry], io.BytesIO(), target)
        with pytest.raises(EncodeError, match=where + message):
            RestoreWriter(io.BytesIO(), target).write_all([entry])


def test_module_types_per_target():
    """Vector sets (module type vectorset) are built into Redis 8.0+: written there, a reported
    loss elsewhere unless declared; other modules are written with a warning naming them
    unless declared (then no warning) or excluded (``modules`` without them: a loss)."""
    vset = Entry(0, b"v", "module", ModuleValue("vectorset", 0, 0, b"\x00"))
    json_ = Entry(0, b"j", "module", ModuleValue("ReJSON-RL", 3, 0, b"\x00"))
    aux = ModuleAux("ReJSON-RL", 0, 1, 2, b"")
    for target in NAMED:
        t = get_target(target)
        result = write_rdb([aux, vset, json_], io.BytesIO(), t)
        has_vset = target.startswith("redis-8")
        assert t.builtin_modules == ({"vectorset"} if has_vset else set())
        assert [(loss.key, loss.dropped) for loss in result.losses] == (
            [] if has_vset else [(b"v", True)])
        assert result.modules_to_load == {"ReJSON-RL": 2}
        assert result.warnings == [("2 module value(s) or aux record(s) of module type "
                                    "'ReJSON-RL': the target must load the module that "
                                    "defines it")]
        declared = write_rdb([aux, vset, json_], io.BytesIO(), t,
                             modules=["ReJSON-RL", "vectorset"])
        assert declared.losses == [] and declared.modules_to_load == {}
        none = write_rdb([aux, vset, json_], io.BytesIO(), t, modules=())
        assert [loss.key for loss in none.losses] == [None, *([] if has_vset else [b"v"]), b"j"]
        for option in ({"strict": True}, {"unwritable": "fail"}):
            if not has_vset:
                with pytest.raises(EncodeError, match="key b'v': module type 'vectorset' is "
                                                      "built into Redis 8.0"):
                    write_rdb([vset], io.BytesIO(), t, **option)
                with pytest.raises(EncodeError, match="vectorset"):
                    RestoreWriter(io.BytesIO(), t, **option).write_all([vset])
    # rdb-N names a format: the module types built into any release writing it (a same-version
    # rewrite of an RDB 12 file with vector sets: Redis 8.2 wrote it)
    assert get_target("rdb-12").builtin_modules == {"vectorset"}
    assert get_target("rdb-11").builtin_modules == get_target("rdb-80").builtin_modules == set()


R82 = CORPUS / "redis-8.2.3" / "rdb" / "dump.rdb"


@pytest.mark.server
@pytest.mark.skipif(not R82.exists(), reason="corpus absent")
@pytest.mark.parametrize("spec", [s for s in SERVER_SPECS if s.name in SERVER_TARGETS],
                         ids=lambda s: s.name)
def test_convert_r82_vector_sets_per_target(spec, tmp_path):
    """``rdbtool convert r82.rdb old.rdb -t T`` (no --module): said "0 key(s) left out" and
    wrote vector sets that Redis < 8 and Valkey refuse to load.  Now they are reported left
    out where the target lacks them, the file loads on the real server, and --unwritable fail
    / --strict stop without writing."""
    from click.testing import CliRunner
    from rdbtools_cli.rdbtool import rdbtool

    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    target = get_target(SERVER_TARGETS[spec.name])
    has_vset = "vectorset" in target.builtin_modules
    out = tmp_path / "old.rdb"
    run = CliRunner().invoke(rdbtool, ["convert", str(R82), str(out), "-t", target.name],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    vset_lines = [line for line in run.stderr.splitlines() if "vectorset" in line]
    if has_vset:
        assert vset_lines == []
    else:
        assert sorted(vset_lines) == [
            f"  db 0 key b'{key}': module type 'vectorset' is built into Redis 8.0+ only; "
            f"{target.name} lacks it (dropped)" for key in ("vset:noquant", "vset:q8")]
        assert "(2 key(s) left out)" in run.stderr
    with open_rdb(out) as rdb:
        keys = [(e.db, e.key) for e in rdb.iter_entries()]
    with RedisServer(spec, load_rdb=out) as srv:
        keyspace = srv.info("keyspace")
        loaded = sum(int(v.split(",")[0].split("=")[1]) for v in keyspace.values())
        assert loaded == len(keys)
        assert srv.execute("TYPE", "vset:q8") == (b"vectorset" if has_vset else b"none")
    if not has_vset:
        for option, first in ((["--unwritable", "fail"],
                               "vectorset" if target.functions else "function library"),
                              (["--strict"], "cannot hold")):
            failed = CliRunner().invoke(rdbtool, ["convert", str(R82), str(tmp_path / "no.rdb"),
                                                  "-t", target.name, *option])
            assert failed.exit_code == 1 and not (tmp_path / "no.rdb").exists()
            assert first in failed.stderr


# -- hostile models against the real servers (issue 12, Verify) -------------------------------

_NOW_MS = int(time.time() * 1000)
_PAST_MS = st.integers(0, _NOW_MS - 86_400_000)  # dropped by the server when it loads
_FUTURE_MS = st.integers(_NOW_MS + 10 * 365 * 86_400_000, 2**63 - 1)
_FIELD_FUTURE_MS = st.integers(_NOW_MS + 10 * 365 * 86_400_000, 2**48 - 1)
# each pool is small, so that duplicates come up; the writer must refuse them
_names = st.sampled_from([b"a", b"b", b"\x00\xff", b"12", b"x" * 70])
_ids = st.tuples(st.integers(0, 3), st.integers(0, 2)) | st.tuples(
    st.sampled_from([2**64 - 1, 1700000000000]), st.sampled_from([0, 2**64 - 1]))
_bad_ints = st.sampled_from([-1, -(2**63) - 1, 2**63, 2**64])


class _Model:
    """A model being drawn: half of them may draw from the hostile pools (``allow``), and
    ``hostile`` says whether one did (then the writer may refuse the model; a clean model must
    be written)."""

    def __init__(self, draw):
        self.draw = draw
        self.allow = draw(st.booleans())
        self.hostile = False

    def chance(self, odds: int = 20) -> bool:
        """One time in ``odds``, in a model that allows hostile values: then it has one."""
        if self.allow and self.draw(st.integers(0, odds - 1)) == 0:
            self.hostile = True
            return True
        return False

    def pick(self, good, bad):
        """A value of ``good``, or by :meth:`chance` one of ``bad``."""
        return self.draw(bad) if self.chance() else self.draw(good)

    def many(self, elements, key=lambda x: x, max_size: int = 8) -> list:
        """A list that repeats an element only in a model allowing it (hostile when it does)."""
        items = self.draw(st.lists(elements, max_size=max_size))
        if not self.allow:
            unique = {}
            for x in items:
                unique.setdefault(key(x), x)
            return list(unique.values())
        if len({key(x) for x in items}) != len(items):
            self.hostile = True
        return items


def _hostile_stream(m: _Model) -> Stream:
    ids = m.many(_ids, max_size=6)
    if ids != sorted(set(ids)) and not m.chance(4):
        ids = sorted(set(ids))
    entries = [StreamEntry(i, m.draw(st.lists(st.tuples(member, member), max_size=3)))
               for i in ids]
    top = max(ids) if ids else (0, 0)
    last = m.pick(st.just(top), _ids)
    length = m.pick(st.just(len(entries)), st.integers(0, 9))
    added = m.pick(st.integers(len(entries), 2**63 - 1), st.integers(-1, len(entries)) | _bad_ints)
    max_deleted = m.pick(st.just((0, 0)) | st.just(last), _ids)
    groups = []
    for name in m.many(_names, max_size=2):
        owners = [b"c1", b"c2"]
        pel = [StreamPendingEntry(i, m.draw(st.sampled_from(owners)),
                                  m.pick(st.integers(-(2**63), 2**63 - 1), _bad_ints),
                                  m.pick(st.integers(0, 2**63 - 1), _bad_ints))
               for i in m.many(st.sampled_from(ids), max_size=4, key=lambda i: i)] if ids else []
        consumers = [StreamConsumer(c, m.pick(st.integers(-(2**63), 2**63 - 1), _bad_ints),
                                    m.pick(st.integers(0, 2**62), _bad_ints),
                                    [p.id for p in pel if p.consumer == c])
                     for c in owners]
        if pel and m.chance():  # a consumer PEL without one of its entries
            owner = next(c for c in consumers if c.name == pel[0].consumer)
            owner.pending = owner.pending[1:]
        read = m.pick(st.none() | st.integers(0, min(max(added, 0), 2**63 - 1)),
                      st.integers(-5, -1) | st.just(2**63))
        groups.append(StreamGroup(name, m.pick(st.just(last), _ids), read, pel, consumers))
    return Stream(entries, length, last, ids[0] if ids else (0, 0), max_deleted, added, groups)


@st.composite
def hostile_models(draw) -> tuple[list[Entry], bool]:
    """Keys of every type with duplicates (keys, members, fields, groups, PEL entries) and
    integers inside and outside their fields (dbs, expiry, LRU/LFU, stream IDs and counters,
    field TTLs, array indexes), and whether any of that was drawn."""
    m = _Model(draw)
    out = []
    for _ in range(draw(st.integers(1, 5))):
        db = m.pick(st.sampled_from([0, 1, 15]), st.sampled_from([-1, 16, 2**32]))
        key = draw(_names | st.binary(min_size=1, max_size=6))
        kind = draw(st.sampled_from(["string", "list", "set", "zset", "hash", "stream", "array"]))
        expire = m.pick(st.none() | _PAST_MS | _FUTURE_MS, st.just(-1) | _bad_ints)
        ttls = None
        if kind == "string":
            value = draw(member | st.binary(min_size=20, max_size=100))
        elif kind == "list":
            value = draw(st.lists(member, min_size=1, max_size=20))
        elif kind == "set":
            value = m.many(member, max_size=20) or [b"m"]
        elif kind == "zset":
            value = m.many(st.tuples(member, score | st.sampled_from([float("inf"), -0.0])),
                           key=lambda p: p[0], max_size=20) or [(b"m", 1.0)]
            if m.chance():
                value[0] = (value[0][0], float("nan"))
        elif kind == "hash":
            value = m.many(st.tuples(member, member), key=lambda p: p[0],
                           max_size=20) or [(b"f", b"v")]
            timed = draw(st.lists(st.sampled_from([f for f, _ in value]), unique=True))
            bad_ttl = st.sampled_from([0, -1, 2**48])
            ttls = {f: m.pick(_FIELD_FUTURE_MS, bad_ttl) for f in timed} or None
        elif kind == "stream":
            value = _hostile_stream(m)
        else:
            indexes = m.many(st.integers(0, 40) | st.just(2**64 - 2), max_size=6) or [0]
            if indexes != sorted(set(indexes)) and not m.chance(4):
                indexes = sorted(set(indexes))
            value = [(i, draw(member)) for i in indexes]
        entry = Entry(db, key, kind, value, expire, field_expire_at_ms=ttls,
                      idle_s=m.pick(st.none() | st.integers(0, 2**63 - 1), _bad_ints),
                      freq=m.pick(st.none() | st.integers(0, 255), st.sampled_from([-1, 256])))
        if kind == "array":
            entry.array_next_insert_index = m.pick(st.none() | st.integers(1, 2**64 - 1),
                                                   st.sampled_from([0, 2**64]))
        if (entry.db, entry.key) in {(e.db, e.key) for e in out} and not m.chance(4):
            continue
        out.append(entry)
    return sorted(out, key=lambda e: e.db if isinstance(e.db, int) else 0), m.hostile


def _as_loaded(entry: Entry, target) -> dict:
    """What the server holds of a written key, as :func:`_comparable` compares it, without the
    LRU/LFU data (kept only under a maxmemory policy), groups and consumers in any order and,
    for streams before type 19, with the metadata the loader derives (their loss is
    reported)."""
    if entry.type == "stream" and target.stream_type < C.RDB_TYPE_STREAM_LISTPACKS_2:
        s = entry.value
        entry = replace(entry, value=replace(s, first_id=s.entries[0].id if s.entries else (0, 0),
                                             max_deleted_id=(0, 0), entries_added=s.length))
    d = _comparable(replace(entry, idle_s=None, freq=None), target.field_ttl_types is not None,
                    target.stream_type)
    if entry.type == "stream":
        # groups and consumers are rax maps, saved in name order
        d["value"].pop("idmp", None)
        d["value"]["groups"].sort(key=lambda g: json.dumps(g["name"]))
        for g in d["value"]["groups"]:
            g.pop("nacked", None)
            g["consumers"].sort(key=lambda c: json.dumps(c["name"]))
    return d


def _writer_against_server(spec, data: tuple[list[Entry], bool]) -> None:
    entries, hostile = data
    target = get_target(SERVER_TARGETS[spec.name])
    with tempfile.TemporaryDirectory(prefix="rdbtools-hostile-") as tmp:
        out = Path(tmp) / "model.rdb"
        try:
            result = write_rdb(entries, out, target)
        except EncodeError as e:
            assert hostile, f"a clean model was refused: {e}"
            # the message names a key of the model
            assert any(str(e).startswith(f"db {x.db} key {x.key[:64]!r}") or
                       f"cannot hold db {x.db} key {x.key[:64]!r}" in str(e) for x in entries), e
            assert not out.exists()
            return
        dropped = {(loss.db, loss.key) for loss in result.losses if loss.dropped}
        expected = {(e.db, e.key): _as_loaded(e, target) for e in entries
                    if (e.db, e.key) not in dropped
                    and (e.expire_at_ms is None or e.expire_at_ms > _NOW_MS)}
        with RedisServer(spec, load_rdb=out) as srv:
            with open_rdb(srv.save()) as rdb:
                loaded = {(e.db, e.key): _as_loaded(e, target) for e in rdb.iter_entries()}
    assert loaded == expected


_HOSTILE_SPECS = [pytest.param(s, id=s.name) for s in SERVER_SPECS if s.name in SERVER_TARGETS]


@pytest.mark.server
@pytest.mark.parametrize("spec", _HOSTILE_SPECS)
@settings(max_examples=live_examples(4), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=hostile_models())
def test_hostile_models_are_refused_or_load_identically(spec, data):
    """Random models with duplicates and out-of-range values: the writer refuses them with an
    EncodeError naming a key, or writes a file the real target server loads holding exactly
    the model (minus reported losses and keys expired before the load); a clean model is
    always written."""
    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    _writer_against_server(spec, data)


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.parametrize("spec", _HOSTILE_SPECS)
@settings(max_examples=live_examples(60), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=hostile_models())
def test_hostile_models_are_refused_or_load_identically_slow(spec, data):
    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    _writer_against_server(spec, data)
