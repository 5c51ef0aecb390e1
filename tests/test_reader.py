"""The reader's input handling and modes: compressed and streamed input, tiny read chunks (every
refill boundary), lazy reading of huge values in bounded memory, version and checksum errors."""

from __future__ import annotations

import gzip
import io
import json
import os
import tracemalloc
from pathlib import Path

import lz4.frame
import pytest

from rdbtools import (ChecksumError, FormatError, UnknownOpcodeError, UnsupportedVersionError,
                      open_rdb, read_rdb)
from rdbtools.format.resp import parse_commands
from rdbtools.model import HashTemplate
from rdbtools.rdb import source
from rdbtools.rdb.encoders import encode_listpack
from rdbtools.rdb.reader import read_dump_payload
from rdbtools.rdb.source import crc64
from truth import truth_bytes

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

# FORMATS.md §5: a complete RDB 11 file holding foo=bar in db 0
MINIMAL = bytes.fromhex("524544495330303131 fe00 fb0100 00 03666f6f 03626172 ff 8d86b94c676eab95")


def _snapshot(source_) -> list:
    with open_rdb(source_) as rdb:
        return [(e.db, e.key, e.type, e.rdb_type, e.value, e.expire_at_ms, e.idle_s, e.freq,
                 e.field_expire_at_ms, e.offset, e.size) for e in rdb.iter_entries()]


