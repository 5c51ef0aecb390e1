"""RESP fast path == grammar (hypothesis), manifest grammar round trip, reader truncation and
damage reporting, replay regressions."""

from __future__ import annotations

import io

import pytest
from construct import ConstructError
from hypothesis import given, settings
from hypothesis import strategies as st

from rdbtools.rdb import _accel
from rdbtools.aof import open_aof
from rdbtools.aof.replay import Replayer, replay
from rdbtools.aof.reader import AofCommand
from rdbtools.output.commands import encode_resp
from rdbtools.errors import AofFormatError, AofTruncatedError, UnknownCommandError
from rdbtools.format.manifest import (ManifestLine, ManifestSyntaxError, format_manifest_line,
                                      parse_manifest_line)
from rdbtools.format.resp import (AofRecord, RespError, RespIncomplete, parse_commands,
                                  parse_record)

ARGS = st.lists(st.binary(max_size=40), min_size=1, max_size=6)

# the pure-Python batch parser, and the compiled one when it is built (both must agree with
# parse_record on every input)
BATCH_PARSERS = [parse_commands] + ([_accel.parse_commands] if _accel.parse_commands else [])


def _grammar(data: bytes):
    try:
        rec = AofRecord.parse_stream(io.BytesIO(data))
    except ConstructError:
        return "error"
    if rec.body is None:
        return "error"
    if rec.kind == b"#":
        return (None, rec.body.text)
    return ([a.data for a in rec.body.args], None)


def _fast(data: bytes):
    try:
        args, text, end = parse_record(data, 0)
    except (RespError, RespIncomplete):
        return "error"
    return (args, text)


@given(ARGS)
def test_fast_path_equals_grammar_on_commands(args):
    data = encode_resp(args)
    assert _fast(data) == _grammar(data) == (args, None)


@settings(max_examples=300)
@given(ARGS, st.integers(0, 400), st.binary(min_size=1, max_size=3))
def test_fast_path_equals_grammar_on_damage(args, where, junk):
    data = bytearray(encode_resp(args))
    where %= len(data)
    data[where : where + len(junk)] = junk
    data = bytes(data)
    assert _fast(data) == _grammar(data)


@given(st.binary(max_size=30).filter(lambda b: b"\r\n" not in b and not b.endswith(b"\r")))
def test_annotations(text):
    data = b"#" + text + b"\r\n"
    assert _fast(data) == _grammar(data) == (None, text)


@given(st.binary(min_size=1, max_size=20), st.integers(0, 2**40), st.sampled_from("bhi"),
       st.one_of(st.none(), st.integers(0, 2**40)))
def test_manifest_line_round_trip(name, seq, kind, start):
    if b"/" in name:
        name = name.replace(b"/", b"_")
    line = ManifestLine(name, seq, kind, start_offset=start)
    assert parse_manifest_line(format_manifest_line(line)) == line


def test_manifest_examples():
    line = parse_manifest_line(b"file appendonly.aof.2.incr.aof seq 2 type i startoffset 224 endoffset 532")
    assert (line.file, line.seq, line.kind, line.start_offset, line.end_offset) == (
        b"appendonly.aof.2.incr.aof", 2, "incr", 224, 532)
    assert parse_manifest_line(b"# comment") is None
    assert parse_manifest_line(b'FILE "a b" SEQ 1 TYPE b').file == b"a b"
    with pytest.raises(ManifestSyntaxError):
        parse_manifest_line(b"file x seq 1")
    with pytest.raises(ManifestSyntaxError):
        parse_manifest_line(b"file dir/x seq 1 type b")


def _write(tmp_path, data: bytes):
    p = tmp_path / "appendonly.aof"
    p.write_bytes(data)
    return p


CMDS = [[b"SET", b"a", b"1"], [b"MULTI"], [b"INCR", b"a"], [b"EXEC"], [b"RPUSH", b"l", b"x"]]


