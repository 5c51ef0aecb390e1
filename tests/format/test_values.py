"""Value grammars per RDB type, DUMP payloads (FORMATS.md §5 and real ones from the corpus),
and whole real RDB files parsed with the file grammar."""

from __future__ import annotations

import base64
import json
import math

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.format import constants as C
from rdbtools.rdb.blobs import decode_intset, decode_listpack, decode_ziplist, decode_zipmap
from rdbtools.format.listpack import listpack_elements
from rdbtools.format.records import RdbHeader, rdb_file_grammar
from rdbtools.format.values import dump_payload_grammar, value_grammar
from rdbtools.format.ziplist import ziplist_elements

from .helpers import CORPUS, check_grammar, corpus_file, hexdata, needs_corpus

SAMPLES = [
    (C.RDB_TYPE_LIST, """
        02        # 2 elements
        01 61     # "a"
        c0 07     # "7" (int8)
     """, ListContainer([b"a", b"7"])),
    (C.RDB_TYPE_ZSET, """
        02              # 2 members
        01 61           # "a"
        03 302e35       # ASCII score "0.5"
        01 62           # "b"
        fe              # +inf
     """, ListContainer([Container(member=b"a", score=0.5), Container(member=b"b", score=math.inf)])),
    (C.RDB_TYPE_HASH, """
        01        # 1 pair
        01 66     # field "f"
        01 76     # value "v"
     """, ListContainer([Container(field=b"f", value=b"v")])),
    (C.RDB_TYPE_ZSET_2, """
        01                 # 1 member
        01 61              # "a"
        000000000000f0bf   # -1.0, f64 LE
     """, ListContainer([Container(member=b"a", score=-1.0)])),
    (C.RDB_TYPE_LIST_QUICKLIST_2, """
        02                           # 2 nodes
        02                           # PACKED
        0c 0c00000002008161020101ff  # listpack string ["a", 1]
        01                           # PLAIN
        03 78797a                    # raw element "xyz"
     """, ListContainer([Container(container=2, data=bytes.fromhex("0c00000002008161020101ff")),
                         Container(container=1, data=b"xyz")])),
    (C.RDB_TYPE_HASH_METADATA, """
        e8030000 00000000   # min_expire 1000, u64 LE
        02                  # 2 fields
        01                  # ttl 1 -> expires at 1 + 1000 - 1
        01 61 c0 01         # "a" = "1" (int8)
        00                  # ttl 0: no expiry
        01 62 c0 02         # "b" = "2" (int8)
     """, Container(min_expire=1000, fields=ListContainer([
        Container(ttl=1, field=b"a", value=b"1"), Container(ttl=0, field=b"b", value=b"2")]))),
    (C.RDB_TYPE_HASH_LISTPACK_EX, """
        e8030000 00000000            # min_expire
        0c 0c00000002008161020101ff  # listpack string
     """, Container(min_expire=1000, listpack=bytes.fromhex("0c00000002008161020101ff"))),
]


@pytest.mark.parametrize("rdb_type,text,obj", SAMPLES)
def test_value_samples(rdb_type, text, obj):
    check_grammar(value_grammar(rdb_type, 12), hexdata(text), obj)


def test_valkey_hash_2():
    data = hexdata("""
        02                      # 2 fields
        01 61 c0 01             # "a" = "1" (int8)
        ffffffffffffffff        # expiry -1: none
        01 62 c0 02             # "b" = "2" (int8)
        e803000000000000        # expiry 1000 ms
    """)
    obj = ListContainer([Container(field=b"a", value=b"1", expire_ms=-1),
                         Container(field=b"b", value=b"2", expire_ms=1000)])
    check_grammar(value_grammar(22, 80), data, obj)
    check_grammar(value_grammar(22, 11, valkey=True), data, obj)
    # the same code means HASH_METADATA_PRE_GA in a Redis file
    assert value_grammar(22, 12) is not value_grammar(22, 80)


def test_blob_type_with_parsed_blob():
    g = value_grammar(C.RDB_TYPE_SET_INTSET, 9, parse_blobs=True)
    data = hexdata("""
        0c                          # string of 12 bytes
        02000000 02000000 0100 0200 # intset [1, 2]
    """)
    check_grammar(g, data, Container(encoding=2, length=2, contents=[1, 2]), compiled=False)


def test_unknown_and_strict_types():
    with pytest.raises(KeyError):
        value_grammar(8)
    with pytest.raises(KeyError):
        value_grammar(C.RDB_TYPE_SET_LISTPACK, 9, strict=True)
    assert value_grammar(C.RDB_TYPE_SET_LISTPACK, 9) is not None


