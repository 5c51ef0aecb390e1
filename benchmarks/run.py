#!/usr/bin/env python
"""Time rdbtools against the real server's own load of the same RDB file.

    python benchmarks/run.py                          # benchmarks/data/bench-7.0.rdb (built if missing)
    python benchmarks/run.py --keys 200000            # benchmarks/data/bench-7.0-200k.rdb (built if missing)
    python benchmarks/run.py some.rdb --repeat 5 --no-docs
    python benchmarks/run.py --keys 100000 --profile  # cProfile of the full decode, top 15 by tottime

Operations, each run ``--repeat`` times (rounds interleave all operations, so machine noise hits
every operation alike); the median is reported:

  server  Redis 7.0.15 starts on a copy of the file; the number is the server's own log line
          "DB loaded from disk: X seconds"
  decode  library: ``open_rdb(path)`` and every record of ``iter_records()``, values decoded
  sizes   library: the same with ``values="sizes"`` (keys, types, element counts, sizes)
  check   ``rdbtool check FILE``
  jsonl   ``rdbtool dump FILE --format jsonl > /dev/null``
  resp    ``rdbtool dump FILE --format resp > /dev/null``

Every operation runs in its own child process, reaped with ``os.wait4`` so its peak RSS is that
child's ``ru_maxrss`` (for the server: ``VmHWM`` from /proc after loading).  Library times count
the iteration only (the child measures it; interpreter start and imports excluded), CLI times are
the whole process from spawn to exit.  Ratios divide each median by the server's median load time
of the same run.  There are no timing assertions: this script reports, it does not judge.

The results table is printed and written into docs/performance.md (a block per file name,
replaced on the next run of the same file; ``--no-docs`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "performance.md"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from make_dataset import DEFAULT_KEYS, DEFAULT_SEED, build, default_output  # noqa: E402
from tests.servers import RedisServer, spec_by_name  # noqa: E402

SERVER = "redis-7.0.15"
OPS = ("server", "decode", "sizes", "check", "jsonl", "resp")
LABELS = {
    "server": "Redis 7.0.15 loads the file (its log)",
    "decode": "library: all records, values decoded",
    "sizes": "library: `values=\"sizes\"` pass",
    "check": "`rdbtool check`",
    "jsonl": "`rdbtool dump -f jsonl > /dev/null`",
    "resp": "`rdbtool dump -f resp > /dev/null`",
}
GOALS = {"decode": "≤ 1.0×", "sizes": "≤ 0.5×", "check": "≤ 1.0×", "jsonl": "≤ 2.5×", "resp": "≤ 2.0×"}

LIB_CHILD = r"""
import sys, time
from rdbtools import open_rdb
n = 0
t = time.perf_counter()
with open_rdb(sys.argv[1], values=sys.argv[2]) as rdb:
    if sys.argv[2] == "lazy":  # every element of every collection, one at a time
        for rec in rdb.iter_records():
            n += 1
            value = getattr(rec, "value", None)
            if type(value).__name__ == "_LazyValue":
                for _element in value:
                    pass
    else:
        for rec in rdb.iter_records():
            n += 1
print(f"{time.perf_counter() - t:.6f} {n}")
"""

PROFILE_CHILD = r"""
import cProfile, pstats, sys, time
from rdbtools import open_rdb
def run():
    n = 0
    with open_rdb(sys.argv[1]) as rdb:
        for rec in rdb.iter_records():
            n += 1
    return n
prof = cProfile.Profile()
t = time.perf_counter()
prof.enable()
n = run()
prof.disable()
print(f"{n} records, {time.perf_counter() - t:.2f} s under cProfile")
pstats.Stats(prof).strip_dirs().sort_stats("tottime").print_stats(int(sys.argv[2]))
"""


class OpFailed(RuntimeError):
    pass


def child_env(pure: bool | None = None) -> dict[str, str]:
    """The environment of a child running this project's code; ``pure=True`` sets
    RDBTOOLS_PUREPYTHON=1 (no compiled path), ``pure=False`` removes it, None leaves it as it is."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if pure is True:
        env["RDBTOOLS_PUREPYTHON"] = "1"
    elif pure is False:
        env.pop("RDBTOOLS_PUREPYTHON", None)
    return env


