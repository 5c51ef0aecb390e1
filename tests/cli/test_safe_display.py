"""Names and values from an input never reach a terminal raw (issue 12, item 11).

A key named ``ESC[2J`` clears the screen, ``ESC]0;...BEL`` retitles the terminal, ``0x9b`` is a
one-byte CSI on some terminals and U+202E reverses what follows.  Every human-facing command
must spell them out.  The files here are written by a real server (keys, values, function
libraries) or, for what no server writes (hostile AUX fields, module and function names,
command names), by our writer and by hand.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rdbtools import Aux, Entry, Function, write_rdb
from servers import RedisServer, spec_by_name

HOSTILE = ["\x1b[2J", "\x1b]0;pwned\x07", "\x9b31m", "\u202eevil", "bell\x07", "cr\rlf\n", "\x00nul"]
HOSTILE_BYTES = [h.encode("utf-8") for h in HOSTILE] + [b"\x1b[31mred", b"\x9b\x07"]

# a raw control character (C0 but tab, DEL, C1) or bidi control in the output
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _run(*args: str) -> subprocess.CompletedProcess:
    """The installed command, its stdout/stderr as text exactly as a terminal would get them."""
    tool, *rest = args
    code = f"from rdbtools_cli.{tool} import main; import sys; sys.argv = {[tool, *rest]!r}; main()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


def _assert_clean(proc: subprocess.CompletedProcess) -> None:
    for name, data in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        text = data.decode("utf-8", "surrogateescape")
        # drop newlines and tabs, which tables and messages use themselves
        bad = RAW_CONTROL.findall(text.replace("\n", "").replace("\t", ""))
        assert not bad, f"raw control characters {bad!r} in {name}:\n{text[:2000]}"


@pytest.fixture(scope="module")
def server_files(tmp_path_factory) -> dict[str, Path]:
    """An RDB and a multi-part AOF written by Redis 7.0 holding keys and values with control
    characters (strings, a hash, a zset, a stream with such a group name)."""
    spec = spec_by_name("redis-7.0.15")
    tmp = tmp_path_factory.mktemp("hostile")
    try:
        srv = RedisServer(spec, config={"appendonly": "yes", "aof-use-rdb-preamble": "no"})
        srv.__enter__()
    except Exception as e:  # pragma: no cover - the harness says why
        pytest.skip(f"redis-7.0.15 does not start here: {e}")
    try:
        c = srv.client
        for i, h in enumerate(HOSTILE_BYTES):
            c.set(h, h)
            c.hset(b"hash:" + h, h, h)
            c.zadd(b"zset:" + h, {h: i})
            c.expire(h, 100000 + i)
        c.xadd(b"stream:\x1b[2J", {b"\x1b[5m": b"\x07"})
        c.xgroup_create(b"stream:\x1b[2J", b"group\x1b[2J", id="0")
        rdb = Path(srv.save())
        out = {"rdb": tmp / "hostile.rdb"}
        out["rdb"].write_bytes(rdb.read_bytes())
        aof_dir = Path(srv.dir) / "appendonlydir"
        c.execute_command("BGREWRITEAOF")
        import shutil
        import time

        time.sleep(1)
        c.set(b"after:\x1b]0;x\x07", b"1")
        time.sleep(0.2)
        shutil.copytree(aof_dir, tmp / "appendonlydir")
        out["aof"] = tmp / "appendonlydir"
    finally:
        srv.__exit__(None, None, None)
    return out


@pytest.fixture(scope="module")
def crafted_rdb(tmp_path_factory) -> Path:
    """What no server writes but a hostile file can hold: AUX fields and a function library
    whose names and texts carry control characters."""
    path = tmp_path_factory.mktemp("crafted") / "crafted.rdb"
    records = [Aux(b"\x1b]0;title\x07", b"\x1b[2Jvalue"),
               Function(b"#!lua name=lib\x1b[2J\nredis.register_function('f\x1b[31m', "
                        b"function() return 1 end)"),
               Entry(0, b"k\x1b[2J", "string", b"v\x9b")]
    write_rdb(records, path, "redis-7.0")
    return path


@pytest.mark.server
@pytest.mark.parametrize("args", [
    ("rdbtool", "info", "{rdb}"),
    ("rdbtool", "check", "{rdb}"),
    ("rdbtool", "bigkeys", "{rdb}"),
    ("rdbtool", "report", "{rdb}"),
    ("rdbtool", "dump", "{rdb}", "-f", "text"),
    ("aoftool", "info", "{aof}"),
    ("aoftool", "check", "{aof}"),
], ids=lambda a: " ".join(a[:2]) + (" " + a[-1] if a[-1].startswith(("text", "csv")) else ""))
def test_server_written_names_are_escaped(server_files, args):
    argv = [a.format(rdb=server_files["rdb"], aof=server_files["aof"]) for a in args]
    proc = _run(*argv)
    assert proc.returncode == 0, proc.stderr.decode()
    _assert_clean(proc)
    if args[1] in ("bigkeys", "report") or args[-1] == "text":
        # the hostile names are shown, spelled out (not dropped)
        assert b"\\x1b[2J" in proc.stdout


@pytest.mark.server
def test_machine_output_stays_exact(server_files):
    """CSV (and JSON Lines) are data, not display: the key names come out exactly."""
    import csv
    import io

    proc = _run("rdbtool", "memory", str(server_files["rdb"]), "-f", "csv")
    assert proc.returncode == 0, proc.stderr.decode()
    keys = {row["key"] for row in csv.DictReader(io.StringIO(proc.stdout.decode("utf-8"), newline=""))}
    for h in HOSTILE:
        assert h in keys and "hash:" + h in keys


def test_crafted_aux_and_function_names_are_escaped(crafted_rdb):
    for args in (("rdbtool", "info", str(crafted_rdb)), ("rdbtool", "dump", str(crafted_rdb), "-f", "text")):
        proc = _run(*args)
        assert proc.returncode == 0, proc.stderr.decode()
        _assert_clean(proc)
    info = _run("rdbtool", "info", str(crafted_rdb)).stdout
    assert b"\\x1b]0;title\\x07" in info and b"\\x1b[2Jvalue" in info


def test_hostile_command_names_in_an_aof_are_escaped(tmp_path):
    aof = tmp_path / "appendonly.aof"
    name = b"\x1b]0;pwned\x07"
    aof.write_bytes(b"*2\r\n$%d\r\n%s\r\n$1\r\nk\r\n" % (len(name), name)
                    + b"*3\r\n$3\r\nSET\r\n$4\r\n\x1b[2J\r\n$1\r\nv\r\n")
    proc = _run("aoftool", "info", str(aof))
    assert proc.returncode == 0, proc.stderr.decode()
    _assert_clean(proc)
    assert b"\\x1b]0;PWNED\\x07" in proc.stdout  # command names are shown upper case
    proc = _run("aoftool", "dump", str(aof))  # the unknown command is an error naming it
    assert proc.returncode == 1
    _assert_clean(proc)


def test_a_file_name_with_control_characters_is_escaped(tmp_path, crafted_rdb):
    odd = tmp_path / "dump\x1b[2J.rdb"
    odd.write_bytes(crafted_rdb.read_bytes()[:-20])  # damaged: the error names the file
    proc = _run("rdbtool", "check", str(odd))
    assert proc.returncode != 0
    _assert_clean(proc)
    assert b"dump\\x1b[2J.rdb" in proc.stderr + proc.stdout
