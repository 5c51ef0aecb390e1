"""The RDB writer: blob encoders equal to the grammars, model -> write -> read round trips for
every target, same-version rewrites of server-written files, losses, and the backbone: every
corpus file converted for every installed server, loaded by that real server and compared
key by key with the ground truth."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdbtools import open_rdb
from rdbtools.ops.convert import convert
from rdbtools.output.dump import entry_to_dict, iter_dump, write_jsonl
from rdbtools.errors import EncodeError
from rdbtools.rdb.filters import KeyFilter
from rdbtools.format.intset import build_intset
from rdbtools.format.listpack import build_listpack
from rdbtools.format.ziplist import build_ziplist
from rdbtools.model import (Entry, Function, ModuleValue, RawValue, Stream, StreamConsumer,
                            StreamEntry, StreamGroup, StreamPendingEntry)
from rdbtools.rdb.targets import get_target, target_names
from rdbtools.rdb.encoders import encode_intset, encode_listpack, encode_ziplist
from rdbtools.rdb.writer import (dump_payload,
                             write_rdb)
from servers import SERVER_SPECS, RedisServer, probe_server, run_check_rdb
from truth import compare_entries, expected_after_write, truth_bytes

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
TRUTH_RDBS = sorted(p for p in CORPUS.glob("*/**/rdb/*.rdb") if p.with_suffix(".json").exists()) \
    if CORPUS.is_dir() else []
NAMED = ["redis-6.2", "redis-7.0", "redis-7.2", "redis-7.4", "redis-8.2", "valkey-8.1",
         "valkey-9.1"]


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
sizes = st.sampled_from([0, 1, 3, 20, 130, 600])


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
        groups.append(StreamGroup(name, last, draw(st.none() | st.integers(0, 10**6)), pel,
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
    for bad in ("redis-5.0", "rdb-13", "8"):
        with pytest.raises(ValueError):
            get_target(bad)
    with pytest.raises(ValueError, match="unknown encoding threshold"):
        get_target("redis-7.0", {"hash-max-foo": 1})


@pytest.mark.parametrize("target, expected", [
    ("redis-6.2", {"h": 13, "z": 12, "s": 2, "i": 11, "l": 14, "x": 15}),
    ("redis-7.0", {"h": 16, "z": 17, "s": 2, "i": 11, "l": 18, "x": 19}),
    ("redis-7.2", {"h": 16, "z": 17, "s": 20, "i": 11, "l": 18, "x": 21}),
    ("redis-7.4", {"h": 25, "z": 17, "s": 20, "i": 11, "l": 18, "x": 21}),
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


def test_dump_payload_matches_redis():
    # FORMATS.md §5: DUMP of "bar" at RDB 12
    entry = Entry(0, b"k", "string", b"bar")
    assert dump_payload(entry, "redis-7.4").hex() == "0003626172" "0c00" "2dc87da0144c635e"


# -- server-written files ----------------------------------------------------------------------

pytestmark_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")


def _source_target(path: Path) -> str:
    with open_rdb(path, values="sizes") as rdb:
        return "rdb-80" if rdb.valkey else f"rdb-{rdb.version}"


@pytestmark_corpus
@pytest.mark.parametrize("path", TRUTH_RDBS, ids=_id)
def test_same_version_rewrite(path: Path):
    """Same records; on the fast path the value bytes are the server's own."""
    raw = io.BytesIO()
    result = convert(path, raw, to="rdb")
    assert result.losses == [] and result.raw_copies == result.keys
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
    assert [e.rdb_type for e in ours] == [t for t, _ in spans]
    assert all(t in types or t == 7 for t, _ in spans)
    src = path.read_bytes()
    with open_rdb(path) as a:
        originals = [src[e.offset:e.offset + e.size] for e in a.iter_entries()]
    data = raw.getvalue()
    copies = [data[e.offset:e.offset + e.size] for e in ours]
    # the record bytes may differ only in the expiry/LRU prefix order; the value is verbatim
    for o, c in zip(originals, copies):
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
                  "valkey-8.1.8": "valkey-8.1", "valkey-9.1.2": "valkey-9.1"}
BUILTIN_MODULES = {"redis-8.2.3": {"vectorset"}}
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
    result = convert(path, out, target=SERVER_TARGETS[spec.name],
                     modules=BUILTIN_MODULES.get(spec.name, ()))
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
    problems = compare_entries(entries, expected_after_write(truth, result, ours, saved, same_version),
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
