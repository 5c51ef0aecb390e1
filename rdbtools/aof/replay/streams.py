# rdbtools: aof/replay/streams.py
"""The stream commands of the replay: XADD (with trimming, NOMKSTREAM, 8.2's deletion
policies and 8.6's idempotent IDMP / IDMPAUTO), XDEL, XTRIM, XDELEX, XSETID, the XGROUP
subcommands (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER), XCLAIM (what XREADGROUP and
XAUTOCLAIM reach the AOF as), XACK, XACKDEL, 8.6's XCFGSET and XIDMPRECORD and 8.8's XNACK,
keeping entries, groups, PELs, NACK zones, consumers and IDMP producers as the server keeps them.

Mirrors t_stream.c (@8.10.2 for IDMP and the NACK zone).
"""

from __future__ import annotations

from typing import Iterable

from ...model import TYPE_STREAM
from .args import _CmdError, _ll, _NeedsRelease, _sid
from .keyspace import _Group, _Idmp, _Key, _new_idmp, _Stream

LLONG_MAX = (1 << 63) - 1
# t_stream.c / server.h CONFIG_STREAM_IDMP_{MIN,MAX}_{DURATION,MAXSIZE} (Redis 8.6)
IDMP_DURATION_RANGE = (1, 86400)
IDMP_MAXSIZE_RANGE = (1, 10000)


def idempotency_hash(fields: list[bytes]) -> bytes:
    """The IID of ``XADD ... IDMPAUTO`` (createIdempotencyHash(), t_stream.c @8.6): per
    field/value pair an XXH3-128 of field, the field length (8-byte long) and value; the pair
    hashes combined order-independently (sums and xors of the two halves, the xors rotated
    left by one) into the 16 bytes of an XXH128_hash_t (low64, high64, little-endian)."""
    try:
        import xxhash
    except ImportError:  # an optional extra: servers never write IDMPAUTO into an AOF
        raise _CmdError("XADD IDMPAUTO: computing its IID needs the xxhash package "
                        "(pip install 'rdbtools-suite[idmpauto]')") from None
    mask = (1 << 64) - 1
    sum_lo = sum_hi = xor_lo = xor_hi = 0
    for f, v in zip(fields[0::2], fields[1::2]):
        d = xxhash.xxh3_128_intdigest(f + len(f).to_bytes(8, "little") + v)
        lo, hi = d & mask, d >> 64
        sum_lo, sum_hi = (sum_lo + lo) & mask, (sum_hi + hi) & mask
        xor_lo, xor_hi = xor_lo ^ lo, xor_hi ^ hi

    def rotl1(x: int) -> int:
        return ((x << 1) | (x >> 63)) & mask

    return ((sum_lo ^ rotl1(xor_hi)).to_bytes(8, "little")
            + (sum_hi ^ rotl1(xor_lo)).to_bytes(8, "little"))


