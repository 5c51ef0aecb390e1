"""rdbtools: read, verify, analyse and convert Redis and Valkey persistence files.

Public API::

    from rdbtools import open_rdb, read_rdb
    with open_rdb("dump.rdb") as rdb:
        for entry in rdb.iter_entries():
            print(entry.db, entry.key, entry.type)
"""

from .errors import (ChecksumError, EncodeError, FormatError, RdbToolsError, TruncatedError,
                     UnknownOpcodeError, UnsupportedVersionError)
from .model import (Aux, Entry, Function, ModuleAux, ModuleValue, RawValue, ResizeDb, SelectDb,
                    SlotInfo, Stream, StreamConsumer, StreamEntry, StreamGroup, StreamPendingEntry)
from .rdb.reader import RdbReader, open_rdb, read_rdb
from .rdb.writer import RdbWriter, write_rdb
from .aof import open_aof, read_aof  # noqa: E402  (AOF readers and replay)
from . import _moved

_moved.install()  # rdbtools.writer, rdbtools.dump ...: the import paths of moved modules

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "open_rdb", "read_rdb", "RdbReader", "write_rdb", "RdbWriter", "open_aof", "read_aof",
    "Entry", "Aux", "SelectDb", "ResizeDb", "Function", "ModuleAux", "ModuleValue", "RawValue", "SlotInfo",
    "Stream", "StreamEntry", "StreamGroup", "StreamConsumer", "StreamPendingEntry",
    "RdbToolsError", "FormatError", "TruncatedError", "ChecksumError", "UnsupportedVersionError",
    "UnknownOpcodeError", "EncodeError",
]
