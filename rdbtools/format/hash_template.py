"""Hash template grammars (Redis 8.10 / RDB 15): opcode 242 records and template hashes 29-32.

Mirrors rdbSaveHashTemplates / rdbLoadHashTemplate, rdbLoadTemplateFields, rdbLoadTmplLpBlob /
rdbCheckTmplLpCount and the RDB_TYPE_HASH_TMPL_* branches of rdbLoadObject in src/rdb.c (8.10.2;
FORMATS-RDB13-15.md §6).  A template is a sorted set of field names with an id; a template hash
stores only its values, in template order::

    242 record      len tid, len field_count (> 0), field_count x string      (RDB files)
    30 LP_REF       string: listpack [tid][v0]...[vN-1]                        (RDB files)
    32 ARRAY_REF    len tid, N x string                                        (RDB files)
    29 LP           fields, string: listpack [source tid][v0]...               (DUMP payloads)
    31 ARRAY        fields, N x string                                         (DUMP payloads)
    fields          len fields_fmt: 0 = string: listpack of the names,
                                    1 = len count (> 0), count x string

Field names must be strictly sorted the way sdscmplen sorts (shorter names first, then
memcmp), else the loader fails.

**The template table.**  N in a type 32 value (and the check of a type 30 listpack's length)
comes from an earlier 242 record, not from the value.  Construct has no way to reach a
previous record of a ``RepeatUntil``, so the table lives in the parse parameters:
``context._params["hash_templates"]``, a dict ``{tid: [field names]}``.  Each 242 record
grammar adds its template to it (a repeated tid is the load error "Duplicate hash template
ID"), both when parsing and when building, so a whole-file grammar finds its templates; to
parse or build a lone 30/32 value pass the table yourself:
``value_grammar(32, 15).parse(data, hash_templates={0: [b"age", b"name", b"email"]})``.
"""

from __future__ import annotations

import io

from construct import (
    Construct,
    ListContainer,
    PrefixedArray,
    SizeofError,
    Struct,
    Subconstruct,
    Switch,
    ValidationError,
    this,
)

from .constants import HASH_TMPL_FIELDS_LP, HASH_TMPL_FIELDS_RAW
from .listpack import Listpack, listpack_elements
from .primitives import Blob, RdbLength, RdbLengthIn, RdbString

__all__ = [
    "HASH_TEMPLATES",
    "HashTemplateRecord",
    "hash_tmpl_lp_ref_grammar",
    "hash_tmpl_array_ref_grammar",
    "hash_tmpl_lp_grammar",
    "hash_tmpl_array_grammar",
]

# the parse/build keyword (and _params key) of the per-parse template table
HASH_TEMPLATES = "hash_templates"


def _field_name(value) -> bytes:
    # a listpack stores an integer-looking name as an integer; the loader turns it back into
    # text (sdsfromlonglong)
    return b"%d" % value if isinstance(value, int) else value


def _check_fields(fields, path) -> None:
    """hashTemplateValidateFields: non-empty and strictly sorted by (length, bytes)."""
    if not fields:
        raise ValidationError("hash template with zero fields", path=path)
    for a, b in zip(fields, fields[1:]):
        if (len(a), a) >= (len(b), b):
            raise ValidationError(
                f"hash template fields not strictly sorted: {a!r} before {b!r}", path=path)


class _FieldNames(Subconstruct):
    """Field names from ``subcon`` (a list of strings, or a listpack with ``listpack=True``),
    checked as the loader checks them; parses to what ``subcon`` parses to."""

    def __init__(self, subcon, listpack: bool = False):
        super().__init__(subcon)
        self.listpack = listpack

    def _names(self, obj):
        return [_field_name(v) for v in listpack_elements(obj)] if self.listpack else list(obj)

    def _parse(self, stream, context, path):
        obj = self.subcon._parsereport(stream, context, path)
        _check_fields(self._names(obj), path)
        return obj

    def _build(self, obj, stream, context, path):
        _check_fields(self._names(obj), path)
        return self.subcon._build(obj, stream, context, path)


_FieldNamesListpack = _FieldNames(Listpack, listpack=True)


def _table(context) -> dict:
    params = context._params
    table = params.get(HASH_TEMPLATES)
    if table is None:
        table = params[HASH_TEMPLATES] = {}
    return table


def _template(context, tid: int, path) -> list:
    """The names of template ``tid`` (rdbGetHashTemplateById: "Invalid hash template ID")."""
    fields = _table(context).get(tid)
    if fields is None:
        raise ValidationError(f"hash template id {tid} has no opcode 242 record", path=path)
    return fields


def _referenced_fields(context, path) -> list:
    """The names of the template a type 32 value references by its ``tid`` field."""
    return _template(context, context.tid, path)


def _own_fields(context, path) -> list:
    """The names a 29/31 DUMP payload carries itself (rdbLoadTemplateFields)."""
    fields = context.fields
    if context.fields_fmt == HASH_TMPL_FIELDS_RAW:
        return list(fields)
    if isinstance(fields, (bytes, bytearray)):  # the listpack was not parsed (parse_blobs off)
        fields = _FieldNamesListpack._parsereport(io.BytesIO(fields), context, path)
    return [_field_name(v) for v in listpack_elements(fields)]


