"""Grammar of the sparse array value (RDB type 28 ARRAY, Redis 8.8 / RDB 14).

Mirrors rdbSaveObject -> rdbSaveArraySlice -> rdbSaveArrayElement and the RDB_TYPE_ARRAY branch
of rdbLoadObject in src/rdb.c (8.10.2; FORMATS-RDB13-15.md §5)::

    len count                  non-empty elements; 0 is the load error "Empty array"
    len has_insert_idx         0 or 1
    [len insert_idx]           only when 1: the index of the last ARINSERT/ARRING insert
    count x (len index, len tag, value)     in ascending index order

The tag is the element's in-memory tagged-pointer kind (t_array.c arEncode), and picks how the
value is stored: 0 SDS = RDB string, 1 INT = 8-byte int64 LE, 2 FLOAT = 8-byte double LE,
3 SMALLSTR = RDB string of at most 7 bytes.  Slice size and layout are not stored.
"""

from __future__ import annotations

from construct import (
    Adapter,
    Array,
    If,
    Int64sl,
    Rebuild,
    Struct,
    Switch,
    ValidationError,
    len_,
    this,
)

from .constants import ARRAY_TAG_FLOAT, ARRAY_TAG_INT, ARRAY_TAG_SDS, ARRAY_TAG_SMALLSTR
from .primitives import RdbDoubleBinary, RdbLength, RdbLengthIn

__all__ = ["ARRAY_SMALLSTR_MAXLEN", "array_grammar"]

# sparsearray.h AR_SMALLSTR_MAXLEN on 64-bit builds (a 3-byte limit on 32-bit ones is never
# written to a file: rdbSaveArrayElement stores what is in memory, tag and all)
ARRAY_SMALLSTR_MAXLEN = 7
# the loader rejects UINT64_MAX as an index (and an encoded length: RdbLength does too)
_ARRAY_INDEX_MAX = 2**64 - 2


class _SmallString(Adapter):
    """A SMALLSTR element: the loader rejects more than 7 bytes ("Invalid small string length")."""

    def _check(self, obj, path):
        if len(obj) > ARRAY_SMALLSTR_MAXLEN:
            raise ValidationError(
                f"array small string of {len(obj)} bytes (at most {ARRAY_SMALLSTR_MAXLEN})",
                path=path)
        return obj

    def _decode(self, obj, context, path):
        return self._check(obj, path)

    def _encode(self, obj, context, path):
        return self._check(obj, path)


def array_grammar(string):
    """Grammar of a type 28 value whose strings are ``string`` (RdbString or its no-LZF twin).

    Parses to ``Container(count, has_insert_idx, insert_idx, elements=[Container(index, tag,
    value)])``; ``insert_idx`` is ``None`` when ``has_insert_idx`` is 0, ``value`` is ``bytes``
    (tags 0 and 3), ``int`` (1) or ``float`` (2).  ``count`` is rebuilt from the elements.
    """
    element = Struct(
        "index" / RdbLengthIn(0, _ARRAY_INDEX_MAX, "array index"),
        "tag" / RdbLengthIn(ARRAY_TAG_SDS, ARRAY_TAG_SMALLSTR, "array element tag"),
        "value" / Switch(this.tag, {
            ARRAY_TAG_SDS: string,
            ARRAY_TAG_INT: Int64sl,  # rdbSaveSignedInteger
            ARRAY_TAG_FLOAT: RdbDoubleBinary,  # rdbSaveBinaryDoubleValue
            ARRAY_TAG_SMALLSTR: _SmallString(string),
        }),
    )
    return Struct(
        "count" / Rebuild(RdbLengthIn(1, None, "array element count"), len_(this.elements)),
        "has_insert_idx" / RdbLengthIn(0, 1, "array insert_idx flag"),
        "insert_idx" / If(this.has_insert_idx == 1, RdbLength),
        "elements" / Array(this.count, element),
    )