class _Pipe(io.RawIOBase):
    """A non-seekable stream that returns at most ``step`` bytes per read (like a pipe)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self._step, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def test_minimal_file_from_formats_reference() -> None:
    with open_rdb(MINIMAL) as rdb:
        assert [(e.db, e.key, e.value) for e in rdb.iter_entries()] == [(0, b"foo", b"bar")]
        assert (rdb.magic, rdb.version, rdb.checksum) == ("REDIS", 11, "ok")


def test_crc64_matches_the_redis_check_value() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"6789", crc64(b"12345")) == 0xE9C6D914C4B8D9CA


@pytest.mark.parametrize("wrap", ["bytes", "path", "file", "gzip", "lz4", "pipe"])
def test_every_kind_of_input(wrap: str, tmp_path: Path) -> None:
    data = (FIXTURES / "redis-8.2.3" / "dump.rdb").read_bytes()
    expected = _snapshot(data)
    if wrap == "bytes":
        src = data
    elif wrap == "path":
        src = FIXTURES / "redis-8.2.3" / "dump.rdb"
    elif wrap == "file":
        src = io.BytesIO(data)
    elif wrap == "gzip":
        (tmp_path / "d.rdb.gz").write_bytes(gzip.compress(data))
        src = tmp_path / "d.rdb.gz"
    elif wrap == "lz4":
        (tmp_path / "d.rdb.lz4").write_bytes(lz4.frame.compress(data))
        src = tmp_path / "d.rdb.lz4"
    else:
        src = io.BufferedReader(_Pipe(data, 3))
    assert _snapshot(src) == expected
    assert expected  # the fixture has keys


@needs_corpus
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_tiny_read_chunks_give_the_same_records(monkeypatch, chunk: int) -> None:
    files = [CORPUS / "redis-7.4.1/rdb/dump.rdb", CORPUS / "redis-6.0.9/rdb/dump-listcompress.rdb",
             CORPUS / "redis-7.2.4/with-modules/rdb/dump.rdb", CORPUS / "valkey-9.1.2/rdb/dump.rdb",
             CORPUS / "legacy/redis-rdb-tools/uncompressible_string_keys.rdb"]
    expected = {f: _snapshot(f) for f in files}
    monkeypatch.setattr(source, "CHUNK_SIZE", chunk)
    for f in files:
        data = f.read_bytes()
        assert _snapshot(io.BufferedReader(_Pipe(data, chunk))) == expected[f], f
        if data[:5] == b"REDIS" and int(data[5:9]) < 5:
            continue  # no checksum before RDB 5
        # the CRC is fed chunk by chunk, so a mismatch must still be noticed
        damaged = data[:-1] + bytes([data[-1] ^ 1])
        with pytest.raises(ChecksumError):
            _snapshot(io.BufferedReader(_Pipe(damaged, chunk)))


def _big_list_rdb(elements: int, size: int) -> bytes:
    """An RDB 7 file with one LIST (type 1) of ``elements`` strings of ``size`` bytes."""
    from rdbtools.format.primitives import RdbLength

    body = bytearray(b"REDIS0007\xfe\x00\x01\x04huge")
    body += RdbLength.build(elements)
    item = RdbLength.build(size) + b"x" * size
    body += item * elements
    body += b"\xff"
    return bytes(body) + crc64(bytes(body)).to_bytes(8, "little")


def test_lazy_mode_streams_a_huge_list_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.rdb"
    path.write_bytes(_big_list_rdb(elements=40_000, size=1000))  # 40 MB of elements
    tracemalloc.start()
    try:
        count = 0
        with open_rdb(path, values="lazy") as rdb:
            for entry in rdb.iter_entries():
                for element in entry.value:
                    count += len(element) == 1000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 40_000
    assert peak < 12 * 1024 * 1024, f"peak {peak} bytes while streaming a 40 MB list"


def test_lazy_values_left_unread_are_skipped() -> None:
    data = _big_list_rdb(elements=3000, size=10)
    with open_rdb(data, values="lazy") as rdb:
        entries = list(rdb.iter_entries())
        assert rdb.checksum == "ok"
    assert [e.key for e in entries] == [b"huge"]


def test_sizes_mode_counts_without_decoding() -> None:
    data = _big_list_rdb(elements=3000, size=10)
    with open_rdb(data, values="sizes") as rdb:
        (entry,) = rdb.iter_entries()
    assert (entry.value, entry.length) == (None, 3000)


def test_select_skips_values_before_decoding() -> None:
    with open_rdb(FIXTURES / "redis-8.2.3" / "dump.rdb") as rdb:
        all_keys = [e.key for e in rdb.iter_entries()]
    seen = []

    def select(db, key, type_name, expire):
        seen.append(key)
        return type_name == "string"

    with open_rdb(FIXTURES / "redis-8.2.3" / "dump.rdb") as rdb:
        kept = list(rdb.iter_entries(select))
        assert rdb.checksum == "ok"
    assert seen == all_keys
    assert kept and all(e.type == "string" and e.value is not None for e in kept)


@pytest.mark.parametrize("header,error", [
    (b"REDIS0016", UnsupportedVersionError),
    (b"REDIS0000", UnsupportedVersionError),
    (b"VALKEY081", UnsupportedVersionError),
    (b"REDIX0011", FormatError),
    (b"REDIS", FormatError),
])
def test_header_errors(header: bytes, error: type) -> None:
    with pytest.raises(error) as info:
        open_rdb(header + MINIMAL[9:])
    assert info.value.offset is not None and str(info.value).startswith("offset ")


def test_unknown_type_is_refused_with_its_offset() -> None:
    data = bytearray(MINIMAL)
    data[14] = 0x22  # the type byte of foo; 33 (GCRA, Redis 8.10) is the highest Redis defines
    with pytest.raises(UnknownOpcodeError) as info:
        _snapshot(bytes(data))
    assert info.value.offset == 14 and "unknown value type 34" in str(info.value)


def test_type_22_follows_the_magic() -> None:
    """22 is Valkey's HASH_2 in VALKEY files and Redis's pre-GA HASH_METADATA otherwise."""
    field_value_expiry = b"\x01\x01f\x01v" + (4102444800000).to_bytes(8, "little", signed=True)
    for header, body, ttl in [
        (b"VALKEY080", field_value_expiry, 4102444800000),
        # Redis 7.4 release candidates: N x (len ttl absolute ms, field, value)
        (b"REDIS0012", b"\x01\x00\x01f\x01v", None),
    ]:
        rdb = header + b"\xfe\x00\x16\x01h" + body + b"\xff"
        rdb += crc64(rdb).to_bytes(8, "little")
        (entry,) = read_rdb(rdb)
        assert entry.type == "hash" and entry.value == [(b"f", b"v")]
        assert entry.field_expire_at_ms == ({b"f": ttl} if ttl else {})


def test_disabled_checksum_is_reported() -> None:
    data = MINIMAL[:-8] + bytes(8)
    with open_rdb(data) as rdb:
        list(rdb.iter_entries())
        assert rdb.checksum == "disabled"


def test_reader_closes_files_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "m.rdb"
    path.write_bytes(MINIMAL)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        assert list(read_rdb(path))
    assert len(os.listdir("/proc/self/fd")) == before


# --- RDB 13-15 (Redis 8.6 / 8.8 / 8.10): ground truth in the corpus, damage named by offset ---

R8_10 = CORPUS / "redis-8.10.2" / "rdb"


def _rdb(body: bytes, header: bytes = b"REDIS0015") -> bytes:
    data = header + body + b"\xff"
    return data + crc64(data).to_bytes(8, "little")


def _record(path: Path, key: bytes) -> tuple[bytes, int, int]:
    """The file's bytes and where the record of ``key`` starts and ends."""
    with open_rdb(path) as rdb:
        entry = next(e for e in rdb.iter_entries() if e.key == key)
    return path.read_bytes(), entry.offset, entry.offset + entry.size


def _damage(path: Path, key: bytes, at: int, byte: int) -> tuple[bytes, int]:
    """The file with the byte ``at`` (from the record's start; negative: from its end) replaced,
    and that byte's absolute offset."""
    data, start, end = _record(path, key)
    pos = (start if at >= 0 else end) + at
    return data[:pos] + bytes([byte]) + data[pos + 1 :], pos


