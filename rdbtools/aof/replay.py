# rdbtools: aof/replay.py
"""The replay engine: applies AOF commands to an in-memory keyspace and yields the result as
model records (:class:`~rdbtools.model.Entry`, :class:`~rdbtools.model.Function`).

Mirrors the write paths of Redis 6.2-8.2 and Valkey 8-9 (t_string.c, t_list.c, t_set.c,
t_zset.c, t_hash.c, t_stream.c, hyperloglog.c, bitops.c, db.c, expire.c, cluster.c RESTORE,
functions.c) for the command forms servers put into an AOF: since 7.0 the AOF is the
replication stream (relative expiries already turned into PEXPIREAT / SET PXAT, scripts into
their effects inside MULTI/EXEC, blocking pops into plain pops, SPOP into SREM, INCRBYFLOAT into
SET ... KEEPTTL).

Choices (documented in docs/aof.md):

* **Expired keys are kept.**  Like a server loading an AOF (which never expires keys while
  loading), the engine keeps every key whatever its expiry; a reader decides what "now" is.
* **Encodings follow a server profile** (:class:`ServerProfile`): the ``rdb_type`` of every
  entry is the RDB type that server would write for the key after the same commands, including
  one-way conversions (intset → listpack → hashtable, listpack → skiplist, listpackex, Valkey's
  hashtable for hashes with field TTLs).  The profile comes from the RDB preamble's
  ``redis-ver``/``valkey-ver`` when there is one, else from the caller.
* **The clock** for the few values a server takes from its wall clock (stream consumer seen /
  active times, relative TTLs if a non-server wrote them) is the latest time the AOF itself
  shows: ``XCLAIM ... TIME``, ``#TS:`` annotations; ``now_ms`` overrides it.
* **Unknown commands stop the replay** with :class:`~rdbtools.errors.UnknownCommandError`
  naming the command, file and offset — module commands included — unless ``skip_unknown``:
  then each is skipped and counted in :attr:`Replayer.skipped`.
"""

from __future__ import annotations

import gc
import math
import re
import time
from collections import Counter
from operator import itemgetter
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ..errors import AofFormatError, FormatError, UnknownCommandError
from ..model import (TYPE_HASH, TYPE_LIST, TYPE_MODULE, TYPE_SET, TYPE_STREAM, TYPE_STRING,
                     TYPE_ZSET, Entry, Function, ModuleValue, Stream, StreamConsumer,
                     StreamEntry, StreamGroup, StreamPendingEntry)
from ..rdb.targets import DEFAULT_THRESHOLDS
from . import geo, hll
from .reader import AofCommand, AofReader, CommandBatch

__all__ = ["ServerProfile", "Replayer", "replay", "ReplayError"]

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
_first = itemgetter(0)
U64_MAX = 2**64 - 1


class ReplayError(AofFormatError):
    """A command's arguments are not what the server would have accepted (a server never writes
    such a command into its AOF, so the file is damaged or was not written by a server)."""


class _CmdError(Exception):
    pass


