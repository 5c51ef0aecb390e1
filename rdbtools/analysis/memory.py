"""Per-key memory estimates: what ``MEMORY USAGE key SAMPLES 0`` would answer once a server has
loaded the file.

Mirrors memoryCommand() and objectComputeSize() in src/object.c of each server family, after
predicting the in-memory encoding the way rdbLoadObject() (src/rdb.c) and tryObjectEncoding()
choose it with that version's thresholds (FORMATS.md §8, §9).  Everything version-specific lives
in one table, :data:`PROFILES`; the numbers in it were calibrated against the real servers of
tests/servers.py (benchmarks/memory_accuracy.py measures the remaining error, docs/memory.md
publishes it).

Returns data (:class:`KeyMemory` records), never prints.
"""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Iterable, Iterator

from ..format import constants as C
from ..rdb import _accel
from ..rdb._accel import decode_listpack, decode_ziplist
from ..errors import ChecksumError, FormatError
from ..model import (Entry, RawValue, Stream, TYPE_ARRAY, TYPE_HASH, TYPE_LIST, TYPE_SET,
                     TYPE_STREAM, TYPE_STRING, TYPE_ZSET)
from ..rdb.encoders import array_tag
from ..rdb.targets import DEFAULT_THRESHOLDS as _DEFAULTS, LIST_NODE_BYTES, config_name
from .encoded import (intset_size, jemalloc_size, libc_size, listpack_entry_size, listpack_size,
                      rax_node_count, rax_node_lengths, sds_header, string_to_int, ziplist_size)
from .records import BLOB_TYPES, QUICKLIST_TYPES, STREAM_TYPES, RecordShape, record_shape

__all__ = ["ServerProfile", "PROFILES", "KeyMemory", "MemoryEstimator", "profile_for",
           "profile_from_aux", "estimate_file", "FileEstimates", "raw_types_for", "decode_raw", "DEFAULT_THRESHOLDS", "server_names",
           "normalise_config", "compiled_estimator"]

# -- thresholds (FORMATS.md §9) -------------------------------------------------------------------

# The thresholds the estimate depends on, with their defaults from the one table
# (rdbtools.rdb.targets); a user's overrides may use either spelling of a name.
DEFAULT_THRESHOLDS = {
    name: getattr(_DEFAULTS, name.replace("-", "_"))
    for name in ("hash-max-listpack-entries", "hash-max-listpack-value", "set-max-intset-entries",
                 "set-max-listpack-entries", "set-max-listpack-value", "zset-max-listpack-entries",
                 "zset-max-listpack-value", "list-max-listpack-size")
}
# arrays (Redis 8.8+): sparsearray.h AR_SLICE_SIZE_DEFAULT / AR_SPARSE_KMAX_DEFAULT @8.10.2; the
# loader rebuilds slices with its own config, the file does not record them
DEFAULT_THRESHOLDS.update({"array-slice-size": 4096, "array-sparse-kmax": 10})


def normalise_config(config: dict | None) -> dict[str, int]:
    """Thresholds with the user's overrides (either config name spelling)."""
    out = dict(DEFAULT_THRESHOLDS)
    for k, v in (config or {}).items():
        k = config_name(k)
        if k not in out:
            raise ValueError(f"unknown config {k!r}; known: {', '.join(DEFAULT_THRESHOLDS)}")
        out[k] = int(v)
    return out


# -- the per-version table ------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerProfile:
    """How one server family lays out and accounts memory.

    Accessible attributes: ``name``; ``allocator`` ("jemalloc" = bundled jemalloc, 8-byte quantum;
    "jemalloc16" = distribution jemalloc, 16-byte quantum; "libc" = glibc malloc); ``keyspace``
    ("dictentry": robj + key sds + 24-byte dictEntry, Redis <= 7.4; "kvobj": key, value header
    and expire in one allocation, Redis 8; "embkey": key embedded in the robj, Valkey 8.1+);
    ``ziplist`` (compact encodings are ziplists: Redis <= 6.2); ``exact_blobs`` (ziplist, intset
    and embstr sizes counted without allocator rounding: Redis <= 6.2); ``list_listpack`` and
    ``set_listpack`` (7.2+ encodings); struct sizes; ``fpconv`` (7.2+ shortest double text).
    """

    name: str
    allocator: str = "jemalloc"
    keyspace: str = "dictentry"
    ziplist: bool = False
    exact_blobs: bool = False
    list_listpack: bool = True
    set_listpack: bool = True
    fpconv: bool = True
    dict_struct: int = 56
    dict_entry: int = 24
    quicklist: int = 40
    quicklist_node: int = 40
    stream: int = 80
    stream_cg: int = 40
    stream_consumer: int = 32
    embstr_limit: int = 44
    embed_limit: int = 64         # kvobj / Valkey: embed the string value when the total fits
    embed_counts_expire: bool = True  # Valkey 8: decided before the expire field is added
    embstr_robj: int = 16         # Valkey 9: an embedded value needs no ptr field (8-byte header)
    hash_entry: str = "sds"       # "sds": two sds + dictEntry; "mstr" (7.4: field mstr); "entry" (8.x)
    set_table: str = "dict"       # "dict" | "hashtable" (Valkey 8.1+ open addressing)
    hashtable_struct: int = 72    # sizeof(hashtable) (Valkey 9 adds the safe-iterator list)
    hash_table_meta: int = 0      # hash tables' metadata (Valkey 9: the volatile-field set)
    hash_volatile: int = 0        # per field with a TTL: expire metadata + expiry index (measured mean)
    zset_node: str = "sds"        # "sds": node + separate sds; "embedded": ele inside the node
    zset_extra: int = 0           # zset struct + skiplist header on hashtable servers (measured)
    stream_rax: str = "estimate"  # "estimate": streamRadixTreeMemoryUsage; "alloc": rax node allocations (Valkey 8.1+)
    stream_nack: int = 24
    rax_struct: int = 32          # sizeof(rax) (8.10 adds keyFixedLen)
    rax_fixed_leaves: bool = False  # 8.10: stream ID raxes (keyFixedLen 16) allocate no leaves
    idmp_rax_tracked: bool = False  # 8.10: the IDMP producers rax counts in the stream's alloc_size
    zset_dict_entry: int = 24     # Redis 8: the zset dict stores no values (16-byte entries)
    stream_lp_alloc: bool = True  # listpacks counted by allocation size (7.0+), not lpBytes (6.x)
    hfe_listpack_ex: int = 32     # listpackEx struct allocation (7.4+)
    hash_templates: bool = False  # 8.10: types 29-32 load as template-listpack / template-array
    #: "alloc": every allocation by its allocator size (objectComputeSize, up to 8.2);
    #: "tracked": Redis 8.6 kvobjAllocSize, the kvobj by its allocator size and the value by the
    #: counters each type keeps (listpacks by lpBytes, sds by header + length + 1, dict entries
    #: by struct size, skiplist nodes and quicklist nodes by allocator size);
    #: "requested": Redis 8.10, the same with the kvobj by its requested size too
    accounting: str = "alloc"
    thresholds: dict = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))

    def alloc(self, n: int) -> int:
        cache = _ALLOC_CACHE[self.allocator]
        got = cache.get(n)
        if got is None:
            if self.allocator == "libc":
                got = libc_size(n)
            else:
                got = jemalloc_size(n, 16 if self.allocator == "jemalloc16" else 8)
            if len(cache) < 1 << 16:
                cache[n] = got
        return got


#: allocator -> {requested bytes: usable bytes}: the pure-Python estimates ask for the same few
#: sizes again and again
_ALLOC_CACHE: defaultdict[str, dict[int, int]] = defaultdict(dict)


_R6 = ServerProfile("redis-6.2", ziplist=True, exact_blobs=True, list_listpack=False,
                    set_listpack=False, fpconv=False, dict_struct=96, quicklist_node=32,
                    stream=40, stream_cg=32, stream_consumer=24, stream_lp_alloc=False)
