"""Regression tests of the replay engine, each a fixed command sequence run on every real server
that has its commands (``appendonly yes``): replaying the server's own AOF must give the
server's dataset key by key (the comparison of tests/aof/test_differential.py).

The sequences are the semantics the differential tests and the corpus found hard: encoding
conversions at every threshold, values a command rewrites before it propagates them, keys that
vanish when their last element goes, MULTI blocks, expiry in the past, and the "quirks": places
where what the server propagates is not what it holds, so that the server itself, loading its
own AOF, ends up with something else than it had (``test_replay_quirks_*``: there the replay must
equal the *reloaded* server, and the test shows the live one differs).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from capture import capture_dbs
from rdbtools.aof import open_aof
from rdbtools.aof.replay import ServerProfile, replay
from servers import SERVER_SPECS, RedisServer, probe_server
from test_corpus_aof import _align_consumer_times
from test_differential import _check, _run, _wait_rewrite
from truth import compare_entries, truth_bytes

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

pytestmark = pytest.mark.server

FAR = b"4102444800000"


@dataclass(frozen=True)
class Scenario:
    name: str
    commands: tuple
    redis: tuple = (6, 2, 0)   # oldest Redis with every command used
    valkey: tuple | None = (8, 0, 0)  # oldest Valkey, None: Redis only

    def runs_on(self, spec) -> bool:
        if spec.is_valkey:
            return self.valkey is not None and spec.version >= self.valkey
        return spec.version >= self.redis


def _many(cmd: bytes, key: bytes, n: int, width: int = 1, start: int = 0) -> tuple:
    items = []
    for i in range(start, start + n):
        items += [b"f%d" % i, b"v%d" % i][:width] if width == 2 else [b"m%d" % i]
    return (cmd, key, *items)


SCENARIOS = [
    Scenario("hash listpack to hashtable by count and by value size", (
        _many(b"HSET", b"h:count", 128, 2), (b"HSET", b"h:count", b"one-more", b"x"),
        (b"HSET", b"h:big", b"f", b"x" * 64), (b"HSET", b"h:big", b"g", b"y" * 65),
        (b"HSET", b"h:small", b"a", b"1"), (b"HDEL", b"h:small", b"a"),
        (b"HINCRBYFLOAT", b"h:float", b"f", b"3.0"), (b"HINCRBY", b"h:float", b"i", b"-5"))),
    Scenario("set intset to listpack or hashtable, ints at every width", (
        (b"SADD", b"s:ints", b"1", b"-32768", b"70000", b"5000000000"),
        (b"SADD", b"s:mixed", b"1", b"2"), (b"SADD", b"s:mixed", b"x"),
        (b"SADD", b"s:nonint", b"007", b"+5", b"1"),
        _many(b"SADD", b"s:many", 600), (b"SREM", b"s:many", b"m0"),
        (b"SADD", b"s:gone", b"1"), (b"SPOP", b"s:gone"),
        (b"SINTERSTORE", b"s:empty", b"s:ints", b"s:nonint"),
        (b"SUNIONSTORE", b"s:union", b"s:ints", b"s:mixed"))),
    Scenario("zset listpack to skiplist; scores spelled as the server does", (
        (b"ZADD", b"z:small", b"1", b"a", b"0.5", b"b", b"-2.5", b"c", b"inf", b"d", b"-inf", b"e"),
        (b"ZADD", b"z:long", b"1", b"x" * 65), _many(b"ZADD", b"z:count", 0),
        (b"ZADD", b"z:count", *[x for i in range(130) for x in (b"%d" % i, b"m%d" % i)]),
        (b"ZINCRBY", b"z:small", b"0.1", b"a"), (b"ZADD", b"z:small", b"GT", b"CH", b"0", b"a"),
        (b"ZADD", b"z:small", b"LT", b"-1e300", b"b"), (b"ZREM", b"z:small", b"c"),
        (b"ZREMRANGEBYSCORE", b"z:count", b"10", b"(20"), (b"ZPOPMIN", b"z:count", b"3"),
        (b"ZUNIONSTORE", b"z:union", b"2", b"z:small", b"z:count", b"WEIGHTS", b"2", b"0.5"))),
    Scenario("strings: integers, floats, ranges and bits", (
        (b"SET", b"str:n", b"007"), (b"INCR", b"str:n"), (b"SET", b"str:i", b"9"),
        (b"INCRBY", b"str:i", b"9223372036854775798"), (b"INCR", b"str:i"),
        (b"SET", b"str:f", b"1.5"), (b"INCRBYFLOAT", b"str:f", b"1.5"),
        (b"INCRBYFLOAT", b"str:g", b"1e3"), (b"APPEND", b"str:i", b"x"),
        (b"SETRANGE", b"str:r", b"5", b"abc"), (b"SETRANGE", b"str:r", b"0", b""),
        (b"SETBIT", b"str:b", b"100", b"1"), (b"SETBIT", b"str:b", b"7", b"1"),
        (b"BITFIELD", b"str:bf", b"SET", b"u8", b"0", b"255", b"OVERFLOW", b"SAT", b"INCRBY",
         b"u8", b"0", b"10", b"OVERFLOW", b"FAIL", b"INCRBY", b"i4", b"8", b"100"),
        (b"BITOP", b"OR", b"str:or", b"str:b", b"str:bf"), (b"GETSET", b"str:gs", b"new"),
        (b"SETNX", b"str:n", b"never"), (b"MSETNX", b"str:m1", b"1", b"str:n", b"2"),
        (b"SET", b"str:keep", b"v", b"PX", b"100000000"), (b"SET", b"str:keep", b"w", b"KEEPTTL"),
        (b"GETEX", b"str:keep", b"PERSIST"))),
    Scenario("lists: rotation, inserts, removals, and keys that empty", (
        (b"RPUSH", b"l:a", b"1", b"2", b"3", b"2", b"1"), (b"LREM", b"l:a", b"-1", b"2"),
        (b"LINSERT", b"l:a", b"BEFORE", b"3", b"x" * 70), (b"LSET", b"l:a", b"0", b"first"),
        (b"LMOVE", b"l:a", b"l:a", b"LEFT", b"RIGHT"), (b"RPOPLPUSH", b"l:a", b"l:b"),
        (b"LTRIM", b"l:a", b"1", b"-2"), (b"RPUSH", b"l:gone", b"x"), (b"LPOP", b"l:gone"),
        _many(b"RPUSH", b"l:big", 300), (b"LPOP", b"l:big", b"5"), (b"LPUSHX", b"l:none", b"x"))),
    Scenario("keys: rename over types, move, copy, expire in the past, MULTI", (
        (b"SET", b"k:s", b"v"), (b"RPUSH", b"k:l", b"1"), (b"RENAME", b"k:l", b"k:s"),
        (b"SET", b"k:t", b"x"), (b"MOVE", b"k:t", b"1"), (b"COPY", b"k:s", b"k:copy"),
        (b"SET", b"k:old", b"v"), (b"PEXPIREAT", b"k:old", b"1000"),
        (b"SET", b"k:ttl", b"v"), (b"PEXPIREAT", b"k:ttl", FAR), (b"PERSIST", b"k:ttl"),
        (b"MULTI",), (b"SET", b"k:m1", b"1"), (b"INCR", b"k:m1"), (b"RPUSH", b"k:m2", b"a"),
        (b"EXEC",), (b"SWAPDB", b"0", b"1"), (b"SELECT", b"1"), (b"DEL", b"k:copy"),
        (b"FLUSHDB",), (b"SELECT", b"0"))),
    Scenario("hyperloglog sparse to dense, merge", (
        (b"PFADD", b"hll:a", *[b"e%d" % i for i in range(50)]),
        (b"PFADD", b"hll:b", *[b"e%d" % i for i in range(3000)]),
        (b"PFMERGE", b"hll:m", b"hll:a", b"hll:b"))),
    Scenario("sort and geo stores", (
        (b"RPUSH", b"srt:l", b"3", b"1", b"2"), (b"SORT", b"srt:l", b"DESC", b"STORE", b"srt:out"),
        (b"SORT", b"srt:l", b"BY", b"nosort", b"STORE", b"srt:ns"),
        (b"GEOADD", b"geo:g", b"13.361389", b"38.115556", b"Palermo", b"15.087269", b"37.502669",
         b"Catania"),
        (b"GEOSEARCHSTORE", b"geo:near", b"geo:g", b"FROMLONLAT", b"15", b"37", b"BYRADIUS",
         b"200", b"km", b"ASC", b"STOREDIST"))),
    Scenario("streams: trims, deletions, groups, claims", (
        (b"XADD", b"x:s", b"1-1", b"a", b"1"), (b"XADD", b"x:s", b"2-1", b"b", b"2", b"c", b"3"),
        (b"XADD", b"x:s", b"3-1", b"a", b"4"), (b"XDEL", b"x:s", b"2-1"),
        (b"XGROUP", b"CREATE", b"x:s", b"g", b"0"),
        (b"XREADGROUP", b"GROUP", b"g", b"alice", b"COUNT", b"2", b"STREAMS", b"x:s", b">"),
        (b"XCLAIM", b"x:s", b"g", b"bob", b"0", b"1-1"), (b"XACK", b"x:s", b"g", b"3-1"),
        (b"XGROUP", b"SETID", b"x:s", b"g", b"1-1"), (b"XTRIM", b"x:s", b"MINID", b"2-0"),
        (b"XGROUP", b"CREATECONSUMER", b"x:s", b"g", b"carol"),
        (b"XADD", b"x:empty", b"MAXLEN", b"0", b"5-5", b"f", b"v"),
        (b"XSETID", b"x:empty", b"9-9"))),
    Scenario("hash field TTLs", (
        (b"HSET", b"hf:a", b"f1", b"v", b"f2", b"v", b"f3", b"v"),
        (b"HPEXPIREAT", b"hf:a", FAR, b"FIELDS", b"2", b"f1", b"f2"),
        (b"HPERSIST", b"hf:a", b"FIELDS", b"1", b"f1"),
        (b"HPEXPIREAT", b"hf:past", b"1000", b"FIELDS", b"1", b"gone"),
        (b"HSET", b"hf:past", b"gone", b"v", b"kept", b"v"),
        (b"HPEXPIREAT", b"hf:past", b"1000", b"FIELDS", b"1", b"gone")),
        redis=(7, 4, 0), valkey=(9, 0, 0)),
]


def _servers() -> list:
    return [spec for spec in SERVER_SPECS if probe_server(spec.name) is None]


CASES = [pytest.param(scenario, spec, id=f"{spec.name}: {scenario.name}")
         for scenario in SCENARIOS for spec in _servers() if scenario.runs_on(spec)]


@pytest.mark.parametrize("scenario, spec", CASES)
@pytest.mark.parametrize("preamble", ["no", "yes"])
def test_replay_equals_server(scenario: Scenario, spec, preamble, tmp_path):
    config = {"appendonly": "yes", "appendfsync": "always", "aof-use-rdb-preamble": preamble}
    with RedisServer(spec, config=config, workdir=tmp_path / "srv") as srv:
        if preamble == "yes":  # half the commands in the RDB base, the rest in the incr file
            half = len(scenario.commands) // 2
            _run(srv, scenario.commands[:half])
            srv.execute("BGREWRITEAOF")
            _wait_rewrite(srv)
            _run(srv, scenario.commands[half:])
        else:
            _run(srv, scenario.commands)
        assert _check(srv, tmp_path) == []


def _replayed_vs_reloaded(spec, tmp_path, commands) -> tuple[list[str], list[str]]:
    """(replay vs the live server, replay vs a fresh server of the same version loading the
    live server's AOF)."""
    config = {"appendonly": "yes", "appendfsync": "always", "aof-use-rdb-preamble": "no"}
    with RedisServer(spec, config=config, workdir=tmp_path / "live") as live:
        _run(live, commands)
        live_truth = {"dbs": capture_dbs(live)}
        live.execute("SELECT", 0)
    aof = tmp_path / "live" / "appendonlydir"
    if not aof.is_dir():
        aof = tmp_path / "live" / "appendonly.aof"
    with open_aof(aof) as reader:
        engine = replay(reader, profile=ServerProfile.for_version(
            "valkey" if spec.is_valkey else "redis", spec.version))
    reload_dir = tmp_path / "reload"
    reload_dir.mkdir()
    (shutil.copytree if aof.is_dir() else shutil.copy)(aof, reload_dir / aof.name)
    with RedisServer(spec, config=config, workdir=reload_dir) as again:
        reloaded = {"dbs": capture_dbs(again)}

    def against(truth: dict) -> list[str]:
        # consumer seen/active times are each server's wall clock (the reloading one's when
        # it loads): compared within a tolerance, as in every replay test
        entries = list(engine.iter_entries())
        return _align_consumer_times(entries, truth) + compare_entries(entries, truth)

    return against(live_truth), against(reloaded)


# Redis 7.4 propagates the group's entries-read with the read (the corpus's 7.4.1 and 8.2.3
# multi-incr AOFs replay without it)
QUIRK_XCLAIM = [spec for spec in _servers()
                if not spec.is_valkey and (7, 0, 0) <= spec.version < (7, 4, 0)]


@pytest.mark.parametrize("spec", QUIRK_XCLAIM, ids=lambda s: s.name)
def test_replay_quirks_entries_read_null_after_xclaim_lastid(spec, tmp_path):
    """Redis 7.0-7.2 propagate XREADGROUP as ``XCLAIM ... LASTID`` without the group's
    entries-read: the live server knows it (its counter moved with the read), the AOF does not,
    and a server loading that AOF reports entries-read null, as the replay does."""
    commands = [(b"XADD", b"q:s", b"%d-1" % i, b"f", b"v") for i in range(1, 6)] + [
        (b"XGROUP", b"CREATE", b"q:s", b"g", b"0"),
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"3", b"STREAMS", b"q:s", b">")]
    against_live, against_reloaded = _replayed_vs_reloaded(spec, tmp_path, commands)
    assert against_reloaded == []
    assert any("entries-read None" in p for p in against_live), against_live