class _TemplateValues(Construct):
    """One ``string`` per field of the template that ``fields_of(context, path)`` names
    (rdbLoadSdsArray with the template's field count); a ``ListContainer`` of values."""

    def __init__(self, string, fields_of):
        super().__init__()
        self.string = string
        self.fields_of = fields_of

    def _parse(self, stream, context, path):
        n = len(self.fields_of(context, path))
        return ListContainer(self.string._parsereport(stream, context, f"{path} -> [{i}]")
                             for i in range(n))

    def _build(self, obj, stream, context, path):
        n = len(self.fields_of(context, path))
        if len(obj) != n:
            raise ValidationError(f"{len(obj)} values for a template of {n} fields", path=path)
        for i, value in enumerate(obj):
            self.string._build(value, stream, context, f"{path} -> [{i}]")
        return obj

    def _sizeof(self, context, path):
        raise SizeofError("template values are variable-sized", path=path)


class _TemplateListpack(Subconstruct):
    """A template-listpack (types 29/30): first entry the template id (an integer), then one
    value per template field (rdbLoadTmplLpBlob, rdbCheckTmplLpCount).  With ``ref`` (type 30)
    the id selects the template and must be >= 0; else (29) the names are the payload's own and
    the id is the source server's, replaced on load."""

    def __init__(self, ref: bool):
        super().__init__(Listpack)
        self.ref = ref

    def _check(self, obj, context, path):
        elements = listpack_elements(obj)
        if not elements:
            raise ValidationError("template-listpack is empty", path=path)
        tid = elements[0]
        if not isinstance(tid, int):
            raise ValidationError("template-listpack first entry is not an integer", path=path)
        if self.ref:
            if tid < 0:
                raise ValidationError(f"hash template id {tid} is negative", path=path)
            fields = _template(context, tid, path)
        else:
            fields = _own_fields(context, path)
        if len(elements) != len(fields) + 1:
            raise ValidationError(f"template-listpack entry count {len(elements)} does not "
                                  f"match {len(fields)} fields", path=path)

    def _parse(self, stream, context, path):
        obj = self.subcon._parsereport(stream, context, path)
        self._check(obj, context, path)
        return obj

    def _build(self, obj, stream, context, path):
        self._check(obj, context, path)
        return self.subcon._build(obj, stream, context, path)


class _RegisterTemplate(Subconstruct):
    """The 242 record body; adds ``{tid: fields}`` to the per-parse template table."""

    def _register(self, obj, context, path):
        table = _table(context)
        if obj.tid in table:
            raise ValidationError(f"duplicate hash template id {obj.tid}", path=path)
        table[obj.tid] = list(obj.fields)

    def _parse(self, stream, context, path):
        obj = self.subcon._parsereport(stream, context, path)
        self._register(obj, context, path)
        return obj

    def _build(self, obj, stream, context, path):
        built = self.subcon._build(obj, stream, context, path)
        self._register(obj, context, path)
        return built


def _field_names_raw(string):
    return _FieldNames(PrefixedArray(RdbLengthIn(1, None, "hash template field count"), string))


# Opcode 242 (Redis 8.10): one record per template in use, before the first SELECTDB.  The tid
# is the saving server's runtime id; loaders map it to their own registry.
HashTemplateRecord = _RegisterTemplate(Struct(
    "tid" / RdbLength,
    "fields" / _field_names_raw(RdbString),
))


def hash_tmpl_lp_ref_grammar(string, parse_blobs: bool):
    """Type 30 HASH_TMPL_LP_REF (RDB files only): the template-listpack as one string.

    Only with ``parse_blobs`` is the listpack read and checked against its template.
    """
    return Blob(_TemplateListpack(ref=True), string) if parse_blobs \
        else string


def hash_tmpl_array_ref_grammar(string):
    """Type 32 HASH_TMPL_ARRAY_REF (RDB files only): ``Container(tid, field_values)``."""
    return Struct("tid" / RdbLength,
                  "field_values" / _TemplateValues(string, _referenced_fields))


def _fields_section(string, parse_blobs: bool) -> list:
    names_lp = Blob(_FieldNamesListpack, string) if parse_blobs else string
    return [
        "fields_fmt" / RdbLengthIn(HASH_TMPL_FIELDS_LP, HASH_TMPL_FIELDS_RAW,
                                   "hash template fields format"),
        "fields" / Switch(this.fields_fmt, {HASH_TMPL_FIELDS_LP: names_lp,
                                            HASH_TMPL_FIELDS_RAW: _field_names_raw(string)}),
    ]


def hash_tmpl_lp_grammar(string, parse_blobs: bool):
    """Type 29 HASH_TMPL_LP (DUMP payloads): ``Container(fields_fmt, fields, field_values)``.

    ``fields`` is the names listpack (a string unless ``parse_blobs``) for format 0, the list
    of names for format 1; ``field_values`` the template-listpack (a string unless ``parse_blobs``).
    """
    values = Blob(_TemplateListpack(ref=False), string) if parse_blobs else string
    return Struct(*_fields_section(string, parse_blobs), "field_values" / values)


def hash_tmpl_array_grammar(string, parse_blobs: bool):
    """Type 31 HASH_TMPL_ARRAY (DUMP payloads): ``Container(fields_fmt, fields, field_values)``
    with one value string per field (a format-0 names listpack is read to count them)."""
    return Struct(*_fields_section(string, parse_blobs),
                  "field_values" / _TemplateValues(string, _own_fields))
