"""Cluster key slots, and RDB files split by slot range or merged from shards.

:func:`key_hash_slot` mirrors ``keyHashSlot()`` in Redis's src/cluster.c (CRC16-XMODEM of the
key or of its hash tag, modulo 16384; FORMATS.md §7).  :func:`read_nodes_conf` reads the slots
each master owns from a cluster config file (``clusterSaveConfig()``'s format),
:func:`even_slot_ranges` divides the slots as ``redis-cli --cluster create`` does.

:func:`split_rdb` writes one RDB file per slot range, each key into the file whose ranges hold
its slot; file-level records (function libraries, module aux data, AUX fields) go to every
file.  :func:`merge_rdb` writes several files into one, deciding keys present in more than one
input by a policy.  Both write with :class:`~rdbtools.rdb.writer.RdbWriter` for a target and copy
values the target stores the same way byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import struct
from binascii import crc_hqx
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable, Collection, Iterator, Mapping, Sequence

from ..errors import EncodeError, UnsafeOutputError
from ..rdb.filters import KeyFilter
from ..model import Aux, Entry, Function, ModuleAux
from ..rdb.reader import RdbReader, open_rdb
from ..rdb.source import InputSource
from ..rdb.targets import Target, get_target, target_for_file
from ..files import atomic_output, fsync_directory, input_locations
from ..rdb.writer import RdbWriter, WriteResult

__all__ = ["CLUSTER_SLOTS", "key_hash_slot", "SlotRanges", "parse_slot_ranges",
           "even_slot_ranges", "ClusterNode", "read_nodes_conf", "Shard", "split_rdb",
           "SplitResult", "merge_rdb", "MergeResult", "OTHER_DBS", "UNASSIGNED", "ON_CONFLICT"]

CLUSTER_SLOTS = 16384  # cluster.h
OTHER_DBS = ("fail", "db0", "keep")
UNASSIGNED = ("fail", "drop")
ON_CONFLICT = ("error", "first", "last")
_NAME_MAX = 200  # keep file names well below NAME_MAX (255)

Progress = Callable[[RdbReader, Iterator], Iterator]


def key_hash_slot(key: bytes) -> int:
    """The cluster slot of ``key`` (keyHashSlot()): CRC16 of the bytes between the first ``{``
    and the first ``}`` after it when that is not empty, else of the whole key.

    Example::

        >>> key_hash_slot(b"foo"), key_hash_slot(b"{user1000}.following"), key_hash_slot(b"{}")
        (12182, 3443, 15257)
    """
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc_hqx(key, 0) & 0x3FFF


SlotRanges = tuple[tuple[int, int], ...]
"""Inclusive ``(first, last)`` slot ranges owned by one output file."""


def _parse_range(text: str) -> tuple[int, int]:
    first, sep, last = text.strip().partition("-")
    try:
        lo, hi = int(first), int(last) if sep else int(first)
    except ValueError:
        raise ValueError(f"{text!r} is not a slot or a slot range like 0-5460") from None
    if not 0 <= lo <= hi < CLUSTER_SLOTS:
        raise ValueError(f"slot range {text!r}: slots are 0-{CLUSTER_SLOTS - 1}, first <= last")
    return lo, hi


def parse_slot_ranges(text: str) -> list[SlotRanges]:
    """``"0-5460,5461-10922,10923-16383"``: one output per comma-separated item; an item may
    join several ranges with ``+`` (``"0-100+200-300"``) and a range may be a single slot.

    :raises ValueError: a malformed or out-of-range item, or a slot in two items.
    """
    parts = [tuple(_parse_range(r) for r in item.split("+")) for item in text.split(",")
             if item.strip()]
    if not parts:
        raise ValueError("no slot ranges given")
    _owners(parts)
    return parts


def even_slot_ranges(n: int) -> list[SlotRanges]:
    """The 16384 slots in ``n`` contiguous ranges, as ``redis-cli --cluster create`` assigns
    them to ``n`` masters (clusterManagerCommandCreate(), in its single-precision arithmetic):
    3 gives 0-5460, 5461-10922, 10923-16383.

    :raises ValueError: ``n`` outside 1..16384.
    """
    if not 1 <= n <= CLUSTER_SLOTS:
        raise ValueError(f"the number of slot ranges must be 1..{CLUSTER_SLOTS}, not {n}")

    def f32(x: float) -> float:
        return struct.unpack("f", struct.pack("f", x))[0]

    per_node = f32(CLUSTER_SLOTS / n)
    cursor = 0.0
    first = 0
    out = []
    for i in range(n):
        x = f32(cursor + per_node - 1)
        last = int(x + 0.5) if x >= 0 else -int(-x + 0.5)  # C lround(): halves away from zero
        if last > CLUSTER_SLOTS or i == n - 1:
            last = CLUSTER_SLOTS - 1
        last = max(last, first)
        out.append(((first, last),))
        first = last + 1
        cursor = f32(cursor + per_node)
    return out


@dataclass(frozen=True)
class ClusterNode:
    """A master of a cluster config file.  Accessible attributes: ``id`` (40 hex digits),
    ``address`` (``ip:port``), ``hostname`` (or None), ``ranges``."""

    id: str
    address: str
    hostname: str | None
    ranges: SlotRanges


def read_nodes_conf(text: str) -> list[ClusterNode]:
    """The masters of a cluster config file (``nodes.conf``) that own slots, in file order.

    Each line is ``<id> <ip:port@cport[,hostname[,aux=...]]> <flags> <master> <ping-sent>
    <pong-received> <config-epoch> <link-state> <slot>...`` (clusterGenNodeDescription());
    a slot item is a slot or a range; ``[slot->-node]`` / ``[slot-<-node]`` (migrating /
    importing) describe moves in progress and are ignored, the slot staying with the node
    that owns it; the ``vars`` line and replicas are skipped.

    :raises ValueError: a malformed line (naming its number), or a slot claimed twice.
    """
    nodes = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] == "vars":
            continue
        if len(fields) < 8:
            raise ValueError(f"nodes.conf line {number}: expected at least 8 fields, got "
                             f"{len(fields)}: {line[:80]!r}")
        node_id, addr, flags = fields[0], fields[1], fields[2].split(",")
        if "master" not in flags:
            continue
        endpoint, _, rest = addr.partition("@")
        extras = rest.split(",")[1:]
        hostname = extras[0] if extras and extras[0] and "=" not in extras[0] else None
        try:
            ranges = tuple(_parse_range(s) for s in fields[8:] if not s.startswith("["))
        except ValueError as e:
            raise ValueError(f"nodes.conf line {number}: {e}") from None
        if ranges:
            nodes.append(ClusterNode(node_id, endpoint, hostname, ranges))
    if not nodes:
        raise ValueError("nodes.conf: no master owns any slot")
    _owners([n.ranges for n in nodes])
    return nodes


def _owners(parts: Sequence[SlotRanges]) -> list[int]:
    """Slot -> index of the part owning it (-1: none).

    :raises ValueError: a slot in two parts.
    """
    owner = [-1] * CLUSTER_SLOTS
    for i, ranges in enumerate(parts):
        for lo, hi in ranges:
            for slot in range(lo, hi + 1):
                if owner[slot] != -1:
                    raise ValueError(f"slot {slot} is in two slot ranges")
                owner[slot] = i
    return owner


def _key_digest(db: int, key: bytes) -> bytes:
    # 128 bits: a collision among even 10^12 keys is below 10^-14
    return hashlib.blake2b(key, digest_size=16, salt=db.to_bytes(16, "little")).digest()


# --------------------------------------------------------------------------------------------
# Split
# --------------------------------------------------------------------------------------------

@dataclass
class Shard:
    """One file of a split.  Accessible attributes: ``ranges``, ``node`` (the
    :class:`ClusterNode` from a nodes.conf, or None), ``path`` and ``result`` (a
    :class:`~rdbtools.rdb.writer.WriteResult`) once written."""

    ranges: SlotRanges
    node: ClusterNode | None = None
    path: str | None = None
    result: WriteResult | None = None

    @property
    def file_name(self) -> str:
        """``slots-00000-05460.rdb``; several ranges joined by ``+``, shortened to the first
        range and a count when the name would get too long."""
        text = "+".join(f"{lo:05d}-{hi:05d}" for lo, hi in self.ranges)
        if len(text) > _NAME_MAX:
            lo, hi = self.ranges[0]
            text = f"{lo:05d}-{hi:05d}+{len(self.ranges) - 1}-more"
        return f"slots-{text}.rdb"

    @property
    def slots(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)


@dataclass
class SplitResult:
    """What a split did.  Accessible attributes: ``target``, ``shards`` (list of
    :class:`Shard`), ``keys`` (written, all files), ``unassigned`` (keys left out because no
    range holds their slot), ``losses`` (of all files)."""

    target: Target
    shards: list[Shard]
    unassigned: int = 0

    @property
    def keys(self) -> int:
        return sum(s.result.keys for s in self.shards if s.result is not None)

    @property
    def losses(self) -> list:
        return [loss for s in self.shards if s.result is not None for loss in s.result.losses]


def split_rdb(source: InputSource, out_dir: str | os.PathLike,
              shards: Sequence[SlotRanges | ClusterNode], *, target: str | Target | None = None,
              config: Mapping[str, int] | None = None, key_filter: KeyFilter | None = None,
              other_dbs: str = "fail", unassigned: str = "fail", strict: bool = False,
              unwritable: str = "drop", modules: Collection[str] | None = None,
              reencode: bool = False, progress: Progress | None = None,
              replace_stale: bool = False) -> SplitResult:
    """Split the RDB file ``source`` into one RDB file per item of ``shards`` (slot ranges, or
    the masters of :func:`read_nodes_conf`), written into ``out_dir`` (created if missing) as
    :attr:`Shard.file_name`, each key into the file whose ranges hold its
    :func:`key_hash_slot`.  Function libraries, module aux data and AUX fields go to every file.

    A cluster has only database 0.  ``other_dbs`` decides keys of other databases: ``"fail"``
    (raise, naming the key), ``"db0"`` (write them into database 0; a key present in two
    databases then raises) or ``"keep"`` (keep their database: Valkey 9 with
    ``cluster-databases`` above 1 loads them).  ``unassigned`` decides keys whose slot is in no
    range: ``"fail"`` or ``"drop"`` (counted in :attr:`SplitResult.unassigned`).

    ``target`` defaults to the input's own version; ``config``, ``key_filter``, ``strict``,
    ``unwritable``, ``modules`` and ``reencode`` are those of :func:`rdbtools.ops.convert.convert`.
    ``progress(reader, records)`` may wrap the record iterator (a progress bar).  The files are
    written atomically, all or none: on error none of them is created or replaced.

    Shard files of another split already in ``out_dir`` (``slots-*.rdb`` with other ranges)
    would be loaded together with the new ones and hold the same keys twice: they are refused
    (:class:`~rdbtools.errors.UnsafeOutputError`), or with ``replace_stale`` deleted once every
    new file is in place, so the directory holds exactly this split.

    :raises FormatError: damaged input.
    :raises EncodeError: a key the options do not allow (another database, an unassigned
        slot) or that cannot be written, naming it.
    :raises ValueError: bad options.
    """
    if other_dbs not in OTHER_DBS:
        raise ValueError(f"other_dbs must be one of {OTHER_DBS}, not {other_dbs!r}")
    if unassigned not in UNASSIGNED:
        raise ValueError(f"unassigned must be one of {UNASSIGNED}, not {unassigned!r}")
    parts = [Shard(s.ranges, s) if isinstance(s, ClusterNode) else Shard(tuple(s))
             for s in shards]
    if not parts:
        raise ValueError("no slot ranges given")
    owner = _owners([p.ranges for p in parts])
    key_filter = key_filter or KeyFilter()
    os.makedirs(out_dir, exist_ok=True)
    stale = _stale_shard_files(out_dir, {part.file_name for part in parts})
    if stale and not replace_stale:
        shown = ", ".join(stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
        raise UnsafeOutputError(
            f"{os.fspath(out_dir)}: holds shard files of another split ({shown}); loaded with the "
            "new ones they would bring keys back twice: remove them, write elsewhere, or replace "
            "them (replace_stale / --replace-stale)")
    with open_rdb(source) as rdb, ExitStack() as files:
        t = get_target(target if target is not None
                       else target_for_file(rdb.version, rdb.valkey), config)
        writers = []
        inputs = input_locations(source)
        for part in parts:
            part.path = os.path.join(os.fspath(out_dir), part.file_name)
            writers.append(RdbWriter(files.enter_context(atomic_output(part.path, inputs=inputs)), t,
                                     strict=strict, unwritable=unwritable, modules=modules,
                                     source=(rdb.version, rdb.valkey), reencode=reencode))
        result = SplitResult(t, parts)
        records = rdb.iter_records(None if key_filter.is_empty else key_filter.accepts,
                                   raw_types=writers[0].raw_types)
        if progress is not None:
            records = progress(rdb, records)
        seen: set[bytes] | None = set() if other_dbs == "db0" else None
        for rec in records:
            cls = rec.__class__
            if cls is Entry:
                if rec.db != 0:
                    if other_dbs == "fail":
                        raise EncodeError(
                            f"db {rec.db} key {rec.key[:64]!r}: a cluster has only database 0 "
                            "(choose what to do with other databases: db0 or keep)")
                    if other_dbs == "db0":
                        rec.db = 0
                if seen is not None:
                    digest = _key_digest(0, rec.key)
                    if digest in seen:
                        raise EncodeError(f"key {rec.key[:64]!r} is in two databases: database "
                                          "0 cannot take both")
                    seen.add(digest)
                slot = key_hash_slot(rec.key)
                i = owner[slot]
                if i < 0:
                    if unassigned == "fail":
                        raise EncodeError(f"db {rec.db} key {rec.key[:64]!r}: its slot {slot} "
                                          "is in none of the slot ranges")
                    result.unassigned += 1
                    continue
                writers[i].write_entry(rec)
            elif cls is Aux or cls is Function or cls is ModuleAux:
                for w in writers:
                    w.write(rec)
        for part, w in zip(parts, writers):
            part.result = w.close()
    for name in stale:
        os.unlink(os.path.join(out_dir, name))
    if stale:
        fsync_directory(out_dir)
    return result


def _stale_shard_files(out_dir: str | os.PathLike, ours: set[str]) -> list[str]:
    """Names in ``out_dir`` that look like this module's shard files but are not ``ours``."""
    return sorted(name for name in os.listdir(out_dir)
                  if name.startswith("slots-") and name.endswith(".rdb") and name not in ours)


