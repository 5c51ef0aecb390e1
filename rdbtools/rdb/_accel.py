"""Which implementation of the hot read and write paths is used, decided once at import
(msgpack's pattern).

The compiled module :mod:`rdbtools.rdb._speedups` (``rdbtools/rdb/_speedups.c``) replaces the blob walkers
of :mod:`rdbtools.rdb.blobs`, :func:`rdbtools.format.lzf.lzf_decompress`, the key-record part of the
reader's loop, and on the write side :func:`rdbtools.format.lzf.lzf_compress`,
:func:`rdbtools.format.primitives.encode_rdb_string` and the writer's blob encoders.  It is skipped when ``RDBTOOLS_PUREPYTHON`` is set to anything but ``""``/``"0"``,
or when it was not built (no compiler at install time); the pure-Python code is then used, with
the same results and the same errors.  ``read_records``, ``resp_entry`` (the RESP rendering
of one key), ``encode_resp`` (see :mod:`rdbtools.output.commands`) and ``json_entry`` (the JSON rendering
of one key, see :func:`rdbtools.output.dump.dumps_entry`) and ``parse_commands`` (a batch of AOF
commands, see :func:`rdbtools.format.resp.parse_commands`) are None on the pure path, and so are
``encode_listpack``, ``encode_ziplist``, ``encode_intset``, ``compact`` and ``stream_nodes``
(:mod:`rdbtools.rdb.writer`, which imports this module, holds their pure versions).
"""

from __future__ import annotations

import os

from .blobs import decode_intset, decode_listpack, decode_ziplist, decode_zipmap
from ..format.primitives import encode_rdb_string
from ..format.lzf import lzf_compress, lzf_decompress

PURE_REQUESTED = os.environ.get("RDBTOOLS_PUREPYTHON", "") not in ("", "0")
read_records = None
resp_entry = None
encode_resp = None
json_entry = None
parse_commands = None
encode_listpack = None
encode_ziplist = None
encode_intset = None
compact = None
stream_nodes = None
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
        read_records = speedups.read_records
        resp_entry = speedups.resp_entry
        encode_resp = speedups.encode_resp
        json_entry = speedups.json_entry
        parse_commands = speedups.parse_commands
        lzf_compress = speedups.lzf_compress  # noqa: F811
        encode_rdb_string = speedups.encode_rdb_string  # noqa: F811
        encode_listpack = speedups.encode_listpack
        encode_ziplist = speedups.encode_ziplist
        encode_intset = speedups.encode_intset
        compact = speedups.compact
        stream_nodes = speedups.stream_nodes

ACCELERATED = speedups is not None


def compiled_estimator():
    """The compiled memory estimator and row renderer (:mod:`rdbtools.analysis._estimate`,
    ``rdbtools/analysis/_estimate.c``), or None on the pure path.  Imported on first use: it
    needs :mod:`rdbtools.analysis.memory`, which imports this module."""
    if PURE_REQUESTED:
        return None
    try:
        from ..analysis import _estimate
    except ImportError:
        return None
    return _estimate


__all__ = ["ACCELERATED", "PURE_REQUESTED", "compiled_estimator", "decode_intset", "decode_listpack",
           "decode_ziplist", "decode_zipmap", "lzf_decompress", "read_records", "resp_entry", "encode_resp",
           "json_entry", "parse_commands", "lzf_compress", "encode_rdb_string", "encode_listpack",
           "encode_ziplist", "encode_intset", "compact", "stream_nodes"]
