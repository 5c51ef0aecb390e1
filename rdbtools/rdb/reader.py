"""The RDB reader: the opcode loop over a byte stream, yielding model records lazily.

Mirrors rdbLoadRioWithLoadingCtx() (the opcode loop), rdbLoadObject() (values), rdbLoadLen(),
rdbGenericLoadStringObject() and rdbLoadCheckModuleValue() in Redis's src/rdb.c, and the Valkey
9.0 differences (VALKEY magic, type 22 = HASH_2) from valkey's src/rdb.c.  RDB 13-15 (Redis
8.6-8.10, read from the 8.6.2 and 8.10.2 trees): key metadata (opcode 243, keymeta.c), hash
templates (opcode 242, types 29-32), streams v4/v5 (IDMP, NACK zones), arrays (type 28,
sparsearray.c) and GCRA (type 33); :func:`read_dump_payload` reads a DUMP payload (cluster.c).

The loop is hand-written rather than one giant construct struct (STYLE §2.2): RDB files are
gigabytes, records are yielded one at a time, and the hot leaves (lengths, strings, blob walkers
in :mod:`rdbtools.rdb.blobs`) are plain code that tests prove equal to the grammars in
:mod:`rdbtools.format`.

Three ways to read values (``values=``):

* ``"full"`` — every value decoded into the model.
* ``"sizes"`` — no element is decoded: ``Entry.value`` is None (module values excepted: their raw
  bytes are read to find their end anyway), ``Entry.length`` is the element count (taken from
  blob headers, LZF blobs only expanded as far as their header), strings are skipped without
  decompression.
* ``"lazy"`` — collections arrive as an iterator that reads the file as it is consumed, so a 1 GB
  list costs one quicklist node of memory at a time; whatever the caller leaves unread is skipped
  before the next record.  Strings, streams and module values are still materialised.  For a
  lazy collection ``Entry.length`` is -1 and ``Entry.size`` is final only once the next record
  has been requested.
"""

from __future__ import annotations

import io
import logging
import math
from decimal import Decimal
from itertools import chain, pairwise
from struct import unpack_from
from typing import Callable, Collection, Iterator

from ..format import constants as C
from . import _accel
from ._accel import decode_intset, decode_listpack, decode_ziplist, decode_zipmap, lzf_decompress
from .blobs import intset_count, listpack_count, ziplist_count
from ..errors import (ChecksumError, FormatError, TruncatedError, UnknownOpcodeError,
                     UnsupportedVersionError)
from ..format.array import ARRAY_SMALLSTR_MAXLEN
from ..format.module import KEY_META_MAX_NUM_CLASSES, decode_key_meta_class, decode_module_id
from ..model import (Aux, Entry, Function, HashTemplate, KeyMeta, ModuleAux, ModuleValue,
                    RawValue, Record, ResizeDb, SelectDb, SlotInfo, Stream, StreamConsumer,
                    StreamEntry, StreamGroup, StreamIdmp, StreamIdmpProducer, StreamPendingEntry,
                    TYPE_ARRAY, TYPE_GCRA, TYPE_HASH, TYPE_LIST, TYPE_MODULE, TYPE_SET,
                    TYPE_STREAM, TYPE_STRING, TYPE_ZSET)
from .source import CHUNK_SIZE, ByteSource, InputSource, crc64, open_input

log = logging.getLogger("rdbtools")

__all__ = ["RdbReader", "open_rdb", "read_rdb", "read_dump_payload", "VALUE_MODES"]

VALUE_MODES = ("full", "sizes", "lazy")
_U64 = (1 << 64) - 1
Selector = Callable[[int, bytes, str, "int | None"], bool]
_LAZY_CHUNK = 1024
_FAST_RECORD_MAX = 16 << 20  # records up to this size are buffered whole for the compiled path
_LZF_MAX_EXPANSION = 88  # lzf_c.c MAX_REF (264 bytes) from a 3-byte back-reference
_DATABASES_DEFAULT = 16  # redis.conf / config.c "databases" default
_DATABASES_MAX = (1 << 31) - 1  # its upper bound, INT_MAX (config.c createIntConfig)
# the smallest key record: type byte, an empty key and an empty string (1 byte each); an expiry
# adds at least EXPIRETIME and its 4-byte time (EXPIRETIME_MS, written since RDB 3, takes 9)
_MIN_KEY_RECORD = 3
_MIN_EXPIRE = 5


def _text(element) -> bytes:
    return element if element.__class__ is bytes else b"%d" % element


def _texts(elements: list) -> list[bytes]:
    return [e if e.__class__ is bytes else b"%d" % e for e in elements]


def _score(element) -> float:
    try:
        return float(element)
    except ValueError:
        raise FormatError(f"sorted set score {element!r} is not a number") from None


class _Blob:
    """Where a blob string came from, to turn walker offsets into file offsets."""

    __slots__ = ("offset", "compressed", "kind")

    def __init__(self, offset: int, compressed: bool, kind: str) -> None:
        self.offset = offset
        self.compressed = compressed
        self.kind = kind

    def error(self, err: FormatError) -> FormatError:
        rel = err.offset or 0
        if self.compressed:
            err.offset = self.offset
            err.detail = f"LZF-compressed {self.kind} at 0x{self.offset:x}, +{rel} in decompressed data"
        else:
            err.offset = self.offset + rel
            err.detail = f"{self.kind} at 0x{self.offset:x}"
        err.args = (err._message(),)
        return err


class RecordCursor:
    """The RDB primitives over a :class:`~rdbtools.rdb.source.ByteSource` (``rdbLoadLen()``,
    ``rdbGenericLoadStringObject()``): what the reader's opcode loop and anything else walking
    record bytes (the memory analysis's record shapes) read lengths and strings with.

    ``RecordCursor.over(data)`` walks a bytes object, e.g. one key record.
    """

    __slots__ = ("_src",)

    def __init__(self, src: ByteSource) -> None:
        self._src = src

    @classmethod
    def over(cls, data: bytes) -> "RecordCursor":
        return cls(ByteSource(io.BytesIO(data).read, len(data), checksum=False))

    def _read_len(self) -> int:
        src = self._src
        buf = src.buf
        pos = src.pos
        if pos >= len(buf):
            src.fill(1)
            buf = src.buf
            pos = src.pos
        b = buf[pos]
        kind = b >> 6
        if kind == 0:
            src.pos = pos + 1
            return b
        if kind == 1:
            if pos + 2 > len(buf):
                src.fill(2)
                buf = src.buf
                pos = src.pos
            src.pos = pos + 2
            return ((b & 0x3F) << 8) | buf[pos + 1]
        if b == 0x80:
            return int.from_bytes(src.take(5)[1:], "big")
        if b == 0x81:  # 64-bit length, RDB 8 (Redis 4.0)
            return int.from_bytes(src.take(9)[1:], "big")
        if kind == 3:
            raise FormatError(f"string encoding byte 0x{b:02x} where a length was expected",
                              src.offset)
        raise FormatError(f"invalid length encoding byte 0x{b:02x}", src.offset)

    def _read_string(self) -> bytes:
        src = self._src
        buf = src.buf
        pos = src.pos
        if pos >= len(buf):
            src.fill(1)
            buf = src.buf
            pos = src.pos
        b = buf[pos]
        if b < 0x40:
            end = pos + 1 + b
            if end > len(buf):
                src.fill(1 + b)
                buf = src.buf
                pos = src.pos
                end = pos + 1 + b
            src.pos = end
            return buf[pos + 1 : end]
        if b < 0xC0:
            n = self._read_len()
            return src.take(n)
        enc = b & 0x3F
        if enc == C.RDB_ENC_INT8:
            data = src.take(2)
            v = data[1]
            return b"%d" % (v - 256 if v > 127 else v)
        if enc == C.RDB_ENC_INT16:
            return b"%d" % unpack_from("<h", src.take(3), 1)[0]
        if enc == C.RDB_ENC_INT32:
            return b"%d" % unpack_from("<i", src.take(5), 1)[0]
        if enc == C.RDB_ENC_LZF:
            offset = src.offset
            clen, ulen = self._read_lzf_lengths()
            data = src.take(clen)
            try:
                return lzf_decompress(data, ulen)
            except FormatError as err:
                raise _Blob(offset, True, "LZF string").error(err) from None
        raise FormatError(f"unknown string encoding 0x{b:02x}", src.offset)

    def _read_lzf_lengths(self) -> tuple[int, int]:
        """The compressed and declared lengths of the LZF string at ``pos`` (its 0xC3 byte),
        as rdbLoadLzfStringObject() reads them.  LZF expands at most 88-fold: its longest
        back-reference, 3 bytes, yields MAX_REF = 264 bytes (lzf_c.c, lzf_d.c), so a larger
        declared length cannot be met.  Redis allocates the declared length and fails after
        decompressing ("Invalid LZF compressed string", rdb.c @8.10.2); here it is refused
        before anything is allocated or read."""
        src = self._src
        offset = src.offset
        src.pos += 1
        clen = self._read_len()
        ulen = self._read_len()
        if ulen > clen * _LZF_MAX_EXPANSION:
            raise FormatError(f"LZF string declares {ulen} bytes from {clen} compressed bytes "
                              f"(LZF expands at most {_LZF_MAX_EXPANSION}-fold)", offset)
        return clen, ulen

    def _skip_string(self) -> int:
        """Skip a string without decoding it; return its decoded length."""
        src = self._src
        src.fill(1)
        b = src.buf[src.pos]
        if b < 0xC0:
            n = self._read_len()
            src.skip(n)
            return n
        enc = b & 0x3F
        if enc == C.RDB_ENC_LZF:
            clen, ulen = self._read_lzf_lengths()
            src.skip(clen)
            return ulen
        return len(self._read_string())


