"""Value grammars per RDB type, DUMP payloads (FORMATS.md §5 and real ones from the corpus),
and whole real RDB files parsed with the file grammar."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.format import constants as C
from rdbtools.rdb.blobs import decode_intset, decode_listpack, decode_ziplist, decode_zipmap
from rdbtools.format.listpack import listpack_elements
from rdbtools.format.records import RdbHeader, rdb_file_grammar
from rdbtools.format.values import dump_payload_grammar, value_grammar
from rdbtools.format.ziplist import ziplist_elements

from .helpers import check_grammar, hexdata

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(),
                                  reason=f"shared corpus not found at {CORPUS}")

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
