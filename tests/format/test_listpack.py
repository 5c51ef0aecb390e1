"""Listpack grammar: every encoding and its boundaries, backlen sizes (the 16383 quirk)."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.rdb.blobs import decode_listpack
from rdbtools.format.listpack import (
    Listpack,
    ListpackEntry,
    build_listpack,
    encode_backlen,
    listpack_container,
    listpack_elements,
)

from .helpers import check_grammar, hexdata

# FORMATS.md §4.3 example: "a", 1
LP_A_1 = hexdata("""
    0c000000    # total bytes, u32 LE
    0200        # element count, u16 LE
    81 61       # 10LLLLLL string of 1 byte: "a"
    02          # backlen: entry size 2
    01          # 0xxxxxxx 7-bit uint: 1
    01          # backlen 1
    ff          # end byte
""")


def test_formats_example():
    obj = Container(total_bytes=12, count=2, entries=ListContainer([
        Container(encoding="STR_6BIT", value=b"a", backlen=2),
        Container(encoding="UINT_7BIT", value=1, backlen=1),
    ]))
    check_grammar(Listpack, LP_A_1, obj)
    assert listpack_elements(Listpack.parse(LP_A_1)) == [b"a", 1]
    assert build_listpack([b"a", 1]) == LP_A_1


def test_empty_listpack():
    data = hexdata("""
        07000000    # total bytes
        0000        # no elements
        ff          # end
    """)
    check_grammar(Listpack, data, Container(total_bytes=7, count=0, entries=ListContainer()))


ENTRIES = [
    # (annotated hex of encoding+data+backlen, encoding, value)
    ("00 01", "UINT_7BIT", 0),  # 7-bit uint min
    ("7f 01", "UINT_7BIT", 127),  # 7-bit uint max
    ("c0 80 02", "INT_13BIT", 128),  # 110xxxxx yyyyyyyy: 13-bit, first non-7-bit
    ("cf ff 02", "INT_13BIT", 4095),  # 13-bit max
    ("d0 00 02", "INT_13BIT", -4096),  # 13-bit min (two's complement in 13 bits)
    ("df ff 02", "INT_13BIT", -1),
    ("f1 0010 03", "INT_16BIT", 4096),  # F1 + int16 LE
    ("f1 ffef 03", "INT_16BIT", -4097),
    ("f1 ff7f 03", "INT_16BIT", 32767),
    ("f2 008000 04", "INT_24BIT", 32768),  # F2 + int24 LE
    ("f2 ffff7f 04", "INT_24BIT", 2**23 - 1),
    ("f2 000080 04", "INT_24BIT", -(2**23)),
    ("f3 00008000 05", "INT_32BIT", 2**23),  # F3 + int32 LE
    ("f3 00000080 05", "INT_32BIT", -(2**31)),
    ("f4 0000008000000000 09", "INT_64BIT", 2**31),  # F4 + int64 LE
    ("f4 ffffffffffffff7f 09", "INT_64BIT", 2**63 - 1),
    ("f4 0000000000000080 09", "INT_64BIT", -(2**63)),
    ("80 01", "STR_6BIT", b""),  # empty string
    ("bf" + "78" * 63 + "40", "STR_6BIT", b"x" * 63),  # 6-bit max: entry size 64
    ("e040" + "78" * 64 + "42", "STR_12BIT", b"x" * 64),  # 1110LLLL LLLLLLLL
    ("e07e" + "78" * 126 + "01 80", "STR_12BIT", b"x" * 126),  # size 128: 2-byte backlen
    ("e07d" + "78" * 125 + "7f", "STR_12BIT", b"x" * 125),  # size 127: 1-byte backlen
    ("efff" + "78" * 4095 + "20 81", "STR_12BIT", b"x" * 4095),  # 12-bit max, size 4097
    ("f0 00100000" + "78" * 4096 + "20 85", "STR_32BIT", b"x" * 4096),  # F0 + u32 LE length
]


@pytest.mark.parametrize("hexstr,encoding,value", ENTRIES)
def test_entry_encodings(hexstr, encoding, value):
    data = bytes.fromhex(hexstr)
    parsed = ListpackEntry.parse(data)
    assert parsed.backlen == len(data) - len(encode_backlen(parsed.backlen))
    assert parsed.encoding == encoding and parsed.value == value
    assert ListpackEntry.build(parsed) == data
    assert ListpackEntry.compile().parse(data) == parsed
    # the writer picks the same encoding
    blob = build_listpack([value])
    assert blob[6:-1] == data
    assert decode_listpack(blob) == [value]


@pytest.mark.parametrize("size,expected", [
    (1, "01"),
    (127, "7f"),
    (128, "01 80"),
    (16382, "7f fe"),
    (16383, "00 ff ff"),  # strict "<": 16383 already takes 3 bytes
    (2097150, "7f ff fe"),
    (2097151, "00 ff ff ff"),
    (268435454, "7f ff ff fe"),
    (268435455, "00 ff ff ff ff"),
])
def test_backlen_sizes(size, expected):
    assert encode_backlen(size) == bytes.fromhex(expected)


def test_backlen_16383_quirk_in_a_listpack():
    # STR_12BIT can't reach 16383; a STR_32BIT entry of 5 + 16378 bytes can
    value = b"q" * 16378
    blob = build_listpack([value])
    assert blob[6 + 16383 : -1] == bytes.fromhex("00ffff")
    assert decode_listpack(blob) == [value]
    assert listpack_elements(Listpack.parse(blob)) == [value]
    # a two-byte backlen for 16383 (what a "<=" bug would write) is rejected
    bad = blob[:6] + blob[6 : 6 + 16383] + bytes.fromhex("7fff") + b"\xff"
    bad = (len(bad)).to_bytes(4, "little") + bad[4:]
    with pytest.raises(ConstructError):
        Listpack.parse(bad)


def test_unknown_count_65535():
    obj = listpack_container([1, 2])
    obj.count = 65535
    data = Listpack.build(obj)
    check_grammar(Listpack, data, obj)
    assert decode_listpack(data) == [1, 2]


@pytest.mark.parametrize("mutate", [
    lambda b: b[:-1] + b"\xfe",  # no end byte
    lambda b: b[:4] + b"\x03\x00" + b[6:],  # wrong count
    lambda b: b"\x0d" + b[1:],  # wrong total
    lambda b: b[:8] + b"\x03" + b[9:],  # wrong backlen
    lambda b: b[:6] + b"\xf5" + b[7:],  # unused encoding byte
    lambda b: b + b"\x00",  # trailing byte
])
def test_corrupt_rejected(mutate):
    bad = mutate(LP_A_1)
    with pytest.raises(ConstructError):
        Listpack.parse(bad)
