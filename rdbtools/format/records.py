"""Header and opcode record grammars of an RDB file.

Mirrors rdbSaveRio()/rdbLoadRioWithLoadingCtx() in src/rdb.c (Redis 7.4; opcodes 242/243:
8.6.2 and 8.10.2) and the Valkey 9.0 header rule (valkey rdb.h rdbUseValkeyMagic: ``VALKEY`` +
3 digits when the version is > 79).  Each record grammar is the *body* after the opcode byte;
the reader's opcode loop dispatches on the byte (:func:`opcode_records`).
:func:`rdb_file_grammar` strings everything together for small files and tests only.

Opcode 243 is Redis's KEY_META (8.6) but Valkey's SLOT_IMPORT (8.1+, no grammar here): the
file's family decides, as it does for type codes 22-25.
"""

from __future__ import annotations

from functools import lru_cache

from construct import (
    Adapter,
    Byte,
    Bytes,
    Computed,
    GreedyBytes,
    Const,
    IfThenElse,
    Int64ul,
    Int8ub,
    RepeatUntil,
    Select,
    Struct,
    Switch,
    Terminated,
    ValidationError,
    obj_,
    this,
)

from . import constants as C
from .hash_template import HashTemplateRecord
from .module import KeyMeta, ModuleAux
from .primitives import (
    RdbLength,
    RdbMillisecondTime,
    RdbSecondTime,
    RdbString,
    RdbStringNoCompress,
)
from .values import _is_valkey, value_switch

__all__ = [
    "RdbHeader",
    "AuxRecord",
    "SelectDbRecord",
    "ResizeDbRecord",
    "ExpireTimeRecord",
    "ExpireTimeMsRecord",
    "IdleRecord",
    "FreqRecord",
    "ModuleAuxRecord",
    "Function2Record",
    "SlotInfoRecord",
    "HashTemplateRecord",
    "KeyMetaRecord",
    "OPCODE_RECORDS",
    "REDIS_OPCODE_RECORDS",
    "opcode_records",
    "eof_record",
    "rdb_file_grammar",
]

REDIS_MAGIC = b"REDIS"
VALKEY_MAGIC = b"VALKEY"


class _AsciiDecimal(Adapter):
    """A zero-padded ASCII decimal of fixed width (``"%04d"``)."""

    def __init__(self, width: int):
        super().__init__(Bytes(width))
        self.width = width

    def _decode(self, obj, context, path):
        if not obj.isdigit():
            raise ValidationError(f"RDB version {obj!r} is not decimal", path=path)
        return int(obj)

    def _encode(self, obj, context, path):
        text = b"%0*d" % (self.width, obj)
        if len(text) != self.width:
            raise ValidationError(f"RDB version {obj} does not fit {self.width} digits", path=path)
        return text


# "REDIS%04d" (9 bytes) or, Valkey 9.0+ with version > 79, "VALKEY%03d" (still 9 bytes)
RdbHeader = Struct(
    "magic" / Select(Const(REDIS_MAGIC), Const(VALKEY_MAGIC)),
    "version" / IfThenElse(this.magic == REDIS_MAGIC, _AsciiDecimal(4), _AsciiDecimal(3)),
)

# 0xFA (Redis 3.2): two strings; numeric values are often int-encoded ("redis-bits" = C0 40)
AuxRecord = Struct("key" / RdbString, "value" / RdbString)
# 0xFE
SelectDbRecord = Struct("dbid" / RdbLength)
# 0xFB (Redis 3.2): sizing hints only
ResizeDbRecord = Struct("db_size" / RdbLength, "expires_size" / RdbLength)
# 0xFD (Redis <= 2.4): signed seconds; the loader multiplies by 1000
ExpireTimeRecord = Struct("expire" / RdbSecondTime)
# 0xFC (Redis 2.6)
ExpireTimeMsRecord = Struct("expire_ms" / RdbMillisecondTime)
# 0xF8 (Redis 5.0): LRU idle seconds, length-encoded
IdleRecord = Struct("lru_idle" / RdbLength)
# 0xF9 (Redis 5.0): LFU counter, one byte
FreqRecord = Struct("lfu_freq" / Int8ub)
# 0xF7 (Redis 5.0)
ModuleAuxRecord = ModuleAux
# 0xF5 (Redis 7.0 GA): the library source ("#!lua name=mylib\n...")
Function2Record = Struct("library_code" / RdbString)
# 0xF4 (Redis 7.4, cluster mode)
SlotInfoRecord = Struct("slot_id" / RdbLength, "slot_size" / RdbLength,
                        "expires_slot_size" / RdbLength)

