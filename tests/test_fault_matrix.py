"""Fault matrix (issue 12): every writing command, killed with SIGKILL at points spread over its
run or hitting a full disk, leaves its input byte-identical and its output either absent or
complete — and a complete RDB output loads into a real server with every key.

A full disk is simulated with RLIMIT_FSIZE (writes past the limit fail with EFBIG, as ENOSPC
would, without needing a small filesystem or root); SIGXFSZ is ignored so the write fails
instead of killing the process.
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rdbtools import Entry, open_rdb, write_rdb
from servers import RedisServer, probe_server, spec_by_name

SERVER = "redis-7.0.15"
KEYS = 60000


def _digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes()
                                       for p in sorted(path.iterdir()))).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A few MB of strings, lists, hashes and sets, so each command runs for a while."""
    path = tmp_path_factory.mktemp("fault") / "in.rdb"

    def entries():
        for i in range(KEYS):
            kind = i % 4
            if kind == 0:
                yield Entry(0, b"s:%d" % i, "string", b"x" * (i % 200))
            elif kind == 1:
                yield Entry(0, b"l:%d" % i, "list", [b"%d" % j for j in range(i % 30 + 1)])
            elif kind == 2:
                yield Entry(1, b"h:%d" % i, "hash", [(b"f%d" % j, b"v" * j) for j in range(i % 20 + 1)])
            else:
                yield Entry(2, b"t:%d" % i, "set", [b"m%d" % j for j in range(i % 25 + 1)])

    write_rdb(entries(), path, target="redis-7.0")
    return path


def _tool_command(tool: str, args: list[str]) -> list[str]:
    code = f"from rdbtools_cli.{tool} import main; import sys; sys.argv = [{tool!r}, *{args!r}]; main()"
    return [sys.executable, "-c", code]


def _commands(src: Path, out: Path) -> dict[str, tuple[list[str], Path]]:
    return {
        "convert-rdb": (_tool_command("rdbtool", ["convert", str(src), str(out / "out.rdb"),
                                                  "-t", "redis-6.2"]), out / "out.rdb"),
        "dump-jsonl": (_tool_command("rdbtool", ["dump", str(src), "-f", "jsonl", "-o",
                                                 str(out / "out.jsonl")]), out / "out.jsonl"),
        "merge": (_tool_command("rdbtool", ["merge", str(src), "-o", str(out / "merged.rdb")]),
                  out / "merged.rdb"),
        "split": (_tool_command("rdbtool", ["split", str(src), "--slots", "3", "-o",
                                            str(out / "shards"), "--other-dbs", "db0"]), out / "shards"),
    }


def _outputs(output: Path) -> list[Path]:
    """The output files (a split's shards), without temporary files a kill left behind."""
    if not output.is_dir():
        return [output]
    return sorted(p for p in output.iterdir() if not p.name.startswith("."))


def _complete(name: str, output: Path) -> None:
    """The output of a run that finished: the whole dataset, nothing partial."""
    if name == "dump-jsonl":
        assert output.read_bytes().count(b"\n") == KEYS
        return
    files = _outputs(output)
    keys = 0
    for f in files:
        with open_rdb(f) as rdb:
            keys += sum(1 for _ in rdb.iter_entries())
        assert rdb.checksum == "ok"
    assert keys == KEYS


def _loads_in_server(output: Path, tmp: Path) -> None:
    spec = spec_by_name(SERVER)
    files = _outputs(output)
    total = 0
    for i, f in enumerate(files):
        with RedisServer(spec, load_rdb=f, workdir=tmp / f"srv{i}") as srv:
            total += sum(int(line.split(b"keys=")[1].split(b",")[0])
                         for line in srv.execute("INFO", "keyspace").splitlines() if b"keys=" in line)
    assert total == KEYS


def _litter(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.name.endswith(".tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["convert-rdb", "dump-jsonl", "merge", "split"])
def test_sigkill_at_any_point_leaves_input_intact_and_output_absent_or_complete(source, tmp_path, name):
    reason = probe_server(SERVER)
    if reason:
        pytest.skip(reason)
    before = _digest(source)
    reference = tmp_path / "reference"
    reference.mkdir()
    cmd, output = _commands(source, reference)[name]
    started = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    duration = time.monotonic() - started
    _complete(name, output)
    rng = random.Random(f"fault-{name}")
    points = sorted(rng.uniform(0.05, 1.0) * duration for _ in range(5))
    for n, delay in enumerate(points):
        out = tmp_path / f"run{n}"
        out.mkdir()
        cmd, output = _commands(source, out)[name]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        assert _digest(source) == before
        if output.exists() and _outputs(output):
            _complete(name, output)  # it finished before the kill, or got renamed in full
        # a kill can leave the temporary file (nothing runs after SIGKILL), never a partial output
        assert all(p.startswith(".") or "/." in p for p in _litter(out))
    if name != "dump-jsonl":
        _loads_in_server(reference / output.name, tmp_path)


def _full_disk(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("name", ["convert-rdb", "dump-jsonl", "merge", "split"])
def test_a_full_disk_fails_loudly_and_leaves_nothing(source, tmp_path, name):
    before = _digest(source)
    out = tmp_path / "out"
    out.mkdir()
    cmd, output = _commands(source, out)[name]
    proc = subprocess.run(cmd, capture_output=True, timeout=600, preexec_fn=_full_disk(256 * 1024))
    assert proc.returncode == 1, proc.stderr
    assert b"File too large" in proc.stderr and b"Traceback" not in proc.stderr
    assert _digest(source) == before
    assert not output.exists() or (output.is_dir() and not any(output.iterdir()))
    assert _litter(out) == []
