"""Zipmap grammar (Redis <= 2.4 hashes): short and long lengths, free bytes."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.rdb.blobs import decode_zipmap
from rdbtools.format.zipmap import Zipmap, build_zipmap, zipmap_elements

from .helpers import check_grammar, hexdata


def test_one_pair_with_free_bytes():
    data = hexdata("""
        01          # zmlen: 1 pair
        01 61       # key length 1, "a"
        02          # value length 2
        03          # free: 3 unused bytes after the value
        6263        # "bc"
        000000      # the free bytes
        ff          # end
    """)
    obj = Container(zmlen=1, entries=ListContainer([
        Container(key=b"a", free=3, value=b"bc", padding=b"\x00\x00\x00"),
    ]))
    check_grammar(Zipmap, data, obj)
    assert decode_zipmap(data) == [b"a", b"bc"]


def test_long_lengths():
    key, value = b"k" * 300, b"v" * 253
    data = build_zipmap([(key, value)])
    assert data[:6] == hexdata("""
        01           # zmlen
        fe 2c010000  # key length 300: FE + u32 LE
    """)
    assert data[306:308] == hexdata("fd 00")  # value length 253 (1 byte), free 0
    check_grammar(Zipmap, data, Zipmap.parse(data))
    assert decode_zipmap(data) == zipmap_elements(Zipmap.parse(data)) == [key, value]


def test_empty_and_unknown_count():
    check_grammar(Zipmap, b"\x00\xff", Container(zmlen=0, entries=ListContainer()))
    assert Zipmap.parse(b"\xfe\xff").zmlen == 254  # 254 = count unknown, not checked


@pytest.mark.parametrize("hexstr", ["01 01 61", "01 01 61 ff", "01 ff 00", "00"])
def test_corrupt_rejected(hexstr):
    with pytest.raises(ConstructError):
        Zipmap.parse(bytes.fromhex(hexstr))
