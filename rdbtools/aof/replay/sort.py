# rdbtools: aof/replay/sort.py
"""SORT ... STORE for the replay: SORT is propagated verbatim (a SORT without STORE writes
nothing), so the engine sorts as the server did — numeric or ALPHA, BY and GET patterns
(``*`` and ``key->field``), LIMIT, the nosort order — and stores the list.

Mirrors sort.c (sortCommandGeneric, lookupKeyByPattern).
"""

from __future__ import annotations

from ...model import TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET
from .args import _CmdError, _ll, _strtod
from .keyspace import _Key, _ranked


class SortMixin:
    """SORT with STORE.  A mixin of :class:`~.engine.Replayer`; uses the engine's ``keys``."""

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
            elements = [m for m, _ in _ranked(k)]
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
