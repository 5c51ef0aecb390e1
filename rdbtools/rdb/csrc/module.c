/* rdbtools/rdb/csrc/module.c: the module rdbtools.rdb._speedups itself (docs/architecture.md,
 * "The accelerator"): its method table, PyInit__speedups, the module state the other units share
 * (speedups.h), and the checks at import that the model classes of rdbtools/model.py are the
 * slots dataclasses the units were written for.
 *
 * The compiled read path and the writer's encoders, split by concern.  Each unit mirrors, line
 * for line, the pure-Python code it replaces:
 *
 *   unit           Python twin                                   (Redis)
 *   walkers.c      rdbtools/format/lzf.py lzf_decompress         (lzf_d.c)
 *                  rdbtools/rdb/blobs.py walkers                 (listpack.c, ziplist.c, intset.c,
 *                                                                 zipmap.c)
 *   blobs.c        rdbtools/rdb/blobs.py decode_listpack/_ziplist/_intset/_zipmap
 *   lzf.c          rdbtools/format/lzf.py lzf_decompress, lzf_compress  (our greedy lzf_c.c)
 *   records.c      rdbtools/rdb/reader.py: the key-record part of RdbReader.iter_records and its
 *                  value decoders for the common types       (rdb.c rdbLoadObject)
 *   render_json.c  rdbtools/output/dump.py dumps_entry
 *   render_resp.c  rdbtools/output/commands.py entry_resp    (aof.c rewriteAppendOnlyFileRio),
 *                  rdbtools/format/resp.py encode_resp
 *   resp_parse.c   rdbtools/format/resp.py parse_commands
 *   encoders.c     rdbtools/format/primitives.py encode_rdb_string  (rdb.c rdbSaveRawString),
 *                  rdbtools/rdb/encoders.py encode_listpack/_ziplist/_intset, compact,
 *                  stream_nodes                              (listpack.c, ziplist.c, intset.c,
 *                                                             t_stream.c streamAppendItem)
 *
 * The walkers and LZF raise rdbtools.errors.FormatError with the same offset and reason text as
 * the Python functions.  read_records() never raises for bad input: it stops at the start of the
 * record it cannot read, and the Python loop reads that record itself (and reports its error).
 * Anything that is not plain `bytes` (or an argument out of the C ranges) is handed to the pure
 * Python function, so results are the same for every input.
 */
#include "speedups.h"

#include <structmember.h>

/* ---------------------------------------------------------------------------------------- */
/* module state (set once at import)                                                         */

PyObject *FormatError;          /* rdbtools.errors.FormatError */
PyObject *py_blobs;             /* rdbtools.rdb.blobs (fallbacks) */
PyObject *py_lzf;               /* rdbtools.format.lzf (fallback) */
PyObject *type_names[RDB_TYPE_CODES]; /* rdb type code -> model type name */

/* the model classes (slotclass_t in speedups.h), checked and completed by setup_class() */
slotclass_t C_Entry = {"Entry", 14, {"db", "key", "type", "value", "expire_at_ms",
    "rdb_type", "idle_s", "freq", "field_expire_at_ms", "length", "offset", "size",
    "array_next_insert_index", "key_meta"}};
slotclass_t C_Stream = {"Stream", 8, {"entries", "length", "last_id", "first_id",
    "max_deleted_id", "entries_added", "groups", "idmp"}};
slotclass_t C_StreamEntry = {"StreamEntry", 2, {"id", "fields"}};
slotclass_t C_StreamGroup = {"StreamGroup", 6, {"name", "last_id", "entries_read",
    "pending", "consumers", "nacked"}};
slotclass_t C_StreamPending = {"StreamPendingEntry", 4, {"id", "consumer",
    "delivery_time_ms", "delivery_count"}};
slotclass_t C_StreamConsumer = {"StreamConsumer", 4, {"name", "seen_time_ms",
    "active_time_ms", "pending"}};
slotclass_t C_RawValue = {"RawValue", 1, {"data"}};
slotclass_t C_StreamIdmp = {"StreamIdmp", 5, {"duration_s", "max_size", "producers",
    "iids_added", "iids_duplicates"}};