def test_truncated_tail_is_reported_with_offset(tmp_path):
    whole = b"".join(encode_resp(c) for c in CMDS)
    good = len(whole)
    p = _write(tmp_path, whole + b"*3\r\n$3\r\nSET\r\n$1\r\nb")
    with open_aof(p) as aof:
        names = [c.name for c in aof.iter_commands()]
    assert names == [b"SET", b"MULTI", b"INCR", b"EXEC", b"RPUSH"]
    assert aof.truncation.file == "appendonly.aof" and aof.truncation.offset == good
    with pytest.raises(AofTruncatedError) as info:
        list(open_aof(p, strict=True).iter_commands())
    assert info.value.offset == good and info.value.file == "appendonly.aof"


def test_unfinished_multi_is_dropped(tmp_path):
    head = encode_resp(CMDS[0])
    p = _write(tmp_path, head + encode_resp([b"MULTI"]) + encode_resp([b"INCR", b"a"]))
    with open_aof(p) as aof:
        assert [c.name for c in aof.iter_commands()] == [b"SET"]
    assert aof.truncation.offset == len(head)


def test_damage_names_file_line_offset(tmp_path):
    head = encode_resp(CMDS[0])
    p = _write(tmp_path, head + b"GARBAGE\r\n")
    with pytest.raises(AofFormatError) as info:
        list(open_aof(p).iter_commands())
    err = info.value
    assert (err.file, err.offset, err.line) == ("appendonly.aof", len(head), 8)
    assert "appendonly.aof, line 8: offset" in str(err)


def test_timestamps_and_upto(tmp_path):
    data = (b"#TS:100\r\n" + encode_resp([b"SET", b"a", b"1"]) + b"#TS:200\r\n"
            + encode_resp([b"SET", b"a", b"2"]))
    p = _write(tmp_path, data)
    cmds = list(open_aof(p).iter_commands())
    assert [c.timestamp for c in cmds] == [100, 200]
    engine = replay(open_aof(p), upto_timestamp=150)
    assert [e.value for e in engine.iter_entries()] == [b"1"]
    engine = replay(open_aof(p), upto_offset=cmds[0].end)
    assert [e.value for e in engine.iter_entries()] == [b"1"]


def _play(*cmds, profile=None):
    r = Replayer(profile)
    r.feed(AofCommand([bytes(x) if not isinstance(x, bytes) else x for x in c], "t.aof", i, i + 1)
           for i, c in enumerate(cmds))
    return {(e.db, e.key): e for e in r.iter_entries()}


def test_unknown_command_is_an_error_unless_skipped():
    with pytest.raises(UnknownCommandError) as info:
        _play([b"BF.ADD", b"k", b"x"])
    assert info.value.command == b"BF.ADD" and info.value.file == "t.aof"
    r = Replayer(skip_unknown=True)
    r.feed([AofCommand([b"BF.ADD", b"k", b"x"], "t.aof", 0, 5), AofCommand([b"SET", b"a", b"b"], "t.aof", 5, 9)])
    assert r.skipped == {"BF.ADD": 1}


def test_set_encodings_follow_the_profile():
    from rdbtools.aof.replay import ServerProfile

    keys = _play([b"SADD", b"s", b"1", b"2"], [b"SADD", b"t", b"a"],
                 profile=ServerProfile.parse("redis-7.2.4"))
    assert keys[(0, b"s")].rdb_type == 11 and keys[(0, b"t")].rdb_type == 20
    keys = _play([b"SADD", b"t", b"a"], profile=ServerProfile.parse("redis-7.0.15"))
    assert keys[(0, b"t")].rdb_type == 2


def test_hincrby_long_field_keeps_a_ziplist_before_7_0():
    """Found by test_differential on Redis 6.2.5: HINCRBY / HINCRBYFLOAT of a field longer than
    hash-max-ziplist-value keep the ziplist there (checked against 6.2.5 and 7.0.15)."""
    from rdbtools.aof.replay import ServerProfile

    long_field = b"x" * 65
    cmds = ([b"HINCRBY", b"a", long_field, b"1"], [b"HINCRBYFLOAT", b"b", long_field, b"1.5"])
    keys = _play(*cmds, profile=ServerProfile.parse("redis-6.2.5"))
    assert keys[(0, b"a")].rdb_type == keys[(0, b"b")].rdb_type == 13  # HASH_ZIPLIST
    keys = _play(*cmds, profile=ServerProfile.parse("redis-7.0.15"))
    assert keys[(0, b"a")].rdb_type == keys[(0, b"b")].rdb_type == 4  # HASH (hashtable)


