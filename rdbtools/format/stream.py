"""Stream value grammars (RDB types 15, 19, 21, 26, 27) and the stream-node listpack semantics.

Mirrors rdbSaveObject/rdbLoadObject for OBJ_STREAM in src/rdb.c and streamAppendItem /
streamValidateListpackIntegrity in src/t_stream.c (Redis 7.4; types 26/27: 8.6.2 and 8.10.2,
rdbSaveStreamIdmpEntries / rdbLoadStreamIdmpEntries).  The layout is FORMATS.md §4.7:
listpack nodes keyed by a 16-byte master ID, then length, last ID, (v2+) first ID, max deleted
ID, entries added, then consumer groups with their PEL and consumers (v3+: active time; v5+:
the group's NACK zone after its consumers), then (v4+) the stream's IDMP state
(FORMATS-RDB13-15.md §4).

The node listpack itself is a plain listpack (:mod:`.listpack`); its meaning (master entry and
entries with flags and ID deltas) is given by :func:`decode_stream_node` /
:func:`encode_stream_node` over the element list, since a byte grammar would have to re-read
listpack elements.
"""

from __future__ import annotations

from construct import (
    Container,
    If,
    ListContainer,
    PrefixedArray,
    Struct,
)

from .constants import (
    RDB_TYPE_STREAM_LISTPACKS,
    RDB_TYPE_STREAM_LISTPACKS_2,
    RDB_TYPE_STREAM_LISTPACKS_3,
    RDB_TYPE_STREAM_LISTPACKS_4,
    RDB_TYPE_STREAM_LISTPACKS_5,
    STREAM_ITEM_FLAG_DELETED,
    STREAM_ITEM_FLAG_SAMEFIELDS,
)
from ..errors import FormatError
from .listpack import Listpack
from .primitives import (
    Blob,
    RdbLength,
    RdbLengthIn,
    RdbMillisecondTime,
    RdbString,
    StreamIdRaw,
)

__all__ = [
    "StreamIdLength",
    "StreamNode",
    "StreamNACK",
    "StreamIdmp",
    "stream_grammar",
    "decode_stream_node",
    "encode_stream_node",
    "encode_stream_entry",
    "STREAM_UINT64_MAX",
]

# entries_read of a group whose position is unknown is -1, written as 2^64-1 (Redis 7.0)
STREAM_UINT64_MAX = 2**64 - 1

# A stream ID as two length-encoded numbers (last_id, first_id, max_deleted_entry_id, group ids)
StreamIdLength = Struct("ms" / RdbLength, "seq" / RdbLength)

# A node: the master ID as a 16-byte RDB string, then the listpack as an RDB string.
StreamNode = Struct(
    "master_id" / Blob(StreamIdRaw),
    "listpack" / RdbString,
)
# The same with the listpack parsed (for tests and tools, not the hot path).
StreamNodeParsed = Struct(
    "master_id" / Blob(StreamIdRaw),
    "listpack" / Blob(Listpack),
)

# A group PEL entry: raw 16-byte ID (not an RDB string), delivery time, delivery count.
StreamNACK = Struct(
    "id" / StreamIdRaw,
    "delivery_time" / RdbMillisecondTime,
    "delivery_count" / RdbLength,
)


def _consumer(v3: bool):
    return Struct(
        "name" / RdbString,
        "seen_time" / RdbMillisecondTime,
        "active_time" / If(v3, RdbMillisecondTime),  # Redis 7.2 (type 21)
        # consumer PEL: raw IDs that must exist in the group PEL
        "pel" / PrefixedArray(RdbLength, StreamIdRaw),
    )