QUIRK_LISTPACKEX = [spec for spec in _servers() if not spec.is_valkey and spec.version >= (7, 4, 0)]


@pytest.mark.parametrize("spec", QUIRK_LISTPACKEX, ids=lambda s: s.name)
def test_replay_quirks_persisted_field_ttls_keep_listpackex_only_live(spec, tmp_path):
    """A hash whose field TTLs were all removed keeps the listpackex encoding in the live server
    (RDB type 25) but HPERSIST is all the AOF has: loading it gives the same as the replay."""
    commands = [(b"HSET", b"q:h", b"a", b"1", b"b", b"2"),
                (b"HPEXPIREAT", b"q:h", FAR, b"FIELDS", b"1", b"a"),
                (b"HPERSIST", b"q:h", b"FIELDS", b"1", b"a")]
    against_live, against_reloaded = _replayed_vs_reloaded(spec, tmp_path, commands)
    assert against_reloaded == []


# -- Redis 8.6-8.10 state the ground-truth capture does not hold: IDMP, NACK zones, arrays ----
def _s(*args) -> tuple:
    return tuple(a if isinstance(a, bytes) else str(a).encode() for a in args)


IDMP_COMMANDS = [
    _s("XADD", "i:s", "IDMP", "p1", "a", "*", "f", 1), _s("XADD", "i:s", "IDMP", "p1", "a", "*", "f", 2),
    _s("XADD", "i:s", "IDMPAUTO", "p2", "*", "k", "v", "k2", "v2"),
    _s("XADD", "i:s", "IDMPAUTO", "p2", "*", "k2", "v2", "k", "v"),  # same pairs: a duplicate
    _s("XADD", "i:s", "IDMP", b"p\x00bin", b"\xff", "MAXLEN", 2, "*", "x", "y"),
    _s("XADD", "i:m", "*", "init", 1), _s("XCFGSET", "i:m", "IDMP-MAXSIZE", 2),
    *[_s("XADD", "i:m", "IDMP", "p", f"m{n}", "*", "n", n) for n in range(4)],
    _s("XCFGSET", "i:m", "IDMP-MAXSIZE", 2), _s("XCFGSET", "i:m", "IDMP-DURATION", 0),
    _s("XADD", "i:c", "IDMP", "p", "gone", "*", "f", "v"), _s("XCFGSET", "i:c", "IDMP-DURATION", 300),
    _s("XADD", "i:c", "IDMP", "p", "kept", "*", "f", "v"),
]
NACK_COMMANDS = [
    *[_s("XADD", "n:s", f"{n}-0", "f", n) for n in range(1, 8)],
    _s("XGROUP", "CREATE", "n:s", "g", "0"),
    _s("XREADGROUP", "GROUP", "g", "alice", "COUNT", 4, "STREAMS", "n:s", ">"),
    _s("XNACK", "n:s", "g", "FAIL", "IDS", 2, "1-0", "2-0"), _s("XNACK", "n:s", "g", "SILENT", "IDS", 1, "3-0"),
    _s("XNACK", "n:s", "g", "FATAL", "IDS", 1, "5-0", "FORCE"),
    _s("XNACK", "n:s", "g", "FAIL", "IDS", 1, "6-0", "FORCE", "RETRYCOUNT", 3),
    _s("XNACK", "n:s", "g", "FAIL", "IDS", 1, "1-0"),  # to the end of the zone
    _s("XCLAIM", "n:s", "g", "bob", 0, "2-0"),  # out of the zone
    _s("XACK", "n:s", "g", "3-0"), _s("XDEL", "n:s", "6-0"),
    _s("XREADGROUP", "GROUP", "g", "carol", "COUNT", 1, "STREAMS", "n:s", ">"),
]
ARRAY_COMMANDS = [
    _s("ARSET", "a:a", 0, 1, "2.5", "x", "1.50"), _s("ARMSET", "a:a", 10, "1.0", 100, "007", "-05", "neg"),
    _s("ARINSERT", "a:a", "p", "q"), _s("ARDEL", "a:a", 1), _s("ARDELRANGE", "a:a", 50, 5),
    _s("ARRING", "a:r", 3, "a", "b", "c", "d", "e"), _s("ARRING", "a:r", 2, "f"),
    _s("ARRING", "a:r", 5, "g", "h"), _s("ARSEEK", "a:a", 7), _s("ARINSERT", "a:a", "z"),
    _s("ARSEEK", "a:r", 0), _s("ARRING", "a:r", 4, "i"),
    _s("ARSET", "a:gone", 0, "x"), _s("ARDEL", "a:gone", 0), _s("ARSEEK", "a:missing", 5),
    _s("ARSET", "a:top", 18446744073709551613, "last"), _s("ARSEEK", "a:top", 18446744073709551615),
]
NEW_STATE = [spec for spec in _servers() if not spec.is_valkey and spec.version >= (8, 6, 0)]


