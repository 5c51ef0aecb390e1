# rdbtools: aof/replay/strings.py
"""The string commands of the replay: the SET family (SET with every option, SETNX, SETEX,
PSETEX, GETSET, GETDEL, GETEX, MSET, MSETNX), APPEND, SETRANGE, the INCR family (INCRBYFLOAT
arrives as SET ... KEEPTTL since 7.0 but is accepted raw too) and the bitmap writers SETBIT,
BITOP (8.2's DIFF/DIFF1/ANDOR/ONE included) and BITFIELD.

Mirrors t_string.c and bitops.c.
"""

from __future__ import annotations

from ...model import TYPE_STRING
from .args import I64_MAX, I64_MIN, _CmdError, _deadline, _float, _fmt_long_double, _ll
from .keyspace import _Key


class StringsMixin:
    """The string and bitmap commands; :meth:`_set` is how a string key is (re)created and
    :meth:`_set_value` how a value is stored (the HyperLogLog commands use it too).  A mixin of
    :class:`~.engine.Replayer`; uses the engine's ``keys``, ``now()`` and ``_get()``."""

    def _set(self, key: bytes, value: bytes, expire=None, keepttl=False):
        old = self.keys.get(key)
        k = _Key(TYPE_STRING, value)
        if keepttl and old is not None:
            k.expire = old.expire
        else:
            k.expire = expire
        self.keys[key] = k

    def _set_value(self, key: bytes, k: _Key | None, value: bytes) -> None:
        """Store ``value`` under ``key``, whose string key is ``k``: in place (the TTL stays), or
        as a new key when ``k`` is None."""
        if k is None:
            self._set(key, value)
        else:
            k.value = value

    def c_set(self, a):
        if len(a) == 3:  # plain SET key value: what _set does
            self.keys[a[1]] = _Key(TYPE_STRING, a[2])
            return
        key, value = a[1], a[2]
        nx = xx = keepttl = False
        expire = None
        ifeq = None
        i = 3
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
                expire = _deadline(opt, _ll(a[i + 1]), self.now)
                i += 1
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
                k.expire = _deadline(opt, _ll(a[i + 1]), self.now)
                i += 1
            i += 1

    def c_mset(self, a):
        for i in range(1, len(a) - 1, 2):
            self._set(a[i], a[i + 1])

    def c_msetnx(self, a):
        pairs = a[1:]
        if any(pairs[i] in self.keys for i in range(0, len(pairs), 2)):
            return
        self.c_mset(a)

    def _check_string_length(self, size: int) -> None:
        """checkStringLength() (t_string.c): the server refuses to grow a string past it."""
        if size > self.profile.proto_max_bulk_len:
            raise _CmdError("string exceeds maximum allowed size (proto-max-bulk-len)")

    def _bit_offset(self, text: bytes, bits: int = 1) -> int:
        """getBitOffsetFromArgument() (bitops.c): ``N`` or ``#N`` (times ``bits``), within the
        longest string the server may build."""
        try:
            offset = int(text[1:]) * bits if text.startswith(b"#") else int(text)
        except ValueError:
            offset = -1
        if offset < 0 or (offset >> 3) >= self.profile.proto_max_bulk_len or len(text) > 20:
            raise _CmdError("bit offset is not an integer or out of range")
        return offset

    def c_append(self, a):
        k = self._get(a[1], TYPE_STRING)
        if k is None:
            self._set(a[1], a[2])
        else:
            self._check_string_length(len(k.value) + len(a[2]))
            k.value = k.value + a[2]

    def c_setrange(self, a):
        key, offset, data = a[1], _ll(a[2]), a[3]
        if offset < 0:
            raise _CmdError("offset is out of range")
        if data:
            self._check_string_length(offset + len(data))
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
        self._set_value(a[1], k, v)

    # -- bitmaps (bitops.c) -------------------------------------------------------------------
    def c_setbit(self, a):
        key, offset, bit = a[1], self._bit_offset(a[2]), _ll(a[3])
        if bit not in (0, 1):
            raise _CmdError("bit is not an integer or out of range")
        k = self._get(key, TYPE_STRING)
        byte = offset >> 3
        v = bytearray(k.value if k is not None else b"")
        if len(v) <= byte:
            v += bytes(byte + 1 - len(v))
        shift = 7 - (offset & 7)
        v[byte] = (v[byte] & ~(1 << shift) & 0xFF) | (bit << shift)
        self._set_value(key, k, bytes(v))

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
            bits = int(typ[1:]) if typ[1:].isdigit() and len(typ) <= 3 else 0
            if typ[:1] not in (b"i", b"I", b"u", b"U") or not 1 <= bits <= (64 if signed else 63):
                raise _CmdError("Invalid bitfield type. Use something like i16 u8. Note that u64 "
                                "is not supported but i64 is.")
            offset = self._bit_offset(off, bits)
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
            self._set_value(key, k, bytes(v))