def _group(v2: bool, v3: bool, v5: bool):
    return Struct(
        "name" / RdbString,
        "last_id" / StreamIdLength,
        "entries_read" / If(v2, RdbLength),  # Redis 7.0 (type 19); 2^64-1 = unknown
        "pel" / PrefixedArray(RdbLength, StreamNACK),
        "consumers" / PrefixedArray(RdbLength, _consumer(v3)),
        # Redis 8.8 (type 27): the NACK zone, raw IDs of XNACKed PEL entries in zone order (oldest
        # XNACK first); each must be in the group PEL with no consumer (checked by the loader)
        "nacked" / If(v5, PrefixedArray(RdbLength, StreamIdRaw)),
    )


# Redis 8.6 (type 26): the stream's idempotent-XADD state.  The loader rejects a duration
# outside CONFIG_STREAM_IDMP_MIN/MAX_DURATION (seconds) and a size outside
# CONFIG_STREAM_IDMP_MIN/MAX_MAXSIZE (server.h @8.6.2).  Producers come in rax (pid byte) order,
# each one's IIDs in insertion order; 8.10 may write a producer with no IIDs left (all expired).
StreamIdmp = Struct(
    "idmp_duration" / RdbLengthIn(1, 86400, "stream IDMP duration"),
    "idmp_max_entries" / RdbLengthIn(1, 10000, "stream IDMP max entries"),
    "producers" / PrefixedArray(RdbLength, Struct(
        "pid" / RdbString,
        "iids" / PrefixedArray(RdbLength, Struct("iid" / RdbString, "id" / StreamIdLength)),
    )),
    "iids_added" / RdbLength,  # all-time counts
    "iids_duplicates" / RdbLength,
)

_STREAM_TYPES = (RDB_TYPE_STREAM_LISTPACKS, RDB_TYPE_STREAM_LISTPACKS_2,
                 RDB_TYPE_STREAM_LISTPACKS_3, RDB_TYPE_STREAM_LISTPACKS_4,
                 RDB_TYPE_STREAM_LISTPACKS_5)


def stream_grammar(rdb_type: int, parse_listpacks: bool = False):
    """Grammar of a stream value of type 15 (v1), 19 (v2), 21 (v3), 26 (v4) or 27 (v5).

    Absent version-dependent fields parse to ``None``.
    """
    if rdb_type not in _STREAM_TYPES:
        raise ValueError(f"not a stream type: {rdb_type}")
    v2 = rdb_type >= RDB_TYPE_STREAM_LISTPACKS_2
    v3 = rdb_type >= RDB_TYPE_STREAM_LISTPACKS_3
    v4 = rdb_type >= RDB_TYPE_STREAM_LISTPACKS_4
    v5 = rdb_type >= RDB_TYPE_STREAM_LISTPACKS_5
    return Struct(
        "nodes" / PrefixedArray(RdbLength, StreamNodeParsed if parse_listpacks else StreamNode),
        "length" / RdbLength,
        "last_id" / StreamIdLength,
        "first_id" / If(v2, StreamIdLength),
        "max_deleted_entry_id" / If(v2, StreamIdLength),
        "entries_added" / If(v2, RdbLength),
        "groups" / PrefixedArray(RdbLength, _group(v2, v3, v5)),
        "idmp" / If(v4, StreamIdmp),
    )


def _int(elements, i, what):
    if i >= len(elements):
        raise FormatError(f"stream node ends inside {what} (element {i})")
    v = elements[i]
    if not isinstance(v, int):
        raise FormatError(f"stream node {what} (element {i}) is not an integer: {v!r}")
    return v


