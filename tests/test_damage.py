"""Damaged input: truncations and byte flips of real files give only rdbtools' own errors, with
an offset inside the file, never a stray IndexError/struct.error/..., never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdbtools import ChecksumError, FormatError, TruncatedError, open_rdb

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

SAMPLES = [
    "redis-6.0.9/rdb/dump.rdb",
    "redis-7.0.15/rdb/dump-listcompress.rdb",
    "redis-7.2.4/with-modules/rdb/dump.rdb",
    "redis-7.4.1/rdb/dump-lru.rdb",
    "redis-8.2.3/rdb/dump-lfu.rdb",
    "valkey-8.1.8/rdb/dump-nocompress.rdb",
    "valkey-9.1.2/rdb/dump.rdb",
    "legacy/redis-rdb-tools/parser_filters.rdb",
    "legacy/redis-rdb-tools/zipmap_with_big_values.rdb",
    "legacy/redis-rdb-tools/redis_50_with_streams.rdb",
    "legacy/redis-rdb-tools/regular_sorted_set.rdb",
]
MODES = ("full", "sizes", "lazy")


def _data(name: str) -> bytes:
    return (CORPUS / name).read_bytes() if CORPUS.is_dir() else b""


def read_everything(data, mode: str = "full") -> None:
    """Read every record and drain every lazy value of ``data`` (anything open_rdb takes)."""
    with open_rdb(data, values=mode) as rdb:
        for record in rdb.iter_records():
            value = getattr(record, "value", None)
            if hasattr(value, "__next__"):
                for _ in value:
                    pass


def assert_clean_failure(data: bytes, mode: str, truncated: bool,
                         detectable: bool = True) -> None:
    try:
        read_everything(data, mode)
    except FormatError as err:
        assert err.offset is not None and 0 <= err.offset <= len(data), str(err)
        assert str(err).startswith("offset "), str(err)
        if truncated and len(data) >= 9 and not isinstance(err, TruncatedError):
            # cutting a file can only ever run out of bytes
            raise AssertionError(f"truncation gave {type(err).__name__}: {err}") from None
    else:
        if detectable:
            raise AssertionError("damaged input was read without an error")


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("mode", MODES)
def test_truncation_at_many_offsets(name: str, mode: str) -> None:
    data = _data(name)
    step = max(1, len(data) // 150)
    for cut in range(0, len(data), step):
        assert_clean_failure(data[:cut], mode, truncated=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_truncation_at_every_offset(name: str) -> None:
    data = _data(name)
    for cut in range(len(data)):
        assert_clean_failure(data[:cut], "full", truncated=True)


@pytest.mark.parametrize("name", SAMPLES)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_byte_flips(name: str, data) -> None:
    original = _data(name)
    damaged = bytearray(original)
    indexes = data.draw(st.lists(st.integers(0, len(original) - 1), min_size=1, max_size=4,
                                 unique=True), label="indexes")
    for index in indexes:
        damaged[index] ^= data.draw(st.integers(1, 255), label="xor")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    # before RDB 5 there is no checksum: a flip inside a string can go unnoticed there, and so
    # can a flip of the header's version digits to a version below 5
    def crc_checked(data: bytes) -> bool:
        return data[:5] != b"REDIS" or not data[5:9].isdigit() or int(data[5:9]) >= 5
    has_crc = crc_checked(original) and crc_checked(damaged)
    assert_clean_failure(bytes(damaged), mode, truncated=False, detectable=has_crc)


def test_flip_inside_a_string_is_caught_by_the_checksum() -> None:
    data = bytearray(_data("redis-7.4.1/rdb/dump-nocompress.rdb"))
    at = data.index(b"value of the empty key name")
    data[at] ^= 0x20
    with pytest.raises(ChecksumError) as info:
        read_everything(bytes(data), "full")
    assert info.value.offset == len(data) - 8


def test_error_names_key_and_db() -> None:
    data = bytearray(_data("redis-7.4.1/rdb/dump-nocompress.rdb"))
    at = data.index(b"\x10\x0ahash:small")  # HASH_LISTPACK type byte, then the key
    blob = at + 2 + len(b"hash:small")
    assert data[blob] >> 6 == 1  # a 14-bit string length: the listpack starts 2 bytes later
    count = blob + 2 + 4
    data[count] ^= 0xFF  # the listpack's entry count
    with pytest.raises(FormatError) as info:
        read_everything(bytes(data), "full")
    message = str(info.value)
    assert info.value.key == b"hash:small" and info.value.db == 0
    assert message.startswith(f"offset {count} ")
    assert "listpack" in message and "b'hash:small'" in message


@pytest.mark.parametrize("compression", ["gzip", "lz4"])
@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_damaged_compressed_input_is_a_format_error(compression, damage):
    """A backup compressed with gzip or lz4 and then damaged fails with a FormatError (CRC,
    truncation or the decompressor's complaint with its position), never zlib.error/EOFError."""
    import gzip

    import lz4.frame

    compress = gzip.compress if compression == "gzip" else lz4.frame.compress
    packed = bytearray(compress(_data("redis-7.0.15/rdb/dump.rdb")))
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    else:
        packed[len(packed) // 2] ^= 0xFF
    for mode in MODES:
        with pytest.raises(FormatError) as err:
            read_everything(bytes(packed), mode)
        assert str(err.value)
        if "damaged" in str(err.value):
            assert f"damaged {compression} stream" in str(err.value)
            assert "of the compressed file" in str(err.value)


@pytest.mark.parametrize("magic,name", [(b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh9", "bzip2"),
                                        (b"\xfd7zXZ\x00", "xz")])
def test_unsupported_compression_is_named(magic, name):
    from rdbtools.errors import UnsupportedCompressionError, UnsupportedVersionError

    with pytest.raises(UnsupportedCompressionError, match=f"{name}-compressed") as err:
        read_everything(magic + b"\x00" * 64, "full")
    assert isinstance(err.value, UnsupportedVersionError) and err.value.offset == 0