def _format_error(data: bytes, values: str = "full") -> FormatError:
    with pytest.raises(FormatError) as info, open_rdb(data, values) as rdb:
        list(rdb.iter_records())
    return info.value


@needs_corpus
@pytest.mark.parametrize("count", [0, 8])
def test_key_meta_class_count_is_checked(count: int) -> None:
    # km:str's record opens with 0xF3 and its class count (1)
    data, start, _ = _record(R8_10 / "dump-keymeta.rdb", b"km:str")
    assert data[start : start + 2] == b"\xf3\x01"
    err = _format_error(data[: start + 1] + bytes([count]) + data[start + 2 :])
    assert err.offset == start and "classes" in err.reason


def test_key_meta_must_precede_the_type_byte() -> None:
    spec = bytes.fromhex("09f5c428")  # class KMT1 version 1, ALLOW_IGNORE (FORMATS-RDB13-15 §3)
    err = _format_error(_rdb(b"\xfe\x00\xf3\x01" + spec + b"\x00\xfe\x01\x00\x01k\x01v"))
    assert err.offset == 18 and "instead of the key's value type" in err.reason


def test_opcode_243_is_slot_import_in_valkey_files() -> None:
    with pytest.raises(UnknownOpcodeError) as info:
        list(read_rdb(_rdb(b"\xfe\x00\xf3\x01", b"VALKEY080")))
    assert info.value.offset == 11


@needs_corpus
def test_unknown_template_id_is_refused() -> None:
    # tmpl:user:1 is type 30: its listpack's first entry (00 = template id 0) follows the
    # 6-byte listpack header; id 9 has no opcode-242 record
    data, start, _ = _record(R8_10 / "dump.rdb", b"tmpl:user:1")
    blob = start + 1 + 12 + 1  # type byte, key, string length
    assert data[blob + 6] == 0x00
    err = _format_error(data[: blob + 6] + b"\x09" + data[blob + 7 :])
    assert err.offset == blob and err.key == b"tmpl:user:1" and "template id 9" in err.reason


def test_template_records_are_checked() -> None:
    template = b"\xf2\x00\x01\x01a"
    err = _format_error(_rdb(template + template))
    assert err.offset == 14 and "defined twice" in err.reason
    err = _format_error(_rdb(b"\xf2\x00\x02\x01b\x01a"))
    assert err.offset == 9 and "not strictly sorted" in err.reason
    # type 32 naming a template that does not exist
    err = _format_error(_rdb(template + b"\xfe\x00\x20\x01h\x07\x01v"))
    assert err.offset == 19 and "template id 7" in err.reason
    # type 30 whose listpack has two values for the one field
    lp = encode_listpack([0, b"v", b"w"])
    err = _format_error(_rdb(template + b"\xfe\x00\x1e\x01h" + bytes([len(lp)]) + lp))
    assert err.offset == 20 and "3 entries for 1 fields" in err.reason
    # and the same key right: the template's field names, then its values in that order
    lp = encode_listpack([0, b"v"])
    with open_rdb(_rdb(template + b"\xfe\x00\x1e\x01h" + bytes([len(lp)]) + lp)) as rdb:
        records = list(rdb.iter_records())
    assert records[0] == HashTemplate(0, [b"a"])
    assert (records[-1].type, records[-1].value, records[-1].length) == ("hash", [(b"a", b"v")], 1)


@needs_corpus
def test_type_30_is_not_valid_in_a_dump_payload() -> None:
    with open_rdb(R8_10 / "dump.rdb") as rdb:
        raw = next(r.value.data for r in rdb.iter_records(raw_types={30})
                   if getattr(r, "key", None) == b"tmpl:user:1")
    with pytest.raises(FormatError) as info:
        read_dump_payload(b"tmpl:user:1", b"\x1e" + raw + b"\x0f\x00" + bytes(8))
    assert info.value.offset == 0 and "not valid in a DUMP payload" in info.value.reason


@needs_corpus
def test_template_dump_payloads_of_the_aof_rewrite() -> None:
    """The RESP rewrite of 8.10.2 writes template hashes as RESTORE of type 29/31 payloads; they
    hold the hashes the server had (the RDB truth of the same dataset)."""
    base = CORPUS / "redis-8.10.2/aof/aof-nopreamble/appendonlydir/appendonly.aof.2.base.aof"
    data = base.read_bytes()
    commands, _, end = parse_commands(data, 0, 1 << 20)
    assert end == len(data)
    truth = json.loads((R8_10 / "dump.json").read_text())
    records = {truth_bytes(r["key"]): r for r in truth["dbs"]["0"]}
    restores = [c for c in commands if c[0] == b"RESTORE"]
    assert {c[3][0] for c in restores} == {29, 31}
    for cmd in restores:
        entry = read_dump_payload(cmd[1], cmd[3])
        want = sorted((truth_bytes(f), truth_bytes(v)) for f, v in records[cmd[1]]["value"])
        assert (entry.type, sorted(entry.value), entry.length) == ("hash", want, len(want))