@pytest.mark.parametrize("text,version,value", [
    # Redis docs: DUMP of integer 10 at RDB 9
    ("""00                 # type STRING
        c0 0a              # int8 10
        0900               # RDB version 9, u16 LE
        be6d06895a28000a   # CRC64, LE""", 9, b"10"),
    ("""00                 # type STRING
        03 626172          # "bar"
        0c00               # RDB version 12
        2dc87da0144c635e   # CRC64""", 12, b"bar"),
])
def test_dump_payload_examples(text, version, value):
    data = hexdata(text)
    parsed = dump_payload_grammar(version).parse(data)
    assert parsed.rdb_type == 0 and parsed.value == value and parsed.rdb_version == version
    check_grammar(dump_payload_grammar(version), data, parsed)


def test_dump_payload_truncated():
    with pytest.raises(ConstructError):
        dump_payload_grammar(9).parse(bytes.fromhex("00c00a0900be6d06895a2800"))


# --- corpus ----------------------------------------------------------------------------------

_WALKERS = {
    C.RDB_TYPE_HASH_ZIPMAP: decode_zipmap, C.RDB_TYPE_LIST_ZIPLIST: decode_ziplist,
    C.RDB_TYPE_SET_INTSET: decode_intset, C.RDB_TYPE_ZSET_ZIPLIST: decode_ziplist,
    C.RDB_TYPE_HASH_ZIPLIST: decode_ziplist, C.RDB_TYPE_HASH_LISTPACK: decode_listpack,
    C.RDB_TYPE_ZSET_LISTPACK: decode_listpack, C.RDB_TYPE_SET_LISTPACK: decode_listpack,
}


def _elements(rdb_type, parsed):
    if rdb_type == C.RDB_TYPE_SET_INTSET:
        return list(parsed.contents)
    if rdb_type == C.RDB_TYPE_HASH_ZIPMAP:
        return [x for e in parsed.entries for x in (e.key, e.value)]
    if "zltail" in parsed:
        return ziplist_elements(parsed)
    return listpack_elements(parsed)


def _dump_cases():
    if not CORPUS.is_dir():
        return []
    cases = []
    for truth in sorted(CORPUS.glob("*/rdb/dump*.json")) + sorted(
            CORPUS.glob("*/with-modules/rdb/dump*.json")):
        doc = json.loads(truth.read_text())
        for keys in doc["dbs"].values():
            for k in keys:
                if "dump_b64" in k:
                    cases.append(pytest.param(doc["rdb_version"], doc["magic"] == "VALKEY", k,
                                              id=f"{truth.parent.parent.name}/{truth.name}:"
                                                 f"{str(k['key'])[:30]}"))
    return cases


@needs_corpus
@pytest.mark.parametrize("version,valkey,record", _dump_cases())
def test_corpus_dump_payloads(version, valkey, record):
    payload = base64.b64decode(record["dump_b64"])
    parsed = dump_payload_grammar(version, valkey).parse(payload)
    assert parsed.rdb_type == record["rdb_type"]
    if parsed.rdb_type == C.RDB_TYPE_STRING and isinstance(record["value"], str):
        assert parsed.value == record["value"].encode()
    walker = _WALKERS.get(parsed.rdb_type)
    if walker is not None:
        blob_parsed = value_grammar(parsed.rdb_type, version, valkey, parse_blobs=True)
        full = dump_payload_grammar(version, valkey, parse_blobs=True).parse(payload)
        assert walker(parsed.value) == _elements(parsed.rdb_type, full.value)
        assert blob_parsed is not None
    if parsed.rdb_type == C.RDB_TYPE_LIST_QUICKLIST_2:
        full = dump_payload_grammar(version, valkey, parse_blobs=True).parse(payload)
        elements = []
        for node in full.value:
            if node.container == C.QUICKLIST_NODE_CONTAINER_PACKED:
                elements += [e if isinstance(e, bytes) else str(e).encode()
                             for e in listpack_elements(node.data)]
            else:
                elements.append(node.data)
        if all(isinstance(v, str) for v in record["value"]):
            assert elements == [v.encode() for v in record["value"]]


def _rdb_files():
    if not CORPUS.is_dir():
        return []
    return [pytest.param(p, id=str(p.relative_to(CORPUS))) for p in sorted(CORPUS.glob("**/*.rdb"))]


@needs_corpus
@pytest.mark.parametrize("path", _rdb_files())
def test_corpus_whole_files(path):
    data = path.read_bytes()
    header = RdbHeader.parse(data[:9])
    # legacy/redis_40_with_module.rdb carries junk after its (zero) checksum
    g = rdb_file_grammar(header.version, header.magic == b"VALKEY", parse_blobs=True,
                         allow_trailing=True)
    parsed = g.parse(data)
    assert parsed.records[-1].opcode == C.RDB_OPCODE_EOF
    if "legacy" not in path.parts:
        assert parsed.trailing == b""


