"""Ziplist grammar: every encoding, 1- and 5-byte prevlen, header checks."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.rdb.blobs import decode_ziplist
from rdbtools.format.ziplist import (
    Ziplist,
    build_ziplist,
    ziplist_container,
    ziplist_elements,
)

from .helpers import check_grammar, hexdata

ZL_A_1 = hexdata("""
    10000000    # zlbytes = 16, u32 LE
    0d000000    # zltail = 13: offset of the last entry
    0200        # zllen = 2
    00 01 61    # prevlen 0, 00LLLLLL string of 1: "a"
    03 f2       # prevlen 3, 1111xxxx immediate: 0x2 - 1 = 1
    ff          # end
""")


def test_two_entries():
    obj = Container(zlbytes=16, zltail=13, zllen=2, entries=ListContainer([
        Container(prevlen_form=1, prevlen=0, encoding="STR_6BIT", value=b"a"),
        Container(prevlen_form=1, prevlen=3, encoding="IMM_4BIT", value=1),
    ]))
    check_grammar(Ziplist, ZL_A_1, obj)
    assert build_ziplist([b"a", 1]) == ZL_A_1
    assert decode_ziplist(ZL_A_1) == [b"a", 1]


def test_empty():
    data = hexdata("""
        0b000000    # zlbytes = 11
        0a000000    # zltail = 10 (header size) when empty
        0000        # zllen
        ff          # end
    """)
    check_grammar(Ziplist, data, Container(zlbytes=11, zltail=10, zllen=0,
                                           entries=ListContainer()))


ENTRIES = [
    # (encoding+data hex, encoding, value)
    ("f1", "IMM_4BIT", 0),  # 0xF1..0xFD immediate 0..12
    ("fd", "IMM_4BIT", 12),
    ("fe 0d", "INT_8BIT", 13),  # FE + int8 (RDB 6)
    ("fe 80", "INT_8BIT", -128),
    ("c0 8000", "INT_16BIT", 128),  # C0 + int16 LE
    ("c0 0080", "INT_16BIT", -32768),
    ("f0 008000", "INT_24BIT", 32768),  # F0 + int24 LE (RDB 6)
    ("f0 000080", "INT_24BIT", -(2**23)),
    ("d0 00008000", "INT_32BIT", 2**23),  # D0 + int32 LE
    ("e0 0000008000000000", "INT_64BIT", 2**31),  # E0 + int64 LE
    ("e0 0000000000000080", "INT_64BIT", -(2**63)),
    ("00", "STR_6BIT", b""),
    ("3f" + "78" * 63, "STR_6BIT", b"x" * 63),
    ("4040" + "78" * 64, "STR_14BIT", b"x" * 64),  # 01LLLLLL LLLLLLLL, big-endian
    ("7fff" + "78" * 16383, "STR_14BIT", b"x" * 16383),
    ("80 00004000" + "78" * 16384, "STR_32BIT", b"x" * 16384),  # 0x80 + u32 BE length
]


@pytest.mark.parametrize("hexstr,encoding,value", ENTRIES)
def test_entry_encodings(hexstr, encoding, value):
    blob = build_ziplist([value])
    body = bytes.fromhex(hexstr)
    assert blob[10:-1] == b"\x00" + body
    parsed = Ziplist.parse(blob)
    assert parsed.entries[0].encoding == encoding
    check_grammar(Ziplist, blob, parsed)
    assert ziplist_elements(parsed) == decode_ziplist(blob) == [value]


def test_legacy_encodings_for_redis_24():
    blob = build_ziplist([5, -100, 70000], legacy=True)
    assert [e.encoding for e in Ziplist.parse(blob).entries] == ["INT_16BIT", "INT_16BIT",
                                                                 "INT_32BIT"]


def test_five_byte_prevlen():
    # an entry of 254+ bytes makes the next prevlen FE + u32 LE
    big = b"y" * 252  # 1 prevlen + 2 encoding + 252 = 255 bytes
    blob = build_ziplist([big, 7])
    tail = blob[10 + 255 :]
    assert tail == hexdata("""
        fe ff000000   # prevlen: FE + u32 LE 255
        f8            # immediate 7
        ff            # end
    """)
    check_grammar(Ziplist, blob, Ziplist.parse(blob))
    assert decode_ziplist(blob) == [big, 7]


def test_five_byte_prevlen_holding_a_small_value():
    # ziplist.c may keep the 5-byte form for a small prevlen (cascade update); it round-trips
    data = hexdata("""
        14000000      # zlbytes = 20
        0d000000      # zltail = 13
        0200          # zllen
        00 01 61      # "a" (3 bytes)
        fe 03000000   # prevlen 3 in the 5-byte form
        f2            # immediate 1
        ff
    """)
    parsed = Ziplist.parse(data)
    assert parsed.entries[1].prevlen_form == 5 and parsed.entries[1].prevlen == 3
    check_grammar(Ziplist, data, parsed)
    assert decode_ziplist(data) == [b"a", 1]


def test_count_unknown():
    obj = ziplist_container([1, 2, 3])
    obj.zllen = 65535
    data = Ziplist.build(obj)
    check_grammar(Ziplist, data, obj)


@pytest.mark.parametrize("mutate", [
    lambda b: b[:4] + b"\x0a" + b[5:],  # zltail wrong
    lambda b: b[:8] + b"\x01" + b[9:],  # zllen wrong
    lambda b: b"\x11" + b[1:],  # zlbytes wrong
    lambda b: b[:13] + b"\x02" + b[14:],  # prevlen wrong
    lambda b: b[:14] + b"\xc5" + b[15:],  # invalid encoding 0xC5
    lambda b: b[:-1] + b"\x00",  # no end byte
])
def test_corrupt_rejected(mutate):
    with pytest.raises(ConstructError):
        Ziplist.parse(mutate(ZL_A_1))
