# rdbtools: aof/replay/keyspace.py
"""The replay's keyspace objects and their conversion to and from the model: :class:`_Key`
(type, value, encoding, expiry, hash field TTLs), a stream's :class:`_Stream` and its consumer
groups (:class:`_Group`), deep copies for COPY, and :func:`rdb_type_of` — the RDB type code a
server writes for a key in a given encoding state.

Mirrors the objects of server.h / object.c (robj encodings), t_stream.c's stream and group
structures and rdb.c's rdbSaveObjectType(); :class:`~rdbtools.model.Entry` records go in
(:func:`_from_entry`: RDB preamble, RESTORE) and out (:func:`_to_entry`).
"""

from __future__ import annotations

from ...model import (TYPE_HASH, TYPE_LIST, TYPE_MODULE, TYPE_SET, TYPE_STREAM, TYPE_STRING,
                      TYPE_ZSET, Entry, ModuleValue, Stream, StreamConsumer, StreamEntry,
                      StreamGroup, StreamPendingEntry)
from .profile import ServerProfile


class _Key:
    __slots__ = ("type", "value", "expire", "enc", "fttl")

    def __init__(self, type_: str, value, enc: str = "", expire: int | None = None) -> None:
        self.type = type_
        self.value = value
        self.enc = enc
        self.expire = expire
        self.fttl: dict[bytes, int] | None = None

    def copy(self) -> "_Key":
        k = _Key(self.type, _copy_value(self.type, self.value), self.enc, self.expire)
        k.fttl = dict(self.fttl) if self.fttl is not None else None
        return k


class _Group:
    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers")

    def __init__(self, name: bytes, last_id, entries_read) -> None:
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read  # None = unknown (-1)
        self.pel: dict[tuple, list] = {}  # id -> [consumer, delivery_ms, count]
        self.consumers: dict[bytes, list] = {}  # name -> [seen, active, set(ids)]


class _Stream:
    __slots__ = ("entries", "ids", "last_id", "first_id", "max_deleted", "added", "groups")

    def __init__(self) -> None:
        self.entries: dict[tuple, list] = {}
        self.ids: list[tuple] = []  # sorted ids (lazily rebuilt)
        self.last_id = (0, 0)
        self.first_id = (0, 0)
        self.max_deleted = (0, 0)
        self.added = 0
        self.groups: dict[bytes, _Group] = {}


def _copy_value(t: str, v):
    if t == TYPE_STRING or t == TYPE_MODULE:
        return v
    if t == TYPE_STREAM:
        s = _Stream()
        s.entries = {k: list(f) for k, f in v.entries.items()}
        s.last_id, s.first_id, s.max_deleted, s.added = v.last_id, v.first_id, v.max_deleted, v.added
        for name, g in v.groups.items():
            ng = _Group(name, g.last_id, g.entries_read)
            ng.pel = {i: list(p) for i, p in g.pel.items()}
            ng.consumers = {n: [c[0], c[1], set(c[2])] for n, c in g.consumers.items()}
            s.groups[name] = ng
        return s
    return v.copy()


def _ranked(k: _Key) -> list[tuple[bytes, float]]:
    """A sorted set's (member, score) pairs in rank order (score, then member bytes)."""
    return sorted(k.value.items(), key=lambda ms: (ms[1], ms[0]))


# -- model conversion ----------------------------------------------------------------------
_SET_ENC = {2: "hashtable", 11: "intset", 20: "listpack"}
_ZSET_ENC = {3: "skiplist", 5: "skiplist", 12: "listpack", 17: "listpack"}
_HASH_ENC = {4: "hashtable", 9: "listpack", 13: "listpack", 16: "listpack", 25: "listpackex",
             23: "listpackex", 24: "hashtable", 21: "hashtable", 22: "hashtable"}


