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


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    proc = _tool(tool, *args, stdout=subprocess.PIPE, unbuffered=False)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_an_output_never_replaces_its_input(big_rdb, tmp_path):
    """convert/dump/merge onto the input, through a symlink or a hard link to it: refused, exit
    1, the input byte-identical."""
    src = tmp_path / "in.rdb"
    src.write_bytes(big_rdb.read_bytes())
    (tmp_path / "link.rdb").symlink_to("in.rdb")
    os.link(src, tmp_path / "hard.rdb")
    before = src.read_bytes()
    for tool, *args in [("rdbtool", "convert", str(src), str(src), "--target", "redis-6.2"),
                        ("rdbtool", "convert", str(src), str(tmp_path / "link.rdb")),
                        ("rdbtool", "dump", str(src), "-o", str(tmp_path / "hard.rdb")),
                        ("rdbtool", "merge", str(src), str(big_rdb), "-o", str(src))]:
        proc = _run(tool, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert b"the output is the input" in proc.stderr, proc.stderr
        assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.rdb", "in.rdb", "link.rdb"]


@pytest.mark.skipif(not AOF.is_dir(), reason="the shared corpus is not here")
def test_nothing_is_written_into_an_input_aof_directory(tmp_path):
    import shutil

    aof_dir = tmp_path / "appendonlydir"
    shutil.copytree(AOF / "appendonlydir", aof_dir)
    before = {p.name: p.read_bytes() for p in aof_dir.iterdir()}
    manifest = next(p for p in aof_dir.iterdir() if p.name.endswith(".manifest"))
    for tool, *args in [("aoftool", "convert", str(aof_dir), str(aof_dir / "x.rdb")),
                        ("aoftool", "convert", str(manifest), str(aof_dir / "x.jsonl")),
                        ("aoftool", "dump", str(aof_dir), "-o", str(aof_dir / "x.jsonl")),
                        ("aoftool", "cut", str(aof_dir), "--to-offset", "100", "-o", str(aof_dir / "cut"))]:
        proc = _run(tool, *args)
        assert proc.returncode == 1 and b"inside the input directory" in proc.stderr, (args, proc.stderr)
    assert {p.name: p.read_bytes() for p in aof_dir.iterdir()} == before


def test_split_refuses_stale_shard_files(big_rdb, tmp_path):
    """Shard files of an earlier 3-way split would load the same keys twice next to a 2-way
    split: refused unless --replace-stale, which leaves exactly the new split."""
    from rdbtools import open_rdb

    out = tmp_path / "shards"
    assert _run("rdbtool", "split", str(big_rdb), "--slots", "3", "-o", str(out)).returncode == 0
    three = sorted(p.name for p in out.iterdir())
    proc = _run("rdbtool", "split", str(big_rdb), "--slots", "2", "-o", str(out))
    assert proc.returncode == 1 and b"shard files of another split" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == three
    assert _run("rdbtool", "split", str(big_rdb), "--slots", "2", "-o", str(out),
                "--replace-stale").returncode == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["slots-00000-08191.rdb", "slots-08192-16383.rdb"]
    keys = []
    for name in names:
        with open_rdb(out / name) as rdb:
            keys += [e.key for e in rdb.iter_entries()]
    assert len(keys) == len(set(keys)) == 20000
