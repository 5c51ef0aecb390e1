"""aof check / --fix (rdbtools.aof.check) against real servers.

* AOFs whose last file is cut at random offsets: the check names the file and offset, ``--fix``
  truncates it (after a backup) and the fixed AOF loads in the real server with exactly the
  dataset our replay of it gives.
* Damage anywhere else (a middle file, an RDB part) is refused and nothing is touched.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from aof_servers import CORPUS, aof_of, load_in_server, skip_reason, writable_copy
from rdbtools.aof import read_aof
from rdbtools.aof.check import check_aof, fix_aof
from rdbtools.errors import AofFixRefusedError, LiveServerError
from servers import spec_by_name
from test_rewrite import _dataset

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

# (variant, the server that loads it, the file whose tail is cut)
TRUNCATED = [
    ("redis-7.0.15/aof/aof-preamble", "redis-7.0.15", "appendonly.aof.2.incr.aof"),
    ("redis-7.0.15/aof/aof-multi-incr", "redis-7.0.15", "appendonly.aof.2.incr.aof"),
    ("redis-8.2.3/aof/aof-timestamp", "redis-8.2.3", "appendonly.aof.2.incr.aof"),
    ("valkey-9.1.2/aof/aof-nopreamble", "valkey-9.1.2", "appendonly.aof.2.incr.aof"),
    ("redis-6.2.5/aof/aof-preamble", "redis-6.2.5", None),
    ("redis-6.2.5/aof/aof-norewrite", "redis-6.2.5", None),
]


def _snapshot(aof: Path) -> dict:
    files = [aof] if aof.is_file() else sorted(aof.iterdir())
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


@pytest.mark.server
@pytest.mark.parametrize("variant, server, name", TRUNCATED, ids=[t[0] for t in TRUNCATED])
def test_fix_truncated_last_file_loads_in_server(variant, server, name, tmp_path: Path):
    spec = spec_by_name(server)
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    source = aof_of(CORPUS / variant)
    rng = random.Random(variant)
    last = source / name if name else source
    size = last.stat().st_size
    start = 0
    if name is None and last.read_bytes()[:5] == b"REDIS":
        start = check_aof(source).files[0].rdb_end  # cut in the RESP tail, not the preamble
    for i, offset in enumerate(sorted(rng.sample(range(start + 1, size), 5))):
        aof = writable_copy(source, tmp_path / f"case{i}" / source.name)
        damaged = aof / name if name else aof
        os.truncate(damaged, offset)
        report = check_aof(aof)
        bad = [f for f in report.files if not f.ok]
        if bad:
            assert [f.file for f in bad] == [damaged.name] and bad[0].truncated
            assert bad[0].ok_up_to <= offset and bad[0].offset == bad[0].ok_up_to
        cut = damaged.read_bytes()
        result = fix_aof(aof)
        if not bad:
            assert result.file is None
            continue
        assert result.backup.read_bytes() == cut
        assert damaged.stat().st_size == bad[0].ok_up_to == result.size_after
        assert check_aof(aof).ok
        loaded, _, log = load_in_server(spec, aof, tmp_path / f"srv{i}",
                                        {"aof-load-truncated": "no"})
        assert _dataset(loaded) == _dataset(read_aof(aof))


def test_damaged_middle_file_is_refused_untouched(tmp_path: Path):
    aof = writable_copy(aof_of(CORPUS / "redis-7.2.4/aof/aof-multi-incr"), tmp_path / "a")
    middle = aof / "appendonly.aof.1.incr.aof"
    data = middle.read_bytes()
    at = data.index(b"\r\n*", len(data) // 2) + 2  # between two commands
    middle.write_bytes(data[:at] + b"!not RESP\r\n" + data[at:])
    report = check_aof(aof)
    assert [f.ok for f in report.files] == [True, False, True]
    assert report.files[1].offset is not None and not report.files[1].truncated
    before = _snapshot(aof)
    with pytest.raises(AofFixRefusedError, match="appendonly.aof.1.incr.aof.*not the last file"):
        fix_aof(aof)
    assert _snapshot(aof) == before


def test_truncated_middle_file_and_rdb_parts_are_refused(tmp_path: Path):
    aof = writable_copy(aof_of(CORPUS / "redis-7.4.1/aof/aof-multi-incr"), tmp_path / "a")
    middle = aof / "appendonly.aof.1.incr.aof"
    os.truncate(middle, middle.stat().st_size - 5)
    assert check_aof(aof).files[1].truncated
    before = _snapshot(aof)
    with pytest.raises(AofFixRefusedError):
        fix_aof(aof)
    assert _snapshot(aof) == before
    single = writable_copy(aof_of(CORPUS / "redis-6.2.5/aof/aof-preamble"), tmp_path / "b.aof")
    data = bytearray(single.read_bytes())
    data[300] ^= 0xFF  # inside the RDB preamble: the CRC64 no longer matches
    single.write_bytes(bytes(data))
    report = check_aof(single)
    assert report.files[0].in_rdb and not report.ok
    before = _snapshot(single)
    with pytest.raises(AofFixRefusedError, match="RDB part"):
        fix_aof(single)
    assert _snapshot(single) == before


def test_bad_bytes_followed_by_commands_are_not_cut(tmp_path: Path):
    """Garbage in the middle of the last file is not a torn tail: cutting there would drop every
    complete command after it, so the fix is refused with how many, and nothing changes."""
    aof = writable_copy(aof_of(CORPUS / "valkey-8.1.8/aof/aof-nopreamble"), tmp_path / "a")
    incr = aof / "appendonly.aof.2.incr.aof"
    data = incr.read_bytes()
    incr.write_bytes(data[:200] + b"garbage\r\n" + data[200:])
    f = check_aof(aof).files[-1]
    assert not f.truncated and f.offset >= f.ok_up_to and f.ok_up_to <= 200
    before = _snapshot(aof)
    with pytest.raises(AofFixRefusedError, match=r"not a torn tail: (\d+) complete command") as err:
        fix_aof(aof, tmp_path / "backup.aof")
    assert _snapshot(aof) == before and not (tmp_path / "backup.aof").exists()
    # the refused count is the commands of the original file that start after byte 200
    original = writable_copy(aof_of(CORPUS / "valkey-8.1.8/aof/aof-nopreamble"), tmp_path / "o")
    from rdbtools.aof import open_aof

    with open_aof(original) as reader:
        starts = [c.offset for c in reader.iter_commands() if c.file == incr.name]
    following = int(err.value.args[0].split("not a torn tail: ")[1].split()[0])
    assert following == sum(1 for s in starts if s >= 200)


@pytest.mark.parametrize("tail", [b"\x00" * 4096, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab"],
                         ids=["crash-zeros", "torn-command"])
def test_a_torn_tail_of_the_last_file_is_cut(tmp_path: Path, tail: bytes):
    """Zeros a crash leaves, or half a command: only what the server never finished is lost."""
    aof = writable_copy(aof_of(CORPUS / "valkey-8.1.8/aof/aof-nopreamble"), tmp_path / "a")
    incr = aof / "appendonly.aof.2.incr.aof"
    data = incr.read_bytes()
    incr.write_bytes(data + tail)
    result = fix_aof(aof, tmp_path / "backup.aof")
    assert result.backup == tmp_path / "backup.aof"
    assert (tmp_path / "backup.aof").read_bytes() == data + tail
    assert incr.read_bytes() == data and check_aof(aof).ok


def test_fix_never_writes_through_a_planted_backup_symlink(tmp_path: Path):
    aof = writable_copy(aof_of(CORPUS / "valkey-8.1.8/aof/aof-nopreamble"), tmp_path / "a")
    incr = aof / "appendonly.aof.2.incr.aof"
    incr.write_bytes(incr.read_bytes() + b"*1\r\n$4\r\nPI")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (aof / (incr.name + ".bak")).symlink_to(victim)  # the default backup name, taken
    result = fix_aof(aof)
    assert result.backup == aof / (incr.name + ".bak.1")
    assert victim.read_bytes() == b"precious"
    planted = tmp_path / "planted"
    planted.symlink_to(victim)
    incr.write_bytes(incr.read_bytes() + b"*1\r\n$4\r\nPI")
    before = incr.read_bytes()
    from rdbtools.errors import UnsafeOutputError

    with pytest.raises(UnsafeOutputError):
        fix_aof(aof, planted)
    assert victim.read_bytes() == b"precious" and incr.read_bytes() == before


LIVE_SERVERS = ["redis-7.0.15", "redis-8.2.3", "valkey-8.1.8"]


@pytest.mark.parametrize("name", LIVE_SERVERS)
def test_fix_refuses_an_aof_a_running_server_appends_to(tmp_path: Path, name: str):
    """A live server holds its last incr file open for appending: --fix would race it.  The
    refusal names the process and says what to do instead; the files are left as they are."""
    from servers import RedisServer

    spec = spec_by_name(name)
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    with RedisServer(spec, {"appendonly": "yes"}, workdir=tmp_path / "srv") as srv:
        for i in range(50):
            srv.execute("SET", f"k{i}", "v" * i)
        aof = srv.dir / "appendonlydir"
        incr = next(p for p in aof.iterdir() if p.name.endswith(".incr.aof"))
        before = _snapshot(aof)
        with pytest.raises(LiveServerError, match=rf"pid {srv.pid} .*BGREWRITEAOF") as err:
            fix_aof(aof)
        assert incr.name in str(err.value)
        assert _snapshot(aof) == before
        srv.execute("SET", "after", "still appending")
    assert not list(tmp_path.glob("**/*.bak"))
