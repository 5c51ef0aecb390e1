# rdbtools: aof/replay/sets.py
"""The set commands of the replay: SADD, SREM (SPOP reaches the AOF as SREM), SMOVE and the
storing set algebra SINTERSTORE, SUNIONSTORE, SDIFFSTORE, with the encoding a server picks:
intset while every member is an integer, listpack (Redis 7.2+ and Valkey) while small, else
hashtable, each conversion one-way.

Mirrors t_set.c (setTypeCreate, setTypeAdd, setTypeMaybeConvert).
"""

from __future__ import annotations

from ...model import TYPE_SET
from .args import _strict_int
from .keyspace import _Key


class SetsMixin:
    """The set commands.  A mixin of :class:`~.engine.Replayer`; uses the engine's ``keys``,
    ``profile``, ``_get()``, ``_delete_if_empty()`` and ``_remove_members()``."""

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
        self._remove_members(a[1], TYPE_SET, a[2:])

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
