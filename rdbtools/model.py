"""The object model every rdbtools reader produces and every writer, dump and report consumes.

One :class:`Entry` per key, plus the file-level records a snapshot carries around the keys (AUX
fields, function libraries, module aux data, slot info).  Values use plain Python containers so
that reading stays cheap:

========  ====================================================================================
type      ``Entry.value``
========  ====================================================================================
string    ``bytes``
list      ``list[bytes]`` head to tail
set       ``list[bytes]`` in file order
zset      ``list[tuple[bytes, float]]`` in file order (Redis writes skiplists highest first)
hash      ``list[tuple[bytes, bytes]]`` in file order; field TTLs in ``Entry.field_expire_at_ms``
stream    :class:`Stream`
array     ``list[tuple[int, bytes]]`` (index, value) ascending; the insert cursor in
          ``Entry.array_next_insert_index`` (Redis 8.8)
gcra      ``int``: the theoretical arrival time in Unix microseconds (type 33, compiled out of
          every default Redis build)
module    :class:`ModuleValue` (kept raw, like fontTools' DefaultTable)
========  ====================================================================================

Template hashes (Redis 8.10 "compact hashes", types 29-32) are ordinary hashes here: their
values come back paired with the template's field names.  Module key metadata (Redis 8.6 opcode
243) rides on the key as ``Entry.key_meta``.

Integers stored in integer encodings (intsets, ziplist/listpack integers, int-encoded strings)
come back as their canonical decimal text, exactly what the server returns for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Union

__all__ = ["StreamId", "TYPE_STRING", "TYPE_LIST", "TYPE_SET", "TYPE_ZSET", "TYPE_HASH",
           "TYPE_STREAM", "TYPE_ARRAY", "TYPE_GCRA", "TYPE_MODULE", "VALUE_TYPES", "StreamEntry",
           "StreamPendingEntry", "StreamConsumer", "StreamGroup", "StreamIdmpProducer",
           "StreamIdmp", "Stream", "ModuleValue", "RawValue", "KeyMeta", "Value", "Entry", "Aux",
           "SelectDb", "ResizeDb", "Function", "ModuleAux", "SlotInfo", "HashTemplate", "Record"]

StreamId = tuple[int, int]
"""A stream entry ID as ``(milliseconds, sequence)``."""

TYPE_STRING = "string"
TYPE_LIST = "list"
TYPE_SET = "set"
TYPE_ZSET = "zset"
TYPE_HASH = "hash"
TYPE_STREAM = "stream"
TYPE_ARRAY = "array"  # Redis 8.8
TYPE_GCRA = "gcra"  # Redis 8.10 source, behind -DENABLE_GCRA
TYPE_MODULE = "module"
VALUE_TYPES = (TYPE_STRING, TYPE_LIST, TYPE_SET, TYPE_ZSET, TYPE_HASH, TYPE_STREAM, TYPE_ARRAY,
               TYPE_GCRA, TYPE_MODULE)


@dataclass(slots=True)
class StreamEntry:
    """One live stream entry: its ID and its field/value pairs in order."""

    id: StreamId
    fields: list[tuple[bytes, bytes]]


@dataclass(slots=True)
class StreamPendingEntry:
    """An entry of a consumer group's pending entries list (PEL).  ``consumer`` is None for an
    entry in the group's NACK zone (XNACK, Redis 8.8): it is pending but owned by no consumer."""

    id: StreamId
    consumer: bytes | None
    delivery_time_ms: int
    delivery_count: int


@dataclass(slots=True)
class StreamConsumer:
    """A consumer of a group.  ``active_time_ms`` is None before RDB stream v3 (Redis 7.2)."""

    name: bytes
    seen_time_ms: int
    active_time_ms: int | None
    pending: list[StreamId]


@dataclass(slots=True)
class StreamGroup:
    """A consumer group.  ``entries_read`` is None when the server does not know it.
    ``nacked`` lists the IDs of the group's NACK zone in zone order (oldest XNACK first); it is
    None for streams stored before RDB stream v5 (type 27, Redis 8.8)."""

    name: bytes
    last_id: StreamId
    entries_read: int | None
    pending: list[StreamPendingEntry]
    consumers: list[StreamConsumer]
    nacked: list[StreamId] | None = None


@dataclass(slots=True)
class StreamIdmpProducer:
    """One IDMP producer of a stream: its id and its recorded idempotency ids, each with the
    stream entry it produced, in insertion order."""

    pid: bytes
    iids: list[tuple[bytes, StreamId]]


@dataclass(slots=True)
class StreamIdmp:
    """A stream's idempotent-XADD state (RDB stream v4, type 26, Redis 8.6): the XCFGSET
    settings, the producers in the file's order and the all-time counters."""

    duration_s: int
    max_size: int
    producers: list[StreamIdmpProducer]
    iids_added: int
    iids_duplicates: int