# --- Redis 8.6 - 8.10 (RDB 13-15) ------------------------------------------------------------

def test_gcra():
    # Type 33 is compiled out of every default build (FORMATS-RDB13-15.md §7): no server writes
    # it, so these bytes are hand-built from rdbSaveObject's OBJ_GCRA branch (rdbSaveLen(TaT)).
    g = value_grammar(C.RDB_TYPE_GCRA, 15)
    check_grammar(g, hexdata("81 0006396f49a58000  # TaT 1752000000000000 us, 64-bit length (BE)"),
                  1752000000000000)
    check_grammar(g, hexdata("81 7fffffffffffffff  # LLONG_MAX, the highest"), 2**63 - 1)
    with pytest.raises(ConstructError, match="GCRA TaT 9223372036854775808"):
        g.parse(hexdata("81 8000000000000000"))  # > LLONG_MAX: "Failed loading GCRA TaT value"
    with pytest.raises(KeyError):
        value_grammar(C.RDB_TYPE_GCRA, 80)  # Valkey has no type 33


@pytest.mark.parametrize("rdb_type,version", [(26, 13), (27, 14), (28, 14), (29, 15), (32, 15),
                                              (33, 14)])
def test_new_types_need_their_version_when_strict(rdb_type, version):
    assert value_grammar(rdb_type, version, strict=True) is not None
    with pytest.raises(KeyError):
        value_grammar(rdb_type, version - 1, strict=True)


KEY_META_STRING = hexdata("""
    01 09f5c428 05 01 76 00   # KEY_META body: 1 class, KMT1 v1, STRING "v", EOF
""")


def test_dump_payload_with_key_meta():
    # createDumpPayload: rdbSaveKeyMetadata's 0xF3 prefix, then type and value as usual
    data = b"\xf3" + KEY_META_STRING + hexdata("00 0161  0f00  0000000000000000")
    g = dump_payload_grammar(15)
    parsed = g.parse(data)
    assert parsed.key_meta[0].class_spec.class_name == "KMT1"
    assert (parsed.rdb_type, parsed.value) == (0, b"a")
    check_grammar(g, data, parsed, compiled_build=False)
    # no prefix: key_meta None; in a Valkey payload 0xF3 is no prefix at all
    assert g.parse(data[len(KEY_META_STRING) + 1:]).key_meta is None
    with pytest.raises(ConstructError):
        dump_payload_grammar(80).parse(data)


MINIMAL_RDB_13_KEY_META = hexdata(f"""
    5245444953 30303133     # "REDIS0013"
    fe 00                   # SELECTDB 0
    fc 0008a8e8b3030000     # EXPIRETIME_MS first,
    f3 {KEY_META_STRING.hex()}   # then KEY_META, right before the type byte
    00 01 6b 01 76          # STRING "k" = "v"
    ff 0000000000000000     # EOF, checksum off
""")


def test_file_with_key_meta():
    g = rdb_file_grammar(13)
    parsed = g.parse(MINIMAL_RDB_13_KEY_META)
    record = parsed.records[2]
    assert record.opcode == C.RDB_OPCODE_KEY_META
    assert (record.body.rdb_type, record.body.key, record.body.value) == (0, b"k", b"v")
    assert record.body.key_meta[0].class_spec == Container(class_name="KMT1", version=1, flags=1)
    check_grammar(g, MINIMAL_RDB_13_KEY_META, parsed, compiled_build=False)


@pytest.mark.parametrize("after", ["fe 00", f"f3 {KEY_META_STRING.hex()} 00"])
def test_key_meta_must_precede_a_value_type(after):
    # rdbResolveKeyType: the byte after the metadata must be an object type
    data = MINIMAL_RDB_13_KEY_META.replace(bytes.fromhex("0001 6b01 76"), hexdata(after), 1)
    with pytest.raises(ConstructError):
        rdb_file_grammar(13).parse(data)


@needs_corpus
def test_corpus_compiled_grammar_rdb15():
    # every RDB 13-15 structure (KEY_META, 242 records and the template table, 27, 28, 30, 32)
    # through construct's compiled parser, which runs the context-dependent pieces as linked
    # instances: the same records as the interpreted grammar
    data = corpus_file("redis-8.10.2/rdb/dump-keymeta.rdb").read_bytes()
    g = rdb_file_grammar(15, parse_blobs=True, allow_trailing=True)
    assert g.compile().parse(data) == g.parse(data)
