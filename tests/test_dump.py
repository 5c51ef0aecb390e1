"""rdbtools.output.dump: Entry <-> dict round trips, the exact JSON shape, writers and reading back."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdbtools.output import dump
from rdbtools.output.dump import dict_to_entry, entry_to_dict, iter_dump, module_type_id, write_json, write_jsonl
from rdbtools.errors import FormatError
from rdbtools.format.module import KEY_META_ALPHABET, MODULE_ID_ALPHABET, encode_key_meta_class
from rdbtools.model import (
    Entry,
    KeyMeta,
    ModuleValue,
    Stream,
    StreamConsumer,
    StreamEntry,
    StreamGroup,
    StreamIdmp,
    StreamIdmpProducer,
    StreamPendingEntry,
)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

# --- strategies ---------------------------------------------------------------------------

blobs = st.one_of(st.binary(max_size=24), st.text(max_size=12).map(lambda s: s.encode("utf-8")))
# the ranges an RDB can hold (docs/dump-format.md, "Ranges"): the dump reader refuses others
u64 = st.integers(min_value=0, max_value=2**64 - 1)
ms = st.integers(min_value=-(2**63), max_value=2**63 - 1)
ids = st.tuples(u64, u64)
scores = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 5e-324]))
module_names = st.text(alphabet=MODULE_ID_ALPHABET, min_size=9, max_size=9)


@st.composite
def streams(draw):
    entries = draw(st.lists(st.builds(StreamEntry, ids, st.lists(st.tuples(blobs, blobs), max_size=3)), max_size=4))
    groups = draw(
        st.lists(
            st.builds(
                StreamGroup,
                blobs,
                ids,
                st.one_of(st.none(), st.integers(0, 2**64 - 2)),
                st.lists(st.builds(StreamPendingEntry, ids, st.one_of(st.none(), blobs), ms, u64), max_size=3),
                st.lists(st.builds(StreamConsumer, blobs, ms, st.one_of(st.none(), ms), st.lists(ids, max_size=3)),
                         max_size=3),
                st.one_of(st.none(), st.lists(ids, max_size=3)),  # NACK zone (type 27)
            ),
            max_size=3,
        )
    )  # fmt: skip
    idmp = draw(st.one_of(st.none(), st.builds(
        StreamIdmp, st.integers(1, 86400), st.integers(1, 10000),
        st.lists(st.builds(StreamIdmpProducer, blobs, st.lists(st.tuples(blobs, ids), max_size=3)), max_size=3),
        u64, u64)))  # fmt: skip
    return Stream(entries, draw(u64), draw(ids), draw(ids), draw(ids), draw(u64), groups, idmp)


@st.composite
def key_metas(draw):
    name = draw(st.text(alphabet=KEY_META_ALPHABET, min_size=4, max_size=4))
    version, flags = draw(st.integers(0, 31)), draw(st.integers(0, 7))
    spec = encode_key_meta_class(name, version, flags).to_bytes(4, "little")
    return KeyMeta(name, version, flags, spec + draw(st.binary(max_size=12)) + b"\x00")


@st.composite
def modules(draw):
    name, encver = draw(module_names), draw(st.integers(0, 1023))
    return ModuleValue(name, encver, module_type_id(name, encver), draw(st.binary(max_size=40)))


values_by_type = {
    "string": blobs,
    "list": st.lists(blobs, max_size=6),
    "set": st.lists(blobs, max_size=6),
    "zset": st.lists(st.tuples(blobs, scores), max_size=6),
    "hash": st.lists(st.tuples(blobs, blobs), max_size=6),
    "stream": streams(),
    "module": modules(),
    "array": st.lists(st.tuples(st.integers(0, 2**64 - 2), blobs), max_size=6).map(lambda items: sorted(dict(items).items())),
    "gcra": st.integers(0, 2**63 - 1),
}


@st.composite
def entries(draw, types=tuple(values_by_type)):
    t = draw(st.sampled_from(types))
    value = draw(values_by_type[t])
    field_ttls = None
    if t == "hash" and value and draw(st.booleans()):
        field_ttls = {f: draw(ms) for f, _ in value[: draw(st.integers(1, len(value)))]}
    length = (value.length if t == "stream" else len(value.raw) if t == "module" else 1 if t == "gcra"
              else len(value))
    return Entry(
        db=draw(st.integers(0, 2**31 - 2)),
        key=draw(blobs),
        type=t,
        value=value,
        expire_at_ms=draw(st.one_of(st.none(), ms)),
        rdb_type=draw(st.integers(0, 255)),
        idle_s=draw(st.one_of(st.none(), u64)),
        freq=draw(st.one_of(st.none(), st.integers(0, 255))),
        field_expire_at_ms=field_ttls,
        length=length,
        array_next_insert_index=draw(st.one_of(st.none(), st.integers(1, 2**64))) if t == "array" else None,
        key_meta=draw(st.one_of(st.none(), st.lists(key_metas(), min_size=1, max_size=7))),
    )


def same(a: Entry, b: Entry) -> bool:
    """Equality that treats NaN scores as equal (and keeps -0.0 distinct from 0.0)."""
    if a.type == "zset":
        if len(a.value) != len(b.value):
            return False
        for (m1, s1), (m2, s2) in zip(a.value, b.value):
            if m1 != m2 or not (math.isnan(s1) and math.isnan(s2) or (s1 == s2 and math.copysign(1, s1) == math.copysign(1, s2))):
                return False
        a = Entry(**{**{f: getattr(a, f) for f in a.__slots__}, "value": None})
        b = Entry(**{**{f: getattr(b, f) for f in b.__slots__}, "value": None})
    return a == b


# --- round trips --------------------------------------------------------------------------


@given(entries())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip_dict(entry):
    back = dict_to_entry(entry_to_dict(entry))
    assert same(back, entry)


@given(st.lists(entries(), max_size=5))
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip_jsonl_and_json_bytes(batch):
    for writer in (write_jsonl, write_json):
        buf = io.BytesIO()
        assert writer(batch, buf) == len(batch)
        back = list(iter_dump(io.BytesIO(buf.getvalue())))
        assert len(back) == len(batch)
        assert all(same(x, y) for x, y in zip(back, batch))


@given(st.lists(entries(), max_size=4))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_orjson_and_json_same_semantics(batch):
    """The three renderers (compiled, orjson, json) write the same JSON values."""
    outputs = []
    for compiled, orjson in ((dump._json_entry, dump._orjson), (None, dump._orjson), (None, None)):
        with pytest.MonkeyPatch.context() as m:
            m.setattr(dump, "_json_entry", compiled)
            m.setattr(dump, "_orjson", orjson)
            buf = io.BytesIO()
            write_jsonl(batch, buf)
        outputs.append([json.loads(line) for line in buf.getvalue().splitlines()])
    assert outputs[0] == outputs[1] == outputs[2]


needs_compiled_json = pytest.mark.skipif(
    dump._json_entry is None, reason="the compiled renderer is off (RDBTOOLS_PUREPYTHON or no build)",
)


@needs_compiled_json
@given(entries())
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_compiled_json_is_byte_identical_to_json(entry):
    """json_entry() (rdbtools/rdb/csrc/render_json.c) writes exactly what the stdlib json module writes for
    entry_to_dict(entry), and declines (None) only for module values and integers beyond 64
    bits (which orjson refuses too)."""
    compiled = dump._json_entry(entry)
    d = entry_to_dict(entry)
    expected = dump._json_fallback(d)
    if compiled is None:
        assert entry.type == "module" or _has_int_beyond_64_bits(d)
    else:
        assert compiled == expected


def _has_int_beyond_64_bits(obj) -> bool:
    if isinstance(obj, bool):
        return False
    if isinstance(obj, int):
        return not -(2**63) <= obj < 2**64
    if isinstance(obj, dict):
        return any(_has_int_beyond_64_bits(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_int_beyond_64_bits(v) for v in obj)
    return False


@needs_compiled_json
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=20),
       st.lists(st.integers(-400, 400), max_size=20))
@settings(max_examples=300)
def test_compiled_json_scores_are_repr(scores, exponents):
    """Scores as repr() spells them (the stdlib json module's floats), across every decimal
    exponent; they read back to the same doubles, sign of zero included."""
    scores = scores + [float(f"1.2345e{e}") for e in exponents] + [float(f"1e{e}") for e in exponents]
    entry = Entry(0, b"z", "zset", [(b"m", s) for s in scores])
    out = dump._json_entry(entry)
    assert out == dump._json_fallback(entry_to_dict(entry))
    for (_, s), (_, back) in zip(entry.value, json.loads(out)["value"]):
        if isinstance(back, float):
            assert back == s and math.copysign(1, back) == math.copysign(1, s)


# --- exact shape -----------------------------------------------------------------------------


def test_shape_of_each_type():
    assert entry_to_dict(Entry(0, b"k", "string", b"\xff\x00", rdb_type=0)) == {
        "db": 0, "key": "k", "type": "string", "expire_at_ms": None, "rdb_type": 0, "value": {"b64": "/wA="},
    }  # fmt: skip
    d = entry_to_dict(Entry(3, b"z", "zset", [(b"a", 1.5), (b"b", math.inf), (b"c", -math.inf), (b"d", math.nan)],
                            expire_at_ms=1700000000000, rdb_type=17, idle_s=5, freq=3))  # fmt: skip
    assert d["value"] == [["a", 1.5], ["b", "inf"], ["c", "-inf"], ["d", "nan"]]
    assert (d["expire_at_ms"], d["idle_s"], d["freq"]) == (1700000000000, 5, 3)
    d = entry_to_dict(Entry(0, b"h", "hash", [(b"f", b"v"), (b"g", b"w")], rdb_type=25,
                            field_expire_at_ms={b"g": 1800000000000}))  # fmt: skip
    assert d["value"] == [["f", "v"], ["g", "w"]]
    assert d["field_expire_at_ms"] == [["g", 1800000000000]]
    stream = Stream(
        entries=[StreamEntry((1, 0), [(b"a", b"1")])], length=1, last_id=(5, 2), first_id=(1, 0),
        max_deleted_id=(3, 0), entries_added=4,
        groups=[StreamGroup(b"g", (1, 0), None, [StreamPendingEntry((1, 0), b"c", 10, 2)],
                            [StreamConsumer(b"c", 11, 12, [(1, 0)])])],
    )  # fmt: skip
    assert entry_to_dict(Entry(0, b"s", "stream", stream, rdb_type=21))["value"] == {
        "entries": [["1-0", ["a", "1"]]], "length": 1, "last_id": "5-2", "first_id": "1-0",
        "max_deleted_id": "3-0", "entries_added": 4,
        "groups": [{"name": "g", "last_id": "1-0", "entries_read": None,
                    "pending": [{"id": "1-0", "consumer": "c", "delivery_time_ms": 10, "delivery_count": 2}],
                    "consumers": [{"name": "c", "seen_time_ms": 11, "active_time_ms": 12, "pending": ["1-0"]}]}],
    }  # fmt: skip
    stream.idmp = StreamIdmp(100, 1000, [StreamIdmpProducer(b"p", [(b"i", (1, 0))]),
                                         StreamIdmpProducer(b"q", [])], 3, 1)
    stream.groups[0].nacked = [(2, 0)]
    d = entry_to_dict(Entry(0, b"s", "stream", stream, rdb_type=27))["value"]
    assert d["idmp"] == {"duration": 100, "max_size": 1000, "pids_tracked": 1, "iids_tracked": 1,
                         "iids_added": 3, "iids_duplicates": 1,
                         "producers": [{"pid": "p", "iids": [["i", "1-0"]]}, {"pid": "q", "iids": []}]}
    assert d["groups"][0]["nacked"] == ["2-0"]
    d = entry_to_dict(Entry(0, b"a", "array", [(0, b"x"), (2**64 - 2, b"\xff")], rdb_type=28,
                            array_next_insert_index=1))  # fmt: skip
    assert (d["value"], d["array_next_insert_index"]) == ([[0, "x"], [2**64 - 2, {"b64": "/w=="}]], 1)
    assert entry_to_dict(Entry(0, b"r", "gcra", 1700000000000000, rdb_type=33))["value"] == 1700000000000000
    # class KMT1 version 1 ALLOW_IGNORE: the corpus's 09 F5 C4 28
    meta = KeyMeta("KMT1", 1, 1, bytes.fromhex("09f5c428") + b"\x00")
    d = entry_to_dict(Entry(0, b"k", "string", b"v", key_meta=[meta]))
    assert d["key_meta"] == [{"class": "KMT1", "version": 1, "flags": 1, "raw": {"b64": "CfXEKAA="}}]
    assert dict_to_entry(d).key_meta == [meta]
    mid = module_type_id("ReJSON-RL", 3)
    d = entry_to_dict(Entry(0, b"m", "module", ModuleValue("ReJSON-RL", 3, mid, b"\x01\x02"), rdb_type=7))
    assert d["value"] == {"module": "ReJSON-RL", "encver": 3, "raw": {"b64": "AQI="}}
    assert dict_to_entry(d).value.module_id == mid


def test_module_type_id_matches_reader():
    from rdbtools.format.module import decode_module_id

    mid = module_type_id("MBbloom--", 2)
    assert decode_module_id(mid) == ("MBbloom--", 2)
    assert hex(module_type_id("ReJSON-RL", 3)) == "0x45e25238df912c03"


def test_lazy_values_are_drained():
    d = entry_to_dict(Entry(0, b"l", "list", iter([b"a", b"b"])))
    assert d["value"] == ["a", "b"]


def test_sizes_only_entry_keeps_length():
    d = entry_to_dict(Entry(0, b"l", "list", None, length=7))
    assert d["value"] is None and d["length"] == 7
    assert dict_to_entry(d).length == 7


def test_json_array_layout():
    buf = io.BytesIO()
    write_json([Entry(0, b"a", "string", b"1"), Entry(0, b"b", "string", b"2")], buf)
    assert buf.getvalue().startswith(b"[\n{") and buf.getvalue().endswith(b"}\n]\n")
    empty = io.BytesIO()
    write_json([], empty)
    assert empty.getvalue() == b"[]\n"
    assert list(iter_dump(io.BytesIO(b"[]\n"))) == []


def test_text_file_objects_work():
    buf = io.StringIO()
    write_jsonl([Entry(0, "é".encode(), "string", b"x")], buf)
    assert buf.getvalue() == '{"db":0,"key":"é","type":"string","expire_at_ms":null,"rdb_type":0,"value":"x"}\n'
    assert list(iter_dump(io.StringIO(buf.getvalue())))[0].key == "é".encode()


@pytest.mark.parametrize(
    "obj",
    [
        [],
        {"db": 0, "key": "k", "type": "nope", "value": None},
        {"db": 0, "key": {"b64": "!!"}, "type": "string", "value": "x"},
        {"db": 0, "key": 5, "type": "string", "value": "x"},
        {"db": "0", "key": "k", "type": "string", "value": "x"},
        {"key": "k", "type": "string", "value": "x"},
        {"db": 0, "key": "k", "type": "zset", "value": [["a", "lots"]]},
        {"db": 0, "key": "k", "type": "zset", "value": [["a"]]},
        {"db": 0, "key": "k", "type": "stream", "value": {"entries": []}},
        {"db": 0, "key": "k", "type": "stream", "value": {"entries": [["1", []]]}},
        {"db": 0, "key": "k", "type": "module", "value": {"module": "short", "encver": 0, "raw": ""}},
        {"db": 0, "key": "k", "type": "array", "value": [["0", "x"]]},
        {"db": 0, "key": "k", "type": "gcra", "value": "12"},
        # the class spec of raw (KMT1 v1 flags 1) disagrees with the class named
        {"db": 0, "key": "k", "type": "string", "value": "v",
         "key_meta": [{"class": "KMT2", "version": 1, "flags": 1, "raw": {"b64": "CfXEKAA="}}]},
        {"db": 0, "key": "k", "type": "string", "value": "v",
         "key_meta": [{"class": "KMT1", "version": 1, "flags": 1, "raw": {"b64": "CfXE"}}]},
    ],
)
def test_bad_dump_objects_raise_format_error(obj):
    with pytest.raises(FormatError):
        dict_to_entry(obj)


def test_bad_json_raises_format_error():
    with pytest.raises(FormatError, match="line 2"):
        list(iter_dump(io.BytesIO(b'{"db":0,"key":"a","type":"string","value":"x"}\n{oops\n')))


# --- real files ------------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus ../shared/corpus not present")
@pytest.mark.parametrize(
    "name", ["redis-6.0.9/rdb/dump.rdb", "redis-7.4.1/rdb/dump.rdb", "redis-7.4.1/with-modules/rdb/dump.rdb",
             "valkey-9.1.2/rdb/dump.rdb", "redis-8.6.2/rdb/dump-keymeta.rdb",
             "redis-8.10.2/rdb/dump-keymeta.rdb", "redis-8.10.2/rdb/dump.rdb"],
)  # fmt: skip
def test_corpus_round_trip(name):
    from rdbtools import open_rdb

    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    with open_rdb(path) as rdb:
        original = list(rdb.iter_entries())
    buf = io.BytesIO()
    write_jsonl(original, buf)
    back = list(iter_dump(io.BytesIO(buf.getvalue())))
    for a, b in zip(original, back):
        a.offset = a.size = 0
        # a listpackex hash whose TTLs were all removed (hfe:persisted) reads as {}: no TTL either
        a.field_expire_at_ms = a.field_expire_at_ms or None
        assert same(a, b), a.key
    assert len(back) == len(original)