slotclass_t C_StreamIdmpProducer = {"StreamIdmpProducer", 2, {"pid", "iids"}};
slotclass_t C_KeyMeta = {"KeyMeta", 4, {"class_name", "version", "flags", "raw"}};
static slotclass_t *slotclasses[] = {&C_Entry, &C_Stream, &C_StreamEntry, &C_StreamGroup,
                                     &C_StreamPending, &C_StreamConsumer, &C_RawValue,
                                     &C_StreamIdmp, &C_StreamIdmpProducer, &C_KeyMeta};

/* ---------------------------------------------------------------------------------------- */
/* shared glue (speedups.h)                                                                  */

void
sp_raise_format_error(const err_t *e)
{
    PyObject *exc = PyObject_CallFunction(FormatError, "sL", e->msg, e->offset);
    if (exc != NULL) {
        PyErr_SetObject(FormatError, exc);
        Py_DECREF(exc);
    }
}

PyObject *
sp_call_fallback(PyObject *module, const char *name, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *fn = PyObject_GetAttrString(module, name);
    PyObject *res;
    if (fn == NULL)
        return NULL;
    res = PyObject_Vectorcall(fn, args, nargs, NULL);
    Py_DECREF(fn);
    return res;
}

/* ---------------------------------------------------------------------------------------- */
/* module                                                                                    */

static PyMethodDef methods[] = {
    {"lzf_decompress", (PyCFunction)(void (*)(void))sp_lzf_decompress,
     METH_FASTCALL | METH_KEYWORDS, "lzf_decompress(data, expected_len, limit=None): see rdbtools.format.lzf"},
    {"decode_listpack", sp_decode_listpack, METH_O, "see rdbtools.rdb.blobs.decode_listpack"},
    {"decode_ziplist", sp_decode_ziplist, METH_O, "see rdbtools.rdb.blobs.decode_ziplist"},
    {"decode_intset", sp_decode_intset, METH_O, "see rdbtools.rdb.blobs.decode_intset"},
    {"decode_zipmap", sp_decode_zipmap, METH_O, "see rdbtools.rdb.blobs.decode_zipmap"},
    {"encode_resp", sp_encode_resp, METH_O, "encode_resp(args): see rdbtools.format.resp.encode_resp"},
    {"parse_commands", (PyCFunction)(void (*)(void))sp_parse_commands, METH_FASTCALL,
     "parse_commands(buf, pos, limit) -> (commands, ends, pos): see "
     "rdbtools.format.resp.parse_commands"},
    {"json_entry", sp_json_entry, METH_O,
     "json_entry(entry): see rdbtools.output.dump.dumps_entry (None: render it in Python)"},
    {"resp_entry", (PyCFunction)(void (*)(void))sp_resp_entry, METH_FASTCALL,
     "resp_entry(type, key, value, expire_at_ms, field_ttls, streams_v2) -> bytes | None: "
     "see rdbtools.output.commands.entry_resp"},
    {"read_records", (PyCFunction)(void (*)(void))sp_read_records, METH_FASTCALL,
     "read_records(buf, pos, base, db, sizes, expire, idle, freq, record_start[, raw_types])\n"
     "-> (entries, pos, expire, idle, freq, record_start, starved): see rdbtools.rdb.reader"},
    {"lzf_compress", sp_lzf_compress, METH_O, "see rdbtools.format.lzf.lzf_compress"},
    {"encode_rdb_string", (PyCFunction)(void (*)(void))sp_encode_rdb_string,
     METH_FASTCALL | METH_KEYWORDS,
     "encode_rdb_string(data, compress=True): see rdbtools.format.primitives.encode_rdb_string"},
    {"encode_listpack", sp_encode_listpack, METH_O, "see rdbtools.rdb.encoders.encode_listpack"},
    {"encode_ziplist", sp_encode_ziplist, METH_O, "see rdbtools.rdb.encoders.encode_ziplist"},
    {"encode_intset", sp_encode_intset, METH_O, "see rdbtools.rdb.encoders.encode_intset"},
    {"compact", sp_compact, METH_O, "compact(strings): see rdbtools.rdb.encoders.compact"},
    {"stream_nodes", (PyCFunction)(void (*)(void))sp_stream_nodes, METH_FASTCALL,
     "stream_nodes(entries, max_bytes, max_entries): see rdbtools.rdb.encoders.stream_nodes"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "rdbtools.rdb._speedups",
    "Compiled read path and write encoders of rdbtools (see docs/architecture.md).", -1, methods};

static int
setup_class(PyObject *model, slotclass_t *cls)
{
    PyObject *slots;
    int k, ok = 1;
    cls->type = (PyTypeObject *)PyObject_GetAttrString(model, cls->name);
    if (cls->type == NULL)
        return -1;
    slots = PyObject_GetAttrString((PyObject *)cls->type, "__slots__");
    if (!PyType_Check(cls->type) || slots == NULL || !PyTuple_Check(slots)
        || PyTuple_GET_SIZE(slots) != cls->nfields)
        ok = 0;
    for (k = 0; ok && k < cls->nfields; k++)
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(slots, k), cls->fields[k]) != 0)
            ok = 0;
    Py_XDECREF(slots);
    if (!ok) {
        PyErr_Format(PyExc_ImportError, "rdbtools.rdb._speedups does not match rdbtools.model.%s "
                     "(rebuild the extension)", cls->name);
        return -1;
    }
    cls->direct = !PyObject_HasAttrString((PyObject *)cls->type, "__post_init__");
    for (k = 0; cls->direct && k < cls->nfields; k++) {
        PyObject *d = PyDict_GetItemString(cls->type->tp_dict, cls->fields[k]);
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)
            || ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX)
            cls->direct = 0;
        else
            cls->offsets[k] = ((PyMemberDescrObject *)d)->d_member->offset;
    }
    return 0;
}

