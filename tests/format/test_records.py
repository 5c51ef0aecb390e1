"""Header and opcode record grammars, and the whole-file grammar on FORMATS.md §5's file."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.format.records import (
    AuxRecord,
    ExpireTimeMsRecord,
    ExpireTimeRecord,
    FreqRecord,
    Function2Record,
    IdleRecord,
    ModuleAuxRecord,
    RdbHeader,
    ResizeDbRecord,
    SelectDbRecord,
    SlotInfoRecord,
    eof_record,
    rdb_file_grammar,
)

from .helpers import check_grammar, hexdata


@pytest.mark.parametrize("data,magic,version", [
    (b"REDIS0011", b"REDIS", 11),  # "REDIS%04d"
    (b"REDIS0001", b"REDIS", 1),
    (b"VALKEY080", b"VALKEY", 80),  # Valkey 9.0: "VALKEY%03d" when version > 79
])
def test_header(data, magic, version):
    check_grammar(RdbHeader, data, Container(magic=magic, version=version), compiled_build=False)


@pytest.mark.parametrize("data", [b"RADIS0011", b"REDIS00x1", b"REDIS001"])
def test_bad_header(data):
    with pytest.raises(ConstructError):
        RdbHeader.parse(data)


RECORDS = [
    (AuxRecord, """
        0a 72656469732d62697473   # key "redis-bits"
        c0 40                     # value: int8-encoded 64
     """, Container(key=b"redis-bits", value=b"64")),
    (SelectDbRecord, "0f  # dbid 15", Container(dbid=15)),
    (ResizeDbRecord, """
        41 2c   # db_size 300 (14-bit length)
        01      # expires_size 1
     """, Container(db_size=300, expires_size=1)),
    (ExpireTimeRecord, "00 e1 f5 05  # 100000000 s, int32 LE", Container(expire=100000000)),
    (ExpireTimeMsRecord, "03 d8 c3 2c bb 03 00 00  # 4102444800003 ms, int64 LE",
     Container(expire_ms=4102444800003)),
    (IdleRecord, "40 78  # 120 s, length-encoded", Container(lru_idle=120)),
    (FreqRecord, "05  # LFU counter", Container(lfu_freq=5)),
    (Function2Record, "10 23216c7561206e616d653d6d796c6962  # '#!lua name=mylib'",
     Container(library_code=b"#!lua name=mylib")),
    (SlotInfoRecord, """
        71 23   # slot 12579 (14-bit)
        02      # keys in slot
        00      # expires in slot
     """, Container(slot_id=12579, slot_size=2, expires_slot_size=0)),
    (ModuleAuxRecord, """
        81 b5 eb 2d ff fa dd 6c 01   # module id: "test__rdb", encver 1
        02                           # UINT opcode
        02                           # when = 2 (after the keyspace)
        02 01                        # UINT 1
        05 07 676c6f62616c32         # STRING "global2"
        00                           # EOF opcode
     """, Container(module_id=0xB5EB2DFFFADD6C01, when_opcode=2, when=2, items=ListContainer([
        Container(opcode=2, value=1), Container(opcode=5, value=b"global2"),
        Container(opcode=0, value=None)]))),  # legacy/redis_60_with_module_aux.rdb
]


@pytest.mark.parametrize("grammar,text,obj", RECORDS)
def test_records(grammar, text, obj):
    check_grammar(grammar, hexdata(text), obj)


def test_module_aux_id_decodes():
    from rdbtools.format.module import decode_module_id
    assert decode_module_id(0xB5EB2DFFFADD6C01) == ("test__rdb", 1)


def test_eof_checksum_only_from_version_5():
    check_grammar(eof_record(5), bytes(8), Container(checksum=0))
    check_grammar(eof_record(4), b"", Container())


MINIMAL_RDB_11 = hexdata("""
    52454449 53 30303131   # "REDIS0011"
    fe 00                  # SELECTDB 0
    fb 01 00               # RESIZEDB: 1 key, 0 expires
    00                     # type STRING
    03 666f6f              # key "foo"
    03 626172              # value "bar"
    ff                     # EOF
    8d86b94c676eab95       # CRC64, LE
""")


def test_minimal_file():
    obj = Container(header=Container(magic=b"REDIS", version=11), records=ListContainer([
        Container(opcode=0xFE, body=Container(dbid=0)),
        Container(opcode=0xFB, body=Container(db_size=1, expires_size=0)),
        Container(opcode=0, body=Container(key_meta=None, rdb_type=0, key=b"foo", value=b"bar")),
        Container(opcode=0xFF, body=Container(checksum=0x95AB6E674CB9868D)),
    ]))
    check_grammar(rdb_file_grammar(11), MINIMAL_RDB_11, obj, compiled_build=False)


def test_file_trailing_bytes():
    with pytest.raises(ConstructError):
        rdb_file_grammar(11).parse(MINIMAL_RDB_11 + b"x")
    assert rdb_file_grammar(11, allow_trailing=True).parse(MINIMAL_RDB_11 + b"x").trailing == b"x"


def test_opcodes_by_family():
    from rdbtools.format import constants as C
    from rdbtools.format.records import HashTemplateRecord, KeyMetaRecord, opcode_records

    redis = opcode_records(15)
    assert redis[C.RDB_OPCODE_HASH_TEMPLATE] is HashTemplateRecord
    assert redis[C.RDB_OPCODE_KEY_META] is KeyMetaRecord
    # Valkey 8.1+ uses 243 for SLOT_IMPORT (and has no 242): not Redis's KEY_META
    for valkey in (opcode_records(80), opcode_records(11, valkey=True)):
        assert C.RDB_OPCODE_KEY_META not in valkey and C.RDB_OPCODE_HASH_TEMPLATE not in valkey