_R70 = ServerProfile("redis-7.0", allocator="jemalloc16", list_listpack=False, set_listpack=False,
                     fpconv=False, stream_consumer=24)
_R72 = ServerProfile("redis-7.2")
_R74 = ServerProfile("redis-7.4", hash_entry="mstr")
_R8 = ServerProfile("redis-8", keyspace="kvobj", hash_entry="entry", stream=112, stream_nack=32,
                  zset_dict_entry=16, hash_volatile=18, hfe_listpack_ex=24)
_V8 = ServerProfile("valkey-8", allocator="libc", keyspace="embkey", set_table="hashtable",
                    embed_counts_expire=False, zset_extra=589, stream_rax="alloc")
_V9 = ServerProfile("valkey-9", allocator="libc", keyspace="embkey", set_table="hashtable",
                    embstr_robj=8, embed_limit=128, embstr_limit=1 << 30, hashtable_struct=80,
                    hash_table_meta=8, hash_volatile=10, zset_node="embedded", zset_extra=542, stream_rax="alloc")

# stream.h @8.6.2: stream 160, streamCG 56, streamConsumer 32, streamNACK 64 bytes
_R86 = replace(_R8, name="redis-8.6", accounting="tracked", stream_rax="alloc",
               stream_lp_alloc=False, hfe_listpack_ex=24, quicklist=48, stream=160,
               stream_cg=56, stream_nack=64,
               zset_dict_entry=24)  # 8.6 dictMemUsage charges every entry as a dictEntry
# 8.10 dictMemUsage charges a no-value dict (sets, zset index, hashes) 16-byte entries;
# streamCG gains pel_nack_tail (64), rax keyFixedLen (40, and no leaf nodes in ID raxes)
_R810 = replace(_R86, name="redis-8.10", accounting="requested", dict_entry=16,
                zset_dict_entry=16, stream_cg=64, rax_struct=40, rax_fixed_leaves=True,
                idmp_rax_tracked=True, hash_templates=True)

PROFILES: dict[str, ServerProfile] = {
    "redis-6.0": replace(_R6, name="redis-6.0"),
    "redis-6.2": _R6,
    "redis-7.0": _R70,
    "redis-7.2": _R72,
    "redis-7.4": _R74,
    "redis-8.0": replace(_R8, name="redis-8.0"),
    "redis-8.2": replace(_R8, name="redis-8.2"),
    "redis-8.6": _R86,
    # no 8.8 tree here: taken as 8.10 (INFERRED), without the 8.10 hash templates
    "redis-8.8": replace(_R810, name="redis-8.8", hash_templates=False),
    "redis-8.10": _R810,
    "valkey-7.2": replace(_R72, name="valkey-7.2"),
    "valkey-8.0": replace(_V8, name="valkey-8.0"),
    "valkey-8.1": replace(_V8, name="valkey-8.1"),
    "valkey-9.0": replace(_V9, name="valkey-9.0"),
    "valkey-9.1": replace(_V9, name="valkey-9.1"),
}


def server_names() -> list[str]:
    return list(PROFILES)


def profile_for(name: str, *, config: dict | None = None, allocator: str | None = None) -> ServerProfile:
    """The profile for ``redis-7.2``, ``valkey-8.1``, ``redis-7.0.15`` ... (nearest known minor)."""
    m = re.fullmatch(r"(redis|valkey)[-_ ]?(\d+)(?:\.(\d+))?(?:\.\d+)?", name.strip().lower())
    if not m:
        raise ValueError(f"unknown server {name!r}; known: {', '.join(PROFILES)}")
    family, major, minor = m.group(1), int(m.group(2)), int(m.group(3) or 0)
    candidates = [(tuple(map(int, k.split("-")[1].split("."))), p) for k, p in PROFILES.items()
                  if k.startswith(family + "-")]
    candidates.sort(key=lambda c: c[0])
    chosen = candidates[0][1]
    for version, p in candidates:
        if version <= (major, minor):
            chosen = p
    changes: dict = {"thresholds": normalise_config(config)}
    if allocator:
        if allocator not in ("jemalloc", "jemalloc16", "libc"):
            raise ValueError(f"unknown allocator {allocator!r}")
        changes["allocator"] = allocator
    return replace(chosen, **changes)


def profile_from_aux(aux: dict[bytes, bytes], magic: str = "REDIS", rdb_version: int = 9) -> str:
    """The server that wrote a file, from its ``valkey-ver`` / ``redis-ver`` AUX fields."""
    if b"valkey-ver" in aux:
        return "valkey-" + aux[b"valkey-ver"].decode("ascii", "replace")
    if magic == "VALKEY":
        return "valkey-9.0"
    if b"redis-ver" in aux:
        return "redis-" + aux[b"redis-ver"].decode("ascii", "replace")
    return {9: "redis-6.2", 10: "redis-7.0", 11: "redis-7.2", 12: "redis-7.4", 13: "redis-8.6",
            14: "redis-8.8", 15: "redis-8.10"}.get(rdb_version, "redis-7.2")


# -- the result -----------------------------------------------------------------------------------

@dataclass(slots=True)
class KeyMemory:
    """One key's estimate.

    Accessible attributes: ``db``, ``key``, ``type``, ``encoding`` (predicted OBJECT ENCODING),
    ``elements`` (members / entries; bytes for a string), ``memory_usage`` (bytes, as MEMORY USAGE
    SAMPLES 0), ``largest_element`` (bytes of the longest element), ``expire_at_ms``, ``idle_s``,
    ``freq``, ``key_bytes`` (length of the key name).
    """

    db: int
    key: bytes
    type: str
    encoding: str
    elements: int
    memory_usage: int
    largest_element: int
    expire_at_ms: int | None = None
    idle_s: int | None = None
    freq: int | None = None
    key_bytes: int = 0
    rdb_type: int = 0

    def to_dict(self) -> dict:
        return {"db": self.db, "key": self.key, "type": self.type, "encoding": self.encoding,
                "elements": self.elements, "memory_usage": self.memory_usage,
                "largest_element": self.largest_element, "expire_at_ms": self.expire_at_ms}


# -- the estimator --------------------------------------------------------------------------------

def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _dtoa(score: float, fpconv: bool) -> bytes:
    """The text Redis stores for a zset score in a listpack (util.c d2string / fpconv_dtoa)."""
    if math.isnan(score):
        return b"nan"
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0:
        return b"-0" if math.copysign(1, score) < 0 else b"0"
    if -4503599627370495 < score < 4503599627370496 and score == int(score):
        return b"%d" % int(score)
    if fpconv:
        text = repr(score)
        if "e" in text:
            mant, exp = text.split("e")
            text = f"{mant}e{'-' if exp.startswith('-') else '+'}{exp.lstrip('+-').lstrip('0') or '0'}"
        return text.encode()
    return (b"%.17g" % score)


_TEMPLATE_TYPES = frozenset({C.RDB_TYPE_HASH_TMPL_LP, C.RDB_TYPE_HASH_TMPL_LP_REF,
                             C.RDB_TYPE_HASH_TMPL_ARRAY, C.RDB_TYPE_HASH_TMPL_ARRAY_REF})

#: sparsearray.h: a super-directory block holds the pointers of 2048 slices
_AR_SUPER_BLOCK_SLOTS = 2048


def _array_window(win: int, off: int, slice_size: int) -> tuple[int, int]:
    """A dense slice's window as sparsearray.c places it: the whole slice once it reaches the
    slice size, else shifted left where it would pass the slice's end."""
    if win >= slice_size:
        return slice_size, 0
    return win, min(off, slice_size - win)


_SKIPLIST_LEVEL_P = [0.75 * 0.25 ** (i - 1) for i in range(1, 33)]


