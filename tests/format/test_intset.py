"""Intset grammar: the three widths, header checks."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container

from rdbtools.rdb.blobs import decode_intset
from rdbtools.format.intset import Intset, build_intset, intset_is_canonical

from .helpers import check_grammar, hexdata


@pytest.mark.parametrize("text,obj", [
    ("""02000000   # encoding: 2 bytes per member
        02000000   # length
        0100       # 1
        0200       # 2""", Container(encoding=2, length=2, contents=[1, 2])),
    ("""04000000   # encoding: int32
        02000000   # length
        0080ffff   # -32768
        00800000   # 32768""", Container(encoding=4, length=2, contents=[-32768, 32768])),
    ("""08000000           # encoding: int64
        01000000           # length
        ffffffffffffff7f   # 2^63-1""", Container(encoding=8, length=1, contents=[2**63 - 1])),
])
def test_widths(text, obj):
    data = hexdata(text)
    check_grammar(Intset, data, obj)
    assert decode_intset(data) == list(obj.contents)
    assert build_intset(obj.contents) == data


@pytest.mark.parametrize("hexstr", [
    "03000000 01000000 010000",  # bad width
    "02000000 00000000",  # empty intset
    "02000000 02000000 0100",  # too short
    "02000000 01000000 0100 00",  # trailing byte
])
def test_corrupt_rejected(hexstr):
    data = bytes.fromhex(hexstr)
    with pytest.raises(ConstructError):
        Intset.parse(data)


def test_canonical_check():
    assert intset_is_canonical(Intset.parse(build_intset([3, 1, 2])))
    assert not intset_is_canonical(Intset.parse(bytes.fromhex("02000000 02000000 0200 0100")))
