"""The compiled read path (rdbtools/rdb/csrc/) agrees with the pure-Python one (STYLE §2.5.4).

* the C blob walkers and LZF give the same elements, or the same error (type, offset, message),
  as rdbtools.rdb.blobs / rdbtools.format.lzf, on valid blobs built by the grammars and on damaged ones;
* whole files read with the compiled record loop give the same records (every Entry field) and
  the same error as with the pure loop: every corpus file, truncations at many offsets, byte
  flips, tiny read chunks (records crossing buffer ends) and inputs of unknown size (gzip);
* RDBTOOLS_PUREPYTHON=1 turns the extension off.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdbtools.format import lzf
from rdbtools.rdb import _accel, blobs, reader, source
from rdbtools.errors import FormatError
from rdbtools.format.intset import build_intset
from rdbtools.format.listpack import build_listpack
from rdbtools.format.ziplist import build_ziplist
from rdbtools.format.zipmap import build_zipmap
from rdbtools.format.lzf import lzf_compress
from rdbtools.rdb.reader import open_rdb

if _accel.PURE_REQUESTED:
    pytest.skip("RDBTOOLS_PUREPYTHON is set: the compiled path is off", allow_module_level=True)
if not _accel.ACCELERATED:
    pytest.skip("rdbtools.rdb._speedups is not built (no compiler at install time?)",
                allow_module_level=True)

from rdbtools.rdb import _speedups  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPUS_FILES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.rdb")) \
    if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason=f"corpus not found at {CORPUS}")

FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

WALKERS = [
    (_speedups.decode_listpack, blobs.decode_listpack),
    (_speedups.decode_ziplist, blobs.decode_ziplist),
    (_speedups.decode_intset, blobs.decode_intset),
    (_speedups.decode_zipmap, blobs.decode_zipmap),
]


def outcome(fn, *args):
    """The result, or the error as (type, offset, message, reason)."""
    try:
        return "ok", fn(*args)
    except FormatError as err:
        return "error", (type(err), err.offset, str(err), err.reason)


def same(c_fn, py_fn, *args):
    c, py = outcome(c_fn, *args), outcome(py_fn, *args)
    assert c == py, f"C {c!r} != Python {py!r} for {args!r}"[:2000]
    return c


def test_accel_exports_the_compiled_functions():
    assert _accel.decode_listpack is _speedups.decode_listpack
    assert _accel.lzf_decompress is _speedups.lzf_decompress
    assert _accel.read_records is _speedups.read_records
    assert reader.decode_listpack is _speedups.decode_listpack


# --- blob walkers ------------------------------------------------------------------------------

_EDGES = sorted({s * (2**b) + d for b in (0, 3, 4, 6, 7, 8, 12, 13, 15, 16, 23, 24, 31, 32, 62)
                 for s in (1, -1) for d in (-1, 0, 1)} | {0, 12, 13, 2**63 - 1, -(2**63)})
ints = st.one_of(st.sampled_from(_EDGES), st.integers(-(2**63), 2**63 - 1))
_LENGTHS = [0, 1, 62, 63, 64, 65, 126, 127, 128, 4094, 4095, 4096, 4097, 16377, 16378, 16383,
            16384, 20000]
strings = st.one_of(st.binary(max_size=80), st.sampled_from(_LENGTHS).flatmap(
    lambda n: st.binary(min_size=1, max_size=1).map(lambda b: b * n)))
elements = st.lists(st.one_of(ints, strings), max_size=12)
small_elements = st.lists(st.one_of(ints, st.binary(max_size=70)), min_size=1, max_size=8)
pairs = st.lists(st.tuples(st.one_of(st.binary(max_size=20), st.sampled_from([b"k" * 254,
                                                                              b"k" * 300])),
                           st.binary(max_size=300)), max_size=6)


def damage(data: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["flip", "flip", "flip", "truncate", "insert", "delete"]))
    n = len(data)
    if n == 0:
        return draw(st.binary(max_size=8))
    if kind == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            out[draw(st.integers(0, n - 1))] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "truncate":
        return data[: draw(st.integers(0, n - 1))]
    if kind == "insert":
        pos = draw(st.integers(0, n))
        return data[:pos] + draw(st.binary(min_size=1, max_size=3)) + data[pos:]
    pos = draw(st.integers(0, n - 1))
    return data[:pos] + data[pos + 1 :]


@FAST
@given(elements)
def test_listpack_valid(els):
    assert same(*WALKERS[0], build_listpack(els)) == ("ok", els)


@FAST
@given(small_elements, st.data())
def test_listpack_damaged(els, data):
    same(*WALKERS[0], damage(build_listpack(els), data.draw))


@FAST
@given(elements, st.booleans())
def test_ziplist_valid(els, legacy):
    assert same(*WALKERS[1], build_ziplist(els, legacy)) == ("ok", els)


@FAST
@given(small_elements, st.booleans(), st.data())
def test_ziplist_damaged(els, legacy, data):
    same(*WALKERS[1], damage(build_ziplist(els, legacy), data.draw))


@FAST
@given(st.lists(ints, min_size=1, max_size=40))
def test_intset_valid(ms):
    assert same(*WALKERS[2], build_intset(ms)) == ("ok", sorted(set(ms)))


@FAST
@given(st.lists(ints, min_size=1, max_size=40), st.data())
def test_intset_damaged(ms, data):
    same(*WALKERS[2], damage(build_intset(ms), data.draw))


@FAST
@given(pairs)
def test_zipmap_valid(ps):
    assert same(*WALKERS[3], build_zipmap(ps)) == ("ok", [x for p in ps for x in p])


@FAST
@given(pairs, st.data())
def test_zipmap_damaged(ps, data):
    same(*WALKERS[3], damage(build_zipmap(ps), data.draw))


@FAST
@given(st.binary(max_size=64))
def test_walkers_on_garbage(data):
    for c_fn, py_fn in WALKERS:
        same(c_fn, py_fn, data)


@pytest.mark.parametrize("c_fn,py_fn", WALKERS)
def test_walkers_hand_non_bytes_to_python(c_fn, py_fn):
    def anything(fn, arg):
        try:
            return fn(arg)
        except Exception as err:  # noqa: BLE001 - compared, not hidden
            return type(err), str(err)

    for blob in (build_listpack([b"a", 1]), build_ziplist([b"a", 1]), build_intset([1, 2]),
                 build_zipmap([(b"k", b"v")])):
        assert anything(c_fn, bytearray(blob)) == anything(py_fn, bytearray(blob))
    assert anything(c_fn, 12) == anything(py_fn, 12)


# --- LZF ---------------------------------------------------------------------------------------

texts = st.one_of(
    st.binary(min_size=4, max_size=600),
    st.lists(st.sampled_from([b"abc", b"abcabcabc", b"x" * 40, b"\x00" * 300, b"hello "]),
             min_size=2, max_size=40).map(b"".join),
)


@FAST
@given(texts, st.one_of(st.none(), st.integers(0, 700)))
def test_lzf_valid(text, limit):
    packed = lzf_compress(text)
    if packed is None:
        packed = bytes([min(31, len(text) - 1)]) + text[:32]
        text = text[:32]
    args = (packed, len(text)) if limit is None else (packed, len(text), limit)
    c = same(_speedups.lzf_decompress, lzf.lzf_decompress, *args)
    if limit is None:
        assert c == ("ok", text)
    assert outcome(lambda: _speedups.lzf_decompress(packed, len(text), limit=limit)) == c


@FAST
@given(texts, st.data(), st.integers(-3, 3), st.one_of(st.none(), st.integers(0, 40)))
def test_lzf_damaged(text, data, delta, limit):
    packed = lzf_compress(text) or bytes([len(text[:32]) - 1]) + text[:32]
    packed = damage(packed, data.draw) if data.draw(st.booleans()) else packed
    expected = max(0, len(text) + delta)
    same(_speedups.lzf_decompress, lzf.lzf_decompress, packed, expected, limit)


@FAST
@given(st.binary(max_size=40), st.integers(0, 5000))
def test_lzf_garbage(data, expected):
    same(_speedups.lzf_decompress, lzf.lzf_decompress, data, expected)


def test_lzf_odd_arguments_go_to_python():
    packed = lzf_compress(b"abcabcabcabc")
    for args in [(bytearray(packed), 12), (packed, -1), (packed, 2**70), (packed, 12, -2),
                 (memoryview(packed), 12)]:
        same(_speedups.lzf_decompress, lzf.lzf_decompress, *args)


# --- whole files -------------------------------------------------------------------------------

@pytest.fixture
def pure(monkeypatch):
    """A function that runs a callable with the reader on the pure-Python path."""

    def run(fn, *args):
        with monkeypatch.context() as m:
            m.setattr(_accel, "read_records", None)
            for name, fn_py in [("decode_listpack", blobs.decode_listpack),
                                ("decode_ziplist", blobs.decode_ziplist),
                                ("decode_intset", blobs.decode_intset),
                                ("decode_zipmap", blobs.decode_zipmap),
                                ("lzf_decompress", lzf.lzf_decompress)]:
                m.setattr(reader, name, fn_py)
            return fn(*args)

    return run


# every type code but modules (always ModuleValue) and the unused 6 and 8: with mode "raw" the
# compiled loop keeps the types it reads as RawValue, the pure loop the rest (22-25)
RAW_TYPES = frozenset(range(34)) - {6, 7, 8}


def read_all(data, mode: str):
    """Every record (as its repr: exact for floats and NaNs alike), then the error if any.
    ``mode`` "raw" is a full read keeping every value raw (the convert fast path)."""
    out = []
    raw_types = RAW_TYPES if mode == "raw" else None
    try:
        with open_rdb(data, values="full" if mode == "raw" else mode) as rdb:
            for record in rdb.iter_records(raw_types=raw_types):
                out.append(repr(record))
            out.append(("end", rdb.checksum, rdb.end_offset))
    except FormatError as err:
        out.append(("error", type(err), err.offset, str(err)))
    return out


def assert_same_reads(pure, data, mode: str):
    fast = read_all(data, mode)
    slow = pure(read_all, data, mode)
    assert fast == slow


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@needs_corpus
@pytest.mark.parametrize("name", CORPUS_FILES)
@pytest.mark.parametrize("mode", ["full", "sizes", "raw"])
def test_corpus_files(pure, name, mode):
    assert_same_reads(pure, corpus(name), mode)


@needs_corpus
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_truncations(pure, name):
    data = corpus(name)
    step = max(1, len(data) // 40)
    for cut in range(9, len(data), step):
        assert_same_reads(pure, data[:cut], ("full", "sizes", "raw")[cut % 3])


@needs_corpus
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_byte_flips(pure, name):
    data = corpus(name)
    rnd = random.Random(name)
    for i in range(30):
        damaged = bytearray(data)
        for _ in range(rnd.randint(1, 3)):
            damaged[rnd.randrange(9, len(data))] ^= rnd.randint(1, 255)
        assert_same_reads(pure, bytes(damaged), ("full", "sizes", "raw")[i % 3])


@needs_corpus
@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_records_across_buffer_ends(pure, monkeypatch, chunk):
    """Tiny read chunks: the compiled loop stops at every buffer end, the reader grows the
    buffer (or, for records over _FAST_RECORD_MAX, reads them itself)."""
    monkeypatch.setattr(source, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(reader, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(reader, "_FAST_RECORD_MAX", 4 * chunk)
    rnd = random.Random(chunk)
    for name in rnd.sample(CORPUS_FILES, min(12, len(CORPUS_FILES))):
        data = corpus(name)
        for mode in ("full", "sizes", "raw"):
            assert_same_reads(pure, data, mode)
            assert_same_reads(pure, data[: rnd.randrange(9, len(data))], mode)


@needs_corpus
def test_unknown_size_input(pure):
    """gzip input: the size is unknown, records crossing the buffer end go to the pure loop."""
    for name in CORPUS_FILES[:: max(1, len(CORPUS_FILES) // 10)]:
        packed = gzip.compress(corpus(name))
        assert_same_reads(pure, packed, "full")
        assert_same_reads(pure, packed, "sizes")


@needs_corpus
def test_raw_values_come_from_the_compiled_loop(monkeypatch):
    """A raw read runs on the compiled loop: it hands back the RawValue entries itself."""
    compiled = []

    def spy(*args):
        result = _speedups.read_records(*args)
        compiled.extend(e for e in result[0] if type(e.value).__name__ == "RawValue")
        return result

    monkeypatch.setattr(_accel, "read_records", spy)
    with open_rdb(corpus("redis-7.0.15/rdb/dump.rdb")) as rdb:
        raw = [r for r in rdb.iter_records(raw_types=RAW_TYPES)
               if type(getattr(r, "value", None)).__name__ == "RawValue"]
    assert raw and len(compiled) == len(raw)
    assert [e.key for e in compiled] == [e.key for e in raw]


@needs_corpus
def test_select_and_lazy_stay_pure():
    name = next(n for n in CORPUS_FILES if "7.0" in n)
    with open_rdb(corpus(name)) as rdb:
        keys = [e.key for e in rdb.iter_entries(lambda db, key, t, exp: key.startswith(b"s"))]
    assert all(k.startswith(b"s") for k in keys)


def test_purepython_env_turns_it_off():
    env = dict(os.environ, RDBTOOLS_PUREPYTHON="1")
    code = ("from rdbtools.rdb import _accel, reader, blobs; "
            "assert not _accel.ACCELERATED and _accel.read_records is None; "
            "assert reader.decode_listpack is blobs.decode_listpack; "
            "from rdbtools.rdb import encoders, writer; from rdbtools.format import lzf, resp; "
            "assert writer.encode_listpack is encoders.encode_listpack; "
            "assert writer.stream_nodes is encoders.stream_nodes; "
            "assert writer.encode_resp is resp.encode_resp; "
            "assert _accel.lzf_compress is lzf.lzf_compress; print('pure')")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "pure"


# -- RESP rendering ------------------------------------------------------------------------------

from rdbtools.format.resp import encode_resp  # noqa: E402  (the pure framing)
from rdbtools.output.commands import entry_resp, entry_to_commands  # noqa: E402
from rdbtools.model import Entry as _Entry  # noqa: E402
from test_dump import streams as _streams  # noqa: E402

_given, _settings, _st = given, settings, st

_element = _st.binary(max_size=80)
_score = _st.one_of(_st.floats(), _st.sampled_from([0.0, -0.0, 1.0, 100.0, 1e16, 5e-324,
                                                    float("inf"), float("-inf")]))


@_st.composite
def _entries(draw):
    kind = draw(_st.sampled_from(["string", "list", "set", "zset", "hash", "stream"]))
    n = draw(_st.one_of(_st.integers(0, 5), _st.sampled_from([63, 64, 65, 129])))
    if kind == "stream":
        value = draw(_streams())
    elif kind == "string":
        value = draw(_element)
    elif kind in ("list", "set"):
        value = draw(_st.lists(_element, min_size=n, max_size=n))
    elif kind == "zset":
        value = draw(_st.lists(_st.tuples(_element, _score), min_size=n, max_size=n))
    else:
        value = draw(_st.lists(_st.tuples(_element, _element), min_size=n, max_size=n))
    ttls = None
    if kind == "hash" and value and draw(_st.booleans()):
        ttls = {f: draw(_st.integers(0, 2**48)) for f, _ in value[: draw(_st.integers(1, 3))]}
    expire = draw(_st.one_of(_st.none(), _st.integers(-2**63, 2**63 - 1)))
    return _Entry(0, draw(_element), kind, value, expire, field_expire_at_ms=ttls)


def _python_resp(entry, rdb_version):
    return b"".join(encode_resp(c) for c in entry_to_commands(entry, rdb_version))


@_settings(max_examples=400, deadline=None)
@_given(_entries(), _st.sampled_from([9, 10, 12]))
def test_resp_entry_matches_the_commands(entry, rdb_version) -> None:
    """The compiled RESP rendering is byte-identical to entry_to_commands + encode_resp (streams
    in the Redis 5-6.2 and the 7.0+ forms), and declines (None) where the Python path raises
    (NaN scores) or writes integers beyond 64 bits."""
    compiled = _speedups.resp_entry(entry.type, entry.key, entry.value, entry.expire_at_ms,
                                   entry.field_expire_at_ms, rdb_version >= 10)
    try:
        expected = _python_resp(entry, rdb_version)
    except Exception:
        assert compiled is None
        return
    if compiled is None:
        assert entry.type == "stream" and max(_stream_ints(entry.value)) >= 2**64
    else:
        assert compiled == expected
        assert entry_resp(entry, rdb_version) == expected


def _stream_ints(s):
    yield s.entries_added
    for g in s.groups:
        yield -1 if g.entries_read is None else g.entries_read
        for p in g.pending:
            yield from (p.delivery_time_ms, p.delivery_count)
        for c in g.consumers:
            yield c.seen_time_ms


def test_resp_entry_declines_what_it_does_not_render() -> None:
    lazy = _Entry(0, b"k", "list", iter([b"a"]))
    assert _speedups.resp_entry("list", b"k", lazy.value, None, None, True) is None
    assert _speedups.resp_entry("stream", b"k", object(), None, None, True) is None
    assert _speedups.resp_entry("set", b"k", [b"a", "not bytes"], None, None, True) is None


@_settings(max_examples=200, deadline=None)
@_given(_st.lists(_st.binary(max_size=300), max_size=70))
def test_encode_resp_matches_python(args) -> None:
    assert _speedups.encode_resp(args) == encode_resp(args)
    assert _speedups.encode_resp(tuple(args)) == encode_resp(list(args))


def test_encode_resp_refuses_text() -> None:
    with pytest.raises(TypeError):
        _speedups.encode_resp([b"SET", "k"])


# -- the write path ------------------------------------------------------------------------------
# compiled == pure, byte for byte: LZF compression, rdbSaveRawString, the blob encoders, the
# stream node cutting; odd arguments give the pure function's result or error

from rdbtools.rdb import encoders  # noqa: E402
from rdbtools.errors import EncodeError  # noqa: E402
from rdbtools.format import primitives  # noqa: E402
from rdbtools.format.stream import decode_stream_node  # noqa: E402
from rdbtools.model import StreamEntry  # noqa: E402


def either(fn, *args):
    """The result, or the error as (type, message)."""
    try:
        return "ok", fn(*args)
    except Exception as err:  # noqa: BLE001 - compared, not hidden
        return "error", (type(err), str(err))


def same_write(c_fn, py_fn, *args):
    c, py = either(c_fn, *args), either(py_fn, *args)
    assert c == py, f"C {c!r} != Python {py!r} for {args!r}"[:2000]
    return c


# canonical decimal text at every integer-encoding boundary, and near misses
_INT_TEXTS = [b"%d" % v for v in _EDGES] + [b"-0", b"00", b"01", b"+1", b" 1", b"1 ", b"-", b"",
                                            b"1_0", b"9223372036854775808",
                                            b"-9223372036854775809", b"12345678901234567890"]
int_texts = st.sampled_from(_INT_TEXTS)
compressible = st.lists(st.sampled_from([b"abc", b"abcabcabc", b"x" * 40, b"\x00" * 300,
                                         b"hello ", b'{"id":', b"1234"]),
                        min_size=1, max_size=60).map(b"".join)
# long runs (matches capped at 264 bytes), repeats across the 8 KB window's edge, random bytes
far = st.tuples(st.binary(min_size=3, max_size=40), st.integers(8150, 8250)).map(
    lambda p: p[0] + bytes(range(256)) * (p[1] // 256) + bytes(range(p[1] % 256)) + p[0])
huge = st.sampled_from([b"a" * 100_000, bytes(range(256)) * 400,
                        random.Random(7).randbytes(70_000),
                        (random.Random(8).randbytes(5000) * 3)[:14_000]])
payloads = st.one_of(st.binary(max_size=600), compressible, int_texts, far, huge,
                     st.integers(0, 5).map(lambda n: b"z" * n))


@FAST
@given(payloads)
def test_lzf_compress_equals_python(data):
    c = same_write(_speedups.lzf_compress, lzf.lzf_compress, data)
    packed = c[1]
    if packed is not None:
        assert len(packed) < len(data)
        assert lzf.lzf_decompress(packed, len(data)) == data


@FAST
@given(payloads, st.booleans())
def test_encode_rdb_string_equals_python(data, compress):
    same_write(_speedups.encode_rdb_string, primitives.encode_rdb_string, data, compress)


def test_write_path_odd_arguments_go_to_python():
    cases = [
        (_speedups.lzf_compress, lzf.lzf_compress, [(bytearray(b"abcabcabcabc"),), ("text",),
                                                   (memoryview(b"abcdabcd"),), (None,)]),
        (_speedups.encode_rdb_string, primitives.encode_rdb_string,
         [(bytearray(b"12"),), (b"x" * 30,), (b"x" * 30, 0), ("text", True), (None,), ()]),
        (_speedups.encode_listpack, encoders.encode_listpack,
         [([True, b"a"],), ([2**63],), ([-(2**63) - 1],), ([bytearray(b"a")],), ([1.5],),
          (iter([b"a", 1]),), ((b"a", 1),), ({b"a"},), (None,), ([b"x", "text"],)]),
        (_speedups.encode_ziplist, encoders.encode_ziplist,
         [([True],), ([2**64],), ([memoryview(b"ab")],), (iter([1, b"b"]),), ((1, b"b"),),
          ("text",)]),
        (_speedups.encode_intset, encoders.encode_intset,
         [([],), ((),), ([2**63],), ([1, True],), ([1.0],), ({3, 1},), ((5, 5, -1),),
          ([b"1"],), (None,)]),
        (_speedups.compact, encoders.compact,
         [([b"1", bytearray(b"2")],), ((b"1", b"x"),), (iter([b"7"]),), ([1],), (None,)]),
    ]
    for c_fn, py_fn, arg_lists in cases:
        for args in arg_lists:
            if any(isinstance(a, type(iter([]))) for a in args):
                items = list(args[0])  # an iterator is consumed by the first call
                c, py = either(c_fn, iter(items)), either(py_fn, iter(items))
                assert c == py, (c_fn, args)
            else:
                same_write(c_fn, py_fn, *args)
    assert _speedups.encode_rdb_string(b"x" * 30, compress=False) == \
        primitives.encode_rdb_string(b"x" * 30, compress=False)


blob_values = st.one_of(ints, strings, int_texts)


@FAST
@given(st.lists(blob_values, max_size=40))
def test_encode_listpack_equals_python(els):
    assert same_write(_speedups.encode_listpack, encoders.encode_listpack, els) == \
        ("ok", build_listpack(els))
    same_write(_speedups.encode_listpack, encoders.encode_listpack, tuple(els))


@FAST
@given(st.lists(blob_values, max_size=40))
def test_encode_ziplist_equals_python(els):
    assert same_write(_speedups.encode_ziplist, encoders.encode_ziplist, els) == \
        ("ok", build_ziplist(els))


def test_encoders_on_large_elements():
    """Entries over 254 bytes (5-byte ziplist prevlen), 4096 and 16384 bytes (listpack 32-bit
    lengths, 3-byte backlens) and over 65535 elements (the saturated count)."""
    for els in ([b"y" * 300, 7, b"y" * 20000, -5], [b"q" * 16383, b"r" * 16384, b"s" * 2**20],
                list(range(70000)), [b"e"] * 65535, [b"e"] * 65536):
        assert _speedups.encode_listpack(els) == encoders.encode_listpack(els)
        assert _speedups.encode_ziplist(els) == encoders.encode_ziplist(els)


@FAST
@given(st.lists(ints, max_size=40))
def test_encode_intset_equals_python(ms):
    c = same_write(_speedups.encode_intset, encoders.encode_intset, ms)
    if ms:
        assert c == ("ok", build_intset(ms))
    else:
        assert c[1][0] is EncodeError


@FAST
@given(st.lists(st.one_of(int_texts, st.binary(max_size=22)), max_size=30))
def test_compact_equals_python(items):
    same_write(_speedups.compact, encoders.compact, items)


_field = st.one_of(st.sampled_from([b"f", b"name", b"1", b"-7", b"x" * 70]), int_texts,
                   st.binary(max_size=12))


@st.composite
def stream_entries(draw):
    """Entries with IDs in any order (negative and wrapping deltas), the same fields as the
    first entry or not, values that compact to integers, big values (byte limits)."""
    n = draw(st.integers(0, 40))
    master = draw(st.lists(st.tuples(_field, _field), min_size=0, max_size=4))
    id_ints = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**63, 2**64 - 1]),
                        st.integers(1_700_000_000_000, 1_700_000_000_100))
    out = []
    for _ in range(n):
        if master and draw(st.booleans()):
            fields = [(f, draw(st.one_of(_field, st.binary(max_size=300)))) for f, _ in master]
        else:
            fields = draw(st.lists(st.tuples(_field, _field), max_size=4))
        out.append(StreamEntry((draw(id_ints), draw(id_ints)), fields))
    return out


@FAST
@given(stream_entries(), st.one_of(st.integers(1, 600), st.just(2**30)), st.integers(0, 5))
def test_stream_nodes_equal_python(entries, max_bytes, max_entries):
    """The same nodes, and they read back (decode_stream_node) as the entries."""
    c = same_write(_speedups.stream_nodes, encoders.stream_nodes, entries, max_bytes, max_entries)
    text = (lambda x: b"%d" % x if isinstance(x, int) else x)
    back = []
    for (ms, seq), lp in c[1]:
        node = decode_stream_node(ms, seq, blobs.decode_listpack(lp))
        assert not max_entries or len(node.entries) <= max_entries
        back += [((e.ms, e.seq), [(text(f), text(v)) for f, v in e.fields]) for e in node.entries]
    assert back == [(e.id, e.fields) for e in entries]


def test_stream_nodes_odd_arguments_go_to_python():
    ok = [StreamEntry((1, 2), [(b"a", b"1")]), StreamEntry((1, 3), [(b"a", b"2")])]
    for args in [
        ([StreamEntry((1, 2), [[b"a", b"1"]])], 100, 0),        # pairs as lists
        ([StreamEntry([1, 2], [(b"a", b"1")])], 100, 0),        # ID as a list
        ([StreamEntry((2**64, 0), [(b"a", b"1")])], 100, 0),    # ID beyond 64 bits
        ([StreamEntry((-1, 0), [(b"a", b"1")])], 100, 0),
        ([StreamEntry((1, 2), [(b"a", bytearray(b"1"))])], 100, 0),
        ([StreamEntry((1, 2), ((b"a", b"1"),))], 100, 0),       # pairs in a tuple
        (iter(ok), 100, 0), (tuple(ok), 100, 0), (ok, 2**70, 0), (ok, 100, -1), (ok, 1.5, 0),
        ([object()], 100, 0),
    ]:
        if isinstance(args[0], type(iter([]))):
            assert either(_speedups.stream_nodes, iter(ok), *args[1:]) == \
                either(encoders.stream_nodes, iter(ok), *args[1:])
        else:
            same_write(_speedups.stream_nodes, encoders.stream_nodes, *args)


def test_writer_takes_the_compiled_encoders():
    from rdbtools.rdb import writer
    from rdbtools.output import commands

    assert _accel.lzf_compress is _speedups.lzf_compress
    assert writer.encode_rdb_string is _speedups.encode_rdb_string
    assert writer.encode_listpack is _speedups.encode_listpack
    assert writer.encode_ziplist is _speedups.encode_ziplist
    assert writer.encode_intset is _speedups.encode_intset
    assert writer.compact is _speedups.compact
    assert writer.stream_nodes is _speedups.stream_nodes
    assert writer.encode_resp is commands.encode_resp is _speedups.encode_resp



# -- RDB 13-15 (Redis 8.6 - 8.10) ----------------------------------------------------------------
# The compiled loop reads KEY_META prefixes, streams 26/27 (IDMP state, NACK zones), arrays,
# template hashes and GCRA values itself, giving the pure loop's records; it leaves whatever is
# invalid to the pure loop, so the errors are the pure loop's (same class, offset, message);
# the renderers give the pure path's dump JSON and RESP bytes for every such key.

import struct  # noqa: E402

from rdbtools.format.primitives import encode_rdb_length as _len  # noqa: E402
from rdbtools.output import dump as _dump  # noqa: E402

NEW_FILES = [n for n in CORPUS_FILES if n.startswith(("redis-8.6.2/", "redis-8.10.2/"))]
needs_new_corpus = pytest.mark.skipif(not NEW_FILES, reason="no redis-8.6.2 / 8.10.2 corpus files")


def _new_keys(entries):
    """The keys holding something RDB 13-15 added (types 26-33, key metadata)."""
    return [(e.db, e.key) for e in entries if e.rdb_type >= 26 or e.key_meta is not None]


@needs_new_corpus
@pytest.mark.parametrize("name", NEW_FILES)
def test_new_records_come_from_the_compiled_loop(monkeypatch, name):
    compiled = []

    def spy(*args):
        result = _speedups.read_records(*args)
        compiled.extend(result[0])
        return result

    monkeypatch.setattr(_accel, "read_records", spy)
    for mode in ("full", "sizes"):
        compiled.clear()
        with open_rdb(corpus(name), values=mode) as rdb:
            entries = list(rdb.iter_entries())
        new = _new_keys(entries)
        assert _new_keys(compiled) == new
    if name.endswith(("dump.rdb", "dump-keymeta.rdb")):
        assert new


@needs_new_corpus
@pytest.mark.parametrize("name", NEW_FILES)
def test_new_files_lazy_matches_compiled_full(name):
    """values="lazy" is the pure loop's: once drained, the same keys and values."""
    with open_rdb(corpus(name)) as rdb:
        full = [repr(e.value) for e in rdb.iter_entries()]
    lazy = []
    with open_rdb(corpus(name), values="lazy") as rdb:
        for e in rdb.iter_entries():
            value = e.value
            if value is not None and not isinstance(value, (bytes, int, list)) \
                    and hasattr(value, "__next__"):
                value = list(value)
            lazy.append(repr(value))
    assert lazy == full


