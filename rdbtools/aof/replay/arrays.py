# rdbtools: aof/replay/arrays.py
"""The array commands of the replay (Redis 8.8, type ``array``): ARSET, ARMSET, ARINSERT,
ARRING, ARSEEK, ARDEL and ARDELRANGE — every write command of commands/ar*.json — keeping the
elements and the insert cursor (``insert_idx``) as the server keeps them.

Mirrors t_array.c @8.10.2 (arsetCommand ... ardelrangeCommand, arRingNeedsRework(),
arRingRework()).  Indexes are 0 .. 2^64-2; a value is stored as the bytes given (see
:class:`~.keyspace._Array`).
"""

from __future__ import annotations

from ...model import TYPE_ARRAY
from .args import _CmdError, _ll, _NeedsRelease
from .keyspace import AR_INDEX_MAX, _Array, _Key

U64_MAX = (1 << 64) - 1


def _strtoull(b: bytes) -> int | None:
    """string2ull() (util.c): a canonical non-negative integer, else what strtoull() takes
    whole: leading white space, a sign, digits — a negative one wrapping modulo 2^64, as C
    does ("-05" is 2^64-5)."""
    if b[:1] == b"-" and b[1:].isdigit() and b[1:2] != b"0":
        return None  # string2ll() reads a canonical negative number: out of range
    text = b.lstrip(b" \t\n\v\f\r")
    sign = 1
    if text[:1] in (b"+", b"-"):
        sign = -1 if text[:1] == b"-" else 1
        text = text[1:]
    if not text.isdigit() or not text.isascii():
        return None
    n = int(text)
    if n > U64_MAX:
        return None  # ERANGE
    return n if sign > 0 else (-n) % (1 << 64)


def _index(b: bytes, allow_max: bool = False) -> int:
    """getArrayIndexFromObject(): an index up to 2^64-2 (2^64-1 only for ARSEEK, where it is
    the terminal cursor)."""
    idx = _strtoull(b)
    if idx is None or idx > (U64_MAX if allow_max else AR_INDEX_MAX):
        raise _CmdError("invalid array index")
    return idx


class ArraysMixin:
    """The array commands.  A mixin of :class:`~.engine.Replayer`; uses the engine's ``keys``,
    ``profile`` and ``_get()``."""

    def _array(self, key: bytes, create: bool) -> _Array | None:
        if not self.profile.arrays:
            raise _NeedsRelease((8, 8), self.profile)
        k = self._get(key, TYPE_ARRAY)
        if k is None:
            if not create:
                return None
            k = self.keys[key] = _Key(TYPE_ARRAY, _Array(), "sliced-array")
        return k.value

    def _array_deleted(self, key: bytes, ar: _Array) -> None:
        if not ar.items:
            del self.keys[key]

    def c_arset(self, a):
        """ARSET key idx value [value ...]: contiguous values from idx."""
        start = _index(a[2])
        values = a[3:]
        if not values:
            raise _CmdError("wrong number of arguments")
        if start + len(values) - 1 > AR_INDEX_MAX:
            raise _CmdError("array index overflow")
        ar = self._array(a[1], True)
        for i, v in enumerate(values, start):
            ar.set(i, v)

    def c_armset(self, a):
        """ARMSET key idx value [idx value ...]: every index is checked before any is set."""
        pairs = a[2:]
        if not pairs or len(pairs) % 2:
            raise _CmdError("wrong number of arguments")
        indexes = [_index(x) for x in pairs[0::2]]
        ar = self._array(a[1], True)
        for idx, v in zip(indexes, pairs[1::2]):
            ar.set(idx, v)

    def c_arinsert(self, a):
        """ARINSERT key value [value ...]: at the cursor + 1 (0 without a cursor), which is
        left on the last value written."""
        values = a[2:]
        if not values:
            raise _CmdError("wrong number of arguments")
        ar = self._array(a[1], True)
        if ar.insert_idx is None:
            start = 0
        elif ar.insert_idx >= U64_MAX - 1:
            raise _CmdError("insert index overflow")
        else:
            start = ar.insert_idx + 1
        last = start + len(values) - 1
        if last > AR_INDEX_MAX:
            raise _CmdError("insert index overflow")
        for i, v in enumerate(values, start):
            ar.set(i, v)
        ar.insert_idx = last

    def c_arring(self, a):
        """ARRING key size value [value ...]: a ring buffer of ``size`` slots.  A size below the
        array's span, or above it once the ring has wrapped, first rebuilds the array from the
        newest contiguous run of elements ending at the cursor (arRingRework())."""
        try:
            size = _ll(a[2])
        except _CmdError:
            raise _CmdError("invalid size") from None
        if size <= 0:
            raise _CmdError("size must be positive")
        values = a[3:]
        if not values:
            raise _CmdError("wrong number of arguments")
        key = a[1]
        ar = self._array(key, True)
        span = ar.length()
        keep = 0
        if span and size < span:
            keep = size
        elif span and size > span and ar.insert_idx is not None and ar.insert_idx + 1 < span:
            keep = span
        if keep:
            ar = self._ring_rework(key, ar, span, keep)
        for v in values:
            cursor = 0 if ar.insert_idx is None else ar.insert_idx + 1
            if cursor >= size:
                cursor %= size
            ar.set(cursor, v)
            ar.insert_idx = cursor

    def _ring_rework(self, key: bytes, ar: _Array, span: int, keep: int) -> _Array:
        # walk back from the cursor (folded into the span; the tail without one) over at most
        # ``keep`` elements, stopping at the first hole, then lay them out from index 0
        anchor = span - 1 if ar.insert_idx is None else ar.insert_idx % span
        kept = []
        idx = anchor
        while len(kept) < keep:
            v = ar.items.get(idx)
            if v is None:
                break
            kept.append(v)
            idx = span - 1 if idx == 0 else idx - 1
        new = _Array()
        for i, v in enumerate(reversed(kept)):
            new.set(i, v)
        if kept:
            new.insert_idx = len(kept) - 1
        self.keys[key].value = new
        return new

    def c_arseek(self, a):
        """ARSEEK key idx: the next ARINSERT / ARRING writes at idx (0: no cursor); a missing
        key is left alone."""
        idx = _index(a[2], allow_max=True)
        ar = self._array(a[1], False)
        if ar is not None:
            ar.insert_idx = None if idx == 0 else idx - 1

    def c_ardel(self, a):
        """ARDEL key idx [idx ...]; the key goes with its last element."""
        indexes = [_index(x) for x in a[2:]]
        if not indexes:
            raise _CmdError("wrong number of arguments")
        ar = self._array(a[1], False)
        if ar is None:
            return
        for idx in indexes:
            ar.delete(idx)
        self._array_deleted(a[1], ar)

    def c_ardelrange(self, a):
        """ARDELRANGE key start end [start end ...]: inclusive ranges, either way round."""
        bounds = a[2:]
        if not bounds or len(bounds) % 2:
            raise _CmdError("wrong number of arguments")
        ranges = [sorted((_index(x), _index(y))) for x, y in zip(bounds[0::2], bounds[1::2])]
        ar = self._array(a[1], False)
        if ar is None:
            return
        for lo, hi in ranges:
            if hi - lo + 1 < len(ar.items):
                doomed = [i for i in range(lo, hi + 1) if i in ar.items]
            else:
                doomed = [i for i in ar.items if lo <= i <= hi]
            for idx in doomed:
                ar.delete(idx)
        self._array_deleted(a[1], ar)
