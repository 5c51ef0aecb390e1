"""Leaf grammars: every length and string encoding boundary, doubles, times, stream IDs."""

from __future__ import annotations

import math

import pytest
from construct import ConstructError, Container

from rdbtools.format.primitives import (
    RdbDoubleAscii,
    RdbDoubleBinary,
    RdbLength,
    RdbMillisecondTime,
    RdbString,
    RdbStringNoCompress,
    StreamIdRaw,
    encode_rdb_string,
    is_int_encodable,
)
from rdbtools.format.lzf import lzf_compress

from .helpers import check_grammar, hexdata

LENGTHS = [
    ("00", 0),  # 00vvvvvv: 6-bit
    ("3f", 63),  # largest 6-bit
    ("40 40", 64),  # 01vvvvvv vvvvvvvv: 14-bit, big-endian
    ("41 2c", 300),
    ("7f ff", 16383),  # largest 14-bit
    ("80 00 00 40 00", 16384),  # 0x80 + u32 BE
    ("80 ff ff ff ff", 2**32 - 1),  # largest 32-bit
    ("81 00 00 00 01 00 00 00 00", 2**32),  # 0x81 + u64 BE (RDB 8)
    ("81 ff ff ff ff ff ff ff ff", 2**64 - 1),  # stream entries_read = -1
]


@pytest.mark.parametrize("hexstr,value", LENGTHS)
def test_length_boundaries(hexstr, value):
    check_grammar(RdbLength, bytes.fromhex(hexstr), value)


@pytest.mark.parametrize("first", [0xC0, 0xC1, 0xC2, 0xC3, 0x82, 0xBF])
def test_length_rejects_special_and_reserved_bytes(first):
    with pytest.raises(ConstructError):
        RdbLength.parse(bytes([first]) + b"\x00" * 8)


def test_length_truncated():
    with pytest.raises(ConstructError):
        RdbLength.parse(b"\x80\x00\x00")


def test_length_build_rejects_out_of_range():
    with pytest.raises(ConstructError):
        RdbLength.build(-1)
    with pytest.raises(ConstructError):
        RdbLength.build(2**64)


STRINGS = [
    ("00", b""),  # empty raw string
    ("03 626172", b"bar"),  # raw
    ("c0 00", b"0"),  # int8
    ("c0 7f", b"127"),  # int8 max
    ("c0 80", b"-128"),  # int8 min
    ("c1 8000", b"128"),  # int16 LE
    ("c1 7fff", b"-129"),
    ("c1 ff7f", b"32767"),
    ("c1 0080", b"-32768"),
    ("c2 00800000", b"32768"),  # int32 LE
    ("c2 ffffff7f", b"2147483647"),
    ("c2 00000080", b"-2147483648"),
    ("0a 32313437343833363438", b"2147483648"),  # beyond int32: raw text
    ("04 30313233", b"0123"),  # leading zero: not canonical, raw
    ("02 2b31", b"+1"),  # plus sign: raw
    ("02 2d30", b"-0"),  # -0: raw
    ("14" + "61" * 20, b"a" * 20),  # 20 bytes: never compressed
]


@pytest.mark.parametrize("hexstr,value", STRINGS)
def test_string_encodings(hexstr, value):
    check_grammar(RdbString, bytes.fromhex(hexstr), value)


def test_string_lzf():
    text = b"abcabcabcabcabcabcabcabcabcabc" * 4  # 120 bytes, compressible
    packed = lzf_compress(text)
    data = b"\xc3" + bytes([len(packed)]) + bytes([0x40 | (len(text) >> 8), len(text) & 0xFF])
    data += packed
    check_grammar(RdbString, data, text)
    # without compression the same text is raw
    check_grammar(RdbStringNoCompress, bytes([0x40, 120]) + text, text)


def test_string_lzf_must_save_four_bytes():
    # 21 incompressible bytes: LZF would not save 4 bytes, so the writer stores them raw
    text = bytes(range(21))
    assert encode_rdb_string(text) == b"\x15" + text


def test_string_lzf_from_redis_docs():
    # rdb.c rdbLoadLzfStringObject: C3, len(compressed)=6, len(plain)=6 -> "abcabc"
    data = hexdata("""
        c3          # RDB_ENC_LZF
        06          # compressed length
        06          # uncompressed length
        02 616263   # literal run of 3: "abc"
        20 02       # back-reference: length 1+2=3, distance 2+1=3
    """)
    assert RdbString.parse(data) == b"abcabc"


def test_string_lzf_bad_length_rejected():
    data = bytes.fromhex("c3 06 07 02616263 2002")  # declares 7, expands to 6
    with pytest.raises(ConstructError):
        RdbString.parse(data)


def test_string_unknown_special_encoding():
    with pytest.raises(ConstructError):
        RdbString.parse(b"\xc4\x00")


def test_string_truncated():
    with pytest.raises(ConstructError):
        RdbString.parse(b"\x05abc")


def test_string_builds_ints():
    assert RdbString.build(-1) == b"\xc0\xff"


@pytest.mark.parametrize("text,expected", [
    (b"0", 0), (b"-1", -1), (b"2147483647", 2147483647), (b"-2147483648", -2147483648),
    (b"2147483648", None), (b"01", None), (b"+1", None), (b"-0", None), (b" 1", None),
    (b"1_0", None), (b"", None), (b"\xd9\xa1", None), (b"12345678901", None),
])
def test_is_int_encodable(text, expected):
    assert is_int_encodable(text) == expected


@pytest.mark.parametrize("hexstr,value", [
    ("fd", math.nan),  # 253 = NaN
    ("fe", math.inf),  # 254 = +inf
    ("ff", -math.inf),  # 255 = -inf
    ("01 31", 1.0),  # "1": integral values are written without a dot
    ("03 302e35", 0.5),  # "0.5"
    ("04 2d322e35", -2.5),  # "-2.5"
])
def test_double_ascii(hexstr, value):
    data = bytes.fromhex(hexstr)
    parsed = RdbDoubleAscii.parse(data)
    if math.isnan(value):
        assert math.isnan(parsed)
    else:
        assert parsed == value
    assert RdbDoubleAscii.build(value) == data


def test_double_ascii_any_strtod_text_loads():
    assert RdbDoubleAscii.parse(b"\x06" + b"1e+300") == 1e300


def test_double_binary_time_and_stream_id():
    check_grammar(RdbDoubleBinary, bytes.fromhex("000000000000f83f"), 1.5)
    check_grammar(RdbMillisecondTime, bytes.fromhex("00 d8 c3 2c bb 03 00 00"), 4102444800000)
    data = hexdata("""
        0000018b2c3d4e5f   # ms, big-endian
        0000000000000007   # seq, big-endian
    """)
    check_grammar(StreamIdRaw, data, Container(ms=0x18B2C3D4E5F, seq=7))