def read_path(pure: bool | None = None) -> str:
    """Which read path the children use, asked of a child (the import decides it)."""
    out = subprocess.run([sys.executable, "-c", "from rdbtools.rdb import _accel; print(_accel.ACCELERATED)"],
                         env=child_env(pure), cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return ("rdbtools with the compiled read path (`rdbtools/rdb/csrc/`)" if out.strip() == "True"
            else "pure-Python rdbtools (`RDBTOOLS_PUREPYTHON=1` or no compiled extension)")


def rdbtool_command() -> list[str]:
    script = Path(sys.executable).parent / "rdbtool"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "rdbtools_cli.rdbtool"]


def run_child(cmd: list[str], *, stdout=subprocess.DEVNULL, timeout: float, env: dict | None = None,
              cwd: Path = ROOT) -> tuple[float, int, str]:
    """Run one child; return (wall seconds, peak RSS in KiB, captured stdout if stdout=PIPE)."""
    err = tempfile.TemporaryFile()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=err, stdin=subprocess.DEVNULL,
                            env=child_env() if env is None else env, cwd=cwd)
    out = b""
    deadline = started + timeout
    try:
        if proc.stdout is not None:
            out = proc.stdout.read()  # small (one line); EOF when the child exits
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.kill(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise OpFailed(f"timed out after {timeout:.0f} s: {' '.join(cmd[:3])} ...")
            time.sleep(0.01)
        wall = time.perf_counter() - started
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
        raise OpFailed(f"exit {proc.returncode}: {' | '.join(tail)}")
    err.close()
    return wall, usage.ru_maxrss, out.decode()


def measure_server(path: Path, timeout: float, server: str = SERVER) -> tuple[float, int, int]:
    """(load seconds from the log, peak RSS KiB, key count)."""
    srv = RedisServer(spec_by_name(server), load_rdb=path)
    srv.start_timeout = timeout
    with srv:
        log = srv.log_path.read_text(errors="replace")
        m = re.search(r"DB loaded from disk: ([0-9.]+) seconds", log)
        if not m:
            raise OpFailed(f"no 'DB loaded from disk' line in {srv.log_path}")
        hwm = 0
        for line in Path(f"/proc/{srv.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
        keyspace = srv.info("keyspace")
        keys = sum(int(re.search(r"keys=(\d+)", v).group(1)) for v in keyspace.values())
    return float(m.group(1)), hwm, keys


def measure(op: str, path: Path, timeout: float, *, pure: bool | None = None,
            server: str = SERVER) -> tuple[float, int, dict]:
    """One run of one operation: (seconds, peak RSS KiB, extra).  ``pure``: see :func:`child_env`."""
    if op == "server":
        seconds, rss, keys = measure_server(path, timeout, server)
        return seconds, rss, {"keys": keys}
    env = child_env(pure)
    if op in ("decode", "sizes", "lazy"):
        mode = {"decode": "full", "sizes": "sizes", "lazy": "lazy"}[op]
        wall, rss, out = run_child([sys.executable, "-c", LIB_CHILD, str(path), mode],
                                   stdout=subprocess.PIPE, timeout=timeout, env=env)
        seconds, records = out.split()
        return float(seconds), rss, {"records": int(records), "process_wall": wall}
    cli = rdbtool_command()
    cmd = {"check": cli + ["check", str(path)],
           "jsonl": cli + ["dump", str(path), "--format", "jsonl"],
           "resp": cli + ["dump", str(path), "--format", "resp"]}[op]
    wall, rss, _ = run_child(cmd, timeout=timeout, env=env)
    return wall, rss, {}


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 ** 2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": str(os.cpu_count() if not hasattr(os, "sched_getaffinity") else len(os.sched_getaffinity(0))),
            "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "implementation": platform.python_implementation(), "kernel": platform.release(),
            "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def results_block(path: Path, size: int, keys: int, repeat: int, res: dict, mach: dict, argv: list[str],
                  read_path_text: str = "") -> str:
    base = statistics.median(res["server"]["times"]) if res.get("server", {}).get("times") else None
    lines = [
        f"<!-- results: {path.name} -->",
        f"### `{path.name}`: {size / 1e6:.1f} MB, {keys:,} keys",
        "",
        f"- Date: {mach['date']}; command: `python benchmarks/run.py {' '.join(argv)}`".rstrip(),
        f"- Machine: {mach['cpu']}, `nproc` {mach['nproc']}, {mach['memory']}, Linux {mach['kernel']} "
        "(a shared machine: other jobs were running)",
        f"- {mach['implementation']} {mach['python']}, {read_path_text or read_path()}; server {SERVER}",
        f"- File: {size:,} bytes, {keys:,} keys; median of {repeat} runs per operation",
        "",
        "| Operation | Median (s) | Ratio to server load | Range (s) | Peak RSS (MB) | Goal of the compiled path |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for op in OPS:
        r = res.get(op)
        if r is None:
            continue
        if r.get("error"):
            lines.append(f"| {LABELS[op]} | {r['error']} | | | | {GOALS.get(op, '')} |")
            continue
        times = r["times"]
        med = statistics.median(times)
        ratio = "1.00× (baseline)" if op == "server" else (f"{med / base:.2f}×" if base else "n/a")
        rss = max(r["rss"]) / 1024
        lines.append(f"| {LABELS[op]} | {fmt_s(med)} | {ratio} | {fmt_s(min(times))}–{fmt_s(max(times))} "
                     f"| {rss:,.0f} | {GOALS.get(op, '')} |")
    lines += ["", f"<!-- /results: {path.name} -->"]
    return "\n".join(lines)


def write_doc(block: str, name: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Performance\n\n## Results\n\n"
    pattern = re.compile(rf"<!-- results: {re.escape(name)} -->.*?<!-- /results: {re.escape(name)} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    elif "<!-- results-end -->" in text:
        text = text.replace("<!-- results-end -->", block + "\n\n<!-- results-end -->")
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)


def profile(path: Path, top: int) -> None:
    subprocess.run([sys.executable, "-c", PROFILE_CHILD, str(path), str(top)], check=True, env=child_env(),
                   cwd=ROOT)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rdb", nargs="?", type=Path, help="RDB file (default benchmarks/data/bench-7.0.rdb)")
    ap.add_argument("--keys", type=int, default=DEFAULT_KEYS,
                    help="without RDB: use (building if missing) the dataset with this many keys")
    ap.add_argument("--repeat", type=int, default=3, help="runs per operation (median reported; default 3)")
    ap.add_argument("--only", default=",".join(OPS),
                    help=f"comma-separated subset of {','.join(OPS)} (server is always run for the ratios)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before one run is killed")
    ap.add_argument("--pure", action="store_true",
                    help="run the rdbtools operations with RDBTOOLS_PUREPYTHON=1 (no compiled path)")
    ap.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md")
    ap.add_argument("--profile", action="store_true",
                    help="instead of timing: cProfile the full decode once, print the top functions")
    ap.add_argument("--top", type=int, default=15, help="functions shown by --profile")
    args = ap.parse_args(argv)

    path = args.rdb or default_output(SERVER, args.keys)
    if not path.exists():
        if args.rdb is not None:
            ap.error(f"{path} does not exist")
        build(args.keys, DEFAULT_SEED, SERVER, path)
    path = path.resolve()
    if args.profile:
        profile(path, args.top)
        return 0

    ops = [op for op in OPS if op == "server" or op in args.only.split(",")]
    with open(path, "rb") as f:  # warm the page cache once; every run then reads from memory
        while f.read(1 << 24):
            pass
    size = path.stat().st_size
    mach = machine()
    print(f"{path}: {size:,} bytes; {mach['cpu']}, nproc {mach['nproc']}, Python {mach['python']}; "
          f"{args.repeat} rounds of {', '.join(ops)}", flush=True)
    res: dict[str, dict] = {op: {"times": [], "rss": [], "extra": []} for op in ops}
    keys = None
    for rnd in range(1, args.repeat + 1):
        for op in ops:
            r = res[op]
            if r.get("error"):
                continue
            try:
                seconds, rss, extra = measure(op, path, args.timeout, pure=True if args.pure else None)
            except Exception as e:  # noqa: BLE001 - reported in the table, the other operations go on
                r["error"] = f"failed: {e}"
                print(f"  round {rnd} {op:<7} FAILED {e}", flush=True)
                continue
            r["times"].append(seconds)
            r["rss"].append(rss)
            r["extra"].append(extra)
            keys = extra.get("keys", keys)
            print(f"  round {rnd} {op:<7} {seconds:9.3f} s  peak RSS {rss / 1024:8.1f} MB", flush=True)

    if keys is None:
        keys = -1
    block = results_block(path, size, keys, args.repeat, res, mach, argv,
                          read_path(True if args.pure else None))
    print()
    print(block)
    raw = HERE / "data" / f"results-{path.stem}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"file": str(path), "size": size, "keys": keys, "machine": mach,
                               "results": res}, indent=1, default=str))
    if not args.no_docs:
        write_doc(block, path.name)
        print(f"\nwrote the results for {path.name} into {DOC.relative_to(ROOT)}; raw numbers in {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
