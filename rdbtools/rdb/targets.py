"""Write targets: which server a file is written for, and everything that follows from it.

One table (:data:`TARGETS`) maps a server release to its RDB version, header magic, the default
encoding thresholds of its config.c, and the features its loader understands.  Every writer
decision (which type code, which blob encoding, what is a loss) is asked of a :class:`Target`,
never of a version number spread around the code.  The memory analysis and the AOF replay
take their default thresholds from here too, and keep only their own facts (memory accounting,
replay behaviour) in their profiles.

Sources: FORMATS.md §1.1 (versions and magic), §3 (type codes), §9 (thresholds), §10 (what each
release loads), FORMATS-RDB13-15.md §1 (Redis 8.6 / 8.8 / 8.10: RDB 13 / 14 / 15, read from the
8.6.2 and 8.10.2 source trees; 8.8 inferred), confirmed against the corpus files each server
wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from ..format import constants as C

__all__ = ["Target", "Thresholds", "TARGETS", "BUILTIN_MODULE_TYPES", "builtin_modules_of",
           "builtin_module_release", "get_target", "target_names", "target_for_file",
           "config_name"]

# Node size limits of list-max-listpack-size -1 .. -5 (quicklist.c optimization_level)
LIST_NODE_BYTES = {-1: 4096, -2: 8192, -3: 16384, -4: 32768, -5: 65536}
# quicklist.c SIZE_SAFETY_LIMIT: a node holding a count-limited fill never grows past this
LIST_SIZE_SAFETY_LIMIT = 8192

# Module types some server release has built in (no --loadmodule), with the server family and
# first release having each: vector sets (type name "vectorset", modules/vector-sets), Redis
# 8.0.  A server without it refuses a file holding such a value ("no matching module type
# 'vectorset'"): older Redis, Valkey.
BUILTIN_MODULE_TYPES: Mapping[str, tuple[str, tuple[int, int]]] = MappingProxyType(
    {"vectorset": ("redis", (8, 0))})


def builtin_modules_of(server: str, version: str) -> frozenset[str]:
    """The module types of :data:`BUILTIN_MODULE_TYPES` that release ``version`` (``"8.0.2"``)
    of ``server`` (``"redis"``, ``"valkey"``) has built in."""
    release = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    return frozenset(name for name, (family, since) in BUILTIN_MODULE_TYPES.items()
                     if family == server and release >= since)


def builtin_module_release(name: str) -> str:
    """The first release with module type ``name`` built in, as text (``"Redis 8.0"``)."""
    family, since = BUILTIN_MODULE_TYPES[name]
    return f"{family.capitalize()} {'.'.join(map(str, since))}"

# Config names of 7.0+ (the ziplist names of <= 6.2 are aliases accepted by every 7.x server)
_ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
}


def config_name(name: str) -> str:
    """The 7.0+ config name of an encoding threshold (``hash-max-ziplist-entries`` ->
    ``hash-max-listpack-entries``); other names are returned as they are."""
    return _ALIASES.get(name, name)


@dataclass(frozen=True)
class Thresholds:
    """The encoding thresholds a server applies (config.c defaults, the same 3.2 - 9.x).

    Attribute names are the 7.0+ config names with ``_`` for ``-``; :meth:`with_config` takes the
    config names themselves (``hash-max-ziplist-entries`` and the other <= 6.2 aliases too).
    """

    hash_max_listpack_entries: int = 512
    hash_max_listpack_value: int = 64
    set_max_intset_entries: int = 512
    set_max_listpack_entries: int = 128  # Redis 7.2
    set_max_listpack_value: int = 64  # Redis 7.2
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64
    list_max_listpack_size: int = -2
    stream_node_max_bytes: int = 4096
    stream_node_max_entries: int = 100
    # not an encoding threshold but the same kind of config: a server refuses a file with a
    # database number at or above it ("created with a Redis server configured to handle more
    # than N databases")
    databases: int = 16

    def with_config(self, config: Mapping[str, int | str]) -> "Thresholds":
        """A copy with some thresholds overridden by config name.

        :raises ValueError: unknown name, non-integer value, or a list size of 0 or below -5.
        """
        changes = {}
        for name, value in config.items():
            attr = config_name(name).replace("-", "_")
            if attr not in self.__dataclass_fields__:
                raise ValueError(f"unknown encoding threshold {name!r}; known: "
                                 f"{', '.join(f.replace('_', '-') for f in self.__dataclass_fields__)}")
            try:
                changes[attr] = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be an integer, not {value!r}") from None
        size = changes.get("list_max_listpack_size", self.list_max_listpack_size)
        if size == 0 or size < -5:
            raise ValueError(f"list-max-listpack-size {size}: must be positive or -1 .. -5")
        return replace(self, **changes)

    @property
    def list_node_bytes(self) -> int:
        """Byte limit of a packed list node."""
        size = self.list_max_listpack_size
        return LIST_NODE_BYTES[size] if size < 0 else LIST_SIZE_SAFETY_LIMIT


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Target:
    """A server a file is written for.

    Accessible attributes: ``name`` (``"redis-7.4"``, ``"rdb-11"``), ``server`` (``"redis"`` or
    ``"valkey"``), ``version`` (release as text, written to the ``redis-ver``/``valkey-ver`` AUX
    field), ``rdb_version``, ``thresholds``, ``builtin_modules`` (the module types of
    :data:`BUILTIN_MODULE_TYPES` the release has built in: ``vectorset`` from Redis 8.0, a
    matter of the release, not of the RDB version: Redis 7.4 and 8.2 both write RDB 12; an
    ``rdb-N`` target has those of every release writing N, see :func:`get_target`),
    ``magic`` (the 9-byte header) and the feature properties below, all derived from the RDB
    version and the server family.
    """

    name: str
    server: str
    version: str
    rdb_version: int
    thresholds: Thresholds = field(default=DEFAULT_THRESHOLDS)
    builtin_modules: frozenset[str] = frozenset()

    def with_thresholds(self, config: Mapping[str, int | str]) -> "Target":
        """This target with some encoding thresholds overridden (see :meth:`Thresholds.with_config`)."""
        return replace(self, thresholds=self.thresholds.with_config(config)) if config else self

    @property
    def thresholds_are_default(self) -> bool:
        return self.thresholds == DEFAULT_THRESHOLDS

    @property
    def valkey(self) -> bool:
        """Type codes 22+ follow Valkey's table (VALKEY magic)."""
        return self.rdb_version >= C.VALKEY_MAGIC_MIN_VERSION

    @property
    def magic(self) -> bytes:
        # Valkey 9.0 writes "VALKEY" + 3 digits for versions above 79 (valkey rdb.h)
        if self.valkey:
            return b"VALKEY%03d" % self.rdb_version
        return b"REDIS%04d" % self.rdb_version

    @property
    def version_aux(self) -> bytes:
        """The AUX field naming the writer: Valkey 7.2.4+ writes ``valkey-ver``."""
        return b"valkey-ver" if self.server == "valkey" else b"redis-ver"

    # -- features ------------------------------------------------------------------------
    @property
    def listpacks(self) -> bool:
        """Listpack hashes/zsets (16, 17) and quicklist v2 (18): RDB 10, Redis 7.0."""
        return self.rdb_version >= 10

    @property
    def set_listpack(self) -> bool:
        """Listpack sets (20): RDB 11, Redis 7.2."""
        return self.rdb_version >= 11

    @property
    def stream_type(self) -> int:
        """The stream type this target writes for every stream: 15 (5.0-6.2), 19 (7.0), 21
        (7.2-8.2, Valkey), 26 (8.6, with IDMP state), 27 (8.8+, also the NACK zones)."""
        if self.rdb_version >= 14 and not self.valkey:
            return C.RDB_TYPE_STREAM_LISTPACKS_5
        if self.rdb_version == 13:
            return C.RDB_TYPE_STREAM_LISTPACKS_4
        if self.rdb_version >= 11:
            return C.RDB_TYPE_STREAM_LISTPACKS_3
        if self.rdb_version == 10:
            return C.RDB_TYPE_STREAM_LISTPACKS_2
        return C.RDB_TYPE_STREAM_LISTPACKS

    @property
    def field_ttl_types(self) -> tuple[int, int] | None:
        """(hashtable type, listpack type) for hashes with field TTLs, or None when the target
        cannot hold field TTLs.  Redis 7.4 (RDB 12): 24 and 25; Valkey 9.0 (RDB 80): 22 for both,
        Valkey never keeps volatile fields in a listpack."""
        if self.valkey:
            return (C.RDB_TYPE_VALKEY_HASH_2, C.RDB_TYPE_VALKEY_HASH_2)
        if self.rdb_version >= 12:
            return (C.RDB_TYPE_HASH_METADATA, C.RDB_TYPE_HASH_LISTPACK_EX)
        return None

    @property
    def stream_idmp(self) -> bool:
        """Streams carry their IDMP (idempotent XADD) state: type 26+, Redis 8.6."""
        return self.stream_type >= C.RDB_TYPE_STREAM_LISTPACKS_4

    @property
    def stream_nack(self) -> bool:
        """Consumer groups carry a NACK zone (XNACK; PEL entries without a consumer): type 27,
        Redis 8.8."""
        return self.stream_type >= C.RDB_TYPE_STREAM_LISTPACKS_5

    @property
    def arrays(self) -> bool:
        """Array values (type 28): Redis 8.8 (RDB 14, inferred; 8.10 writes RDB 15)."""
        return self.rdb_version >= 14 and not self.valkey

    @property
    def key_meta(self) -> bool:
        """Module key metadata (opcode 243 KEY_META): RDB 13, Redis 8.6.  Valkey's 243 is
        SLOT_IMPORT."""
        return self.rdb_version >= 13 and not self.valkey

    @property
    def functions(self) -> bool:
        """FUNCTION2 records: RDB 10, Redis 7.0."""
        return self.rdb_version >= 10

    @property
    def lru_lfu(self) -> bool:
        """IDLE / FREQ opcodes: RDB 9, Redis 5.0."""
        return self.rdb_version >= 9

    @property
    def plain_list_nodes(self) -> bool:
        """PLAIN quicklist nodes for elements above the node limit (7.0.15 writes them)."""
        return self.rdb_version >= 10

    @property
    def native_types(self) -> frozenset[int]:
        """Type codes this target itself writes: a value stored in one of them can be copied
        byte for byte (the fast path), given the same thresholds."""
        types = {C.RDB_TYPE_STRING, C.RDB_TYPE_SET, C.RDB_TYPE_HASH, C.RDB_TYPE_ZSET_2,
                 C.RDB_TYPE_SET_INTSET, self.stream_type}
        if self.listpacks:
            types |= {C.RDB_TYPE_HASH_LISTPACK, C.RDB_TYPE_ZSET_LISTPACK,
                      C.RDB_TYPE_LIST_QUICKLIST_2}
        else:
            types |= {C.RDB_TYPE_HASH_ZIPLIST, C.RDB_TYPE_ZSET_ZIPLIST, C.RDB_TYPE_LIST_QUICKLIST}
        if self.set_listpack:
            types.add(C.RDB_TYPE_SET_LISTPACK)
        if self.field_ttl_types:
            types |= set(self.field_ttl_types)
        if self.arrays:
            types.add(C.RDB_TYPE_ARRAY)
        return frozenset(types)


