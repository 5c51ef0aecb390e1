"""``rdbtool``: inspect, dump and check Redis / Valkey RDB files.

Each command is a thin layer over the library (rdbtools.info, rdbtools.dump, rdbtools.commands,
rdbtools.filters); terminal output lives in render.py, error handling in errors.py.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator

import click

from rdbtools import __version__, open_rdb
from rdbtools.commands import write_resp
from rdbtools.dump import write_json, write_jsonl, write_text
from rdbtools.errors import FormatError
from rdbtools.filters import KeyFilter
from rdbtools.info import summarize
from rdbtools.model import Entry, Function

from .errors import EXIT_BAD_INPUT, ErrorHandlingGroup
from .options import filter_options, format_option, input_argument, open_output, open_source, output_option
from .render import print_check, progress_records, render_summary

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=ErrorHandlingGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(version=__version__, message="%(prog)s %(version)s")
@click.option("--traceback", is_flag=True, help="Show the Python traceback of an error.")
@click.pass_context
def rdbtool(ctx: click.Context, traceback: bool) -> None:
    """Inspect, dump and check Redis and Valkey RDB snapshot files.

    FILE may be "-" for standard input; gzip and lz4 compressed files are
    read transparently.  Exit status: 0 success, 1 bad input (message on
    stderr), 2 usage error.
    """
    ctx.obj = {"traceback": traceback}


def _selected(rdb, key_filter: KeyFilter, with_functions: bool) -> Iterator:
    records = progress_records(rdb, rdb.iter_records())
    for rec in records:
        if isinstance(rec, Entry):
            if key_filter.matches(rec):
                yield rec
        elif with_functions and isinstance(rec, Function):
            yield rec


def _entries(records: Iterable) -> Iterator[Entry]:
    return (r for r in records if isinstance(r, Entry))


@rdbtool.command()
@input_argument
@format_option(["jsonl", "json", "text", "resp"], "jsonl")
@output_option
@filter_options
def dump(file: str, fmt: str, output: str, key_filter: KeyFilter) -> None:
    """Write the keys of FILE as JSON Lines, a JSON array, text or Redis commands.

    jsonl/json follow docs/dump-format.md (lossless; binary-safe through
    {"b64": ...}); text is one human-readable line per key; resp is the
    commands that rebuild the keys, in AOF rewrite style (pipe it into
    redis-cli --pipe).  Functions are included in resp output when no
    filter is given.

    \b
    Example:
        rdbtool dump dump.rdb --key 'user:*' --type hash
        rdbtool dump dump.rdb -f resp | redis-cli --pipe
        gunzip -c backup.rdb.gz | rdbtool dump - -f json -o keys.json
    """
    with open_rdb(open_source(file), values="full") as rdb, open_output(output) as out:
        records = _selected(rdb, key_filter, with_functions=fmt == "resp" and key_filter.is_empty)
        if fmt == "resp":
            write_resp(records, out, rdb_version=rdb.version)
        else:
            writer = {"jsonl": write_jsonl, "json": write_json, "text": write_text}[fmt]
            writer(_entries(records), out)


@rdbtool.command()
@input_argument
@format_option(["table", "json"], "table")
def info(file: str, fmt: str) -> None:
    """Summarise FILE: format version, AUX fields, keys and TTLs per database,
    types, on-disk encodings, functions, modules and checksum status.

    Values are not decoded, so this costs about one read of the file.

    \b
    Example:
        rdbtool info dump.rdb
        rdbtool info dump.rdb -f json | jq .keys
    """
    with open_rdb(open_source(file), values="sizes") as rdb:
        summary = summarize(rdb, progress_records(rdb, rdb.iter_records()))
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        render_summary(summary, name="" if file == "-" else file)


@rdbtool.command()
@input_argument
@format_option(["text", "json"], "text")
def check(file: str, fmt: str) -> None:
    """Decode every record and value of FILE and verify its CRC64 checksum.

    Exits 0 when the file is sound and 1 when it is damaged; the message
    names the byte offset of the damage.  A checksum stored as 0
    (rdbchecksum no) is reported as "disabled", not as damage.

    \b
    Example:
        rdbtool check dump.rdb
        rdbtool check dump.rdb -f json
    """
    result = {"file": file, "ok": True, "magic": None, "version": None, "keys": 0,
              "checksum": None, "error": None, "offset": None}  # fmt: skip
    try:
        with open_rdb(open_source(file), values="full") as rdb:
            result.update(magic=rdb.magic, version=rdb.version)
            for rec in progress_records(rdb, rdb.iter_records()):
                result["keys"] += isinstance(rec, Entry)
            result["checksum"] = rdb.checksum
    except FormatError as e:
        result.update(ok=False, error=str(e), offset=e.offset)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        print_check(result)
    if not result["ok"]:
        raise SystemExit(EXIT_BAD_INPUT)


def main() -> None:
    """Entry point of the ``rdbtool`` script."""
    rdbtool(prog_name="rdbtool")


if __name__ == "__main__":  # pragma: no cover
    main()
