"""Module type ids and the opcode-typed module value framing (RDB type 7, MODULE_AUX).

Mirrors moduleTypeEncodeId/moduleTypeNameByID in src/module.c and rdbLoadCheckModuleValue /
the RDB_MODULE_OPCODE_* framing in src/rdb.c (Redis 4.0 GA .. 7.4).  The payload stays raw:
every module value of type 7 can be walked (and skipped) without the module because each datum
carries its opcode.

A module type id is 64 bits: nine 6-bit characters of the type name (alphabet ``A-Z a-z 0-9 -
_``), first character in the highest bits, then a 10-bit encoding version.
"""

from __future__ import annotations

from construct import (
    Const,
    Error,
    Pass,
    RepeatUntil,
    Struct,
    Switch,
    ValidationError,
    obj_,
    this,
)

from .constants import (
    RDB_MODULE_OPCODE_DOUBLE,
    RDB_MODULE_OPCODE_EOF,
    RDB_MODULE_OPCODE_FLOAT,
    RDB_MODULE_OPCODE_SINT,
    RDB_MODULE_OPCODE_STRING,
    RDB_MODULE_OPCODE_UINT,
)
from .primitives import RdbDoubleBinary, RdbFloatBinary, RdbLength, RdbString

__all__ = [
    "MODULE_ID_ALPHABET",
    "encode_module_id",
    "decode_module_id",
    "ModuleOpcodeItem",
    "ModuleOpcodes",
    "ModuleValue",
    "ModuleAux",
]

MODULE_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CHAR_INDEX = {c: i for i, c in enumerate(MODULE_ID_ALPHABET)}
MODULE_NAME_LEN = 9
MODULE_ENCVER_BITS = 10


def encode_module_id(name: str, encver: int) -> int:
    """moduleTypeEncodeId: the 64-bit type id of a 9-character name and a 10-bit encver.

    Example::

        >>> hex(encode_module_id("ReJSON-RL", 3))
        '0x45e25238df912c03'
    """
    if len(name) != MODULE_NAME_LEN:
        raise ValidationError(f"module type name {name!r} must have exactly 9 characters")
    if not 0 <= encver < 1 << MODULE_ENCVER_BITS:
        raise ValidationError(f"module encver {encver} does not fit 10 bits")
    value = 0
    for c in name:
        try:
            value = (value << 6) | _CHAR_INDEX[c]
        except KeyError:
            raise ValidationError(f"character {c!r} is not allowed in a module type name") from None
    return (value << MODULE_ENCVER_BITS) | encver


def decode_module_id(module_id: int) -> tuple[str, int]:
    """(name, encver) of a module type id (moduleTypeNameByID)."""
    if not 0 <= module_id < 1 << 64:
        raise ValidationError(f"module id {module_id} does not fit 64 bits")
    encver = module_id & ((1 << MODULE_ENCVER_BITS) - 1)
    bits = module_id >> MODULE_ENCVER_BITS
    name = "".join(MODULE_ID_ALPHABET[(bits >> (6 * (8 - i))) & 63] for i in range(9))
    return name, encver


# One typed datum: len(opcode) then the operand.  SINT is accepted on load but the module API
# never emits it (RM_SaveSigned writes UINT with the two's-complement bits).
ModuleOpcodeItem = Struct(
    "opcode" / RdbLength,
    "value" / Switch(
        this.opcode,
        {
            RDB_MODULE_OPCODE_EOF: Pass,
            RDB_MODULE_OPCODE_SINT: RdbLength,
            RDB_MODULE_OPCODE_UINT: RdbLength,
            RDB_MODULE_OPCODE_FLOAT: RdbFloatBinary,
            RDB_MODULE_OPCODE_DOUBLE: RdbDoubleBinary,
            RDB_MODULE_OPCODE_STRING: RdbString,
        },
        default=Error,
    ),
)

# Items up to and including the EOF opcode (0).
ModuleOpcodes = RepeatUntil(obj_.opcode == RDB_MODULE_OPCODE_EOF, ModuleOpcodeItem)

# RDB type 7 (MODULE_2) value.
ModuleValue = Struct(
    "module_id" / RdbLength,
    "items" / ModuleOpcodes,
)

# MODULE_AUX (0xF7, Redis 5.0) record body: id, UINT opcode + when (1 before / 2 after the
# keyspace), then the typed data and EOF.
ModuleAux = Struct(
    "module_id" / RdbLength,
    "when_opcode" / Const(RDB_MODULE_OPCODE_UINT, RdbLength),
    "when" / RdbLength,
    "items" / ModuleOpcodes,
)
