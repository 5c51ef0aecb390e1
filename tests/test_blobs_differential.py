"""The fast walkers in rdbtools.rdb.blobs agree with the grammars in rdbtools.format (STYLE §2.5.4).

* valid blobs built by the grammar decode to the same elements with both;
* damaged blobs (byte flips, truncations, insertions) make the walker raise only FormatError,
  and the walker accepts exactly when the grammar accepts (then with the same elements).
"""

from __future__ import annotations

import pytest
from construct import ConstructError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdbtools.rdb.blobs import decode_intset, decode_listpack, decode_ziplist, decode_zipmap
from rdbtools.errors import FormatError
from rdbtools.format.intset import Intset, build_intset
from rdbtools.format.listpack import Listpack, build_listpack, listpack_elements
from rdbtools.format.ziplist import Ziplist, build_ziplist, ziplist_elements
from rdbtools.format.zipmap import Zipmap, build_zipmap, zipmap_elements

FAST = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=3000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# integers around every encoding width boundary (listpack 7/13/16/24/32/64, ziplist imm/8/16/24..)
_EDGES = sorted({s * (2**b) + d for b in (0, 3, 4, 6, 7, 8, 12, 13, 15, 16, 23, 24, 31, 32, 62)
                 for s in (1, -1) for d in (-1, 0, 1)} | {0, 12, 13, 2**63 - 1, -(2**63)})
ints = st.one_of(st.sampled_from(_EDGES), st.integers(-(2**63), 2**63 - 1))
# string lengths around 63/64, 4095/4096, 16383 and a few large ones
_LENGTHS = [0, 1, 62, 63, 64, 65, 126, 127, 128, 4094, 4095, 4096, 4097, 16377, 16378, 16383,
            16384, 20000]
strings = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(_LENGTHS).flatmap(
        lambda n: st.binary(min_size=1, max_size=1).map(lambda b: b * n)),
)
elements = st.lists(st.one_of(ints, strings), max_size=12)
small_elements = st.lists(st.one_of(ints, st.binary(max_size=70)), min_size=1, max_size=8)


def _outcome(fn, data):
    try:
        return True, fn(data)
    except FormatError:
        return False, None
    # anything else (IndexError, struct.error...) propagates and fails the test


def _grammar_outcome(grammar, extract, data):
    try:
        return True, extract(grammar.parse(data))
    except ConstructError:
        return False, None


def _damage(data: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["flip", "flip", "truncate", "insert", "delete"]))
    n = len(data)
    if kind == "flip":
        pos = draw(st.integers(0, n - 1))
        bit = draw(st.integers(0, 255).filter(lambda x: x))
        return data[:pos] + bytes([data[pos] ^ bit]) + data[pos + 1 :]
    if kind == "truncate":
        return data[: draw(st.integers(0, n - 1))]
    if kind == "insert":
        pos = draw(st.integers(0, n))
        return data[:pos] + draw(st.binary(min_size=1, max_size=3)) + data[pos:]
    pos = draw(st.integers(0, n - 1))
    return data[:pos] + data[pos + 1 :]


def _agree(walker, grammar, extract, data):
    w_ok, w_val = _outcome(walker, data)
    g_ok, g_val = _grammar_outcome(grammar, extract, data)
    assert w_ok == g_ok, f"walker {'accepts' if w_ok else 'rejects'} but grammar " \
                         f"{'accepts' if g_ok else 'rejects'}: {data.hex()}"
    if w_ok:
        assert w_val == g_val


# --- listpack --------------------------------------------------------------------------------

@FAST
@given(elements)
def test_listpack_valid(els):
    blob = build_listpack(els)
    assert decode_listpack(blob) == listpack_elements(Listpack.parse(blob)) == els


@FAST
@given(small_elements, st.data())
def test_listpack_damaged(els, data):
    blob = _damage(build_listpack(els), data.draw)
    _agree(decode_listpack, Listpack, listpack_elements, blob)


@pytest.mark.slow
@SLOW
@given(small_elements, st.data())
def test_listpack_damaged_exhaustive(els, data):
    blob = _damage(build_listpack(els), data.draw)
    _agree(decode_listpack, Listpack, listpack_elements, blob)


# --- ziplist ---------------------------------------------------------------------------------

@FAST
@given(elements, st.booleans())
def test_ziplist_valid(els, legacy):
    blob = build_ziplist(els, legacy)
    assert decode_ziplist(blob) == ziplist_elements(Ziplist.parse(blob)) == els


@FAST
@given(small_elements, st.data())
def test_ziplist_damaged(els, data):
    blob = _damage(build_ziplist(els), data.draw)
    _agree(decode_ziplist, Ziplist, ziplist_elements, blob)


@pytest.mark.slow
@SLOW
@given(small_elements, st.data())
def test_ziplist_damaged_exhaustive(els, data):
    blob = _damage(build_ziplist(els), data.draw)
    _agree(decode_ziplist, Ziplist, ziplist_elements, blob)


# --- intset ----------------------------------------------------------------------------------

members = st.lists(ints, min_size=1, max_size=40)


def _intset_members(parsed):
    return list(parsed.contents)


@FAST
@given(members)
def test_intset_valid(ms):
    blob = build_intset(ms)
    assert decode_intset(blob) == _intset_members(Intset.parse(blob)) == sorted(set(ms))


@FAST
@given(members, st.data())
def test_intset_damaged(ms, data):
    blob = _damage(build_intset(ms), data.draw)
    _agree(decode_intset, Intset, _intset_members, blob)


# --- zipmap ----------------------------------------------------------------------------------

pairs = st.lists(st.tuples(st.one_of(st.binary(max_size=20), st.sampled_from([b"k" * 254,
                                                                              b"k" * 300])),
                           st.binary(max_size=300)), max_size=6)


@FAST
@given(pairs)
def test_zipmap_valid(ps):
    blob = build_zipmap(ps)
    flat = [x for p in ps for x in p]
    assert decode_zipmap(blob) == zipmap_elements(Zipmap.parse(blob)) == flat


@FAST
@given(pairs.filter(bool), st.data())
def test_zipmap_damaged(ps, data):
    blob = _damage(build_zipmap(ps), data.draw)
    _agree(decode_zipmap, Zipmap, zipmap_elements, blob)


# --- raw garbage -----------------------------------------------------------------------------

@FAST
@given(st.binary(max_size=64))
def test_walkers_raise_only_format_error_on_garbage(data):
    for walker in (decode_listpack, decode_ziplist, decode_intset, decode_zipmap):
        _outcome(walker, data)