def decode_stream_node(master_ms: int, master_seq: int, elements: list) -> Container:
    """Meaning of a stream node listpack's elements (t_stream.c streamAppendItem layout).

    Returns ``Container(count, deleted, master_fields, entries)`` where each entry is
    ``Container(ms, seq, flags, fields)`` with ``fields`` a list of ``(field, value)`` pairs;
    IDs are rebuilt from the master ID (``seq_diff`` may be negative, arithmetic mod 2^64).

    :raises FormatError: the elements do not follow the stream node layout (offset is None).
    """
    count = _int(elements, 0, "count")
    deleted = _int(elements, 1, "deleted count")
    nfields = _int(elements, 2, "master field count")
    if nfields < 0 or 3 + nfields >= len(elements):
        raise FormatError(f"stream node master entry declares {nfields} fields")
    master_fields = list(elements[3 : 3 + nfields])
    i = 3 + nfields
    if _int(elements, i, "master terminator") != 0:
        raise FormatError(f"stream node master entry terminator is {elements[i]}, not 0")
    i += 1
    entries = ListContainer()
    mask = 2**64 - 1
    while i < len(elements):
        start = i
        flags = _int(elements, i, "entry flags")
        ms = (master_ms + _int(elements, i + 1, "ms delta")) & mask
        seq = (master_seq + _int(elements, i + 2, "seq delta")) & mask
        i += 3
        if flags & STREAM_ITEM_FLAG_SAMEFIELDS:
            values = elements[i : i + nfields]
            if len(values) != nfields:
                raise FormatError(f"stream entry at element {start} is cut short")
            fields = list(zip(master_fields, values))
            i += nfields
        else:
            n = _int(elements, i, "entry field count")
            flat = elements[i + 1 : i + 1 + 2 * n]
            if n < 0 or len(flat) != 2 * n:
                raise FormatError(f"stream entry at element {start} is cut short")
            fields = list(zip(flat[::2], flat[1::2]))
            i += 1 + 2 * n
        lp_count = _int(elements, i, "entry lp-count")
        if lp_count != i - start:
            raise FormatError(
                f"stream entry at element {start} has lp-count {lp_count}, expected {i - start}"
            )
        i += 1
        entries.append(Container(ms=ms, seq=seq, flags=flags, fields=fields))
    live = sum(1 for e in entries if not e.flags & STREAM_ITEM_FLAG_DELETED)
    if live != count or len(entries) - live != deleted:
        raise FormatError(
            f"stream node counts {count} live / {deleted} deleted entries, holds "
            f"{live} / {len(entries) - live}"
        )
    return Container(count=count, deleted=deleted, master_fields=master_fields, entries=entries)


def encode_stream_node(master_ms: int, master_seq: int, master_fields: list, entries) -> list:
    """Inverse of :func:`decode_stream_node`: the listpack elements of a node.

    ``entries`` are ``Container(ms, seq, flags, fields)``; the SAMEFIELDS flag is recomputed
    from the fields (as streamAppendItem does), the DELETED flag is kept.
    """
    live = sum(1 for e in entries if not e.flags & STREAM_ITEM_FLAG_DELETED)
    out = [live, len(entries) - live, len(master_fields), *master_fields, 0]
    master_fields = list(master_fields)
    for e in entries:
        out += encode_stream_entry(master_ms, master_seq, master_fields, e.ms, e.seq, e.flags,
                                   e.fields)
    return out


def encode_stream_entry(master_ms: int, master_seq: int, master_fields: list, ms: int, seq: int,
                        flags: int, fields: list) -> list:
    """The listpack elements of one entry of a node (streamAppendItem): flags, ID deltas from
    the master ID, then the values alone when the field names are the master's (SAMEFIELDS,
    recomputed; DELETED is kept), else the field count and the pairs; last the lp-count."""
    flags &= STREAM_ITEM_FLAG_DELETED
    if [f for f, _ in fields] == master_fields:
        flags |= STREAM_ITEM_FLAG_SAMEFIELDS
    ms_diff = _signed64(ms - master_ms)
    seq_diff = _signed64(seq - master_seq)
    if flags & STREAM_ITEM_FLAG_SAMEFIELDS:
        body = [v for _, v in fields]
        return [flags, ms_diff, seq_diff, *body, 3 + len(body)]
    flat = [x for pair in fields for x in pair]
    return [flags, ms_diff, seq_diff, len(fields), *flat, 4 + len(flat)]


def _signed64(v: int) -> int:
    v &= 2**64 - 1
    return v - 2**64 if v >= 2**63 else v
