"""Everything that draws on a terminal (the only module of the tools that imports rich).

``console`` writes to stdout, ``err_console`` to stderr (messages, progress bars).
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Iterator

from rich.console import Console
from rich.markup import escape

from rdbtools.info import RdbSummary

__all__ = ["console", "err_console", "escape", "progress_records", "render_summary", "print_check",
           "render_bigkeys", "render_report", "render_convert"]

console = Console()
err_console = Console(stderr=True)

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
    head.add_row("checksum", s.checksum or "?")
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
        types.add_row(t, str(n))
    console.print(types)

    enc = Table(title="on-disk encodings", title_justify="left")
    enc.add_column("code", justify="right")
    enc.add_column("rdb.h name")
    enc.add_column("keys", justify="right")
    for code, n in s.rdb_types.items():
        enc.add_row(str(code), f"RDB_TYPE_{s.rdb_type_name(code)}", str(n))
    console.print(enc)


def print_check(result: dict) -> None:
    """Print the text report of ``rdbtool check``: a green line, or a red one on stderr."""
    if result["ok"]:
        console.print(
            f"[green]ok[/]: {escape(result['file'])}: {result['magic']} RDB {result['version']}, "
            f"{result['keys']} keys, checksum {result['checksum']}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        err_console.print(
            f"[bold red]damaged[/]: {escape(result['file'])}: {escape(result['error'])} "
            f"({result['keys']} keys read before the damage)",
            highlight=False,
            soft_wrap=True,
        )


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
                t.add_row(str(r["db"]), _text_key(r["key"]), r["type"], r["encoding"],
                          str(r["elements"]), _human(r["memory_usage"]))
            console.print(t)


def render_report(data: dict) -> None:
    """Draw ``rdbtool report``: totals, per db / type / encoding, prefixes, expiry, advice."""
    from rich.table import Table
    from rich.tree import Tree

    head = Table(show_header=False)
    head.add_column(style="bold")
    head.add_column()
    for f in data["files"]:
        head.add_row("file", f"{escape(f['file'])} (estimated for {f['server']})")
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
            t.add_row(*(str(r[c]) for c in cols), str(r["keys"]), _human(r["memory"]),
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
            t.add_row(str(r["db"]), _text_key(r["key"]), r["type"], r["encoding"], str(r["elements"]),
                      _human(r["memory_usage"]))
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
    if not result.losses:
        return
    err_console.print(f"[yellow]{len(result.losses)} thing(s) not carried over "
                      f"({result.dropped_keys} key(s) left out):[/]", highlight=False)
    for loss in result.losses[:LOSSES_SHOWN]:
        err_console.print(f"  {escape(str(loss))}", highlight=False, soft_wrap=True)
    if len(result.losses) > LOSSES_SHOWN:
        err_console.print(f"  ... and {len(result.losses) - LOSSES_SHOWN} more", highlight=False)
