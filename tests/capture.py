"""Ground truth read from a LIVE server with commands, in the shared corpus's JSON conventions
(../shared/corpus/README.md, "Ground-truth JSON"), so tests/truth.py compares it like the corpus.

Used by the randomized real-server tests and by fixtures/generate.py.  Never derived from
rdbtools' own parser.
"""

from __future__ import annotations

import base64
import time

from servers import RedisServer


def bs(data: bytes):
    """A binary-safe string: text when printable UTF-8 (\\n and \\t allowed), else {"b64": ...}."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\n\t" for ch in text):
        return text
    return {"b64": base64.b64encode(data).decode("ascii")}


def plain(value):
    """RESP reply -> JSON: bytes as binary-safe strings, lists recursively, ints/None as they are."""
    if isinstance(value, bytes):
        return bs(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def pairs_to_dict(flat: list) -> dict:
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def has_field_ttl(spec) -> bool:
    """Hash field TTLs: Redis 7.4+ (HPEXPIREAT; HSETEX from 8.0), Valkey 9.0+."""
    return spec.version >= ((9, 0, 0) if spec.is_valkey else (7, 4, 0))


def list_keys(srv: RedisServer, db: int) -> list[bytes]:
    srv.execute("SELECT", db)
    keys, cursor = set(), b"0"
    while True:
        cursor, batch = srv.execute("SCAN", cursor, "COUNT", "1000")
        keys.update(batch)
        if cursor == b"0":
            return sorted(keys)


def keyspace(srv: RedisServer) -> dict[str, dict[str, str]]:
    result = {}
    for db, fields in srv.info("keyspace").items():
        result[db] = dict(part.split("=", 1) for part in fields.split(","))
    return result


def read_value(srv: RedisServer, key: bytes, kind: str):
    x = srv.execute
    if kind == "string":
        return bs(x("GET", key))
    if kind == "list":
        return [bs(v) for v in x("LRANGE", key, 0, -1)]
    if kind == "set":
        return [bs(v) for v in sorted(x("SMEMBERS", key))]
    if kind == "zset":
        flat = x("ZRANGE", key, 0, -1, "WITHSCORES")
        return [[bs(flat[i]), flat[i + 1].decode()] for i in range(0, len(flat), 2)]
    if kind == "hash":
        flat = x("HGETALL", key)
        return [[bs(f), bs(v)] for f, v in sorted(zip(flat[0::2], flat[1::2]))]
    if kind == "stream":
        entries = [[sid.decode(), [bs(f) for f in fields]] for sid, fields in x("XRANGE", key, "-", "+")]
        info = pairs_to_dict(x("XINFO", "STREAM", key, "FULL", "COUNT", "0"))
        info["entries_in_reply"] = len(info.pop("entries"))
        groups = []
        for group in info["groups"]:
            g = pairs_to_dict(group)
            g["consumers"] = [plain(pairs_to_dict(c)) for c in g["consumers"]]
            groups.append(plain(g))
        info["groups"] = groups
        return {"length": x("XLEN", key), "entries": entries, "info_full": plain(info)}
    if kind == "vectorset":
        names = sorted(x("VRANDMEMBER", key, x("VCARD", key)))
        return {"vcard": x("VCARD", key), "vdim": x("VDIM", key), "vinfo": plain(x("VINFO", key)),
                "vemb": {n.decode(): [v.decode() for v in x("VEMB", key, n)] for n in names}}
    raise ValueError(f"no reader for type {kind!r}")


def field_expiries(srv: RedisServer, key: bytes):
    fields = sorted(srv.execute("HKEYS", key))
    times = srv.execute("HPEXPIRETIME", key, "FIELDS", len(fields), *fields)
    return [[bs(f), t] for f, t in zip(fields, times) if t >= 0]


def expire_record(srv: RedisServer, db: int, key: bytes, expiries: dict) -> dict:
    """``expire_at_ms`` (and ``expire_source``): PEXPIRETIME on 7.0+; before, the absolute time
    the caller set (``expiries[(db, key)]``) checked against PTTL, else now + PTTL."""
    x = srv.execute
    if srv.spec.version >= (7, 0, 0):
        at = x("PEXPIRETIME", key)
        return {"expire_at_ms": at, "expire_source": "PEXPIRETIME"} if at >= 0 else \
            {"expire_at_ms": None}
    pttl = x("PTTL", key)
    if pttl < 0:
        return {"expire_at_ms": None}
    exact = expiries.get((db, key))
    now = int(time.time() * 1000)
    if exact is not None and abs(now + pttl - exact) < 10_000:
        return {"expire_at_ms": exact, "expire_source":
                "exact: the absolute PEXPIREAT/EXPIREAT time the generator set, checked against PTTL"}
    return {"expire_at_ms": now + pttl, "expire_source": "approximate: now + PTTL"}


def key_record(srv: RedisServer, db: int, key: bytes, expiries: dict) -> dict:
    """The truth record of one key of the currently selected db (without memory figures)."""
    x = srv.execute
    kind = x("TYPE", key).decode()
    rec = {"key": bs(key), "type": kind, "encoding": x("OBJECT", "ENCODING", key).decode()}
    rec.update(expire_record(srv, db, key, expiries))
    rec["value"] = read_value(srv, key, kind)
    if kind == "hash" and has_field_ttl(srv.spec):
        fe = field_expiries(srv, key)
        if fe:
            rec["field_expire_at_ms"] = fe
    dump = x("DUMP", key)
    rec["rdb_type"] = dump[0]
    rec["dump_b64"] = base64.b64encode(dump).decode("ascii")
    return rec


def capture_dbs(srv: RedisServer, expiries: dict | None = None) -> dict[str, list[dict]]:
    """``{"<db>": [records sorted by raw key]}`` for every non-empty database."""
    expiries = expiries or {}
    out = {}
    for name in keyspace(srv):
        db = int(name[2:])
        out[str(db)] = [key_record(srv, db, key, expiries) for key in list_keys(srv, db)]
    srv.execute("SELECT", 0)
    return out