@needs_corpus
def test_key_meta_prefix_of_a_dump_payload() -> None:
    with open_rdb(R8_10 / "dump-keymeta.rdb") as rdb:
        entry = next(r for r in rdb.iter_records(raw_types={0})
                     if getattr(r, "key", None) == b"km:str")
    (meta,) = entry.key_meta
    body = b"\xf3\x01" + meta.raw + b"\x00" + entry.value.data + b"\x0f\x00"
    back = read_dump_payload(b"km:str", body + crc64(body).to_bytes(8, "little"))
    assert (back.value, back.key_meta) == (b"value with key metadata", [meta])
    with pytest.raises(ChecksumError):
        read_dump_payload(b"km:str", body + (crc64(body) ^ 1).to_bytes(8, "little"))


@needs_corpus
@pytest.mark.parametrize("at,byte,reason", [
    (22, 0x00, "array index 0 after 0"),  # ar:small's second index (1) made equal to the first
    (13, 0x04, "unknown array element tag 4"),  # its first tag (1 = INT)
])
def test_array_damage_is_named(at: int, byte: int, reason: str) -> None:
    data, pos = _damage(R8_10 / "dump.rdb", b"ar:small", at, byte)
    for values in ("full", "sizes", "lazy"):
        err = _format_error(data, values)
        assert err.offset == pos and err.key == b"ar:small" and reason in err.reason


def test_array_small_strings_hold_at_most_7_bytes() -> None:
    err = _format_error(_rdb(b"\xfe\x00\x1c\x01a\x01\x00\x00\x03\x08abcdefgh"))
    assert err.offset == 17 and "small string of 8 bytes" in err.reason


@needs_corpus
@pytest.mark.parametrize("at,byte,back,reason", [
    # stream:nack-only ends with its NACK zone (count 2, 16-byte IDs 5-1 then 5-0) and its IDMP
    # section (40 64 = duration 100, 40 64 = max size 100, no producers, counters 0 and 0):
    # the last byte of an ID (its seq) or the duration's low byte is changed
    (-7 - 32 + 15, 0x07, 15, "NACK zone entry 5-7 of group b'g' is not in the group PEL"),
    (-7 - 16 + 15, 0x01, 15, "NACK zone entry 5-1 of group b'g' is listed twice"),
    (-6, 0x00, 1, "stream IDMP duration 0 s out of range"),
])
def test_stream_damage_is_named(at: int, byte: int, back: int, reason: str) -> None:
    data, pos = _damage(R8_10 / "dump.rdb", b"stream:nack-only", at, byte)
    for values in ("full", "sizes"):
        err = _format_error(data, values)
        assert err.offset == pos - back  # where the ID / the length starts
        assert err.key == b"stream:nack-only" and reason in err.reason


def test_nack_zone_entries_must_be_unowned() -> None:
    """A type 27 stream whose group's one PEL entry (1-0) is owned by consumer c and also in
    the NACK zone."""
    sid = (1).to_bytes(8, "big") + (0).to_bytes(8, "big")
    group = (b"\x01g\x01\x00\x01" + b"\x01" + sid + bytes(8) + b"\x01"
             + b"\x01" + b"\x01c" + bytes(16) + b"\x01" + sid + b"\x01" + sid)
    stream = b"\x00\x00\x01\x00" + b"\x00\x00\x00\x00\x00" + b"\x01" + group + b"\x40\x64\x40\x64\x00\x00\x00"
    body = b"\xfe\x00\x1b\x01s" + stream
    err = _format_error(_rdb(body))
    assert err.offset == 9 + body.index(sid + b"\x40\x64") and "owned by consumer b'c'" in err.reason


def test_gcra_records() -> None:
    """Type 33 is compiled out of every default Redis build (no server here writes it): a record
    built from the spec, ``len TaT`` in microseconds, TaT above LLONG_MAX refused."""
    rdb = _rdb(b"\xfe\x00\x21\x01g\x81" + (1700000000123456).to_bytes(8, "big"))
    for values in ("full", "sizes", "lazy"):
        with open_rdb(rdb, values) as reader:
            (entry,) = reader.iter_entries()
        assert (entry.type, entry.rdb_type, entry.length) == ("gcra", 33, 1)
        assert entry.value == (None if values == "sizes" else 1700000000123456)
    err = _format_error(_rdb(b"\xfe\x00\x21\x01g\x81" + (1 << 63).to_bytes(8, "big")))
    assert err.offset == 14 and "LLONG_MAX" in err.reason