def _ht_buckets(n: int) -> int:
    """hashtable.c nextBucketExp: ceil(n * 5 / 32) buckets, rounded up to a power of two."""
    if n <= 0:
        return 1
    return _next_pow2((n * 5 - 1) // 32 + 1)


_CHILD_CACHE: dict[tuple[int, int], float] = {}


def _ht_children(n: int, buckets: int) -> float:
    """Expected child buckets: a bucket chain holding k entries has ceil((k - 7) / 6) children."""
    key = (n, buckets)
    got = _CHILD_CACHE.get(key)
    if got is not None:
        return got
    lam = n / buckets
    total = 0.0
    if lam > 0:
        pk = math.exp(-lam)
        for k in range(1, int(lam + 12 * math.sqrt(lam) + 30)):
            pk *= lam / k
            if k > 7:
                total += pk * ((k - 7 + 5) // 6)
    got = buckets * total
    if len(_CHILD_CACHE) < 100000:
        _CHILD_CACHE[key] = got
    return got


def compiled_estimator():
    """The compiled memory estimator and row renderer (:mod:`rdbtools.analysis._estimate`,
    C sources in ``rdbtools/analysis/csrc/``), or None on the pure path (``RDBTOOLS_PUREPYTHON``,
    or not built).  Imported on first use: its initialisation reads this module."""
    if _accel.PURE_REQUESTED:
        return None
    try:
        from . import _estimate
    except ImportError:
        return None
    return _estimate


class MemoryEstimator:
    """Estimates entries of one file for one target server profile."""

    def __init__(self, profile: ServerProfile) -> None:
        self.p = profile
        a = profile.alloc
        self._node_mean = sum(p * a(24 + 16 * lvl) for lvl, p in enumerate(_SKIPLIST_LEVEL_P, 1))
        self._emb_cache: dict[int, float] = {}
        self._sds_cache: dict[bool, dict[int, int]] = {True: {}, False: {}}
        #: template field names -> (the loader's template id, keys using it): the key
        #: refcount a template hash's share of its template is divided by (set per file by
        #: :class:`FileEstimates`; unknown templates count one key)
        self.templates: dict[tuple[bytes, ...], tuple[int, int]] = {}
        compiled = compiled_estimator()
        twin = compiled.Estimator(profile, self._node_mean) if compiled else None
        #: ``compiled(entry, buf, base)``: the C twin of :meth:`estimate` for the common cases
        #: (``rdbtools/analysis/csrc/``), None where this class must answer; None itself
        #: on the pure path
        self.compiled = twin.estimate if twin else None
        #: ``compiled_raw(entry)``: the same for an entry read with :func:`raw_types_for`
        #: (a RawValue), sized from the value's bytes; None where the reader must decode it
        self.compiled_raw = twin.estimate_raw if twin else None

    # strings held as sds
    def sds(self, n: int, type5: bool = True) -> int:
        cache = self._sds_cache[type5]
        got = cache.get(n)
        if got is None:
            got = self.p.alloc(sds_header(n, type5=type5) + n + 1)
            if len(cache) < 1 << 16:
                cache[n] = got
        return got

    def _table(self, n: int, converted_at: int | None = None) -> int:
        """dict struct + bucket array.  Loading pre-sizes a table to next_pow2(n).  A compact
        encoding converted during the load (``converted_at`` = elements already read) is
        pre-sized to that count and then grows one insert at a time; a doubling is rehashed
        one bucket per insert, and while it lasts both bucket arrays count (dict.c)."""
        if converted_at is None:
            return self.p.dict_struct + 8 * max(4, _next_pow2(n))
        size = max(4, _next_pow2(converted_at))
        used = converted_at
        old = 0
        left = 0.0
        for _ in range(n - converted_at):
            if old:
                left -= 1
                if left <= 0:
                    old = 0
            if not old and used >= size:
                old = size
                size = _next_pow2(used + 1)
                left = old * (1 - math.exp(-used / old))
            used += 1
        return self.p.dict_struct + 8 * (size + old)

    def _hashtable(self, n: int) -> int:
        """Valkey 8.1+ hashtable.c: struct + 64-byte buckets (7 entries each) + child buckets.
        Loading sizes the table for the final count, also when a listpack converts half-way
        (rdb.c passes the record's length): ceil(n * 5 / 32) buckets rounded up to a power of
        two.  Child buckets (chains off full buckets) depend on the hash seed; counted by
        expectation (entries per bucket ~ Poisson)."""
        b = _ht_buckets(n)
        return self.p.hashtable_struct + 64 * (b + _ht_children(n, b))

    def _hash_entry(self, f: bytes, v: bytes, volatile: bool) -> int:
        """t_hash.c hashTypeCreateEntry: field and value in one allocation up to 128 bytes, else
        value pointer + field (sds8 or wider) and the value sds apart."""
        lf, lv = len(f), len(v)
        fsz = sds_header(lf, type5=not volatile) + lf + 1  # an expiry needs the sds8 aux bits
        extra = 8 if volatile else 0
        if fsz + 3 + lv + 1 + extra <= 128:
            return self.p.alloc(fsz + 4 + lv + extra)
        return self.p.alloc(8 + extra + sds_header(lf, type5=False) + lf + 1) + self.sds(lv)

    def _zset_node(self, m: bytes) -> float:
        n = len(m)
        if self.p.zset_node == "embedded":
            return self._emb_node(sds_header(n) + n + 1)
        return self._node_mean + self.sds(n)

    def _emb_node(self, sz: int) -> float:
        got = self._emb_cache.get(sz)
        if got is None:
            a = self.p.alloc
            got = self._emb_cache[sz] = sum(p * a(17 + 16 * lvl + sz) for lvl, p in enumerate(_SKIPLIST_LEVEL_P[:12], 1))
        return got

    @staticmethod
    def _sampled(asize: int, elesize: int, n: int) -> int:
        """``asize += (double)elesize/samples*n`` with SAMPLES 0 (samples == n), truncated."""
        if not n:
            return asize
        return int(float(asize) + float(elesize) / n * n)

    # -- per type ------------------------------------------------------------------------------
    def estimate(self, entry: Entry, shape: RecordShape | None = None) -> KeyMemory:
        t = entry.type
        blob = None  # the bytes of an intset / listpack value (lpBytes), for tracked accounting
        if t == TYPE_STRING:
            enc, value_size, n, largest = self._string(entry)
        elif t == TYPE_LIST:
            enc, value_size, n, largest = self._list(entry, shape)
        elif t == TYPE_SET:
            enc, value_size, n, largest, blob = self._set(entry, shape)
        elif t == TYPE_ZSET:
            enc, value_size, n, largest, blob = self._zset(entry, shape)
        elif t == TYPE_HASH and entry.rdb_type in _TEMPLATE_TYPES and self.p.hash_templates:
            enc, value_size, n, largest = self._template_hash(entry)
        elif t == TYPE_HASH:
            enc, value_size, n, largest, blob = self._hash(entry, shape)
        elif t == TYPE_STREAM:
            enc, value_size, n, largest = self._stream(entry, shape)
        elif t == TYPE_ARRAY:
            enc, value_size, n, largest = self._array(entry)
        else:
            enc, value_size, n, largest = "raw", 16 + len(getattr(entry.value, "raw", b"")), 1, 0
        if self.p.accounting != "alloc":
            total = self._tracked_header(entry, enc) + self._tracked_value(entry, shape, enc, value_size, blob)
        else:
            total = value_size + self._key_overhead(entry, enc)
        return KeyMemory(entry.db, entry.key, t, enc, n, int(total), largest, entry.expire_at_ms,
                         entry.idle_s, entry.freq, len(entry.key), entry.rdb_type)

    # -- Redis 8.6+ kvobjAllocSize (object.c): counters kept per type instead of allocator sizes --
    def _sds_req(self, n: int, type5: bool = True) -> int:
        """sdsAllocSize (sds.h @8.6.2) of an sds made by sdsnewlen: an sdshdr5 by header +
        length + 1, wider ones by their ``alloc`` field, which sdsnewlen sets to the whole
        usable allocation."""
        hdr = sds_header(n, type5=type5)
        return n + 2 if hdr == 1 else self.p.alloc(hdr + n + 1)

    def _tracked_header(self, entry: Entry, enc: str) -> int:
        """The kvobj: robj 16, one uint64 per metadata slot (the expire, bit 0 of metabits, and
        each module key-metadata class, 8.6+), the key's 1-byte header offset and its sds, and
        an embstr value's sds8.  8.6 counts its allocation size, 8.10 the sum itself."""
        n = len(entry.key)
        meta = (entry.expire_at_ms is not None) + len(entry.key_meta or ())
        size = 16 + 8 * meta + 1 + sds_header(n, type5=n < 32) + n + 1
        if enc == "embstr":  # the value's sds8 takes the allocation's slack as its alloc
            return self.p.alloc(size + 3 + len(entry.value) + 1)  # type: ignore[arg-type]
        return size if self.p.accounting == "requested" else self.p.alloc(size)

    def _tracked_value(self, entry: Entry, shape: RecordShape | None, enc: str, value_size: int,
                       blob: int | None) -> int:
        """listTypeAllocSize, setTypeAllocSize, zsetAllocSize, hashTypeAllocSize, stream and
        array ``alloc_size`` (t_*.c @8.6.2 / @8.10.2); ``blob``: the exact bytes of an intset or
        listpack value (its lpBytes / intsetBlobLen)."""
        p = self.p
        t = entry.type
        v = entry.value
        if t == TYPE_STRING:
            return self._sds_req(len(v)) if enc == "raw" else 0  # type: ignore[arg-type]
        if t == TYPE_LIST:
            nodes = self._list_nodes(entry, shape)
            if enc == "listpack":
                return nodes[0][1]
            return p.alloc(p.quicklist) + sum(p.alloc(p.quicklist_node) + nbytes for _, nbytes in nodes)
        if t not in (TYPE_SET, TYPE_ZSET, TYPE_HASH) or enc.startswith("template"):
            return value_size - 16  # streams, arrays, template hashes, modules: as sized above
        n = len(v)  # type: ignore[arg-type]
        if enc in ("intset", "listpack", "listpackex"):
            return blob + (p.hfe_listpack_ex if enc == "listpackex" else 0)  # type: ignore[operator]
        if t == TYPE_SET:
            return self._table(n) + n * p.dict_entry + sum(self._sds_req(len(m)) for m in v)  # type: ignore[union-attr]
        if t == TYPE_ZSET:
            a = p.alloc
            nodes = sum(self._tracked_node(len(m)) for m, _ in v)  # type: ignore[misc]
            return int(16 + a(32) + a(16 + 32 * 16) + nodes + self._table(n) + n * p.zset_dict_entry)
        if t == TYPE_HASH:
            ttls = entry.field_expire_at_ms or {}
            return self._table(n, self._hash_grown_from(entry)) + n * p.dict_entry + sum(
                self._tracked_entry(len(f), len(x), f in ttls) for f, x in v)  # type: ignore[misc]

    def _tracked_node(self, n: int) -> float:
        """zslCreateNode (t_zset.c @8.6.2): node + levels + the member's sds in one allocation,
        by its allocator size; the level is random (expected size)."""
        key = -1 - n
        got = self._emb_cache.get(key)
        if got is None:
            a = self.p.alloc
            sz = sds_header(n) + n + 1
            got = self._emb_cache[key] = sum(pr * a(16 + 16 * lvl + sz) for lvl, pr in enumerate(_SKIPLIST_LEVEL_P[:12], 1))
        return got

    def _tracked_entry(self, lf: int, lv: int, volatile: bool) -> int:
        """entryMemUsage (entry.c @8.6.2): the field's sds, the value's sds (embedded as sds8
        when field + value + expire metadata fit 128 bytes, else behind a pointer, with the field
        at least sds8), the pointer and the 16-byte ExpireMeta of a field with a TTL."""
        expire = 16 if volatile else 0
        field = sds_header(lf, type5=not volatile) + lf + 1
        if field + expire + 3 + lv + 1 <= 128:
            return field + expire + 3 + lv + 1
        return sds_header(lf, type5=False) + lf + 1 + 8 + expire + self._sds_req(lv)

    def _key_overhead(self, entry: Entry, enc: str) -> int:
        p = self.p
        if p.keyspace == "dictentry":
            return self.sds(len(entry.key)) + p.dict_entry
        if entry.type == TYPE_STRING:
            return 0  # the header with the embedded key is counted by _string
        return self._header(entry) - 16

    def _embedded(self, entry: Entry, robj: int = 16, expire: bool = True) -> int:
        """Bytes of the robj with the key (and expire) embedded, before allocator rounding."""
        n = len(entry.key)
        return robj + (8 if expire and entry.expire_at_ms is not None else 0) + 1 + sds_header(n, type5=n < 32) + n + 1

    def _header(self, entry: Entry) -> int:
        """The value's object header: robj 16, or on Redis 8 / Valkey 8.1+ the allocation that
        embeds the key (and its expire) too."""
        if self.p.keyspace == "dictentry":
            return 16
        return self.p.alloc(self._embedded(entry))

    def _string(self, entry: Entry) -> tuple[str, int, int, int]:
        value: bytes = entry.value  # type: ignore[assignment]
        n = len(value)
        p = self.p
        is_int = n <= 20 and string_to_int(value) is not None
        if p.keyspace != "dictentry":
            head = self._embedded(entry)
            if is_int:
                return "int", p.alloc(head), n, n
            emb = self._embedded(entry, p.embstr_robj) + 4 + n
            fits = self._embedded(entry, p.embstr_robj, p.embed_counts_expire) + 4 + n <= p.embed_limit
            if n <= p.embstr_limit and fits:
                return "embstr", p.alloc(emb), n, n
            return "raw", p.alloc(head) + self.sds(n, type5=True), n, n
        if is_int:
            return "int", 16, n, n
        if n <= p.embstr_limit:
            if p.exact_blobs:
                return "embstr", 16 + n + 2, n, n
            return "embstr", p.alloc(16 + 3 + n + 1), n, n
        return "raw", 16 + self.sds(n, type5=False), n, n

    def _list(self, entry: Entry, shape: RecordShape | None):
        p = self.p
        items: list[bytes] = entry.value  # type: ignore[assignment]
        n = len(items)
        largest = max(map(len, items), default=0)
        nodes = self._list_nodes(entry, shape)
        fill = p.thresholds["list-max-listpack-size"]
        limit = LIST_NODE_BYTES.get(fill, 8192) if fill < 0 else 8192
        if p.list_listpack and len(nodes) == 1 and nodes[0][0] == 2 and nodes[0][1] <= limit and \
                (fill < 0 or n <= max(1, fill)):
            return "listpack", 16 + p.alloc(nodes[0][1]), n, largest
        elesize = 0
        for container, nbytes in nodes:
            blob = nbytes if p.exact_blobs and container == 2 else p.alloc(nbytes)
            elesize += p.quicklist_node + blob
        return "quicklist", self._sampled(16 + p.quicklist, elesize, len(nodes)), n, largest

    def _list_nodes(self, entry: Entry, shape: RecordShape | None) -> list[tuple[int, int]]:
        """(container, in-memory bytes) per quicklist node on the target."""
        p = self.p
        items: list[bytes] = entry.value  # type: ignore[assignment]
        if shape is not None and shape.rdb_type in QUICKLIST_TYPES and shape.blobs:
            file_listpack = shape.rdb_type == C.RDB_TYPE_LIST_QUICKLIST_2
            if file_listpack != p.ziplist:
                return [(c, n) for c, n, _ in shape.blobs]
            # re-encode every node in the target's format
            out = []
            pos = 0
            for container, nbytes, payload in shape.blobs:
                if container == 1:
                    out.append((1, nbytes))
                    pos += 1
                    continue
                if payload is not None:
                    elems = decode_listpack(payload) if file_listpack else decode_ziplist(payload)
                    k = len(elems)
                else:
                    k = max(1, len(items) // max(1, len(shape.blobs)))
                chunk = items[pos : pos + k]
                pos += k
                out.append((2, ziplist_size(chunk) if p.ziplist else listpack_size(chunk)))
            return out
        # element-by-element lists (types 1, 10) or no record bytes: fill nodes as RPUSH does
        fill = p.thresholds["list-max-listpack-size"]
        limit = LIST_NODE_BYTES.get(fill, 8192) if fill < 0 else 8192
        max_count = fill if fill > 0 else 1 << 30
        out = []
        cur = 11 if p.ziplist else 7
        count = 0
        for e in items:
            esz = listpack_entry_size(e) if not p.ziplist else ziplist_size([e]) - 11 + 4
            if count and (cur + esz > limit or count >= max_count):
                out.append((2, cur))
                cur = 11 if p.ziplist else 7
                count = 0
            cur += esz
            count += 1
        if count or not out:
            out.append((2, cur))
        return out

    def _blob_len(self, shape: RecordShape | None, rdb_types: Iterable[int]) -> int | None:
        if shape is not None and shape.rdb_type in rdb_types and shape.blobs:
            return shape.blobs[0][1]
        return None

    def _set(self, entry: Entry, shape: RecordShape | None):
        p = self.p
        th = p.thresholds
        members: list[bytes] = entry.value  # type: ignore[assignment]
        n = len(members)
        largest = max(map(len, members), default=0)
        ints = [string_to_int(m) for m in members] if n <= th["set-max-intset-entries"] else None
        if ints is not None and all(v is not None for v in ints):
            blob = self._blob_len(shape, (C.RDB_TYPE_SET_INTSET,)) or intset_size(ints)  # type: ignore[arg-type]
            return "intset", 16 + (blob if p.exact_blobs else p.alloc(blob)), n, largest, blob
        if p.set_listpack and n <= th["set-max-listpack-entries"] and (
                largest <= th["set-max-listpack-value"] or shape is not None and shape.rdb_type == C.RDB_TYPE_SET_LISTPACK):
            blob = self._blob_len(shape, (C.RDB_TYPE_SET_LISTPACK,)) or listpack_size(members)
            return "listpack", 16 + p.alloc(blob), n, largest, blob
        if p.set_table == "hashtable":
            return "hashtable", int(16 + self._hashtable(n) + sum(self.sds(len(m)) for m in members)), n, largest, None
        size = self._sampled(16 + self._table(n), sum(p.dict_entry + self.sds(len(m)) for m in members), n)
        return "hashtable", size, n, largest, None

    def _zset(self, entry: Entry, shape: RecordShape | None):
        p = self.p
        th = p.thresholds
        pairs: list[tuple[bytes, float]] = entry.value  # type: ignore[assignment]
        n = len(pairs)
        largest = max((len(m) for m, _ in pairs), default=0)
        blob_type = C.RDB_TYPE_ZSET_ZIPLIST if p.ziplist else C.RDB_TYPE_ZSET_LISTPACK
        from_blob = shape is not None and shape.rdb_type in (C.RDB_TYPE_ZSET_ZIPLIST, C.RDB_TYPE_ZSET_LISTPACK)
        if n <= th["zset-max-listpack-entries"] and (largest <= th["zset-max-listpack-value"] or from_blob):
            blob = self._blob_len(shape, (blob_type,))
            if blob is None:
                flat = []
                for m, s in pairs:
                    flat.append(m)
                    flat.append(_dtoa(s, p.fpconv))
                blob = ziplist_size(flat) if p.ziplist else listpack_size(flat)
            enc = "ziplist" if p.ziplist else "listpack"
            return enc, 16 + (blob if p.exact_blobs else p.alloc(blob)), n, largest, blob
        # a listpack converted during the load is converted with the record's length as size
        # hint (zsetConvertAndExpand), so the table is sized for the final count either way
        if p.set_table == "hashtable":
            size = 16 + p.zset_extra + self._hashtable(n) + sum(self._zset_node(m) for m, _ in pairs)
            return "skiplist", int(size), n, largest, None
        size = 16 + 16 + 32 + self._table(n) + p.alloc(24 + 32 * 16)
        elesize = sum(self.sds(len(m)) for m, _ in pairs) + n * (p.zset_dict_entry + self._node_mean)
        return "skiplist", self._sampled(size, int(elesize), n), n, largest, None

    def _hash(self, entry: Entry, shape: RecordShape | None):
        p = self.p
        th = p.thresholds
        pairs: list[tuple[bytes, bytes]] = entry.value  # type: ignore[assignment]
        n = len(pairs)
        largest = max((max(len(f), len(v)) for f, v in pairs), default=0)
        ttls = entry.field_expire_at_ms or {}
        blob_types = (C.RDB_TYPE_HASH_ZIPLIST,) if p.ziplist else (C.RDB_TYPE_HASH_LISTPACK, C.RDB_TYPE_HASH_LISTPACK_EX)
        from_blob = shape is not None and shape.rdb_type in (C.RDB_TYPE_HASH_ZIPLIST, C.RDB_TYPE_HASH_LISTPACK,
                                                             C.RDB_TYPE_HASH_LISTPACK_EX, C.RDB_TYPE_HASH_ZIPMAP)
        valkey_ttl = bool(ttls) and p.set_table == "hashtable"  # Valkey 9: volatile fields need a table
        if n <= th["hash-max-listpack-entries"] and (largest <= th["hash-max-listpack-value"] or from_blob) \
                and not valkey_ttl:
            blob = self._blob_len(shape, blob_types)
            # a LISTPACK_EX record loads as listpackex even when no field has a TTL left
            # (rdb.c @7.4.0 keeps the encoding of type 25)
            if (ttls or from_blob and shape.rdb_type == C.RDB_TYPE_HASH_LISTPACK_EX) and p.hash_entry != "sds":  # type: ignore[union-attr]
                if blob is None or shape.rdb_type != C.RDB_TYPE_HASH_LISTPACK_EX:  # type: ignore[union-attr]
                    flat = []
                    for f, v in pairs:
                        flat += [f, v, ttls.get(f, 0)]
                    blob = listpack_size(flat)
                return "listpackex", 16 + p.alloc(p.hfe_listpack_ex) + p.alloc(blob), n, largest, blob
            if blob is None or (shape is not None and shape.rdb_type == C.RDB_TYPE_HASH_LISTPACK_EX):
                flat = [x for pair in pairs for x in pair]
                blob = ziplist_size(flat) if p.ziplist else listpack_size(flat)
            enc = "ziplist" if p.ziplist else "listpack"
            return enc, 16 + (blob if p.exact_blobs else p.alloc(blob)), n, largest, blob
        at = self._hash_grown_from(entry)
        if p.set_table == "hashtable":
            size = 16 + p.hash_table_meta + self._hashtable(n) + sum(
                self._hash_entry(f, v, f in ttls) for f, v in pairs) + p.hash_volatile * len(ttls)
            return "hashtable", int(size), n, largest, None
        elesize = sum(p.dict_entry + self._field(f, f in ttls) + self.sds(len(v)) for f, v in pairs) \
            + p.hash_volatile * len(ttls)
        return "hashtable", self._sampled(16 + self._table(n, at), elesize, n), n, largest, None

    def _template_hash(self, entry: Entry):
        """A template hash (types 29-32, Redis 8.10; rdb.c rdbLoadObject, t_hash.c
        hashTypeAllocSize): a listpack record (29/30) stays ``template-listpack`` — the
        listpack ``[template id][v0]...`` by lpBytes, the id re-encoded as the loader's own
        (templates are numbered from 0 in file order) — unless it has more fields than
        hash-max-listpack-entries; a string record (31/32) is ``template-listpack`` when the
        values fit a listpack (that many fields, no value above hash-max-listpack-value), else
        ``template-array``: a ``hashTemplateArray`` (16 bytes + one sds pointer per field) and
        the values' sds.  MEMORY USAGE adds the key's share of its template
        (hashTemplatePerKeyMemoryShare: the template's ``mem_size`` — its 80-byte struct, the
        field pointers and the field names' sds allocations — divided by the keys using it)."""
        p = self.p
        th = p.thresholds
        pairs: list[tuple[bytes, bytes]] = entry.value  # type: ignore[assignment]
        n = len(pairs)
        fields = tuple(f for f, _ in pairs)
        largest = max((max(len(f), len(v)) for f, v in pairs), default=0)
        local_id, refs = self.templates.get(fields, (0, 1))
        if entry.rdb_type in (C.RDB_TYPE_HASH_TMPL_LP, C.RDB_TYPE_HASH_TMPL_LP_REF):
            packed = n <= th["hash-max-listpack-entries"]
        else:
            packed = n <= th["hash-max-listpack-entries"] and all(
                len(v) <= th["hash-max-listpack-value"] for _, v in pairs)
        if packed:
            enc, size = "template-listpack", listpack_size([local_id, *(v for _, v in pairs)])
        else:
            enc, size = "template-array", 16 + 8 * n + sum(self._sds_req(len(v)) for _, v in pairs)
        mem_size = 80 + 8 * n + sum(self.sds(len(f)) for f in fields)
        return enc, 16 + size + mem_size // refs, n, largest

    def _hash_grown_from(self, entry: Entry) -> int | None:
        """Fields a hash table held when it stopped being pre-sized and grew one insert at a
        time (``_table``'s ``converted_at``), None when loading sized it for the final count: a
        HASH or HASH_METADATA record within the entry limit starts as a listpack and converts
        on its first long element (up to 8.2; measured on 8.6.2 / 8.10.2: the conversion is
        sized for the record's count); a larger HASH_METADATA record's table is created unsized
        (measured on 8.2.3 and 8.10.2: the doubling to the final size is still being rehashed)."""
        th = self.p.thresholds
        pairs: list[tuple[bytes, bytes]] = entry.value  # type: ignore[assignment]
        small = len(pairs) <= th["hash-max-listpack-entries"]
        if entry.rdb_type == C.RDB_TYPE_HASH_METADATA and not small:
            return 0
        if entry.rdb_type in (C.RDB_TYPE_HASH, C.RDB_TYPE_HASH_METADATA) and small \
                and self.p.accounting == "alloc":  # 8.6+ converts with the final count as size
            limit = th["hash-max-listpack-value"]
            return next((i for i, (f, v) in enumerate(pairs) if len(f) > limit or len(v) > limit), None)
        return None

    def _field(self, f: bytes, volatile: bool) -> int:
        if self.p.hash_entry == "mstr":
            n = len(f)
            hdr = 1 if n < 32 else 3 if n < 65536 else 9
            return self.p.alloc(hdr + (16 if volatile else 0) + n + 1)
        return self.sds(len(f))

    def _stream(self, entry: Entry, shape: RecordShape | None):
        p = self.p
        s: Stream = entry.value  # type: ignore[assignment]
        largest = 0
        for e in s.entries:
            for f, v in e.fields:
                largest = max(largest, len(f), len(v))
        size = 16 + p.stream
        if shape is not None and shape.rdb_type in STREAM_TYPES:
            node_keys = shape.node_keys
            lp_sizes = [n for _, n, _ in shape.blobs]
        else:  # no record bytes: one node per 100 entries, sized by re-encoding
            node_keys, lp_sizes = [], []
            for i in range(0, max(1, len(s.entries)), 100):
                chunk = s.entries[i : i + 100]
                if chunk:
                    node_keys.append(chunk[0].id[0].to_bytes(8, "big") + chunk[0].id[1].to_bytes(8, "big"))
                    lp_sizes.append(listpack_size([x for e in chunk for f, v in e.fields for x in (f, v)])
                                    + 4 * len(chunk) + 20)
        size += self._rax(node_keys, ids=True)
        size += sum(map(p.alloc, lp_sizes)) if p.stream_lp_alloc else sum(lp_sizes)
        if p.accounting != "alloc":
            return "stream", size + self._tracked_stream_state(s), s.length, largest
        for g in s.groups:
            pel = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for (ms, seq) in (pe.id for pe in g.pending)]
            size += p.stream_cg + self._rax(pel) + p.stream_nack * len(pel)
            for c in g.consumers:
                cpel = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for ms, seq in c.pending]
                size += p.stream_consumer + len(c.name) + self._rax(cpel)
        return "stream", size, s.length, largest

    def _array(self, entry: Entry):
        """A ``redisArray``'s ``alloc_size`` (sparsearray.c @8.10.2) as rdbLoadObject builds it,
        arSet() by ascending index: the struct (80), the directory — flat, one pointer per
        slice id up to the next power of two above the highest (grown by realloc), or, once a
        slice id reaches 2048 (``AR_SUPER_BLOCK_SLOTS``), the super-directory (24-byte entries,
        capacity 4, doubling) with a 2048-pointer block per populated group of 2048 slices —,
        every slice (:meth:`_array_slice`) and every element that is no tagged immediate
        (arEncode(): integers, floats and up to 7 bytes live in the pointer word) as an
        arString, a 2-byte length header (8 above 32,767 bytes) and the bytes, all by their
        allocation sizes."""
        a = self.p.alloc
        th = self.p.thresholds
        slice_size = th["array-slice-size"]
        bits = slice_size.bit_length() - 1
        items: list[tuple[int, bytes]] = entry.value  # type: ignore[assignment]
        size = a(80)
        largest = 0
        slices: dict[int, list[int]] = {}
        for idx, v in items:
            slices.setdefault(idx >> bits, []).append(idx & (slice_size - 1))
            n = len(v)
            largest = max(largest, n)
            if n > 7 and array_tag(v) == C.ARRAY_TAG_SDS:
                size += a((2 if n <= 32767 else 8) + n)
        size += sum(self._array_slice(offs, slice_size, th["array-sparse-kmax"]) for offs in slices.values())
        top = max(slices, default=0)
        if top >= _AR_SUPER_BLOCK_SLOTS:
            blocks = len({sid // _AR_SUPER_BLOCK_SLOTS for sid in slices})
            size += a(24 * max(4, _next_pow2(blocks))) + blocks * a(8 * _AR_SUPER_BLOCK_SLOTS)
        elif slices:
            size += a(8 * _next_pow2(top + 1))
        return "sliced-array", 16 + size, len(items), largest

    def _array_slice(self, offs: list[int], slice_size: int, kmax: int) -> int:
        """One slice's allocation (an ``arSlice`` of 32 bytes and its payload) after its
        offsets ``offs`` were set in ascending order: sparse (sorted uint16 offsets, padded to
        8, then the value words) while it holds at most ``array-sparse-kmax`` elements, with
        capacity 4, doubling, clamped to kmax; the next insert promotes it to a dense window
        (a power of two, at least 8, over the sparse offsets), which grows right by doubling
        up to the whole slice, shifted left where it would pass the slice's end.  With kmax 0
        slices start dense: an 8-slot window at the first offset."""
        n = len(offs)
        if 0 < kmax and n <= kmax:
            cap = min(kmax, 4)
            while cap < n:
                cap = min(cap * 2, kmax)
            return self.p.alloc(32 + (2 * cap + 7) // 8 * 8 + 8 * cap)
        if kmax:
            off, win, rest = offs[0], max(8, _next_pow2(offs[kmax - 1] - offs[0] + 1)), offs[kmax:]
        else:
            off, win, rest = offs[0], 8, offs[1:]
        win, off = _array_window(win, off, slice_size)
        for rel in rest:
            if rel >= off + win:
                while rel >= off + win and win < slice_size:
                    win <<= 1
                win, off = _array_window(win, off, slice_size)
        return self.p.alloc(32 + 8 * win)

    def _tracked_stream_state(self, s: Stream) -> int:
        """The rest of a stream's ``alloc_size`` (t_stream.c @8.6.2 / @8.10.2, as rdbLoadObject
        builds it): the ``cgroups`` rax by group name, per group its streamCG, PEL rax, one
        streamNACK per PEL entry and ``consumers`` rax, per consumer its struct, name sds and PEL
        rax; the ``cgroups_ref`` rax over every pending ID (its lists are not tracked); the IDMP
        ``idmp_producers`` rax by pid (8.10; 8.6 creates it with raxNew, untracked), per producer an idmpProducer (24) and per iid an idmpEntry
        with the iid inline (32 + length; its dict is not tracked).  Every iid is counted: the
        loader drops those older than the duration at load time, which a file cannot tell."""
        p = self.p
        a = p.alloc
        size = 0
        pending: set[bytes] = set()
        if s.groups:
            size += self._rax([g.name for g in s.groups])
        for g in s.groups:
            pel = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for (ms, seq) in (pe.id for pe in g.pending)]
            pending.update(pel)
            size += a(p.stream_cg) + self._rax(pel, ids=True) + a(p.stream_nack) * len(pel)
            size += self._rax([c.name for c in g.consumers])
            for c in g.consumers:
                cpel = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for ms, seq in c.pending]
                size += a(p.stream_consumer) + self._sds_req(len(c.name)) + self._rax(cpel, ids=True)
        if pending:
            size += self._rax(list(pending), ids=True)
        producers = [pr for pr in (s.idmp.producers if s.idmp is not None else ()) if pr.iids]
        if producers and p.idmp_rax_tracked:
            size += self._rax([pr.pid for pr in producers])
        for pr in producers:
            size += a(24) + sum(a(32 + len(iid)) for iid, _ in pr.iids)
        return size

    def _rax(self, keys: list[bytes], ids: bool = False) -> int:
        """streamRadixTreeMemoryUsage(): 16 per element + (4 + 30 * 8) per node; on Valkey 8.1+
        and Redis 8.6+ the allocator sizes of the rax's nodes (rax.c tracks them); ``ids``: a
        rax of 16-byte stream IDs (keyFixedLen on 8.10)."""
        p = self.p
        if p.stream_rax == "alloc":
            a = p.alloc
            fixed = ids and p.rax_fixed_leaves
            return a(p.rax_struct) + sum(a(n) for n in rax_node_lengths(keys, fixed=fixed))  # rax struct + nodes
        return 16 * len(keys) + 244 * rax_node_count(keys)


# -- reading files --------------------------------------------------------------------------------

class _RecordBytes:
    """The bytes of a record just yielded: from the reader's buffer, else by pread on the file."""

    def __init__(self, rdb, path) -> None:
        self.rdb = rdb
        self.fd = None
        inp = getattr(rdb, "_input", None)
        # only a regular file can be read again: a FIFO would block on open and refuse pread
        if _reopenable(path) and getattr(inp, "compression", 1) is None:
            try:
                self.fd = os.open(path, os.O_RDONLY)
            except OSError:
                self.fd = None

    def get(self, entry: Entry) -> bytes | None:
        src = getattr(self.rdb, "_src", None)
        if src is not None:
            start = entry.offset - src.base
            if 0 <= start and start + entry.size <= len(src.buf):
                return src.buf[start : start + entry.size]
        if self.fd is not None:
            return os.pread(self.fd, entry.size, entry.offset)
        return None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _needs_shape(entry: Entry) -> bool:
    return entry.rdb_type in BLOB_TYPES or entry.rdb_type in QUICKLIST_TYPES or entry.rdb_type in STREAM_TYPES


def _entry_estimator(rdb, estimator: MemoryEstimator, raw: _RecordBytes):
    """``one(entry) -> KeyMemory`` for decoded entries of an open reader: the compiled twin
    where it answers, else :meth:`MemoryEstimator.estimate` with the record's shape."""
    want_payloads = estimator.p.ziplist
    compiled = estimator.compiled
    src = getattr(rdb, "_src", None)
    if src is None:
        compiled = None
    estimate = estimator.estimate

    def one(entry: Entry) -> KeyMemory:
        if compiled is not None:
            km = compiled(entry, src.buf, src.base)  # type: ignore[union-attr]
            if km is not None:
                return km
        shape = None
        if _needs_shape(entry):
            data = raw.get(entry)
            if data is not None:
                try:
                    payloads = want_payloads or entry.rdb_type == C.RDB_TYPE_LIST_QUICKLIST
                    shape = record_shape(data, payloads=payloads and entry.rdb_type in QUICKLIST_TYPES)
                except Exception:  # damaged framing is the reader's business, not ours
                    shape = None
        return estimate(entry, shape)

    return one


def iter_estimates(rdb, records: Iterable, estimator: MemoryEstimator, path=None,
                   match=None) -> Iterator[KeyMemory]:
    """Estimate every entry among ``records`` of an open reader (``values="full"``); other records,
    and entries ``match(entry)`` rejects, are skipped."""
    raw = _RecordBytes(rdb, path)
    one = _entry_estimator(rdb, estimator, raw)
    try:
        for entry in records:
            if not isinstance(entry, Entry) or match is not None and not match(entry):
                continue
            yield one(entry)
    finally:
        raw.close()


def raw_types_for(profile: ServerProfile) -> frozenset[int]:
    """The type codes the compiled estimator sizes straight from their bytes for ``profile``
    (``Estimator.estimate_raw``): read with ``raw_types``, they are not decoded at all.  Left
    out: what it would mostly hand back (another compact format than the target's, Valkey
    open-addressing tables, rax allocations, field TTLs, zipmaps, modules, the RDB 13+ types)."""
    types = {C.RDB_TYPE_STRING, C.RDB_TYPE_SET_INTSET, C.RDB_TYPE_SET_LISTPACK}
    if profile.ziplist:
        types |= {C.RDB_TYPE_LIST_QUICKLIST, C.RDB_TYPE_ZSET_ZIPLIST, C.RDB_TYPE_HASH_ZIPLIST}
    else:
        types |= {C.RDB_TYPE_LIST_QUICKLIST_2, C.RDB_TYPE_ZSET_LISTPACK, C.RDB_TYPE_HASH_LISTPACK}
    if profile.set_table == "dict":
        types |= {C.RDB_TYPE_SET, C.RDB_TYPE_ZSET, C.RDB_TYPE_ZSET_2, C.RDB_TYPE_HASH}
    if profile.stream_rax == "estimate":
        types |= STREAM_TYPES
    return frozenset(types)


def _rdb_string(data: bytes) -> bytes:
    """``data`` as a plain RDB string (rdbSaveLen + bytes)."""
    n = len(data)
    if n < 64:
        return bytes((n,)) + data
    if n < 16384:
        return bytes((0x40 | n >> 8, n & 0xFF)) + data
    return b"\x80" + n.to_bytes(4, "big") + data if n < 1 << 32 else b"\x81" + n.to_bytes(8, "big") + data


def decode_raw(rdb, entry: Entry) -> None:
    """Have the reader decode the value of an entry read raw (its full decode of the same
    bytes, in a one-record file of the same version): ``entry.value``, ``length`` and
    ``field_expire_at_ms`` become what a ``values="full"`` read gives.

    :raises FormatError: when the value is damaged (at offsets of that one-record file: the
        caller re-reads the real file to report it).
    """
    from ..rdb.reader import open_rdb

    head = b"REDIS%04d" % rdb.version if rdb.magic == "REDIS" else b"VALKEY%03d" % rdb.version
    data = head + bytes((entry.rdb_type,)) + _rdb_string(entry.key) + entry.value.data + b"\xff"  # type: ignore[union-attr]
    with open_rdb(data, values="full", verify_checksum=False) as one:
        for decoded in one.iter_entries():
            entry.value = decoded.value
            entry.length = decoded.length
            entry.field_expire_at_ms = decoded.field_expire_at_ms
            return
    raise FormatError("raw value did not decode")  # not reached: the reader raises first


_RAW_READS: bool | None = None


def _raw_reads() -> bool:
    """Whether the compiled estimator is built and the reader's compiled path reads raw values
    itself (``read_records`` with ``raw_types``); else raw types would send every record
    through the reader's Python loop, slower than decoding them."""
    global _RAW_READS
    if _RAW_READS is None:
        ok = compiled_estimator() is not None and _accel.read_records is not None
        if ok:
            try:
                _accel.read_records(b"", 0, 0, 0, False, None, None, None, None, None)
            except TypeError:
                ok = False
        _RAW_READS = ok
    return _RAW_READS


def _reopenable(path) -> bool:
    """A regular file: reading it again gives the same bytes (not so a pipe or ``-``)."""
    return isinstance(path, (str, os.PathLike)) and str(path) != "-" and os.path.isfile(path)


def _prescan_aux(path) -> dict[bytes, bytes] | None:
    """The AUX fields of the file at ``path`` (a separate read up to the first key); None when
    that read fails (the real one then reports it)."""
    from ..rdb.reader import open_rdb

    try:
        with open_rdb(path, values="sizes", verify_checksum=False) as rdb:
            for rec in rdb.iter_records():
                if isinstance(rec, Entry):
                    break
            return {a.key: a.value for a in rdb.aux}
    except (FormatError, OSError):
        return None


def _template_key_refs(path) -> dict[tuple[bytes, ...], tuple[int, int]]:
    """Field names -> (the loader's id, key refcount) of every hash template (opcode 242,
    Redis 8.10) in the file at ``path``, by a separate read with the values of types 30 and 32
    kept raw to find their template ids; the loader numbers the templates from 0 in file order.
    Empty when the file has no templates or cannot be read again (a template hash then counts
    as its template's only key); damage is the real read's to report."""
    from ..rdb.reader import RecordCursor, open_rdb

    if not _reopenable(path):
        return {}
    refs: defaultdict[int, int] = defaultdict(int)
    try:
        with open_rdb(path, values="sizes", verify_checksum=False) as rdb:
            for rec in rdb.iter_records(raw_types=(C.RDB_TYPE_HASH_TMPL_LP_REF, C.RDB_TYPE_HASH_TMPL_ARRAY_REF)):
                if rec.__class__ is not Entry:
                    continue
                if not rdb.hash_templates:  # all opcode-242 records precede the first key
                    return {}
                if rec.value.__class__ is RawValue:
                    cursor = RecordCursor.over(rec.value.data)
                    if rec.rdb_type == C.RDB_TYPE_HASH_TMPL_ARRAY_REF:
                        refs[cursor._read_len()] += 1
                    else:  # the listpack's first entry
                        refs[decode_listpack(cursor._read_string())[0]] += 1  # type: ignore[index]
            templates = rdb.hash_templates
    except (FormatError, OSError):
        return {}
    return {tuple(fields): (i, refs[tid]) for i, (tid, fields) in enumerate(templates.items()) if refs[tid]}


class FileEstimates:
    """The estimates of one open file: iterate for :class:`KeyMemory` records.

    Accessible attributes: ``server`` (the target profile name), ``writer`` (the server that wrote
    the file, from its AUX fields), ``snapshot_ms`` (AUX ``ctime`` in ms, or None), ``profile``.

    With the compiled estimator and a ``path`` that can be read again, the values it sizes from
    their bytes are not decoded (``raw=False`` turns that off: every value is decoded).
    """

    def __init__(self, rdb, path, server: str | None, config: dict | None, allocator: str | None,
                 select=None, key_filter=None, *, raw: bool = True) -> None:
        self.rdb = rdb
        self._path = path
        self._select = select
        #: type codes read raw and sized by the compiled estimator from their bytes, or None:
        #: needs the compiled estimator and a file that can be read again (damage found in a
        #: raw value is reported by a second, decoding read, exactly as without raw types)
        self._raw: frozenset[int] | None = None
        self._first: list = []
        aux = _prescan_aux(path) if raw and _reopenable(path) and _raw_reads() else None
        records = None
        if aux is None:
            records = rdb.iter_records(select)
            for rec in records:  # AUX fields come first; peek up to the first key
                self._first.append(rec)
                if isinstance(rec, Entry):
                    break
            aux = {a.key: a.value for a in rdb.aux}
        self.writer = profile_from_aux(aux, rdb.magic, rdb.version)
        self.profile = profile_for(server or self.writer, config=config, allocator=allocator)
        self.server = self.profile.name
        self._templates = _template_key_refs(path) if self.profile.hash_templates and \
            rdb.magic == "REDIS" and rdb.version >= 15 else {}
        if records is None:
            self._raw = raw_types_for(self.profile)
            records = rdb.iter_records(select, raw_types=self._raw)
        self._records = records
        try:
            self.snapshot_ms: int | None = int(aux[b"ctime"]) * 1000
        except (KeyError, ValueError):
            self.snapshot_ms = None
        self._filter = key_filter

    def __iter__(self) -> Iterator[KeyMemory]:
        match = self._filter.matches if self._filter is not None else None
        estimator = MemoryEstimator(self.profile)
        estimator.templates = self._templates
        records = chain(self._first, self._records)
        if self._raw is None:
            return iter_estimates(self.rdb, records, estimator, self._path, match)
        return self._iter_raw(records, estimator, match)

    def _iter_raw(self, records, estimator: MemoryEstimator, match) -> Iterator[KeyMemory]:
        """Entries of the raw types are sized from their bytes (``compiled_raw``); what it
        hands back is decoded by the reader (:func:`decode_raw`) and estimated as usual.  On
        damage the file is read again without raw types, skipping the keys already done, so
        the error (type, offset, message) is the one a decoding read reports."""
        rdb = self.rdb
        raw_estimate = estimator.compiled_raw
        raw = _RecordBytes(rdb, self._path)
        one = _entry_estimator(rdb, estimator, raw)
        done = 0
        try:
            for entry in records:
                if not isinstance(entry, Entry):
                    continue
                if match is not None and not match(entry):
                    done += 1
                    continue
                if entry.value.__class__ is RawValue:
                    km = raw_estimate(entry)  # type: ignore[misc]
                    if km is None:
                        decode_raw(rdb, entry)
                        km = one(entry)
                else:
                    km = one(entry)
                done += 1
                yield km
            return
        except FormatError as err:
            if isinstance(err, ChecksumError):  # the same bytes, whichever way they are read
                raise
        finally:
            raw.close()
        yield from self._reread(done, estimator, match)

    def _reread(self, skip: int, estimator: MemoryEstimator, match) -> Iterator[KeyMemory]:
        from ..rdb.reader import open_rdb

        with open_rdb(self._path, values="full", verify_checksum=getattr(self.rdb, "_verify", True)) as again:
            def rest():
                n = 0
                for rec in again.iter_records(self._select):
                    if n < skip and isinstance(rec, Entry):
                        n += 1
                        continue
                    yield rec

            yield from iter_estimates(again, rest(), estimator, self._path, match)


def estimate_file(path, server: str | None = None, *, config: dict | None = None,
                  allocator: str | None = None, select=None) -> Iterator[KeyMemory]:
    """Yield a :class:`KeyMemory` for every key of the RDB file at ``path``.

    ``server`` names the target (``"redis-7.2"``, ``"valkey-8.1"``); by default the server that
    wrote the file (AUX ``redis-ver`` / ``valkey-ver``).  ``config`` overrides encoding thresholds
    (``{"hash-max-listpack-entries": 1024}``); ``allocator`` the allocator ("jemalloc",
    "jemalloc16", "libc").
    """
    from ..rdb.reader import open_rdb

    with open_rdb(path, values="full") as rdb:
        yield from FileEstimates(rdb, path, server, config, allocator, select)
