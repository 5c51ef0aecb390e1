# rdbtools: aof/replay/hyperloglog.py
"""HyperLogLog values byte for byte as the server builds them (PFADD, PFMERGE, PFCOUNT's cache).

Mirrors hyperloglog.c (Redis 4.0 - 8.2, Valkey 8 - 9; unchanged in what it writes): the 16-byte
header ``HYLL`` + encoding (0 dense, 1 sparse) + 3 unused bytes + 8-byte little-endian cached
cardinality whose top bit marks the cache invalid; 16384 6-bit registers, dense (12288 bytes,
little-endian bit packing) or sparse (ZERO ``00xxxxxx``, XZERO ``01xxxxxx yyyyyyyy``, VAL
``1vvvvvxx`` opcodes).  The sparse representation is *not* canonical — it depends on the order
in which registers were set — so :func:`sparse_set` repeats ``hllSparseSet()`` step by step:
locate the opcode, split it into at most five bytes, promote to dense when a value exceeds 32 or
the string would exceed ``hll-sparse-max-bytes``, then merge adjacent equal VAL opcodes in a
window of five opcodes starting at the previous one.

The replay's PF* commands, which store these values as strings, are :class:`HyperLogLogMixin`,
at the end.
"""

from __future__ import annotations

import math

from ...model import TYPE_STRING

__all__ = ["HyperLogLogMixin", "HLL_MAGIC", "is_hll", "create", "pfadd", "pfmerge",
           "pfcount_cached", "count", "hll_hash", "pat_len"]

HLL_P = 14
HLL_Q = 64 - HLL_P
HLL_REGISTERS = 1 << HLL_P
HLL_P_MASK = HLL_REGISTERS - 1
HLL_BITS = 6
HLL_REGISTER_MAX = (1 << HLL_BITS) - 1
HLL_HDR_SIZE = 16
HLL_DENSE_SIZE = HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) // 8
HLL_DENSE, HLL_SPARSE = 0, 1
HLL_SPARSE_VAL_MAX_VALUE = 32
HLL_SPARSE_VAL_MAX_LEN = 4
HLL_SPARSE_ZERO_MAX_LEN = 64
HLL_SPARSE_XZERO_MAX_LEN = 16384
HLL_ALPHA_INF = 0.721347520444481703680
HLL_SPARSE_MAX_BYTES = 3000  # hll-sparse-max-bytes default
HLL_MAGIC = b"HYLL"
_M64 = (1 << 64) - 1


def _murmur64a(data: bytes, seed: int = 0xADC83B19) -> int:
    m = 0xC6A4A7935BD1E995
    r = 47
    n = len(data)
    h = (seed ^ (n * m)) & _M64
    nblocks = n - (n & 7)
    for i in range(0, nblocks, 8):
        k = int.from_bytes(data[i : i + 8], "little")
        k = (k * m) & _M64
        k ^= k >> r
        k = (k * m) & _M64
        h ^= k
        h = (h * m) & _M64
    rest = n & 7
    if rest:
        for j in range(rest - 1, -1, -1):
            h ^= data[nblocks + j] << (8 * j)
        h = (h * m) & _M64
    h ^= h >> r
    h = (h * m) & _M64
    h ^= h >> r
    return h


def hll_hash(element: bytes) -> int:
    """MurmurHash64A with the seed hyperloglog.c uses."""
    return _murmur64a(element)


def pat_len(element: bytes) -> tuple[int, int]:
    """``hllPatLen()``: (register index, length of the 000..1 pattern)."""
    h = _murmur64a(element)
    index = h & HLL_P_MASK
    h >>= HLL_P
    h |= 1 << HLL_Q
    count = 1
    bit = 1
    while not h & bit:
        count += 1
        bit <<= 1
    return index, count


def is_hll(value: bytes) -> bool:
    """The header check of ``isHLLObjectOrReply()``."""
    if len(value) < HLL_HDR_SIZE or value[:4] != HLL_MAGIC or value[4] > HLL_SPARSE:
        return False
    return value[4] != HLL_DENSE or len(value) == HLL_DENSE_SIZE


def create() -> bytearray:
    """``createHLLObject()``: an empty sparse HLL (one XZERO of 16384), cache valid, count 0."""
    out = bytearray(HLL_MAGIC + bytes([HLL_SPARSE]) + bytes(11))
    left = HLL_REGISTERS
    while left:
        run = min(left, HLL_SPARSE_XZERO_MAX_LEN) - 1
        out += bytes([0x40 | (run >> 8), run & 0xFF])
        left -= run + 1
    return out


def _invalidate(hll: bytearray) -> None:
    hll[15] |= 0x80


# -- dense ----------------------------------------------------------------------------------
def _dense_get(hll: bytearray, reg: int) -> int:
    pos = reg * HLL_BITS
    byte, fb = HLL_HDR_SIZE + (pos >> 3), pos & 7
    b0 = hll[byte]
    b1 = hll[byte + 1] if byte + 1 < len(hll) else 0
    return ((b0 >> fb) | (b1 << (8 - fb))) & HLL_REGISTER_MAX


