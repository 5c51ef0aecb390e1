"""Loading an AOF into a real server and reading back what it holds (for the rewrite, check,
cut and convert tests): the server starts with ``appendonly yes`` on a copy of the AOF, SAVEs,
and the saved RDB is read.  Nothing is mocked."""

from __future__ import annotations

import shutil
from pathlib import Path

from rdbtools import open_rdb
from servers import RedisServer, ServerSpec, probe_server

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def writable_copy(source: Path, dest: Path) -> Path:
    """Copy a corpus AOF (read-only files) to ``dest``, writable."""
    if source.is_dir():
        shutil.copytree(source, dest)
        for p in [dest, *dest.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        dest.chmod(0o644)
    return dest


def aof_of(variant: Path) -> Path:
    """The AOF inside a corpus variant folder: its appendonlydir or appendonly.aof."""
    return variant / "appendonlydir" if (variant / "appendonlydir").is_dir() else \
        variant / "appendonly.aof"


def load_in_server(spec: ServerSpec, aof: Path, workdir: Path, config: dict | None = None):
    """Start ``spec`` on a copy of ``aof`` (an appendonlydir or a single appendonly.aof) and
    return ``(entries, function codes, server log)`` of what it loaded."""
    workdir.mkdir(parents=True)
    writable_copy(aof, workdir / ("appendonlydir" if aof.is_dir() else "appendonly.aof"))
    cfg = {"appendonly": "yes", **(config or {})}
    with RedisServer(spec, cfg, workdir=workdir) as srv:
        log = srv.log_path.read_text(errors="replace")
        functions = []
        if spec.version >= (7, 0, 0):
            libs = srv.execute("FUNCTION", "LIST", "WITHCODE")
            functions = sorted(lib[lib.index(b"library_code") + 1] for lib in libs)
        with open_rdb(srv.save()) as rdb:
            entries = list(rdb.iter_entries())
    return entries, functions, log


def skip_reason(spec: ServerSpec) -> str | None:
    return probe_server(spec.name)
