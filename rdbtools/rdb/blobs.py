"""Fast walkers for the blob encodings stored inside RDB strings.

These are the hot loops of reading, kept behind one narrow interface (plain functions from
``bytes`` to lists) so a compiled implementation can replace them.  The construct grammars in
:mod:`rdbtools.format` remain the specification; tests show these walkers agree with them.

Every function raises :class:`~rdbtools.errors.FormatError` whose ``offset`` is relative to the
start of the blob; the reader rebases it onto the file.

Mirrors listpack.c (lpValidateIntegrity/lpGet), ziplist.c (zipEntrySafe), intset.c and zipmap.c.
"""

from __future__ import annotations

from struct import unpack_from

from ..errors import FormatError
from ..format.listpack import backlen_size as _backlen_size



def decode_listpack(data: bytes) -> list:
    """Elements of a listpack: ``bytes`` for strings, ``int`` for integer encodings.

    Example::

        >>> decode_listpack(bytes.fromhex("0c0000000200 816102 0101 ff"))
        [b'a', 1]
    """
    n = len(data)
    if n < 7:
        raise FormatError(f"listpack of {n} bytes is shorter than its 7-byte minimum", 0)
    total, count = unpack_from("<IH", data, 0)
    if total != n:
        raise FormatError(f"listpack header says {total} bytes but the blob has {n}", 0)
    end = n - 1
    if data[end] != 0xFF:
        raise FormatError("listpack does not end with 0xFF", end)
    out: list = []
    append = out.append
    pos = 6
    while pos < end:
        b = data[pos]
        if b < 0x80:  # 0xxxxxxx: 7-bit unsigned integer
            append(b)
            size = 1
        elif b < 0xC0:  # 10LLLLLL: string up to 63 bytes
            size = 1 + (b & 0x3F)
            append(data[pos + 1 : pos + size])
        elif b < 0xE0:  # 110xxxxx yyyyyyyy: 13-bit signed integer
            size = 2
            if pos + 2 > end:
                raise FormatError("listpack entry runs past the end", pos)
            v = ((b & 0x1F) << 8) | data[pos + 1]
            append(v - 8192 if v >= 4096 else v)
        elif b < 0xF0:  # 1110LLLL LLLLLLLL: string up to 4095 bytes
            if pos + 2 > end:
                raise FormatError("listpack entry runs past the end", pos)
            size = 2 + (((b & 0x0F) << 8) | data[pos + 1])
            append(data[pos + 2 : pos + size])
        elif b == 0xF0:  # 32-bit string length
            if pos + 5 > end:
                raise FormatError("listpack entry runs past the end", pos)
            size = 5 + unpack_from("<I", data, pos + 1)[0]
            append(data[pos + 5 : pos + size])
        elif b == 0xF1:
            size = 3
            if pos + size > end:
                raise FormatError("listpack entry runs past the end", pos)
            append(unpack_from("<h", data, pos + 1)[0])
        elif b == 0xF2:
            size = 4
            if pos + size > end:
                raise FormatError("listpack entry runs past the end", pos)
            append(int.from_bytes(data[pos + 1 : pos + 4], "little", signed=True))
        elif b == 0xF3:
            size = 5
            if pos + size > end:
                raise FormatError("listpack entry runs past the end", pos)
            append(unpack_from("<i", data, pos + 1)[0])
        elif b == 0xF4:
            size = 9
            if pos + size > end:
                raise FormatError("listpack entry runs past the end", pos)
            append(unpack_from("<q", data, pos + 1)[0])
        else:
            raise FormatError(f"invalid listpack entry encoding 0x{b:02x}", pos)
        backlen = 1 if size <= 127 else _backlen_size(size)
        nxt = pos + size + backlen
        if nxt > end:
            raise FormatError("listpack entry runs past the end", pos)
        if size <= 127:
            if data[nxt - 1] != size:
                raise FormatError(f"listpack entry back-length {data[nxt - 1]} != {size}", nxt - 1)
        elif _read_backlen(data, nxt - 1, backlen) != size:
            raise FormatError("listpack entry back-length does not match its size", nxt - backlen)
        pos = nxt
    if count != 65535 and count != len(out):
        raise FormatError(f"listpack header counts {count} entries but holds {len(out)}", 4)
    return out