def _idmp_problems(srv, entries) -> list[str]:
    problems = []
    for e in entries:
        if e.type != "stream":
            continue
        info = dict(zip(*[iter(srv.execute("XINFO", "STREAM", e.key, "FULL", "COUNT", "0"))] * 2))
        i = e.value.idmp
        ours = {b"idmp-duration": i.duration_s, b"idmp-maxsize": i.max_size,
                b"pids-tracked": len(i.producers),
                b"iids-tracked": sum(len(p.iids) for p in i.producers),
                b"iids-added": i.iids_added, b"iids-duplicates": i.iids_duplicates}
        for name, value in ours.items():
            if info[name] != value:
                problems.append(f"{e.key!r} {name.decode()} {value} != {info[name]}")
        for g, tg in zip(e.value.groups, info[b"groups"]):
            tg = dict(zip(*[iter(tg)] * 2))
            if b"nacked-count" in tg and len(g.nacked or ()) != tg[b"nacked-count"]:
                problems.append(f"{e.key!r} {g.name!r} nacked-count {g.nacked} != {tg[b'nacked-count']}")
    return problems


def _array_problems(srv, entries) -> list[str]:
    problems = []
    arrays = {e.key: e for e in entries if e.type == "array"}
    live = {k for k in srv.execute("KEYS", "a:*") if srv.execute("TYPE", k) == b"array"}
    if live != set(arrays):
        problems.append(f"array keys {sorted(arrays)} != {sorted(live)}")
    for key in live & set(arrays):
        items = [(int(i), v) for i, v in srv.execute("ARSCAN", key, 0, 18446744073709551614)]
        if items != arrays[key].value:
            problems.append(f"{key!r}: {arrays[key].value} != {items}")
        nxt = srv.execute("ARNEXT", key)  # 0 without a cursor; nil once exhausted
        want = (1 << 64) - 1 if nxt is None else (nxt or None)
        if arrays[key].array_next_insert_index != want:
            problems.append(f"{key!r}: next insert {arrays[key].array_next_insert_index} != {nxt}")
    return problems


