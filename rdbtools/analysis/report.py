"""Aggregations over per-key memory estimates: top keys (``rdbtool bigkeys``) and the summary
report (``rdbtool report``): by db, type, encoding, key prefix, expiry bucket, LFU/LRU hot and
cold keys, and advice with estimated savings.

Everything is accumulated in bounded memory (counters, a prefix tree cut at ``depth`` and heaps of
``top`` keys), so any number of files (all shards of a cluster) aggregate into one report.
Returns plain data (:meth:`Report.to_dict`), never prints.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from typing import Iterable

from .memory import KeyMemory, ServerProfile

__all__ = ["TopKeys", "Report", "normalise_key", "EXPIRY_BUCKETS"]

EXPIRY_BUCKETS = ("none", "expired", "< 1 h", "< 1 d", "< 7 d", "later")
_HOUR = 3600_000

_ID_RE = re.compile(rb"^(?:\d+|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                    rb"[0-9a-fA-F]{12}|[0-9a-fA-F]{16,}|[0-9A-Za-z_-]{20,})$")
_DIGITS_RE = re.compile(rb"\d+")
_CACHE_RE = re.compile(rb"(cache|session|sess|tmp|temp|token|lock|otp|ratelimit|rate)", re.I)


def normalise_key(key: bytes, separators: bytes = b":", depth: int = 3) -> list[str]:
    """The prefix path of ``key``: split at any separator byte, each part an id (digits, UUID,
    long hex or token) becomes ``*`` and other digit runs ``#``-free ``*``; at most ``depth``
    parts (the last part of a key is dropped: it names the key itself)."""
    parts: list[bytes] = [key]
    for sep in separators:
        parts = [p for part in parts for p in part.split(bytes([sep]))]
    out = []
    for part in parts[:-1][:depth]:
        if _ID_RE.match(part):
            out.append("*")
        else:
            out.append(_DIGITS_RE.sub(b"*", part).decode("utf-8", "backslashreplace"))
    return out


class TopKeys:
    """The ``n`` biggest keys by memory and by element count, overall and per type (min-heaps)."""

    def __init__(self, n: int = 10) -> None:
        self.n = n
        self._heaps: dict[tuple[str, str], list] = {}
        self._seq = 0

    def _push(self, name: tuple[str, str], score: int, k: KeyMemory) -> None:
        heap = self._heaps.get(name)
        if heap is None:
            heap = self._heaps[name] = []
        if len(heap) < self.n:
            self._seq += 1
            heapq.heappush(heap, (score, -self._seq, k))
        elif score > heap[0][0]:  # an equal score loses to the earlier key (its -seq is larger)
            self._seq += 1
            heapq.heapreplace(heap, (score, -self._seq, k))

    def add(self, k: KeyMemory) -> None:
        mem = k.memory_usage
        self._push(("memory", "all"), mem, k)
        self._push(("memory", k.type), mem, k)
        self._push(("elements", k.type), k.elements, k)

    def top(self, by: str = "memory", type_: str = "all") -> list[KeyMemory]:
        return [k for _, _, k in sorted(self._heaps.get((by, type_), []), reverse=True)]

    def types(self) -> list[str]:
        return sorted({t for (by, t) in self._heaps if t != "all"})

    def to_dict(self) -> dict:
        return {
            "by_memory": {t: [_key_row(k) for k in self.top("memory", t)] for t in ["all"] + self.types()},
            "by_elements": {t: [_key_row(k) for k in self.top("elements", t)] for t in self.types()},
        }


def _key_text(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


def _key_row(k: KeyMemory) -> dict:
    return {"db": k.db, "key": _key_text(k.key), "type": k.type, "encoding": k.encoding,
            "elements": k.elements, "memory_usage": k.memory_usage,
            "largest_element": k.largest_element, "expire_at_ms": k.expire_at_ms}


@dataclass
class _Agg:
    keys: int = 0
    memory: int = 0

    def add(self, m: int) -> None:
        self.keys += 1
        self.memory += m


@dataclass
class _Node:
    keys: int = 0
    memory: int = 0
    expiring: int = 0
    small_strings: int = 0          # string keys whose value could be a hash field
    small_string_memory: int = 0
    small_string_as_field: int = 0  # listpack bytes those values would take as fields
    children: dict = field(default_factory=dict)


class Report:
    """Accumulates :class:`KeyMemory` records; see the module docstring.

    :param separators: bytes that split key names into prefix parts.
    :param depth: prefix tree depth.
    :param top: size of every top-N list.
    :param now_ms: the snapshot time (AUX ``ctime``), for expiry buckets.
    :param profile: the target server profile (thresholds for the advice).
    """

    def __init__(self, *, separators: bytes = b":", depth: int = 3, top: int = 10,
                 now_ms: int | None = None, profile: ServerProfile | None = None) -> None:
        self.separators = separators
        self.depth = depth
        self.now_ms = now_ms
        self.profile = profile
        self.files: list[dict] = []
        self.keys = 0
        self.memory = 0
        self.by_db: dict[int, _Agg] = {}
        self.by_type: dict[str, _Agg] = {}
        self.by_encoding: dict[tuple[str, str], _Agg] = {}
        self.expiry: dict[str, _Agg] = {b: _Agg() for b in EXPIRY_BUCKETS}
        self.tree = _Node()
        self.top = TopKeys(top)
        self._hot: list = []
        self._cold: list = []
        self._long_names: list = []
        self._long_name_bytes = 0
        self._near: dict[tuple[str, str], list] = {}
        self.has_freq = False
        self.has_idle = False
        self._n = top

    # -- accumulate -------------------------------------------------------------------------
    def add_file(self, name: str, server: str, now_ms: int | None) -> None:
        self.files.append({"file": name, "server": server, "snapshot_ms": now_ms})
        if now_ms is not None and self.now_ms is None:
            self.now_ms = now_ms

    def add(self, k: KeyMemory) -> None:
        m = k.memory_usage
        self.keys += 1
        self.memory += m
        self.by_db.setdefault(k.db, _Agg()).add(m)
        self.by_type.setdefault(k.type, _Agg()).add(m)
        self.by_encoding.setdefault((k.type, k.encoding), _Agg()).add(m)
        self.expiry[self._bucket(k.expire_at_ms)].add(m)
        self.top.add(k)
        node = self.tree
        node.keys += 1
        node.memory += m
        small = k.type == "string" and k.elements <= 64 and k.key_bytes <= 64
        for part in normalise_key(k.key, self.separators, self.depth):
            node = node.children.setdefault(part, _Node())
            node.keys += 1
            node.memory += m
            node.expiring += k.expire_at_ms is not None
            if small:
                node.small_strings += 1
                node.small_string_memory += m
                # as a field of a listpack hash: field (key suffix) + value entries
                node.small_string_as_field += 2 + k.key_bytes // 2 + max(2, k.elements + 2)
        if k.freq is not None:
            self.has_freq = True
            self._keep(self._hot, (k.freq, k.memory_usage), k)
        if k.idle_s is not None:
            self.has_idle = True
            self._keep(self._cold, (k.idle_s, k.memory_usage), k)
            if k.freq is None:
                self._keep(self._hot, (-k.idle_s, k.memory_usage), k)
        if k.key_bytes > 100:
            self._long_name_bytes += k.key_bytes
            self._keep(self._long_names, (k.key_bytes,), k)
        self._near_threshold(k)

    def _keep(self, heap: list, score: tuple, k: KeyMemory) -> None:
        item = (score, id(k), k)
        if len(heap) < self._n:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)

    def _bucket(self, exp: int | None) -> str:
        if exp is None:
            return "none"
        now = self.now_ms or 0
        left = exp - now
        if left <= 0:
            return "expired"
        if left < _HOUR:
            return "< 1 h"
        if left < 24 * _HOUR:
            return "< 1 d"
        if left < 7 * 24 * _HOUR:
            return "< 7 d"
        return "later"

    def _near_threshold(self, k: KeyMemory) -> None:
        """Collections just above a compact-encoding threshold (within 2x of the entry limit)."""
        p = self.profile
        if p is None:
            return
        th = p.thresholds
        limits = {
            ("hash", "hashtable"): ("hash-max-listpack-entries", "hash-max-listpack-value"),
            ("zset", "skiplist"): ("zset-max-listpack-entries", "zset-max-listpack-value"),
            ("set", "hashtable"): ("set-max-listpack-entries", "set-max-listpack-value"),
        }.get((k.type, k.encoding))
        if limits is None:
            return
        entries, value = limits
        if th[entries] < k.elements <= 2 * th[entries] and k.largest_element <= th[value]:
            # compact size: per element ~ its listpack entry (estimated from the average size)
            per = 2 + (k.largest_element // 2 + 2) * (2 if k.type != "set" else 1)
            compact = 16 + 7 + k.elements * per
            saving = max(0, k.memory_usage - compact)
            self._near.setdefault((entries, str(_pow2_at_least(k.elements))), []).append(saving)
        elif k.elements <= th[entries] and th[value] < k.largest_element <= 2 * th[value]:
            per = 2 + (k.largest_element // 2 + 2) * (2 if k.type != "set" else 1)
            saving = max(0, k.memory_usage - (16 + 7 + k.elements * per))
            self._near.setdefault((value, str(_pow2_at_least(k.largest_element))), []).append(saving)

    # -- results --------------------------------------------------------------------------------
    def advice(self) -> list[dict]:
        out = []
        for (config, new), savings in sorted(self._near.items()):
            out.append({"kind": "threshold", "config": config, "value": int(new), "keys": len(savings),
                        "bytes_saved": int(sum(savings)),
                        "text": f"{len(savings)} keys are just above {config}; "
                                f"CONFIG SET {config} {new} keeps them compact"})
        for path, node in self._walk(self.tree, []):
            if node.small_strings >= 100 and len(path) >= 1:
                saved = node.small_string_memory - node.small_string_as_field - 96 * (node.small_strings // 100 + 1)
                if saved > 0:
                    out.append({"kind": "strings-to-hash", "prefix": ":".join(path), "keys": node.small_strings,
                                "bytes_saved": int(saved),
                                "text": f"{node.small_strings} small string keys under {':'.join(path)}:* "
                                        f"would be cheaper as fields of hashes (buckets of ≤ 100 fields)"})
            if node.keys >= 10 and node.expiring == 0 and _CACHE_RE.search(":".join(path).encode()):
                out.append({"kind": "cache-without-ttl", "prefix": ":".join(path), "keys": node.keys,
                            "bytes_saved": int(node.memory),
                            "text": f"{node.keys} keys under {':'.join(path)}:* look like a cache but "
                                    f"have no TTL ({node.memory} bytes never expire)"})
        if self._long_names:
            n = len(self._long_names)
            out.append({"kind": "long-key-names", "keys": n, "bytes_saved": int(self._long_name_bytes // 2),
                        "text": f"key names over 100 bytes ({self._long_name_bytes} bytes of names); "
                                f"shorter names save about half of that"})
        big = self.top.top("memory", "all")[:3]
        for k in big:
            if self.memory and k.memory_usage > 0.05 * self.memory:
                out.append({"kind": "big-key", "key": _key_text(k.key), "bytes_saved": 0,
                            "text": f"{_key_text(k.key)} alone holds {100 * k.memory_usage / self.memory:.1f} % "
                                    f"of the memory ({k.memory_usage} bytes)"})
        return sorted(out, key=lambda a: -a["bytes_saved"])

    def _walk(self, node: _Node, path: list[str]):
        for name, child in node.children.items():
            yield path + [name], child
            yield from self._walk(child, path + [name])

    def prefix_tree(self, min_share: float = 0.0) -> dict:
        def conv(name: str, node: _Node) -> dict:
            kids = [conv(n, c) for n, c in sorted(node.children.items(), key=lambda x: -x[1].memory)
                    if not self.memory or c.memory >= min_share * self.memory]
            d = {"name": name, "keys": node.keys, "memory": node.memory}
            if kids:
                d["children"] = kids
            return d
        return conv("(all)", self.tree)

    def to_dict(self) -> dict:
        def rows(d: dict, keyname: str) -> list[dict]:
            return [{keyname: k, "keys": a.keys, "memory": a.memory}
                    for k, a in sorted(d.items(), key=lambda x: -x[1].memory)]

        hot = [_key_row(k) | {"freq": k.freq, "idle_s": k.idle_s} for _, _, k in sorted(self._hot, reverse=True)]
        cold = [_key_row(k) | {"idle_s": k.idle_s} for _, _, k in sorted(self._cold, reverse=True)]
        return {
            "files": self.files,
            "keys": self.keys,
            "memory": self.memory,
            "by_db": rows(self.by_db, "db"),
            "by_type": rows(self.by_type, "type"),
            "by_encoding": [{"type": t, "encoding": e, "keys": a.keys, "memory": a.memory}
                            for (t, e), a in sorted(self.by_encoding.items(), key=lambda x: -x[1].memory)],
            "expiry": [{"bucket": b, "keys": self.expiry[b].keys, "memory": self.expiry[b].memory}
                       for b in EXPIRY_BUCKETS],
            "prefixes": self.prefix_tree(),
            "top_keys": self.top.to_dict(),
            "hot_keys": hot if (self.has_freq or self.has_idle) else [],
            "cold_keys": cold if self.has_idle else [],
            "advice": self.advice(),
        }


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def build_report(estimates: Iterable[KeyMemory], **kwargs) -> Report:
    r = Report(**kwargs)
    for k in estimates:
        r.add(k)
    return r

