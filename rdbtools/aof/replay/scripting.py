# rdbtools: aof/replay/scripting.py
"""Functions for the replay: FUNCTION LOAD (REPLACE), DELETE, FLUSH and RESTORE (with the
FUNCTION DUMP payload decoding it needs) on the engine's library table; the RDB preamble's
function records load the same way.  Scripts themselves never reach an AOF (since 7.0 their
effects do, inside MULTI/EXEC).

Mirrors functions.c.
"""

from __future__ import annotations

from .args import _CmdError


class ScriptingMixin:
    """The FUNCTION subcommands.  A mixin of :class:`~.engine.Replayer`; uses the engine's
    ``functions`` (the engine loads the RDB preamble's functions through
    :meth:`_function_load`)."""

    def _function_load(self, code: bytes, replace: bool) -> None:
        first = code.split(b"\n", 1)[0]
        name = None
        for word in first.split()[1:]:
            if word.startswith(b"name="):
                name = word[5:]
        if not first.startswith(b"#!") or name is None:
            raise _CmdError("library code has no '#!<engine> name=<library>' header")
        if name in self.functions and not replace:
            raise _CmdError(f"library {name!r} already exists")
        self.functions[name] = code

    def c_function__load(self, a):
        replace = len(a) > 3 and a[2].upper() == b"REPLACE"
        self._function_load(a[-1], replace)

    def c_function__delete(self, a):
        self.functions.pop(a[2], None)

    def c_function__flush(self, a):
        self.functions.clear()

    def c_function__restore(self, a):
        policy = a[3].upper() if len(a) > 3 else b"APPEND"
        codes = decode_function_payload(a[2])
        if policy == b"FLUSH":
            self.functions.clear()
        for code in codes:
            self._function_load(code, replace=policy == b"REPLACE")


def decode_function_payload(payload: bytes) -> list[bytes]:
    """The library codes of a FUNCTION DUMP payload (FUNCTION2 records + version + CRC64)."""
    from ...rdb.reader import open_rdb

    version = int.from_bytes(payload[-10:-8], "little")
    header = b"VALKEY%03d" % version if version >= 80 else b"REDIS%04d" % version
    with open_rdb(header + payload[:-10] + b"\xff" + bytes(8), verify_checksum=False) as rdb:
        list(rdb.iter_records())
        return [f.code for f in rdb.functions]