# -- server profiles -------------------------------------------------------------------------
@dataclass
class ServerProfile:
    """What decides encodings: server family and version, and the encoding thresholds.

    Accessible attributes: ``name`` (``redis``/``valkey``), ``version`` (tuple), and the
    thresholds as in redis.conf (``hash_max_listpack_entries`` ...), whose defaults are the one
    table in :mod:`rdbtools.rdb.targets` (kept as plain attributes: the replay reads them per
    command).
    """

    name: str = "redis"
    version: tuple[int, int, int] = (7, 4, 0)
    hash_max_listpack_entries: int = DEFAULT_THRESHOLDS.hash_max_listpack_entries
    hash_max_listpack_value: int = DEFAULT_THRESHOLDS.hash_max_listpack_value
    set_max_intset_entries: int = DEFAULT_THRESHOLDS.set_max_intset_entries
    set_max_listpack_entries: int = DEFAULT_THRESHOLDS.set_max_listpack_entries
    set_max_listpack_value: int = DEFAULT_THRESHOLDS.set_max_listpack_value
    zset_max_listpack_entries: int = DEFAULT_THRESHOLDS.zset_max_listpack_entries
    zset_max_listpack_value: int = DEFAULT_THRESHOLDS.zset_max_listpack_value
    hll_sparse_max_bytes: int = 3000

    @classmethod
    def parse(cls, text: str) -> "ServerProfile":
        """``"redis-7.4.1"``, ``"valkey-9.1.2"``, ``"7.2"`` (Redis) ..."""
        m = re.fullmatch(r"(?:(redis|valkey)[-_ ]?)?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip().lower())
        if not m:
            raise ValueError(f"not a server version: {text!r} (try redis-7.4.1 or valkey-9.1.2)")
        name = m.group(1) or "redis"
        version = tuple(int(g or 0) for g in m.group(2, 3, 4))
        return cls.for_version(name, version)  # type: ignore[arg-type]

    @classmethod
    def for_version(cls, name: str, version: tuple[int, int, int]) -> "ServerProfile":
        return cls(name=name, version=version)

    @property
    def is_valkey(self) -> bool:
        return self.name == "valkey"

    @property
    def redis_compat(self) -> tuple[int, int, int]:
        """The Redis version whose data-type code this server shares (Valkey 7.2+ forked 7.2.4)."""
        return (7, 2, 4) if self.is_valkey else self.version

    @property
    def listpack_sets(self) -> bool:
        return self.redis_compat >= (7, 2, 0)

    @property
    def field_ttls(self) -> bool:
        return self.version >= (9, 0, 0) if self.is_valkey else self.version >= (7, 4, 0)

    def label(self) -> str:
        return f"{self.name}-{'.'.join(map(str, self.version))}"


# -- keyspace objects -----------------------------------------------------------------------
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


# -- parsing helpers ------------------------------------------------------------------------
# first bytes of the ZADD flags (NX XX GT LT CH INCR), any case
_ZADD_FLAG_START = frozenset(bytes([c]) for c in b"NXGLCInxglci")
_INT_RE = re.compile(rb"-?[1-9][0-9]*|0")


def _strict_int(b: bytes) -> int | None:
    """string2ll(): canonical decimal text in int64 range, else None."""
    if len(b) > 20:
        return None
    try:
        v = int(b)
    except ValueError:
        return None
    if b"%d" % v != b:  # not canonical (sign, leading zeros, "_", spaces): as _INT_RE refuses
        return None
    return v if I64_MIN <= v <= I64_MAX else None


def _ll(b: bytes) -> int:
    v = _strict_int(b)
    if v is None:
        raise _CmdError(f"value is not an integer: {b[:40]!r}")
    return v


def _float(b: bytes) -> float:
    try:
        v = float(b)
    except ValueError:
        return _float_checked(b)
    if v == v and b.isascii() and not b[:1].isspace() and not b[-1:].isspace():
        return v
    return _float_checked(b)


def _strtod(b: bytes) -> float:
    """A SORT weight as sort.c reads it with strtod(): leading blanks allowed, hex floats too."""
    text = b.decode("latin-1").lstrip(" \t\n\v\f\r")
    try:
        v = float.fromhex(text) if text[:3].lower() in ("0x", "-0x", "+0x") or \
            text[:2].lower() == "0x" else float(text)
    except ValueError:
        raise _CmdError(f"One or more scores can't be converted into double: {b[:40]!r}") from None
    if math.isnan(v) or "_" in text or text != text.rstrip():
        raise _CmdError(f"One or more scores can't be converted into double: {b[:40]!r}")
    return v


def _float_checked(b: bytes) -> float:
    try:
        text = b.decode("ascii").strip()
        v = float(text)
    except (UnicodeDecodeError, ValueError):
        raise _CmdError(f"value is not a valid float: {b[:40]!r}") from None
    if math.isnan(v) or text.lower() in ("nan", "+nan", "-nan") or b != b.strip():
        raise _CmdError(f"value is not a valid float: {b[:40]!r}")
    return v


def _fmt_ll(v: int) -> bytes:
    return b"%d" % v


def _fmt_long_double(v: float) -> bytes:
    """ld2string(LD_STR_HUMAN): %.17Lf with trailing zeros removed (double precision here)."""
    if math.isinf(v):
        raise _CmdError("increment would produce NaN or Infinity")
    text = "%.17f" % v
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


def _sid(b: bytes, seq_default: int = 0) -> tuple[int, int]:
    if b in (b"-",):
        return (0, 0)
    if b in (b"+",):
        return (U64_MAX, U64_MAX)
    ms, _, seq = b.partition(b"-")
    try:
        m = int(ms)
        s = int(seq) if seq else seq_default
    except ValueError:
        raise _CmdError(f"invalid stream ID {b[:40]!r}") from None
    if not (0 <= m <= U64_MAX and 0 <= s <= U64_MAX):
        raise _CmdError(f"invalid stream ID {b[:40]!r}")
    return (m, s)


def _sid_next(i):
    ms, seq = i
    if seq == U64_MAX:
        return (ms + 1, 0) if ms < U64_MAX else None
    return (ms, seq + 1)


def _lpos(index: int, n: int) -> int:
    return index + n if index < 0 else index


# -- the engine -----------------------------------------------------------------------------
class Replayer:
    """Applies commands to an in-memory keyspace.

    Accessible attributes: ``dbs`` ({db: {key: _Key}}), ``functions`` ({library name: code}),
    ``profile``, ``skipped`` (Counter of skipped command names, with ``skip_unknown``),
    ``histogram`` (Counter of every command name applied), ``commands`` (count).
    """

    def __init__(self, profile: ServerProfile | None = None, *, skip_unknown: bool = False,
                 now_ms: int | None = None) -> None:
        self.profile = profile or ServerProfile()
        self.skip_unknown = skip_unknown
        self.fixed_now = now_ms
        self.clock_ms: int | None = None
        self.dbs: dict[int, dict[bytes, _Key]] = {0: {}}
        self.keys: dict[bytes, _Key] = self.dbs[0]  # always self.dbs[self.db]
        self.functions: dict[bytes, bytes] = {}
        self.db = 0
        self.skipped: Counter = Counter()
        self.skipped_at: list[tuple[str, int, bytes]] = []
        self.histogram: Counter = Counter()
        self.commands = 0
        self._table = self._build_table()
        # the table under the spellings AOFs use (upper and lower case): no .upper() per command
        self._fast = {**{k.lower(): f for k, f in self._table.items()}, **self._table}

    @property
    def profile(self) -> ServerProfile:
        return self._profile

    @profile.setter
    def profile(self, p: ServerProfile) -> None:
        self._profile = p
        self._compat7 = p.redis_compat >= (7, 0, 0)  # what the hot handlers test

    # -- clock -------------------------------------------------------------------------------
    def now(self) -> int:
        if self.fixed_now is not None:
            return self.fixed_now
        if self.clock_ms is not None:
            return self.clock_ms
        return int(time.time() * 1000)

    def _tick(self, ms: int) -> None:
        if self.fixed_now is None and (self.clock_ms is None or ms > self.clock_ms):
            self.clock_ms = ms

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, records: Iterable) -> None:
        """Apply every record (RDB entries/functions, :class:`AofCommand` and
        :class:`~rdbtools.aof.reader.CommandBatch` objects)."""
        table = self._table
        for rec in records:
            cls = rec.__class__
            if cls is CommandBatch:
                self._feed_batch(rec)
            elif cls is AofCommand:
                args = rec.args
                name = args[0].upper()
                if rec.timestamp is not None and self.fixed_now is None:
                    self._tick(rec.timestamp * 1000)
                fn = table.get(name)
                if fn is None:
                    fn = self._subcommand(name, args)
                if fn is None:
                    if self.skip_unknown:
                        self.skipped[name.decode("utf-8", "replace")] += 1
                        self.skipped_at.append((rec.file, rec.offset, name))
                        continue
                    raise UnknownCommandError(
                        name, f"unknown command {name.decode('utf-8', 'replace')!r} "
                        "(not a core Redis/Valkey write command this replay implements; "
                        "pass skip_unknown / --skip-unknown to skip and count such commands)",
                        rec.offset, file=rec.file)
                self.commands += 1
                self.histogram[name] += 1
                try:
                    fn(args)
                except _CmdError as e:
                    raise ReplayError(f"{name.decode('utf-8', 'replace')}: {e}", rec.offset,
                                      file=rec.file) from None
                except (IndexError, ValueError, KeyError) as e:
                    if isinstance(e, FormatError):
                        raise
                    raise ReplayError(f"{name.decode('utf-8', 'replace')}: malformed command "
                                      f"({e.__class__.__name__}: {e})", rec.offset,
                                      file=rec.file) from None
            elif cls is Entry:
                self._load_entry(rec)
            elif cls is Function:
                self._function_load(rec.code, replace=True)

    def _feed_batch(self, batch: CommandBatch) -> None:
        """The commands of a batch, as :meth:`feed` applies AofCommand records.  The handler is
        looked up by the name as written (``_fast`` holds the upper- and lower-case spellings);
        other names go through :meth:`_feed_slow`.  ``commands`` and ``histogram`` are counted
        once per batch."""
        if batch.ts is not None and self.fixed_now is None:
            self._tick(batch.ts * 1000)
        fast = self._fast
        cmds = batch.cmds
        slow = 0
        args = None
        try:
            for args in cmds:
                fn = fast.get(args[0])
                if fn is None:
                    slow += 1
                    self._feed_slow(batch, cmds, args)
                else:
                    fn(args)
        except Exception as e:
            i = next(j for j, x in enumerate(cmds) if x is args)
            self._count_fast(cmds[: i + 1], True)
            if isinstance(e, (_CmdError, IndexError, ValueError, KeyError)) and \
                    not isinstance(e, FormatError):
                name = args[0].upper().decode("utf-8", "replace")
                why = str(e) if isinstance(e, _CmdError) else \
                    f"malformed command ({e.__class__.__name__}: {e})"
                raise ReplayError(f"{name}: {why}", batch.offset(i), file=batch.file) from None
            raise
        self._count_fast(cmds, slow > 0)

    def _count_fast(self, cmds: list, filtered: bool) -> None:
        """Count the commands applied through ``_fast`` (the others counted themselves)."""
        if filtered:
            fast = self._fast
            names = [x[0] for x in cmds if x[0] in fast]
        else:
            names = map(_first, cmds)
        counts = Counter(names)
        hist = self.histogram
        for name, n in counts.items():
            hist[name.upper()] += n
            self.commands += n

    def _feed_slow(self, batch: CommandBatch, cmds: list, args: list) -> None:
        """A command whose name is not one of the ``_fast`` spellings: the per-command path of
        :meth:`feed`."""
        name = args[0].upper()
        fn = self._table.get(name)
        if fn is None:
            fn = self._subcommand(name, args)
        if fn is None:
            i = next(j for j, x in enumerate(cmds) if x is args)
            if self.skip_unknown:
                self.skipped[name.decode("utf-8", "replace")] += 1
                self.skipped_at.append((batch.file, batch.offset(i), name))
                return
            raise UnknownCommandError(
                name, f"unknown command {name.decode('utf-8', 'replace')!r} "
                "(not a core Redis/Valkey write command this replay implements; "
                "pass skip_unknown / --skip-unknown to skip and count such commands)",
                batch.offset(i), file=batch.file)
        self.commands += 1
        self.histogram[name] += 1
        fn(args)

    def _subcommand(self, name: bytes, args: list[bytes]):
        if len(args) > 1:
            return self._table.get(name + b" " + args[1].upper())
        return None

    def _load_entry(self, e: Entry) -> None:
        k = _from_entry(e, self.profile)
        self.dbs.setdefault(e.db, {})[e.key] = k

    # -- keyspace helpers ------------------------------------------------------------------
    def _use_db(self) -> None:
        """Point ``keys`` at the current database (after SELECT, SWAPDB, FLUSHALL)."""
        d = self.dbs.get(self.db)
        if d is None:
            d = self.dbs[self.db] = {}
        self.keys = d

    def _get(self, key: bytes, t: str | None = None) -> _Key | None:
        k = self.keys.get(key)
        if k is not None and t is not None and k.type != t:
            raise _CmdError(f"WRONGTYPE: key {key[:64]!r} holds a {k.type}, not a {t}")
        return k

    def _delete_if_empty(self, key: bytes, k: _Key) -> None:
        if not k.value and k.type not in (TYPE_STRING, TYPE_STREAM, TYPE_MODULE):
            del self.keys[key]

    # -- table ---------------------------------------------------------------------------------
    def _build_table(self) -> dict[bytes, Callable]:
        t: dict[bytes, Callable] = {}
        for attr in dir(self):
            if attr.startswith("c_"):
                name = attr[2:].upper().replace("__", " ").encode()
                t[name] = getattr(self, attr)
        aliases = {b"HMSET": b"HSET", b"UNLINK": b"DEL", b"RPOPLPUSH": None, b"BLPOP": None}
        t[b"HMSET"] = t[b"HSET"]
        t[b"UNLINK"] = t[b"DEL"]
        del aliases
        return t

    # ==== generic / keys ====================================================================
    def c_select(self, a):
        self.db = _ll(a[1])
        self._use_db()

    def c_multi(self, a):
        pass

    def c_exec(self, a):
        pass

    def c_del(self, a):
        for key in a[1:]:
            self.keys.pop(key, None)

    def c_flushdb(self, a):
        self.keys.clear()

    def c_flushall(self, a):
        self.dbs.clear()
        self._use_db()

    def c_swapdb(self, a):
        x, y = _ll(a[1]), _ll(a[2])
        dx, dy = self.dbs.get(x, {}), self.dbs.get(y, {})
        self.dbs[x], self.dbs[y] = dy, dx
        self._use_db()

    def _expire(self, a, unit: int, absolute: bool):
        key = a[1]
        k = self._get(key)
        if k is None:
            return
        when = _ll(a[2]) * unit
        if not absolute:
            when += self.now()
        flags = {x.upper() for x in a[3:]}
        cur = k.expire
        if b"NX" in flags and cur is not None:
            return
        if b"XX" in flags and cur is None:
            return
        if b"GT" in flags and (cur is None or when <= cur):
            return
        if b"LT" in flags and cur is not None and when >= cur:
            return
        k.expire = when

    def c_expire(self, a):
        self._expire(a, 1000, False)

    def c_pexpire(self, a):
        self._expire(a, 1, False)

    def c_expireat(self, a):
        self._expire(a, 1000, True)

    def c_pexpireat(self, a):
        self._expire(a, 1, True)

    def c_persist(self, a):
        k = self._get(a[1])
        if k is not None:
            k.expire = None

    def c_rename(self, a, nx: bool = False):
        src, dst = a[1], a[2]
        k = self.keys.get(src)
        if k is None:
            raise _CmdError("no such key")
        if nx and dst in self.keys:
            return
        if src == dst:
            return
        del self.keys[src]
        self.keys[dst] = k

    def c_renamenx(self, a):
        self.c_rename(a, nx=True)

    def c_move(self, a):
        key, db = a[1], _ll(a[2])
        k = self.keys.get(key)
        target = self.dbs.setdefault(db, {})
        if k is None or key in target or db == self.db:
            return
        del self.keys[key]
        target[key] = k

    def c_copy(self, a):
        src, dst = a[1], a[2]
        db, replace = self.db, False
        i = 3
        while i < len(a):
            opt = a[i].upper()
            if opt == b"DB":
                db = _ll(a[i + 1])
                i += 1
            elif opt == b"REPLACE":
                replace = True
            i += 1
        k = self.keys.get(src)
        if k is None:
            return
        target = self.dbs.setdefault(db, {})
        if dst in target and not replace:
            return
        if db == self.db and src == dst:
            return
        target[dst] = k.copy()

    def c_restore(self, a):
        key, ttl, payload = a[1], _ll(a[2]), a[3]
        opts = [x.upper() for x in a[4:]]
        if key in self.keys and b"REPLACE" not in opts:
            raise _CmdError("BUSYKEY: target key name already exists")
        entry = decode_dump_payload(key, payload)
        k = _from_entry(entry, self.profile)
        if ttl:
            k.expire = ttl if b"ABSTTL" in opts else self.now() + ttl
        self.keys[key] = k

    # ==== strings ============================================================================
    def _set(self, key: bytes, value: bytes, expire=None, keepttl=False):
        old = self.keys.get(key)
        k = _Key(TYPE_STRING, value)
        if keepttl and old is not None:
            k.expire = old.expire
        else:
            k.expire = expire
        self.keys[key] = k

    def c_set(self, a):
        if len(a) == 3:  # plain SET key value: what _set does
            self.keys[a[1]] = _Key(TYPE_STRING, a[2])
            return
        key, value = a[1], a[2]
        nx = xx = keepttl = False
        expire = None
        ifeq = None
        i = 3
        now = None
        while i < len(a):
            opt = a[i].upper()
            if opt == b"NX":
                nx = True
            elif opt == b"XX":
                xx = True
            elif opt == b"GET":
                pass
            elif opt == b"KEEPTTL":
                keepttl = True
            elif opt in (b"EX", b"PX", b"EXAT", b"PXAT"):
                n = _ll(a[i + 1])
                i += 1
                if opt == b"EX":
                    now = self.now()
                    expire = now + n * 1000
                elif opt == b"PX":
                    expire = self.now() + n
                elif opt == b"EXAT":
                    expire = n * 1000
                else:
                    expire = n
            elif opt == b"IFEQ":
                ifeq = a[i + 1]
                i += 1
            else:
                raise _CmdError(f"syntax error near {opt!r}")
            i += 1
        old = self.keys.get(key)
        if nx and old is not None or xx and old is None:
            return
        if ifeq is not None:
            if old is None:
                return
            if old.type != TYPE_STRING or old.value != ifeq:
                return
        self._set(key, value, expire, keepttl)

    def c_setnx(self, a):
        if a[1] not in self.keys:
            self._set(a[1], a[2])

    def c_setex(self, a):
        self._set(a[1], a[3], self.now() + _ll(a[2]) * 1000)

    def c_psetex(self, a):
        self._set(a[1], a[3], self.now() + _ll(a[2]))

    def c_getset(self, a):
        self._get(a[1], TYPE_STRING)
        self._set(a[1], a[2])

    def c_getdel(self, a):
        self.keys.pop(a[1], None)

    def c_getex(self, a):
        k = self._get(a[1], TYPE_STRING)
        if k is None:
            return
        i = 2
        while i < len(a):
            opt = a[i].upper()
            if opt == b"PERSIST":
                k.expire = None
            elif opt in (b"EX", b"PX", b"EXAT", b"PXAT"):
                n = _ll(a[i + 1])
                i += 1
                k.expire = {b"EX": self.now() + n * 1000, b"PX": self.now() + n,
                            b"EXAT": n * 1000, b"PXAT": n}[opt]
            i += 1

    def c_mset(self, a):
        for i in range(1, len(a) - 1, 2):
            self._set(a[i], a[i + 1])

    def c_msetnx(self, a):
        pairs = a[1:]
        if any(pairs[i] in self.keys for i in range(0, len(pairs), 2)):
            return
        self.c_mset(a)

    def c_append(self, a):
        k = self._get(a[1], TYPE_STRING)
        if k is None:
            self._set(a[1], a[2])
        else:
            k.value = k.value + a[2]

    def c_setrange(self, a):
        key, offset, data = a[1], _ll(a[2]), a[3]
        k = self._get(key, TYPE_STRING)
        if k is None:
            if not data:
                return
            self._set(key, bytes(offset) + data)
            return
        if not data:
            return
        v = k.value
        if len(v) < offset:
            v = v + bytes(offset - len(v))
        k.value = v[:offset] + data + v[offset + len(data):]

    def _incr(self, key: bytes, by: int):
        k = self.keys.get(key)
        if k is None:
            self.keys[key] = _Key(TYPE_STRING, b"%d" % by)  # 0 + by: _set(key, _fmt_ll(by))
            return
        if k.type != TYPE_STRING:
            self._get(key, TYPE_STRING)  # raises WRONGTYPE
        v = _ll(k.value) + by
        if not I64_MIN <= v <= I64_MAX:
            raise _CmdError("increment or decrement would overflow")
        k.value = b"%d" % v

    def c_incr(self, a):
        self._incr(a[1], 1)

    def c_decr(self, a):
        self._incr(a[1], -1)

    def c_incrby(self, a):
        self._incr(a[1], _ll(a[2]))

    def c_decrby(self, a):
        by = _ll(a[2])
        if by == I64_MIN:
            raise _CmdError("decrement would overflow")
        self._incr(a[1], -by)

    def c_incrbyfloat(self, a):
        k = self._get(a[1], TYPE_STRING)
        cur = 0.0 if k is None else _float(k.value)
        v = _fmt_long_double(cur + _float(a[2]))
        if k is None:
            self._set(a[1], v)
        else:
            k.value = v

    # ==== bitmaps ============================================================================
    def c_setbit(self, a):
        key, offset, bit = a[1], _ll(a[2]), _ll(a[3])
        if bit not in (0, 1) or offset < 0 or offset >= 2**32:
            raise _CmdError("bit or offset out of range")
        k = self._get(key, TYPE_STRING)
        byte = offset >> 3
        v = bytearray(k.value if k is not None else b"")
        if len(v) <= byte:
            v += bytes(byte + 1 - len(v))
        shift = 7 - (offset & 7)
        v[byte] = (v[byte] & ~(1 << shift) & 0xFF) | (bit << shift)
        if k is None:
            self._set(key, bytes(v))
        else:
            k.value = bytes(v)

    def c_bitop(self, a):
        op, dest, srcs = a[1].upper(), a[2], a[3:]
        vals = []
        for s in srcs:
            k = self._get(s, TYPE_STRING)
            vals.append(k.value if k is not None else b"")
        n = max((len(v) for v in vals), default=0)
        if n == 0:
            self.keys.pop(dest, None)
            return
        ints = [int.from_bytes(v.ljust(n, b"\x00"), "big") for v in vals]
        mask = (1 << (8 * n)) - 1
        if op == b"NOT":
            if len(ints) != 1:
                raise _CmdError("BITOP NOT must be called with a single source key")
            r = ~ints[0] & mask
        elif op == b"AND":
            r = ints[0]
            for x in ints[1:]:
                r &= x
        elif op == b"OR":
            r = 0
            for x in ints:
                r |= x
        elif op == b"XOR":
            r = 0
            for x in ints:
                r ^= x
        elif op == b"DIFF":  # Redis 8.2: X and not (any of the others)
            others = 0
            for x in ints[1:]:
                others |= x
            r = ints[0] & ~others & mask
        elif op == b"DIFF1":
            others = 0
            for x in ints[1:]:
                others |= x
            r = ~ints[0] & others & mask
        elif op == b"ANDOR":
            others = 0
            for x in ints[1:]:
                others |= x
            r = ints[0] & others
        elif op == b"ONE":
            once = seen = 0
            for x in ints:
                once = (once & ~x) | (x & ~seen)
                seen |= x
            r = once & mask
        else:
            raise _CmdError(f"unknown BITOP operation {op!r}")
        self._set(dest, r.to_bytes(n, "big"))

    def c_bitfield(self, a):
        key = a[1]
        k = self._get(key, TYPE_STRING)
        v = bytearray(k.value if k is not None else b"")
        overflow = b"WRAP"
        changed = False
        i = 2
        while i < len(a):
            op = a[i].upper()
            if op == b"OVERFLOW":
                overflow = a[i + 1].upper()
                i += 2
                continue
            if op == b"GET":
                i += 3
                continue
            if op not in (b"SET", b"INCRBY"):
                raise _CmdError(f"BITFIELD: unknown subcommand {op!r}")
            typ, off, arg = a[i + 1], a[i + 2], _ll(a[i + 3])
            i += 4
            signed = typ[:1] in (b"i", b"I")
            bits = int(typ[1:])
            if off.startswith(b"#"):
                offset = int(off[1:]) * bits
            else:
                offset = int(off)
            end_byte = (offset + bits - 1) >> 3
            if len(v) <= end_byte:
                v += bytes(end_byte + 1 - len(v))
            cur = 0
            for b in range(bits):
                pos = offset + b
                cur = (cur << 1) | ((v[pos >> 3] >> (7 - (pos & 7))) & 1)
            if signed and cur >> (bits - 1):
                cur -= 1 << bits
            new = arg if op == b"SET" else cur + arg
            if signed:
                lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            else:
                lo, hi = 0, (1 << bits) - 1
            if op == b"SET" and not signed:
                new &= (1 << bits) - 1  # SET stores the low bits (checked against FAIL below)
                if overflow == b"FAIL" and not 0 <= arg <= hi:
                    continue
                if overflow == b"SAT":
                    new = min(max(arg, lo), hi)
            elif new < lo or new > hi:
                if overflow == b"FAIL":
                    continue
                if overflow == b"SAT":
                    new = hi if new > hi else lo
                else:
                    new &= (1 << bits) - 1
            raw = new & ((1 << bits) - 1)
            for b in range(bits):
                pos = offset + b
                bit = (raw >> (bits - 1 - b)) & 1
                shift = 7 - (pos & 7)
                v[pos >> 3] = (v[pos >> 3] & ~(1 << shift) & 0xFF) | (bit << shift)
            changed = True
        if changed or k is not None:
            if k is None:
                self._set(key, bytes(v))
            else:
                k.value = bytes(v)

    # ==== HyperLogLog ========================================================================
    def c_pfadd(self, a):
        k = self._get(a[1], TYPE_STRING)
        value = hll.pfadd(k.value if k is not None else None, a[2:], self.profile.hll_sparse_max_bytes)
        if k is None:
            self._set(a[1], value)
        else:
            k.value = value

    def c_pfmerge(self, a):
        vals = []
        for s in a[1:]:
            k = self._get(s, TYPE_STRING)
            vals.append(k.value if k is not None else None)
        value = hll.pfmerge(vals[0], vals, self.profile.hll_sparse_max_bytes)
        k = self.keys.get(a[1])
        if k is None:
            self._set(a[1], value)
        else:
            k.value = value

    def c_pfcount(self, a):
        if len(a) == 2:
            k = self._get(a[1], TYPE_STRING)
            if k is not None:
                k.value = hll.pfcount_cached(k.value)

    # ==== lists ==============================================================================
    def _list(self, key: bytes, create: bool) -> _Key | None:
        k = self._get(key, TYPE_LIST)
        if k is None and create:
            k = self.keys[key] = _Key(TYPE_LIST, [])
        return k

    def c_lpush(self, a):
        k = self._list(a[1], True)
        v = k.value
        v[0:0] = reversed(a[2:])

    def c_rpush(self, a):
        k = self.keys.get(a[1])
        if k is None or k.type != TYPE_LIST:
            k = self._list(a[1], True)
        k.value.extend(a[2:])

    def c_lpushx(self, a):
        if self._list(a[1], False) is not None:
            self.c_lpush(a)

    def c_rpushx(self, a):
        if self._list(a[1], False) is not None:
            self.c_rpush(a)

    def c_linsert(self, a):
        k = self._list(a[1], False)
        if k is None:
            return
        where, pivot, value = a[2].upper(), a[3], a[4]
        try:
            i = k.value.index(pivot)
        except ValueError:
            return
        k.value.insert(i + (where == b"AFTER"), value)

    def c_lset(self, a):
        k = self._list(a[1], False)
        if k is None:
            raise _CmdError("no such key")
        i = _lpos(_ll(a[2]), len(k.value))
        if not 0 <= i < len(k.value):
            raise _CmdError("index out of range")
        k.value[i] = a[3]

    def c_lrem(self, a):
        k = self._list(a[1], False)
        if k is None:
            return
        count, value = _ll(a[2]), a[3]
        v = k.value
        if count == 0:
            v[:] = [x for x in v if x != value]
        elif count > 0:
            out, removed = [], 0
            for x in v:
                if x == value and removed < count:
                    removed += 1
                    continue
                out.append(x)
            v[:] = out
        else:
            out, removed = [], 0
            for x in reversed(v):
                if x == value and removed < -count:
                    removed += 1
                    continue
                out.append(x)
            out.reverse()
            v[:] = out
        self._delete_if_empty(a[1], k)

    def c_ltrim(self, a):
        k = self._list(a[1], False)
        if k is None:
            return
        n = len(k.value)
        start, end = _lpos(_ll(a[2]), n), _lpos(_ll(a[3]), n)
        start = max(start, 0)
        if start > end or start >= n:
            k.value[:] = []
        else:
            k.value[:] = k.value[start : min(end, n - 1) + 1]
        self._delete_if_empty(a[1], k)

    def _pop(self, key: bytes, left: bool, count: int | None):
        k = self._list(key, False)
        if k is None:
            return []
        n = 1 if count is None else count
        v = k.value
        if left:
            out = v[:n]
            del v[:n]
        else:
            out = v[len(v) - n:][::-1] if n else []
            del v[len(v) - n:]
        self._delete_if_empty(key, k)
        return out

    def c_lpop(self, a):
        self._pop(a[1], True, _ll(a[2]) if len(a) > 2 else None)

    def c_rpop(self, a):
        self._pop(a[1], False, _ll(a[2]) if len(a) > 2 else None)

    def c_blpop(self, a):
        for key in a[1:-1]:
            if self._list(key, False) is not None:
                self._pop(key, True, None)
                return

    def c_brpop(self, a):
        for key in a[1:-1]:
            if self._list(key, False) is not None:
                self._pop(key, False, None)
                return

    def _mpop(self, a, first_key: int, blocking_list: bool):
        numkeys = _ll(a[first_key])
        keys = a[first_key + 1 : first_key + 1 + numkeys]
        rest = a[first_key + 1 + numkeys :]
        where = rest[0].upper()
        count = 1
        if len(rest) >= 3 and rest[1].upper() == b"COUNT":
            count = _ll(rest[2])
        return keys, where, count

    def c_lmpop(self, a):
        keys, where, count = self._mpop(a, 1, True)
        for key in keys:
            if self._list(key, False) is not None:
                self._pop(key, where == b"LEFT", count)
                return

    def c_blmpop(self, a):
        keys, where, count = self._mpop(a, 2, True)
        for key in keys:
            if self._list(key, False) is not None:
                self._pop(key, where == b"LEFT", count)
                return

    def c_lmove(self, a):
        src, dst, wherefrom, whereto = a[1], a[2], a[3].upper(), a[4].upper()
        s = self._list(src, False)
        if s is None:
            return
        d = self._get(dst, TYPE_LIST)
        value = s.value.pop(0) if wherefrom == b"LEFT" else s.value.pop()
        self._delete_if_empty(src, s)
        d = self._list(dst, True)
        if whereto == b"LEFT":
            d.value.insert(0, value)
        else:
            d.value.append(value)

    def c_blmove(self, a):
        self.c_lmove(a[:5])

    def c_rpoplpush(self, a):
        self.c_lmove([b"LMOVE", a[1], a[2], b"RIGHT", b"LEFT"])

    def c_brpoplpush(self, a):
        self.c_rpoplpush(a[:3])

    # ==== sets ===============================================================================
    def _set_new(self, first: bytes, hint: int) -> _Key:
        p = self.profile
        if _strict_int(first) is not None and (not p.listpack_sets or hint <= p.set_max_intset_entries):
            enc = "intset"
        elif p.listpack_sets and hint <= p.set_max_listpack_entries:
            enc = "listpack"
        else:
            enc = "hashtable"
        return _Key(TYPE_SET, {}, enc)

    def _sadd(self, k: _Key, member: bytes) -> bool:
        v = k.value
        if member in v:
            return False
        p = self.profile
        enc = k.enc
        if enc == "intset":
            if _strict_int(member) is not None:
                v[member] = None
                if len(v) > p.set_max_intset_entries:
                    k.enc = "hashtable"
                return True
            if p.listpack_sets:
                maxlen = max((len(x) for x in v), default=0)
                if len(v) < p.set_max_listpack_entries and len(member) <= p.set_max_listpack_value \
                        and maxlen <= p.set_max_listpack_value:
                    k.enc = "listpack"
                else:
                    k.enc = "hashtable"
            else:
                k.enc = "hashtable"
        elif enc == "listpack":
            if not (len(v) < p.set_max_listpack_entries and len(member) <= p.set_max_listpack_value):
                k.enc = "hashtable"
        v[member] = None
        return True

    def c_sadd(self, a):
        k = self.keys.get(a[1])
        if k is not None and k.type != TYPE_SET:
            k = self._get(a[1], TYPE_SET)  # raises WRONGTYPE
        if k is None:
            k = self.keys[a[1]] = self._set_new(a[2], len(a) - 2)
        for m in a[2:]:
            self._sadd(k, m)

    def c_srem(self, a):
        k = self._get(a[1], TYPE_SET)
        if k is None:
            return
        for m in a[2:]:
            k.value.pop(m, None)
        self._delete_if_empty(a[1], k)

    def c_smove(self, a):
        src, dst, m = a[1], a[2], a[3]
        s = self._get(src, TYPE_SET)
        d = self._get(dst, TYPE_SET)
        if s is None or m not in s.value:
            return
        if src == dst:
            return
        del s.value[m]
        self._delete_if_empty(src, s)
        if d is None:
            d = self.keys[dst] = self._set_new(m, 1)
        self._sadd(d, m)

    def _store_set(self, dst: bytes, members: list[bytes]) -> None:
        self.keys.pop(dst, None)
        if not members:
            return
        p = self.profile
        k = _Key(TYPE_SET, {}, "intset")
        if p.listpack_sets and not all(_strict_int(m) is not None for m in members) \
                and len(members) <= p.set_max_listpack_entries:
            k.enc = "listpack"  # setTypeCreate() with the result size as hint (7.2+)
        for m in members:
            self._sadd(k, m)
        self.keys[dst] = k

    def _members(self, key: bytes) -> dict | None:
        k = self._get(key, TYPE_SET)
        return None if k is None else k.value

    def c_sinterstore(self, a):
        sets = [self._members(x) for x in a[2:]]
        if any(s is None for s in sets):
            self._store_set(a[1], [])
            return
        sets_sorted = sorted(sets, key=len)
        out = [m for m in sets_sorted[0] if all(m in s for s in sets_sorted[1:])]
        self._store_set(a[1], out)

    def c_sunionstore(self, a):
        out: dict = {}
        for x in a[2:]:
            s = self._members(x)
            if s:
                out.update(s)
        self._store_set(a[1], list(out))

    def c_sdiffstore(self, a):
        first = self._members(a[2]) or {}
        others = [self._members(x) or {} for x in a[3:]]
        self._store_set(a[1], [m for m in first if not any(m in o for o in others)])

    # ==== sorted sets ========================================================================
    def _zset_new(self, size_hint: int, maxlen: int) -> _Key:
        p = self.profile
        if p.redis_compat < (7, 0, 0):
            enc = "listpack" if p.zset_max_listpack_entries and maxlen <= p.zset_max_listpack_value \
                else "skiplist"
        else:
            enc = "listpack" if size_hint <= p.zset_max_listpack_entries and \
                maxlen <= p.zset_max_listpack_value else "skiplist"
        return _Key(TYPE_ZSET, {}, enc)

    def _zadd_one(self, k: _Key, member: bytes, score: float) -> None:
        v = k.value
        if member not in v and k.enc == "listpack":
            p = self.profile
            if len(v) + 1 > p.zset_max_listpack_entries or len(member) > p.zset_max_listpack_value:
                k.enc = "skiplist"
        v[member] = score

    def c_zadd(self, a):
        if len(a) == 4 and a[2][:1] not in _ZADD_FLAG_START:
            # ZADD key score member (no flags): the general path below, shortened
            k = self.keys.get(a[1])
            if k is not None and k.type == TYPE_ZSET:
                score = _float(a[2])
                member = a[3]
                v = k.value
                if member in v or k.enc != "listpack":
                    v[member] = score
                    return
                self._zadd_one(k, member, score)
                return
        key = a[1]
        i = 2
        flags = set()
        while i < len(a):
            f = a[i].upper()
            if f in (b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"):
                flags.add(f)
                i += 1
            else:
                break
        pairs = a[i:]
        if not pairs or len(pairs) % 2:
            raise _CmdError("syntax error")
        scores = [_float(pairs[j]) for j in range(0, len(pairs), 2)]
        members = pairs[1::2]
        k = self._get(key, TYPE_ZSET)
        if k is None:
            if b"XX" in flags:
                return
            first_len = len(members[0])
            maxlen = max(len(m) for m in members) if self.profile.redis_compat >= (7, 0, 0) else first_len
            k = self.keys[key] = self._zset_new(len(members), maxlen)
        v = k.value
        for score, member in zip(scores, members):
            cur = v.get(member)
            if b"INCR" in flags:
                if cur is None:
                    if b"XX" in flags:
                        continue
                    new = score
                else:
                    if b"NX" in flags:
                        continue
                    new = cur + score
                    if math.isnan(new):
                        raise _CmdError("resulting score is not a number (NaN)")
                    if b"GT" in flags and not new > cur or b"LT" in flags and not new < cur:
                        continue
            else:
                new = score
                if cur is None:
                    if b"XX" in flags:
                        continue
                else:
                    if b"NX" in flags:
                        continue
                    if b"GT" in flags and not new > cur or b"LT" in flags and not new < cur:
                        continue
            self._zadd_one(k, member, new)
        self._delete_if_empty(key, k)

    def c_zincrby(self, a):
        self.c_zadd([b"ZADD", a[1], b"INCR", a[2], a[3]])

    def c_zrem(self, a):
        k = self._get(a[1], TYPE_ZSET)
        if k is None:
            return
        for m in a[2:]:
            k.value.pop(m, None)
        self._delete_if_empty(a[1], k)

    def _ranked(self, k: _Key) -> list[tuple[bytes, float]]:
        return sorted(k.value.items(), key=lambda ms: (ms[1], ms[0]))

    def c_zremrangebyrank(self, a):
        k = self._get(a[1], TYPE_ZSET)
        if k is None:
            return
        ranked = self._ranked(k)
        n = len(ranked)
        start, end = _lpos(_ll(a[2]), n), _lpos(_ll(a[3]), n)
        start = max(start, 0)
        if start <= end and start < n:
            for m, _ in ranked[start : min(end, n - 1) + 1]:
                del k.value[m]
        self._delete_if_empty(a[1], k)

    def c_zremrangebyscore(self, a):
        k = self._get(a[1], TYPE_ZSET)
        if k is None:
            return
        inside = _score_range(a[2], a[3])
        for m, s in list(k.value.items()):
            if inside(s):
                del k.value[m]
        self._delete_if_empty(a[1], k)

    def c_zremrangebylex(self, a):
        k = self._get(a[1], TYPE_ZSET)
        if k is None:
            return
        inside = _lex_range(a[2], a[3])
        for m in list(k.value):
            if inside(m):
                del k.value[m]
        self._delete_if_empty(a[1], k)

    def _zpop(self, key: bytes, maximum: bool, count: int) -> None:
        k = self._get(key, TYPE_ZSET)
        if k is None:
            return
        ranked = self._ranked(k)
        chosen = ranked[::-1][:count] if maximum else ranked[:count]
        for m, _ in chosen:
            del k.value[m]
        self._delete_if_empty(key, k)

    def c_zpopmin(self, a):
        self._zpop(a[1], False, _ll(a[2]) if len(a) > 2 else 1)

    def c_zpopmax(self, a):
        self._zpop(a[1], True, _ll(a[2]) if len(a) > 2 else 1)

    def c_bzpopmin(self, a):
        for key in a[1:-1]:
            if self._get(key, TYPE_ZSET) is not None:
                return self._zpop(key, False, 1)

    def c_bzpopmax(self, a):
        for key in a[1:-1]:
            if self._get(key, TYPE_ZSET) is not None:
                return self._zpop(key, True, 1)

    def c_zmpop(self, a):
        keys, where, count = self._mpop(a, 1, False)
        for key in keys:
            if self._get(key, TYPE_ZSET) is not None:
                return self._zpop(key, where == b"MAX", count)

    def c_bzmpop(self, a):
        keys, where, count = self._mpop(a, 2, False)
        for key in keys:
            if self._get(key, TYPE_ZSET) is not None:
                return self._zpop(key, where == b"MAX", count)

    def _store_zset(self, dst: bytes, items: dict) -> None:
        self.keys.pop(dst, None)
        if not items:
            return
        p = self.profile
        maxlen = max(len(m) for m in items)
        enc = "listpack" if len(items) <= p.zset_max_listpack_entries and \
            maxlen <= p.zset_max_listpack_value else "skiplist"
        self.keys[dst] = _Key(TYPE_ZSET, dict(items), enc)

    def _zsource(self, key: bytes) -> dict:
        k = self.keys.get(key)
        if k is None:
            return {}
        if k.type == TYPE_SET:
            return {m: 1.0 for m in k.value}
        if k.type != TYPE_ZSET:
            raise _CmdError("WRONGTYPE")
        return k.value

    def _zsetop(self, a, op: str) -> None:
        dst, numkeys = a[1], _ll(a[2])
        keys = a[3 : 3 + numkeys]
        weights = [1.0] * numkeys
        aggregate = b"SUM"
        i = 3 + numkeys
        while i < len(a):
            opt = a[i].upper()
            if opt == b"WEIGHTS":
                weights = [_float(w) for w in a[i + 1 : i + 1 + numkeys]]
                i += 1 + numkeys
            elif opt == b"AGGREGATE":
                aggregate = a[i + 1].upper()
                i += 2
            else:
                i += 1
        srcs = [self._zsource(key) for key in keys]

        def agg(x: float, y: float) -> float:
            if aggregate == b"MIN":
                return min(x, y)
            if aggregate == b"MAX":
                return max(x, y)
            r = x + y
            return 0.0 if math.isnan(r) else r

        def weighted(s: float, w: float) -> float:
            r = s * w
            return 0.0 if math.isnan(r) else r

        out: dict = {}
        if op == "union":
            for src, w in zip(srcs, weights):
                for m, s in src.items():
                    ws = weighted(s, w)
                    out[m] = agg(out[m], ws) if m in out else ws
        elif op == "inter":
            if srcs and all(srcs):
                for m, s in srcs[0].items():
                    if all(m in o for o in srcs[1:]):
                        acc = weighted(s, weights[0])
                        for o, w in zip(srcs[1:], weights[1:]):
                            acc = agg(acc, weighted(o[m], w))
                        out[m] = acc
        else:  # diff
            first = srcs[0] if srcs else {}
            out = {m: s for m, s in first.items() if not any(m in o for o in srcs[1:])}
        self._store_zset(dst, out)

    def c_zunionstore(self, a):
        self._zsetop(a, "union")

    def c_zinterstore(self, a):
        self._zsetop(a, "inter")

    def c_zdiffstore(self, a):
        self._zsetop(a, "diff")

    def c_zrangestore(self, a):
        dst, src, lo, hi = a[1], a[2], a[3], a[4]
        opts = [x.upper() for x in a[5:]]
        k = self._get(src, TYPE_ZSET)
        items = self._ranked(k) if k is not None else []
        rev = b"REV" in opts
        offset, limit = 0, -1
        if b"LIMIT" in opts:
            j = opts.index(b"LIMIT")
            offset, limit = _ll(a[5 + j + 1]), _ll(a[5 + j + 2])
        if b"BYSCORE" in opts:
            if rev:
                lo, hi = hi, lo
            inside = _score_range(lo, hi)
            chosen = [(m, s) for m, s in (items[::-1] if rev else items) if inside(s)]
        elif b"BYLEX" in opts:
            if rev:
                lo, hi = hi, lo
            inside = _lex_range(lo, hi)
            chosen = [(m, s) for m, s in (items[::-1] if rev else items) if inside(m)]
        else:
            seq = items[::-1] if rev else items
            n = len(seq)
            start, end = _lpos(_ll(lo), n), _lpos(_ll(hi), n)
            start = max(start, 0)
            chosen = seq[start : min(end, n - 1) + 1] if start <= end and start < n else []
        if b"BYSCORE" in opts or b"BYLEX" in opts:
            chosen = chosen[offset:] if offset >= 0 else []
            if limit >= 0:
                chosen = chosen[:limit]
        self._store_zset(dst, dict(chosen))

    # ==== SORT ... STORE (propagated verbatim; a SORT without STORE writes nothing) ==========
    def _by_pattern(self, pattern: bytes, element: bytes) -> bytes | None:
        """lookupKeyByPattern() in sort.c: ``#`` is the element itself; otherwise the first
        ``*`` is replaced by the element, and ``key->field`` reads a hash field.  The pattern
        is read as a C string where sort.c uses strchr/strstr (up to a NUL byte)."""
        text = pattern.split(b"\0", 1)[0]
        if text == b"#":
            return element
        star = text.find(b"*")
        if star < 0:
            return None
        arrow = text.find(b"->", star + 1)
        field = pattern[arrow + 2:] if arrow >= 0 and arrow + 2 < len(text) else None
        end = len(pattern) - (len(field) + 2 if field is not None else 0)
        k = self.keys.get(pattern[:star] + element + pattern[star + 1 : end])
        if k is None:
            return None
        if field is not None:
            return k.value.get(field) if k.type == TYPE_HASH else None
        return bytes(k.value) if k.type == TYPE_STRING else None

    def c_sort(self, a):
        """sortCommandGeneric() in sort.c, for the STORE form."""
        desc = alpha = dontsort = False
        limit_start, limit_count = 0, -1
        sortby = store = None
        gets: list[bytes] = []
        i = 2
        while i < len(a):
            opt = a[i].upper()
            if opt in (b"ASC", b"DESC"):
                desc = opt == b"DESC"
            elif opt == b"ALPHA":
                alpha = True
            elif opt == b"LIMIT":
                limit_start, limit_count = _ll(a[i + 1]), _ll(a[i + 2])
                i += 2
            elif opt == b"STORE":
                store = a[i + 1]
                i += 1
            elif opt == b"BY":
                sortby = a[i + 1]
                dontsort = b"*" not in sortby.split(b"\0", 1)[0]  # BY nosort
                i += 1
            elif opt == b"GET":
                gets.append(a[i + 1])
                i += 1
            else:
                raise _CmdError(f"syntax error at {a[i][:40]!r}")
            i += 1
        if store is None:
            return
        k = self.keys.get(a[1])
        if k is None:
            elements: list[bytes] = []
        elif k.type == TYPE_LIST or k.type == TYPE_SET:
            elements = list(k.value)
        elif k.type == TYPE_ZSET:
            elements = [m for m, _ in self._ranked(k)]
            k.enc = "skiplist"  # sort.c converts a sorted set it sorts, for good
        else:
            raise _CmdError(f"WRONGTYPE: SORT of a {k.type}")
        if dontsort and k is not None and k.type == TYPE_SET:
            # a set has no order of its own: with STORE the server sorts it as ALPHA
            dontsort, alpha, sortby = False, True, None
        n = len(elements)
        start = max(limit_start, 0)
        end = n - 1 if limit_count < 0 else start + limit_count - 1
        if start >= n:
            start, end = n - 1, n - 2
        end = min(end, n - 1)
        if dontsort:
            if desc:  # the natural order (list order, zset rank) read from the other end
                elements.reverse()
        elif alpha:
            if sortby is None:
                elements.sort(reverse=desc)
            else:  # keys missing under the pattern sort first
                weights = {e: self._by_pattern(sortby, e) for e in elements}
                elements.sort(key=lambda e: (weights[e] is not None, weights[e] or b""),
                              reverse=desc)
        else:  # numeric: equal scores fall back to the elements' bytes
            scores = {}
            for e in elements:
                byval = e if sortby is None else self._by_pattern(sortby, e)
                scores[e] = 0.0 if byval is None else _strtod(byval)
            elements.sort(key=lambda e: (scores[e], e), reverse=desc)
        out: list[bytes] = []
        for e in elements[start : end + 1] if end >= start else ():
            if not gets:
                out.append(e)
            for pattern in gets:
                v = self._by_pattern(pattern, e)
                out.append(b"" if v is None else v)
        self.keys.pop(store, None)
        if out:
            self.keys[store] = _Key(TYPE_LIST, out)

    # ==== geo: searches that store (GEOADD reaches the AOF as ZADD) ===========================
    def _geo_store(self, a, src: bytes, shape_args: int, store: bytes | None, storedist: bool,
                   options: list[bytes], from_member: bytes | None,
                   center: tuple[float, float] | None) -> None:
        """georadiusGeneric() in geo.c: parse the options from ``options``, search, store."""
        k = self._get(src, TYPE_ZSET)
        radius = width = height = None
        conversion = 1.0
        sort = None
        count = 0
        any_ = False
        i = 0
        while i < len(options):
            opt = options[i].upper()
            if opt in (b"ASC", b"DESC"):
                sort = opt
            elif opt == b"ANY":
                any_ = True
            elif opt == b"COUNT":
                count = _ll(options[i + 1])
                i += 1
            elif opt in (b"STORE", b"STOREDIST") and shape_args:  # GEORADIUS: the last wins
                store, storedist = options[i + 1], opt == b"STOREDIST"
                i += 1
            elif opt == b"STOREDIST":  # GEOSEARCHSTORE: a flag
                storedist = True
            elif opt == b"FROMMEMBER":
                from_member = options[i + 1]
                i += 1
            elif opt == b"FROMLONLAT":
                center = (_float(options[i + 1]), _float(options[i + 2]))
                i += 2
            elif opt == b"BYRADIUS":
                radius, conversion = _float(options[i + 1]), geo.UNITS[options[i + 2].lower()]
                i += 2
            elif opt == b"BYBOX":
                width, height = _float(options[i + 1]), _float(options[i + 2])
                conversion = geo.UNITS[options[i + 3].lower()]
                i += 3
            elif opt not in (b"WITHDIST", b"WITHHASH", b"WITHCOORD"):
                raise _CmdError(f"syntax error at {options[i][:40]!r}")
            i += 1
        if shape_args:  # GEORADIUS / GEORADIUSBYMEMBER: radius and unit are positional
            radius = _float(a[shape_args])
            conversion = geo.UNITS[a[shape_args + 1].lower()]
        if store is None:
            return  # a read-only search changes nothing
        if k is None:
            self.keys.pop(store, None)
            return
        if from_member is not None:
            score = k.value.get(from_member)
            center = None if score is None else geo.decode_score(score)
            if center is None:
                raise _CmdError("could not decode requested zset member")
        shape = geo.GeoShape(center[0], center[1], conversion, radius,
                             width or 0.0, height or 0.0)
        if count and sort is None and not any_:
            sort = b"ASC"  # the nearest COUNT members
        found = geo.search(self._ranked(k), shape, count if any_ else 0,
                           legacy=not self._compat7)
        if sort is not None:  # qsort by distance; equal distances keep their scan order here
            found.sort(key=itemgetter(2), reverse=sort == b"DESC")
        if count:
            found = found[:count]
        self._store_zset(store, {m: (d / conversion if storedist else s) for m, s, d in found})

    def c_georadius(self, a):
        self._geo_store(a, a[1], 4, None, False, a[6:], None, (_float(a[2]), _float(a[3])))

    def c_georadiusbymember(self, a):
        self._geo_store(a, a[1], 3, None, False, a[5:], a[2], None)

    def c_geosearchstore(self, a):
        self._geo_store(a, a[2], 0, a[1], False, a[3:], None, None)

    # ==== hashes =============================================================================
    def _hash(self, key: bytes, create: bool) -> _Key | None:
        k = self._get(key, TYPE_HASH)
        if k is None and create:
            k = self.keys[key] = _Key(TYPE_HASH, {}, "listpack")
        return k

    def _hash_try_convert(self, k: _Key, args: list[bytes], pairs: bool = True) -> None:
        enc = k.enc
        if enc != "listpack" and enc != "listpackex":
            return
        p = self._profile
        if pairs and self._compat7 and len(args) // 2 > p.hash_max_listpack_entries:
            k.enc = "hashtable"
            return
        if args and max(map(len, args)) > p.hash_max_listpack_value:
            k.enc = "hashtable"

    def _hset(self, k: _Key, field: bytes, value: bytes) -> None:
        v = k.value
        v[field] = value
        if k.fttl:
            k.fttl.pop(field, None)
        enc = k.enc
        if (enc == "listpack" or enc == "listpackex") and \
                len(v) > self.profile.hash_max_listpack_entries:
            k.enc = "hashtable"

    def c_hset(self, a):
        if len(a) < 4 or len(a) % 2:
            raise _CmdError("wrong number of arguments")
        k = self.keys.get(a[1])
        if k is None or k.type != TYPE_HASH:
            k = self._hash(a[1], True)
        if len(a) == 4 and not k.fttl:  # one field: _hash_try_convert and _hset, inlined
            enc = k.enc
            v = k.value
            if enc == "hashtable":
                v[a[2]] = a[3]
                return
            if enc == "listpack":
                p = self._profile
                entries, value = p.hash_max_listpack_entries, p.hash_max_listpack_value
                if self._compat7 and 1 > entries or len(a[2]) > value or len(a[3]) > value:
                    k.enc = "hashtable"
                v[a[2]] = a[3]
                if len(v) > entries:
                    k.enc = "hashtable"
                return
        self._hash_try_convert(k, a[2:])
        for i in range(2, len(a), 2):
            self._hset(k, a[i], a[i + 1])

    def c_hsetnx(self, a):
        k = self._hash(a[1], True)
        if a[2] in k.value:
            return
        self._hash_try_convert(k, a[2:4])
        self._hset(k, a[2], a[3])

    def c_hdel(self, a):
        k = self._hash(a[1], False)
        if k is None:
            return
        for f in a[2:]:
            k.value.pop(f, None)
            if k.fttl:
                k.fttl.pop(f, None)
        self._delete_if_empty(a[1], k)

    def c_hgetdel(self, a):
        # HGETDEL key FIELDS n f... (Redis 8.0): propagated as HDEL, but accept it as well
        i = [x.upper() for x in a].index(b"FIELDS")
        self.c_hdel([b"HDEL", a[1]] + a[i + 2:])

    def c_hincrby(self, a):
        k = self._hash(a[1], True)
        cur = k.value.get(a[2])
        v = (0 if cur is None else _ll(cur)) + _ll(a[3])
        if not I64_MIN <= v <= I64_MAX:
            raise _CmdError("increment or decrement would overflow")
        if self._compat7:  # Redis 7.0 made hashTypeSet() check lengths; 6.2 keeps a ziplist
            self._hash_try_convert(k, [a[2]], pairs=False)
        keep = k.fttl.get(a[2]) if k.fttl else None
        self._hset(k, a[2], _fmt_ll(v))
        if keep is not None:
            k.fttl[a[2]] = keep

    def c_hincrbyfloat(self, a):
        k = self._hash(a[1], True)
        cur = k.value.get(a[2])
        v = _fmt_long_double((0.0 if cur is None else _float(cur)) + _float(a[3]))
        if self._compat7:  # as HINCRBY
            self._hash_try_convert(k, [a[2]], pairs=False)
        keep = k.fttl.get(a[2]) if k.fttl else None
        self._hset(k, a[2], v)
        if keep is not None:
            k.fttl[a[2]] = keep

    def _fields(self, a, start: int) -> tuple[list[bytes], int]:
        # ... FIELDS numfields field ...
        if a[start].upper() != b"FIELDS":
            raise _CmdError("missing FIELDS")
        n = _ll(a[start + 1])
        fields = a[start + 2 : start + 2 + n]
        if len(fields) != n:
            raise _CmdError("wrong number of fields")
        return fields, start + 2 + n

    def _set_field_ttl(self, k: _Key, field: bytes, when: int) -> None:
        p = self.profile
        if k.fttl is None:
            k.fttl = {}
        k.fttl[field] = when
        if k.enc == "listpack":
            k.enc = "hashtable" if p.is_valkey else "listpackex"

    def _hexpire(self, a, unit: int, absolute: bool):
        k = self._hash(a[1], False)
        when = _ll(a[2]) * unit
        if not absolute:
            when += self.now()
        i = 3
        cond = None
        if a[i].upper() in (b"NX", b"XX", b"GT", b"LT"):
            cond = a[i].upper()
            i += 1
        fields, _ = self._fields(a, i)
        if k is None:
            return
        for f in fields:
            if f not in k.value:
                continue
            cur = k.fttl.get(f) if k.fttl else None
            if cond == b"NX" and cur is not None or cond == b"XX" and cur is None:
                continue
            if cond == b"GT" and (cur is None or when <= cur):
                continue
            if cond == b"LT" and cur is not None and when >= cur:
                continue
            self._set_field_ttl(k, f, when)

    def c_hexpire(self, a):
        self._hexpire(a, 1000, False)

    def c_hpexpire(self, a):
        self._hexpire(a, 1, False)

    def c_hexpireat(self, a):
        self._hexpire(a, 1000, True)

    def c_hpexpireat(self, a):
        self._hexpire(a, 1, True)

    def c_hpersist(self, a):
        k = self._hash(a[1], False)
        fields, _ = self._fields(a, 2)
        if k is None or not k.fttl:
            return
        for f in fields:
            k.fttl.pop(f, None)

    def c_hsetex(self, a):
        # Redis 8.0: HSETEX key [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] FIELDS n f v ...
        # Valkey 9.0: HSETEX key [NX|XX] [FNX|FXX] [EX|PX|EXAT|PXAT|KEEPTTL] FIELDS n f v ...
        key = a[1]
        i = 2
        fnx = fxx = nx = xx = keepttl = False
        when = None
        while a[i].upper() != b"FIELDS":
            opt = a[i].upper()
            if opt == b"FNX":
                fnx = True
            elif opt == b"FXX":
                fxx = True
            elif opt == b"NX":
                nx = True
            elif opt == b"XX":
                xx = True
            elif opt == b"KEEPTTL":
                keepttl = True
            elif opt in (b"EX", b"PX", b"EXAT", b"PXAT"):
                n = _ll(a[i + 1])
                i += 1
                when = {b"EX": self.now() + n * 1000, b"PX": self.now() + n,
                        b"EXAT": n * 1000, b"PXAT": n}[opt]
            else:
                raise _CmdError(f"unknown option {opt!r}")
            i += 1
        n = _ll(a[i + 1])
        flat = a[i + 2 : i + 2 + 2 * n]
        if len(flat) != 2 * n:
            raise _CmdError("wrong number of field/value pairs")
        k = self._hash(key, False)
        if nx and k is not None or xx and k is None:
            return
        fields = flat[0::2]
        if k is not None:
            if fnx and any(f in k.value for f in fields):
                return
            if fxx and not all(f in k.value for f in fields):
                return
        elif fxx:
            return
        k = self._hash(key, True)
        self._hash_try_convert(k, flat)
        for f, v in zip(flat[0::2], flat[1::2]):
            keep = k.fttl.get(f) if (keepttl and k.fttl) else None
            self._hset(k, f, v)
            if keep is not None:
                k.fttl[f] = keep
            elif when is not None:
                self._set_field_ttl(k, f, when)

    def c_hgetex(self, a):
        # HGETEX key [EX|PX|EXAT|PXAT n | PERSIST] FIELDS n f...: propagated as HPEXPIREAT/HPERSIST
        key = a[1]
        i = 2
        when = None
        persist = False
        while a[i].upper() != b"FIELDS":
            opt = a[i].upper()
            if opt == b"PERSIST":
                persist = True
            else:
                n = _ll(a[i + 1])
                i += 1
                when = {b"EX": self.now() + n * 1000, b"PX": self.now() + n,
                        b"EXAT": n * 1000, b"PXAT": n}[opt]
            i += 1
        fields, _ = self._fields(a, i)
        k = self._hash(key, False)
        if k is None:
            return
        for f in fields:
            if f not in k.value:
                continue
            if persist and k.fttl:
                k.fttl.pop(f, None)
            elif when is not None:
                self._set_field_ttl(k, f, when)

    # ==== streams ============================================================================
    def _stream(self, key: bytes, create: bool) -> _Key | None:
        k = self._get(key, TYPE_STREAM)
        if k is None and create:
            k = self.keys[key] = _Key(TYPE_STREAM, _Stream(), "stream")
        return k

    # Redis 8.2 deletion policies (XADD/XTRIM options, XDELEX, XACKDEL): KEEPREF deletes
    # entries and leaves the consumer groups' PELs alone (what XDEL always did), DELREF also
    # removes the entries from every PEL, ACKED deletes only entries that every group has
    # been delivered and has acknowledged.
    _POLICIES = (b"KEEPREF", b"DELREF", b"ACKED")

    @staticmethod
    def _referenced(s: _Stream, sid: tuple) -> bool:
        return any(sid > g.last_id or sid in g.pel for g in s.groups.values())

    @staticmethod
    def _unreference(s: _Stream, sid: tuple) -> None:
        for g in s.groups.values():
            nack = g.pel.pop(sid, None)
            if nack is not None:
                c = g.consumers.get(nack[0])
                if c is not None:
                    c[2].discard(sid)

    def _delete_entries(self, s: _Stream, ids: Iterable[tuple], policy: bytes) -> list[tuple]:
        """Delete the entries ``ids`` under ``policy``; the IDs deleted.  DELREF also clears
        the references of an ID whose entry is already gone (a KEEPREF deletion leaves them)."""
        deleted = []
        for sid in ids:
            if policy == b"DELREF":
                self._unreference(s, sid)
            if sid not in s.entries or (policy == b"ACKED" and self._referenced(s, sid)):
                continue
            del s.entries[sid]
            deleted.append(sid)
        if deleted:
            s.first_id = next(iter(s.entries)) if s.entries else (0, 0)
        return deleted

    def _xdel(self, s: _Stream, ids: list[tuple], policy: bytes) -> None:
        """XDEL and its 8.2 variants also move the stream's max-deleted-entry-id."""
        deleted = self._delete_entries(s, ids, policy)
        if deleted:
            s.max_deleted = max(s.max_deleted, *deleted)

    def _trim(self, s: _Stream, strategy: bytes, threshold: bytes,
              policy: bytes = b"KEEPREF") -> None:
        # exact trims only: servers propagate "~" trims rewritten to the exact result
        if strategy == b"MAXLEN":
            n = len(s.entries) - _ll(threshold)
            candidates = list(s.entries)[:n] if n > 0 else []
        else:
            minid = _sid(threshold)
            candidates = [i for i in s.entries if i < minid]
        self._delete_entries(s, candidates, policy)
        s.first_id = next(iter(s.entries)) if s.entries else (0, 0)

    def _trim_args(self, a, i):
        """Parse [MAXLEN|MINID [=|~] threshold [LIMIT n]] at a[i]; (strategy, threshold, next)."""
        strategy = a[i].upper()
        i += 1
        if a[i] in (b"=", b"~"):
            i += 1
        threshold = a[i]
        i += 1
        if i < len(a) and a[i].upper() == b"LIMIT":
            i += 2
        return strategy, threshold, i

    def c_xadd(self, a):
        n = len(a)
        ms, dash, seq = a[2].partition(b"-")
        if n & 1 and n > 3 and ms.isdigit() and len(ms) < 20 and \
                (len(seq) < 20 and seq.isdigit() or not dash):
            # XADD key <ms>[-<seq>] field value ...: no option starts with a digit; fewer than
            # 20 digits: both parts are at most U64_MAX
            k = self.keys.get(a[1])
            if k is not None and k.type == TYPE_STREAM:
                new = (int(ms), int(seq) if dash else 0)  # _sid(a[2], 0)
                s: _Stream = k.value
                if new > s.last_id:  # else the general path raises
                    entries = s.entries
                    entries[new] = [(a[3], a[4])] if n == 5 else list(zip(a[3::2], a[4::2]))
                    s.last_id = new
                    s.added += 1
                    if len(entries) == 1:
                        s.first_id = new
                    return
        key = a[1]
        i = 2
        nomk = False
        trim = None
        policy = b"KEEPREF"
        while True:
            opt = a[i].upper()
            if opt == b"NOMKSTREAM":
                nomk = True
                i += 1
            elif opt in (b"MAXLEN", b"MINID"):
                strategy, threshold, i = self._trim_args(a, i)
                trim = (strategy, threshold)
            elif opt in self._POLICIES:  # Redis 8.2
                policy = opt
                i += 1
            else:
                break
        idarg = a[i]
        fields = a[i + 1 :]
        if not fields or len(fields) % 2:
            raise _CmdError("wrong number of arguments")
        k = self._stream(key, False)
        if k is None:
            if nomk:
                return
            k = self._stream(key, True)
        s: _Stream = k.value
        if idarg == b"*":
            ms = max(self.now(), s.last_id[0])
            new = (ms, s.last_id[1] + 1) if ms == s.last_id[0] else (ms, 0)
        elif idarg.endswith(b"-*"):
            ms = int(idarg[:-2])
            new = (ms, s.last_id[1] + 1) if ms == s.last_id[0] else (ms, 0)
        else:
            new = _sid(idarg, 0)
        if new <= s.last_id and not (s.last_id == (0, 0) and new > (0, 0) and not s.entries):
            if not (new > s.last_id):
                raise _CmdError("the ID specified in XADD is equal or smaller than the target "
                                "stream top item")
        if new == (0, 0):
            raise _CmdError("the ID specified in XADD must be greater than 0-0")
        s.entries[new] = list(zip(fields[0::2], fields[1::2]))
        s.last_id = new
        s.added += 1
        if len(s.entries) == 1:
            s.first_id = new
        if trim is not None:
            self._trim(s, *trim, policy)

    def c_xdel(self, a):
        k = self._stream(a[1], False)
        if k is None:
            return
        self._xdel(k.value, [_sid(raw) for raw in a[2:]], b"KEEPREF")

    def c_xtrim(self, a):
        k = self._stream(a[1], False)
        if k is None:
            return
        strategy, threshold, i = self._trim_args(a, 2)
        policy = b"KEEPREF"
        for opt in a[i:]:
            if opt.upper() in self._POLICIES:  # Redis 8.2
                policy = opt.upper()
        self._trim(k.value, strategy, threshold, policy)

    def _ids_option(self, a, i: int) -> tuple[bytes, list[tuple]]:
        """``[KEEPREF|DELREF|ACKED] IDS numids id ...`` at a[i]: (policy, ids)."""
        policy = b"KEEPREF"
        if a[i].upper() in self._POLICIES:
            policy = a[i].upper()
            i += 1
        if a[i].upper() != b"IDS":
            raise _CmdError("syntax error: IDS expected")
        n = _ll(a[i + 1])
        return policy, [_sid(x) for x in a[i + 2 : i + 2 + n]]

    def c_xdelex(self, a):
        """XDELEX key [KEEPREF|DELREF|ACKED] IDS numids id ... (Redis 8.2)"""
        k = self._stream(a[1], False)
        if k is None:
            return
        policy, ids = self._ids_option(a, 2)
        self._xdel(k.value, ids, policy)

    def c_xsetid(self, a):
        k = self._stream(a[1], False)
        if k is None:
            raise _CmdError("no such key")
        s: _Stream = k.value
        s.last_id = _sid(a[2])
        i = 3
        while i < len(a):
            opt = a[i].upper()
            if opt == b"ENTRIESADDED":
                s.added = _ll(a[i + 1])
            elif opt == b"MAXDELETEDID":
                s.max_deleted = _sid(a[i + 1])
            i += 2

    def _group(self, key: bytes, name: bytes) -> tuple[_Stream, _Group] | None:
        k = self._stream(key, False)
        if k is None:
            return None
        g = k.value.groups.get(name)
        return None if g is None else (k.value, g)

    def c_xgroup__create(self, a):
        key, name, idarg = a[2], a[3], a[4]
        opts = [x.upper() for x in a[5:]]
        k = self._stream(key, False)
        if k is None:
            if b"MKSTREAM" not in opts:
                raise _CmdError("no such key (XGROUP CREATE without MKSTREAM)")
            k = self._stream(key, True)
        s: _Stream = k.value
        if name in s.groups:
            return
        entries_read = None  # SCG_INVALID_ENTRIES_READ unless ENTRIESREAD is given (7.0+)
        if idarg == b"$":
            last = s.last_id
        else:
            last = _sid(idarg)
        if b"ENTRIESREAD" in opts:
            n = _ll(a[5 + opts.index(b"ENTRIESREAD") + 1])
            entries_read = None if n < 0 else n
        s.groups[name] = _Group(name, last, entries_read)

    def c_xgroup__setid(self, a):
        found = self._group(a[2], a[3])
        if found is None:
            return
        s, g = found
        g.last_id = s.last_id if a[4] == b"$" else _sid(a[4])
        opts = [x.upper() for x in a[5:]]
        if b"ENTRIESREAD" in opts:
            n = _ll(a[5 + opts.index(b"ENTRIESREAD") + 1])
            g.entries_read = None if n < 0 else n
        else:
            g.entries_read = None

    def c_xgroup__destroy(self, a):
        k = self._stream(a[2], False)
        if k is not None:
            k.value.groups.pop(a[3], None)

    def _consumer(self, g: _Group, name: bytes, create: bool = True):
        c = g.consumers.get(name)
        if c is None and create:
            c = g.consumers[name] = [self.now(), -1, set()]
        return c

    def c_xgroup__createconsumer(self, a):
        found = self._group(a[2], a[3])
        if found is not None:
            self._consumer(found[1], a[4])

    def c_xgroup__delconsumer(self, a):
        found = self._group(a[2], a[3])
        if found is None:
            return
        g = found[1]
        c = g.consumers.pop(a[4], None)
        if c is not None:
            for i in c[2]:
                g.pel.pop(i, None)

    def c_xclaim(self, a):
        key, group, consumer = a[1], a[2], a[3]
        found = self._group(key, group)
        if found is None:
            raise _CmdError("NOGROUP")
        s, g = found
        _ll(a[4])  # min-idle-time
        ids = []
        i = 5
        while i < len(a):
            try:
                ids.append(_sid(a[i]))
            except _CmdError:
                break
            i += 1
        when = retry = lastid = None
        force = justid = False
        idle = None
        while i < len(a):
            opt = a[i].upper()
            if opt == b"IDLE":
                idle = _ll(a[i + 1])
                i += 1
            elif opt == b"TIME":
                when = _ll(a[i + 1])
                i += 1
            elif opt == b"RETRYCOUNT":
                retry = _ll(a[i + 1])
                i += 1
            elif opt == b"LASTID":
                lastid = _sid(a[i + 1])
                i += 1
            elif opt == b"FORCE":
                force = True
            elif opt == b"JUSTID":
                justid = True
            i += 1
        if when is not None:
            self._tick(when)
        now = self.now()
        if idle is not None:
            when = now - idle
        if when is None or when < 0 or when > now:
            when = now  # xclaimCommand(): a bogus delivery time becomes "now"
        # The consumer's seen/active times are the server's wall clock when it ran the command;
        # the closest the AOF records is the delivery time it propagated.
        stamp = when
        if lastid is not None and lastid > g.last_id:
            g.last_id = lastid
        c = None
        for sid in ids:
            nack = g.pel.get(sid)
            exists = sid in s.entries
            if nack is None:
                if not force or (not exists and self.profile.redis_compat >= (7, 0, 0)):
                    continue
                nack = g.pel[sid] = [None, when, 0]
            elif not exists and self.profile.redis_compat >= (7, 0, 0):
                # the entry was deleted: XCLAIM drops it from the PEL (7.0+)
                old = g.consumers.get(nack[0])
                if old is not None:
                    old[2].discard(sid)
                del g.pel[sid]
                continue
            if c is None:
                c = self._consumer(g, consumer)
            if nack[0] is not None and nack[0] != consumer:
                old = g.consumers.get(nack[0])
                if old is not None:
                    old[2].discard(sid)
            nack[1] = when
            if retry is not None:
                nack[2] = retry
            elif not justid:
                nack[2] += 1
            nack[0] = consumer
            c[2].add(sid)
            c[1] = stamp
            c[0] = stamp
        if c is None and ids:
            c = g.consumers.get(consumer)
            if c is not None:
                c[0] = stamp

    def c_xautoclaim(self, a):
        raise _CmdError("XAUTOCLAIM is propagated as XCLAIM by every server; a raw XAUTOCLAIM "
                        "depends on the server clock and cannot be replayed")

    @staticmethod
    def _ack(g: _Group, sid: tuple) -> None:
        nack = g.pel.pop(sid, None)
        if nack is not None:
            c = g.consumers.get(nack[0])
            if c is not None:
                c[2].discard(sid)

    def c_xack(self, a):
        found = self._group(a[1], a[2])
        if found is None:
            return
        s, g = found
        for raw in a[3:]:
            self._ack(g, _sid(raw))

    def c_xackdel(self, a):
        """XACKDEL key group [KEEPREF|DELREF|ACKED] IDS numids id ... (Redis 8.2): each ID
        pending in the group is acknowledged, then its entry deleted under the policy; IDs
        the group has not pending are left alone."""
        found = self._group(a[1], a[2])
        if found is None:
            raise _CmdError("NOGROUP")
        s, g = found
        policy, ids = self._ids_option(a, 3)
        acked = []
        for sid in ids:
            if sid in g.pel:
                self._ack(g, sid)
                acked.append(sid)
        self._xdel(s, acked, policy)

    # ==== functions ==========================================================================
    def _function_load(self, code: bytes, replace: bool) -> None:
        first = code.split(b"\n", 1)[0]
        name = None
        for word in first.split()[1:]:
            if word.startswith(b"name="):
                name = word[5:]
        if not first.startswith(b"#!") or name is None:
            raise _CmdError("library code has no '#!<engine> name=<library>' header")
        if name in self.functions and not replace:
            raise _CmdError(f"library {name!r} already exists")
        self.functions[name] = code

    def c_function__load(self, a):
        replace = len(a) > 3 and a[2].upper() == b"REPLACE"
        self._function_load(a[-1], replace)

    def c_function__delete(self, a):
        self.functions.pop(a[2], None)

    def c_function__flush(self, a):
        self.functions.clear()

    def c_function__restore(self, a):
        policy = a[3].upper() if len(a) > 3 else b"APPEND"
        codes = decode_function_payload(a[2])
        if policy == b"FLUSH":
            self.functions.clear()
        for code in codes:
            self._function_load(code, replace=policy == b"REPLACE")

    # ==== output =============================================================================
    def iter_entries(self) -> Iterator[Entry]:
        """The keyspace as model entries: databases in order, keys in insertion order."""
        for db in sorted(self.dbs):
            for key, k in self.dbs[db].items():
                yield _to_entry(db, key, k, self.profile)

    def iter_functions(self) -> Iterator[Function]:
        for code in self.functions.values():
            yield Function(code)


# -- ranges -----------------------------------------------------------------------------------
def _score_bound(b: bytes) -> tuple[float, bool]:
    if b.startswith(b"("):
        return _float(b[1:]), True
    return _float(b), False


def _score_range(lo: bytes, hi: bytes) -> Callable[[float], bool]:
    mn, mnex = _score_bound(lo)
    mx, mxex = _score_bound(hi)

    def inside(s: float) -> bool:
        return (s > mn if mnex else s >= mn) and (s < mx if mxex else s <= mx)
    return inside


def _lex_range(lo: bytes, hi: bytes) -> Callable[[bytes], bool]:
    def bound(b: bytes, low: bool):
        if b == b"-":
            return lambda m: True
        if b == b"+":
            return lambda m: True if low else True
        ex = b[:1] == b"("
        if b[:1] not in (b"(", b"["):
            raise _CmdError("min or max not valid string range item")
        v = b[1:]
        if low:
            return (lambda m: m > v) if ex else (lambda m: m >= v)
        return (lambda m: m < v) if ex else (lambda m: m <= v)
    if lo == b"+" or hi == b"-":
        return lambda m: False
    f, g = bound(lo, True), bound(hi, False)
    return lambda m: f(m) and g(m)


# -- model conversion ------------------------------------------------------------------------
_LIST_ENC = {14: "quicklist", 18: "quicklist", 10: "ziplist", 1: "linkedlist"}
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
        value = sorted(v.items(), key=lambda ms: (ms[1], ms[0]))
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


# -- DUMP payloads ---------------------------------------------------------------------------
def decode_dump_payload(key: bytes, payload: bytes) -> Entry:
    """The key a DUMP payload (type byte + value + 2-byte RDB version + CRC64) holds.

    :raises FormatError: the payload is damaged or of an unsupported version.
    """
    from ..format.primitives import encode_rdb_string
    from ..rdb.reader import open_rdb

    if len(payload) < 11:
        raise _CmdError("DUMP payload version or checksum are wrong (too short)")
    version = int.from_bytes(payload[-10:-8], "little")
    header = b"VALKEY%03d" % version if version >= 80 else b"REDIS%04d" % version
    body = header + payload[:1] + encode_rdb_string(key, compress=False) + payload[1:-10] + b"\xff"
    with open_rdb(body + bytes(8), verify_checksum=False) as rdb:
        for e in rdb.iter_entries():
            return e
    raise _CmdError("DUMP payload holds no value")


def decode_function_payload(payload: bytes) -> list[bytes]:
    """The library codes of a FUNCTION DUMP payload (FUNCTION2 records + version + CRC64)."""
    from ..rdb.reader import open_rdb

    version = int.from_bytes(payload[-10:-8], "little")
    header = b"VALKEY%03d" % version if version >= 80 else b"REDIS%04d" % version
    with open_rdb(header + payload[:-10] + b"\xff" + bytes(8), verify_checksum=False) as rdb:
        list(rdb.iter_records())
        return [f.code for f in rdb.functions]


# -- entry points ------------------------------------------------------------------------------
def profile_for(reader: AofReader, default: ServerProfile | None = None) -> ServerProfile:
    """The profile named by the AOF's RDB preamble (after reading it), else ``default``, else
    a guess from the layout (multi-part: Redis 7.0+ rules; Redis 8.x manifest fields: 8.0)."""
    if reader.server_version:
        try:
            return ServerProfile.parse(f"{reader.server_name}-{reader.server_version}")
        except ValueError:
            pass
    if default is not None:
        return default
    if reader.manifest is not None:
        if any(ln.start_offset is not None for ln in reader.manifest.lines):
            return ServerProfile.for_version("redis", (8, 0, 0))
        return ServerProfile.for_version("redis", (7, 4, 0))
    return ServerProfile.for_version("redis", (7, 4, 0))


def _reporting(records: Iterator, progress: Callable[[int], None]) -> Iterator:
    for rec in records:
        yield rec
        if rec.__class__ is CommandBatch:
            progress(rec.base + rec.end(len(rec.cmds) - 1))


def replay(reader: AofReader, *, profile: ServerProfile | None = None, skip_unknown: bool = False,
           now_ms: int | None = None, upto_timestamp: int | None = None,
           upto_offset: int | None = None,
           progress: Callable[[int], None] | None = None) -> Replayer:
    """Replay every record of ``reader`` (see :class:`Replayer`) and return the engine.

    The profile: the one named by an RDB preamble wins over ``profile`` (the file says which
    server wrote it); without either, :func:`profile_for` guesses.  ``progress`` is called with
    the offset reached (over the loaded parts in load order) after each batch of commands.
    """
    engine = Replayer(profile, skip_unknown=skip_unknown, now_ms=now_ms)
    records = reader.iter_raw(upto_timestamp=upto_timestamp, upto_offset=upto_offset)
    if progress is not None:
        records = _reporting(records, progress)
    # The replay allocates millions of long-lived containers (argument lists, keys) and no
    # garbage cycles: the cyclic collector would scan them again and again (a third of the
    # replay time on a 200 MB AOF).  It is paused for the replay and restored after.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        first = []
        for rec in records:
            first.append(rec)
            if rec.__class__ is CommandBatch:
                break
        engine.profile = profile_for(reader, profile)
        engine.feed(first)
        engine.feed(records)
    finally:
        if gc_was_enabled:
            gc.enable()
    return engine
