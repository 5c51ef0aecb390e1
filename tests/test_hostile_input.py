"""Bounded work from any input (issue 12, items 9, 10 and 12): declared lengths are never
allocated before their bytes exist (pipes, gzip, lz4 included), LZF lengths are checked against
what LZF can produce, JSON dumps out of range or nested without end are FormatErrors naming the
line, ``dump -f text`` formats only what it prints, ``check`` reports SELECTDB/RESIZEDB values a
server refuses or cannot meet, and a fuzz run over mutated corpus RDB and AOF files through
files, pipes, gzip and lz4 sees only the project's own one-line errors, no hang and bounded
memory (peak RSS of the child)."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import random
import shutil
import subprocess
import tempfile
import sys
import threading
import time
from pathlib import Path

import lz4.frame
import pytest

from rdbtools import FormatError, TruncatedError, open_rdb
from rdbtools.output.dump import entry_to_text, iter_dump
from rdbtools.model import Entry, Stream, StreamEntry
from rdbtools.rdb import _accel, source
from rdbtools.rdb.source import crc64
from test_damage import read_everything

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")


def rdb(body: bytes, version: bytes = b"0011") -> bytes:
    """An RDB file: header, ``body``, EOF and its CRC64."""
    data = b"REDIS" + version + body + b"\xff"
    return data + crc64(data).to_bytes(8, "little")


def len64(n: int) -> bytes:
    return b"\x81" + n.to_bytes(8, "big")  # RDB_64BITLEN


class Pipe(io.RawIOBase):
    """A non-seekable stream (like stdin on a pipe) that records the largest read asked of it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.largest = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        self.largest = max(self.largest, len(buf))
        data = self._data.read(len(buf))
        buf[: len(data)] = data
        return len(data)


# --- declared lengths on inputs of unknown size ----------------------------------------------

# (what, file, offset of the bytes the length declares)
HUGE_LENGTHS = [
    ("string value 2^40", rdb(b"\x00\x03key" + len64(1 << 40) + b"abc"), 23),
    ("key 2^40", rdb(b"\x00" + len64(1 << 40) + b"x"), 19),
    ("string value 2^32-1", rdb(b"\x00\x03key\x80" + (2**32 - 1).to_bytes(4, "big") + b"a"), 19),
    ("AUX name 2^62", rdb(b"\xfa" + len64(1 << 62) + b"x"), 19),
    ("LZF compressed length 2^40", rdb(b"\x00\x03key\xc3" + len64(1 << 40) + b"\x05\x01ab"), 25),
    ("list element 2^40", rdb(b"\x01\x01l\x02\x01a" + len64(1 << 40) + b"b"), 24),
]


@pytest.mark.parametrize("wrap", ["pipe", "gzip", "lz4", "bytes"])
@pytest.mark.parametrize("mode", ["full", "sizes", "lazy"])
@pytest.mark.parametrize("what,data,at", HUGE_LENGTHS, ids=[c[0] for c in HUGE_LENGTHS])
def test_declared_length_beyond_the_input_is_a_truncation(what, data, at, mode, wrap):
    """Before: MemoryError/OverflowError tracebacks from read(2^40) on stdin, gzip and lz4."""
    if wrap == "gzip":
        data = gzip.compress(data)
    elif wrap == "lz4":
        data = lz4.frame.compress(data)
    pipe = Pipe(data)
    src = io.BufferedReader(pipe) if wrap != "bytes" else data
    with pytest.raises(TruncatedError) as err:
        read_everything(src, mode)
    assert err.value.offset == at, str(err.value)
    assert "truncated" in str(err.value)
    # no single read asked for more than READ_MAX bytes (the raw file is read through gzip's or
    # lz4's own buffers, which ask for what they need)
    assert pipe.largest <= source.READ_MAX