def _dense_set(hll: bytearray, reg: int, val: int) -> None:
    pos = reg * HLL_BITS
    byte, fb = HLL_HDR_SIZE + (pos >> 3), pos & 7
    hll[byte] = (hll[byte] & ~(HLL_REGISTER_MAX << fb) & 0xFF) | ((val << fb) & 0xFF)
    if fb > 2:
        nxt = byte + 1
        fb8 = 8 - fb
        hll[nxt] = (hll[nxt] & ~(HLL_REGISTER_MAX >> fb8) & 0xFF) | (val >> fb8)


def _dense_registers(hll: bytearray) -> list[int]:
    return [_dense_get(hll, i) for i in range(HLL_REGISTERS)]


def _sparse_registers(hll: bytearray) -> list[int] | None:
    regs: list[int] = []
    p, end = HLL_HDR_SIZE, len(hll)
    while p < end:
        op = hll[p]
        if op & 0xC0 == 0x00:
            regs.extend([0] * ((op & 0x3F) + 1))
            p += 1
        elif op & 0xC0 == 0x40:
            if p + 1 >= end:
                return None
            regs.extend([0] * ((((op & 0x3F) << 8) | hll[p + 1]) + 1))
            p += 2
        else:
            regs.extend([((op >> 2) & 0x1F) + 1] * ((op & 0x3) + 1))
            p += 1
    return regs if len(regs) == HLL_REGISTERS else None


def registers(hll: bytearray) -> list[int]:
    regs = _dense_registers(hll) if hll[4] == HLL_DENSE else _sparse_registers(hll)
    if regs is None:
        raise ValueError("corrupted sparse HyperLogLog")
    return regs


def _to_dense(hll: bytearray) -> None:
    """``hllSparseToDense()`` in place (the header, cached count included, is kept)."""
    if hll[4] == HLL_DENSE:
        return
    regs = registers(hll)
    header = hll[:HLL_HDR_SIZE]
    header[4] = HLL_DENSE
    hll[:] = header + bytes(HLL_DENSE_SIZE - HLL_HDR_SIZE)
    for i, v in enumerate(regs):
        if v:
            _dense_set(hll, i, v)


def _dense_set_max(hll: bytearray, reg: int, count: int) -> int:
    if count > _dense_get(hll, reg):
        _dense_set(hll, reg, count)
        return 1
    return 0


# -- sparse ---------------------------------------------------------------------------------
def _val(value: int, length: int) -> int:
    return 0x80 | ((value - 1) << 2) | (length - 1)


def _zero_run(n: int) -> bytes:
    if n > HLL_SPARSE_ZERO_MAX_LEN:
        n -= 1
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return bytes([n - 1])


def sparse_set(hll: bytearray, index: int, count: int, max_bytes: int = HLL_SPARSE_MAX_BYTES) -> int:
    """``hllSparseSet()``: 1 if the register was raised, 0 if not (may promote to dense)."""
    if count > HLL_SPARSE_VAL_MAX_VALUE:
        return _promote(hll, index, count)
    end = len(hll)
    p = HLL_HDR_SIZE
    first = 0
    prev = None
    span = 0
    while p < end:
        op = hll[p]
        oplen = 1
        if op & 0xC0 == 0x00:
            span = (op & 0x3F) + 1
        elif op & 0x80:
            span = (op & 0x3) + 1
        else:
            span = (((op & 0x3F) << 8) | hll[p + 1]) + 1
            oplen = 2
        if index <= first + span - 1:
            break
        prev = p
        p += oplen
        first += span
    if span == 0 or p >= end:
        raise ValueError("corrupted sparse HyperLogLog")
    op = hll[p]
    is_zero = op & 0xC0 == 0x00
    is_xzero = op & 0xC0 == 0x40
    is_val = bool(op & 0x80)
    runlen = span
    if is_val:
        oldcount = ((op >> 2) & 0x1F) + 1
        if oldcount >= count:
            return 0
        if runlen == 1:
            hll[p] = _val(count, 1)
            return _updated(hll, prev)
    if is_zero and runlen == 1:
        hll[p] = _val(count, 1)
        return _updated(hll, prev)
    last = first + span - 1
    seq = bytearray()
    if is_zero or is_xzero:
        if index != first:
            seq += _zero_run(index - first)
        seq.append(_val(count, 1))
        if index != last:
            seq += _zero_run(last - index)
    else:
        curval = ((op >> 2) & 0x1F) + 1
        if index != first:
            seq.append(_val(curval, index - first))
        seq.append(_val(count, 1))
        if index != last:
            seq.append(_val(curval, last - index))
    oldlen = 2 if is_xzero else 1
    delta = len(seq) - oldlen
    if delta > 0 and len(hll) + delta > max_bytes:
        return _promote(hll, index, count)
    hll[p : p + oldlen] = seq
    return _updated(hll, prev)


