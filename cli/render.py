"""Everything that draws on a terminal (the only module of the tools that imports rich).

``console`` writes to stdout, ``err_console`` to stderr (messages, progress bars).
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, Iterable, Iterator

from rich.console import Console
from rich.markup import escape as _escape_markup

from rdbtools.analysis.info import RdbSummary

__all__ = ["console", "err_console", "escape", "progress_records", "render_summary", "print_check",
           "render_bigkeys", "render_report", "render_convert", "render_losses", "render_split",
           "render_merge"]

# Tables written to a pipe or a file are not cut to rich's default of 80 columns ($COLUMNS
# still wins); a terminal gets its own width.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160)
err_console = Console(stderr=True)

# What a terminal would act on instead of showing: C0 controls (ESC starts colour, cursor and
# screen-clearing sequences, BEL, BS, CR), DEL, C1 controls (0x9b is a one-byte CSI) and the
# Unicode bidi overrides and isolates that reorder what follows them.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _spelled(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def escape(text: object) -> str:
    """``text`` made safe to print: control characters (and bidi controls) spelled as
    ``\\xNN`` / ``\\uNNNN`` so a key named ``ESC[2J`` cannot clear the screen or retitle the
    terminal, then rich markup escaped.  Every name or value that comes from an input goes
    through this before it reaches a terminal."""
    return _escape_markup(_UNSAFE.sub(_spelled, str(text)))


PROGRESS_MIN_BYTES = 16 << 20  # smaller inputs are read before a bar would be worth drawing


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


def progress_records(rdb: Any, records: Iterable, *, force: bool | None = None) -> Iterator:
    """Yield ``records`` unchanged while a byte progress bar on stderr follows
    ``rdb.bytes_read`` / ``rdb.total_size``.  The bar is drawn only when stderr is a terminal and
    the input is known to be larger than 16 MiB (``force`` overrides the decision)."""
    total = getattr(rdb, "total_size", None)
    show = force if force is not None else bool(
        err_console.is_terminal and total is not None and total > PROGRESS_MIN_BYTES
    )
    if not show:
        yield from records
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(escape(getattr(rdb, "name", "reading")), total=total)
        last = 0.0
        for i, rec in enumerate(records):
            if not i & 255:
                now = time.monotonic()
                if now - last > 0.1:
                    progress.update(task, completed=rdb.bytes_read)
                    last = now
            yield rec
        progress.update(task, completed=rdb.bytes_read)


def render_summary(s: RdbSummary, name: str = "") -> None:
    """Draw the tables of ``rdbtool info``."""
    from rich.table import Table

    if name:
        console.print(f"[bold]{escape(name)}[/bold]", overflow="fold")
    head = Table(show_header=False)
    head.add_column(style="bold")
    head.add_column()
    head.add_row("format", f"{s.magic} RDB version {s.version}")
    head.add_row("size", _human(s.file_size))
    head.add_row("checksum", escape(s.checksum or "?"))
    head.add_row("keys", f"{s.keys} ({s.expires} with a TTL)")
    if s.functions:
        head.add_row("functions", escape(", ".join(s.functions)))
    if s.modules:
        head.add_row("modules", escape(", ".join(s.modules)))
    if s.slots:
        head.add_row("slot info", f"{s.slots} slots")
    for k, v in s.aux.items():
        head.add_row(f"aux {escape(k)}", escape(v))
    console.print(head)

    dbs = Table(title="databases", title_justify="left")
    for col in ("db", "keys", "expires", "RESIZEDB hint"):
        dbs.add_column(col, justify="right")
    for db, d in s.dbs.items():
        hint = "" if d.resize_keys is None else f"{d.resize_keys} / {d.resize_expires}"
        dbs.add_row(str(db), str(d.keys), str(d.expires), hint)
    console.print(dbs)

    types = Table(title="types", title_justify="left")
    types.add_column("type")
    types.add_column("keys", justify="right")
    for t, n in s.types.items():
        types.add_row(escape(t), str(n))
    console.print(types)

    enc = Table(title="on-disk encodings", title_justify="left")
    enc.add_column("code", justify="right")
    enc.add_column("rdb.h name")
    enc.add_column("keys", justify="right")
    for code, n in s.rdb_types.items():
        enc.add_row(str(code), f"RDB_TYPE_{s.rdb_type_name(code)}", str(n))
    console.print(enc)


def print_check(result: dict) -> None:
    """Print the text report of ``rdbtool check``: a green line (sound), or a red one on stderr
    (damaged, unsupported); then its warnings, yellow, on stderr."""
    if result["status"] == "sound":
        console.print(
            f"[green]ok[/]: {escape(result['file'])}: {escape(result['magic'])} RDB "
            f"{result['version']}, {result['keys']} keys, checksum {escape(result['checksum'])}",
            highlight=False,
            soft_wrap=True,
        )
    elif result["status"] == "unsupported":
        err_console.print(f"[bold yellow]unsupported[/]: {escape(result['file'])}: "
                          f"{escape(result['error'])}", highlight=False, soft_wrap=True)
    else:
        err_console.print(
            f"[bold red]damaged[/]: {escape(result['file'])}: {escape(result['error'])} "
            f"({result['keys']} keys read before the damage)",
            highlight=False,
            soft_wrap=True,
        )
    for warning in result["warnings"]:
        err_console.print(f"[yellow]warning[/]: {escape(warning)}", highlight=False, soft_wrap=True)


# -- memory analysis (rdbtool bigkeys / report) ----------------------------------------------------

def _text_key(key: str, limit: int = 60) -> str:
    return escape(key if len(key) <= limit else key[: limit - 1] + "…")


def render_bigkeys(data: dict) -> None:
    """Draw ``rdbtool bigkeys``: top keys by memory (all types, then per type) and by elements."""
    from rich.table import Table

    for title, section in (("by memory", data["by_memory"]), ("by elements", data["by_elements"])):
        for type_, rows in section.items():
            if not rows:
                continue
            t = Table(title=f"top {type_} keys {title}", title_justify="left")
            for col, just in (("db", "right"), ("key", "left"), ("type", "left"), ("encoding", "left"),
                              ("elements", "right"), ("memory", "right")):
                t.add_column(col, justify=just)
            for r in rows:
                t.add_row(str(r["db"]), _text_key(r["key"]), escape(r["type"]),
                          escape(r["encoding"]), str(r["elements"]), _human(r["memory_usage"]))
            console.print(t)


def render_report(data: dict) -> None:
    """Draw ``rdbtool report``: totals, per db / type / encoding, prefixes, expiry, advice."""
    from rich.table import Table
    from rich.tree import Tree

    head = Table(show_header=False)
    head.add_column(style="bold")
    head.add_column()
    for f in data["files"]:
        head.add_row("file", f"{escape(f['file'])} (estimated for {escape(f['server'])})")
    head.add_row("keys", str(data["keys"]))
    head.add_row("memory", f"{_human(data['memory'])} ({data['memory']} bytes, MEMORY USAGE estimate)")
    console.print(head)
    total = data["memory"] or 1
    for title, rows, cols in (("databases", data["by_db"], ("db",)), ("types", data["by_type"], ("type",)),
                              ("encodings", data["by_encoding"], ("type", "encoding")),
                              ("expiry", data["expiry"], ("bucket",))):
        t = Table(title=title, title_justify="left")
        for c in cols:
            t.add_column(c)
        for c in ("keys", "memory", "share"):
            t.add_column(c, justify="right")
        for r in rows:
            t.add_row(*(escape(r[c]) for c in cols), str(r["keys"]), _human(r["memory"]),
                      f"{100 * r['memory'] / total:.1f} %")
        console.print(t)

    tree = Tree("[bold]key prefixes[/] (memory, keys)")

    def add(node: Tree, d: dict) -> None:
        for child in d.get("children", [])[:12]:
            sub = node.add(f"{escape(child['name'])}  {_human(child['memory'])}  {child['keys']} keys")
            add(sub, child)

    add(tree, data["prefixes"])
    console.print(tree)
    top = data["top_keys"]["by_memory"].get("all", [])
    if top:
        t = Table(title="biggest keys", title_justify="left")
        for c in ("db", "key", "type", "encoding", "elements", "memory"):
            t.add_column(c, justify="right" if c in ("db", "elements", "memory") else "left")
        for r in top:
            t.add_row(str(r["db"]), _text_key(r["key"]), escape(r["type"]), escape(r["encoding"]),
                      str(r["elements"]), _human(r["memory_usage"]))
        console.print(t)
    for title, rows, col in (("hot keys (LFU counter / least idle)", data["hot_keys"], "freq"),
                             ("cold keys (most idle)", data["cold_keys"], "idle_s")):
        if rows:
            t = Table(title=title, title_justify="left")
            for c in ("key", col, "memory"):
                t.add_column(c)
            for r in rows:
                t.add_row(_text_key(r["key"]), str(r.get(col)), _human(r["memory_usage"]))
            console.print(t)
    if data["advice"]:
        t = Table(title="advice", title_justify="left")
        t.add_column("estimated saving", justify="right")
        t.add_column("advice")
        for a in data["advice"]:
            t.add_row(_human(a["bytes_saved"]), escape(a["text"]))
        console.print(t)


LOSSES_SHOWN = 20


def render_convert(result: Any, dest: str) -> None:
    """One summary line on stderr for ``rdbtool convert``, then what was not carried over."""
    where = "stdout" if dest == "-" else escape(dest)
    target = result.target
    head = f"wrote {result.keys} keys to {where}"
    if target is not None:
        head += f" for {target.name} ({target.magic.decode()})"
    if result.raw_copies:
        head += f", {result.raw_copies} copied as they were"
    err_console.print(head, highlight=False, soft_wrap=True)
    render_losses(result)


def render_losses(result: Any) -> None:
    """What a write did not carry over (``result.losses``), and the modules the target must load
    for the module values it did write (``result.warnings``), on stderr; nothing when complete."""
    for warning in getattr(result, "warnings", ()):
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    losses = result.losses
    if not losses:
        return
    dropped = sum(1 for loss in losses if loss.dropped and loss.key is not None)
    err_console.print(f"[yellow]{len(losses)} thing(s) not carried over "
                      f"({dropped} key(s) left out):[/]", highlight=False)
    for loss in losses[:LOSSES_SHOWN]:
        err_console.print(f"  {escape(str(loss))}", highlight=False, soft_wrap=True)
    if len(losses) > LOSSES_SHOWN:
        err_console.print(f"  ... and {len(losses) - LOSSES_SHOWN} more", highlight=False)


def render_split(result: Any) -> None:
    """``rdbtool split``: one row per file (ranges, node, keys) on stderr, then the losses."""
    from rich.table import Table

    t = Table(title=f"split for {result.target.name} ({result.target.magic.decode()})",
              title_justify="left")
    for col, just in (("file", "left"), ("slots", "right"), ("ranges", "left"), ("node", "left"),
                      ("keys", "right")):
        t.add_column(col, justify=just)
    for s in result.shards:
        ranges = ", ".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in s.ranges)
        node = "" if s.node is None else f"{s.node.id[:8]} {s.node.address}"
        t.add_row(escape(s.path), str(s.slots), escape(_text_key(ranges)), escape(node),
                  str(s.result.keys))
    err_console.print(t)
    if result.unassigned:
        err_console.print(f"[yellow]{result.unassigned} key(s) in no slot range left out[/]",
                          highlight=False)
    render_losses(result)


def render_merge(result: Any, dest: str) -> None:
    """``rdbtool merge``: the summary line, the keys found in several inputs, the losses."""
    render_convert(result.result, dest)
    if result.conflicts:
        err_console.print(f"[yellow]{result.conflicts} key(s) or libraries in several inputs; "
                          f"{result.skipped} copy(ies) left out, e.g.:[/]", highlight=False)
        for db, key, files in result.examples[:LOSSES_SHOWN]:
            what = f"library {key.decode()!r}" if db is None else f"db {db} key {key[:64]!r}"
            err_console.print(f"  {escape(what)}: {escape(', '.join(files))}", highlight=False,
                              soft_wrap=True)


# -- aoftool rewrite / check / cut -----------------------------------------------------------------

class AofProgress:
    """A progress bar on stderr for the long AOF jobs: ``callback(stage, done, total)`` draws
    stage ``replay`` in bytes and ``write`` in keys.  Drawn only when stderr is a terminal and
    the AOF is larger than 16 MiB (``force`` overrides); a no-op otherwise."""

    def __init__(self, total_bytes: int, *, force: bool | None = None) -> None:
        self.show = force if force is not None else bool(
            err_console.is_terminal and total_bytes > PROGRESS_MIN_BYTES)
        self._progress = None
        self._tasks: dict[str, Any] = {}
        self._last = 0.0

    def __enter__(self) -> "AofProgress":
        if self.show:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

            self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                      TaskProgressColumn(), TimeRemainingColumn(),
                                      console=err_console, transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def callback(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        if stage not in self._tasks:
            label = {"replay": "replaying", "write": "writing keys"}.get(stage, stage)
            self._tasks[stage] = self._progress.add_task(label, total=total)
        self._progress.update(self._tasks[stage], completed=done)


def render_rewrite(r: dict) -> None:
    """The table of ``aoftool rewrite``: sizes before and after, time, files."""
    from rich.table import Table

    t = Table(show_header=False, title="AOF rewrite", title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("written", escape(r["path"]))
    base = r["base"] + (f" for {r['target']}" if r["target"] else "")
    t.add_row("base", base)
    t.add_row("keys", f"{r['keys']} ({r['functions']} function libraries, {r['commands']} "
                      "commands replayed)")
    before, after = r["size_before"], r["size_after"]
    ratio = f" ({100 * after / before:.1f} %)" if before else ""
    t.add_row("size before", f"{_human(before)} ({before} bytes)")
    t.add_row("size after", f"{_human(after)} ({after} bytes){ratio}")
    t.add_row("time", f"{r['seconds']:.3f} s")
    t.add_row("new files", escape(", ".join(r["written"])))
    if r["retired"]:
        t.add_row("history", escape(", ".join(r["retired"])))
    if r["deleted"]:
        t.add_row("deleted", escape(", ".join(r["deleted"])))
    console.print(t)


def render_aof_check(report: dict) -> None:
    """The table of ``aoftool check``: one row per loaded file."""
    from rich.table import Table

    t = Table(title=f"{escape(report['path'])}: {report['layout']}", title_justify="left")
    t.add_column("file", no_wrap=True)  # a file name is read and copied whole
    for col, just in (("kind", "left"), ("size", "right"), ("RDB keys", "right"),
                      ("commands", "right"), ("ok up to", "right"), ("status", "left")):
        t.add_column(col, justify=just)
    for f in report["files"]:  # where the damage starts is the "ok up to" column
        status = "[green]ok[/]" if f["ok"] else \
            f"[red]{'truncated' if f['truncated'] else 'damaged'}[/]"
        t.add_row(escape(f["file"]), f["kind"], str(f["size"]), str(f["rdb_keys"]),
                  str(f["commands"]), str(f["ok_up_to"]), status)
    console.print(t)
    for f in report["files"]:  # the reasons under the table, where they have room
        if not f["ok"]:
            console.print(f"[red]{escape(f['file'])}[/], offset {f['offset']}: "
                          f"{escape(f['problem'])}", highlight=False, soft_wrap=True)
    if report["history"]:
        console.print(f"history (not loaded, not checked): {escape(', '.join(report['history']))}",
                      highlight=False)


def render_fix(fix: dict) -> None:
    if fix["fixed"] is None:
        console.print("[green]nothing to fix[/]", highlight=False)
        return
    console.print(f"[green]fixed[/]: {escape(fix['fixed'])} truncated from {fix['size_before']} "
                  f"to {fix['size_after']} bytes; the original is kept as "
                  f"{escape(fix['backup'])}", highlight=False, soft_wrap=True)


def render_cut(r: dict) -> None:
    """One summary line on stderr for ``aoftool cut``."""
    cut = r["cut"]
    where = "the whole AOF" if cut is None else \
        f"everything before offset {cut['offset']} of {escape(cut['file'])}"
    what = f"{r['keys']} keys" if r["keys"] is not None else escape(", ".join(r["files"]))
    err_console.print(f"kept {where}: wrote {what} to {escape(r['path'])} ({r['format']})",
                      highlight=False, soft_wrap=True)
    for loss in r["losses"][:LOSSES_SHOWN]:
        err_console.print(f"  [yellow]not carried over:[/] {escape(loss)}", highlight=False)
