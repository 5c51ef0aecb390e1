/* rdbtools/analysis/csrc/module.c: the module rdbtools.analysis._estimate itself: its method
 * table, PyInit__estimate, the module state the other units share (estimate.h), and the checks at
 * import that the model classes (rdbtools/model.py Entry, RawValue; rdbtools/analysis/memory.py
 * KeyMemory) are the plain slots dataclasses the units read and fill through their slots.
 *
 * Compiled twin of the per-key estimator in rdbtools/analysis/memory.py (MemoryEstimator) and of
 * the row rendering in rdbtools/analysis/export.py.  Optional (setup.py builds it with
 * optional=True); RDBTOOLS_PUREPYTHON=1 or a failed build leaves the pure-Python code in charge.
 *
 * Every function is a transcription of its Python twin, with the same arithmetic in the same
 * order (floating-point sums included), so the numbers are identical; tests/test_estimate_compiled.py
 * proves it on the corpus and on hypothesis-generated keys.  The units (estimate.h lists them):
 * estimator.c (the Estimator type), sizing.c (the estimates of a decoded value), raw.c (the raw
 * path: a value's bytes walked as the compiled reader walks them), rows.c (CSV / JSON Lines rows),
 * and the reader's blob walkers (rdbtools/rdb/csrc/walkers.c).
 *
 * Whatever is not covered (module values, hash field TTLs, Valkey open-addressing tables and rax
 * allocation sizes, re-encoding a value for a target with another compact format, records not in
 * the reader's buffer, anything the walk does not accept) is *declined*: None, and Python answers
 * (for a raw entry after the reader has decoded it; damage is then reported by the reader).
 */
#include "estimate.h"

#include <structmember.h>

/* ---------------------------------------------------------------------------------------- */
/* module state (estimate.h)                                                                 */

slotclass_t C_Entry = {"Entry", 14, {"db", "key", "type", "value", "expire_at_ms",
    "rdb_type", "idle_s", "freq", "field_expire_at_ms", "length", "offset", "size",
    "array_next_insert_index", "key_meta"}};
slotclass_t C_KeyMemory = {"KeyMemory", 12, {"db", "key", "type", "encoding", "elements",
    "memory_usage", "largest_element", "expire_at_ms", "idle_s", "freq", "key_bytes", "rdb_type"}};

slotclass_t C_RawValue = {"RawValue", 1, {"data"}};

PyObject *S_string, *S_list, *S_set, *S_zset, *S_hash, *S_stream;  /* model type names */
PyObject *S_entries, *S_groups, *S_fields, *S_pending, *S_consumers, *S_name, *S_id,
    *S_length;                                                     /* stream attributes */
PyTypeObject *StreamType;
PyObject *S_int, *S_embstr, *S_raw, *S_listpack, *S_ziplist, *S_quicklist, *S_intset,
    *S_hashtable, *S_skiplist, *S_stream_enc;                      /* encodings */

/* ---------------------------------------------------------------------------------------- */
/* model classes (slotclass_t in estimate.h)                                                 */

static int
setup_class(PyObject *module, slotclass_t *cls)
{
    PyObject *slots;
    int k, ok = 1;
    cls->type = (PyTypeObject *)PyObject_GetAttrString(module, cls->name);
    if (cls->type == NULL)
        return -1;
    slots = PyObject_GetAttrString((PyObject *)cls->type, "__slots__");
    if (!PyType_Check(cls->type) || slots == NULL || !PyTuple_Check(slots)
        || PyTuple_GET_SIZE(slots) != cls->nfields
        || PyObject_HasAttrString((PyObject *)cls->type, "__post_init__"))
        ok = 0;
    for (k = 0; ok && k < cls->nfields; k++) {
        PyObject *d;
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(slots, k), cls->fields[k]) != 0) {
            ok = 0;
            break;
        }
        d = PyDict_GetItemString(cls->type->tp_dict, cls->fields[k]);
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)
            || ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX)
            ok = 0;
        else
            cls->offsets[k] = ((PyMemberDescrObject *)d)->d_member->offset;
    }
    Py_XDECREF(slots);
    if (!ok) {
        PyErr_Format(PyExc_ImportError, "rdbtools.analysis._estimate does not match %s "
                     "(rebuild the extension)", cls->name);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* module                                                                                    */

static PyMethodDef methods[] = {
    {"render_rows", est_render_rows, METH_VARARGS,
     "render_rows(rows, csv) -> bytes: KeyMemory rows as CSV lines (csv.writer's) or JSON Lines\n"
     "(json.dumps(ensure_ascii=False)'s), UTF-8 encoded, exactly as export.write_memory writes them."},
    {NULL}};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "rdbtools.analysis._estimate",
    "Compiled memory estimator and row rendering (see docs/memory.md, Speed).", -1, methods};

PyMODINIT_FUNC
PyInit__estimate(void)
{
    PyObject *m, *model, *memory;
    model = PyImport_ImportModule("rdbtools.model");
    if (model == NULL)
        return NULL;
    memory = PyImport_ImportModule("rdbtools.analysis.memory");
    if (memory == NULL || setup_class(model, &C_Entry) < 0 || setup_class(memory, &C_KeyMemory) < 0
        || setup_class(model, &C_RawValue) < 0) {
        Py_DECREF(model);
        Py_XDECREF(memory);
        return NULL;
    }
    S_string = PyObject_GetAttrString(model, "TYPE_STRING");
    S_list = PyObject_GetAttrString(model, "TYPE_LIST");
    S_set = PyObject_GetAttrString(model, "TYPE_SET");
    S_zset = PyObject_GetAttrString(model, "TYPE_ZSET");
    S_hash = PyObject_GetAttrString(model, "TYPE_HASH");
    S_stream = PyObject_GetAttrString(model, "TYPE_STREAM");
    StreamType = (PyTypeObject *)PyObject_GetAttrString(model, "Stream");
    Py_DECREF(model);
    Py_DECREF(memory);
    if (!S_string || !S_list || !S_set || !S_zset || !S_hash || !S_stream || !StreamType)
        return NULL;
    S_entries = PyUnicode_InternFromString("entries");
    S_groups = PyUnicode_InternFromString("groups");
    S_fields = PyUnicode_InternFromString("fields");
    S_pending = PyUnicode_InternFromString("pending");
    S_consumers = PyUnicode_InternFromString("consumers");
    S_name = PyUnicode_InternFromString("name");
    S_id = PyUnicode_InternFromString("id");
    S_length = PyUnicode_InternFromString("length");
    S_stream_enc = PyUnicode_InternFromString("stream");
    S_int = PyUnicode_InternFromString("int");
    S_embstr = PyUnicode_InternFromString("embstr");
    S_raw = PyUnicode_InternFromString("raw");
    S_listpack = PyUnicode_InternFromString("listpack");
    S_ziplist = PyUnicode_InternFromString("ziplist");
    S_quicklist = PyUnicode_InternFromString("quicklist");
    S_intset = PyUnicode_InternFromString("intset");
    S_hashtable = PyUnicode_InternFromString("hashtable");
    S_skiplist = PyUnicode_InternFromString("skiplist");
    if (PyType_Ready(&EstimatorType) < 0)
        return NULL;
    m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    Py_INCREF(&EstimatorType);
    if (PyModule_AddObject(m, "Estimator", (PyObject *)&EstimatorType) < 0)
        return NULL;
    return m;
}
