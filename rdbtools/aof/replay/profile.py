# rdbtools: aof/replay/profile.py
"""Server profiles: which server family and version the replay imitates and the encoding
thresholds it applies (``hash-max-listpack-entries`` ...), and how the profile is chosen for an
AOF (:func:`profile_for`: the RDB preamble's ``redis-ver``/``valkey-ver``, else the caller's,
else a guess from the layout).

Mirrors the thresholds of config.c (their defaults are the one table in
:mod:`rdbtools.rdb.targets`) and the version checks the data-type files make.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...output.commands import STREAM_IDMP_DEFAULTS
from ...rdb.targets import DEFAULT_THRESHOLDS

if TYPE_CHECKING:
    from ..reader import AofReader


# The RDB version each Redis release line writes, newest first (rdb.h RDB_VERSION).
_REDIS_RDB_VERSIONS = (((8, 10, 0), 15), ((8, 8, 0), 14), ((8, 6, 0), 13), ((7, 4, 0), 12),
                       ((7, 2, 0), 11), ((7, 0, 0), 10))


def redis_release_writing(rdb_version: int) -> tuple[int, int] | None:
    """The first Redis release line that writes (and so reads) ``rdb_version``, from RDB 10 on."""
    for since, rdb in reversed(_REDIS_RDB_VERSIONS):
        if rdb >= rdb_version:
            return since[:2]
    return None


@dataclass
class ServerProfile:
    """What decides encodings: server family and version, and the encoding thresholds.

    Accessible attributes: ``name`` (``redis``/``valkey``), ``version`` (tuple), and the
    thresholds as in redis.conf (``hash_max_listpack_entries`` ...), whose defaults are the one
    table in :mod:`rdbtools.rdb.targets` (kept as plain attributes: the replay reads them per
    command).
    """

    name: str = "redis"
    version: tuple[int, int, int] = (7, 4, 0)
    hash_max_listpack_entries: int = DEFAULT_THRESHOLDS.hash_max_listpack_entries
    hash_max_listpack_value: int = DEFAULT_THRESHOLDS.hash_max_listpack_value
    set_max_intset_entries: int = DEFAULT_THRESHOLDS.set_max_intset_entries
    set_max_listpack_entries: int = DEFAULT_THRESHOLDS.set_max_listpack_entries
    set_max_listpack_value: int = DEFAULT_THRESHOLDS.set_max_listpack_value
    zset_max_listpack_entries: int = DEFAULT_THRESHOLDS.zset_max_listpack_entries
    zset_max_listpack_value: int = DEFAULT_THRESHOLDS.zset_max_listpack_value
    hll_sparse_max_bytes: int = 3000
    # proto-max-bulk-len (config.c, 512mb since Redis 4.0): the longest string SETRANGE, APPEND,
    # SETBIT and BITFIELD may build (checkStringLength(), getBitOffsetFromArgument())
    proto_max_bulk_len: int = 512 * 1024 * 1024
    # stream-idmp-duration / stream-idmp-maxsize (config.c, Redis 8.6): what a new stream's
    # IDMP settings start from, and what the AOF rewrite compares them with
    stream_idmp_duration: int = STREAM_IDMP_DEFAULTS[0]
    stream_idmp_maxsize: int = STREAM_IDMP_DEFAULTS[1]

    @classmethod
    def parse(cls, text: str) -> "ServerProfile":
        """``"redis-7.4.1"``, ``"valkey-9.1.2"``, ``"7.2"`` (Redis) ..."""
        m = re.fullmatch(r"(?:(redis|valkey)[-_ ]?)?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip().lower())
        if not m:
            raise ValueError(f"not a server version: {text!r} (try redis-7.4.1 or valkey-9.1.2)")
        name = m.group(1) or "redis"
        version = tuple(int(g or 0) for g in m.group(2, 3, 4))
        return cls.for_version(name, version)  # type: ignore[arg-type]

    @classmethod
    def for_version(cls, name: str, version: tuple[int, int, int]) -> "ServerProfile":
        return cls(name=name, version=version)

    @property
    def is_valkey(self) -> bool:
        return self.name == "valkey"

    @property
    def redis_compat(self) -> tuple[int, int, int]:
        """The Redis version whose data-type code this server shares (Valkey 7.2+ forked 7.2.4)."""
        return (7, 2, 4) if self.is_valkey else self.version

    @property
    def listpack_sets(self) -> bool:
        return self.redis_compat >= (7, 2, 0)

    @property
    def field_ttls(self) -> bool:
        return self.version >= (9, 0, 0) if self.is_valkey else self.version >= (7, 4, 0)

    @property
    def stream_idmp(self) -> bool:
        """Streams keep idempotent-XADD state (XADD IDMP, XCFGSET; RDB stream type 26): Redis 8.6."""
        return not self.is_valkey and self.version >= (8, 6, 0)

    @property
    def nack_zones(self) -> bool:
        """Consumer groups keep a NACK zone (XNACK; stream type 27) and arrays exist (AR*,
        type 28): Redis 8.8."""
        return not self.is_valkey and self.version >= (8, 8, 0)

    arrays = nack_zones

    @property
    def hash_templates(self) -> bool:
        """Template-encoded hashes (HIMPORT; types 30/32 in an RDB): Redis 8.10."""
        return not self.is_valkey and self.version >= (8, 10, 0)

    @property
    def rdb_version(self) -> int:
        """The RDB version this server writes (its DUMP payloads' version; the command forms
        of its AOF rewrite follow it)."""
        if self.is_valkey:
            return 80 if self.version >= (9, 0, 0) else 11
        for since, rdb in _REDIS_RDB_VERSIONS:
            if self.version >= since:
                return rdb
        return 9

    def label(self) -> str:
        return f"{self.name}-{'.'.join(map(str, self.version))}"


def profile_for(reader: AofReader, default: ServerProfile | None = None) -> ServerProfile:
    """The profile named by the AOF's RDB preamble (after reading it), else ``default``, else
    a guess from the layout (multi-part: Redis 7.0+ rules; Redis 8.x manifest fields: 8.0)."""
    if reader.server_version:
        try:
            return ServerProfile.parse(f"{reader.server_name}-{reader.server_version}")
        except ValueError:
            pass
    if default is not None:
        return default
    if reader.manifest is not None:
        if any(ln.start_offset is not None for ln in reader.manifest.lines):
            return ServerProfile.for_version("redis", (8, 0, 0))
        return ServerProfile.for_version("redis", (7, 4, 0))
    return ServerProfile.for_version("redis", (7, 4, 0))
