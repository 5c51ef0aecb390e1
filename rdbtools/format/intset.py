"""Intset grammar: encoding width, length, sorted little-endian integers.

Mirrors src/intset.h / intset.c (Redis 7.4), intsetValidateIntegrity in its non-deep form:
width in {2, 4, 8}, blob size == 8 + length * width, length > 0.  Sortedness and uniqueness are
only checked by Redis in deep-sanitize mode (see :func:`intset_is_canonical`).  RDB type 11.

Parsed form: ``Container(encoding=2, length=2, contents=[1, 2])``.
"""

from __future__ import annotations

from construct import (
    Array,
    Check,
    Container,
    Error,
    Int16sl,
    Int32sl,
    Int32ul,
    Int64sl,
    ListContainer,
    Rebuild,
    Struct,
    Switch,
    Terminated,
    ValidationError,
    len_,
    this,
)

__all__ = ["Intset", "intset_container", "build_intset", "intset_is_canonical"]

INTSET_ENC_INT16, INTSET_ENC_INT32, INTSET_ENC_INT64 = 2, 4, 8

Intset = Struct(
    "encoding" / Int32ul,  # bytes per member
    "length" / Rebuild(Int32ul, len_(this.contents)),
    Check(this.length > 0),  # empty intsets are invalid
    "contents" / Switch(
        this.encoding,
        {
            INTSET_ENC_INT16: Array(this.length, Int16sl),
            INTSET_ENC_INT32: Array(this.length, Int32sl),
            INTSET_ENC_INT64: Array(this.length, Int64sl),
        },
        default=Error,
    ),
    Terminated,
)


def intset_container(members) -> Container:
    """The parsed form of the intset Redis would write: sorted, unique, smallest width."""
    values = sorted(set(members))
    if not values:
        raise ValidationError("an intset cannot be empty")
    lo, hi = values[0], values[-1]
    if -(2**15) <= lo and hi < 2**15:
        width = INTSET_ENC_INT16
    elif -(2**31) <= lo and hi < 2**31:
        width = INTSET_ENC_INT32
    else:
        width = INTSET_ENC_INT64
    return Container(encoding=width, length=len(values), contents=ListContainer(values))


def build_intset(members) -> bytes:
    """Intset bytes for ``members`` via the grammar.

    Example::

        >>> build_intset([2, 1]).hex()
        '020000000200000001000200'
    """
    return Intset.build(intset_container(members))


def intset_is_canonical(parsed) -> bool:
    """Deep check (sanitize-dump-payload yes): strictly ascending members."""
    c = parsed.contents
    return all(a < b for a, b in zip(c, c[1:]))