static int
setup_model(void)
{
    int k;
    PyObject *model = PyImport_ImportModule("rdbtools.model");
    /* the codes records.c reads (22-25, hashes with field TTLs, are left to Python) */
    static const char *type_attr[RDB_TYPE_CODES] = {
        "TYPE_STRING", "TYPE_LIST", "TYPE_SET", "TYPE_ZSET", "TYPE_HASH", "TYPE_ZSET", NULL,
        NULL, NULL, "TYPE_HASH", "TYPE_LIST", "TYPE_SET", "TYPE_ZSET", "TYPE_HASH",
        "TYPE_LIST", "TYPE_STREAM", "TYPE_HASH", "TYPE_ZSET", "TYPE_LIST", "TYPE_STREAM",
        "TYPE_SET", "TYPE_STREAM", NULL, NULL, NULL, NULL, "TYPE_STREAM", "TYPE_STREAM",
        "TYPE_ARRAY", "TYPE_HASH", "TYPE_HASH", "TYPE_HASH", "TYPE_HASH", "TYPE_GCRA"};
    if (model == NULL)
        return -1;
    for (k = 0; k < (int)(sizeof(slotclasses) / sizeof(slotclasses[0])); k++) {
        if (setup_class(model, slotclasses[k]) < 0) {
            Py_DECREF(model);
            return -1;
        }
    }
    for (k = 0; k < RDB_TYPE_CODES; k++) {
        type_names[k] = type_attr[k] ? PyObject_GetAttrString(model, type_attr[k]) : NULL;
        if (type_attr[k] && type_names[k] == NULL) {
            Py_DECREF(model);
            return -1;
        }
    }
    Py_DECREF(model);
    return 0;
}

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *m, *errors;
    errors = PyImport_ImportModule("rdbtools.errors");
    if (errors == NULL)
        return NULL;
    FormatError = PyObject_GetAttrString(errors, "FormatError");
    Py_DECREF(errors);
    if (FormatError == NULL)
        return NULL;
    py_blobs = PyImport_ImportModule("rdbtools.rdb.blobs");
    if (py_blobs == NULL)
        return NULL;
    py_lzf = PyImport_ImportModule("rdbtools.format.lzf");
    if (py_lzf == NULL)
        return NULL;
    if (setup_model() < 0)
        return NULL;
    m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "DIRECT_SLOTS", C_Entry.direct) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
