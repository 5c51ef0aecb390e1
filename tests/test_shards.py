"""Cluster slots, ``split`` and ``merge``: key slots equal to a real server's CLUSTER KEYSLOT
(hash-tag edge cases included), slot ranges as redis-cli assigns them, nodes.conf parsing (a
real server's file too), and against real servers: every part of a split loads into a
cluster-mode server of the target, which then owns only slots of the part's ranges; every key
is in exactly one part, the right one; the union of the parts, and their merge, equal the input
key by key (the ground truth)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdbtools import open_rdb
from rdbtools.output.dump import entry_to_dict
from rdbtools.errors import EncodeError
from rdbtools.rdb.filters import KeyFilter
from rdbtools.model import Entry, Function
from rdbtools.ops.shards import (ClusterNode, Shard, even_slot_ranges, key_hash_slot, merge_rdb,
                             parse_slot_ranges, read_nodes_conf, split_rdb)
from rdbtools.rdb.writer import write_rdb
from rdbtools_cli.rdbtool import rdbtool
from servers import SERVER_SPECS, RedisServer, probe_server
from truth import compare_entries, truth_bytes

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CLUSTER = {"cluster-enabled": "yes", "cluster-config-file": "nodes.conf"}
SERVER_TARGETS = {"redis-6.2.5": "redis-6.2", "redis-7.0.15": "redis-7.0",
                  "redis-8.2.3": "redis-8.2", "valkey-8.1.8": "valkey-8.1",
                  "valkey-9.1.2": "valkey-9.1"}
EDGE_KEYS = [b"", b"{}", b"{a", b"a}", b"}{a}", b"a{}{b}", b"{}{a}", b"a{b}{c}", b"{{a}}",
             b"{a}}", b"x{a}y", b"{user1000}.following", b"{user1000}.followers", b"\xff{\x00}",
             b"{\xff}", b"foo", b"{" * 10 + b"}" * 10]


def _any_server(oldest=(0, 0, 0)):
    for spec in SERVER_SPECS:
        if spec.name in SERVER_TARGETS and spec.version >= oldest and probe_server(spec.name) is None:
            return spec
    pytest.skip("no server installed")


def _keys(seed: int, n: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = dict.fromkeys(EDGE_KEYS)
    while len(out) < n:
        k = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 12)))
        if rnd.random() < 0.3:
            k = k[: len(k) // 2] + b"{" + k[len(k) // 2:]
        if rnd.random() < 0.3:
            k += b"}"
        out[k] = None
    return list(out)


# -- slots -------------------------------------------------------------------------------------

@pytest.mark.server
def test_key_hash_slot_equals_cluster_keyslot():
    spec = _any_server()
    keys = _keys(5, 400)
    with RedisServer(spec, CLUSTER) as srv:
        pipe = srv.client.pipeline(transaction=False)
        for k in keys:
            pipe.execute_command("CLUSTER", "KEYSLOT", k)
        slots = pipe.execute()
    assert [key_hash_slot(k) for k in keys] == slots


def test_even_slot_ranges_as_redis_cli():
    assert even_slot_ranges(3) == [((0, 5460),), ((5461, 10922),), ((10923, 16383),)]
    assert even_slot_ranges(1) == [((0, 16383),)]
    for n in (2, 5, 7, 100, 16384):
        parts = even_slot_ranges(n)
        flat = [r for p in parts for r in p]
        assert flat[0][0] == 0 and flat[-1][1] == 16383 and len(parts) == n
        assert all(a[1] + 1 == b[0] for a, b in zip(flat, flat[1:]))
    with pytest.raises(ValueError):
        even_slot_ranges(0)


def test_parse_slot_ranges():
    assert parse_slot_ranges("0-5460, 5461-10922,10923-16383") == [
        ((0, 5460),), ((5461, 10922),), ((10923, 16383),)]
    assert parse_slot_ranges("0-100+200-300,107") == [((0, 100), (200, 300)), ((107, 107),)]
    for bad, message in (("0-16384", "slots are"), ("5-3", "first <= last"), ("a-b", "not a slot"),
                         ("0-10,10-20", "slot 10 is in two"), ("", "no slot ranges")):
        with pytest.raises(ValueError, match=message):
            parse_slot_ranges(bad)


NODES_CONF = """\
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001,host-a myself,master - 0 0 1 connected 0-5460 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@40002,,shard-id=abc master - 0 1426238316232 2 connected 5461-10922 [5461-<-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@40003 master - 0 1426238318243 3 connected 10923-16383
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@40005 slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected
824fe116063bc5fcf9f4ffd895bc17aee7731ac3 ::1:30006@40006 master,fail - 1426238317741 1426238316232 6 disconnected
vars currentEpoch 6 lastVoteEpoch 0
"""


def test_read_nodes_conf():
    nodes = read_nodes_conf(NODES_CONF)
    assert [(n.id[:8], n.address, n.hostname, n.ranges) for n in nodes] == [
        ("e7d1eecc", "127.0.0.1:30001", "host-a", ((0, 5460),)),
        ("67ed2db8", "127.0.0.1:30002", None, ((5461, 10922),)),
        ("292f8b36", "127.0.0.1:30003", None, ((10923, 16383),))]
    with pytest.raises(ValueError, match="line 1"):
        read_nodes_conf("abc 127.0.0.1:1@2 master -")
    with pytest.raises(ValueError, match="slot 5 is in two"):
        read_nodes_conf("a 1:1@1 master - 0 0 1 connected 0-10\nb 1:2@2 master - 0 0 1 connected 5")


@pytest.mark.server
def test_read_a_real_nodes_conf():
    spec = _any_server(oldest=(7, 0, 0))  # CLUSTER ADDSLOTSRANGE
    with RedisServer(spec, CLUSTER) as srv:
        srv.execute("CLUSTER", "ADDSLOTSRANGE", "0", "99", "500", "600")
        srv.execute("CLUSTER", "SAVECONFIG")
        nodes = read_nodes_conf((srv.dir / "nodes.conf").read_text())
    assert len(nodes) == 1 and nodes[0].ranges == ((0, 99), (500, 600))


def test_file_names_say_the_range():
    assert Shard(((0, 5460),)).file_name == "slots-00000-05460.rdb"
    assert Shard(((0, 1), (5, 5))).file_name == "slots-00000-00001+00005-00005.rdb"
    many = Shard(tuple((i * 2, i * 2) for i in range(100)))
    assert many.file_name == "slots-00000-00000+99-more.rdb"


# -- split, merge: a generated dataset ---------------------------------------------------------

def _dataset(n=3000) -> list[Entry]:
    out = []
    for i, key in enumerate(_keys(11, n)):
        kind = ("string", "list", "hash", "set")[i % 4]
        value = {"string": b"v%d" % i, "list": [b"a", b"%d" % i],
                 "hash": [(b"f", b"%d" % i)], "set": [b"%d" % i, b"x"]}[kind]
        out.append(Entry(0, key, kind, value, expire_at_ms=4102444800000 if i % 7 == 0 else None))
    return out


def _dicts(entries) -> dict:
    out = {}
    for e in entries:
        d = entry_to_dict(e)
        d.pop("rdb_type")
        if isinstance(d["value"], list):
            d["value"] = sorted(d["value"], key=json.dumps)
        out[(e.db, e.key)] = d
    return out


def _read(path) -> list[Entry]:
    with open_rdb(path) as rdb:
        return list(rdb.iter_entries())


def test_split_then_merge_gives_the_input_back(tmp_path):
    data = _dataset()
    lib = Function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    write_rdb([lib, *data], tmp_path / "in.rdb", "redis-7.2")
    result = split_rdb(tmp_path / "in.rdb", tmp_path / "parts", even_slot_ranges(5))
    assert result.keys == len(data) and result.target.name == "rdb-11"
    seen = {}
    for shard in result.shards:
        entries = _read(shard.path)
        with open_rdb(shard.path) as rdb:
            assert [f.code for f in (list(rdb.iter_records()) and rdb.functions)] == [lib.code]
        assert shard.result.raw_copies == shard.result.keys == len(entries)
        for e in entries:
            assert any(lo <= key_hash_slot(e.key) <= hi for lo, hi in shard.ranges)
            assert e.key not in seen
            seen[e.key] = shard.path
    assert _dicts(x for s in result.shards for x in _read(s.path)) == _dicts(data)
    merged = merge_rdb([s.path for s in result.shards], tmp_path / "all.rdb")
    assert merged.conflicts == 0 and merged.result.keys == len(data)
    assert _dicts(_read(tmp_path / "all.rdb")) == _dicts(data)
    with open_rdb(tmp_path / "all.rdb") as rdb:
        list(rdb.iter_records())
        assert [f.code for f in rdb.functions] == [lib.code]


def test_split_other_databases_and_unassigned(tmp_path):
    data = [Entry(0, b"a", "string", b"1"), Entry(2, b"b", "string", b"2"),
            Entry(0, b"c", "string", b"3"), Entry(5, b"c", "string", b"4")]
    write_rdb(data, tmp_path / "in.rdb", "redis-7.0")
    with pytest.raises(EncodeError, match="db 2 key b'b': a cluster has only database 0"):
        split_rdb(tmp_path / "in.rdb", tmp_path / "p", even_slot_ranges(2))
    assert list((tmp_path / "p").iterdir()) == []  # all or none
    with pytest.raises(EncodeError, match="key b'c' is in two databases"):
        split_rdb(tmp_path / "in.rdb", tmp_path / "p", even_slot_ranges(2), other_dbs="db0")
    r = split_rdb(tmp_path / "in.rdb", tmp_path / "p", even_slot_ranges(2), other_dbs="keep")
    assert sorted((e.db, e.key) for s in r.shards for e in _read(s.path)) == sorted(
        (e.db, e.key) for e in data)
    r = split_rdb(tmp_path / "in.rdb", tmp_path / "q", even_slot_ranges(2), other_dbs="db0",
                  key_filter=KeyFilter(dbs=frozenset({0, 2})))
    assert sorted((e.db, e.key) for s in r.shards for e in _read(s.path)) == [
        (0, b"a"), (0, b"b"), (0, b"c")]
    slot_a = key_hash_slot(b"a")
    with pytest.raises(EncodeError, match=f"key b'a': its slot {slot_a} is in none"):
        split_rdb(tmp_path / "in.rdb", tmp_path / "u", [((slot_a + 1, slot_a + 1),)],
                  key_filter=KeyFilter(dbs=frozenset({0})))
    r = split_rdb(tmp_path / "in.rdb", tmp_path / "u", [((slot_a, slot_a),)],
                  key_filter=KeyFilter(dbs=frozenset({0})), unassigned="drop")
    assert (r.keys, r.unassigned) == (1, 1)


def test_merge_conflict_policies(tmp_path):
    a, b, c = (tmp_path / f"{n}.rdb" for n in "abc")
    write_rdb([Entry(0, b"k", "string", b"A"), Entry(0, b"only-a", "string", b"1")], a,
              "redis-7.0")
    write_rdb([Entry(0, b"k", "string", b"B"), Entry(1, b"k", "string", b"db1")], b, "redis-7.0")
    write_rdb([Entry(0, b"k", "string", b"C")], c, "redis-7.2")
    with pytest.raises(EncodeError, match=rf"db 0 key b'k' is in {a} and {b}"):
        merge_rdb([a, b], tmp_path / "out.rdb")
    assert not (tmp_path / "out.rdb").exists()
    for policy, value in (("first", b"A"), ("last", b"B")):
        r = merge_rdb([a, b], tmp_path / "out.rdb", on_conflict=policy)
        got = {(e.db, e.key): e.value for e in _read(tmp_path / "out.rdb")}
        assert got == {(0, b"k"): value, (0, b"only-a"): b"1", (1, b"k"): b"db1"}
        assert (r.conflicts, r.skipped) == (1, 1)
    with pytest.raises(ValueError, match="different RDB versions"):
        merge_rdb([a, c], tmp_path / "out.rdb", on_conflict="last")
    merge_rdb([a, c], tmp_path / "out.rdb", on_conflict="last", target="redis-7.2")
    assert {e.key: e.value for e in _read(tmp_path / "out.rdb")}[b"k"] == b"C"
    with pytest.raises(ValueError, match="standard input"):
        merge_rdb(["-"], tmp_path / "out.rdb")


def test_merge_function_conflicts(tmp_path):
    one = Function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    two = Function(b"#!lua name=lib\nredis.register_function('f', function() return 2 end)")
    write_rdb([one], tmp_path / "a.rdb", "redis-7.0")
    write_rdb([two], tmp_path / "b.rdb", "redis-7.0")
    write_rdb([one], tmp_path / "c.rdb", "redis-7.0")
    merge_rdb([tmp_path / "a.rdb", tmp_path / "c.rdb"], tmp_path / "o.rdb")  # same code: fine
    with pytest.raises(EncodeError, match="function library 'lib'"):
        merge_rdb([tmp_path / "a.rdb", tmp_path / "b.rdb"], tmp_path / "o.rdb")
    merge_rdb([tmp_path / "a.rdb", tmp_path / "b.rdb"], tmp_path / "o.rdb", on_conflict="last")
    with open_rdb(tmp_path / "o.rdb") as rdb:
        list(rdb.iter_records())
    assert [f.code for f in rdb.functions] == [two.code]


def test_cli_split_and_merge(tmp_path):
    write_rdb(_dataset(300), tmp_path / "in.rdb", "redis-7.0")
    run = CliRunner().invoke
    r = run(rdbtool, ["split", str(tmp_path / "in.rdb"), "--ranges", "0-8191,8192-16383", "-o",
                      str(tmp_path / "p"), "-t", "redis-6.2"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    parts = sorted((tmp_path / "p").iterdir())
    assert [p.name for p in parts] == ["slots-00000-08191.rdb", "slots-08192-16383.rdb"]
    assert all(p.read_bytes()[:9] == b"REDIS0009" for p in parts)
    r = run(rdbtool, ["merge", *map(str, parts), "-o", str(tmp_path / "m.rdb")],
            catch_exceptions=False)
    assert r.exit_code == 0 and "wrote 300 keys" in r.stderr
    assert run(rdbtool, ["split", str(tmp_path / "in.rdb"), "-o", str(tmp_path / "x")]).exit_code == 2
    assert run(rdbtool, ["split", str(tmp_path / "in.rdb"), "--slots", "2", "--ranges", "0-1",
                         "-o", str(tmp_path / "x")]).exit_code == 2
    assert run(rdbtool, ["split", str(tmp_path / "in.rdb"), "--ranges", "0-99999", "-o",
                         str(tmp_path / "x")]).exit_code == 2
    r = run(rdbtool, ["merge", str(tmp_path / "in.rdb"), str(tmp_path / "in.rdb"), "-o",
                      str(tmp_path / "m2.rdb")])
    assert r.exit_code == 1 and "is in" in r.stderr
    nodes = tmp_path / "nodes.conf"
    nodes.write_text(NODES_CONF)
    r = run(rdbtool, ["split", str(tmp_path / "in.rdb"), "--nodes-conf", str(nodes), "-o",
                      str(tmp_path / "n")], catch_exceptions=False)
    assert r.exit_code == 0 and "e7d1eecc" in r.stderr and len(list((tmp_path / "n").iterdir())) == 3


# -- real servers ------------------------------------------------------------------------------

def _server_params():
    for spec in SERVER_SPECS:
        if spec.name in SERVER_TARGETS:
            yield pytest.param(spec, id=spec.name)


def _owned_slots(srv) -> set[int]:
    owned = set()
    for line in srv.execute("CLUSTER", "NODES").decode().splitlines():
        fields = line.split()
        if "myself" in fields[2]:
            for item in fields[8:]:
                lo, _, hi = item.partition("-")
                owned.update(range(int(lo), int(hi or lo) + 1))
    return owned


@pytest.mark.server
@pytest.mark.parametrize("spec", list(_server_params()))
def test_split_parts_load_into_cluster_nodes(spec, tmp_path):
    """Each part of the server's own corpus file (db 0) loads into a cluster-mode server of
    that version, which takes responsibility only for slots of the part's ranges; the parts
    hold every key once, equal to the ground truth; their merge loads and equals it too."""
    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    path = CORPUS / spec.name / "rdb" / "dump.rdb"
    if not path.exists():
        pytest.skip("corpus absent")
    truth = json.loads(path.with_suffix(".json").read_text())
    truth = dict(truth, dbs={"0": truth["dbs"]["0"]})
    modules = {"redis-8.2.3": {"vectorset"}}.get(spec.name, ())
    result = split_rdb(path, tmp_path / "parts", even_slot_ranges(3),
                       target=SERVER_TARGETS[spec.name], modules=modules,
                       key_filter=KeyFilter(dbs=frozenset({0})))
    assert result.losses == []
    entries = []
    for shard in result.shards:
        with RedisServer(spec, CLUSTER, load_rdb=shard.path) as srv:
            assert srv.execute("DBSIZE") == shard.result.keys
            allowed = {s for lo, hi in shard.ranges for s in range(lo, hi + 1)}
            assert _owned_slots(srv) <= allowed
            part = list(open_rdb(srv.save()).iter_entries())
            for e in part[:: max(1, len(part) // 10)]:
                assert srv.execute("CLUSTER", "KEYSLOT", e.key) in allowed
        entries += part
    assert len({e.key for e in entries}) == len(entries)
    problems = compare_entries(entries, _with_types(truth, entries),
                               skip_module_raw=("vset:noquant", "vset:q8"))
    assert problems == []
    merged = merge_rdb([s.path for s in result.shards], tmp_path / "all.rdb")
    assert merged.result.keys == len(entries)
    with RedisServer(spec, load_rdb=tmp_path / "all.rdb") as srv:
        again = list(open_rdb(srv.save()).iter_entries())
    assert compare_entries(again, _with_types(truth, again),
                           skip_module_raw=("vset:noquant", "vset:q8")) == []


def _with_types(truth: dict, entries) -> dict:
    """The truth with the type codes the server wrote back (a same-version split keeps the
    server's own encodings; a reload may compact a hashtable-form value)."""
    types = {(e.db, e.key): e.rdb_type for e in entries}
    return dict(truth, dbs={db: [dict(r, rdb_type=types.get((int(db), truth_bytes(r["key"])),
                                                             r["rdb_type"]))
                                 for r in records] for db, records in truth["dbs"].items()})


@pytest.mark.server
def test_generated_split_with_other_dbs_loads(tmp_path):
    """--other-dbs db0 on a dataset with hash-tag edge keys in several databases."""
    spec = _any_server()
    data = [Entry(i % 3, k, "string", b"%d" % i) for i, k in enumerate(_keys(3, 2000))]
    write_rdb(data, tmp_path / "in.rdb", SERVER_TARGETS[spec.name])
    result = split_rdb(tmp_path / "in.rdb", tmp_path / "p", even_slot_ranges(4), other_dbs="db0")
    total = 0
    for shard in result.shards:
        with RedisServer(spec, CLUSTER, load_rdb=shard.path) as srv:
            n = srv.execute("DBSIZE")
            assert _owned_slots(srv) <= {s for lo, hi in shard.ranges for s in range(lo, hi + 1)}
            total += n
    assert total == len(data)


def test_split_reads_standard_input_like_data(tmp_path):
    write_rdb(_dataset(50), tmp_path / "in.rdb", "redis-7.0")
    r = split_rdb(io.BytesIO((tmp_path / "in.rdb").read_bytes()), tmp_path / "p",
                  [ClusterNode("x" * 40, "127.0.0.1:1", None, ((0, 16383),))])
    assert r.keys == 50 and r.shards[0].node.address == "127.0.0.1:1"