_TABLE = (
    Target("redis-6.2", "redis", "6.2.5", 9),
    Target("redis-7.0", "redis", "7.0.15", 10),
    Target("redis-7.2", "redis", "7.2.4", 11),
    Target("redis-7.4", "redis", "7.4.1", 12),
    Target("redis-8.2", "redis", "8.2.3", 12),
    Target("redis-8.6", "redis", "8.6.2", 13),
    # INFERRED: no 8.8 tree was available; its commands (XNACK, AR*) say "since 8.8.0" and 8.10
    # writes RDB 15, so 8.8 is taken to write RDB 14 with stream type 27 and arrays
    Target("redis-8.8", "redis", "8.8.0", 14),
    Target("redis-8.10", "redis", "8.10.2", 15),
    # Valkey 8.0-8.1 rolled back to RDB 11 so Redis 7.2.4 can read their files (valkey PR #665)
    Target("valkey-8.1", "valkey", "8.1.8", 11),
    Target("valkey-9.1", "valkey", "9.1.2", 80),
)
_TABLE = tuple(replace(t, builtin_modules=builtin_modules_of(t.server, t.version)) for t in _TABLE)
TARGETS: Mapping[str, Target] = MappingProxyType({t.name: t for t in _TABLE})
"""The named targets: ``redis-6.2`` ... ``valkey-9.1``."""

