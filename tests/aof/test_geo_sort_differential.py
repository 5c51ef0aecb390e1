"""GEORADIUS / GEORADIUSBYMEMBER ... STORE|STOREDIST, GEOSEARCHSTORE and SORT ... STORE reach the
AOF verbatim, so the replay must search and sort exactly as the server did.  Random geo sets and
searches (radius and box, every unit, COUNT with and without ANY, ASC/DESC, STOREDIST) and random
SORTs (BY patterns with hash fields, nosort, GET, LIMIT, ALPHA, DESC over lists, sets and sorted
sets) run on each real server with ``appendonly yes``; the replay of its AOF must equal its
dataset key by key.
"""

from __future__ import annotations

import random

import pytest

from capture import capture_dbs
from rdbtools.aof import open_aof
from rdbtools.aof.replay import ServerProfile, replay
from test_corpus_aof import _align_consumer_times
from truth import compare_entries, truth_bytes

UNITS = {"m": 1.0, "km": 1000.0, "mi": 1609.34, "ft": 0.3048}


def _replayed_equals_server(srv) -> list[str]:
    truth = {"dbs": capture_dbs(srv)}
    path = srv.dir / ("appendonlydir" if (srv.dir / "appendonlydir").is_dir() else "appendonly.aof")
    profile = ServerProfile.for_version("valkey" if srv.spec.is_valkey else "redis", srv.spec.version)
    with open_aof(path) as aof:
        engine = replay(aof, profile=profile)
    entries = list(engine.iter_entries())
    if not srv.spec.is_valkey and srv.spec.version >= (8, 2, 0):
        _drop_untraceable_consumers(entries, truth)
    # consumers' seen/active times are the server's clock (docs/aof.md): aligned within 5 s
    return _align_consumer_times(entries, truth) + compare_entries(entries, truth)


def _drop_untraceable_consumers(entries, truth: dict) -> None:
    """Redis 8.2 creates the consumer of an XREADGROUP that delivers nothing and does not
    propagate it (docs/aof.md, known limits): a consumer without pending entries that the
    replay does not have is left out of the server's side."""
    ours = {(e.db, e.key, g.name): {c.name for c in g.consumers}
            for e in entries if e.type == "stream" for g in e.value.groups}
    for db, records in truth["dbs"].items():
        for record in records:
            if record["type"] != "stream":
                continue
            for group in record["value"]["info_full"]["groups"]:
                known = ours.get((int(db), truth_bytes(record["key"]), truth_bytes(group["name"])),
                                 set())
                group["consumers"] = [c for c in group["consumers"]
                                      if c["pel-count"] or truth_bytes(c["name"]) in known]


def _try(srv, *args) -> None:
    try:
        srv.execute(*args)
    except Exception:
        pass  # refused commands are not propagated


def _geo_workload(srv, rng: random.Random) -> None:
    for g in range(3):
        clat, clon = rng.uniform(-80, 80), rng.uniform(-179, 179)
        spread = rng.choice([0.01, 1, 20])
        args = []
        for i in range(rng.choice([5, 60, 300])):  # listpack and skiplist geo sets
            lon = max(-180.0, min(180.0, clon + rng.gauss(0, spread)))
            lat = max(-85.0, min(85.0, clat + rng.gauss(0, spread)))
            args += [repr(lon), repr(lat), f"m{i}"]
        srv.execute("GEOADD", f"g{g}", *args)
        for q in range(30):
            lon = max(-180.0, min(180.0, clon + rng.gauss(0, 2)))
            lat = max(-85.0, min(85.0, clat + rng.gauss(0, 2)))
            unit = rng.choice(list(UNITS))
            r = rng.choice([1, 100, 5000, 500_000, 3_000_000]) / UNITS[unit]
            opts = []
            if rng.random() < 0.5:
                opts += ["COUNT", str(rng.randint(1, 20))] + (["ANY"] if rng.random() < 0.5 else [])
            if rng.random() < 0.5:
                opts.append(rng.choice(["ASC", "DESC"]))
            dst = f"d{q % 4}"
            kind = rng.randrange(3)
            if kind == 0:
                shape = (["BYRADIUS", str(r), unit] if rng.random() < 0.5 else
                         ["BYBOX", str(r), str(r * rng.uniform(0.2, 3)), unit])
                origin = (["FROMLONLAT", str(lon), str(lat)] if rng.random() < 0.5 else
                          ["FROMMEMBER", f"m{rng.randrange(5)}"])
                _try(srv, "GEOSEARCHSTORE", dst, f"g{g}", *origin, *shape, *opts,
                     *(["STOREDIST"] if rng.random() < 0.3 else []))
            elif kind == 1:
                _try(srv, "GEORADIUS", f"g{g}", str(lon), str(lat), str(r), unit, *opts,
                     rng.choice(["STORE", "STOREDIST"]), dst)
            else:
                _try(srv, "GEORADIUSBYMEMBER", f"g{g}", f"m{rng.randrange(5)}", str(r), unit, *opts,
                     rng.choice(["STORE", "STOREDIST"]), dst)


SORT_VALUES = [b"1", b"2", b"10", b"-3", b"2.5", b" 7", b"0x10", b"abc", b"b", b"a", b"", b"1e3",
               b"3", b"-0"]


