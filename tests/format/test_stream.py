"""Stream value grammars (types 15/19/21/26/27) and the stream-node listpack semantics; the
IDMP state and NACK zones of the 8.6.2 / 8.10.2 corpus streams against their ground truth."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.errors import FormatError
from rdbtools.format.listpack import build_listpack
from rdbtools.format.stream import (
    StreamNACK,
    decode_stream_node,
    encode_stream_node,
    stream_grammar,
)

from .helpers import (
    check_grammar,
    corpus_file,
    corpus_keys,
    gt_bytes,
    gt_keys,
    hexdata,
    needs_corpus,
)

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
            nacked=None,
        )]),
        idmp=None,
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
        max_deleted_entry_id=None, entries_added=None, groups=ListContainer(), idmp=None),
        compiled_build=False)


# --- types 26 (IDMP, Redis 8.6) and 27 (NACK zone, Redis 8.8) --------------------------------

EMPTY_STREAM_V3 = """
    00           # no nodes
    00           # length
    01 01        # last id 1-1
    00 00        # first id
    01 01        # max deleted entry id
    01           # entries added
"""
IDMP = """
    40 64        # idmp_duration 100 s (the default stream-idmp-duration; 14-bit form)
    0a           # idmp_max_entries 10
    01           # 1 producer
    01 70        # pid "p"
    02           # 2 IIDs, insertion order
    02 6931 05 00    # iid "i1" -> 5-0
    02 6932 05 01    # iid "i2" -> 5-1
    03           # iids_added
    01           # iids_duplicates
"""
IDMP_OBJ = Container(idmp_duration=100, idmp_max_entries=10, producers=ListContainer([
    Container(pid=b"p", iids=ListContainer([
        Container(iid=b"i1", id=Container(ms=5, seq=0)),
        Container(iid=b"i2", id=Container(ms=5, seq=1))]))]), iids_added=3, iids_duplicates=1)


def _empty_stream(**fields):
    obj = Container(nodes=ListContainer(), length=0, last_id=Container(ms=1, seq=1),
                    first_id=Container(ms=0, seq=0), max_deleted_entry_id=Container(ms=1, seq=1),
                    entries_added=1, groups=ListContainer(), idmp=None)
    obj.update(fields)
    return obj


def test_stream_v4_idmp():
    data = hexdata(EMPTY_STREAM_V3 + "00  # no groups" + IDMP)
    check_grammar(stream_grammar(26), data, _empty_stream(idmp=IDMP_OBJ), compiled_build=False)


def test_stream_v5_nack_zone():
    raw = lambda seq: Container(ms=5, seq=seq)  # noqa: E731
    data = hexdata(EMPTY_STREAM_V3 + """
        01                                     # 1 group
        01 67                                  # name "g"
        05 02                                  # last id 5-2
        81 ffffffffffffffff                    # entries_read unknown
        02                                     # group PEL: 2 entries, both NACKed (no consumer)
        0000000000000005 0000000000000000 0000000000000000 00   # 5-0, delivery time 0, count 0
        0000000000000005 0000000000000001 0000000000000000 00   # 5-1
        00                                     # no consumers
        02                                     # NACK zone: 2 IDs, oldest XNACK first
        0000000000000005 0000000000000001      # 5-1
        0000000000000005 0000000000000000      # 5-0
    """ + IDMP)
    group = Container(
        name=b"g", last_id=Container(ms=5, seq=2), entries_read=2**64 - 1,
        pel=ListContainer([Container(id=raw(0), delivery_time=0, delivery_count=0),
                           Container(id=raw(1), delivery_time=0, delivery_count=0)]),
        consumers=ListContainer(), nacked=ListContainer([raw(1), raw(0)]))
    check_grammar(stream_grammar(27), data,
                  _empty_stream(groups=ListContainer([group]), idmp=IDMP_OBJ),
                  compiled_build=False)
    # the same bytes are not a type 26 value: the NACK zone is read as the IDMP duration (2) and
    # what follows no longer fits
    with pytest.raises(ConstructError):
        stream_grammar(26).parse(data)


@pytest.mark.parametrize("duration,max_entries,error", [
    ("00", "0a", "stream IDMP duration 0"),  # CONFIG_STREAM_IDMP_MIN_DURATION 1
    ("80 00015181", "0a", "stream IDMP duration 86401"),  # MAX_DURATION 86400
    ("0a", "00", "stream IDMP max entries 0"),
    ("0a", "67 11", "stream IDMP max entries 10001"),  # MAX_MAXSIZE 10000
])
def test_idmp_load_errors(duration, max_entries, error):
    data = hexdata(EMPTY_STREAM_V3 + f"00 {duration} {max_entries} 00 00 00")
    with pytest.raises(ConstructError, match=error):
        stream_grammar(26).parse(data)
    # the bounds themselves load
    assert stream_grammar(26).parse(hexdata(EMPTY_STREAM_V3 + "00 80 00015180 67 10 00 00 00"))
    assert stream_grammar(26).parse(hexdata(EMPTY_STREAM_V3 + "00 01 01 00 00 00"))


def _id_text(stream_id) -> str:
    return f"{stream_id.ms}-{stream_id.seq}"


@needs_corpus
@pytest.mark.parametrize("relative", [f"{server}/rdb/{name}"
                                      for server in ("redis-8.6.2", "redis-8.10.2")
                                      for name in ("dump.rdb", "dump-keymeta.rdb")])
def test_corpus_idmp_and_nack_zones(relative):
    path = corpus_file(relative)
    truth = gt_keys(path.with_suffix(".json"))
    streams = corpus_keys(path, {26, 27})
    assert {s.key for s in streams} == {key for (_, key), k in truth.items()
                                        if k["type"] == "stream"}
    for s in streams:
        gt = truth[(s.db, s.key)]
        assert s.rdb_type == gt["rdb_type"]
        v, gt_idmp = s.value, gt["value"]["idmp"]
        idmp = v.idmp
        assert (idmp.idmp_duration, idmp.idmp_max_entries, idmp.iids_added,
                idmp.iids_duplicates) == (gt_idmp["duration"], gt_idmp["max_size"],
                                          gt_idmp["iids_added"], gt_idmp["iids_duplicates"])
        # producers whose IIDs all expired before the save may be written with none (8.10)
        producers = [p for p in idmp.producers if p.iids]
        assert [p.pid for p in producers] == [gt_bytes(p["pid"]) for p in gt_idmp["producers"]]
        assert sum(len(p.iids) for p in producers) == gt_idmp["iids_tracked"]
        for p, gt_p in zip(producers, gt_idmp["producers"]):
            if gt_p["iids"] is not None:  # None: IDMPAUTO, no command shows the iid
                assert [(i.iid, _id_text(i.id)) for i in p.iids] == [
                    (gt_bytes(iid), sid) for iid, sid in gt_p["iids"]]
        gt_groups = gt["value"].get("info_full", {}).get("groups", [])
        assert [g.name for g in v.groups] == [gt_bytes(g["name"]) for g in gt_groups]
        for g, gt_g in zip(v.groups, gt_groups):
            if s.rdb_type == 27:
                assert [_id_text(i) for i in g.nacked] == gt_g["nacked"]
            else:
                assert g.nacked is None
        grammar = stream_grammar(s.rdb_type)
        parsed = grammar.parse(s.value_raw)
        # node listpacks are LZF strings our compressor may pack differently: compare values
        assert grammar.parse(grammar.build(parsed)) == parsed