def _read_backlen(data: bytes, last: int, nbytes: int) -> int:
    """The back-length ending at ``last``, which must take exactly ``nbytes`` bytes (-1 if not):
    read right to left, 7 bits a byte, every byte but the leftmost with 0x80 set."""
    value = 0
    for k in range(nbytes):
        b = data[last - k]
        if bool(b & 128) != (k < nbytes - 1):
            return -1
        value |= (b & 127) << (7 * k)
    return value


def listpack_count(header: bytes) -> int | None:
    """Element count from a listpack's first 6 bytes (None when it says 'unknown', 65535)."""
    count = unpack_from("<H", header, 4)[0]
    return None if count == 65535 else count


def decode_ziplist(data: bytes) -> list:
    """Elements of a ziplist: ``bytes`` for strings, ``int`` for integer encodings.

    Example::

        >>> decode_ziplist(bytes.fromhex("10000000 0d000000 0200 00 01 61 03 f2 ff"))
        [b'a', 1]
    """
    n = len(data)
    if n < 11:
        raise FormatError(f"ziplist of {n} bytes is shorter than its 11-byte minimum", 0)
    zlbytes, zltail, zllen = unpack_from("<IIH", data, 0)
    if zlbytes != n:
        raise FormatError(f"ziplist header says {zlbytes} bytes but the blob has {n}", 0)
    end = n - 1
    if data[end] != 0xFF:
        raise FormatError("ziplist does not end with 0xFF", end)
    out: list = []
    append = out.append
    pos = 10
    prev_size = 0
    last_start = 10
    while pos < end:
        start = pos
        b = data[pos]
        if b < 254:
            prevlen = b
            pos += 1
        elif b == 254:
            if pos + 5 > end:
                raise FormatError("ziplist entry runs past the end", start)
            prevlen = unpack_from("<I", data, pos + 1)[0]
            pos += 5
        else:
            raise FormatError("ziplist end marker 0xFF before the end of the blob", start)
        if prevlen != prev_size:
            raise FormatError(
                f"ziplist entry prevlen {prevlen} != previous entry size {prev_size}", start
            )
        if pos >= end:
            raise FormatError("ziplist entry runs past the end", start)
        e = data[pos]
        kind = e >> 6
        if kind == 0:  # 00LLLLLL
            pos += 1
            nxt = pos + (e & 0x3F)
            value = data[pos:nxt]
        elif kind == 1:  # 01LLLLLL LLLLLLLL, big-endian 14-bit length
            if pos + 2 > end:
                raise FormatError("ziplist entry runs past the end", start)
            length = ((e & 0x3F) << 8) | data[pos + 1]
            pos += 2
            nxt = pos + length
            value = data[pos:nxt]
        elif kind == 2:  # 10000000 + 32-bit big-endian length
            if e != 0x80 or pos + 5 > end:
                raise FormatError(f"invalid ziplist string encoding 0x{e:02x}", pos)
            length = unpack_from(">I", data, pos + 1)[0]
            pos += 5
            nxt = pos + length
            value = data[pos:nxt]
        else:
            pos += 1
            if e == 0xC0:
                nxt = pos + 2
                fmt = "<h"
            elif e == 0xD0:
                nxt = pos + 4
                fmt = "<i"
            elif e == 0xE0:
                nxt = pos + 8
                fmt = "<q"
            elif e == 0xF0:  # 24-bit signed (RDB 6, Redis 2.6)
                nxt = pos + 3
                fmt = None
            elif e == 0xFE:  # 8-bit signed (Redis 2.6)
                nxt = pos + 1
                fmt = "<b"
            elif 0xF1 <= e <= 0xFD:  # 4-bit immediate 0..12 (Redis 2.6)
                nxt = pos
                fmt = ""
            else:
                raise FormatError(f"invalid ziplist entry encoding 0x{e:02x}", pos - 1)
            if nxt > end:
                raise FormatError("ziplist entry runs past the end", start)
            if fmt is None:
                value = int.from_bytes(data[pos:nxt], "little", signed=True)
            elif fmt:
                value = unpack_from(fmt, data, pos)[0]
            else:
                value = (e & 0x0F) - 1
        if nxt > end:
            raise FormatError("ziplist entry runs past the end", start)
        append(value)
        prev_size = nxt - start
        last_start = start
        pos = nxt
    if out and zltail != last_start or not out and zltail != 10:
        raise FormatError(f"ziplist tail offset {zltail} does not point at the last entry", 4)
    if zllen != 65535 and zllen != len(out):
        raise FormatError(f"ziplist header counts {zllen} entries but holds {len(out)}", 8)
    return out


