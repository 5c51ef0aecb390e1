# rdbtools: aof/replay/engine.py
"""The replay engine proper: :class:`Replayer` feeds records (RDB preamble entries and functions,
AOF commands and command batches) to the command handlers, keeps the databases and the clock,
and gives the keyspace back as model records; :func:`replay` runs it over an AOF reader.

The handlers are the ``c_<name>`` methods (``c_<cmd>__<sub>`` for subcommands) of the per-type
mixins (:mod:`.keys`, :mod:`.strings`, :mod:`.hyperloglog`, :mod:`.lists`, :mod:`.sets`,
:mod:`.zsets`, :mod:`.hashes`, :mod:`.streams`, :mod:`.arrays`, :mod:`.geo`, :mod:`.sort`,
:mod:`.scripting`);
the engine collects them into one table of bound methods, so a command costs one dict lookup.
Mirrors the command dispatch of server.c (lookupCommand, call) and the AOF loading loop of
aof.c (loadSingleAppendOnlyFile), and db.c's database selection and key lookup.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from operator import itemgetter
from typing import Callable, Iterable, Iterator

from ...errors import FormatError, UnknownCommandError
from ...model import TYPE_MODULE, TYPE_STREAM, TYPE_STRING, Entry, Function
from ..reader import AofCommand, AofReader, CommandBatch
from .args import ReplayError, _CmdError
from .arrays import ArraysMixin
from .geo import GeoMixin
from .hashes import HashesMixin
from .hyperloglog import HyperLogLogMixin
from .keys import KeysMixin
from .keyspace import _Key, _from_entry, _to_entry
from .lists import ListsMixin
from .profile import ServerProfile, profile_for
from .scripting import ScriptingMixin
from .sets import SetsMixin
from .sort import SortMixin
from .streams import StreamsMixin
from .strings import StringsMixin
from .zsets import ZSetsMixin

__all__ = ["Replayer", "replay"]

_first = itemgetter(0)


class Replayer(KeysMixin, StringsMixin, HyperLogLogMixin, ListsMixin, SetsMixin, ZSetsMixin,
               HashesMixin, StreamsMixin, ArraysMixin, GeoMixin, SortMixin, ScriptingMixin):
    """Applies commands to an in-memory keyspace.

    Accessible attributes: ``dbs`` ({db: {key: _Key}}), ``functions`` ({library name: code}),
    ``himport_fieldsets`` (the AOF client's HIMPORT fieldsets: {name: fields}), ``profile``, ``skipped`` (Counter of skipped command names, with ``skip_unknown``),
    ``histogram`` (Counter of every command name applied), ``commands`` (count).
    """

    def __init__(self, profile: ServerProfile | None = None, *, skip_unknown: bool = False,
                 now_ms: int | None = None) -> None:
        self.profile = profile or ServerProfile()
        # True when replay() raised its guessed profile because a command proved a later release
        self.profile_proven = False
        self.skip_unknown = skip_unknown
        self.fixed_now = now_ms
        self.clock_ms: int | None = None
        self.dbs: dict[int, dict[bytes, _Key]] = {0: {}}
        self.keys: dict[bytes, _Key] = self.dbs[0]  # always self.dbs[self.db]
        self.functions: dict[bytes, bytes] = {}
        self.himport_fieldsets: dict[bytes, list[bytes]] = {}
        self.db = 0
        self.skipped: Counter = Counter()
        self.skipped_at: list[tuple[str, int, bytes]] = []
        self.histogram: Counter = Counter()
        self.commands = 0
        self._table = self._build_table()
        # the table under the spellings AOFs use (upper and lower case): no .upper() per command
        self._fast = {**{k.lower(): f for k, f in self._table.items()}, **self._table}

    @property
    def profile(self) -> ServerProfile:
        return self._profile

    @profile.setter
    def profile(self, p: ServerProfile) -> None:
        self._profile = p
        self._compat7 = p.redis_compat >= (7, 0, 0)  # what the hot handlers test

    # -- clock -------------------------------------------------------------------------------
    def now(self) -> int:
        if self.fixed_now is not None:
            return self.fixed_now
        if self.clock_ms is not None:
            return self.clock_ms
        return int(time.time() * 1000)

    def _tick(self, ms: int) -> None:
        if self.fixed_now is None and (self.clock_ms is None or ms > self.clock_ms):
            self.clock_ms = ms

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, records: Iterable) -> None:
        """Apply every record (RDB entries/functions, :class:`AofCommand` and
        :class:`~rdbtools.aof.reader.CommandBatch` objects)."""
        table = self._table
        for rec in records:
            cls = rec.__class__
            if cls is CommandBatch:
                self._feed_batch(rec)
            elif cls is AofCommand:
                args = rec.args
                name = args[0].upper()
                if rec.timestamp is not None and self.fixed_now is None:
                    self._tick(rec.timestamp * 1000)
                fn = table.get(name)
                if fn is None:
                    fn = self._subcommand(name, args)
                if fn is None:
                    self._unknown(name, rec.file, rec.offset)
                    continue
                self.commands += 1
                self.histogram[name] += 1
                try:
                    fn(args)
                except _CmdError as e:
                    error = ReplayError(f"{name.decode('utf-8', 'replace')}: {e}", rec.offset,
                                        file=rec.file)
                    error.needs_release = e.release
                    raise error from None
                except (IndexError, ValueError, KeyError) as e:
                    if isinstance(e, FormatError):
                        raise
                    raise ReplayError(f"{name.decode('utf-8', 'replace')}: malformed command "
                                      f"({e.__class__.__name__}: {e})", rec.offset,
                                      file=rec.file) from None
            elif cls is Entry:
                self._load_entry(rec)
            elif cls is Function:
                self._function_load(rec.code, replace=True)

    def _feed_batch(self, batch: CommandBatch) -> None:
        """The commands of a batch, as :meth:`feed` applies AofCommand records.  The handler is
        looked up by the name as written (``_fast`` holds the upper- and lower-case spellings);
        other names go through :meth:`_feed_slow`.  ``commands`` and ``histogram`` are counted
        once per batch."""
        if batch.ts is not None and self.fixed_now is None:
            self._tick(batch.ts * 1000)
        fast = self._fast
        cmds = batch.cmds
        slow = 0
        args = None
        try:
            for args in cmds:
                fn = fast.get(args[0])
                if fn is None:
                    slow += 1
                    self._feed_slow(batch, cmds, args)
                else:
                    fn(args)
        except Exception as e:
            i = next(j for j, x in enumerate(cmds) if x is args)
            self._count_fast(cmds[: i + 1], True)
            if isinstance(e, (_CmdError, IndexError, ValueError, KeyError)) and \
                    not isinstance(e, FormatError):
                name = args[0].upper().decode("utf-8", "replace")
                why = str(e) if isinstance(e, _CmdError) else \
                    f"malformed command ({e.__class__.__name__}: {e})"
                error = ReplayError(f"{name}: {why}", batch.offset(i), file=batch.file)
                error.needs_release = e.release if isinstance(e, _CmdError) else None
                raise error from None
            raise
        self._count_fast(cmds, slow > 0)

    def _count_fast(self, cmds: list, filtered: bool) -> None:
        """Count the commands applied through ``_fast`` (the others counted themselves)."""
        if filtered:
            fast = self._fast
            names = [x[0] for x in cmds if x[0] in fast]
        else:
            names = map(_first, cmds)
        counts = Counter(names)
        hist = self.histogram
        for name, n in counts.items():
            hist[name.upper()] += n
            self.commands += n

    def _feed_slow(self, batch: CommandBatch, cmds: list, args: list) -> None:
        """A command whose name is not one of the ``_fast`` spellings: the per-command path of
        :meth:`feed`."""
        name = args[0].upper()
        fn = self._table.get(name)
        if fn is None:
            fn = self._subcommand(name, args)
        if fn is None:
            i = next(j for j, x in enumerate(cmds) if x is args)
            self._unknown(name, batch.file, batch.offset(i))
            return
        self.commands += 1
        self.histogram[name] += 1
        fn(args)

    def _unknown(self, name: bytes, file, offset: int) -> None:
        """A command no handler takes: skipped and counted with ``skip_unknown``, else an
        :class:`~rdbtools.errors.UnknownCommandError`."""
        if self.skip_unknown:
            self.skipped[name.decode("utf-8", "replace")] += 1
            self.skipped_at.append((file, offset, name))
            return
        raise UnknownCommandError(
            name, f"unknown command {name.decode('utf-8', 'replace')!r} "
            "(not a core Redis/Valkey write command this replay implements; "
            "pass skip_unknown / --skip-unknown to skip and count such commands)",
            offset, file=file)

    def _subcommand(self, name: bytes, args: list[bytes]):
        if len(args) > 1:
            return self._table.get(name + b" " + args[1].upper())
        return None

    def _load_entry(self, e: Entry) -> None:
        k = _from_entry(e, self.profile)
        self.dbs.setdefault(e.db, {})[e.key] = k

    # -- keyspace helpers ------------------------------------------------------------------
    def _use_db(self) -> None:
        """Point ``keys`` at the current database (after SELECT, SWAPDB, FLUSHALL)."""
        d = self.dbs.get(self.db)
        if d is None:
            d = self.dbs[self.db] = {}
        self.keys = d

    def _get(self, key: bytes, t: str | None = None) -> _Key | None:
        k = self.keys.get(key)
        if k is not None and t is not None and k.type != t:
            raise _CmdError(f"WRONGTYPE: key {key[:64]!r} holds a {k.type}, not a {t}")
        return k

    def _delete_if_empty(self, key: bytes, k: _Key) -> None:
        if not k.value and k.type not in (TYPE_STRING, TYPE_STREAM, TYPE_MODULE):
            del self.keys[key]

    def _remove_members(self, key: bytes, t: str, members: list[bytes]) -> None:
        """SREM, ZREM: drop ``members`` from the set or sorted set ``key``, and the key once
        empty."""
        k = self._get(key, t)
        if k is None:
            return
        for m in members:
            k.value.pop(m, None)
        self._delete_if_empty(key, k)

    # -- table ---------------------------------------------------------------------------------
    def _build_table(self) -> dict[bytes, Callable]:
        t: dict[bytes, Callable] = {}
        for attr in dir(self):
            if attr.startswith("c_"):
                name = attr[2:].upper().replace("__", " ").encode()
                t[name] = getattr(self, attr)
        t[b"HMSET"] = t[b"HSET"]
        t[b"UNLINK"] = t[b"DEL"]
        return t

    # -- output ------------------------------------------------------------------------------
    def iter_entries(self) -> Iterator[Entry]:
        """The keyspace as model entries: databases in order, keys in insertion order."""
        for db in sorted(self.dbs):
            for key, k in self.dbs[db].items():
                yield _to_entry(db, key, k, self.profile)

    def iter_functions(self) -> Iterator[Function]:
        for code in self.functions.values():
            yield Function(code)


def _reporting(records: Iterator, progress: Callable[[int], None]) -> Iterator:
    for rec in records:
        yield rec
        if rec.__class__ is CommandBatch:
            progress(rec.base + rec.end(len(rec.cmds) - 1))


def replay(reader: AofReader, *, profile: ServerProfile | None = None, skip_unknown: bool = False,
           now_ms: int | None = None, upto_timestamp: int | None = None,
           upto_offset: int | None = None,
           progress: Callable[[int], None] | None = None) -> Replayer:
    """Replay every record of ``reader`` (see :class:`Replayer`) and return the engine.

    The profile: the one named by an RDB preamble wins over ``profile`` (the file says which
    server wrote it); without either, :func:`profile_for` guesses, and a command of a later
    release (XCFGSET: 8.6, ARSET: 8.8, HIMPORT: 8.10) proves the guess too old: the replay
    starts again with that release's rules (a stream created before the first such command must
    already have its 8.6 IDMP state).  ``progress`` is called with the offset reached (over the
    loaded parts in load order) after each batch of commands.
    """
    guessing = profile is None
    while True:
        try:
            engine = _replay_once(reader, profile, skip_unknown, now_ms, upto_timestamp,
                                  upto_offset, progress)
        except ReplayError as e:
            if not (guessing and e.needs_release and not reader.server_version):
                raise
            profile = ServerProfile.for_version("redis", (*e.needs_release, 0))
            continue
        engine.profile_proven = guessing and profile is not None
        return engine


def _replay_once(reader: AofReader, profile: ServerProfile | None, skip_unknown: bool,
                 now_ms: int | None, upto_timestamp: int | None, upto_offset: int | None,
                 progress: Callable[[int], None] | None) -> Replayer:
    engine = Replayer(profile, skip_unknown=skip_unknown, now_ms=now_ms)
    records = reader.iter_raw(upto_timestamp=upto_timestamp, upto_offset=upto_offset)
    if progress is not None:
        records = _reporting(records, progress)
    # The replay allocates millions of long-lived containers (argument lists, keys) and no
    # garbage cycles: the cyclic collector would scan them again and again (a third of the
    # replay time on a 200 MB AOF).  It is paused for the replay and restored after.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        first = []
        for rec in records:
            first.append(rec)
            if rec.__class__ is CommandBatch:
                break
        engine.profile = profile_for(reader, profile)
        engine.feed(first)
        engine.feed(records)
    finally:
        if gc_was_enabled:
            gc.enable()
    return engine
