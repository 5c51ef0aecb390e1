"""Stream value grammars (types 15/19/21) and the stream-node listpack semantics."""

from __future__ import annotations

import pytest
from construct import Container, ListContainer

from rdbtools.errors import FormatError
from rdbtools.format.listpack import build_listpack
from rdbtools.format.stream import (
    StreamNACK,
    decode_stream_node,
    encode_stream_node,
    stream_grammar,
)

from .helpers import check_grammar, hexdata

NODE_ELEMENTS = [
    2, 0, 1, b"f", 0,  # master entry: count 2, deleted 0, 1 master field "f", terminator 0
    2, 0, 0, b"v1", 4,  # SAMEFIELDS entry at master id (ms+0, seq+0): lp-count 3 + 1
    0, 5, -1, 1, b"g", b"v2", 6,  # other fields, ms +5, seq -1 (negative delta), lp-count 6
]


def test_node_semantics():
    node = decode_stream_node(1000, 1, NODE_ELEMENTS)
    assert node.count == 2 and node.deleted == 0 and node.master_fields == [b"f"]
    assert node.entries == [
        Container(ms=1000, seq=1, flags=2, fields=[(b"f", b"v1")]),
        Container(ms=1005, seq=0, flags=0, fields=[(b"g", b"v2")]),
    ]
    assert encode_stream_node(1000, 1, [b"f"], node.entries) == NODE_ELEMENTS


@pytest.mark.parametrize("elements", [
    NODE_ELEMENTS[:-1],  # lp-count missing
    NODE_ELEMENTS[:-1] + [5],  # wrong lp-count
    [3] + NODE_ELEMENTS[1:],  # wrong live count
    [2, 0, 1, b"f", 1] + NODE_ELEMENTS[5:],  # bad master terminator
])
def test_node_semantics_rejects(elements):
    with pytest.raises(FormatError):
        decode_stream_node(1000, 1, elements)


def test_pel_entry_raw_id():
    data = hexdata("""
        00000000000003e8 0000000000000001   # raw ID 1000-1, both halves big-endian
        d0070000 00000000                   # delivery time 2000 ms, int64 LE
        02                                  # delivery count
    """)
    check_grammar(StreamNACK, data, Container(id=Container(ms=1000, seq=1), delivery_time=2000,
                                              delivery_count=2))


def _stream_v3_bytes():
    lp = build_listpack(NODE_ELEMENTS)
    return hexdata(f"""
        01                                     # 1 listpack node
        10 00000000000003e8 0000000000000001   # master id as a 16-byte string
        {len(lp):02x} {lp.hex()}               # node listpack string
        02                                     # length: 2 live entries
        43 ed 00                               # last id ms 1005, seq 0
        43 e8 01                               # first id 1000-1
        00 00                                  # max deleted entry id 0-0
        02                                     # entries added
        01                                     # 1 group
        02 6731                                # name "g1"
        43 e8 01                               # group last id 1000-1
        81 ffffffffffffffff                    # entries_read unknown: 2^64-1
        01                                     # group PEL: 1 entry
        00000000000003e8 0000000000000001      # raw ID 1000-1
        d007000000000000                       # delivery time
        01                                     # delivery count
        01                                     # 1 consumer
        05 616c696365                          # name "alice"
        d007000000000000                       # seen time
        d107000000000000                       # active time (v3, Redis 7.2)
        01                                     # consumer PEL: 1 entry
        00000000000003e8 0000000000000001      # raw ID
    """), lp


def test_stream_v3():
    data, lp = _stream_v3_bytes()
    raw_id = Container(ms=1000, seq=1)
    obj = Container(
        nodes=ListContainer([Container(master_id=raw_id, listpack=lp)]),
        length=2,
        last_id=Container(ms=1005, seq=0),
        first_id=Container(ms=1000, seq=1),
        max_deleted_entry_id=Container(ms=0, seq=0),
        entries_added=2,
        groups=ListContainer([Container(
            name=b"g1", last_id=Container(ms=1000, seq=1), entries_read=2**64 - 1,
            pel=ListContainer([Container(id=raw_id, delivery_time=2000, delivery_count=1)]),
            consumers=ListContainer([Container(name=b"alice", seen_time=2000, active_time=2001,
                                               pel=ListContainer([raw_id]))]),
        )]),
    )
    check_grammar(stream_grammar(21), data, obj, compiled_build=False)
    parsed = stream_grammar(21, parse_listpacks=True).parse(data)
    assert [e.value for e in parsed.nodes[0].listpack.entries] == NODE_ELEMENTS


def test_stream_v1_has_no_v2_fields():
    data = hexdata("""
        00        # no nodes
        00        # length
        00 00     # last id 0-0
        00        # no groups
    """)
    check_grammar(stream_grammar(15), data, Container(
        nodes=ListContainer(), length=0, last_id=Container(ms=0, seq=0), first_id=None,
        max_deleted_entry_id=None, entries_added=None, groups=ListContainer()),
        compiled_build=False)
