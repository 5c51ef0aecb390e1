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

from ...model import (TYPE_ARRAY, TYPE_HASH, TYPE_LIST, TYPE_MODULE, TYPE_SET, TYPE_STREAM,
                      TYPE_STRING, TYPE_ZSET, Entry, ModuleValue, Stream, StreamConsumer,
                      StreamEntry, StreamGroup, StreamIdmp, StreamIdmpProducer,
                      StreamPendingEntry)
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
    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers", "nacked")

    def __init__(self, name: bytes, last_id, entries_read) -> None:
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read  # None = unknown (-1)
        self.pel: dict[tuple, list] = {}  # id -> [consumer, delivery_ms, count]
        self.consumers: dict[bytes, list] = {}  # name -> [seen, active, set(ids)]
        # Redis 8.8: the NACK zone, the head of the PEL's delivery-time list
        # (pel_time_head .. pel_nack_tail), in zone order; its entries have no consumer
        self.nacked: dict[tuple, None] = {}

    def copy(self) -> "_Group":
        g = _Group(self.name, self.last_id, self.entries_read)
        g.pel = {i: list(p) for i, p in self.pel.items()}
        g.consumers = {n: [c[0], c[1], set(c[2])] for n, c in self.consumers.items()}
        g.nacked = dict(self.nacked)
        return g


class _Idmp:
    """A stream's idempotent-XADD state (Redis 8.6): ``duration``/``max_size`` (XCFGSET),
    ``producers`` (pid -> {iid: stream id}, each in insertion order, so the first is the
    oldest), and the all-time ``added``/``duplicates`` counters."""

    __slots__ = ("duration", "max_size", "producers", "added", "duplicates")

    def __init__(self, duration: int, max_size: int) -> None:
        self.duration = duration
        self.max_size = max_size
        self.producers: dict[bytes, dict[bytes, tuple]] = {}
        self.added = 0
        self.duplicates = 0

    def copy(self) -> "_Idmp":
        c = _Idmp(self.duration, self.max_size)
        c.producers = {pid: dict(iids) for pid, iids in self.producers.items()}
        c.added, c.duplicates = self.added, self.duplicates
        return c


class _Stream:
    __slots__ = ("entries", "ids", "last_id", "first_id", "max_deleted", "added", "groups",
                 "idmp")

    def __init__(self, idmp: _Idmp | None = None) -> None:
        self.entries: dict[tuple, list] = {}
        self.ids: list[tuple] = []  # sorted ids (lazily rebuilt)
        self.last_id = (0, 0)
        self.first_id = (0, 0)
        self.max_deleted = (0, 0)
        self.added = 0
        self.groups: dict[bytes, _Group] = {}
        self.idmp = idmp  # None before Redis 8.6


def _new_idmp(profile: ServerProfile) -> _Idmp | None:
    """A new stream's IDMP state: the server's config defaults (streamNew(), Redis 8.6)."""
    if not profile.stream_idmp:
        return None
    return _Idmp(profile.stream_idmp_duration, profile.stream_idmp_maxsize)


AR_INDEX_MAX = (1 << 64) - 2  # t_array.c: UINT64_MAX is never an index


class _Array:
    """An array (Redis 8.8, t_array.c ``redisArray``): ``items`` index -> value, and the
    ``insert_idx`` of the last ARINSERT/ARRING write (None: AR_INSERT_IDX_NONE).

    Values are kept as the bytes the commands gave: arEncode() stores a value as INT or FLOAT
    only when arDecode() prints it back to exactly those bytes (FORMATS-RDB13-15.md §5), so
    what the server returns is always what was written ("1.50" stays a string, "1.0" is a
    FLOAT that reads back "1.0")."""

    __slots__ = ("items", "insert_idx", "_top")

    def __init__(self) -> None:
        self.items: dict[int, bytes] = {}
        self.insert_idx: int | None = None
        self._top: int | None = -1  # the highest index; None: to be recomputed

    def __len__(self) -> int:
        return len(self.items)

    def set(self, idx: int, value: bytes) -> None:
        self.items[idx] = value
        if self._top is not None and idx > self._top:
            self._top = idx

    def delete(self, idx: int) -> bool:
        if self.items.pop(idx, None) is None:
            return False
        if idx == self._top:
            self._top = None
        return True

    def length(self) -> int:
        """arLen(): the highest index + 1, 0 when empty."""
        if self._top is None:
            self._top = max(self.items, default=-1)
        return self._top + 1

    def copy(self) -> "_Array":
        a = _Array()
        a.items = dict(self.items)
        a.insert_idx, a._top = self.insert_idx, self._top
        return a


def _copy_value(t: str, v):
    if t == TYPE_STRING or t == TYPE_MODULE:
        return v
    if t == TYPE_STREAM:
        s = _Stream(None if v.idmp is None else v.idmp.copy())
        s.entries = {k: list(f) for k, f in v.entries.items()}
        s.last_id, s.first_id, s.max_deleted, s.added = v.last_id, v.first_id, v.max_deleted, v.added
        s.groups = {name: g.copy() for name, g in v.groups.items()}
        return s
    return v.copy()


def _ranked(k: _Key) -> list[tuple[bytes, float]]:
    """A sorted set's (member, score) pairs in rank order (score, then member bytes)."""
    return sorted(k.value.items(), key=lambda ms: (ms[1], ms[0]))


