"""The reader's input handling and modes: compressed and streamed input, tiny read chunks (every
refill boundary), lazy reading of huge values in bounded memory, version and checksum errors."""

from __future__ import annotations

import gzip
import io
import os
import tracemalloc
from pathlib import Path

import lz4.frame
import pytest

from rdbtools import (ChecksumError, FormatError, UnknownOpcodeError, UnsupportedVersionError,
                      open_rdb, read_rdb)
from rdbtools.rdb import source
from rdbtools.rdb.source import crc64

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
    (b"REDIS0013", UnsupportedVersionError),
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
    data[14] = 0x1F  # the type byte of foo
    with pytest.raises(UnknownOpcodeError) as info:
        _snapshot(bytes(data))
    assert info.value.offset == 14 and "unknown value type 31" in str(info.value)


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