def test_real_bytes_beyond_a_chunk_still_read_from_a_pipe():
    value = bytes(range(256)) * (3 * source.READ_MAX // 256 + 7)
    data = rdb(b"\x00\x03key\x80" + len(value).to_bytes(4, "big") + value)
    pipe = Pipe(gzip.compress(data))
    with open_rdb(io.BufferedReader(pipe)) as reader:
        (entry,) = list(reader.iter_entries())
    assert entry.value == value and reader.checksum == "ok"


# --- LZF: the declared length is bounded by what LZF can produce -----------------------------

def _lzf_record(type_byte: bytes, clen: int, ulen_field: bytes) -> bytes:
    return rdb(type_byte + b"\x03key\xc3" + bytes([clen]) + ulen_field + b"\x00a" + b"\x00" * (clen - 2))


LZF_BOMBS = [
    ("string, 88x+1", _lzf_record(b"\x00", 4, bytes([0x40 | (4 * 88 + 1) >> 8, (4 * 88 + 1) & 0xFF]))),
    ("string, 2^40", _lzf_record(b"\x00", 4, len64(1 << 40))),
    ("ziplist list, 2^40", _lzf_record(b"\x0a", 4, len64(1 << 40))),
    ("listpack set, 2^40", _lzf_record(b"\x14", 4, len64(1 << 40))),
]


def _read_outcome(data: bytes, mode: str):
    try:
        read_everything(data, mode)
    except FormatError as err:
        return type(err), err.offset, str(err)
    return None


@pytest.mark.parametrize("mode", ["full", "sizes", "lazy"])
@pytest.mark.parametrize("what,data", LZF_BOMBS, ids=[c[0] for c in LZF_BOMBS])
def test_lzf_declared_length_beyond_88_fold_is_refused(what, data, mode, monkeypatch):
    """lzf_c.c: the longest back-reference (3 bytes) yields MAX_REF = 264 bytes, so no LZF data
    expands more than 88-fold; a larger declared length is refused before it is allocated, at
    the LZF string's first byte, the same on the compiled and the pure path."""
    outcome = _read_outcome(data, mode)
    assert outcome is not None and outcome[0] is FormatError, outcome
    assert outcome[1] == 14 and "expands at most 88-fold" in outcome[2], outcome
    monkeypatch.setattr(_accel, "read_records", None)
    assert _read_outcome(data, mode) == outcome


def test_lzf_at_the_88_fold_limit_still_reads():
    # one literal, then back-references of 264 bytes (3 bytes each): as compressible as LZF gets
    refs = 40
    compressed = b"\x00a" + b"\xe0\xff\x00" * refs
    ulen = 1 + 264 * refs
    assert ulen <= 88 * len(compressed)
    data = rdb(b"\x00\x03key\xc3" + bytes([0x40 | len(compressed) >> 8, len(compressed) & 0xFF])
               + bytes([0x40 | ulen >> 8, ulen & 0xFF]) + compressed)
    with open_rdb(data) as reader:
        (entry,) = list(reader.iter_entries())
    assert entry.value == b"a" * ulen


# --- JSON dumps ------------------------------------------------------------------------------

GOOD = {"db": 0, "key": "k", "type": "string", "expire_at_ms": None, "rdb_type": 0, "value": "v"}
BAD_LINES = [
    ("db < 0", json.dumps({**GOOD, "db": -1}).encode()),
    ("db 2^64", json.dumps({**GOOD, "db": 2**64}).encode()),
    ("expire 2^63", json.dumps({**GOOD, "expire_at_ms": 2**63}).encode()),
    ("freq 256", json.dumps({**GOOD, "freq": 256}).encode()),
    ("idle 2^64", json.dumps({**GOOD, "idle_s": 2**64}).encode()),
    ("score 1e400", b'{"db":0,"key":"k","type":"zset","value":[["m",1e400]]}'),
    ("score 10^400 integer", b'{"db":0,"key":"k","type":"zset","value":[["m",1' + b"0" * 400 + b"]]}"),
    ("score NaN literal", b'{"db":0,"key":"k","type":"zset","value":[["m",NaN]]}'),
    ("integer of 5000 digits", b'{"db":0,"key":"k","type":"gcra","value":' + b"9" * 5000 + b"}"),
    ("stream ID of 30 digits", b'{"db":0,"key":"k","type":"stream","value":{"entries":[["'
     + b"1" * 30 + b'-0",[]]],"length":0,"last_id":"0-0","first_id":"0-0","max_deleted_id":"0-0",'
     b'"entries_added":0,"groups":[]}}'),
    ("stream ID of non-ASCII digits", '{"db":0,"key":"k","type":"stream","value":{"entries":'
     '[["\u00b2-0",[]]],"length":0,"last_id":"0-0","first_id":"0-0","max_deleted_id":"0-0",'
     '"entries_added":0,"groups":[]}}'.encode()),
    ("100,000-deep array", b'{"db":0,"key":"k","type":"list","value":' + b"[" * 100_000
     + b"]" * 100_000 + b"}"),
    ("1,000,000-deep array", b"[" * 1_000_000 + b"]" * 1_000_000),
    ("2,000-deep array, short line", b'{"db":0,"key":"k","type":"list","value":' + b"[" * 2000
     + b"]" * 2000 + b"}"),
    ("wrong type: value object", json.dumps({**GOOD, "type": "list", "value": {"a": 1}}).encode()),
    ("wrong type: type list", json.dumps({**GOOD, "type": ["string"]}).encode()),
    ("array index 2^64-1", json.dumps({**GOOD, "type": "array", "value": [[2**64 - 1, "x"]]}).encode()),
    ("idmp duration 0", b'{"db":0,"key":"k","type":"stream","value":{"entries":[],"length":0,'
     b'"last_id":"0-0","first_id":"0-0","max_deleted_id":"0-0","entries_added":0,"groups":[],'
     b'"idmp":{"duration":0,"max_size":1,"producers":[],"iids_added":0,"iids_duplicates":0}}}'),
]


@pytest.mark.parametrize("what,line", BAD_LINES, ids=[c[0] for c in BAD_LINES])
def test_bad_dump_line_is_a_format_error_naming_the_line(what, line):
    """Before: RecursionError (json), a segfault (orjson on 1,000,000-deep arrays),
    OverflowError, ValueError from int(), or values out of range passed on to the writer."""
    first = json.dumps(GOOD).encode() + b"\n"
    with pytest.raises(FormatError) as err:
        list(iter_dump(io.BytesIO(first + b"\n" + line + b"\n")))
    assert "line 3 of the dump" in str(err.value), str(err.value)
    assert err.value.offset == len(first) + 1
    assert len(str(err.value)) < 600  # the offending value is shown bounded
    if line.startswith(b'{"db":0,"key":"k"') and not what.startswith("wrong type: type"):
        assert err.value.key == b"k" or "not valid JSON" in str(err.value)


def test_bad_element_of_a_json_array_dump_is_named():
    doc = json.dumps([GOOD, {**GOOD, "db": -5}]).encode()
    with pytest.raises(FormatError, match="element 1 of the JSON array") as err:
        list(iter_dump(io.BytesIO(doc)))
    assert err.value.key == b"k" and err.value.offset == 0


def test_dump_ranges_are_what_the_reader_produces():
    # the extremes an RDB file can hold read back unchanged
    line = json.dumps({**GOOD, "db": 2**31 - 2, "expire_at_ms": -(2**63), "idle_s": 2**64 - 1,
                       "freq": 255, "rdb_type": 255}).encode()
    (entry,) = iter_dump(io.BytesIO(line))
    assert (entry.db, entry.expire_at_ms, entry.idle_s, entry.freq) == (2**31 - 2, -(2**63),
                                                                        2**64 - 1, 255)


def test_convert_of_a_bad_jsonl_is_one_error_line(tmp_path):
    src = tmp_path / "keys.jsonl"
    src.write_bytes(json.dumps(GOOD).encode() + b"\n" + json.dumps({**GOOD, "expire_at_ms": 2**63}).encode() + b"\n")
    proc = _tool("rdbtool", "convert", str(src), str(tmp_path / "out.rdb"), "-t", "redis-7.0")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and "line 2 of the dump" in lines[0] and "expire_at_ms" in lines[0]
    assert not (tmp_path / "out.rdb").exists()


# --- dump -f text ----------------------------------------------------------------------------

class Huge(bytes):
    """A bytes value that fails the test if more than a prefix of it is formatted."""

    def __repr__(self) -> str:
        raise AssertionError("the whole value was formatted")


def test_text_line_formats_only_what_it_prints():
    """Before: repr() of the whole value (a 512 MB string took 4.7 GB in `dump -f text`)."""
    big = Huge(b"\x01'\"" * 100_000)
    line = entry_to_text(Entry(0, b"k", "string", big))
    assert line.endswith("...") and len(line) < 120
    assert line.split()[-1] == repr(bytes(big[:80]))[2:-1][:77] + "..."
    many = [(b"f%d" % i, b"v") for i in range(10_000)]
    stream = Stream([StreamEntry((1, 0), many)], 1, (1, 0), (1, 0), (0, 0), 1, [], None)
    line = entry_to_text(Entry(0, b"s", "stream", stream))
    assert "... +9992" in line and len(line) < 400


def test_dump_text_of_a_big_string_stays_near_the_value_size(tmp_path):
    n = 64 << 20
    path = tmp_path / "big.rdb"
    with open(path, "wb") as f:
        f.write(b"REDIS0011\x00\x03key\x80" + n.to_bytes(4, "big"))
        chunk = b"\x01'\"\x02" * (1 << 16)
        for _ in range(n // len(chunk)):
            f.write(chunk)
        f.write(b"\xff" + b"\x00" * 8)
    proc, rss_kb = _tool_rss(["rdbtool", "dump", "-f", "text", str(path)])
    assert proc.returncode == 0 and proc.stdout.count(b"\n") == 1
    # the file buffer and the value: about 2 x 64 MB over the interpreter (a repr of the whole
    # value would add 4 x 64 MB of text, and more for its str object)
    assert rss_kb < 250_000, rss_kb


# --- check: SELECTDB and RESIZEDB ------------------------------------------------------------

def _warnings(data: bytes, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rdbtools"):
        read_everything(data)
    return [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("db", [2**31 - 1, 2**32, 2**64 - 1])
def test_selectdb_no_server_loads_is_damage(db):
    with pytest.raises(FormatError, match=f"SELECTDB {db}: no server loads it") as err:
        read_everything(rdb(b"\xfe" + len64(db) + b"\x00\x01k\x01v"))
    assert err.value.offset == 9


def test_selectdb_beyond_the_default_databases_is_a_warning(caplog):
    assert _warnings(rdb(b"\xfe\x0f\x00\x01k\x01v"), caplog) == []
    (message,) = _warnings(rdb(b"\xfe\x10\x00\x01k\x01v"), caplog)
    assert "offset 9: SELECTDB 16" in message and "databases 17 or more" in message


@pytest.mark.parametrize("hint,expected", [
    (b"\x01\x00", None),
    (b"\x02\x00", "that takes at least 6 bytes and 3 follow"),
    (b"\x01\x02", "more keys with an expiry than keys"),
    (len64(1 << 40) + b"\x00", "hints 1099511627776 keys"),
])
def test_resizedb_beyond_what_the_database_holds_is_a_warning(hint, expected, caplog):
    # SELECTDB 0, RESIZEDB, one 3-byte key (an empty key holding an empty string), SELECTDB 1
    data = rdb(b"\xfe\x00\xfb" + hint + b"\x00\x00\x00" + b"\xfe\x01\xfb\x01\x00\x00\x01k\x01v")
    messages = _warnings(data, caplog)
    if expected is None:
        assert messages == []
    else:
        (message,) = messages
        assert expected in message and "for db 0" in message and "offset 11" in message


@needs_corpus
@pytest.mark.parametrize("name", ["redis-6.2.5/rdb/dump.rdb", "redis-8.10.2/rdb/dump.rdb",
                                  "redis-8.6.2/aof/aof-preamble/appendonlydir/appendonly.aof.2.base.rdb"])
def test_real_files_give_no_hint_warnings(name, caplog):
    assert _warnings((CORPUS / name).read_bytes(), caplog) == []


def test_check_reports_the_warnings(tmp_path):
    path = tmp_path / "hints.rdb"
    path.write_bytes(rdb(b"\xfe\x10\xfb" + len64(1 << 40) + b"\x00\x00\x01k\x01v"))
    proc = _tool("rdbtool", "check", str(path), "-f", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["status"] == "sound", report
    assert len(report["warnings"]) == 2
    assert "SELECTDB 16" in report["warnings"][0] and "RESIZEDB" in report["warnings"][1]
    path.write_bytes(rdb(b"\xfe" + len64(2**64 - 1) + b"\x00\x01k\x01v"))
    proc = _tool("rdbtool", "check", str(path))
    assert proc.returncode == 1 and b"SELECTDB 18446744073709551615" in proc.stderr


@pytest.mark.server
def test_servers_agree_with_the_classification(server_spec, tmp_path):
    """What a real server does with these files decides error vs warning: SELECTDB 16 is
    refused with the default 16 databases and loads with 17 (a warning, not damage); a RESIZEDB
    of 2^30 keys over a one-key database loads (a warning)."""
    from servers import RedisServer, ServerStartError

    selectdb16 = tmp_path / "selectdb16.rdb"
    selectdb16.write_bytes(rdb(b"\xfe\x10\x00\x01k\x01v", version=b"0009"))
    with pytest.raises(ServerStartError, match="more than 16 databases"):
        with RedisServer(server_spec, load_rdb=selectdb16, workdir=tmp_path / "a"):
            pass
    with RedisServer(server_spec, {"databases": 17}, load_rdb=selectdb16,
                     workdir=tmp_path / "b") as srv:
        srv.execute("SELECT", 16)
        assert srv.execute("GET", "k") in (b"v", "v")
    resize = tmp_path / "resize.rdb"
    resize.write_bytes(rdb(b"\xfe\x00\xfb" + len64(1 << 30) + b"\x00\x00\x01k\x01v", version=b"0009"))
    with RedisServer(server_spec, load_rdb=resize, workdir=tmp_path / "c") as srv:
        assert srv.execute("GET", "k") in (b"v", "v")


# --- fuzz: the CLIs on mutated corpus files, through files, pipes, gzip and lz4 --------------

RSS_LIMIT_KB = 300_000
RUN_TIMEOUT = 60.0
FUZZ_RDB = ["redis-8.6.2/rdb/dump-keymeta.rdb", "redis-8.10.2/rdb/dump.rdb",
            "redis-7.0.15/rdb/dump.rdb", "valkey-9.1.2/rdb/dump.rdb",
            "legacy/redis-rdb-tools/easily_compressible_string_key.rdb"]
FUZZ_AOF = ["redis-8.6.2/aof/aof-preamble/appendonlydir",
            "redis-8.10.2/aof/aof-nopreamble/appendonlydir"]


def _cli(tool: str) -> list[str]:
    return [sys.executable, "-c", f"from rdbtools_cli.{tool} import main; import sys; "
            f"sys.argv[0] = {tool!r}; main()"]


def _tool(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_cli(tool), *args], capture_output=True, timeout=RUN_TIMEOUT)


# The child reports its own peak RSS (VmHWM of the program it exec'ed) when it exits: wait4's
# ru_maxrss would include the RSS of the pytest worker the child was forked from (Linux carries the
# old mm's high-water mark over exec), which said 400 MB for every child of a big worker.
_HWM_REPORT = ("import atexit\n"
               "def _hwm(path={path!r}):\n"
               "    with open('/proc/self/status') as s, open(path, 'w') as out:\n"
               "        out.write(next(l for l in s if l.startswith('VmHWM:')).split()[1])\n"
               "atexit.register(_hwm)\n")


def _tool_rss(argv: list[str], stdin_data: bytes | None = None):
    """Run ``argv`` (argv[0] "rdbtool" or "aoftool"), feeding ``stdin_data`` through a real pipe;
    return the CompletedProcess and the child's peak RSS in KB (its VmHWM), killing it on
    timeout."""
    fd, report = tempfile.mkstemp(prefix="rdbtools-hwm-")
    os.close(fd)
    code = _HWM_REPORT.format(path=report) + _cli(argv[0])[2]
    proc = subprocess.Popen([sys.executable, "-c", code, *argv[1:]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL)
    out: dict[str, bytes] = {}

    def drain(name, stream):
        out[name] = stream.read()

    def feed():
        try:
            proc.stdin.write(stdin_data)
        except (BrokenPipeError, OSError):
            pass  # the tool stopped reading (it found the damage): that is allowed
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    threads = [threading.Thread(target=drain, args=("stdout", proc.stdout)),
               threading.Thread(target=drain, args=("stderr", proc.stderr))]
    if stdin_data is not None:
        threads.append(threading.Thread(target=feed))
    for t in threads:
        t.start()
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise AssertionError(f"{argv} did not finish within {RUN_TIMEOUT}s (a hang)")
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    with open(report) as f:
        text = f.read()
    os.unlink(report)
    peak = int(text) if text else usage.ru_maxrss  # killed by a signal: no report written
    return subprocess.CompletedProcess(argv, proc.returncode, out["stdout"], out["stderr"]), peak


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """A truncation, byte flips, or a length bomb (a declared length of 2^32-1 to 2^64-1
    planted where a length may be)."""
    kind = rng.choice(["truncate", "flip", "bomb", "bomb"])
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] ^= rng.randint(1, 255)
        return bytes(out)
    at = rng.randrange(9, len(data))
    bomb = rng.choice([b"\x80\xff\xff\xff\xff", len64(rng.choice([1 << 40, 2**62, 2**64 - 1])),
                       b"$99999999999999\r\n", b"*99999999999\r\n"])
    return data[:at] + bomb + data[at + rng.randint(0, 9):]


def _assert_own_error(proc: subprocess.CompletedProcess, rss_kb: int, what: str) -> None:
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "Aborted!" not in err, f"{what}:\n{err[-3000:]}"
    assert proc.returncode in (0, 1, 3), f"{what}: exit {proc.returncode}\n{err[-2000:]}"
    if proc.returncode:
        # one error line on stderr, or (aoftool check) the report on stdout
        errors = [line for line in err.splitlines() if not line.startswith("warning:")]
        assert len(errors) == 1 or not errors and proc.stdout, (
            f"{what}: exit {proc.returncode} with stderr:\n{err[-2000:]}")
    assert rss_kb < RSS_LIMIT_KB, f"{what}: peak RSS {rss_kb} KB"


def _fuzz_rdb(tmp_path: Path, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    originals = [(name, (CORPUS / name).read_bytes()) for name in FUZZ_RDB if (CORPUS / name).exists()]
    for i in range(rounds):
        name, original = originals[i % len(originals)]
        data = _mutate(original, rng)
        wrap = ["file", "pipe", "gzip", "lz4"][i % 4]
        command = ["check"] if i % 3 else ["dump", "-f", rng.choice(["jsonl", "text", "resp"])]
        packed = (gzip.compress(data) if wrap == "gzip" else
                  lz4.frame.compress(data) if wrap == "lz4" else data)
        if wrap == "pipe":
            proc, rss = _tool_rss(["rdbtool", *command, "-"], stdin_data=packed)
        else:
            path = tmp_path / f"in{i}.rdb"
            path.write_bytes(packed)
            proc, rss = _tool_rss(["rdbtool", *command, str(path)])
            path.unlink()
        _assert_own_error(proc, rss, f"rdbtool {' '.join(command)} of {name} ({wrap}, round {i}, "
                                     f"seed {seed})")


def _fuzz_aof(tmp_path: Path, rounds: int, seed: int) -> None:
    # aoftool reads files and directories only (no "-", no compressed input)
    rng = random.Random(seed)
    dirs = [CORPUS / name for name in FUZZ_AOF if (CORPUS / name).is_dir()]
    for i in range(rounds):
        src = dirs[i % len(dirs)]
        work = tmp_path / f"aof{i}"
        shutil.copytree(src, work)
        for part in work.iterdir():
            part.chmod(0o644)
        victim = rng.choice(sorted(p for p in work.iterdir() if p.suffix != ".manifest"))
        victim.write_bytes(_mutate(victim.read_bytes(), rng))
        command = ["check"] if i % 2 else ["dump"]
        proc, rss = _tool_rss(["aoftool", *command, str(work)])
        _assert_own_error(proc, rss, f"aoftool {command[0]} of {src} with {victim.name} mutated "
                                     f"(round {i}, seed {seed})")
        shutil.rmtree(work)


@needs_corpus
def test_fuzz_rdb(tmp_path):
    _fuzz_rdb(tmp_path, rounds=24, seed=12)


@needs_corpus
def test_fuzz_aof(tmp_path):
    _fuzz_aof(tmp_path, rounds=8, seed=12)


@needs_corpus
@pytest.mark.parametrize("wrap", ["pipe", "gzip", "lz4"])
def test_length_bombs_through_unknown_size_inputs(tmp_path, wrap):
    """Every length bomb of HUGE_LENGTHS through the CLI: one error line, exit 1, and far less
    memory than the declared length (before: MemoryError tracebacks)."""
    for what, data, _ in HUGE_LENGTHS:
        packed = (gzip.compress(data) if wrap == "gzip" else
                  lz4.frame.compress(data) if wrap == "lz4" else data)
        if wrap == "pipe":
            proc, rss = _tool_rss(["rdbtool", "check", "-"], stdin_data=packed)
        else:
            path = tmp_path / "bomb"
            path.write_bytes(packed)
            proc, rss = _tool_rss(["rdbtool", "check", str(path)])
        _assert_own_error(proc, rss, f"{what} ({wrap})")
        assert proc.returncode == 1 and b"truncated" in proc.stderr, proc.stderr


@pytest.mark.slow
@needs_corpus
@pytest.mark.parametrize("seed", range(4))
def test_fuzz_long(tmp_path, seed):
    _fuzz_rdb(tmp_path, rounds=150, seed=1000 + seed)
    _fuzz_aof(tmp_path, rounds=40, seed=1000 + seed)