def _fast_all(data: bytes):
    """Repeated parse_record from 0: the commands up to the first non-command record."""
    cmds, ends, pos = [], [], 0
    while True:
        try:
            args, text, end = parse_record(data, pos)
        except (RespError, RespIncomplete):
            return cmds, ends, pos
        if args is None:
            return cmds, ends, pos
        cmds.append(args)
        ends.append(end)
        pos = end


@settings(max_examples=300)
@given(st.lists(ARGS, min_size=1, max_size=4), st.integers(0, 400), st.binary(min_size=1, max_size=3),
       st.booleans(), st.integers(1, 5))
def test_batch_parser_equals_record_parser(cmds, where, junk, damage, limit):
    data = bytearray(b"".join(encode_resp(c) for c in cmds))
    if damage:
        where %= len(data)
        data[where : where + len(junk)] = junk
    data = bytes(data)
    want_cmds, want_ends, want_pos = _fast_all(data)
    if len(want_cmds) > limit:
        want_pos = want_ends[limit - 1]
        want_cmds, want_ends = want_cmds[:limit], want_ends[:limit]
    for parse in BATCH_PARSERS:
        assert parse(data, 0, limit) == (want_cmds, want_ends, want_pos)


@settings(max_examples=200)
@given(st.lists(st.one_of(ARGS, st.binary(max_size=8).filter(lambda b: b"\r" not in b and b"\n" not in b)),
                min_size=1, max_size=5),
       st.sampled_from([b"$", b"*", b"*0", b"$-1", b"$ 1", b"*+1", b"$1_0", b"$01", b"*01",
                        # complete lines: what follows a bad count must not be taken
                        b"*0\r\n$1\r\na\r\n", b"*01\r\n$1\r\na\r\n", b"*1\r\n$01\r\na\r\n",
                        b"*1\r\n$-1\r\n", b"*1\r\n$1\r\nab\r\n", b"*1\r\n$2\r\na\r\n",
                        b"*1\r$1\r\na\r\n", b"*1\r\n$1\ra\r\n", b"*2\r\n$1\r\na\r\n",
                        b"*99999999999999999999\r\n", b"*1\r\n$99999999999999999999\r\na\r\n"]))
def test_batch_parser_stops_where_record_parser_does(records, bad):
    data = b"".join(encode_resp(r) if isinstance(r, list) else b"#" + r + b"\r\n" for r in records)
    for cut in range(len(data) + 1):
        piece = data[:cut] + bad
        cmds, ends, pos = _fast_all(piece)
        for parse in BATCH_PARSERS:
            assert parse(piece, 0, 10**6) == (cmds, ends, pos)


@settings(max_examples=300)
@given(st.lists(st.one_of(ARGS, st.lists(st.sampled_from([b"\r\n", b"x\r\n$1", b"\r", b"\n", b"a" * 10001]),
                                         min_size=1, max_size=3)), min_size=1, max_size=5),
       st.integers(1, 80), st.integers(0, 300), st.binary(min_size=1, max_size=3), st.booleans())
def test_batch_parser_windows(cmds, window, where, junk, damage):
    """Commands crossing the split window, arguments holding CRLF, long lengths."""
    import rdbtools.format.resp as resp

    data = bytearray(b"".join(encode_resp(c) for c in cmds))
    if damage:
        where %= len(data)
        data[where : where + len(junk)] = junk
    data = bytes(data)
    saved = resp.WINDOW
    resp.WINDOW = window
    try:
        got = parse_commands(data, 0, 10**6)
    finally:
        resp.WINDOW = saved
    assert got == _fast_all(data)
    for parse in BATCH_PARSERS:
        assert parse(data, 0, 10**6) == got


