"""``rdbtool check`` tells sound, damaged and unsupported apart, and reports warnings (issue 12,
item 12): exit 0 / 1 / 3, the same outcome in ``-f json`` with every warning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lz4.frame
import pytest

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
SOUND = CORPUS / "redis-7.0.15" / "rdb" / "dump.rdb"

pytestmark = pytest.mark.skipif(not SOUND.exists(), reason="the shared corpus is not here")


def _check(path: Path, *extra: str) -> subprocess.CompletedProcess:
    code = ("from rdbtools_cli.rdbtool import main; import sys; "
            f"sys.argv = ['rdbtool', 'check', {str(path)!r}, *{list(extra)!r}]; main()")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)


def _json(path: Path) -> tuple[int, dict]:
    proc = _check(path, "-f", "json")
    return proc.returncode, json.loads(proc.stdout)


def test_sound_file(tmp_path):
    proc = _check(SOUND)
    assert proc.returncode == 0
    assert proc.stdout.startswith(b"ok: ") and proc.stderr == b""
    rc, report = _json(SOUND)
    assert rc == 0 and report["status"] == "sound" and report["ok"] and report["warnings"] == []


def test_damaged_file(tmp_path):
    data = bytearray(SOUND.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.rdb"
    bad.write_bytes(bytes(data))
    proc = _check(bad)
    assert proc.returncode == 1 and b"damaged" in proc.stderr
    rc, report = _json(bad)
    assert rc == 1 and report["status"] == "damaged" and not report["ok"]
    assert isinstance(report["offset"], int)


def test_unsupported_version_is_not_damage(tmp_path):
    """A file of an RDB version from the future is valid as far as anyone can tell: it is not
    called damaged, and the exit status says "unsupported"."""
    future = tmp_path / "future.rdb"
    future.write_bytes(b"REDIS0099" + SOUND.read_bytes()[9:])
    proc = _check(future)
    assert proc.returncode == 3, proc.stderr
    assert b"unsupported" in proc.stderr and b"damaged" not in proc.stderr
    rc, report = _json(future)
    assert rc == 3 and report["status"] == "unsupported" and report["version"] is None


def test_unknown_compression_is_not_damage(tmp_path):
    """zstd, bzip2 and xz wrap a sound file as well as gzip does: say what it is, exit 3."""
    import bz2
    import lzma

    payload = SOUND.read_bytes()
    for name, data in (("dump.rdb.bz2", bz2.compress(payload)), ("dump.rdb.xz", lzma.compress(payload)),
                       ("dump.rdb.zst", bytes.fromhex("28b52ffd") + payload[:64])):
        path = tmp_path / name
        path.write_bytes(data)
        rc, report = _json(path)
        assert rc == 3 and report["status"] == "unsupported", (name, report)
    lz4_path = tmp_path / "dump.rdb.lz4"  # a compression the reader does know
    lz4_path.write_bytes(lz4.frame.compress(payload))
    assert _json(lz4_path)[0] == 0


def test_warnings_are_reported_in_both_formats(tmp_path):
    trailing = tmp_path / "trailing.rdb"
    trailing.write_bytes(SOUND.read_bytes() + b"garbage after the end")
    proc = _check(trailing)
    assert proc.returncode == 0
    assert b"warning" in proc.stderr and b"after the RDB end" in proc.stderr
    rc, report = _json(trailing)
    assert rc == 0 and report["status"] == "sound"
    assert len(report["warnings"]) == 1 and "after the RDB end" in report["warnings"][0]