@pytest.mark.parametrize("spec", NEW_STATE, ids=lambda s: s.name)
def test_replay_of_new_commands_equals_server(spec, tmp_path):
    """IDMP (8.6), XNACK and the array commands (8.8) run on a live server with ``appendonly``;
    its AOF replayed gives the dataset (compared with the capture), the IDMP state and
    nacked counts of XINFO STREAM FULL, and the arrays as ARSCAN / ARNEXT list them."""
    commands = IDMP_COMMANDS + (NACK_COMMANDS + ARRAY_COMMANDS if spec.version >= (8, 8, 0) else [])
    config = {"appendonly": "yes", "appendfsync": "always", "aof-use-rdb-preamble": "no"}
    with RedisServer(spec, config=config, workdir=tmp_path / "srv") as srv:
        _run(srv, commands)
        with open_aof(srv.dir / "appendonlydir") as aof:
            engine = replay(aof, profile=ServerProfile.for_version("redis", spec.version))
        entries = list(engine.iter_entries())
        problems = _idmp_problems(srv, entries) + _array_problems(srv, entries)
        srv.execute("DEL", *[e.key for e in entries if e.type == "array"] or ["a:none"])
        truth = {"dbs": capture_dbs(srv)}
    others = [e for e in entries if e.type != "array"]
    assert problems + _align_consumer_times(others, truth) + compare_entries(others, truth) == []