# -- model conversion ----------------------------------------------------------------------
_SET_ENC = {2: "hashtable", 11: "intset", 20: "listpack"}
_ZSET_ENC = {3: "skiplist", 5: "skiplist", 12: "listpack", 17: "listpack"}
_HASH_ENC = {4: "hashtable", 9: "listpack", 13: "listpack", 16: "listpack", 25: "listpackex",
             23: "listpackex", 24: "hashtable", 21: "hashtable", 22: "hashtable",
             29: "template-listpack", 30: "template-listpack", 31: "template-array",
             32: "template-array"}
_TEMPLATE_TYPES = {"template-listpack": 30, "template-array": 32}


def template_order(field: bytes) -> tuple[int, bytes]:
    """A template's field order (sdscmplen(), t_hash.c @8.10): shorter names first, then
    bytewise."""
    return len(field), field


def _from_entry(e: Entry, profile: ServerProfile) -> _Key:
    t, v = e.type, e.value
    if v is not None and not isinstance(v, (bytes, list, Stream, ModuleValue, int)):
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
        if v.idmp is not None and profile.stream_idmp:
            idmp = _Idmp(v.idmp.duration_s, v.idmp.max_size)
            idmp.producers = {p.pid: dict(p.iids) for p in v.idmp.producers}
            idmp.added, idmp.duplicates = v.idmp.iids_added, v.idmp.iids_duplicates
        else:
            # a stream from an older file gets the loading server's defaults
            idmp = _new_idmp(profile)
        s = _Stream(idmp)
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
            if g.nacked and profile.nack_zones:
                ng.nacked = dict.fromkeys(g.nacked)
            s.groups[g.name] = ng
        k = _Key(t, s, "stream")
    elif t == TYPE_ARRAY:
        a = _Array()
        for idx, value in v:
            a.set(idx, value)
        if e.array_next_insert_index:
            a.insert_idx = e.array_next_insert_index - 1
        k = _Key(t, a, "sliced-array")
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
        if enc in _TEMPLATE_TYPES:
            return _TEMPLATE_TYPES[enc]
        if k.fttl:
            return 22 if p.is_valkey else 24
        return 4
    if t == TYPE_STREAM:
        if p.nack_zones:
            return 27
        if p.stream_idmp:
            return 26
        return 15 if compat < (7, 0, 0) else (19 if compat < (7, 2, 0) else 21)
    if t == TYPE_ARRAY:
        return 28
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
        if k.enc in _TEMPLATE_TYPES:  # values in template order, as the server lists them
            value.sort(key=lambda fv: template_order(fv[0]))
    elif t == TYPE_STREAM:
        value = _stream_model(v, profile)
        length = value.length
    elif t == TYPE_ARRAY:
        value, length = sorted(v.items.items()), len(v)
    else:
        value, length = v, len(v.raw) if isinstance(v, ModuleValue) else 0
    fttl = {f: ms for f, ms in (k.fttl or {}).items() if f in v} if t == TYPE_HASH else None
    insert = None
    if t == TYPE_ARRAY and v.insert_idx is not None:
        insert = v.insert_idx + 1
    return Entry(db=db, key=key, type=t, value=value, expire_at_ms=k.expire,
                 rdb_type=rdb_type_of(k, profile), field_expire_at_ms=fttl or None,
                 length=length, array_next_insert_index=insert)


def _stream_model(s: _Stream, profile: ServerProfile) -> Stream:
    # ``s.entries`` is in ID order already: XADD only appends IDs above the last one (XSETID
    # cannot go below the top entry) and loaded streams come in file order.  A field list is
    # never changed in place once added, so the model shares it.
    entries = [StreamEntry(i, f) for i, f in s.entries.items()]
    groups = []
    v3 = profile.redis_compat >= (7, 2, 0)
    # groups and consumers live in radix trees: a server lists and saves them by name
    nack_zones = profile.nack_zones
    for _, g in sorted(s.groups.items()):
        pending = [StreamPendingEntry(i, p[0], p[1], p[2]) for i, p in sorted(g.pel.items())]
        consumers = [StreamConsumer(name, c[0], c[1] if v3 else None, sorted(c[2]))
                     for name, c in sorted(g.consumers.items())]
        groups.append(StreamGroup(g.name, g.last_id, g.entries_read, pending, consumers,
                                  list(g.nacked) if nack_zones else None))
    first = entries[0].id if entries else (0, 0)
    if profile.redis_compat < (7, 0, 0):
        # Redis 5.0-6.2 keep no entries-added / max-deleted-id / entries-read (RDB stream v1):
        # the model holds what their RDB reader derives, as for a stream read from their RDB
        return Stream(entries=entries, length=len(entries), last_id=s.last_id, first_id=first,
                      max_deleted_id=(0, 0), entries_added=len(entries),
                      groups=[StreamGroup(g.name, g.last_id, None, g.pending, g.consumers)
                              for g in groups])
    idmp = None
    if s.idmp is not None:
        # producers live in a radix tree (rax order = pid bytes sorted), their entries in
        # insertion order
        i = s.idmp
        idmp = StreamIdmp(i.duration, i.max_size,
                          [StreamIdmpProducer(pid, list(iids.items()))
                           for pid, iids in sorted(i.producers.items())],
                          i.added, i.duplicates)
    return Stream(entries=entries, length=len(entries), last_id=s.last_id, first_id=first,
                  max_deleted_id=s.max_deleted, entries_added=s.added, groups=groups, idmp=idmp)