# 0xF2 (Redis 8.10): a hash template; see .hash_template (it fills the per-parse template table)
# 0xF3 (Redis 8.6): module key metadata.  Unlike EXPIRETIME_MS/IDLE/FREQ it is not a record of
# its own: the loader reads it in place of the type byte (rdbResolveKeyType) and then the
# key's real type byte, key and value, so nothing else may come between.
KeyMetaRecord = KeyMeta

# The opcodes of both families
OPCODE_RECORDS = {
    C.RDB_OPCODE_AUX: AuxRecord,
    C.RDB_OPCODE_SELECTDB: SelectDbRecord,
    C.RDB_OPCODE_RESIZEDB: ResizeDbRecord,
    C.RDB_OPCODE_EXPIRETIME: ExpireTimeRecord,
    C.RDB_OPCODE_EXPIRETIME_MS: ExpireTimeMsRecord,
    C.RDB_OPCODE_IDLE: IdleRecord,
    C.RDB_OPCODE_FREQ: FreqRecord,
    C.RDB_OPCODE_MODULE_AUX: ModuleAuxRecord,
    C.RDB_OPCODE_FUNCTION2: Function2Record,
    C.RDB_OPCODE_SLOT_INFO: SlotInfoRecord,
}
# and those of Redis files only
REDIS_OPCODE_RECORDS = {
    C.RDB_OPCODE_HASH_TEMPLATE: HashTemplateRecord,
    C.RDB_OPCODE_KEY_META: KeyMetaRecord,
}


def opcode_records(rdb_version: int = 12, valkey: bool = False) -> dict:
    """Opcode -> record body for a file of the family (``valkey``, or a version >= 80)."""
    if _is_valkey(rdb_version, valkey):
        return OPCODE_RECORDS
    return {**OPCODE_RECORDS, **REDIS_OPCODE_RECORDS}

_EofWithChecksum = Struct("checksum" / Int64ul)  # 0 = checksum disabled (rdbchecksum no)
_EofWithoutChecksum = Struct()


def eof_record(rdb_version: int):
    """Body after 0xFF: the CRC64 (LE) from RDB 5 on, nothing before."""
    return _EofWithChecksum if rdb_version >= 5 else _EofWithoutChecksum


@lru_cache(maxsize=None)
def rdb_file_grammar(rdb_version: int = 12, valkey: bool = False, *, compress: bool = True,
                     parse_blobs: bool = False, allow_trailing: bool = False):
    """A whole RDB file as one grammar: header, then records up to EOF (+ CRC), then nothing.

    For small files and tests: the reader walks records one at a time instead.  Key/value
    records are ``Container(opcode=<type>, body=Container(key_meta=None, rdb_type, key,
    value))``, or with key metadata ``Container(opcode=243, body=Container(key_meta=[...],
    rdb_type, key, value))``; the CRC is not checked.  Hash template records fill the parse's
    template table, which type 32 values read (see .hash_template).
    """
    records = dict(opcode_records(rdb_version, valkey))
    records[C.RDB_OPCODE_EOF] = eof_record(rdb_version)
    key_and_value = (
        "key" / (RdbString if compress else RdbStringNoCompress),
        "value" / value_switch(rdb_version, valkey, compress=compress, parse_blobs=parse_blobs),
    )
    key_value = Struct(
        "key_meta" / Computed(None),
        "rdb_type" / Computed(this._.opcode),  # value_switch keys on this
        *key_and_value,
    )
    if C.RDB_OPCODE_KEY_META in records:
        records[C.RDB_OPCODE_KEY_META] = Struct(
            "key_meta" / KeyMetaRecord,
            "rdb_type" / Byte,  # the value switch rejects anything but a value type
            *key_and_value,
        )
    record = Struct(
        "opcode" / Byte,
        "body" / Switch(this.opcode, records, default=key_value),
    )
    return Struct(
        "header" / RdbHeader,
        "records" / RepeatUntil(obj_.opcode == C.RDB_OPCODE_EOF, record),
        # bytes after EOF(+CRC) are a warning for the reader; here only with allow_trailing
        "trailing" / GreedyBytes if allow_trailing else Terminated,
    )