def _from_entry(e: Entry, profile: ServerProfile) -> _Key:
    t, v = e.type, e.value
    if v is not None and not isinstance(v, (bytes, list, Stream, ModuleValue)):
        v = list(v)
    if t == TYPE_STRING:
        k = _Key(t, v)
    elif t == TYPE_LIST:
        k = _Key(t, list(v), "quicklist")
    elif t == TYPE_SET:
        k = _Key(t, dict.fromkeys(v), _SET_ENC.get(e.rdb_type, "hashtable"))
    elif t == TYPE_ZSET:
        k = _Key(t, {m: s for m, s in v}, _ZSET_ENC.get(e.rdb_type, "skiplist"))
    elif t == TYPE_HASH:
        k = _Key(t, {f: x for f, x in v}, _HASH_ENC.get(e.rdb_type, "hashtable"))
        if e.field_expire_at_ms:
            k.fttl = dict(e.field_expire_at_ms)
    elif t == TYPE_STREAM:
        s = _Stream()
        s.entries = {x.id: list(x.fields) for x in v.entries}
        s.last_id, s.first_id, s.max_deleted, s.added = v.last_id, v.first_id, v.max_deleted_id, \
            v.entries_added
        for g in v.groups:
            ng = _Group(g.name, g.last_id, g.entries_read)
            ng.pel = {p.id: [p.consumer, p.delivery_time_ms, p.delivery_count] for p in g.pending}
            for c in g.consumers:
                active = c.active_time_ms if c.active_time_ms is not None else -1
                ng.consumers[c.name] = [c.seen_time_ms, active, set(c.pending)]
                for pid in c.pending:
                    if pid in ng.pel:
                        ng.pel[pid][0] = c.name
            s.groups[g.name] = ng
        k = _Key(t, s, "stream")
    else:
        k = _Key(TYPE_MODULE, v, "raw")
    k.expire = e.expire_at_ms
    return k


def rdb_type_of(k: _Key, p: ServerProfile) -> int:
    """The RDB type code the profile's server writes for a key in this state."""
    t, enc = k.type, k.enc
    compat = p.redis_compat
    if t == TYPE_STRING:
        return 0
    if t == TYPE_LIST:
        return 14 if compat < (7, 0, 0) else 18
    if t == TYPE_SET:
        return {"intset": 11, "listpack": 20}.get(enc, 2)
    if t == TYPE_ZSET:
        if enc == "listpack":
            return 12 if compat < (7, 0, 0) else 17
        return 5
    if t == TYPE_HASH:
        if enc == "listpack":
            return 13 if compat < (7, 0, 0) else 16
        if enc == "listpackex":
            return 25
        if k.fttl:
            return 22 if p.is_valkey else 24
        return 4
    if t == TYPE_STREAM:
        return 15 if compat < (7, 0, 0) else (19 if compat < (7, 2, 0) else 21)
    return 7


def _to_entry(db: int, key: bytes, k: _Key, profile: ServerProfile) -> Entry:
    t, v = k.type, k.value
    if t == TYPE_STRING:
        value, length = v, len(v)
    elif t == TYPE_LIST:
        value, length = list(v), len(v)
    elif t == TYPE_SET:
        value, length = list(v), len(v)
    elif t == TYPE_ZSET:
        value = _ranked(k)
        length = len(value)
    elif t == TYPE_HASH:
        value, length = list(v.items()), len(v)
    elif t == TYPE_STREAM:
        value = _stream_model(v, profile)
        length = value.length
    else:
        value, length = v, len(v.raw) if isinstance(v, ModuleValue) else 0
    fttl = {f: ms for f, ms in (k.fttl or {}).items() if f in v} if t == TYPE_HASH else None
    return Entry(db=db, key=key, type=t, value=value, expire_at_ms=k.expire,
                 rdb_type=rdb_type_of(k, profile), field_expire_at_ms=fttl or None,
                 length=length)


def _stream_model(s: _Stream, profile: ServerProfile) -> Stream:
    # ``s.entries`` is in ID order already: XADD only appends IDs above the last one (XSETID
    # cannot go below the top entry) and loaded streams come in file order.  A field list is
    # never changed in place once added, so the model shares it.
    entries = [StreamEntry(i, f) for i, f in s.entries.items()]
    groups = []
    v3 = profile.redis_compat >= (7, 2, 0)
    # groups and consumers live in radix trees: a server lists and saves them by name
    for _, g in sorted(s.groups.items()):
        pending = [StreamPendingEntry(i, p[0], p[1], p[2]) for i, p in sorted(g.pel.items())]
        consumers = [StreamConsumer(name, c[0], c[1] if v3 else None, sorted(c[2]))
                     for name, c in sorted(g.consumers.items())]
        groups.append(StreamGroup(g.name, g.last_id, g.entries_read, pending, consumers))
    first = entries[0].id if entries else (0, 0)
    if profile.redis_compat < (7, 0, 0):
        # Redis 5.0-6.2 keep no entries-added / max-deleted-id / entries-read (RDB stream v1):
        # the model holds what their RDB reader derives, as for a stream read from their RDB
        return Stream(entries=entries, length=len(entries), last_id=s.last_id, first_id=first,
                      max_deleted_id=(0, 0), entries_added=len(entries),
                      groups=[StreamGroup(g.name, g.last_id, None, g.pending, g.consumers)
                              for g in groups])
    return Stream(entries=entries, length=len(entries), last_id=s.last_id, first_id=first,
                  max_deleted_id=s.max_deleted, entries_added=s.added, groups=groups)