@pytest.mark.parametrize("server,release", [("redis-8.6.2", (8, 6)), ("redis-8.10.2", (8, 10))])
def test_guessed_profile_rises_to_the_release_the_commands_prove(server, release):
    """An AOF without an RDB part does not name its server: its first XCFGSET (8.6), AR*
    command (8.8) or RESTORE of an RDB 15 payload (8.10) proves the writer was at least that
    release, and the replay restarts with its rules instead of refusing the command."""
    variant = CORPUS / server / "aof" / "aof-nopreamble"
    if not variant.is_dir():
        pytest.skip(f"corpus {server} not here")
    truth = json.loads((CORPUS / server / "aof" / "aof-nopreamble.json").read_text())
    with open_aof(variant / "appendonlydir") as aof:
        engine = replay(aof)
    assert engine.profile.version[:2] == release
    keys = sorted((e.db, e.key) for e in engine.iter_entries())
    expected = sorted((int(db), truth_bytes(k["key"])) for db, v in truth["dbs"].items()
                      for k in (v["keys"] if isinstance(v, dict) else v))
    assert keys == expected


@pytest.mark.parametrize("commands,error", [
    ([[b"SELECT", b"-1"]], "SELECT: DB index is out of range"),
    ([[b"SWAPDB", b"0", b"-3"]], "SWAPDB: DB index is out of range"),
    ([[b"SET", b"k", b"v"], [b"MOVE", b"k", b"-1"]], "MOVE: DB index is out of range"),
    ([[b"SETRANGE", b"k", b"4000000000", b"v"]], "string exceeds maximum allowed size"),
    ([[b"SETRANGE", b"k", b"-1", b"v"]], "offset is out of range"),
    ([[b"SETBIT", b"k", b"4294967296", b"1"]], "bit offset is not an integer or out of range"),
    ([[b"BITFIELD", b"k", b"SET", b"u8", b"#999999999999", b"1"]],
     "bit offset is not an integer or out of range"),
    ([[b"BITFIELD", b"k", b"SET", b"u64", b"0", b"1"]], "Invalid bitfield type"),
], ids=["select", "swapdb", "move", "setrange-huge", "setrange-negative", "setbit", "bitfield-offset",
        "bitfield-type"])
def test_commands_no_server_accepts_are_errors_with_bounded_memory(tmp_path, commands, error):
    """Negative databases, and strings past proto-max-bulk-len (512 MB): a 4 GB SETRANGE used to
    allocate 4 GB before failing with MemoryError; now it is refused in the server's words."""
    from rdbtools.aof.replay.args import ReplayError
    from rdbtools.output.commands import encode_resp

    path = tmp_path / "appendonly.aof"
    path.write_bytes(b"".join(encode_resp(c) for c in commands))
    with open_aof(path) as aof:
        with pytest.raises(ReplayError, match=error):
            replay(aof)
