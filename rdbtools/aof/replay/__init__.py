# rdbtools: aof/replay/__init__.py
"""The replay engine: applies AOF commands to an in-memory keyspace and yields the result as
model records (:class:`~rdbtools.model.Entry`, :class:`~rdbtools.model.Function`).

Mirrors the write paths of Redis 6.2-8.10 and Valkey 8-9 (t_string.c, t_list.c, t_set.c,
t_zset.c, t_hash.c, t_stream.c, t_array.c, hyperloglog.c, bitops.c, db.c, expire.c, cluster.c RESTORE,
functions.c) for the command forms servers put into an AOF: since 7.0 the AOF is the
replication stream (relative expiries already turned into PEXPIREAT / SET PXAT, scripts into
their effects inside MULTI/EXEC, blocking pops into plain pops, SPOP into SREM, INCRBYFLOAT into
SET ... KEEPTTL).

Choices (documented in docs/aof.md):

* **Expired keys are kept.**  Like a server loading an AOF (which never expires keys while
  loading), the engine keeps every key whatever its expiry; a reader decides what "now" is.
* **Encodings follow a server profile** (:class:`ServerProfile`): the ``rdb_type`` of every
  entry is the RDB type that server would write for the key after the same commands, including
  one-way conversions (intset → listpack → hashtable, listpack → skiplist, listpackex, Valkey's
  hashtable for hashes with field TTLs).  The profile comes from the RDB preamble's
  ``redis-ver``/``valkey-ver`` when there is one, else from the caller.
* **The clock** for the few values a server takes from its wall clock (stream consumer seen /
  active times, relative TTLs if a non-server wrote them) is the latest time the AOF itself
  shows: ``XCLAIM ... TIME``, ``#TS:`` annotations; ``now_ms`` overrides it.
* **Unknown commands stop the replay** with :class:`~rdbtools.errors.UnknownCommandError`
  naming the command, file and offset — module commands included — unless ``skip_unknown``:
  then each is skipped and counted in :attr:`Replayer.skipped`.

Layout (one module per data type, as the server has one t_*.c file per type): :mod:`.engine`
(:class:`Replayer`: feeding, dispatch, databases, clock, :func:`replay`), :mod:`.profile`
(:class:`ServerProfile`, :func:`profile_for`), :mod:`.keyspace` (the key objects and their
conversion to and from the model), :mod:`.args` (argument parsing, ranges, errors), and the
command mixins :mod:`.keys`, :mod:`.strings`, :mod:`.hyperloglog`, :mod:`.lists`, :mod:`.sets`,
:mod:`.zsets`, :mod:`.hashes`, :mod:`.streams`, :mod:`.arrays`, :mod:`.geo`, :mod:`.sort`, :mod:`.scripting`.
"""

from __future__ import annotations

from .args import ReplayError
from .engine import Replayer, replay
from .keys import decode_dump_payload
from .keyspace import rdb_type_of
from .profile import ServerProfile, profile_for
from .scripting import decode_function_payload

__all__ = ["ServerProfile", "Replayer", "replay", "ReplayError", "profile_for",
           "decode_dump_payload", "decode_function_payload", "rdb_type_of"]
