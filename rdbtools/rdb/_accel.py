"""Which implementation of the hot read and write paths is used, decided once at import
(msgpack's pattern).

The compiled module :mod:`rdbtools.rdb._speedups` (C sources in ``rdbtools/rdb/csrc/``) holds
twins of pure-Python functions, which it replaces here: the blob walkers of
:mod:`rdbtools.rdb.blobs`, LZF (:mod:`rdbtools.format.lzf`), RDB string and RESP framing
(:func:`rdbtools.format.primitives.encode_rdb_string`, :func:`rdbtools.format.resp.encode_resp`)
and the writer's blob encoders (:mod:`rdbtools.rdb.encoders`).  Each name below is the compiled
function when the module is built, else its pure twin: same results, same errors.

It also holds batch accelerations that have no single pure twin, and which are None on the pure
path (their callers then run their own Python loop): ``read_records`` (key records of the
reader's loop, :mod:`rdbtools.rdb.reader`), ``json_entry`` and ``resp_entry`` (one key rendered as
JSON, :func:`rdbtools.output.dump.dumps_entry`, or as RESP commands,
:func:`rdbtools.output.commands.entry_resp`) and ``parse_commands`` (a batch of AOF commands,
:func:`rdbtools.format.resp.parse_commands`).

The compiled module is skipped when ``RDBTOOLS_PUREPYTHON`` is set to anything but
``""``/``"0"`` (:data:`PURE_REQUESTED`, which the memory estimator's own extension obeys too), or
when it was not built (no compiler at install time).
"""

from __future__ import annotations

import os

from ..format.lzf import lzf_compress, lzf_decompress
from ..format.primitives import encode_rdb_string
from ..format.resp import encode_resp
from .blobs import decode_intset, decode_listpack, decode_ziplist, decode_zipmap
from .encoders import compact, encode_intset, encode_listpack, encode_ziplist, stream_nodes

PURE_REQUESTED = os.environ.get("RDBTOOLS_PUREPYTHON", "") not in ("", "0")
read_records = None
resp_entry = None
json_entry = None
parse_commands = None
speedups = None

if not PURE_REQUESTED:
    try:
        from . import _speedups as speedups  # type: ignore[no-redef]
    except ImportError:
        speedups = None
    if speedups is not None:
        decode_intset = speedups.decode_intset  # noqa: F811
        decode_listpack = speedups.decode_listpack  # noqa: F811
        decode_ziplist = speedups.decode_ziplist  # noqa: F811
        decode_zipmap = speedups.decode_zipmap  # noqa: F811
        lzf_decompress = speedups.lzf_decompress  # noqa: F811
        lzf_compress = speedups.lzf_compress  # noqa: F811
        encode_rdb_string = speedups.encode_rdb_string  # noqa: F811
        encode_resp = speedups.encode_resp  # noqa: F811
        encode_listpack = speedups.encode_listpack  # noqa: F811
        encode_ziplist = speedups.encode_ziplist  # noqa: F811
        encode_intset = speedups.encode_intset  # noqa: F811
        compact = speedups.compact  # noqa: F811
        stream_nodes = speedups.stream_nodes  # noqa: F811
        read_records = speedups.read_records
        resp_entry = speedups.resp_entry
        json_entry = speedups.json_entry
        parse_commands = speedups.parse_commands

ACCELERATED = speedups is not None

__all__ = ["ACCELERATED", "PURE_REQUESTED", "decode_intset", "decode_listpack", "decode_ziplist",
           "decode_zipmap", "lzf_decompress", "lzf_compress", "encode_rdb_string", "encode_resp",
           "encode_listpack", "encode_ziplist", "encode_intset", "compact", "stream_nodes",
           "read_records", "resp_entry", "json_entry", "parse_commands"]