def ziplist_count(header: bytes) -> int | None:
    """Element count from a ziplist's first 10 bytes (None when it says 'unknown', 65535)."""
    count = unpack_from("<H", header, 8)[0]
    return None if count == 65535 else count


_INTSET_FORMATS = {2: "h", 4: "i", 8: "q"}


def decode_intset(data: bytes) -> list[int]:
    """Members of an intset, in stored (ascending) order.

    Example::

        >>> decode_intset(bytes.fromhex("02000000 02000000 0100 0200"))
        [1, 2]
    """
    n = len(data)
    if n < 8:
        raise FormatError(f"intset of {n} bytes is shorter than its 8-byte header", 0)
    width, length = unpack_from("<II", data, 0)
    code = _INTSET_FORMATS.get(width)
    if code is None:
        raise FormatError(f"invalid intset encoding {width} (must be 2, 4 or 8)", 0)
    if n != 8 + length * width:
        raise FormatError(
            f"intset of {length} members of {width} bytes needs {8 + length * width} bytes, "
            f"the blob has {n}",
            4,
        )
    if length == 0:
        raise FormatError("empty intset", 4)
    return list(unpack_from(f"<{length}{code}", data, 8))


def intset_count(header: bytes) -> int:
    return unpack_from("<I", header, 4)[0]


def decode_zipmap(data: bytes) -> list[bytes]:
    """Keys and values of a zipmap (Redis <= 2.4 hashes) as a flat list ``[k1, v1, k2, v2, ...]``.

    Example::

        >>> decode_zipmap(bytes.fromhex("01 01 61 01 00 62 ff"))
        [b'a', b'b']
    """
    n = len(data)
    if n < 2:
        raise FormatError("zipmap shorter than 2 bytes", 0)
    pos = 1  # data[0] is zmlen, a count hint only (254 = unknown)
    out: list[bytes] = []
    while True:
        if pos >= n:
            raise FormatError("zipmap has no end marker", n)
        b = data[pos]
        if b == 255:
            pos += 1
            break
        start = pos
        key_len, pos = _zipmap_len(data, pos)
        key = data[pos : pos + key_len]
        pos += key_len
        if pos >= n:
            raise FormatError("zipmap entry runs past the end", start)
        value_len, pos = _zipmap_len(data, pos)
        if pos >= n:
            raise FormatError("zipmap entry runs past the end", start)
        free = data[pos]
        pos += 1
        value = data[pos : pos + value_len]
        pos += value_len + free
        if pos > n:
            raise FormatError("zipmap entry runs past the end", start)
        out.append(key)
        out.append(value)
    if pos != n:
        raise FormatError("bytes after the zipmap end marker", pos)
    return out


def _zipmap_len(data: bytes, pos: int) -> tuple[int, int]:
    b = data[pos]
    if b < 254:
        return b, pos + 1
    if b == 254:
        if pos + 5 > len(data):
            raise FormatError("zipmap length runs past the end", pos)
        return unpack_from("<I", data, pos + 1)[0], pos + 5
    raise FormatError("unexpected zipmap end marker", pos)
