"""Module type ids, the opcode-typed module value framing (RDB type 7, MODULE_AUX) and module
key metadata (opcode 243 KEY_META, Redis 8.6).

Mirrors moduleTypeEncodeId/moduleTypeNameByID in src/module.c and rdbLoadCheckModuleValue /
the RDB_MODULE_OPCODE_* framing in src/rdb.c (Redis 4.0 GA .. 7.4), and keyMetaClassEncode /
keyMetaClassDecode / rdbLoadKeyMetadata in src/keymeta.c (8.6.2, 8.10.2).  The payload stays
raw: every module value of type 7, and every key-metadata value, can be walked (and skipped)
without the module because each datum carries its opcode.

A module type id is 64 bits: nine 6-bit characters of the type name (alphabet ``A-Z a-z 0-9 -
_``), first character in the highest bits, then a 10-bit encoding version.  A key-metadata class
spec is 32 bits: four 6-bit characters (alphabet ``A-Z a-z 0-9 _ -``: the last two swapped
against module names), a 5-bit version and 3 flag bits.
"""

from __future__ import annotations

from construct import (
    Adapter,
    Const,
    Container,
    Error,
    Int32ul,
    Pass,
    PrefixedArray,
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
from .primitives import RdbDoubleBinary, RdbFloatBinary, RdbLength, RdbLengthIn, RdbString

__all__ = [
    "MODULE_ID_ALPHABET",
    "encode_module_id",
    "decode_module_id",
    "ModuleOpcodeItem",
    "ModuleOpcodes",
    "ModuleValue",
    "ModuleAux",
    "KEY_META_ALPHABET",
    "KEY_META_MAX_NUM_CLASSES",
    "encode_key_meta_class",
    "decode_key_meta_class",
    "KeyMetaClassSpec",
    "KeyMetaClass",
    "KeyMeta",
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


# --- Key metadata (opcode 243, Redis 8.6 / RDB 13) ------------------------------------------

# keymeta.c keyMetaCharSet: "_" is 62 and "-" is 63, the other way round from module type names
KEY_META_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_KEY_META_INDEX = {c: i for i, c in enumerate(KEY_META_ALPHABET)}
KEY_META_NAME_LEN = 4
KEY_META_VER_BITS = 5
KEY_META_FLAGS_BITS = 3
# keymeta.h KEY_META_MAX_NUM_MODULES: metadata ids 1..7 are for modules (0 is the key's expire)
KEY_META_MAX_NUM_CLASSES = 7


def encode_key_meta_class(name: str, version: int, flags: int) -> int:
    """keyMetaClassEncode's 32-bit class spec: 4 name characters, 5-bit version, 3 flag bits.

    Example::

        >>> hex(encode_key_meta_class("KMT1", 1, 1))  # flag bit 0 = ALLOW_IGNORE
        '0x28c4f509'
    """
    if len(name) != KEY_META_NAME_LEN:
        raise ValidationError(f"key metadata class name {name!r} must have exactly 4 characters")
    if not 0 <= version < 1 << KEY_META_VER_BITS:
        raise ValidationError(f"key metadata class version {version} does not fit 5 bits")
    if not 0 <= flags < 1 << KEY_META_FLAGS_BITS:
        raise ValidationError(f"key metadata class flags {flags} do not fit 3 bits")
    value = 0
    for c in name:
        try:
            value = (value << 6) | _KEY_META_INDEX[c]
        except KeyError:
            raise ValidationError(
                f"character {c!r} is not allowed in a key metadata class name") from None
    return (((value << KEY_META_VER_BITS) | version) << KEY_META_FLAGS_BITS) | flags


def decode_key_meta_class(spec: int) -> tuple[str, int, int]:
    """(name, version, flags) of a class spec (keyMetaClassDecode: every 32-bit value is valid)."""
    flags = spec & ((1 << KEY_META_FLAGS_BITS) - 1)
    version = (spec >> KEY_META_FLAGS_BITS) & ((1 << KEY_META_VER_BITS) - 1)
    bits = spec >> (KEY_META_FLAGS_BITS + KEY_META_VER_BITS)
    name = "".join(KEY_META_ALPHABET[(bits >> (6 * (3 - i))) & 63] for i in range(4))
    return name, version, flags


class _KeyMetaClassSpecAdapter(Adapter):
    def _decode(self, obj, context, path):
        name, version, flags = decode_key_meta_class(obj)
        return Container(class_name=name, version=version, flags=flags)

    def _encode(self, obj, context, path):
        return encode_key_meta_class(obj.class_name, obj.version, obj.flags)


# The class spec is a u32 written raw with rdbWriteRaw (little-endian on every real host).
KeyMetaClassSpec = _KeyMetaClassSpecAdapter(Int32ul)

# One class: its spec, then what the class's rdb_save callback wrote as module-typed data, and
# the EOF opcode (rdbSaveKeyMetadata; skipped by rdbLoadSkipMetaIfAllowed without the module).
KeyMetaClass = Struct(
    "class_spec" / KeyMetaClassSpec,
    "items" / ModuleOpcodes,
)

# Opcode 243 body, between the key's EXPIRETIME_MS/IDLE/FREQ and its type byte (in a file and at
# the start of a DUMP payload).  More than 7 classes is the load error "Too many metadata
# classes"; 0 loads (nothing is read) although no writer emits it: the opcode is left out then.
KeyMeta = PrefixedArray(
    RdbLengthIn(0, KEY_META_MAX_NUM_CLASSES, "key metadata class count"), KeyMetaClass)
