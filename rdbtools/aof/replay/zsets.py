# rdbtools: aof/replay/zsets.py
"""The sorted-set commands of the replay: ZADD with its flags (GEOADD reaches the AOF as ZADD),
ZINCRBY, ZREM, the ZREMRANGEBY* trims, the pops (ZPOPMIN/MAX, ZMPOP and their blocking forms),
the storing algebra ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE and ZRANGESTORE, with the listpack /
skiplist encoding a server picks (Redis 6.2 sized a new key by its first member only).

Mirrors t_zset.c; :meth:`ZSetsMixin._store_zset` is how GEO searches store their result too.
"""

from __future__ import annotations

import math

from ...model import TYPE_SET, TYPE_ZSET
from .args import _CmdError, _float, _lex_range, _ll, _lpos, _mpop_args, _score_range
from .keyspace import _Key, _ranked

# first bytes of the ZADD flags (NX XX GT LT CH INCR), any case
_ZADD_FLAG_START = frozenset(bytes([c]) for c in b"NXGLCInxglci")


class ZSetsMixin:
    """The sorted-set commands.  A mixin of :class:`~.engine.Replayer`; uses the engine's
    ``keys``, ``profile``, ``_get()``, ``_delete_if_empty()`` and ``_remove_members()``."""

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
        self._remove_members(a[1], TYPE_ZSET, a[2:])

    def c_zremrangebyrank(self, a):
        k = self._get(a[1], TYPE_ZSET)
        if k is None:
            return
        ranked = _ranked(k)
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
        ranked = _ranked(k)
        chosen = ranked[::-1][:count] if maximum else ranked[:count]
        for m, _ in chosen:
            del k.value[m]
        self._delete_if_empty(key, k)

    def c_zpopmin(self, a):
        self._zpop(a[1], False, _ll(a[2]) if len(a) > 2 else 1)

    def c_zpopmax(self, a):
        self._zpop(a[1], True, _ll(a[2]) if len(a) > 2 else 1)

    def _zpop_first(self, keys: list[bytes], maximum: bool, count: int) -> None:
        """Pop from the first of ``keys`` that exists (BZPOPMIN, BZPOPMAX, ZMPOP, BZMPOP)."""
        for key in keys:
            if self._get(key, TYPE_ZSET) is not None:
                self._zpop(key, maximum, count)
                return

    def c_bzpopmin(self, a):
        self._zpop_first(a[1:-1], False, 1)

    def c_bzpopmax(self, a):
        self._zpop_first(a[1:-1], True, 1)

    def c_zmpop(self, a):
        keys, where, count = _mpop_args(a, 1)
        self._zpop_first(keys, where == b"MAX", count)

    def c_bzmpop(self, a):
        keys, where, count = _mpop_args(a, 2)
        self._zpop_first(keys, where == b"MAX", count)

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
        items = _ranked(k) if k is not None else []
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