@dataclass(slots=True)
class Stream:
    """A stream value.  ``first_id``, ``max_deleted_id`` and ``entries_added`` are stored from RDB
    stream v2 (Redis 7.0) on; for v1 files they are derived the way Redis derives them on load."""

    entries: list[StreamEntry]
    length: int
    last_id: StreamId
    first_id: StreamId
    max_deleted_id: StreamId
    entries_added: int
    groups: list[StreamGroup]
    idmp: StreamIdmp | None = None


@dataclass(slots=True)
class ModuleValue:
    """A module value, kept as the exact bytes the file holds after the type byte (module id,
    typed opcodes, EOF), so it can be written back or turned into a DUMP payload unchanged."""

    module_name: str
    encver: int
    module_id: int
    raw: bytes


@dataclass(slots=True)
class RawValue:
    """A value kept as the exact bytes that follow the key in the file (the value's encoding is
    ``Entry.rdb_type``), read without decoding so a writer can copy it unchanged."""

    data: bytes


@dataclass(slots=True)
class KeyMeta:
    """One class of module key metadata on a key (opcode 243, Redis 8.6).  ``class_name`` (4
    characters), ``version`` (0-31) and ``flags`` (bit 0 = ALLOW_IGNORE: a server without the
    class drops it on load) are decoded from the class spec; ``raw`` is the exact bytes from the
    4-byte class spec through the module-typed values and their EOF, as the file holds them."""

    class_name: str
    version: int
    flags: int
    raw: bytes


Value = Union[
    bytes,
    list[bytes],
    list[tuple[bytes, float]],
    list[tuple[bytes, bytes]],
    list[tuple[int, bytes]],
    int,
    Stream,
    ModuleValue,
    RawValue,
    Iterator,
    None,
]


@dataclass(slots=True)
class Entry:
    """One key and its value.

    Accessible attributes: ``db``, ``key`` (bytes), ``type`` (one of :data:`VALUE_TYPES`),
    ``value`` (see the module docstring; None in a sizes-only read; an iterator in a streaming
    read), ``expire_at_ms`` (absolute Unix ms or None), ``rdb_type`` (the on-disk type code),
    ``idle_s`` / ``freq`` (LRU idle seconds / LFU counter when the file has them),
    ``field_expire_at_ms`` (hash field -> absolute Unix ms, for fields with a TTL),
    ``length`` (elements; bytes for a string; entries for a stream), ``offset`` and ``size``
    (where the record starts in the file and how many bytes it occupies),
    ``array_next_insert_index`` (an array's ARINSERT cursor + 1, None when it has none) and
    ``key_meta`` (module key metadata, None when the key has none).
    """

    db: int
    key: bytes
    type: str
    value: Value
    expire_at_ms: int | None = None
    rdb_type: int = 0
    idle_s: int | None = None
    freq: int | None = None
    field_expire_at_ms: dict[bytes, int] | None = None
    length: int = 0
    offset: int = 0
    size: int = 0
    array_next_insert_index: int | None = None
    key_meta: list[KeyMeta] | None = None


@dataclass(slots=True)
class Aux:
    """An AUX field (``redis-ver``, ``ctime``, ``aof-base``, ...)."""

    key: bytes
    value: bytes


@dataclass(slots=True)
class SelectDb:
    db: int


@dataclass(slots=True)
class ResizeDb:
    """Sizing hints for the current database (not authoritative)."""

    db_size: int
    expires_size: int


@dataclass(slots=True)
class Function:
    """A function library (FUNCTION2 opcode, Redis 7.0): its complete source code."""

    code: bytes

    @property
    def engine(self) -> str | None:
        first = self.code.split(b"\n", 1)[0]
        if not first.startswith(b"#!"):
            return None
        return first[2:].split(None, 1)[0].decode("utf-8", "replace") if first[2:].strip() else None

    @property
    def library_name(self) -> str | None:
        first = self.code.split(b"\n", 1)[0]
        for word in first.split()[1:]:
            if word.startswith(b"name="):
                return word[5:].decode("utf-8", "replace")
        return None


@dataclass(slots=True)
class ModuleAux:
    """Module aux data (MODULE_AUX opcode, Redis 5.0), kept raw: ``raw`` is the bytes after the
    module id and ``when`` (1 = before the keyspace, 2 = after)."""

    module_name: str
    encver: int
    module_id: int
    when: int
    raw: bytes


@dataclass(slots=True)
class SlotInfo:
    """Per-slot key counts (SLOT_INFO opcode, Redis 7.4 cluster mode; ``slot-info`` AUX field in
    Valkey 8.0+)."""

    slot: int
    keys: int
    expires: int


@dataclass(slots=True)
class HashTemplate:
    """A hash template (opcode 242, Redis 8.10): the saving server's template id and its field
    names in template order (shorter names first, then bytewise).  Type 30/32 hashes refer to it
    by ``tid``; readers return those hashes as ordinary field/value pairs."""

    tid: int
    fields: list[bytes]


Record = Union[Entry, Aux, SelectDb, ResizeDb, Function, ModuleAux, SlotInfo, HashTemplate]