@needs_new_corpus
@pytest.mark.parametrize("name", NEW_FILES)
@pytest.mark.parametrize("mode", ["full", "sizes"])
def test_new_files_json_and_resp(name, mode):
    """json_entry writes the stdlib bytes of entry_to_dict for every key (modules excepted,
    which it leaves to Python); resp_entry the commands' bytes for every key it renders, and
    it renders arrays and the streams of these servers without Redis 8.6+ state."""
    version = int(corpus(name)[5:9])
    with open_rdb(corpus(name), values=mode) as rdb:
        entries = list(rdb.iter_entries())
    for e in entries:
        rendered = _speedups.json_entry(e)
        assert rendered == _dump._json_fallback(_dump.entry_to_dict(e)) \
            or rendered is None and e.type == "module"
        if mode == "sizes":
            continue
        compiled = _speedups.resp_entry(e.type, e.key, e.value, e.expire_at_ms,
                                        e.field_expire_at_ms, True, e.array_next_insert_index)
        if compiled is not None:
            assert compiled == _python_resp(e, version)
        elif e.type in ("array", "string", "list", "set", "zset", "hash"):
            pytest.fail(f"resp_entry declined {e.key!r}")


# crafted records: an RDB 15 file around them, the CRC disabled
def _s(data: bytes) -> bytes:
    return _len(len(data)) + data


