# rdbtools: aof/replay/lists.py
"""The list commands of the replay: LPUSH/RPUSH(X), LINSERT, LSET, LREM, LTRIM, the pops
(LPOP/RPOP with COUNT, LMPOP, and the blocking forms BLPOP/BRPOP/BLMPOP a server writes only
as plain pops since 7.0 but older AOFs may hold), LMOVE/BLMOVE and RPOPLPUSH/BRPOPLPUSH.

Mirrors t_list.c (every list is a quicklist in the RDB; no encoding to track).
"""

from __future__ import annotations

from ...model import TYPE_LIST
from .args import _CmdError, _ll, _lpos, _mpop_args
from .keyspace import _Key


class ListsMixin:
    """The list commands.  A mixin of :class:`~.engine.Replayer`; uses the engine's ``keys``,
    ``_get()`` and ``_delete_if_empty()``."""

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

    def _pop_first(self, keys: list[bytes], left: bool, count: int | None) -> None:
        """Pop from the first of ``keys`` that exists (BLPOP, BRPOP, LMPOP, BLMPOP)."""
        for key in keys:
            if self._list(key, False) is not None:
                self._pop(key, left, count)
                return

    def c_blpop(self, a):
        self._pop_first(a[1:-1], True, None)

    def c_brpop(self, a):
        self._pop_first(a[1:-1], False, None)

    def c_lmpop(self, a):
        keys, where, count = _mpop_args(a, 1)
        self._pop_first(keys, where == b"LEFT", count)

    def c_blmpop(self, a):
        keys, where, count = _mpop_args(a, 2)
        self._pop_first(keys, where == b"LEFT", count)

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
