"""Type 28 ARRAY grammar (Redis 8.8): real values cut out of the 8.10.2 corpus files checked
against their ground truth and rebuilt byte for byte, and each load error of rdbLoadObject."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.format import constants as C
from rdbtools.format.values import value_grammar

from .helpers import check_grammar, corpus_file, corpus_keys, gt_bytes, gt_keys, hexdata

ARRAY = value_grammar(C.RDB_TYPE_ARRAY, 15)

# corpus/redis-8.10.2/rdb/dump.rdb, key ar:insert (ARSET 0 a, ARINSERT b c d, ARDEL 1)
AR_INSERT = hexdata("""
    03          # count: 3 elements
    01          # has_insert_idx
    03          # insert_idx 3 (ARLASTITEMS/ARINSERT continue at 4)
    00 03 0161  # index 0, tag 3 SMALLSTR, "a"
    02 03 0163  # index 2, "c"
    03 03 0164  # index 3, "d"
""")


def _element(index, tag, value):
    return Container(index=index, tag=tag, value=value)


def test_insert_index():
    check_grammar(ARRAY, AR_INSERT, Container(
        count=3, has_insert_idx=1, insert_idx=3, elements=ListContainer([
            _element(0, 3, b"a"), _element(2, 3, b"c"), _element(3, 3, b"d")])))


def test_every_tag():
    data = hexdata("""
        04                    # count
        00                    # no insert_idx
        00 01 feffffffffffffff       # index 0, INT -2 (int64 LE)
        01 02 000000000000d0bf       # index 1, FLOAT -0.25 (double LE)
        02 03 07 30313233343536      # index 2, SMALLSTR "0123456" (7 bytes, the most)
        81 fffffffffffffffe 00 08 3031323334353637   # index 2^64-2 (the highest), SDS
    """)
    check_grammar(ARRAY, data, Container(
        count=4, has_insert_idx=0, insert_idx=None, elements=ListContainer([
            _element(0, 1, -2), _element(1, 2, -0.25), _element(2, 3, b"0123456"),
            _element(2**64 - 2, 0, b"01234567")])))


@pytest.mark.parametrize("text,error", [
    ("00 00", "array element count 0"),  # "Empty array (count == 0) is invalid"
    ("01 02 00 03 0161", "array insert_idx flag 2"),  # "Invalid array insert_idx_flag"
    ("01 00 00 04 0161", "array element tag 4"),  # "Unknown array element type_tag"
    ("01 00 00 03 08 3031323334353637", "array small string of 8 bytes"),
    ("01 00 81 ffffffffffffffff 03 0161", "array index 18446744073709551615"),  # UINT64_MAX
    ("01 00 c0 03 03 0161", "special string encoding"),  # an encoded length as the index
    ("02 00 00 03 0161", "stream read less"),  # fewer elements than counted
])
def test_load_errors(text, error):
    with pytest.raises(ConstructError, match=error):
        ARRAY.parse(hexdata(text))


def test_build_checks():
    with pytest.raises(ConstructError, match="array element count 0"):
        ARRAY.build(Container(has_insert_idx=0, insert_idx=None, elements=[]))
    with pytest.raises(ConstructError, match="small string of 9 bytes"):
        ARRAY.build(Container(has_insert_idx=0, insert_idx=None,
                              elements=[_element(0, 3, b"012345678")]))


def _text(element) -> bytes:
    if element.tag == C.ARRAY_TAG_INT:
        return b"%d" % element.value
    return element.value


def test_corpus_arrays():
    path = corpus_file("redis-8.10.2/rdb/dump.rdb")
    truth = gt_keys(path.with_suffix(".json"))
    arrays = corpus_keys(path, {C.RDB_TYPE_ARRAY})
    assert {a.key for a in arrays} == {key for (_, key), k in truth.items()
                                       if k["type"] == "array"}
    for a in arrays:
        gt = truth[(a.db, a.key)]
        v = a.value
        assert v.count == len(v.elements) == len(gt["value"])
        assert [e.index for e in v.elements] == [i for i, _ in gt["value"]]
        for e, (_, text) in zip(v.elements, gt["value"]):
            if e.tag == C.ARRAY_TAG_FLOAT:  # the server prints its own float text
                assert e.value == float(gt_bytes(text)), a.key
            else:
                assert _text(e) == gt_bytes(text), a.key
        next_insert = gt.get("array_next_insert_index")
        assert v.insert_idx == (None if next_insert is None else next_insert - 1)
        # no LZF in these values: the grammar rebuilds the server's bytes
        assert ARRAY.build(v) == a.value_raw, a.key