# Explicit RDB versions: the oldest release that writes each (Redis 5.0-6.2 all write 9)
WRITABLE_RDB_VERSIONS = {9: "redis-6.2", 10: "redis-7.0", 11: "redis-7.2", 12: "redis-7.4",
                         13: "redis-8.6", 14: "redis-8.8", 15: "redis-8.10", 80: "valkey-9.1"}


def target_names() -> list[str]:
    """Every name :func:`get_target` accepts (the named targets, then ``rdb-N``)."""
    return [*TARGETS, *(f"rdb-{v}" for v in WRITABLE_RDB_VERSIONS)]


def get_target(name: str | int | Target, config: Mapping[str, int | str] | None = None) -> Target:
    """The target called ``name``: a server (``"redis-7.0"``, ``"valkey-9.1"``), an RDB version
    (``"rdb-11"``, ``"11"`` or ``11``) or a :class:`Target`; ``config`` overrides thresholds.

    An explicit RDB version gets the defaults of the oldest release writing it, under the name
    ``rdb-N`` (its version AUX field names that release), and the built-in module types of
    every release writing it: it names a format, not a server, and a file of that version may
    come from any of them (an RDB 12 file with vector sets is Redis 8.2's, not 7.4's).

    :raises ValueError: unknown name, a version this writer does not produce, or bad config.
    """
    if isinstance(name, Target):
        target = name
    else:
        text = str(name).lower()
        number = text[4:] if text.startswith("rdb-") else text
        if text in TARGETS:
            target = TARGETS[text]
        elif number.isdigit():
            version = int(number)
            if version not in WRITABLE_RDB_VERSIONS:
                raise ValueError(f"cannot write RDB version {version}; writable versions: "
                                 f"{', '.join(map(str, WRITABLE_RDB_VERSIONS))}")
            modules = frozenset().union(*(t.builtin_modules for t in _TABLE
                                          if t.rdb_version == version))
            target = replace(TARGETS[WRITABLE_RDB_VERSIONS[version]], name=f"rdb-{version}",
                             builtin_modules=modules)
        else:
            raise ValueError(f"unknown target {name!r}; known: {', '.join(target_names())}")
    return target.with_thresholds(config or {})


def target_for_file(rdb_version: int, valkey: bool) -> Target:
    """The target matching a file's own header (a same-version rewrite): ``rdb-N``.

    :raises ValueError: for RDB versions this writer does not produce.
    """
    return get_target(C.RDB_VERSION_MAX_VALKEY if valkey else rdb_version)