class StreamsMixin:
    """The stream commands.  A mixin of :class:`~.engine.Replayer`; uses the engine's ``keys``,
    ``profile``, ``now()``, ``_tick()`` (XCLAIM ... TIME moves the clock) and ``_get()``."""

    def _stream(self, key: bytes, create: bool) -> _Key | None:
        k = self._get(key, TYPE_STREAM)
        if k is None and create:
            k = self.keys[key] = _Key(TYPE_STREAM, _Stream(_new_idmp(self.profile)), "stream")
        return k

    # Redis 8.2 deletion policies (XADD/XTRIM options, XDELEX, XACKDEL): KEEPREF deletes
    # entries and leaves the consumer groups' PELs alone (what XDEL always did), DELREF also
    # removes the entries from every PEL, ACKED deletes only entries that every group has
    # been delivered and has acknowledged.
    _POLICIES = (b"KEEPREF", b"DELREF", b"ACKED")

    @staticmethod
    def _referenced(s: _Stream, sid: tuple) -> bool:
        return any(sid > g.last_id or sid in g.pel for g in s.groups.values())

    @staticmethod
    def _ack(g: _Group, sid: tuple) -> None:
        """Drop ``sid`` from the group's PEL and from its consumer's pending IDs (or the NACK
        zone)."""
        nack = g.pel.pop(sid, None)
        if nack is not None:
            if nack[0] is None:
                g.nacked.pop(sid, None)
            else:
                c = g.consumers.get(nack[0])
                if c is not None:
                    c[2].discard(sid)

    @staticmethod
    def _unreference(s: _Stream, sid: tuple) -> None:
        for g in s.groups.values():
            StreamsMixin._ack(g, sid)

    def _delete_entries(self, s: _Stream, ids: Iterable[tuple], policy: bytes) -> list[tuple]:
        """Delete the entries ``ids`` under ``policy``; the IDs deleted.  DELREF also clears
        the references of an ID whose entry is already gone (a KEEPREF deletion leaves them)."""
        deleted = []
        for sid in ids:
            if policy == b"DELREF":
                self._unreference(s, sid)
            if sid not in s.entries or (policy == b"ACKED" and self._referenced(s, sid)):
                continue
            del s.entries[sid]
            deleted.append(sid)
        if deleted:
            s.first_id = next(iter(s.entries)) if s.entries else (0, 0)
        return deleted

    def _xdel(self, s: _Stream, ids: list[tuple], policy: bytes) -> None:
        """XDEL and its 8.2 variants also move the stream's max-deleted-entry-id."""
        deleted = self._delete_entries(s, ids, policy)
        if deleted:
            s.max_deleted = max(s.max_deleted, *deleted)

    def _trim(self, s: _Stream, strategy: bytes, threshold: bytes,
              policy: bytes = b"KEEPREF") -> None:
        # exact trims only: servers propagate "~" trims rewritten to the exact result
        if strategy == b"MAXLEN":
            n = len(s.entries) - _ll(threshold)
            candidates = list(s.entries)[:n] if n > 0 else []
        else:
            minid = _sid(threshold)
            candidates = [i for i in s.entries if i < minid]
        self._delete_entries(s, candidates, policy)
        s.first_id = next(iter(s.entries)) if s.entries else (0, 0)

    def _trim_args(self, a, i):
        """Parse [MAXLEN|MINID [=|~] threshold [LIMIT n]] at a[i]; (strategy, threshold, next)."""
        strategy = a[i].upper()
        i += 1
        if a[i] in (b"=", b"~"):
            i += 1
        threshold = a[i]
        i += 1
        if i < len(a) and a[i].upper() == b"LIMIT":
            i += 2
        return strategy, threshold, i

    def c_xadd(self, a):
        n = len(a)
        ms, dash, seq = a[2].partition(b"-")
        if n & 1 and n > 3 and ms.isdigit() and len(ms) < 20 and \
                (len(seq) < 20 and seq.isdigit() or not dash):
            # XADD key <ms>[-<seq>] field value ...: no option starts with a digit; fewer than
            # 20 digits: both parts are at most U64_MAX
            k = self.keys.get(a[1])
            if k is not None and k.type == TYPE_STREAM:
                new = (int(ms), int(seq) if dash else 0)  # _sid(a[2], 0)
                s: _Stream = k.value
                if new > s.last_id:  # else the general path raises
                    entries = s.entries
                    entries[new] = [(a[3], a[4])] if n == 5 else list(zip(a[3::2], a[4::2]))
                    s.last_id = new
                    s.added += 1
                    if len(entries) == 1:
                        s.first_id = new
                    return
        key = a[1]
        i = 2
        nomk = False
        trim = None
        policy = b"KEEPREF"
        pid = iid = None
        while True:
            opt = a[i].upper()
            if opt == b"NOMKSTREAM":
                nomk = True
                i += 1
            elif opt == b"IDMP" and pid is None and self.profile.stream_idmp:  # Redis 8.6
                pid, iid = a[i + 1], a[i + 2]
                if not pid or not iid:
                    raise _CmdError("syntax error, IDMP requires a non-empty producer ID "
                                    "and idempotent ID")
                i += 3
            elif opt == b"IDMPAUTO" and pid is None and self.profile.stream_idmp:
                pid = a[i + 1]
                if not pid:
                    raise _CmdError("syntax error, IDMPAUTO requires a non-empty producer ID")
                i += 2
                iid = b""  # computed from the fields below
            elif opt in (b"MAXLEN", b"MINID"):
                strategy, threshold, i = self._trim_args(a, i)
                trim = (strategy, threshold)
            elif opt in self._POLICIES:  # Redis 8.2
                policy = opt
                i += 1
            else:
                break
        idarg = a[i]
        fields = a[i + 1 :]
        if not fields or len(fields) % 2:
            raise _CmdError("wrong number of arguments")
        k = self._stream(key, False)
        if k is None:
            if nomk:
                return
            k = self._stream(key, True)
        s: _Stream = k.value
        producer = None
        if pid is not None:
            # explicit IDs with IDMP come only from the AOF / a master (mustObeyClient())
            if not iid:
                iid = idempotency_hash(fields)
            producer = s.idmp.producers.setdefault(pid, {})
            if iid in producer:
                # a duplicate: the existing ID is the reply, nothing is added
                s.idmp.duplicates += 1
                return
        if idarg == b"*":
            ms = max(self.now(), s.last_id[0])
            new = (ms, s.last_id[1] + 1) if ms == s.last_id[0] else (ms, 0)
        elif idarg.endswith(b"-*"):
            ms = int(idarg[:-2])
            new = (ms, s.last_id[1] + 1) if ms == s.last_id[0] else (ms, 0)
        else:
            new = _sid(idarg, 0)
        if new <= s.last_id and not (s.last_id == (0, 0) and new > (0, 0) and not s.entries):
            if not (new > s.last_id):
                raise _CmdError("the ID specified in XADD is equal or smaller than the target "
                                "stream top item")
        if new == (0, 0):
            raise _CmdError("the ID specified in XADD must be greater than 0-0")
        s.entries[new] = list(zip(fields[0::2], fields[1::2]))
        s.last_id = new
        s.added += 1
        if len(s.entries) == 1:
            s.first_id = new
        if producer is not None:
            self._idmp_insert(s.idmp, producer, iid, new)
        if trim is not None:
            self._trim(s, *trim, policy)

    @staticmethod
    def _idmp_insert(idmp: _Idmp, producer: dict, iid: bytes, sid: tuple) -> None:
        """idmpInsertEntry(): record ``iid`` -> ``sid``; past the stream's max size the
        producer's oldest entry goes.  (Entries older than the duration are dropped by the
        server's cron, not by commands; like expired keys, the replay keeps them.)"""
        producer[iid] = sid
        idmp.added += 1
        if len(producer) > idmp.max_size:
            del producer[next(iter(producer))]

    def _idmp_stream(self, key: bytes) -> _Stream:
        if not self.profile.stream_idmp:
            raise _NeedsRelease((8, 6), self.profile)
        k = self._stream(key, False)
        if k is None:
            raise _CmdError("no such key")
        return k.value

    def c_xcfgset(self, a):
        """XCFGSET key [IDMP-DURATION s] [IDMP-MAXSIZE n] (Redis 8.6): a changed setting clears
        every IDMP entry of the stream; setting the current value changes nothing."""
        s = self._idmp_stream(a[1])
        duration = maxsize = None
        i = 2
        while i < len(a):
            opt = a[i].upper()
            if i + 1 >= len(a):
                raise _CmdError("syntax error")
            if opt == b"IDMP-DURATION" and duration is None:
                duration = _ll(a[i + 1])
                lo, hi = IDMP_DURATION_RANGE
                if not lo <= duration <= hi:
                    raise _CmdError(f"IDMP-DURATION must be between {lo} and {hi} seconds")
            elif opt == b"IDMP-MAXSIZE" and maxsize is None:
                maxsize = _ll(a[i + 1])
                lo, hi = IDMP_MAXSIZE_RANGE
                if not lo <= maxsize <= hi:
                    raise _CmdError(f"IDMP-MAXSIZE must be between {lo} and {hi} entries")
            else:
                raise _CmdError("syntax error")
            i += 2
        if duration is None and maxsize is None:
            raise _CmdError("At least one parameter must be specified")
        idmp = s.idmp
        if duration is not None and duration != idmp.duration:
            idmp.duration = duration
            idmp.producers.clear()
        if maxsize is not None and maxsize != idmp.max_size:
            idmp.max_size = maxsize
            idmp.producers.clear()

    def c_xidmprecord(self, a):
        """XIDMPRECORD key pid iid id (Redis 8.6, written by the AOF rewrite): record an IID for
        an existing entry."""
        key, pid, iid = a[1], a[2], a[3]
        sid = _sid(a[4])
        if not pid:
            raise _CmdError("producer ID must be non-empty")
        if not iid:
            raise _CmdError("idempotent ID must be non-empty")
        s = self._idmp_stream(key)
        if sid not in s.entries:
            raise _CmdError("No such message in stream")
        producer = s.idmp.producers.setdefault(pid, {})
        if iid in producer:
            if producer[iid] != sid:
                raise _CmdError("IID already exists for this producer with a different "
                                "stream ID")
            return
        self._idmp_insert(s.idmp, producer, iid, sid)

    def c_xdel(self, a):
        k = self._stream(a[1], False)
        if k is None:
            return
        self._xdel(k.value, [_sid(raw) for raw in a[2:]], b"KEEPREF")

    def c_xtrim(self, a):
        k = self._stream(a[1], False)
        if k is None:
            return
        strategy, threshold, i = self._trim_args(a, 2)
        policy = b"KEEPREF"
        for opt in a[i:]:
            if opt.upper() in self._POLICIES:  # Redis 8.2
                policy = opt.upper()
        self._trim(k.value, strategy, threshold, policy)

    def _ids_option(self, a, i: int) -> tuple[bytes, list[tuple]]:
        """``[KEEPREF|DELREF|ACKED] IDS numids id ...`` at a[i]: (policy, ids)."""
        policy = b"KEEPREF"
        if a[i].upper() in self._POLICIES:
            policy = a[i].upper()
            i += 1
        if a[i].upper() != b"IDS":
            raise _CmdError("syntax error: IDS expected")
        n = _ll(a[i + 1])
        return policy, [_sid(x) for x in a[i + 2 : i + 2 + n]]

    def c_xdelex(self, a):
        """XDELEX key [KEEPREF|DELREF|ACKED] IDS numids id ... (Redis 8.2)"""
        k = self._stream(a[1], False)
        if k is None:
            return
        policy, ids = self._ids_option(a, 2)
        self._xdel(k.value, ids, policy)

    def c_xsetid(self, a):
        k = self._stream(a[1], False)
        if k is None:
            raise _CmdError("no such key")
        s: _Stream = k.value
        s.last_id = _sid(a[2])
        i = 3
        while i < len(a):
            opt = a[i].upper()
            if opt == b"ENTRIESADDED":
                s.added = _ll(a[i + 1])
            elif opt == b"MAXDELETEDID":
                s.max_deleted = _sid(a[i + 1])
            i += 2

    def _group(self, key: bytes, name: bytes) -> tuple[_Stream, _Group] | None:
        k = self._stream(key, False)
        if k is None:
            return None
        g = k.value.groups.get(name)
        return None if g is None else (k.value, g)

    def c_xgroup__create(self, a):
        key, name, idarg = a[2], a[3], a[4]
        opts = [x.upper() for x in a[5:]]
        k = self._stream(key, False)
        if k is None:
            if b"MKSTREAM" not in opts:
                raise _CmdError("no such key (XGROUP CREATE without MKSTREAM)")
            k = self._stream(key, True)
        s: _Stream = k.value
        if name in s.groups:
            return
        entries_read = None  # SCG_INVALID_ENTRIES_READ unless ENTRIESREAD is given (7.0+)
        if idarg == b"$":
            last = s.last_id
        else:
            last = _sid(idarg)
        if b"ENTRIESREAD" in opts:
            n = _ll(a[5 + opts.index(b"ENTRIESREAD") + 1])
            entries_read = None if n < 0 else n
        s.groups[name] = _Group(name, last, entries_read)

    def c_xgroup__setid(self, a):
        found = self._group(a[2], a[3])
        if found is None:
            return
        s, g = found
        g.last_id = s.last_id if a[4] == b"$" else _sid(a[4])
        opts = [x.upper() for x in a[5:]]
        if b"ENTRIESREAD" in opts:
            n = _ll(a[5 + opts.index(b"ENTRIESREAD") + 1])
            g.entries_read = None if n < 0 else n
        else:
            g.entries_read = None

    def c_xgroup__destroy(self, a):
        k = self._stream(a[2], False)
        if k is not None:
            k.value.groups.pop(a[3], None)

    def _consumer(self, g: _Group, name: bytes, create: bool = True):
        c = g.consumers.get(name)
        if c is None and create:
            c = g.consumers[name] = [self.now(), -1, set()]
        return c

    def c_xgroup__createconsumer(self, a):
        found = self._group(a[2], a[3])
        if found is not None:
            self._consumer(found[1], a[4])

    def c_xgroup__delconsumer(self, a):
        found = self._group(a[2], a[3])
        if found is None:
            return
        g = found[1]
        c = g.consumers.pop(a[4], None)
        if c is not None:
            for i in c[2]:
                g.pel.pop(i, None)

    def c_xclaim(self, a):
        key, group, consumer = a[1], a[2], a[3]
        found = self._group(key, group)
        if found is None:
            raise _CmdError("NOGROUP")
        s, g = found
        _ll(a[4])  # min-idle-time
        ids = []
        i = 5
        while i < len(a):
            try:
                ids.append(_sid(a[i]))
            except _CmdError:
                break
            i += 1
        when = retry = lastid = None
        force = justid = False
        idle = None
        while i < len(a):
            opt = a[i].upper()
            if opt == b"IDLE":
                idle = _ll(a[i + 1])
                i += 1
            elif opt == b"TIME":
                when = _ll(a[i + 1])
                i += 1
            elif opt == b"RETRYCOUNT":
                retry = _ll(a[i + 1])
                i += 1
            elif opt == b"LASTID":
                lastid = _sid(a[i + 1])
                i += 1
            elif opt == b"FORCE":
                force = True
            elif opt == b"JUSTID":
                justid = True
            i += 1
        if when is not None:
            self._tick(when)
        now = self.now()
        if idle is not None:
            when = now - idle
        if when is None or when < 0 or when > now:
            when = now  # xclaimCommand(): a bogus delivery time becomes "now"
        # The consumer's seen/active times are the server's wall clock when it ran the command;
        # the closest the AOF records is the delivery time it propagated.
        stamp = when
        if lastid is not None and lastid > g.last_id:
            g.last_id = lastid
        c = None
        for sid in ids:
            nack = g.pel.get(sid)
            exists = sid in s.entries
            if nack is None:
                if not force or (not exists and self.profile.redis_compat >= (7, 0, 0)):
                    continue
                nack = g.pel[sid] = [None, when, 0]
            elif not exists and self.profile.redis_compat >= (7, 0, 0):
                # the entry was deleted: XCLAIM drops it from the PEL (7.0+)
                self._ack(g, sid)
                continue
            if c is None:
                c = self._consumer(g, consumer)
            if nack[0] is None:
                g.nacked.pop(sid, None)  # claimed out of the NACK zone (8.8)
            elif nack[0] != consumer:
                old = g.consumers.get(nack[0])
                if old is not None:
                    old[2].discard(sid)
            nack[1] = when
            if retry is not None:
                nack[2] = retry
            elif not justid and nack[2] != LLONG_MAX:  # saturates (8.8; XNACK FATAL)
                nack[2] += 1
            nack[0] = consumer
            c[2].add(sid)
            c[1] = stamp
            c[0] = stamp
        if c is None and ids:
            c = g.consumers.get(consumer)
            if c is not None:
                c[0] = stamp

    def c_xnack(self, a):
        """XNACK key group SILENT|FAIL|FATAL IDS n id... [RETRYCOUNT c] [FORCE] (Redis 8.8):
        each pending ID leaves its consumer and moves to the end of the group's NACK zone with
        delivery time 0 and its delivery count set by the mode (SILENT one less, FAIL the
        same, FATAL LLONG_MAX) or RETRYCOUNT; FORCE makes an unowned entry (count 0 before the
        mode rule) for an existing stream entry that is not pending."""
        if not self.profile.nack_zones:
            raise _NeedsRelease((8, 8), self.profile)
        found = self._group(a[1], a[2])
        if found is None:
            raise _CmdError("NOGROUP No such key or consumer group")
        s, g = found
        mode = a[3].upper()
        if mode not in (b"SILENT", b"FAIL", b"FATAL"):
            raise _CmdError("mode must be SILENT, FAIL, or FATAL")
        ids = None
        force = False
        retry = -1
        i = 4
        while i < len(a):
            opt = a[i].upper()
            more = len(a) - 1 - i
            if opt == b"IDS" and more:
                n = _ll(a[i + 1])
                if not 1 <= n <= 2**31 - 1:
                    raise _CmdError("numids must be a positive integer")
                if n > len(a) - (i + 2):
                    raise _CmdError("number of IDs doesn't match numids")
                ids = a[i + 2 : i + 2 + n]
                i += 2 + n
                continue
            if opt == b"FORCE":
                force = True
            elif opt == b"RETRYCOUNT" and more:
                retry = _ll(a[i + 1])
                if retry < 0:
                    raise _CmdError("Invalid RETRYCOUNT value, must be >= 0")
                i += 1
            else:
                raise _CmdError(f"Unrecognized XNACK option {opt[:40]!r}")
            i += 1
        if ids is None:
            raise _CmdError("syntax error, expected IDS keyword")
        for sid in [_sid(x) for x in ids]:
            nack = g.pel.get(sid)
            if nack is None:
                if not force or sid not in s.entries:
                    continue
                nack = g.pel[sid] = [None, 0, 0]
            elif nack[0] is not None:
                c = g.consumers.get(nack[0])
                if c is not None:
                    c[2].discard(sid)
                nack[0] = None
            if retry >= 0:  # nackSetDeliveryCount()
                nack[2] = retry
            elif mode == b"SILENT":
                nack[2] = max(nack[2] - 1, 0)
            elif mode == b"FATAL":
                nack[2] = LLONG_MAX
            nack[1] = 0  # pelListInsertNacked()
            g.nacked.pop(sid, None)
            g.nacked[sid] = None

    def c_xautoclaim(self, a):
        raise _CmdError("XAUTOCLAIM is propagated as XCLAIM by every server; a raw XAUTOCLAIM "
                        "depends on the server clock and cannot be replayed")

    def c_xack(self, a):
        found = self._group(a[1], a[2])
        if found is None:
            return
        s, g = found
        for raw in a[3:]:
            self._ack(g, _sid(raw))

    def c_xackdel(self, a):
        """XACKDEL key group [KEEPREF|DELREF|ACKED] IDS numids id ... (Redis 8.2): each ID
        pending in the group is acknowledged, then its entry deleted under the policy; IDs
        the group has not pending are left alone."""
        found = self._group(a[1], a[2])
        if found is None:
            raise _CmdError("NOGROUP")
        s, g = found
        policy, ids = self._ids_option(a, 3)
        acked = []
        for sid in ids:
            if sid in g.pel:
                self._ack(g, sid)
                acked.append(sid)
        self._xdel(s, acked, policy)