class RdbReader(RecordCursor):
    """Reads one RDB stream.  Use as a context manager (it closes what it opened).

    Accessible attributes: ``magic`` ("REDIS" or "VALKEY"), ``version``, ``valkey`` (type codes
    follow Valkey's table), ``aux`` / ``functions`` / ``module_aux`` / ``slot_info`` /
    ``hash_templates`` (filled in as the records are read; ``hash_templates`` maps a template
    id of the file to its field names), ``checksum`` (after the end: "ok", "disabled" when the
    stored CRC is 0, or "absent" before RDB 5), ``stored_checksum``, ``bytes_read`` / ``total_size``
    (progress on the underlying file; ``total_size`` None when unknown).

    :raises UnsupportedVersionError: for versions this project does not read (RDB 16+).
    """

    def __init__(self, source: InputSource, values: str = "full", *,
                 verify_checksum: bool = True) -> None:
        if values not in VALUE_MODES:
            raise ValueError(f"values must be one of {VALUE_MODES}, not {values!r}")
        self.values = values
        self._input = open_input(source)
        self.name = self._input.name
        self._src = ByteSource(self._input.read, self._input.size, checksum=verify_checksum)
        self._verify = verify_checksum
        self.aux: list[Aux] = []
        self.functions: list[Function] = []
        self.module_aux: list[ModuleAux] = []
        self.slot_info: list[SlotInfo] = []
        self.hash_templates: dict[int, list[bytes]] = {}
        self.checksum: str | None = None
        self.stored_checksum: int | None = None
        self.end_offset: int | None = None
        self._started = False
        try:
            self._read_header()
        except BaseException:
            self._input.close()
            raise

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "RdbReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._input.close()

    @property
    def bytes_read(self) -> int:
        if self._input.compression is None:
            return self._src.offset
        return self._input.raw_position()

    @property
    def total_size(self) -> int | None:
        return self._input.raw_size

    # -- header ---------------------------------------------------------------------------
    def _read_header(self) -> None:
        src = self._src
        try:
            head = src.take(9)
        except TruncatedError:
            raise FormatError("not an RDB file: shorter than the 9-byte header", 0) from None
        if head[:5] == b"REDIS" and head[5:9].isdigit():
            self.magic = "REDIS"
            self.version = int(head[5:9])
            supported = 1 <= self.version <= C.RDB_VERSION_MAX_REDIS
        elif head[:6] == b"VALKEY" and head[6:9].isdigit():
            # Valkey 9.0: "VALKEY" + 3 digits for versions above 79 (valkey rdb.h)
            self.magic = "VALKEY"
            self.version = int(head[6:9])
            supported = self.version == C.RDB_VERSION_MAX_VALKEY
        else:
            raise FormatError(f"not an RDB file: header {head!r} is neither REDIS0nnn nor "
                              "VALKEYnnn", 0)
        if not supported:
            raise UnsupportedVersionError(
                f"unsupported RDB version {self.version} ({self.magic} magic); this reader "
                f"supports REDIS 1-{C.RDB_VERSION_MAX_REDIS} (Redis 2.0-8.10: 13 = 8.6, 14 = 8.8, "
                f"15 = 8.10; Valkey 7.2-8.1) "
                f"and VALKEY{C.RDB_VERSION_MAX_VALKEY} (Valkey 9.x)", 5)
        self.valkey = self.magic == "VALKEY"

    def _read_blob(self, kind: str) -> tuple[bytes, _Blob]:
        src = self._src
        offset = src.offset
        src.fill(1)
        b = src.buf[src.pos]
        data = self._read_string()
        compressed = b == 0xC3
        if b < 0xC0:
            offset = src.offset - len(data)  # where the blob's own bytes start
        return data, _Blob(offset, compressed, kind)

    def _read_u8(self) -> int:
        src = self._src
        if src.pos >= len(src.buf):
            src.fill(1)
        b = src.buf[src.pos]
        src.pos += 1
        return b

    def _read_i64(self) -> int:
        return unpack_from("<q", self._src.take(8))[0]

    def _read_u64(self) -> int:
        return unpack_from("<Q", self._src.take(8))[0]

    # -- the opcode loop (rdbLoadRioWithLoadingCtx) --------------------------------------
    def iter_entries(self, select: Selector | None = None) -> Iterator[Entry]:
        """Every key in file order (see :meth:`iter_records` for everything else)."""
        for record in self.iter_records(select):
            if record.__class__ is Entry:
                yield record  # type: ignore[misc]

    def iter_records(self, select: Selector | None = None, *,
                     raw_types: Collection[int] | None = None) -> Iterator[Record]:
        """Every record in file order: entries, AUX fields, SELECTDB, RESIZEDB, functions,
        module aux data and slot info.  Ends after the EOF opcode and checksum.

        ``select(db, key, type, expire_at_ms)``, when given, is asked about each key before its
        value is decoded: keys it rejects are skipped without decoding and not yielded.

        ``raw_types``: values of these type codes are not decoded; their entries carry a
        :class:`~rdbtools.model.RawValue` holding the exact bytes after the key (what the writer
        copies on its fast path) and ``length`` as in ``values="sizes"``.  Module values (type 7)
        are always kept raw in :class:`~rdbtools.model.ModuleValue` and cannot be asked for.

        :raises FormatError: (or a subclass) on damaged input, naming the offset; records read
            before the damage have already been yielded.
        """
        if self._started:
            raise RuntimeError("an RdbReader can be iterated only once")
        self._started = True
        src = self._src
        db = 0
        expire = idle = freq = None
        key_meta: list[KeyMeta] | None = None
        record_start = None
        hints: list[tuple[ResizeDb, int, int, int]] = []  # RESIZEDBs of the current database
        decoders = self._decoders()
        lazy = self.values == "lazy"
        sizes = self.values == "sizes"
        if raw_types is not None and C.RDB_TYPE_MODULE_2 in raw_types:
            raise ValueError("module values are always raw (ModuleValue); leave type 7 out")
        raw = frozenset(raw_types or ())
        fast = _accel.read_records if select is None and not lazy else None
        fast_raw = raw or None
        # the compiled loop caches its type mask by this object: build it once per iteration
        fast_types = frozenset(decoders)
        while True:
            if fast is not None and key_meta is None:
                # Compiled path (rdbtools/rdb/csrc/records.c): every key record lying wholly in the
                # buffer, up to the first other opcode or anything it leaves to the code below
                # (other types, damage: read and reported there, one opcode, then back here).
                pos = src.pos
                batch, src.pos, expire, idle, freq, record_start, starved = fast(
                    src.buf, pos, src.base, db, sizes, expire, idle, freq, record_start,
                    fast_raw, fast_types, self.hash_templates, not self.valkey)
                yield from batch
                if src.pos != pos or starved and self._grow_buffer():
                    continue
            offset = src.base + src.pos
            if record_start is None:
                record_start = offset
            buf = src.buf
            pos = src.pos
            if pos < len(buf):
                opcode = buf[pos]
                src.pos = pos + 1
            else:
                opcode = self._read_u8()
            if opcode < 0xF0:
                decoder = decoders.get(opcode)
                if decoder is None:
                    raise self._unknown_type(opcode, offset, db)
                type_name, read_full, read_size, read_lazy = decoder
                key = None
                try:
                    key = self._read_string()
                    entry = Entry(db, key, type_name, None, expire, opcode, idle, freq)
                    entry.key_meta = key_meta
                    key_meta = None
                    if select is not None and not select(db, key, type_name, expire):
                        read_size(entry)
                        expire = idle = freq = record_start = None
                        continue
                    if opcode in raw:
                        src.start_capture()
                        try:
                            entry.length = read_size(entry)
                        finally:
                            entry.value = RawValue(src.end_capture())
                    elif sizes:
                        entry.length = read_size(entry)
                    elif lazy and read_lazy is not None:
                        entry.value = _LazyValue(read_lazy(entry))
                        entry.length = -1
                    else:
                        read_full(entry)
                except FormatError as err:
                    raise err.with_context(db=db, key=key) from None
                entry.offset = record_start
                end = src.base + src.pos
                entry.size = end - record_start
                yield entry
                if lazy and entry.value.__class__ is _LazyValue:
                    try:
                        entry.value.drain()
                    except FormatError as err:
                        raise err.with_context(db=db, key=key) from None
                    entry.size = src.base + src.pos - record_start
                expire = idle = freq = record_start = None
                continue
            if opcode == C.RDB_OPCODE_EXPIRETIME_MS:
                expire = self._read_i64()
            elif opcode == C.RDB_OPCODE_EXPIRETIME:
                expire = unpack_from("<i", src.take(4))[0] * 1000
            elif opcode == C.RDB_OPCODE_IDLE:
                idle = self._read_len()
            elif opcode == C.RDB_OPCODE_FREQ:
                freq = self._read_u8()
            elif opcode == C.RDB_OPCODE_KEY_META and not self.valkey:
                # Redis 8.6 (RDB 13): module key metadata, right before the key's type byte
                # (Valkey 8.1+ files use 243 for SLOT_IMPORT, which this reader refuses)
                key_meta = self._read_key_meta(offset, db)
            else:
                record_start = None
                if expire is not None or idle is not None or freq is not None:
                    # Redis resets per-key state only after a key; an opcode in between is
                    # tolerated there too, so keep the pending state for the next key.
                    record_start = offset
                if opcode == C.RDB_OPCODE_SELECTDB:
                    self._check_resize_hints(hints, offset)
                    db = self._read_selectdb(offset)
                    yield SelectDb(db)
                elif opcode == C.RDB_OPCODE_RESIZEDB:
                    resize = ResizeDb(self._read_len(), self._read_len())
                    hints.append((resize, db, offset, src.offset))
                    yield resize
                elif opcode == C.RDB_OPCODE_AUX:
                    aux = Aux(self._read_string(), self._read_string())
                    self.aux.append(aux)
                    if aux.key == b"slot-info":  # Valkey 8.0+ cluster mode
                        self._slot_info_aux(aux, offset)
                    yield aux
                elif opcode == C.RDB_OPCODE_FUNCTION2:
                    function = Function(self._read_string())
                    self.functions.append(function)
                    yield function
                elif opcode == C.RDB_OPCODE_MODULE_AUX:
                    module_aux = self._read_module_aux(offset)
                    self.module_aux.append(module_aux)
                    yield module_aux
                elif opcode == C.RDB_OPCODE_HASH_TEMPLATE:
                    template = self._read_hash_template(offset)
                    self.hash_templates[template.tid] = template.fields
                    yield template
                elif opcode == C.RDB_OPCODE_SLOT_INFO:
                    info = SlotInfo(self._read_len(), self._read_len(), self._read_len())
                    self.slot_info.append(info)
                    yield info
                elif opcode == C.RDB_OPCODE_EOF:
                    self._check_resize_hints(hints, offset)
                    self._read_trailer()
                    return
                elif opcode == C.RDB_OPCODE_FUNCTION_PRE_GA:
                    raise UnknownOpcodeError(
                        "opcode 246 (FUNCTION_PRE_GA) is the function format of Redis 7.0 "
                        "release candidates, which Redis 7.0 GA and later refuse too", offset)
                else:
                    raise UnknownOpcodeError(
                        f"unknown opcode {opcode} (0x{opcode:02x}) in an RDB {self.version} file",
                        offset, db=db)

    def _read_selectdb(self, offset: int) -> int:
        """SELECTDB's database number.  Redis exits on a number at or above its ``databases``
        ("FATAL: Data file was created with a Redis server configured to handle more than %d
        databases", rdbLoadRioWithLoadingCtx in rdb.c @8.10.2; Redis 6.2 and Valkey 9.1 alike).
        ``databases`` is at most INT_MAX (config.c), so from INT_MAX on no server loads the
        file: damage.  Below that a number from 16 on is refused by a server with the default
        16 databases: a warning."""
        db = self._read_len()
        if db >= _DATABASES_MAX:
            raise FormatError(f"SELECTDB {db}: no server loads it (a server refuses a database "
                              f"number at or above its 'databases', which is at most "
                              f"{_DATABASES_MAX})", offset)
        if db >= _DATABASES_DEFAULT:
            log.warning("%s: offset %d: SELECTDB %d: a server with the default %d databases "
                        "refuses this file (\"FATAL: Data file was created with a Redis server "
                        "configured to handle more than %d databases\"); it needs databases %d "
                        "or more", self.name, offset, db, _DATABASES_DEFAULT, _DATABASES_DEFAULT,
                        db + 1)
        return db

    def _check_resize_hints(self, hints: list[tuple[ResizeDb, int, int, int]], end: int) -> None:
        """Warn about RESIZEDB hints their database cannot meet; called where its records end
        (the next SELECTDB or EOF, at ``end``).  Redis sizes the keyspace and expires tables
        from the hint before the first key (dbExpand: the next power of two x 8 bytes, rdb.c and
        db.c @8.10.2; hints of 2^61 or more overflow and are ignored there), so a huge hint
        wastes memory or, on some servers, aborts the load (docs/cli.md, check), but the data
        itself is sound: a warning."""
        for resize, db, offset, after in hints:
            keys, expires = resize.db_size, resize.expires_size
            needed = _MIN_KEY_RECORD * keys + _MIN_EXPIRE * expires
            if expires > keys:
                why = "more keys with an expiry than keys"
            elif needed > end - after:
                why = (f"that takes at least {needed} bytes and {end - after} follow up to the "
                       "end of that database")
            else:
                continue
            log.warning("%s: offset %d: RESIZEDB hints %d keys, %d with an expiry, for db %d: "
                        "%s (a server sizes its key tables from the hint before loading: a huge "
                        "one wastes memory or aborts the load)", self.name, offset, keys, expires,
                        db, why)
        hints.clear()

    def _read_dump_value(self, key: bytes, db: int) -> Entry:
        """The value of a DUMP payload body (``[0xF3 key metadata] type value``), read as
        rdbLoadObject does with RIO_FLAG_DUMP_PAYLOAD set (restoreCommand in cluster.c)."""
        src = self._src
        key_meta = None
        offset = src.offset
        opcode = self._read_u8()
        if opcode == C.RDB_OPCODE_KEY_META and not self.valkey:
            key_meta = self._read_key_meta(offset, db)  # Redis 8.6: the same prefix as in a file
            offset = src.offset
            opcode = self._read_u8()
        decoder = self._decoders().get(opcode) if opcode < 0xF0 else None
        if decoder is None:
            raise self._unknown_type(opcode, offset, db)
        if opcode in (C.RDB_TYPE_HASH_TMPL_LP_REF, C.RDB_TYPE_HASH_TMPL_ARRAY_REF):
            # the REF forms point at opcode-242 records, which only an RDB file has
            raise FormatError(f"hash type {opcode} not valid in a DUMP payload", offset, db=db,
                              key=key)
        entry = Entry(db, key, decoder[0], None, None, opcode)
        entry.key_meta = key_meta
        try:
            decoder[1](entry)
        except FormatError as err:
            raise err.with_context(db=db, key=key) from None
        entry.size = src.offset
        if not src.at_eof():
            raise FormatError("bytes left in the DUMP payload after its value", src.offset,
                              db=db, key=key)
        return entry

    def _grow_buffer(self) -> bool:
        """For the compiled path, stopped by a record running past the buffer: make the buffer
        hold twice what is left (at least a chunk) if the file surely has that many bytes and
        the record is not huge (those are read below, streaming, with bounded memory)."""
        src = self._src
        avail = len(src.buf) - src.pos
        size = self._input.size
        if size is None or avail >= _FAST_RECORD_MAX:
            return False
        want = min(max(2 * avail, CHUNK_SIZE), size - src.offset)
        if want <= avail:
            return False
        src.fill(want)
        return True

    def _unknown_type(self, code: int, offset: int, db: int) -> FormatError:
        if code == C.RDB_TYPE_MODULE_PRE_GA:
            return UnknownOpcodeError(
                "value type 6 (MODULE_PRE_GA, Redis 4.0 release candidates) is not "
                "self-describing and cannot be read without its module; Redis 4.0 GA and "
                "later refuse it too", offset, db=db)
        table = "Valkey" if self.valkey else "Redis"
        return UnknownOpcodeError(
            f"unknown value type {code} (0x{code:02x}) for {table} RDB version {self.version}",
            offset, db=db)

    def _read_trailer(self) -> None:
        src = self._src
        crc = src.checksum_so_far()
        self.end_offset = src.offset
        if self.version < 5:
            self.checksum = "absent"
            return
        offset = src.offset
        stored = self._read_u64()
        self.stored_checksum = stored
        self.end_offset = src.offset
        if stored == 0:
            self.checksum = "disabled"  # rdbchecksum no
        elif not self._verify:
            self.checksum = "unverified"
        elif stored != crc:
            self.checksum = "mismatch"
            raise ChecksumError(
                f"CRC64 mismatch: the file stores 0x{stored:016x}, its bytes give 0x{crc:016x}",
                offset)
        else:
            self.checksum = "ok"
        if self._input.size is not None and src.offset < self._input.size:
            log.warning("%s: %d bytes after the RDB end (offset %d)", self.name,
                        self._input.size - src.offset, src.offset)

    def _slot_info_aux(self, aux: Aux, offset: int) -> None:
        parts = aux.value.split(b",")
        try:
            slot, keys, expires = (int(p) for p in parts[:3])
        except ValueError:
            raise FormatError(f"malformed slot-info AUX value {aux.value!r}", offset) from None
        self.slot_info.append(SlotInfo(slot, keys, expires))

    # -- value decoders ---------------------------------------------------------------------
    def _decoders(self) -> dict[int, tuple[str, Callable, Callable, Callable | None]]:
        """Registry: type code -> (model type, full decoder, sizes decoder, lazy generator)."""
        lists = self._lists_decoder
        table = {
            C.RDB_TYPE_STRING: (TYPE_STRING, self._full_string, self._size_string, None),
            C.RDB_TYPE_LIST: (TYPE_LIST, *lists(self._gen_list)),
            C.RDB_TYPE_SET: (TYPE_SET, *lists(self._gen_set)),
            C.RDB_TYPE_ZSET: (TYPE_ZSET, *lists(self._gen_zset)),
            C.RDB_TYPE_HASH: (TYPE_HASH, *lists(self._gen_hash)),
            C.RDB_TYPE_ZSET_2: (TYPE_ZSET, *lists(self._gen_zset)),
            C.RDB_TYPE_MODULE_2: (TYPE_MODULE, self._full_module, self._size_module, None),
            C.RDB_TYPE_HASH_ZIPMAP: (TYPE_HASH, *lists(self._gen_zipmap)),
            C.RDB_TYPE_LIST_ZIPLIST: (TYPE_LIST, *lists(self._gen_ziplist_list)),
            C.RDB_TYPE_SET_INTSET: (TYPE_SET, *lists(self._gen_intset)),
            C.RDB_TYPE_ZSET_ZIPLIST: (TYPE_ZSET, *lists(self._gen_ziplist_pairs)),
            C.RDB_TYPE_HASH_ZIPLIST: (TYPE_HASH, *lists(self._gen_ziplist_pairs)),
            C.RDB_TYPE_LIST_QUICKLIST: (TYPE_LIST, *lists(self._gen_quicklist)),
            C.RDB_TYPE_STREAM_LISTPACKS: (TYPE_STREAM, self._full_stream, self._size_stream, None),
            C.RDB_TYPE_HASH_LISTPACK: (TYPE_HASH, *lists(self._gen_listpack_pairs)),
            C.RDB_TYPE_ZSET_LISTPACK: (TYPE_ZSET, *lists(self._gen_listpack_pairs)),
            C.RDB_TYPE_LIST_QUICKLIST_2: (TYPE_LIST, *lists(self._gen_quicklist)),
            C.RDB_TYPE_STREAM_LISTPACKS_2: (TYPE_STREAM, self._full_stream, self._size_stream,
                                            None),
            C.RDB_TYPE_SET_LISTPACK: (TYPE_SET, *lists(self._gen_listpack_set)),
            C.RDB_TYPE_STREAM_LISTPACKS_3: (TYPE_STREAM, self._full_stream, self._size_stream,
                                            None),
        }
        if self.valkey:
            table[C.RDB_TYPE_VALKEY_HASH_2] = (TYPE_HASH, *lists(self._gen_hash_with_ttls))
        else:
            for code in (C.RDB_TYPE_HASH_METADATA_PRE_GA, C.RDB_TYPE_HASH_METADATA):
                table[code] = (TYPE_HASH, *lists(self._gen_hash_with_ttls))
            for code in (C.RDB_TYPE_HASH_LISTPACK_EX_PRE_GA, C.RDB_TYPE_HASH_LISTPACK_EX):
                table[code] = (TYPE_HASH, *lists(self._gen_listpack_ex))
            # Redis 8.6-8.10 (RDB 13-15).  Like Redis's loader, any header version 1-15 may
            # hold them: rdb.c has no version gating of types.
            for code in (C.RDB_TYPE_STREAM_LISTPACKS_4, C.RDB_TYPE_STREAM_LISTPACKS_5):
                table[code] = (TYPE_STREAM, self._full_stream, self._size_stream, None)
            table[C.RDB_TYPE_ARRAY] = (TYPE_ARRAY, *lists(self._gen_array))
            for code in (C.RDB_TYPE_HASH_TMPL_LP, C.RDB_TYPE_HASH_TMPL_LP_REF,
                         C.RDB_TYPE_HASH_TMPL_ARRAY, C.RDB_TYPE_HASH_TMPL_ARRAY_REF):
                table[code] = (TYPE_HASH, *lists(self._gen_template_hash))
            table[C.RDB_TYPE_GCRA] = (TYPE_GCRA, self._full_gcra, self._size_gcra, None)
        return table

    def _lists_decoder(self, gen: Callable[[Entry, bool], Iterator[list]]):
        """Full, sizes and lazy readers of a collection from its one chunk generator.

        ``gen(entry, count_only)`` yields lists of elements (or, with ``count_only``, ints
        counting them without decoding where the encoding allows)."""

        def full(entry: Entry) -> None:
            value: list = []
            for chunk in gen(entry, False):
                value += chunk
            entry.value = value
            entry.length = len(value)

        def size(entry: Entry) -> int:
            return sum(gen(entry, True))

        def lazy(entry: Entry) -> Iterator:
            return chain.from_iterable(gen(entry, False))

        return full, size, lazy

    # strings
    def _full_string(self, entry: Entry) -> None:
        entry.value = value = self._read_string()
        entry.length = len(value)

    def _size_string(self, entry: Entry) -> int:
        return self._skip_string()

    # type 1 (linked list), 2 (set): N strings
    def _gen_strings(self, entry: Entry, count_only: bool) -> Iterator:
        n = self._read_len()
        if count_only:
            for _ in range(n):
                self._skip_string()
            yield n
            return
        read = self._read_string
        while n > 0:
            step = min(n, _LAZY_CHUNK)
            yield [read() for _ in range(step)]
            n -= step

    _gen_list = _gen_strings
    _gen_set = _gen_strings

    # type 3 (ascii scores) and 5 (binary scores): N (member, score)
    def _gen_zset(self, entry: Entry, count_only: bool) -> Iterator:
        n = self._read_len()
        binary = entry.rdb_type == C.RDB_TYPE_ZSET_2
        read = self._read_string
        score = self._read_binary_double if binary else self._read_ascii_double
        while n > 0:
            step = min(n, _LAZY_CHUNK)
            chunk = [(read(), score()) for _ in range(step)]
            n -= step
            yield step if count_only else chunk

    def _read_binary_double(self) -> float:
        return unpack_from("<d", self._src.take(8))[0]

    def _read_ascii_double(self) -> float:
        # rdbLoadDoubleValue: 253 = NaN, 254 = +inf, 255 = -inf, else that many ASCII chars
        n = self._read_u8()
        if n == 253:
            return float("nan")
        if n == 254:
            return float("inf")
        if n == 255:
            return float("-inf")
        offset = self._src.offset
        text = self._src.take(n)
        try:
            return float(text)
        except ValueError:
            raise FormatError(f"score {text!r} is not a number", offset) from None

    # type 4: N (field, value)
    def _gen_hash(self, entry: Entry, count_only: bool) -> Iterator:
        n = self._read_len()
        if count_only:
            for _ in range(2 * n):
                self._skip_string()
            yield n
            return
        read = self._read_string
        while n > 0:
            step = min(n, _LAZY_CHUNK)
            yield [(read(), read()) for _ in range(step)]
            n -= step

    # Redis 7.4 type 24 (and pre-GA 22), Valkey 9 type 22: hashes with field TTLs
    def _gen_hash_with_ttls(self, entry: Entry, count_only: bool) -> Iterator:
        read = self._read_string
        ttls: dict[bytes, int] = {}
        entry.field_expire_at_ms = ttls
        if self.valkey:
            # Valkey HASH_2: N x (field, value, 8-byte LE signed expiry; -1 = none)
            n = self._read_len()
            while n > 0:
                step = min(n, _LAZY_CHUNK)
                chunk = []
                for _ in range(step):
                    field = read()
                    value = read()
                    expire = self._read_i64()
                    if expire >= 0:
                        ttls[field] = expire
                    chunk.append((field, value))
                n -= step
                yield step if count_only else chunk
            return
        if entry.rdb_type == C.RDB_TYPE_HASH_METADATA:
            # ttl is stored relative to the smallest one, +1 so that 0 keeps meaning "none"
            min_expire = self._read_u64()
            base = min_expire - 1
        else:
            base = 0  # 7.4 release candidates stored absolute times
        n = self._read_len()
        while n > 0:
            step = min(n, _LAZY_CHUNK)
            chunk = []
            for _ in range(step):
                ttl = self._read_len()
                field = read()
                value = read()
                if ttl:
                    ttls[field] = ttl + base
                chunk.append((field, value))
            n -= step
            yield step if count_only else chunk

    # blob types
    def _blob_elements(self, kind: str, decode: Callable[[bytes], list]) -> list:
        data, blob = self._read_blob(kind)
        try:
            return decode(data)
        except FormatError as err:
            raise blob.error(err) from None

    def _gen_ziplist_list(self, entry: Entry, count_only: bool) -> Iterator:
        if count_only:
            yield self._sized_blob("ziplist", decode_ziplist)
            return
        yield _texts(self._blob_elements("ziplist", decode_ziplist))

    def _gen_ziplist_pairs(self, entry: Entry, count_only: bool) -> Iterator:
        if count_only:
            yield self._sized_blob("ziplist", decode_ziplist) // 2
            return
        yield self._blob_pairs("ziplist", decode_ziplist, entry)

    def _gen_listpack_pairs(self, entry: Entry, count_only: bool) -> Iterator:
        if count_only:
            yield self._sized_blob("listpack", decode_listpack) // 2
            return
        yield self._blob_pairs("listpack", decode_listpack, entry)

    def _gen_listpack_set(self, entry: Entry, count_only: bool) -> Iterator:
        if count_only:
            yield self._sized_blob("listpack", decode_listpack)
            return
        yield _texts(self._blob_elements("listpack", decode_listpack))

    def _gen_intset(self, entry: Entry, count_only: bool) -> Iterator:
        if count_only:
            yield self._sized_blob("intset", decode_intset)
            return
        yield [b"%d" % v for v in self._blob_elements("intset", decode_intset)]

    def _gen_zipmap(self, entry: Entry, count_only: bool) -> Iterator:
        elements = self._blob_elements("zipmap", decode_zipmap)
        yield len(elements) // 2 if count_only else list(zip(elements[::2], elements[1::2]))

    def _blob_pairs(self, kind: str, decode: Callable[[bytes], list], entry: Entry) -> list:
        data, blob = self._read_blob(kind)
        try:
            return self._pairs(decode(data), entry)
        except FormatError as err:  # a bad score or an odd count: at the blob's offset
            raise blob.error(err) from None

    def _pairs(self, elements: list, entry: Entry) -> list:
        if len(elements) % 2:
            raise FormatError(f"{len(elements)} elements in a blob that holds pairs")
        firsts = _texts(elements[::2])
        if entry.type == TYPE_ZSET:
            return list(zip(firsts, map(_score, elements[1::2])))
        return list(zip(firsts, _texts(elements[1::2])))

    def _sized_blob(self, kind: str, decode: Callable[[bytes], list]) -> int:
        """Element count of a blob from its header (sizes mode).  An LZF blob is expanded only
        as far as its header; the blob is walked only when the header does not know the count
        (65535)."""
        head_size, counter = _BLOB_HEADERS[kind]
        src = self._src
        src.fill(1)
        if src.buf[src.pos] != 0xC3:
            data, blob = self._read_blob(kind)
            expand = None
        else:
            blob = _Blob(src.offset, True, kind)
            clen, ulen = self._read_lzf_lengths()
            compressed = src.take(clen)
            expand = lambda limit=None: lzf_decompress(compressed, ulen, limit)  # noqa: E731
            data = b""
        try:
            head = data if expand is None else expand(head_size)
            count = counter(head) if len(head) >= head_size else None
            if count is None:
                return len(decode(data if expand is None else expand()))
        except FormatError as err:
            raise blob.error(err) from None
        return count

    # quicklist v1 (type 14, ziplist nodes) and v2 (type 18, listpack or plain nodes)
    def _gen_quicklist(self, entry: Entry, count_only: bool) -> Iterator:
        nodes = self._read_len()
        v2 = entry.rdb_type == C.RDB_TYPE_LIST_QUICKLIST_2
        for _ in range(nodes):
            if v2:
                offset = self._src.offset
                container = self._read_len()
                if container == C.QUICKLIST_NODE_CONTAINER_PLAIN:
                    if count_only:
                        self._skip_string()
                        yield 1
                    else:
                        yield [self._read_string()]
                    continue
                if container != C.QUICKLIST_NODE_CONTAINER_PACKED:
                    raise FormatError(f"unknown quicklist node container {container}", offset)
                kind, decode = "listpack", decode_listpack
            else:
                kind, decode = "ziplist", decode_ziplist
            if count_only:
                yield self._sized_blob(kind, decode)
            else:
                yield _texts(self._blob_elements(kind, decode))

    # Redis 7.4 types 25 (and pre-GA 23): listpack of (field, value, expire_at_ms) triplets
    def _gen_listpack_ex(self, entry: Entry, count_only: bool) -> Iterator:
        if entry.rdb_type == C.RDB_TYPE_HASH_LISTPACK_EX:
            self._read_u64()  # minExpire: a cache of the smallest TTL, derivable
        if count_only:
            yield self._sized_blob("listpack", decode_listpack) // 3
            return
        data, blob = self._read_blob("listpack")
        try:
            elements = decode_listpack(data)
            if len(elements) % 3:
                raise FormatError(f"{len(elements)} elements in a field/value/TTL listpack", 6)
        except FormatError as err:
            raise blob.error(err) from None
        fields = _texts(elements[::3])
        ttls = {}
        for field, expire in zip(fields, elements[2::3]):
            if expire.__class__ is not int:
                raise blob.error(FormatError(f"field TTL {expire!r} is not an integer", 0))
            if expire:
                ttls[field] = expire
        entry.field_expire_at_ms = ttls
        yield list(zip(fields, _texts(elements[1::3])))

    # Redis 8.8 type 28: a sparse array (rdbLoadObject RDB_TYPE_ARRAY, sparsearray.c)
    def _gen_array(self, entry: Entry, count_only: bool) -> Iterator:
        # the header is read before the first chunk is asked for, so a lazy read knows the
        # insert cursor when it yields the entry
        src = self._src
        offset = src.offset
        count = self._read_len()
        if count == 0:
            raise FormatError("array with 0 elements (Redis refuses it: 'Empty array')", offset)
        offset = src.offset
        has_insert_idx = self._read_len()
        if has_insert_idx > 1:
            raise FormatError(f"array insert_idx flag {has_insert_idx} (must be 0 or 1)", offset)
        # the file stores the index of the last ARINSERT/ARRING insert; ARNEXT is one more
        entry.array_next_insert_index = self._read_len() + 1 if has_insert_idx else None
        return self._array_elements(count, count_only)

    def _array_elements(self, count: int, count_only: bool) -> Iterator:
        src = self._src
        read = self._skip_string if count_only else self._read_string
        previous = -1
        while count > 0:
            step = min(count, _LAZY_CHUNK)
            chunk = []
            for _ in range(step):
                offset = src.offset
                index = self._read_len()  # an encoded length is refused by _read_len
                if index <= previous or index == _U64:
                    raise FormatError(f"array index {index} after {previous} (indexes ascend "
                                      f"strictly and stay below 2^64-1)", offset)
                previous = index
                offset = src.offset
                tag = self._read_len()
                if tag == C.ARRAY_TAG_INT:
                    value = b"%d" % self._read_i64()
                elif tag == C.ARRAY_TAG_FLOAT:
                    value = _array_float_text(self._read_binary_double())
                elif tag == C.ARRAY_TAG_SMALLSTR:
                    value = read()
                    n = value if count_only else len(value)
                    if n > ARRAY_SMALLSTR_MAXLEN:
                        raise FormatError(f"array small string of {n} bytes (at most "
                                          f"{ARRAY_SMALLSTR_MAXLEN})", offset)
                elif tag == C.ARRAY_TAG_SDS:
                    value = read()
                else:
                    raise FormatError(f"unknown array element tag {tag}", offset)
                chunk.append((index, value))
            count -= step
            yield step if count_only else chunk

    # Redis 8.10 types 29-32: template hashes (rdbLoadObject RDB_TYPE_HASH_TMPL_*)
    def _gen_template_hash(self, entry: Entry, count_only: bool) -> Iterator:
        # the fields are resolved before the first chunk is asked for (see _gen_array)
        rdb_type = entry.rdb_type
        src = self._src
        if rdb_type in (C.RDB_TYPE_HASH_TMPL_LP, C.RDB_TYPE_HASH_TMPL_ARRAY):
            fields = self._read_template_fields()  # DUMP form: the field names come along
        if rdb_type in (C.RDB_TYPE_HASH_TMPL_LP, C.RDB_TYPE_HASH_TMPL_LP_REF):
            # one listpack: [template id][v0]...[vN-1]
            data, blob = self._read_blob("template listpack")
            try:
                elements = decode_listpack(data)
                if not elements or elements[0].__class__ is not int:
                    raise FormatError("template listpack does not start with an integer "
                                      "template id", 0)
                if rdb_type == C.RDB_TYPE_HASH_TMPL_LP_REF:
                    fields = self._template(elements[0], None)
                if len(elements) != len(fields) + 1:
                    raise FormatError(f"template listpack of {len(elements)} entries for "
                                      f"{len(fields)} fields (must be the id + one per field)", 0)
            except FormatError as err:
                raise blob.error(err) from None
            return iter([len(fields) if count_only else list(zip(fields, _texts(elements[1:])))])
        if rdb_type == C.RDB_TYPE_HASH_TMPL_ARRAY_REF:
            offset = src.offset
            fields = self._template(self._read_len(), offset)
        return self._template_values(fields, count_only)  # field_count strings

    def _template_values(self, fields: list[bytes], count_only: bool) -> Iterator:
        read = self._skip_string if count_only else self._read_string
        for start in range(0, len(fields), _LAZY_CHUNK):
            names = fields[start : start + _LAZY_CHUNK]
            chunk = [(name, read()) for name in names]
            yield len(chunk) if count_only else chunk

    def _template(self, tid: int, offset: int | None) -> list[bytes]:
        fields = self.hash_templates.get(tid)
        if fields is None:
            raise FormatError(f"hash template id {tid} has no template record (opcode 242) "
                              "before it", offset)
        return fields

    def _read_hash_template(self, offset: int) -> HashTemplate:
        """Opcode 242 (Redis 8.10): ``len tid, len field_count (> 0), field_count names``."""
        tid = self._read_len()
        if tid in self.hash_templates:
            raise FormatError(f"hash template id {tid} is defined twice", offset)
        count_offset = self._src.offset
        count = self._read_len()
        if count == 0:
            raise FormatError(f"hash template id {tid} has no fields", count_offset)
        fields = [self._read_string() for _ in range(count)]
        _check_template_fields(fields, offset)
        return HashTemplate(tid, fields)

    def _read_template_fields(self) -> list[bytes]:
        """The field names a DUMP-form template hash (type 29/31) carries
        (rdbLoadTemplateFields): format 0 = one listpack of names, 1 = count + strings."""
        src = self._src
        offset = src.offset
        fmt = self._read_len()
        if fmt == C.HASH_TMPL_FIELDS_LP:
            fields = _texts(self._blob_elements("template field listpack", decode_listpack))
        elif fmt == C.HASH_TMPL_FIELDS_RAW:
            fields = [self._read_string() for _ in range(self._read_len())]
        else:
            raise FormatError(f"unknown template field format {fmt} (0 = listpack, 1 = raw)",
                              offset)
        if not fields:
            raise FormatError("template with zero fields", offset)
        _check_template_fields(fields, offset)
        return fields

    # Type 33 (Redis 8.10 source, only with -DENABLE_GCRA): a GCRA rate limiter's TAT in us
    def _read_gcra(self) -> int:
        offset = self._src.offset
        tat = self._read_len()
        if tat > _LLONG_MAX:
            raise FormatError(f"GCRA TAT {tat} exceeds LLONG_MAX", offset)
        return tat

    def _full_gcra(self, entry: Entry) -> None:
        entry.value = self._read_gcra()
        entry.length = 1

    def _size_gcra(self, entry: Entry) -> int:
        self._read_gcra()
        return 1

    # key metadata (opcode 243, Redis 8.6: rdbResolveKeyType -> rdbLoadKeyMetadata)
    def _read_key_meta(self, offset: int, db: int) -> list[KeyMeta]:
        src = self._src
        n = self._read_len()
        if not 1 <= n <= KEY_META_MAX_NUM_CLASSES:
            raise FormatError(f"key metadata with {n} classes (1 to {KEY_META_MAX_NUM_CLASSES})",
                              offset, db=db)
        classes = []
        for _ in range(n):
            src.start_capture()
            try:
                spec = unpack_from("<I", src.take(4))[0]  # written raw (rdbWriteRaw), LE
                self._skip_module_opcodes()
            finally:
                raw = src.end_capture()
            classes.append(KeyMeta(*decode_key_meta_class(spec), raw))
        src.fill(1)
        following = src.buf[src.pos]
        if following >= 0xF0:  # rdbLoadObjectType must read a value type next
            raise FormatError(f"key metadata followed by opcode {following} instead of the "
                              "key's value type", src.offset, db=db)
        return classes

    # modules (rdbLoadCheckModuleValue)
    def _module_value(self) -> ModuleValue:
        src = self._src
        src.start_capture()
        try:
            module_id = self._read_len()
            self._skip_module_opcodes()
        finally:
            raw = src.end_capture()
        name, encver = decode_module_id(module_id)
        return ModuleValue(name, encver, module_id, raw)

    def _skip_module_opcodes(self) -> None:
        src = self._src
        while True:
            offset = src.offset
            opcode = self._read_len()
            if opcode == C.RDB_MODULE_OPCODE_EOF:
                return
            if opcode in (C.RDB_MODULE_OPCODE_SINT, C.RDB_MODULE_OPCODE_UINT):
                self._read_len()
            elif opcode == C.RDB_MODULE_OPCODE_FLOAT:
                src.skip(4)
            elif opcode == C.RDB_MODULE_OPCODE_DOUBLE:
                src.skip(8)
            elif opcode == C.RDB_MODULE_OPCODE_STRING:
                self._skip_string()
            else:
                raise FormatError(f"unknown module data opcode {opcode}", offset)

    def _full_module(self, entry: Entry) -> None:
        entry.value = value = self._module_value()
        entry.length = len(value.raw)

    def _size_module(self, entry: Entry) -> int:
        # the raw bytes are read to find the value's end anyway: keep them (and the module name)
        entry.value = value = self._module_value()
        return len(value.raw)

    def _read_module_aux(self, offset: int) -> ModuleAux:
        module_id = self._read_len()
        name, encver = decode_module_id(module_id)
        when_opcode = self._read_len()
        if when_opcode != C.RDB_MODULE_OPCODE_UINT:
            raise FormatError(f"module aux data of {name!r} does not start with its 'when' "
                              f"field (opcode {when_opcode})", offset)
        when = self._read_len()
        src = self._src
        src.start_capture()
        try:
            self._skip_module_opcodes()
        finally:
            raw = src.end_capture()
        return ModuleAux(name, encver, module_id, when, raw)

    # streams (types 15, 19, 21; 26 and 27 since Redis 8.6 / 8.8)
    def _read_stream_id_raw(self) -> tuple[int, int]:
        return unpack_from(">QQ", self._src.take(16))  # type: ignore[return-value]

    def _full_stream(self, entry: Entry) -> None:
        entry.value = stream = self._read_stream(entry.rdb_type, decode=True)
        entry.length = stream.length

    def _size_stream(self, entry: Entry) -> int:
        return self._read_stream(entry.rdb_type, decode=False).length

    def _read_stream(self, rdb_type: int, decode: bool) -> Stream:
        src = self._src
        entries: list[StreamEntry] = []
        for _ in range(self._read_len()):
            offset = src.offset
            node_key = self._read_string()
            if len(node_key) != 16:
                raise FormatError(f"stream node key of {len(node_key)} bytes (must be 16)", offset)
            if not decode:
                self._skip_string()
                continue
            master = unpack_from(">QQ", node_key)
            data, blob = self._read_blob("stream listpack")
            try:
                _stream_node_entries(decode_listpack(data), master, entries)
            except FormatError as err:
                raise blob.error(err) from None
        length = self._read_len()
        last_id = (self._read_len(), self._read_len())
        if rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_2:
            first_id = (self._read_len(), self._read_len())
            max_deleted_id = (self._read_len(), self._read_len())
            entries_added = self._read_len()
        else:
            # RDB stream v1 (Redis 5.0 - 6.2): derived as Redis 7 does on load
            first_id = entries[0].id if entries else (0, 0)
            max_deleted_id = (0, 0)
            entries_added = length
        groups = []
        for _ in range(self._read_len()):
            groups.append(self._read_stream_group(rdb_type))
        idmp = self._read_stream_idmp() if rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_4 else None
        return Stream(entries, length, last_id, first_id, max_deleted_id, entries_added, groups,
                      idmp)

    def _read_stream_idmp(self) -> StreamIdmp:
        """Redis 8.6 (type 26): the idempotent-XADD state after the groups
        (rdbLoadStreamIdmpEntries).  A producer with no IIDs (8.10 writes one when every IID of
        it expired) is kept as written; Redis skips it on load."""
        src = self._src
        offset = src.offset
        duration = self._read_len()
        if not _IDMP_MIN_DURATION <= duration <= _IDMP_MAX_DURATION:
            raise FormatError(f"stream IDMP duration {duration} s out of range "
                              f"({_IDMP_MIN_DURATION}-{_IDMP_MAX_DURATION})", offset)
        offset = src.offset
        max_size = self._read_len()
        if not _IDMP_MIN_MAXSIZE <= max_size <= _IDMP_MAX_MAXSIZE:
            raise FormatError(f"stream IDMP max entries {max_size} out of range "
                              f"({_IDMP_MIN_MAXSIZE}-{_IDMP_MAX_MAXSIZE})", offset)
        producers = []
        tracked = set()
        read = self._read_string
        for _ in range(self._read_len()):
            offset = src.offset
            pid = read()
            iids = []
            for _ in range(self._read_len()):
                iid = read()
                iids.append((iid, (self._read_len(), self._read_len())))
            if iids:
                if pid in tracked:  # raxTryInsert fails: the load fails
                    raise FormatError(f"stream IDMP producer {pid!r} appears twice", offset)
                tracked.add(pid)
            producers.append(StreamIdmpProducer(pid, iids))
        return StreamIdmp(duration, max_size, producers, self._read_len(), self._read_len())

    def _read_stream_group(self, rdb_type: int) -> StreamGroup:
        src = self._src
        name = self._read_string()
        last_id = (self._read_len(), self._read_len())
        entries_read: int | None = None
        if rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_2:
            entries_read = self._read_len()
            if entries_read == _U64:  # -1: the server does not know (SCG_INVALID_ENTRIES_READ)
                entries_read = None
        pending: dict[tuple[int, int], StreamPendingEntry] = {}
        for _ in range(self._read_len()):
            pel_id = self._read_stream_id_raw()
            delivery_time = self._read_i64()
            count = self._read_len()
            pending[pel_id] = StreamPendingEntry(pel_id, None, delivery_time, count)
        consumers = []
        for _ in range(self._read_len()):
            cname = self._read_string()
            seen = self._read_i64()
            active = self._read_i64() if rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_3 else None
            ids = []
            for _ in range(self._read_len()):
                offset = src.offset
                pel_id = self._read_stream_id_raw()
                nack = pending.get(pel_id)
                if nack is None:
                    raise FormatError(f"consumer {cname!r} of group {name!r} owns pending entry "
                                      f"{pel_id[0]}-{pel_id[1]} missing from the group PEL",
                                      offset)
                nack.consumer = cname
                ids.append(pel_id)
            consumers.append(StreamConsumer(cname, seen, active, ids))
        nacked = None
        if rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_5:
            # Redis 8.8 (type 27): the NACK zone, IDs of XNACKed PEL entries in zone order; each
            # must be pending in the group and owned by no consumer (rdbLoadObject)
            nacked = []
            zone = set()
            for _ in range(self._read_len()):
                offset = src.offset
                pel_id = self._read_stream_id_raw()
                nack = pending.get(pel_id)
                where = f"NACK zone entry {pel_id[0]}-{pel_id[1]} of group {name!r}"
                if nack is None:
                    raise FormatError(f"{where} is not in the group PEL", offset)
                if nack.consumer is not None:
                    raise FormatError(f"{where} is owned by consumer {nack.consumer!r}", offset)
                if pel_id in zone:
                    raise FormatError(f"{where} is listed twice", offset)
                zone.add(pel_id)
                nacked.append(pel_id)
        return StreamGroup(name, last_id, entries_read, list(pending.values()), consumers, nacked)