def _file(*records: bytes, header: bytes = b"REDIS0015") -> bytes:
    return header + b"".join(records) + b"\xff" + bytes(8)


def _key(code: int, body: bytes, name: bytes = b"k") -> bytes:
    return bytes([code]) + _s(name) + body


def _id16(ms: int, seq: int = 0) -> bytes:
    return struct.pack(">QQ", ms, seq)


def _array(*elements: bytes, count=None, cursor: bytes = b"\x00") -> bytes:
    return _key(28, _len(len(elements) if count is None else count) + cursor + b"".join(elements))


def _ar(index: int, tag: int, value: bytes) -> bytes:
    return _len(index) + _len(tag) + value


def _group(pel=(), consumers=(), nacked=None, name=b"g") -> bytes:
    out = _s(name) + _len(0) + _len(0) + _len(0) + _len(len(pel))
    out += b"".join(_id16(ms) + struct.pack("<q", 5) + _len(1) for ms in pel)
    out += _len(len(consumers))
    for cname, ids in consumers:
        out += _s(cname) + struct.pack("<qq", 7, 8) + _len(len(ids)) + b"".join(map(_id16, ids))
    if nacked is not None:
        out += _len(len(nacked)) + b"".join(map(_id16, nacked))
    return out


_NO_IDMP = _len(100) + _len(100) + _len(0) + _len(0) + _len(0)


