"""Module type id codec and the opcode-typed module value framing."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.format.module import (
    ModuleValue,
    decode_module_id,
    encode_module_id,
)

from .helpers import check_grammar, hexdata


def test_rejson_id():
    # the id every RedisJSON key in corpus/redis-7.4.1/with-modules starts with (after 07 81)
    module_id = 0x45E25238DF912C03
    assert encode_module_id("ReJSON-RL", 3) == module_id
    assert decode_module_id(module_id) == ("ReJSON-RL", 3)


@pytest.mark.parametrize("name,encver", [("AAAAAAAAA", 0), ("_________", 1023),
                                         ("MBbloom--", 4), ("TSDB-TYPE", 6)])
def test_round_trip(name, encver):
    assert decode_module_id(encode_module_id(name, encver)) == (name, encver)


@pytest.mark.parametrize("name,encver", [("short", 0), ("bad.chars", 0), ("AAAAAAAAA", 1024)])
def test_invalid(name, encver):
    with pytest.raises(ConstructError):
        encode_module_id(name, encver)


MODULE_VALUE = hexdata("""
    81 45e25238df912c03   # module id ReJSON-RL/3 (64-bit length form)
    01 05                 # SINT 5
    02 8100000001 00000000  # UINT 2^32 (0x81 + u64 BE): "81 00000001 00000000"
    03 0000c03f           # FLOAT 1.5 (f32 LE)
    04 000000000000f83f   # DOUBLE 1.5 (f64 LE)
    05 03 616263          # STRING "abc"
    00                    # EOF
""")


def test_value_every_opcode():
    obj = Container(module_id=0x45E25238DF912C03, items=ListContainer([
        Container(opcode=1, value=5),
        Container(opcode=2, value=2**32),
        Container(opcode=3, value=1.5),
        Container(opcode=4, value=1.5),
        Container(opcode=5, value=b"abc"),
        Container(opcode=0, value=None),
    ]))
    check_grammar(ModuleValue, MODULE_VALUE, obj)


def test_unknown_opcode_rejected():
    with pytest.raises(ConstructError):
        ModuleValue.parse(bytes.fromhex("01 06 00"))
