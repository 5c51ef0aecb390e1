# rdbtools: aof/replay/keys.py
"""The keyspace commands of the replay: SELECT, MULTI/EXEC (their effects come as the commands
inside), DEL/UNLINK, FLUSHDB/FLUSHALL, SWAPDB, the EXPIRE family and PERSIST, RENAME(NX), MOVE,
COPY, and RESTORE with the DUMP payload decoding it needs.

Mirrors db.c (SELECT, DEL, FLUSH*, SWAPDB, RENAME, MOVE, COPY), expire.c (EXPIRE family,
PERSIST) and cluster.c (RESTORE, DUMP payloads).
"""

from __future__ import annotations

from ...errors import ChecksumError, FormatError, UnsupportedVersionError
from ...model import Entry
from .args import _CmdError, _expire_refused, _ll, _NeedsRelease
from .keyspace import _from_entry
from .profile import redis_release_writing


class KeysMixin:
    """The generic key commands.  A mixin of :class:`~.engine.Replayer`; uses the engine's
    ``keys``, ``dbs``, ``db``, ``profile``, ``now()``, ``_get()`` and ``_use_db()``."""

    def c_select(self, a):
        self.db = _db_index(a[1])
        self._use_db()

    def c_multi(self, a):
        pass

    def c_exec(self, a):
        pass

    def c_del(self, a):
        for key in a[1:]:
            self.keys.pop(key, None)

    def c_flushdb(self, a):
        self.keys.clear()

    def c_flushall(self, a):
        self.dbs.clear()
        self._use_db()

    def c_swapdb(self, a):
        x, y = _db_index(a[1]), _db_index(a[2])
        dx, dy = self.dbs.get(x, {}), self.dbs.get(y, {})
        self.dbs[x], self.dbs[y] = dy, dx
        self._use_db()

    def _expire(self, a, unit: int, absolute: bool):
        key = a[1]
        k = self._get(key)
        if k is None:
            return
        when = _ll(a[2]) * unit
        if not absolute:
            when += self.now()
        flags = {x.upper() for x in a[3:]}
        if not _expire_refused(flags, k.expire, when):
            k.expire = when

    def c_expire(self, a):
        self._expire(a, 1000, False)

    def c_pexpire(self, a):
        self._expire(a, 1, False)

    def c_expireat(self, a):
        self._expire(a, 1000, True)

    def c_pexpireat(self, a):
        self._expire(a, 1, True)

    def c_persist(self, a):
        k = self._get(a[1])
        if k is not None:
            k.expire = None

    def c_rename(self, a, nx: bool = False):
        src, dst = a[1], a[2]
        k = self.keys.get(src)
        if k is None:
            raise _CmdError("no such key")
        if nx and dst in self.keys:
            return
        if src == dst:
            return
        del self.keys[src]
        self.keys[dst] = k

    def c_renamenx(self, a):
        self.c_rename(a, nx=True)

    def c_move(self, a):
        key, db = a[1], _db_index(a[2])
        k = self.keys.get(key)
        target = self.dbs.setdefault(db, {})
        if k is None or key in target or db == self.db:
            return
        del self.keys[key]
        target[key] = k

    def c_copy(self, a):
        src, dst = a[1], a[2]
        db, replace = self.db, False
        i = 3
        while i < len(a):
            opt = a[i].upper()
            if opt == b"DB":
                db = _db_index(a[i + 1])
                i += 1
            elif opt == b"REPLACE":
                replace = True
            i += 1
        k = self.keys.get(src)
        if k is None:
            return
        target = self.dbs.setdefault(db, {})
        if dst in target and not replace:
            return
        if db == self.db and src == dst:
            return
        target[dst] = k.copy()

    def c_restore(self, a):
        key, ttl, payload = a[1], _ll(a[2]), a[3]
        opts = [x.upper() for x in a[4:]]
        if key in self.keys and b"REPLACE" not in opts:
            raise _CmdError("BUSYKEY: target key name already exists")
        if len(payload) >= 10 and not self.profile.is_valkey:
            # verifyDumpPayload(): a payload of a later RDB version than the server's is refused
            version = int.from_bytes(payload[-10:-8], "little")
            if self.profile.rdb_version < version < 80:  # 80+: Valkey's, judged by the reader
                release = redis_release_writing(version)
                if release is None:
                    raise _CmdError("DUMP payload version or checksum are wrong")
                raise _NeedsRelease(release, self.profile)
        try:
            entry = decode_dump_payload(key, payload)
        except (ChecksumError, UnsupportedVersionError):
            raise _CmdError("DUMP payload version or checksum are wrong") from None
        except FormatError as e:  # its offset counts in the payload: name the command's instead
            raise _CmdError(f"bad DUMP payload ({e})") from None
        k = _from_entry(entry, self.profile)
        if ttl:
            k.expire = ttl if b"ABSTTL" in opts else self.now() + ttl
        self.keys[key] = k


def _db_index(text: bytes) -> int:
    """A database number of SELECT, SWAPDB, MOVE, COPY ... DB: an int, not negative
    (selectDb(); the server's configured ``databases`` bounds it further, unknown here)."""
    db = _ll(text)
    if not 0 <= db < 2**31:
        raise _CmdError("DB index is out of range")
    return db


def decode_dump_payload(key: bytes, payload: bytes) -> Entry:
    """The key a DUMP payload (``[0xF3 key metadata] type value``, 2-byte RDB version, CRC64)
    holds: :func:`rdbtools.rdb.reader.read_dump_payload`, the CRC checked unless it is 0 (as
    the 8.10 rewrite writes it).

    :raises FormatError: the payload is damaged or of an unsupported version (offsets count
        from the payload's first byte).
    """
    from ...rdb.reader import read_dump_payload

    return read_dump_payload(key, payload)