def _reference_read(data: bytes, upto_offset=None):
    """What the reader yields, record by record with parse_record (the pre-batch reader):
    (args, offset, end, ts) of the commands and the usable end if truncated."""
    out, multi, ts, pos, good = [], None, None, 0, 0
    while pos < len(data):
        try:
            args, text, end = parse_record(data, pos)
        except RespIncomplete:
            return out, good
        if args is None:
            if text.startswith(b"TS:") and text[3:].isdigit():
                ts = int(text[3:])
            if multi is None:
                good = end
            pos = end
            continue
        if upto_offset is not None and end > upto_offset:
            return out, None
        cmd = (args, pos, end, ts)
        name = args[0].upper()
        if multi is not None:
            multi.append(cmd)
            if name == b"EXEC":
                out += multi
                multi = None
                good = end
        elif name == b"MULTI":
            multi = [cmd]
            good_multi = pos
        else:
            out.append(cmd)
            good = end
        pos = end
    if multi is not None:
        return out, good_multi
    return out, None


SMALL_CMDS = st.sampled_from([[b"SET", b"k", b"v"], [b"MULTI"], [b"multi"], [b"EXEC"], [b"exec"],
                              [b"RPUSH", b"l", b"a\r\nb", b"c"], [b"INCR", b"n"],
                              [b"SET", b"big", b"x" * 300]])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(SMALL_CMDS, st.integers(0, 3)), min_size=1, max_size=14),
       st.integers(0, 40), st.sampled_from([(8 << 20, 2048, 1 << 14), (64, 2, 16), (200, 1, 40)]),
       st.one_of(st.none(), st.integers(0, 600)))
def test_reader_batches_equal_record_by_record(tmp_path_factory, items, cut, sizes, upto):
    import rdbtools.aof.reader as reader_mod
    import rdbtools.format.resp as resp

    data = b"".join(encode_resp(x) if isinstance(x, list) else b"#TS:%d\r\n" % (100 + x)
                    for x in items)
    data = data[: len(data) - cut] if cut < len(data) else data
    if any(c.upper() == b"MULTI" for x in items if isinstance(x, list) for c in x[:1]):
        nested = False
        depth = 0
        for x in items:
            if isinstance(x, list) and x[0].upper() == b"MULTI":
                nested |= depth > 0
                depth = 1
            elif isinstance(x, list) and x[0].upper() == b"EXEC":
                depth = 0
        if nested:
            return  # MULTI inside MULTI: an error, tested elsewhere
    p = tmp_path_factory.mktemp("aof") / "appendonly.aof"
    p.write_bytes(data)
    saved = reader_mod.CHUNK, reader_mod.BATCH, resp.WINDOW
    reader_mod.CHUNK, reader_mod.BATCH, resp.WINDOW = sizes
    try:
        aof = open_aof(p)
        got = [(c.args, c.offset, c.end, c.timestamp) for c in aof.iter_commands(upto_offset=upto)]
    finally:
        reader_mod.CHUNK, reader_mod.BATCH, resp.WINDOW = saved
    want, trunc = _reference_read(data, upto)
    assert got == want
    if trunc is not None and upto is None:
        assert aof.truncation is not None and aof.truncation.offset == trunc


@pytest.mark.parametrize("aof", [
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + b"9" * 5000 + b"\r\nv\r\n",
    b"*" + b"9" * 5000 + b"\r\n$3\r\nSET\r\n",
    b"*2\r\n$3\r\nGET\r\n$" + b"1" * 19 + b"\r\nk\r\n",
], ids=["bulk-length", "argument-count", "19-digit-length"])
def test_numbers_no_file_can_hold_are_format_errors(tmp_path, aof):
    """Python's int() refuses more than 4300 digits with a bare ValueError: a count or length
    longer than any file can hold is reported as damage at its offset instead, on both paths."""
    path = tmp_path / "appendonly.aof"
    path.write_bytes(aof)
    with pytest.raises(AofFormatError, match=r"digits\): larger than any file can hold") as err:
        with open_aof(path) as reader:
            list(reader.iter_commands())
    assert err.value.offset == aof.index(b"9" * 5 if b"9" * 5 in aof else b"1" * 5)
