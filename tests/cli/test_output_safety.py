"""Standard output loses nothing silently (issue 12): a full disk is exit 1 with one error line,
never exit 0 with a truncated file; a closed pipe ends both tools the same way (exit 1, quiet).

Python started with PYTHONUNBUFFERED (or ``-u``) writes stdout straight to the descriptor and
ignores short writes; both settings are tried."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rdbtools import Entry, write_rdb

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
AOF = CORPUS / "redis-7.0.15" / "aof" / "aof-nopreamble"
HAVE_DEV_FULL = os.path.exists("/dev/full")


def _tool(tool: str, *args: str, stdout, unbuffered: bool) -> subprocess.Popen:
    code = f"from rdbtools_cli.{tool} import main; import sys; sys.argv = [{tool!r}, *{list(args)!r}]; main()"
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE, env=env)


@pytest.fixture(scope="module")
def big_rdb(tmp_path_factory) -> Path:
    """About 400 KB: more than a pipe buffer holds, so the reader of a pipe can close it early."""
    path = tmp_path_factory.mktemp("big") / "big.rdb"
    write_rdb((Entry(0, b"key:%d" % i, "string", b"v" * 100) for i in range(20000)), path, target="redis-7.0")
    return path


def _commands(big_rdb: Path) -> list[tuple[str, ...]]:
    commands = [("rdbtool", "dump", str(big_rdb), "-f", fmt) for fmt in ("jsonl", "json", "text", "resp")]
    commands += [("rdbtool", "info", str(big_rdb), "-f", "json"), ("rdbtool", "info", str(big_rdb))]
    if AOF.is_dir():
        commands += [("aoftool", "dump", str(AOF), "-f", "jsonl"), ("aoftool", "info", str(AOF), "-f", "json"),
                     ("aoftool", "info", str(AOF))]
    return commands


@pytest.mark.skipif(not HAVE_DEV_FULL, reason="/dev/full is not available")
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_full_disk_on_stdout_is_an_error(big_rdb, unbuffered):
    for tool, *args in _commands(big_rdb):
        with open("/dev/full", "wb") as full:
            proc = _tool(tool, *args, stdout=full, unbuffered=unbuffered)
            _, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, (tool, args, err)
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0], (tool, args, err)
        assert "Traceback" not in err.decode()


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_closed_pipe_ends_both_tools_alike(big_rdb, tmp_path, unbuffered):
    big_aof = tmp_path / "big.aof"
    with open(big_aof, "wb") as out:
        assert _tool("rdbtool", "dump", str(big_rdb), "-f", "resp", stdout=out, unbuffered=unbuffered).wait(120) == 0
    for tool, *args in [("rdbtool", "dump", str(big_rdb), "-f", "jsonl"),
                        ("aoftool", "dump", str(big_aof), "-f", "jsonl"),
                        ("aoftool", "convert", str(big_aof), "-")]:
        proc = _tool(tool, *args, stdout=subprocess.PIPE, unbuffered=unbuffered)
        assert proc.stdout.read(10)
        proc.stdout.close()  # like `| head -c 10`
        err = proc.stderr.read()
        assert proc.wait(120) == 1, (tool, args, err)
        assert err == b"", (tool, args, err)


def test_a_complete_stdout_is_exit_zero(big_rdb, tmp_path):
    """The guard changes nothing when every byte fits: same bytes as a file output."""
    to_file = tmp_path / "out.jsonl"
    assert _tool("rdbtool", "dump", str(big_rdb), "-f", "jsonl", "-o", str(to_file), stdout=subprocess.DEVNULL,
                 unbuffered=False).wait(120) == 0
    for unbuffered in (False, True):
        proc = _tool("rdbtool", "dump", str(big_rdb), "-f", "jsonl", stdout=subprocess.PIPE, unbuffered=unbuffered)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and err == b""
        assert out == to_file.read_bytes() and out.count(b"\n") == 20000
