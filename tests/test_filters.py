"""rdbtools.rdb.filters: Redis glob semantics and KeyFilter criteria."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rdbtools import open_rdb
from rdbtools.rdb.filters import KeyFilter, glob_to_regex
from rdbtools.model import Entry
from truth import truth_bytes


@pytest.mark.parametrize(
    "pattern, key, expected",
    [
        (b"user:*", b"user:42", True),
        (b"user:*", b"users", False),
        (b"*", b"", True),
        (b"*", b"a\nb", True),
        (b"h?llo", b"hello", True),
        (b"h?llo", b"hllo", False),
        (b"h[ae]llo", b"hallo", True),
        (b"h[ae]llo", b"hillo", False),
        (b"h[^e]llo", b"hallo", True),
        (b"h[^e]llo", b"hello", False),
        (b"h[a-b]llo", b"hbllo", True),
        (b"h[b-a]llo", b"hbllo", True),  # reversed range, as stringmatchlen() swaps it
        (b"h\\*llo", b"h*llo", True),
        (b"h\\*llo", b"hxllo", False),
        (b"[\\]]", b"]", True),
        (b"a[]b", b"ab", False),  # an empty class matches nothing
        (b"a[bc", b"ab", True),  # unterminated class: the rest of the pattern is the class
        (b"k\xff*", b"k\xff\x00", True),
        (b"a.b", b"axb", False),  # regex metacharacters are literal
        (b"x\\", b"x\\", True),
    ],
)
def test_glob(pattern, key, expected):
    assert bool(glob_to_regex(pattern).fullmatch(key)) is expected


alnum = st.binary(max_size=8).map(lambda b: bytes(c for c in b if chr(c).isalnum()))


@given(st.lists(st.sampled_from([b"a", b"b", b"*", b"?", b"[ab]", b"[a-c]"]), max_size=6).map(b"".join), alnum)
def test_glob_agrees_with_fnmatch_on_common_syntax(pattern, key):
    assert bool(glob_to_regex(pattern).fullmatch(key)) == fnmatch.fnmatchcase(key, pattern)


def e(db=0, key=b"k", type="string", expire=None):
    return Entry(db, key, type, None, expire_at_ms=expire)


def test_empty_filter_keeps_everything():
    f = KeyFilter()
    assert f.is_empty and f.matches(e()) and f.matches(e(db=9, type="stream", expire=1))


def test_criteria():
    assert KeyFilter(dbs={1, 2}).matches(e(db=2)) and not KeyFilter(dbs={1}).matches(e(db=0))
    assert KeyFilter(types={"hash"}).matches(e(type="hash")) and not KeyFilter(types={"hash"}).matches(e())
    assert KeyFilter(expiring=True).matches(e(expire=5)) and not KeyFilter(expiring=True).matches(e())
    assert KeyFilter(expiring=False).matches(e()) and not KeyFilter(expiring=False).matches(e(expire=5))
    f = KeyFilter(key_globs=("user:*", "session:*"))
    assert f.matches(e(key=b"session:1")) and not f.matches(e(key=b"cache:1"))
    f = KeyFilter(key_regexes=(r"^user:\d+$",), not_key_regexes=(b"7",))
    assert f.matches(e(key=b"user:42")) and not f.matches(e(key=b"user:47")) and not f.matches(e(key=b"user:x"))
    f = KeyFilter(key_regexes=("a", "b"))
    assert f.matches(e(key=b"ab")) and not f.matches(e(key=b"a"))
    assert not KeyFilter(dbs={0}).is_empty


def test_accepts_before_value_and_db_skip():
    f = KeyFilter(dbs={3}, types={"zset"})
    assert f.accepts(3, b"k", "zset") and not f.accepts(3, b"k", "set")
    assert f.accepts_db(3) and not f.accepts_db(0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown type"):
        KeyFilter(types={"json"})
    with pytest.raises(ValueError, match="regular expression"):
        KeyFilter(key_regexes=("(",))


def test_bytes_patterns_from_non_utf8_command_line():
    # click hands undecodable argv bytes over as surrogate escapes
    f = KeyFilter(key_globs=(b"k\xff".decode("utf-8", "surrogateescape"),))
    assert f.matches(e(key=b"k\xff"))


CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
@pytest.mark.parametrize("type_", ["array", "hash", "stream"])
def test_type_filter_on_redis_8_10(type_):
    """`--type array` keeps exactly the arrays the 8.10.2 server held; template hashes (types
    30/32, selected before their template is resolved) are hashes."""
    path = CORPUS / "redis-8.10.2" / "rdb" / "dump.rdb"
    truth = json.loads(path.with_suffix(".json").read_text())
    want = sorted((int(db), truth_bytes(r["key"])) for db, records in truth["dbs"].items()
                  for r in records if r["type"] == type_)
    with open_rdb(path) as rdb:
        kept = sorted((e.db, e.key) for e in rdb.iter_entries(KeyFilter(types={type_}).accepts))
    assert kept == want