# --------------------------------------------------------------------------------------------
# Merge
# --------------------------------------------------------------------------------------------

@dataclass
class MergeResult:
    """What a merge did.  Accessible attributes: ``result`` (the output's
    :class:`~rdbtools.rdb.writer.WriteResult`), ``conflicts`` (how many keys, and function
    libraries, were in more than one input), ``examples`` (the first few of them:
    ``(db, key, [input paths])``; db None for a library), ``skipped`` (copies left out by the
    policy)."""

    result: WriteResult
    conflicts: int = 0
    examples: list[tuple[int | None, bytes, list[str]]] = field(default_factory=list)
    skipped: int = 0


def _name(path) -> str:
    return os.fspath(path)


def merge_rdb(sources: Sequence[str | os.PathLike], dest, *, on_conflict: str = "error",
              target: str | Target | None = None, config: Mapping[str, int] | None = None,
              key_filter: KeyFilter | None = None, strict: bool = False,
              unwritable: str = "drop", modules: Collection[str] | None = None,
              reencode: bool = False, progress: Progress | None = None) -> MergeResult:
    """Merge the RDB files ``sources`` (paths: each is read more than once) into ``dest`` (a
    path, written atomically, or a binary file object) as one RDB file for ``target`` (default:
    the inputs' version when they all have the same; otherwise it must be given).

    The same key (database and name) in several inputs, and function libraries of the same
    name with different code, are decided by ``on_conflict``: ``"error"`` (raise, naming the
    key and the files, before anything is written), ``"first"`` or ``"last"`` (the copy of
    the first / last input holding it, in the order given, is kept).

    How duplicates are found with bounded memory: a first pass reads every input without
    decoding values (``values="sizes"``) and keeps a set of 128-bit digests of (db, key), about
    100 bytes per key; only when some digest occurs twice does a second such pass collect the
    exact keys concerned and the inputs holding them.  The writing pass then decodes (or copies
    raw) one key at a time.  AUX fields, function libraries and module aux data (the first
    input's, per module) come first in the output, keys follow input by input.

    ``config``, ``key_filter``, ``strict``, ``unwritable``, ``modules`` and ``reencode`` are
    those of :func:`rdbtools.ops.convert.convert`; ``progress`` as for :func:`split_rdb`.

    :raises FormatError: damaged input.
    :raises EncodeError: a conflict under ``"error"`` or a key that cannot be written.
    :raises ValueError: bad options, standard input as a source, inputs of different versions
        without ``target``.
    """
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT}, not {on_conflict!r}")
    if not sources:
        raise ValueError("nothing to merge")
    for path in sources:
        if not isinstance(path, (str, os.PathLike)) or os.fspath(path) == "-":
            raise ValueError("merge reads every input twice: give file paths, not standard input")
    key_filter = key_filter or KeyFilter()
    select = None if key_filter.is_empty else key_filter.accepts

    def read(i: int, values: str, raw_types=None) -> Iterator:
        with open_rdb(sources[i], values=values) as rdb:
            headers[i] = (rdb.version, rdb.valkey)
            records = rdb.iter_records(select, raw_types=raw_types)
            yield from (progress(rdb, records) if progress is not None else records)

    # pass 1: digests of every key; the file-level records
    headers: list[tuple[int, bool]] = [(0, False)] * len(sources)
    seen: set[bytes] = set()
    twice: set[bytes] = set()
    aux: dict[tuple[bytes, bytes], Aux] = {}
    libraries: dict[str, list[tuple[int, Function]]] = {}
    module_aux: dict[tuple[int, int], ModuleAux] = {}
    for i in range(len(sources)):
        for rec in read(i, "sizes"):
            cls = rec.__class__
            if cls is Entry:
                digest = _key_digest(rec.db, rec.key)
                if digest in seen:
                    twice.add(digest)
                else:
                    seen.add(digest)
            elif cls is Aux:
                aux.setdefault((rec.key, rec.value), rec)
            elif cls is Function:
                libraries.setdefault(rec.library_name or rec.code.decode("utf-8", "replace"),
                                     []).append((i, rec))
            elif cls is ModuleAux:
                module_aux.setdefault((rec.module_id, rec.when), rec)
    del seen
    if target is None:
        if len(set(headers)) > 1:
            versions = ", ".join(f"{_name(p)}: {'VALKEY' if v else 'REDIS'} {n}"
                                 for p, (n, v) in zip(sources, headers))
            raise ValueError(f"the inputs have different RDB versions ({versions}); choose "
                             "the output's with a target")
        target = target_for_file(*headers[0])
    t = get_target(target, config)

    # pass 2 (only when needed): the exact keys behind repeated digests, and their inputs
    occurrences: dict[tuple[int, bytes], list[int]] = {}
    if twice:
        for i in range(len(sources)):
            for rec in read(i, "sizes"):
                if rec.__class__ is Entry and _key_digest(rec.db, rec.key) in twice:
                    occurrences.setdefault((rec.db, rec.key), []).append(i)
    conflicts = {k: v for k, v in occurrences.items() if len(v) > 1}
    functions = []
    for name, copies in libraries.items():
        if len({f.code for _, f in copies}) > 1:
            conflicts[(None, name.encode())] = [i for i, _ in copies]  # type: ignore[index]
        functions.append(copies[-1][1] if on_conflict == "last" else copies[0][1])
    merged = MergeResult(WriteResult(t), len(conflicts),
                         [(db, key, [_name(sources[i]) for i in found])
                          for (db, key), found in list(conflicts.items())[:20]])
    if conflicts and on_conflict == "error":
        (db, key), found = next(iter(conflicts.items()))
        what = f"function library {key.decode()!r}" if db is None else f"db {db} key {key[:64]!r}"
        more = f" ({len(conflicts) - 1} more in several inputs)" if len(conflicts) > 1 else ""
        raise EncodeError(f"{what} is in {' and '.join(_name(sources[i]) for i in found)}{more}; "
                          "choose which copy to keep with on-conflict first or last")
    # which occurrence of a repeated key is written (0 = first)
    keep = {k: (0 if on_conflict == "first" else len(v) - 1)
            for k, v in conflicts.items() if k[0] is not None}

    def write(fp) -> None:
        writer = RdbWriter(fp, t, strict=strict, unwritable=unwritable, modules=modules,
                           reencode=reencode)
        for rec in [*aux.values(), *functions,
                    *(m for m in module_aux.values() if m.when == 1)]:
            writer.write(rec)
        counts: dict[tuple[int, bytes], int] = {}
        for i in range(len(sources)):
            writer.set_source(headers[i])
            for rec in read(i, "full", writer.raw_types):
                if rec.__class__ is not Entry:
                    continue
                if keep:
                    ident = (rec.db, rec.key)
                    n = keep.get(ident)
                    if n is not None:
                        seen_before = counts.get(ident, 0)
                        counts[ident] = seen_before + 1
                        if seen_before != n:
                            merged.skipped += 1
                            continue
                writer.write_entry(rec)
        for m in module_aux.values():
            if m.when != 1:
                writer.write(m)
        merged.result = writer.close()

    if isinstance(dest, (str, os.PathLike)):
        with atomic_output(dest, inputs=[p for s in sources for p in input_locations(s)]) as fp:
            write(fp)
    else:
        write(dest)
    return merged