def _sort_workload(srv, rng: random.Random) -> None:
    def value() -> bytes:
        return rng.choice(SORT_VALUES + [b"e%d" % rng.randrange(30)])

    for _ in range(300):
        r = rng.random()
        elements = [value() for _ in range(rng.randrange(1, 12))]
        if r < 0.15:
            srv.execute("RPUSH", f"l{rng.randrange(2)}", *elements)
        elif r < 0.25:
            srv.execute("SADD", f"s{rng.randrange(2)}", *elements)
        elif r < 0.35:
            srv.execute("ZADD", "z", *[x for e in elements for x in (str(rng.randint(-3, 3)), e)])
        elif r < 0.45:
            srv.execute("SET", b"w_" + value(), rng.choice(SORT_VALUES[:7] + [b"5", b"-1"]))
        elif r < 0.5:
            srv.execute("HSET", b"h_" + value(), "f", rng.choice(SORT_VALUES[:7]))
        else:
            opts = []
            if rng.random() < 0.5:
                opts += ["BY", rng.choice(["w_*", "h_*->f", "nosort", "w_*->", "#", "x"])]
            if rng.random() < 0.4:
                opts += ["LIMIT", str(rng.randint(-1, 5)), str(rng.randint(-1, 6))]
            for _ in range(rng.choice([0, 0, 1, 2])):
                opts += ["GET", rng.choice(["#", "w_*", "h_*->f", "zz"])]
            if rng.random() < 0.4:
                opts.append(rng.choice(["ASC", "DESC"]))
            if rng.random() < 0.5:
                opts.append("ALPHA")
                if "BY" in opts and opts[opts.index("BY") + 1] in ("w_*", "h_*->f", "w_*->"):
                    # Equal ALPHA weights keep the order the server collected the elements in
                    # (a set's or sorted set's hash table order): no replay can know it.  Give
                    # every element its own weight for these.
                    opts[opts.index("BY") + 1] = rng.choice(["w_*", "h_*->f"])
                    for e in SORT_VALUES + [b"e%d" % i for i in range(30)]:
                        srv.execute("SET", b"w_" + e, b"u" + e)
                        srv.execute("HSET", b"h_" + e, "f", b"u" + e)
            _try(srv, "SORT", rng.choice(["l0", "l1", "s0", "s1", "z", "missing"]), *opts,
                 "STORE", f"dst{rng.randrange(3)}")


@pytest.mark.parametrize("workload", [_geo_workload, _sort_workload], ids=["geo", "sort"])
@pytest.mark.parametrize("seed", [1, 2])
def test_replay_of_stored_searches_equals_server(server_spec, tmp_path, workload, seed):
    from servers import RedisServer

    config = {"appendonly": "yes", "appendfsync": "always", "aof-use-rdb-preamble": "no"}
    with RedisServer(server_spec, config=config, workdir=tmp_path / "srv") as srv:
        workload(srv, random.Random(seed))
        problems = _replayed_equals_server(srv)
    assert problems == []


def _stream_policy_workload(srv, rng: random.Random) -> None:
    """Redis 8.2's deletion policies: XDELEX, XACKDEL, XADD/XTRIM with KEEPREF|DELREF|ACKED."""
    seq = 0
    for _ in range(250):
        r = rng.random()
        key = f"x{rng.randrange(2)}"
        policy = [rng.choice(["KEEPREF", "DELREF", "ACKED"])] if rng.random() < 0.8 else []

        def some_ids():
            return [f"{rng.randrange(1, seq + 2)}-0" for _ in range(rng.randrange(1, 4))]

        if r < 0.3:
            seq += 1
            trim = ["MAXLEN", str(rng.randrange(0, 8))] if rng.random() < 0.3 else []
            _try(srv, "XADD", key, *(policy if trim else []), *trim, f"{seq}-0", "f", "v")
        elif r < 0.4:
            _try(srv, "XGROUP", "CREATE", key, f"g{rng.randrange(2)}", rng.choice(["0", "$"]))
        elif r < 0.55:
            # Redis 8.2 creates the consumer of an XREADGROUP on an empty stream without
            # propagating it (docs/aof.md, known limits): only read streams with entries
            if srv.execute("XLEN", key):
                _try(srv, "XREADGROUP", "GROUP", f"g{rng.randrange(2)}", f"c{rng.randrange(2)}",
                     "COUNT", str(rng.randrange(1, 4)), "STREAMS", key, ">")
        elif r < 0.65:
            _try(srv, "XACK", key, f"g{rng.randrange(2)}", *some_ids())
        elif r < 0.92:
            ids = some_ids()
            if policy == ["DELREF"]:
                # DELREF of IDs that are all gone clears their PEL references but deletes
                # nothing, and is not propagated (docs/aof.md, known limits): leave those out
                ids = [i for i in ids if srv.execute("XRANGE", key, i, i)] or None
            if ids and r < 0.8:
                _try(srv, "XDELEX", key, *policy, "IDS", str(len(ids)), *ids)
            elif ids:
                _try(srv, "XACKDEL", key, f"g{rng.randrange(2)}", *policy, "IDS", str(len(ids)),
                     *ids)
        else:
            _try(srv, "XTRIM", key, "MAXLEN", str(rng.randrange(0, 6)), *policy)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_replay_of_stream_deletion_policies_equals_server(server_spec, tmp_path, seed):
    from servers import RedisServer

    if server_spec.is_valkey or server_spec.version < (8, 2, 0):
        pytest.skip(f"{server_spec.name} has no stream deletion policies (Redis 8.2+)")
    config = {"appendonly": "yes", "appendfsync": "always", "aof-use-rdb-preamble": "no"}
    with RedisServer(server_spec, config=config, workdir=tmp_path / "srv") as srv:
        _stream_policy_workload(srv, random.Random(seed))
        problems = _replayed_equals_server(srv)
    assert problems == []
