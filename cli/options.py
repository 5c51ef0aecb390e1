"""Options shared by the commands (stacked decorators, as sqlite-utils' ``output_options``) and
the input/output plumbing behind them."""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterable, Iterator

import click

from rdbtools.rdb.filters import KeyFilter
from rdbtools.model import VALUE_TYPES
from rdbtools.files import atomic_output, input_locations


def input_argument(fn: Callable) -> Callable:
    """``FILE``: an RDB file, ``-`` for standard input (gzip / lz4 compressed input is detected)."""
    return click.argument(
        "file", type=click.Path(exists=True, dir_okay=False, allow_dash=True), metavar="FILE"
    )(fn)


def format_option(choices: list[str], default: str) -> Callable:
    return click.option(
        "-f", "--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
        help="Output format.",
    )  # fmt: skip


def output_option(fn: Callable) -> Callable:
    return click.option(
        "-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
        help="Write to this file (atomically: a temporary file renamed into place) instead of stdout.",
    )(fn)  # fmt: skip


def _regexes(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    import re

    for v in values:
        try:
            re.compile(v.encode("utf-8", "surrogateescape"))
        except re.error as e:
            raise click.BadParameter(f"{v!r}: {e}") from None
    return values


def filter_options(fn: Callable) -> Callable:
    """Adds the key filters and hands the command one ``key_filter`` (a :class:`KeyFilter`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, db: tuple[int, ...], key: tuple[str, ...], key_regex: tuple[str, ...],
                not_key_regex: tuple[str, ...], type_: tuple[str, ...], expiring: bool | None,
                **kwargs: Any) -> Any:  # fmt: skip
        key_filter = KeyFilter(
            dbs=frozenset(db) if db else None,
            key_globs=tuple(key),
            key_regexes=tuple(key_regex),
            not_key_regexes=tuple(not_key_regex),
            types=frozenset(type_) if type_ else None,
            expiring=expiring,
        )
        return fn(*args, key_filter=key_filter, **kwargs)

    options = [
        click.option("--db", type=click.IntRange(min=0), multiple=True, metavar="N",
                     help="Only keys of database N (repeatable)."),
        click.option("--key", multiple=True, metavar="GLOB",
                     help="Only keys matching this Redis glob (* ? [a-z] [^x] \\x; repeatable: any may match)."),
        click.option("--key-regex", multiple=True, metavar="RE", callback=_regexes,
                     help="Only keys where this Python regex (over bytes) matches anywhere (repeatable: all must match)."),
        click.option("--not-key-regex", multiple=True, metavar="RE", callback=_regexes,
                     help="Drop keys where this regex matches anywhere (repeatable)."),
        click.option("--type", "type_", type=click.Choice(VALUE_TYPES), multiple=True,
                     help="Only keys of this type (repeatable)."),
        click.option("--expiring/--persistent", default=None,
                     help="Only keys with a TTL / only keys without one."),
    ]  # fmt: skip
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


# -- writing for a target (convert, dump -f restore, split, merge) ------------------------------

def _target_check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from rdbtools.rdb.targets import get_target

    if value is not None:
        try:
            get_target(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
    return value


def target_option(default_text: str) -> Callable:
    """``-t/--target``: the server written for (``default_text`` says what happens without it)."""
    return click.option(
        "-t", "--target", default=None, metavar="TARGET", callback=_target_check,
        help="Server to write for: redis-6.2, redis-7.0, redis-7.2, redis-7.4, redis-8.2, "
             f"valkey-8.1, valkey-9.1, or rdb-9 ... rdb-12, rdb-80 (default: {default_text}).",
    )  # fmt: skip


def _thresholds(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    from rdbtools.rdb.targets import Thresholds

    out = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep:
            raise click.BadParameter(f"{v!r}: expected NAME=VALUE")
        out[name] = value
    try:
        Thresholds().with_config(out)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return out


def write_options(fn: Callable) -> Callable:
    """The writer's options: ``--config``, ``--strict``, ``--unwritable``, ``--module``,
    ``--reencode`` (keyword arguments ``config``, ``strict``, ``unwritable``, ``modules``,
    ``reencode``)."""
    options = [
        click.option("--config", "config", multiple=True, metavar="NAME=VALUE", callback=_thresholds,
                     help="Encoding threshold of the target, e.g. hash-max-listpack-entries=1024 "
                          "(repeatable; turns the raw copy off)."),
        click.option("--strict", is_flag=True, help="Fail on any loss instead of reporting it."),
        click.option("--unwritable", type=click.Choice(["drop", "fail"]), default="drop", show_default=True,
                     help="Keys and records the target cannot hold at all (module values, functions "
                          "before 7.0): leave them out, or fail."),
        click.option("--module", "modules", multiple=True, metavar="NAME",
                     help="A module type the target has loaded (repeatable, e.g. ReJSON-RL); module "
                          "values of other modules are unwritable.  Default: every module is kept."),
        click.option("--reencode", is_flag=True,
                     help="Decode and re-encode every value (no byte-for-byte copies)."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def open_source(path: str) -> Any:
    """What :func:`rdbtools.open_rdb` should read: the path, or the binary stdin for ``-``."""
    if path == "-":
        return click.get_binary_stream("stdin")
    return path


@contextmanager
def open_output(path: str, *, inputs: Iterable[str] = ()) -> Iterator[IO[bytes]]:
    """A binary file to write the result to.  ``-`` is stdout.  A file is written atomically
    (:func:`rdbtools.files.atomic_output`): replaced only when the block ends without error,
    and never one of ``inputs`` (the command's input files) or a file inside an input AOF
    directory."""
    if path == "-":
        out = click.get_binary_stream("stdout")
        yield out
        out.flush()
        return
    with atomic_output(path, inputs=[p for i in inputs for p in input_locations(i)]) as f:
        yield f