def _stream(code: int, *groups: bytes, idmp: bytes = _NO_IDMP) -> bytes:
    body = _len(0) + _len(0) + _len(0) * 2 + _len(0) * 4 + _len(0) + _len(len(groups))
    return _key(code, body + b"".join(groups) + (idmp if code >= 26 else b""))


def _tmpl(tid: int, *fields: bytes) -> bytes:
    return b"\xf2" + _len(tid) + _len(len(fields)) + b"".join(map(_s, fields))


_USER = _tmpl(0, b"age", b"name", b"email")
_KM = struct.pack("<I", 0x28C4F509)  # class KMT1, version 1, ALLOW_IGNORE (OBSERVED bytes)


def _key_meta(*classes: bytes, count=None) -> bytes:
    return b"\xf3" + _len(len(classes) if count is None else count) + b"".join(classes)


_STR = _key(0, _s(b"v"))

CRAFTED = {
    # arrays
    "array ok": _file(_array(_ar(0, 1, struct.pack("<q", -5)), _ar(3, 2, struct.pack("<d", 2.5)),
                             _ar(9, 3, _s(b"small")), _ar(2**64 - 2, 0, _s(b"a long one")),
                             cursor=b"\x01" + _len(9))),
    "array empty": _file(_array(count=0)),
    "array cursor flag 2": _file(_array(_ar(0, 3, _s(b"x")), cursor=b"\x02")),
    "array cursor at the end": _file(_array(_ar(0, 3, _s(b"x")), cursor=b"\x01" + _len(2**64 - 1))),
    "array index 2**64-1": _file(_array(_ar(2**64 - 1, 3, _s(b"x")))),
    "array index encoded": _file(_array(b"\xc0\x05" + _len(3) + _s(b"x"))),
    "array indexes descending": _file(_array(_ar(5, 3, _s(b"x")), _ar(4, 3, _s(b"y")))),
    "array index twice": _file(_array(_ar(5, 3, _s(b"x")), _ar(5, 3, _s(b"y")))),
    "array tag 4": _file(_array(_ar(0, 4, _s(b"x")))),
    "array small string of 8": _file(_array(_ar(0, 3, _s(b"12345678")))),
    "array float cut": _file(_array(_ar(0, 2, b"\x00" * 7))),
    "array count beyond": _file(_array(_ar(0, 3, _s(b"x")), count=3)),
    # template hashes
    "template ok": _file(_USER, _key(30, _s(build_listpack([0, 30, b"alice", b"a@x"])))),
    "template array ok": _file(_USER, _key(32, _len(0) + _s(b"1") + _s(b"n") + _s(b"e"))),
    "template unknown": _file(_USER, _key(30, _s(build_listpack([7, 30, b"alice", b"a@x"])))),
    "template unknown 32": _file(_USER, _key(32, _len(3) + _s(b"1") + _s(b"n") + _s(b"e"))),
    "template too few values": _file(_USER, _key(30, _s(build_listpack([0, 30, b"alice"])))),
    "template too many values": _file(_USER, _key(30, _s(build_listpack([0, 1, b"a", b"b", b"c"])))),
    "template id as text": _file(_USER, _key(30, _s(build_listpack([b"x", 30, b"a", b"b"])))),
    "template id negative": _file(_USER, _key(30, _s(build_listpack([-1, 30, b"a", b"b"])))),
    "template before its record": _file(_key(30, _s(build_listpack([0, 1, b"a", b"b"]))), _USER),
    "template 32 cut": _file(_USER, _key(32, _len(0) + _s(b"1"))),
    "dump template lp": _file(_key(29, _len(0) + _s(build_listpack([b"a", b"bb"]))
                                   + _s(build_listpack([9, b"1", b"2"])))),
    "dump template array": _file(_key(31, _len(1) + _len(2) + _s(b"a") + _s(b"bb")
                                      + _s(b"1") + _s(b"2"))),
    "dump template unsorted": _file(_key(31, _len(1) + _len(2) + _s(b"bb") + _s(b"a")
                                         + _s(b"1") + _s(b"2"))),
    "dump template no fields": _file(_key(31, _len(1) + _len(0))),
    "dump template fields format 2": _file(_key(31, _len(2) + _len(1) + _s(b"a") + _s(b"1"))),
    "dump template count": _file(_key(29, _len(0) + _s(build_listpack([b"a", b"bb"]))
                                      + _s(build_listpack([9, b"1"])))),
    # streams 26 / 27
    "stream 26 ok": _file(_stream(26, _group(pel=[1], consumers=[(b"c", [1])]), idmp=(
        _len(50) + _len(7) + _len(2) + _s(b"p1") + _len(1) + _s(b"i1") + _len(1) + _len(0)
        + _s(b"p2") + _len(0) + _len(3) + _len(1)))),
    "stream 27 ok": _file(_stream(27, _group(pel=[1, 2, 3], consumers=[(b"c", [2])],
                                             nacked=[3, 1]))),
    "stream 27 nacked twice": _file(_stream(27, _group(pel=[1], nacked=[1, 1]))),
    "stream 27 nacked unknown": _file(_stream(27, _group(pel=[1], nacked=[1, 2]))),
    "stream 27 nacked owned": _file(_stream(27, _group(pel=[1], consumers=[(b"c", [1])],
                                                       nacked=[1]))),
    "stream 27 unowned outside": _file(_stream(27, _group(pel=[1, 2], nacked=[1]))),
    "stream 26 unowned": _file(_stream(26, _group(pel=[1]))),
    "stream 27 claimed twice": _file(_stream(27, _group(pel=[1], consumers=[(b"a", [1]), (b"b", [1])],
                                                        nacked=[]))),
    "stream idmp duration 0": _file(_stream(26, idmp=_len(0) + _NO_IDMP[1:])),
    "stream idmp duration 86401": _file(_stream(26, idmp=_len(86401) + _NO_IDMP[1:])),
    "stream idmp max size 0": _file(_stream(26, idmp=_len(100) + _len(0) + _NO_IDMP[2:])),
    "stream idmp max size 10001": _file(_stream(26, idmp=_len(100) + _len(10001) + _NO_IDMP[2:])),
    "stream idmp cut": _file(_stream(26, idmp=_NO_IDMP[:3])),
    "stream idmp producer twice": _file(_stream(26, idmp=(
        _len(50) + _len(7) + _len(2) + (_s(b"p") + _len(1) + _s(b"i") + _len(1) + _len(0)) * 2
        + _len(3) + _len(1)))),
    "stream idmp empty producer twice": _file(_stream(26, idmp=(
        _len(50) + _len(7) + _len(2) + (_s(b"p") + _len(0)) * 2 + _len(3) + _len(1)))),
    # key metadata
    "key meta ok": _file(_key_meta(_KM + b"\x05" + _s(b"v") + b"\x02\x01\x03" + bytes(4)
                                   + b"\x04" + bytes(8) + b"\x00",
                                   struct.pack("<I", 0x28C4F619) + b"\x00") + _STR),
    "key meta after expire": _file(b"\xfc" + struct.pack("<q", 4102444800000)
                                   + _key_meta(_KM + b"\x00") + _STR),
    "key meta no classes": _file(_key_meta() + _STR),
    "key meta 8 classes": _file(_key_meta(*[_KM + b"\x00"] * 8) + _STR),
    "key meta bad opcode": _file(_key_meta(_KM + b"\x06\x00") + _STR),
    "key meta then opcode": _file(_key_meta(_KM + b"\x00") + b"\xfe\x00" + _STR),
    "key meta twice": _file(_key_meta(_KM + b"\x00") + _key_meta(_KM + b"\x00") + _STR),
    "key meta cut": _file(_key_meta(_KM + b"\x05\x05ab")),
    "key meta on a template": _file(_USER, _key_meta(_KM + b"\x00")
                                    + _key(30, _s(build_listpack([0, 1, b"a", b"b"])))),
    "key meta in valkey": _file(_key_meta(_KM + b"\x00") + _STR, header=b"VALKEY080"),
    # GCRA (compiled out of every default build: decoded from the spec)
    "gcra ok": _file(_key(33, _len(1_700_000_000_000_000))),
    "gcra beyond LLONG_MAX": _file(_key(33, _len(2**63))),
    # the new types in files that cannot hold them
    "array in valkey": _file(_array(_ar(0, 3, _s(b"x"))), header=b"VALKEY080"),
    "stream 27 in valkey": _file(_stream(27), header=b"VALKEY080"),
    "array in RDB 12": _file(_array(_ar(0, 3, _s(b"x"))), header=b"REDIS0012"),
    "template in RDB 13": _file(_USER, _key(30, _s(build_listpack([0, 1, b"a", b"b"]))),
                                header=b"REDIS0013"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
@pytest.mark.parametrize("mode", ["full", "sizes", "raw"])
def test_crafted_new_records(pure, case, mode):
    data = CRAFTED[case]
    assert_same_reads(pure, data, mode)
    outcome_ = read_all(data, mode)[-1]
    if case.endswith((" ok", "after expire")):
        assert outcome_[0] == "end", outcome_


@pytest.mark.parametrize("case, changes", [
    ("array ok", {}), ("array ok", {"field_expire_at_ms": {b"f": 1}}),
    ("array ok", {"array_next_insert_index": None, "idle_s": 3, "freq": 4}),
    ("stream 26 ok", {}), ("stream 27 ok", {}), ("gcra ok", {}),
    ("key meta ok", {"idle_s": 1, "freq": 2}), ("template ok", {})])
def test_json_of_crafted_new_records(case, changes):
    """Key order and the derived IDMP counts (a producer without IIDs is not tracked)."""
    with open_rdb(CRAFTED[case]) as rdb:
        entry = next(rdb.iter_entries())
    for name, value in changes.items():
        setattr(entry, name, value)
    assert _speedups.json_entry(entry) == _dump._json_fallback(_dump.entry_to_dict(entry))


@pytest.mark.parametrize("case", sorted(c for c in CRAFTED if c.endswith(" ok")))
def test_crafted_new_records_are_read_compiled(monkeypatch, case):
    """The valid crafted records do not fall back to the pure loop."""
    compiled = []

    def spy(*args):
        result = _speedups.read_records(*args)
        compiled.extend(result[0])
        return result

    monkeypatch.setattr(_accel, "read_records", spy)
    with open_rdb(CRAFTED[case]) as rdb:
        entries = list(rdb.iter_entries())
    assert entries and [e.key for e in compiled] == [e.key for e in entries]


_finite_or_not = st.one_of(st.floats(), st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 0.1, 1e-6, 1e-7, 1e16, 1e17, 1e21, 1e22, 2.0**62, 2.0**62 + 2048,
     -(2.0**62), 4.611686018427388e18, 5e-324, 1.7976931348623157e308, 123456789.125]))


@settings(FAST, suppress_health_check=[*FAST.suppress_health_check,
                                       HealthCheck.function_scoped_fixture])  # `pure`: no state
@given(st.lists(st.one_of(
    st.tuples(st.just(1), st.integers(-(2**63), 2**63 - 1).map(lambda v: struct.pack("<q", v))),
    st.tuples(st.just(2), _finite_or_not.map(lambda d: struct.pack("<d", d))),
    st.tuples(st.just(3), st.binary(max_size=7).map(_s)),
    st.tuples(st.just(0), st.binary(max_size=40).map(_s))), min_size=1, max_size=8),
    st.one_of(st.none(), st.integers(0, 2**64 - 2)))
def test_arrays_equal_python(pure, elements, cursor):
    """INT elements as decimal text, FLOAT ones as the server prints them (arFormatFloat)."""
    data = _file(_array(*(_ar(3 * i, tag, v) for i, (tag, v) in enumerate(elements)),
                        cursor=b"\x00" if cursor is None else b"\x01" + _len(cursor)))
    assert_same_reads(pure, data, "full")