# server.h CONFIG_STREAM_IDMP_MIN/MAX_DURATION (seconds) and _MIN/MAX_MAXSIZE (Redis 8.6)
_IDMP_MIN_DURATION, _IDMP_MAX_DURATION = 1, 86400
_IDMP_MIN_MAXSIZE, _IDMP_MAX_MAXSIZE = 1, 10000

_LLONG_MAX = (1 << 63) - 1
# (double)(-LLONG_MAX/2) and (double)(LLONG_MAX/2): the range double2ll() casts
_DOUBLE2LL_LIMIT = float(_LLONG_MAX // 2)


def _check_template_fields(fields: list[bytes], offset: int) -> None:
    """hashTemplateValidateFields: names strictly ascending, shorter names first, then bytewise."""
    for a, b in pairwise(fields):
        if (len(a), a) >= (len(b), b):
            raise FormatError(f"hash template fields not strictly sorted ({a!r} before {b!r})",
                              offset)


def _array_float_text(value: float) -> bytes:
    """The text Redis replies for a FLOAT array element (sparsearray.c arFormatFloat):
    d2string(), then ``.0`` for integer-looking finite values ("1" -> "1.0")."""
    text = _d2string(value)
    if math.isfinite(value) and not any(c in text for c in ".eE"):
        text += ".0"
    return text.encode("ascii")


def _d2string(value: float) -> str:
    """util.c d2string(): nan/inf/-0 spelled out, integral doubles within LLONG_MAX/2 as
    integers (double2ll), everything else as fpconv_dtoa's shortest round-trip digits."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if -_DOUBLE2LL_LIMIT <= value <= _DOUBLE2LL_LIMIT and value == int(value):
        return "%d" % int(value)
    # repr gives the shortest digits that round-trip, as fpconv's grisu does; lay them out as
    # fpconv.c emit_digits() does
    _, digits, exp = Decimal(repr(abs(value))).as_tuple()
    digits_text = "".join(map(str, digits))
    return ("-" if value < 0 else "") + _emit_digits(digits_text, int(exp))


def _emit_digits(digits: str, k: int) -> str:
    """fpconv_dtoa.c emit_digits(): ``digits`` x 10^k as plain integer, plain decimal or
    scientific notation (exponent without leading zeros)."""
    ndigits = len(digits)
    exp = abs(k + ndigits - 1)
    if k >= 0 and exp < ndigits + 7:
        return digits + "0" * k
    if k < 0 and (k > -7 or exp < 4):
        offset = ndigits + k
        if offset <= 0:
            return "0." + "0" * -offset + digits
        return digits[:offset] + "." + digits[offset:]
    mantissa = digits[0] + ("." + digits[1:] if ndigits > 1 else "")
    return f"{mantissa}e{'-' if k + ndigits - 1 < 0 else '+'}{exp}"

_BLOB_HEADERS: dict[str, tuple[int, Callable[[bytes], int | None]]] = {
    "listpack": (6, listpack_count),
    "ziplist": (10, ziplist_count),
    "intset": (8, intset_count),
}


def _stream_node_entries(elements: list, master: tuple[int, int], out: list) -> None:
    """Append the live entries of one stream node listpack (t_stream.c streamAppendItem layout:
    master entry, then entries of flags, ms-diff, seq-diff, [fields], values, lp-count)."""
    try:
        if not elements:
            raise FormatError("empty listpack in a stream node", 0)
        num_master_fields = elements[2]
        if num_master_fields < 0:
            raise FormatError(f"stream node with {num_master_fields} master fields", 0)
        master_fields = _texts(elements[3 : 3 + num_master_fields])
        if elements[3 + num_master_fields] != 0:
            raise FormatError("stream node master entry is not terminated by 0", 0)
        master_ms, master_seq = master
        i = 4 + num_master_fields
        n = len(elements)
        while i < n:
            flags = elements[i]
            entry_id = ((master_ms + elements[i + 1]) & _U64, (master_seq + elements[i + 2]) & _U64)
            i += 3
            if flags & C.STREAM_ITEM_FLAG_SAMEFIELDS:
                values = _texts(elements[i : i + num_master_fields])
                fields = master_fields
                i += num_master_fields
            else:
                count = elements[i]
                if count < 0:
                    raise FormatError(f"stream entry with {count} fields", 0)
                i += 1
                fields = _texts(elements[i : i + 2 * count : 2])
                values = _texts(elements[i + 1 : i + 2 * count : 2])
                i += 2 * count
            i += 1  # lp-count, lets Redis walk backwards
            if i > n or len(values) != len(fields):
                raise FormatError("stream node entry runs past the end of its listpack", 0)
            if not flags & C.STREAM_ITEM_FLAG_DELETED:
                out.append(StreamEntry(entry_id, list(zip(fields, values))))
    except (IndexError, TypeError):
        raise FormatError("malformed stream node listpack", 0) from None


class _LazyValue:
    """An iterator over a collection that is read from the file as it is consumed."""

    __slots__ = ("_it",)

    def __init__(self, it: Iterator) -> None:
        self._it = it

    def __iter__(self) -> "_LazyValue":
        return self

    def __next__(self):
        return next(self._it)

    def drain(self) -> None:
        for _ in self._it:
            pass


def open_rdb(source: InputSource, values: str = "full", *,
             verify_checksum: bool = True) -> RdbReader:
    """Open an RDB file (path, ``"-"`` for stdin, binary file object or bytes; gzip and
    lz4-frame compressed input is detected) and return an :class:`RdbReader`.

    :raises FormatError: if the header is not an RDB header.
    :raises UnsupportedVersionError: for RDB versions this project does not read.
    """
    return RdbReader(source, values, verify_checksum=verify_checksum)


def read_dump_payload(key: bytes, payload: bytes, *, db: int = 0,
                      verify_checksum: bool = True) -> Entry:
    """The key ``key`` as a DUMP payload holds it (what RESTORE would create).

    The payload is ``[0xF3 key metadata] type value``, the u16 LE RDB version and the CRC64 of
    everything before it (cluster.c createDumpPayload / verifyDumpPayload; a stored CRC of 0
    is not checked).  As in Redis, the template hash types 30/32 are refused here and 29/31
    accepted.  Offsets in errors count from the payload's first byte.

    :raises UnsupportedVersionError: the payload's RDB version is not one this reader reads.
    :raises ChecksumError: the stored CRC64 is not 0 and does not match the payload.
    :raises FormatError: the payload is damaged.
    """
    end = len(payload) - 10
    if end < 1:
        raise FormatError(f"DUMP payload of {len(payload)} bytes (the 10-byte footer and at "
                          "least a type byte are needed)", 0)
    version = int.from_bytes(payload[end : end + 2], "little")
    stored = int.from_bytes(payload[end + 2 :], "little")
    if verify_checksum and stored and stored != crc64(payload[: end + 2]):
        raise ChecksumError(f"DUMP payload CRC64 mismatch: it stores 0x{stored:016x}, its bytes "
                            f"give 0x{crc64(payload[: end + 2]):016x}", end + 2)
    header = (b"VALKEY%03d" % version if version >= C.VALKEY_MAGIC_MIN_VERSION
              else b"REDIS%04d" % version)
    try:
        if len(header) != 9:
            raise UnsupportedVersionError("", 0)
        reader = RdbReader(header, verify_checksum=False)
    except UnsupportedVersionError:
        raise UnsupportedVersionError(f"unsupported DUMP payload RDB version {version}",
                                      end) from None
    with reader:
        body = payload[:end]
        reader._src = ByteSource(io.BytesIO(body).read, len(body), checksum=False)
        return reader._read_dump_value(key, db)


def read_rdb(source: InputSource, values: str = "full") -> Iterator[Entry]:
    """Yield every key of an RDB file (closing it at the end)."""
    with open_rdb(source, values) as rdb:
        yield from rdb.iter_entries()
