"""LZF, the compression RDB uses for long strings and blobs (mirrors lzf_d.c / lzf_c.c in Redis).

Decompression must honour the declared uncompressed length exactly: Redis reports "Invalid LZF
compressed string" otherwise, and so do we (with the offset inside the compressed data).
"""

from __future__ import annotations

from ..errors import FormatError


def lzf_decompress(data: bytes, expected_len: int, limit: int | None = None) -> bytes:
    """Decompress LZF ``data`` that must expand to exactly ``expected_len`` bytes.

    With ``limit``, stop as soon as at least ``limit`` bytes are produced and return them (used to
    peek at a compressed blob's header without expanding all of it).

    :raises FormatError: with ``offset`` relative to the start of ``data``.

    Example::

        >>> lzf_decompress(bytes([2]) + b"abc" + bytes([0x20, 2]), 6)
        b'abcabc'
    """
    out = bytearray()
    i = 0
    n = len(data)
    olen = 0
    # one comparison per command covers both the overflow check and the optional limit
    stop = expected_len + 1 if limit is None else min(limit, expected_len + 1)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            # literal run of ctrl+1 bytes
            end = i + ctrl + 1
            if end > n:
                raise FormatError("LZF literal run past the end of the compressed data", i - 1)
            out += data[i:end]
            olen += end - i
            i = end
        else:
            # back-reference: length in the top 3 bits (7 = one more length byte follows)
            run = ctrl >> 5
            if run == 7:
                if i >= n:
                    raise FormatError("LZF back-reference cut short", i - 1)
                run += data[i]
                i += 1
            if i >= n:
                raise FormatError("LZF back-reference cut short", i - 1)
            distance = ((ctrl & 0x1F) << 8) + data[i] + 1
            i += 1
            start = olen - distance
            if start < 0:
                raise FormatError("LZF back-reference before the start of the output", i - 2)
            run += 2
            if distance >= run:
                out += out[start : start + run]
            else:
                # overlapping copy: the run repeats the last `distance` bytes
                pattern = bytes(out[start:])
                out += (pattern * (run // distance + 1))[:run]
            olen += run
        if olen >= stop:
            if olen > expected_len:
                raise FormatError(
                    f"LZF data expands past the declared {expected_len} bytes", i - 1
                )
            return bytes(out)  # `limit` bytes are available
    if olen != expected_len:
        raise FormatError(
            f"LZF data expands to {olen} bytes, the string declares {expected_len}", n
        )
    return bytes(out)


def lzf_compress(data: bytes) -> bytes | None:
    """Compress ``data`` with LZF; return None when the result would not be smaller.

    A greedy compressor with a 3-byte hash table like lzf_c.c (not byte-identical to Redis's,
    which is not needed for loading).
    """
    n = len(data)
    if n < 4:
        return None
    out = bytearray()
    table: dict[bytes, int] = {}
    lit_start = 0
    i = 0

    def flush_literals(end: int) -> None:
        pos = lit_start  # read from the enclosing scope at call time
        while pos < end:
            run = min(32, end - pos)
            out.append(run - 1)
            out.extend(data[pos : pos + run])
            pos += run

    while i + 2 < n:
        trigram = data[i : i + 3]
        ref = table.get(trigram)
        table[trigram] = i
        if ref is not None and i - ref - 1 < 8192:
            length = 3
            max_len = min(264, n - i)
            while length < max_len and data[ref + length] == data[i + length]:
                length += 1
            flush_literals(i)
            distance = i - ref - 1
            code = length - 2
            if code < 7:
                out.append((code << 5) | (distance >> 8))
            else:
                out.append((7 << 5) | (distance >> 8))
                out.append(code - 7)
            out.append(distance & 0xFF)
            i += length
            lit_start = i
        else:
            i += 1
    flush_literals(n)
    if len(out) >= n:
        return None
    return bytes(out)
