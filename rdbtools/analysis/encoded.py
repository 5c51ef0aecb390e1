"""Sizes of Redis's compact encodings, computed from the elements without building them.

Mirrors the size rules of listpack.c (``lpEncodeGetType``, ``lpEncodeBacklen``), ziplist.c
(``zipStoreEntryEncoding``, ``zipStorePrevEntryLength``, ``zipTryEncoding``) and intset.c
(``_intsetValueEncoding``), plus the allocator size classes of jemalloc and glibc malloc, and
``rax_node_count`` / ``rax_node_lengths``: the nodes of a rax (rax.c) holding a set of keys.
"""

from __future__ import annotations
from ..format.listpack import backlen_size

__all__ = [
    "jemalloc_size", "libc_size", "listpack_size", "listpack_entry_size", "ziplist_size",
    "intset_size", "string_to_int", "rax_node_count", "rax_node_lengths", "sds_header",
]

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def jemalloc_size(n: int, quantum: int = 8) -> int:
    """jemalloc 5 usable size of an ``n``-byte allocation: four size classes per power of two,
    with ``quantum`` the smallest spacing (8 for Redis's bundled jemalloc, built with
    ``--with-lg-quantum=3``; 16 for distribution builds of jemalloc)."""
    if n <= 8:
        return 8
    step = max(quantum, 1 << ((n - 1).bit_length() - 3))
    return (n + step - 1) // step * step


def libc_size(n: int) -> int:
    """glibc ``malloc_usable_size``: 16-byte chunks with an 8-byte header, at least 24 usable."""
    if n <= 24:
        return 24
    return ((n + 8 + 15) & ~15) - 8


def string_to_int(s: bytes) -> int | None:
    """The integer ``s`` spells canonically (util.c ``string2ll``: no sign on 0, no leading
    zeros, no spaces, at most 20 characters, in int64 range), else None."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    c = s[0]
    if c == 45:  # '-'
        if n == 1 or s[1] == 48:
            return None
    elif c == 48:
        return 0 if n == 1 else None
    elif not 49 <= c <= 57:
        return None
    if n > 1 and not s[1:].isdigit():
        return None
    v = int(s)
    if v < _I64_MIN or v > _I64_MAX:
        return None
    return v


def listpack_entry_size(e: bytes | int) -> int:
    """Bytes of one listpack entry: encoding + data + backlen (listpack.c)."""
    v = e if e.__class__ is int else string_to_int(e)  # type: ignore[arg-type]
    if v is not None:
        if 0 <= v <= 127:
            return 2
        if -4096 <= v <= 4095:
            return 3
        if -32768 <= v <= 32767:
            return 4
        if -8388608 <= v <= 8388607:
            return 5
        if -2147483648 <= v <= 2147483647:
            return 6
        return 10
    n = len(e)  # type: ignore[arg-type]
    if n < 64:
        size = 1 + n
    elif n < 4096:
        size = 2 + n
    else:
        size = 5 + n
    return size + backlen_size(size)


def listpack_size(elements) -> int:
    """Total bytes of a listpack holding ``elements`` (6-byte header, entries, end byte)."""
    return 7 + sum(map(listpack_entry_size, elements))


def ziplist_size(elements) -> int:
    """Total bytes of a ziplist holding ``elements`` (10-byte header, entries, end byte)."""
    total = 11
    prev = 0
    for e in elements:
        n = len(e) if e.__class__ is not int else 0
        v = e if e.__class__ is int else (string_to_int(e) if 0 < n < 32 else None)
        if v is not None:
            if 0 <= v <= 12:
                body = 1
            elif -128 <= v <= 127:
                body = 2
            elif -32768 <= v <= 32767:
                body = 3
            elif -8388608 <= v <= 8388607:
                body = 4
            elif -2147483648 <= v <= 2147483647:
                body = 5
            else:
                body = 9
        elif n <= 63:
            body = 1 + n
        elif n <= 16383:
            body = 2 + n
        else:
            body = 5 + n
        size = body + (1 if prev < 254 else 5)
        total += size
        prev = size
    return total


def intset_size(values) -> int:
    """Bytes of an intset of ``values``: 8-byte header + the widest encoding times the count."""
    width = 2
    n = 0
    for v in values:
        n += 1
        if width < 8 and not -32768 <= v <= 32767:
            width = 4 if -2147483648 <= v <= 2147483647 and width < 8 else 8
    return 8 + width * n


def sds_header(n: int, *, type5: bool = True) -> int:
    """sds.c header bytes for a string of ``n`` bytes (``sdsReqType``): sdshdr5 for < 32 bytes
    (when allowed: empty strings and strings meant to grow use sdshdr8), 8/16/32/64 above."""
    if n < 32 and type5 and n:
        return 1
    if n < 256:
        return 3
    if n < 65536:
        return 5
    if n < 1 << 32:
        return 9
    return 17


def rax_node_count(keys) -> int:
    """Nodes of a rax (rax.c) holding ``keys``: the root, every branching point, every child of a
    branching point and every key's own node; runs of single-child positions are compressed into
    one node.  ``keys`` need not be sorted."""
    ks = sorted(set(keys))
    if not ks:
        return 1
    starts = set(ks)
    branch = set()
    for a, b in zip(ks, ks[1:]):
        n = min(len(a), len(b))
        lcp = 0
        while lcp < n and a[lcp] == b[lcp]:
            lcp += 1
        branch.add(a[:lcp])
        if lcp < len(a):
            starts.add(a[: lcp + 1])
        starts.add(b[: lcp + 1])
    starts |= branch
    starts.add(b"")
    return len(starts)


def rax_node_lengths(keys, value: bool = True, fixed: bool = False) -> list[int]:
    """Byte lengths (``raxNodeCurrentLength``) of every node of a rax (rax.c) holding ``keys``.
    A run shared by all keys below a node is one compressed node; a position where keys differ
    is a branching node with one child pointer per distinct byte; a node where a key ends is
    flagged as a key and carries the value pointer (``value``; none for NULL values) after its
    children.  ``fixed``: a rax of equal-length keys made with ``keyFixedLen`` (Redis 8.10
    stream ID trees), whose leaves are not allocated: the value sits in the parent's child slot."""
    ks = sorted(set(keys))
    out: list[int] = []
    if not ks:
        return [4 + 4]  # empty root: header + padding
    aux = 8 if value else 0

    def pad(size: int) -> int:
        return (8 - ((size + 4) % 8)) & 7

    stack = [(0, len(ks), 0)]
    while stack:
        lo, hi, depth = stack.pop()
        is_key = len(ks[lo]) == depth  # sorted: a key ending here comes first
        if is_key:
            lo += 1
        if lo == hi:  # a leaf: the key's own node
            if not fixed:
                out.append(4 + 4 + aux)
            continue
        first, last = ks[lo], ks[hi - 1]
        n = min(len(first), len(last))
        c = depth
        while c < n and first[c] == last[c]:
            c += 1
        if c > depth:  # compressed run, one child
            size = c - depth
            out.append(4 + size + pad(size) + 8 + (aux if is_key else 0))
            stack.append((lo, hi, c))
            continue
        groups = []
        start = lo
        for i in range(lo + 1, hi + 1):
            if i == hi or ks[i][depth] != ks[start][depth]:
                groups.append((start, i))
                start = i
        size = len(groups)
        out.append(4 + size + pad(size) + 8 * size + (aux if is_key else 0))
        for a, b in groups:
            stack.append((a, b, depth + 1))
    return out