def _updated(hll: bytearray, prev: int | None) -> int:
    p = prev if prev is not None else HLL_HDR_SIZE
    scanlen = 5
    while p < len(hll) and scanlen:
        scanlen -= 1
        op = hll[p]
        if op & 0xC0 == 0x40:
            p += 2
            continue
        if op & 0xC0 == 0x00:
            p += 1
            continue
        if p + 1 < len(hll) and hll[p + 1] & 0x80:
            nxt = hll[p + 1]
            v1, v2 = (op >> 2) & 0x1F, (nxt >> 2) & 0x1F
            if v1 == v2:
                length = (op & 0x3) + (nxt & 0x3) + 2
                if length <= HLL_SPARSE_VAL_MAX_LEN:
                    hll[p : p + 2] = bytes([_val(v1 + 1, length)])
                    continue
        p += 1
    _invalidate(hll)
    return 1


def _promote(hll: bytearray, index: int, count: int) -> int:
    _to_dense(hll)
    _dense_set_max(hll, index, count)
    return 1


# -- commands -------------------------------------------------------------------------------
def add(hll: bytearray, element: bytes, max_bytes: int = HLL_SPARSE_MAX_BYTES) -> int:
    index, count = pat_len(element)
    if hll[4] == HLL_DENSE:
        return _dense_set_max(hll, index, count)
    return sparse_set(hll, index, count, max_bytes)


def pfadd(current: bytes | None, elements: list[bytes],
          max_bytes: int = HLL_SPARSE_MAX_BYTES) -> bytes:
    """PFADD: the new string value (``current`` None when the key does not exist)."""
    hll = create() if current is None else bytearray(current)
    updated = current is None
    for e in elements:
        updated |= bool(add(hll, e, max_bytes))
    if updated:
        _invalidate(hll)
    return bytes(hll)


def pfmerge(dest: bytes | None, sources: list[bytes | None],
            max_bytes: int = HLL_SPARSE_MAX_BYTES) -> bytes:
    """PFMERGE: ``sources`` are the values of every key named after PFMERGE (the destination
    first, None for missing keys); returns the destination's new value."""
    maxregs = [0] * HLL_REGISTERS
    use_dense = False
    for src in sources:
        if src is None:
            continue
        h = bytearray(src)
        if h[4] == HLL_DENSE:
            use_dense = True
        for i, v in enumerate(registers(h)):
            if v > maxregs[i]:
                maxregs[i] = v
    hll = create() if dest is None else bytearray(dest)
    if use_dense:
        _to_dense(hll)
        for i, v in enumerate(maxregs):
            _dense_set(hll, i, v)
    else:
        for i, v in enumerate(maxregs):
            if v == 0:
                continue
            if hll[4] == HLL_DENSE:
                _dense_set_max(hll, i, v)
            else:
                sparse_set(hll, i, v, max_bytes)
    _invalidate(hll)
    return bytes(hll)


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prime = z
        y *= 0.5
        z -= (1 - x) * (1 - x) * y
        if z_prime == z:
            return z / 3


def count(hll: bytes) -> int:
    """``hllCount()``: the estimated cardinality (Ertl's estimator, Redis 5.0+)."""
    histo = [0] * 64
    for v in registers(bytearray(hll)):
        histo[v] += 1
    m = float(HLL_REGISTERS)
    z = m * _tau((m - histo[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    e = HLL_ALPHA_INF * m * m / z
    r = math.floor(e)
    return int(r + 1 if e - r >= 0.5 else r)


def pfcount_cached(value: bytes) -> bytes:
    """PFCOUNT of one key writes the cardinality into the header when the cache is invalid."""
    if not value[15] & 0x80:
        return value
    card = count(value)
    hll = bytearray(value)
    hll[8:16] = card.to_bytes(8, "little")
    return bytes(hll)


# -- the commands --------------------------------------------------------------------------
class HyperLogLogMixin:
    """PFADD, PFMERGE and PFCOUNT (whose cached cardinality is a write: it reaches the AOF).
    A mixin of :class:`~.engine.Replayer`; uses the engine's ``keys``, ``profile`` and ``_get()``,
    and :meth:`StringsMixin._set_value <.strings.StringsMixin._set_value>`."""

    def c_pfadd(self, a):
        k = self._get(a[1], TYPE_STRING)
        value = pfadd(k.value if k is not None else None, a[2:], self.profile.hll_sparse_max_bytes)
        self._set_value(a[1], k, value)

    def c_pfmerge(self, a):
        vals = []
        for s in a[1:]:
            k = self._get(s, TYPE_STRING)
            vals.append(k.value if k is not None else None)
        value = pfmerge(vals[0], vals, self.profile.hll_sparse_max_bytes)
        self._set_value(a[1], self.keys.get(a[1]), value)

    def c_pfcount(self, a):
        if len(a) == 2:
            k = self._get(a[1], TYPE_STRING)
            if k is not None:
                k.value = pfcount_cached(k.value)
