"""Rewrite speed: ``rdbtools.aof.rewrite`` offline against the server's own BGREWRITEAOF.

    python benchmarks/aof_rewrite.py --mb 200 --server redis-7.0.15 --repeat 3 --keep /tmp/aofbench

Builds (or, with ``--keep DIR``, reuses) the multi-part AOF of ``benchmarks/aof_replay.py``
(pipelined SET, INCR, RPUSH, HSET, SADD, ZADD, XADD; ``aof-use-rdb-preamble no``).  Then, on
fresh copies of it, each ``--repeat`` times and for both base forms (``aof-use-rdb-preamble
yes`` / ``no``):

* the server: start on the copy (its load time is read from its log), run BGREWRITEAOF and time
  it until INFO persistence shows it done;
* rdbtools: ``rewrite_aof(copy, base=...)`` in this process (replay + base + manifest swap).

Prints medians and the ratios ours / server BGREWRITEAOF and ours / (server load + BGREWRITEAOF),
the second being what compacting an AOF without a running server costs with the server itself.
Results: docs/aof.md, "Performance".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from aof_replay import build  # noqa: E402  (the same AOF as the replay benchmark)
from servers import RedisServer, spec_by_name  # noqa: E402

from rdbtools.aof.base import target_for_server  # noqa: E402
from rdbtools.aof.rewrite import rewrite_aof  # noqa: E402

BUILD_CONFIG = {"appendonly": "yes", "aof-use-rdb-preamble": "no", "appendfsync": "no"}


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def server_rewrite(spec, src: Path, preamble: str) -> dict:
    """Load the AOF in a server, then time its BGREWRITEAOF."""
    work = Path(tempfile.mkdtemp(prefix="aofbench-rw-"))
    _copy(src, work / "appendonlydir")
    try:
        config = {"appendonly": "yes", "aof-use-rdb-preamble": preamble,
                  "auto-aof-rewrite-percentage": "0"}
        t0 = time.perf_counter()
        with RedisServer(spec, config, workdir=work) as srv:
            while srv.info("persistence").get("loading") == "1":
                time.sleep(0.01)
            load = time.perf_counter() - t0
            t1 = time.perf_counter()
            srv.execute("BGREWRITEAOF")
            while True:
                info = srv.info("persistence")
                if info.get("aof_rewrite_in_progress") == "0" and \
                        info.get("aof_rewrite_scheduled") == "0":
                    break
                time.sleep(0.005)
            rewrite = time.perf_counter() - t1
            assert info.get("aof_last_bgrewrite_status") == "ok", info
        return {"load_s": load, "rewrite_s": rewrite, "size_after": _size(work / "appendonlydir")}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def our_rewrite(src: Path, base: str, target) -> dict:
    work = Path(tempfile.mkdtemp(prefix="aofbench-ours-"))
    try:
        aof = _copy(src, work / "appendonlydir")
        t0, c0 = time.perf_counter(), time.process_time()
        result = rewrite_aof(aof, base=base, target=target)
        return {"rewrite_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                "size_after": result.size_after, "keys": result.keys}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--server", default="redis-7.0.15")
    ap.add_argument("--keep", metavar="DIR", type=Path,
                    help="build the AOF in DIR/srv and keep it; reuse it when it is there "
                         "(the same folder as aof_replay.py --keep)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    spec = spec_by_name(args.server)
    work = args.keep or Path(tempfile.mkdtemp(prefix="aofbench-"))
    src = work / "srv"
    if not (src / "appendonlydir").is_dir():
        with RedisServer(spec, BUILD_CONFIG, workdir=src) as srv:
            build(srv, args.mb)
    aof = src / "appendonlydir"
    target = target_for_server("valkey" if spec.is_valkey else "redis", spec.version_text)
    runs: dict[str, list[dict]] = {}
    for _ in range(max(1, args.repeat)):
        for preamble, base in (("yes", "rdb"), ("no", "aof")):
            runs.setdefault(f"server_{base}", []).append(server_rewrite(spec, aof, preamble))
            runs.setdefault(f"ours_{base}", []).append(our_rewrite(aof, base, target))

    def med(name: str, field: str) -> float:
        return round(statistics.median(r[field] for r in runs[name]), 3)

    result = {"server": spec.name, "aof_bytes": _size(aof), "repeat": args.repeat, "forms": {}}
    for base in ("rdb", "aof"):
        ours, load, bgrw = med(f"ours_{base}", "rewrite_s"), med(f"server_{base}", "load_s"), \
            med(f"server_{base}", "rewrite_s")
        result["forms"][base] = {
            "server_load_s": load, "server_bgrewriteaof_s": bgrw, "rdbtools_rewrite_s": ours,
            "rdbtools_cpu_s": med(f"ours_{base}", "cpu_s"),
            "ratio_vs_bgrewriteaof": round(ours / bgrw, 2),
            "ratio_vs_load_plus_bgrewriteaof": round(ours / (load + bgrw), 2),
            "size_after_server": int(med(f"server_{base}", "size_after")),
            "size_after_rdbtools": int(med(f"ours_{base}", "size_after")),
            "runs": {k: [{f: round(v, 3) for f, v in r.items()} for r in runs[k]]
                     for k in (f"server_{base}", f"ours_{base}")},
        }
    result.update(python=platform.python_version(), machine=platform.machine(),
                  cpus=os.cpu_count())
    print(json.dumps(result, indent=2))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
