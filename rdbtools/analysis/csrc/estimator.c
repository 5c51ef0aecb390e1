/* rdbtools/analysis/csrc/estimator.c: the Estimator type of rdbtools.analysis._estimate, the
 * compiled twin of MemoryEstimator in rdbtools/analysis/memory.py for one ServerProfile.
 *
 * Mirrors MemoryEstimator.estimate line for line: the value's estimate by type (sizing.c, or
 * raw.c for a raw value), then the key's overhead (_key_overhead), then the KeyMemory row.  Two
 * ways in:
 *
 *   Estimator.estimate(entry, buf, base)  a decoded entry (values="full"); blob lengths, quicklist
 *                                         nodes and stream node keys come from the record bytes in
 *                                         the reader's buffer.
 *   Estimator.estimate_raw(entry)         an entry read with raw_types (RawValue: the value's bytes,
 *                                         not decoded).  The value is walked as the compiled
 *                                         reader's full decode (rdbtools/rdb/csrc/records.c
 *                                         c_full_value) walks it, with its blob walkers and LZF
 *                                         checks (walkers.c), accepting no more than it does; the
 *                                         estimates need only lengths and integer-ness, so no
 *                                         element object is made.
 *
 * Whatever is not covered is *declined*: None, and Python answers (for a raw entry after the
 * reader has decoded it; damage is then reported by the reader).
 */
#include "estimate.h"

static PyObject *key_memory(Estimator *self, PyObject *entry, const result_t *r);

/* What only Python sizes: hashes written with field TTLs (types 24 and 25: the table of a 24
 * grows unsized, a 25 stays listpackex without live TTLs) and the value types of RDB 13+
 * (IDMP / NACK streams 26-27, arrays 28, template hashes 29-32, GCRA 33) */
static int
declined(const Estimator *self, PyObject *entry)
{
    PyObject *rt = SLOT(C_Entry, entry, E_RDB_TYPE), *meta = SLOT(C_Entry, entry, E_KEY_META);
    return (meta != Py_None && !PyList_CheckExact(meta)) || PyLong_AsLongLong(rt) >= RDB_TYPE_HASH_METADATA;
}

/* Estimator.estimate(entry, buf, base): a decoded entry */
static PyObject *
Estimator_estimate(Estimator *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *entry, *buf, *rt, *type, *key;
    result_t r = {NULL, 0, 0, 0, -1};
    record_t rec = {NULL, 0};
    long long rdb_type;
    int done;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "estimate(entry, buf, base)");
        return NULL;
    }
    entry = args[0];
    buf = args[1];
    if (!Py_IS_TYPE(entry, C_Entry.type))
        Py_RETURN_NONE;
    key = SLOT(C_Entry, entry, E_KEY);
    type = SLOT(C_Entry, entry, E_TYPE);
    rt = SLOT(C_Entry, entry, E_RDB_TYPE);
    if (!PyBytes_CheckExact(key) || !PyLong_CheckExact(rt) || declined(self, entry))
        Py_RETURN_NONE;
    rdb_type = PyLong_AsLongLong(rt);
    if (PyBytes_CheckExact(buf) && PyLong_CheckExact(args[2])) {  /* _RecordBytes.get */
        long long start = PyLong_AsLongLong(SLOT(C_Entry, entry, E_OFFSET)) - PyLong_AsLongLong(args[2]);
        long long size = PyLong_AsLongLong(SLOT(C_Entry, entry, E_SIZE));
        if (PyErr_Occurred())
            return NULL;
        if (0 <= start && start + size <= PyBytes_GET_SIZE(buf)) {
            rec.buf = (const unsigned char *)PyBytes_AS_STRING(buf) + start;
            rec.len = size;
        }
    }
    /* memory._needs_shape: without the record bytes here, Python reads them from the file */
    if (rec.buf == NULL && (rdb_type == RDB_TYPE_HASH_ZIPMAP || rdb_type == RDB_TYPE_LIST_ZIPLIST
                            || rdb_type == RDB_TYPE_SET_INTSET || rdb_type == RDB_TYPE_ZSET_ZIPLIST
                            || rdb_type == RDB_TYPE_HASH_ZIPLIST || rdb_type == RDB_TYPE_LIST_QUICKLIST
                            || rdb_type >= RDB_TYPE_HASH_LISTPACK))
        Py_RETURN_NONE;
    if (type == S_string)
        done = est_string(self, entry, &r);
    else if (type == S_list)
        done = est_list(self, entry, rdb_type, &rec, &r);
    else if (type == S_set)
        done = est_set(self, entry, rdb_type, &rec, &r);
    else if (type == S_zset)
        done = est_zset(self, entry, rdb_type, &rec, &r);
    else if (type == S_hash)
        done = est_hash(self, entry, rdb_type, &rec, &r);
    else if (type == S_stream && PyObject_TypeCheck(SLOT(C_Entry, entry, E_VALUE), StreamType))
        done = est_stream(self, entry, rdb_type, &rec, &r);
    else
        done = 0;
    if (done <= 0) {
        if (done < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return key_memory(self, entry, &r);
}

/* the KeyMemory of an entry whose value is sized by ``r`` (MemoryEstimator.estimate) */
static PyObject *
key_memory(Estimator *self, PyObject *entry, const result_t *r_)
{
    PyObject *key = SLOT(C_Entry, entry, E_KEY), *type = SLOT(C_Entry, entry, E_TYPE),
        *rt = SLOT(C_Entry, entry, E_RDB_TYPE), *km, *o;
    result_t r = *r_;
    long long total;
    /* _key_overhead */
    if (self->accounting != ACC_ALLOC)
        total = est_tracked(self, entry, &r);
    else if (self->keyspace == KS_DICTENTRY)
        total = r.size + sds(self, PyBytes_GET_SIZE(key), 1) + self->dict_entry;
    else if (type == S_string)
        total = r.size;
    else
        total = r.size + alloc(self, embedded(self, entry, 16, 1)) - 16;
    km = C_KeyMemory.type->tp_alloc(C_KeyMemory.type, 0);
    if (km == NULL)
        return NULL;
#define SET(k, v) do { o = (v); if (o == NULL) { Py_DECREF(km); return NULL; } SLOT(C_KeyMemory, km, k) = o; } while (0)
    SET(0, Py_NewRef(SLOT(C_Entry, entry, E_DB)));
    SET(1, Py_NewRef(key));
    SET(2, Py_NewRef(type));
    SET(3, Py_NewRef(r.enc));
    SET(4, PyLong_FromLongLong(r.n));
    SET(5, PyLong_FromLongLong(total));
    SET(6, PyLong_FromLongLong(r.largest));
    SET(7, Py_NewRef(SLOT(C_Entry, entry, E_EXPIRE)));
    SET(8, Py_NewRef(SLOT(C_Entry, entry, E_IDLE)));
    SET(9, Py_NewRef(SLOT(C_Entry, entry, E_FREQ)));
    SET(10, PyLong_FromSsize_t(PyBytes_GET_SIZE(key)));
    SET(11, Py_NewRef(rt));
#undef SET
    /* Its fields are ints, str, bytes and None: a row cannot be part of a reference cycle, so
     * it is untracked, as CPython does with such tuples and dicts itself.  The writers keep
     * 1,024 rows at a time, which the collector would otherwise walk again and again. */
    if (PyObject_GC_IsTracked(km))
        PyObject_GC_UnTrack(km);
    return km;
}

/* Estimator.estimate_raw(entry): the raw path */
static PyObject *
Estimator_estimate_raw(Estimator *self, PyObject *entry)
{
    PyObject *key, *type, *rt, *value, *data, *ttls;
    result_t r = {NULL, 0, 0, 0, -1};
    long long rdb_type, blob = -1, slen = 0;
    int done, sint = 0;
    if (!Py_IS_TYPE(entry, C_Entry.type))
        Py_RETURN_NONE;
    key = SLOT(C_Entry, entry, E_KEY);
    type = SLOT(C_Entry, entry, E_TYPE);
    rt = SLOT(C_Entry, entry, E_RDB_TYPE);
    value = SLOT(C_Entry, entry, E_VALUE);
    ttls = SLOT(C_Entry, entry, E_FIELD_TTLS);
    if (!PyBytes_CheckExact(key) || !PyLong_CheckExact(rt) || !Py_IS_TYPE(value, C_RawValue.type)
        || ttls != Py_None || declined(self, entry))
        Py_RETURN_NONE;
    data = SLOT(C_RawValue, value, 0);
    rdb_type = PyLong_AsLongLong(rt);
    if (!PyBytes_CheckExact(data) || rdb_type < 0 || rdb_type > 255) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (type == S_stream && (rdb_type == 15 || rdb_type == 19 || rdb_type == 21))
        done = est_stream_raw(self, (int)rdb_type, (const unsigned char *)PyBytes_AS_STRING(data),
                              PyBytes_GET_SIZE(data), &r);
    else if ((done = est_walk_raw(self, (int)rdb_type, (const unsigned char *)PyBytes_AS_STRING(data),
                              PyBytes_GET_SIZE(data), &blob, &slen, &sint)) > 0) {
        if (type == S_string && rdb_type == 0)
            done = est_string_e(self, entry, slen, sint, &r);
        else if (type == S_list && (rdb_type == RDB_TYPE_LIST_QUICKLIST || rdb_type == RDB_TYPE_LIST_QUICKLIST_2))
            done = (rdb_type == RDB_TYPE_LIST_QUICKLIST_2) == self->ziplist ? 0
                : est_list_e(self, &self->es, &self->qn, &r);
        else if (type == S_set)
            done = est_set_e(self, (int)rdb_type, 1, blob, &self->es, &r);
        else if (type == S_zset)
            done = est_zset_e(self, (int)rdb_type, 1, blob, &self->es, &r);
        else if (type == S_hash)
            done = est_hash_e(self, (int)rdb_type, 1, blob, &self->es, &r);
        else
            done = 0;
    }
    if (done <= 0) {
        if (done < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return key_memory(self, entry, &r);
}

static int
Estimator_init(Estimator *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"profile", "node_mean", NULL};
    PyObject *prof, *th = NULL, *v;
    const char *s;
    double node_mean;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Od", names, &prof, &node_mean))
        return -1;
    if (self->items.a == NULL)
        items_init(&self->items);
    self->node_mean = node_mean;
#define STR(attr) ((v = PyObject_GetAttrString(prof, attr)) == NULL ? NULL : (s = PyUnicode_AsUTF8(v), Py_DECREF(v), s))
#define NUM(field, attr) do { if ((v = PyObject_GetAttrString(prof, attr)) == NULL) goto fail; \
    self->field = PyLong_AsLongLong(v); Py_DECREF(v); if (PyErr_Occurred()) goto fail; } while (0)
#define TH(field, name) do { if ((v = PyDict_GetItemString(th, name)) == NULL) { \
    PyErr_SetString(PyExc_KeyError, name); goto fail; } \
    self->field = PyLong_AsLongLong(v); if (PyErr_Occurred()) goto fail; } while (0)
    if ((s = STR("allocator")) == NULL)
        goto fail;
    self->allocator = strcmp(s, "libc") == 0 ? ALLOC_LIBC : ALLOC_JEMALLOC;
    self->quantum = strcmp(s, "jemalloc16") == 0 ? 16 : 8;
    if ((s = STR("keyspace")) == NULL)
        goto fail;
    self->keyspace = strcmp(s, "dictentry") == 0 ? KS_DICTENTRY : KS_EMBEDDED;
    if ((s = STR("set_table")) == NULL)
        goto fail;
    self->set_dict = strcmp(s, "dict") == 0;
    if ((s = STR("hash_entry")) == NULL)
        goto fail;
    self->hash_mstr = strcmp(s, "mstr") == 0;
    NUM(ziplist, "ziplist");
    NUM(exact_blobs, "exact_blobs");
    NUM(list_listpack, "list_listpack");
    NUM(set_listpack, "set_listpack");
    NUM(embed_counts_expire, "embed_counts_expire");
    NUM(dict_struct, "dict_struct");
    NUM(dict_entry, "dict_entry");
    NUM(quicklist, "quicklist");
    NUM(quicklist_node, "quicklist_node");
    NUM(embstr_limit, "embstr_limit");
    NUM(embed_limit, "embed_limit");
    NUM(embstr_robj, "embstr_robj");
    NUM(zset_dict_entry, "zset_dict_entry");
    NUM(stream, "stream");
    NUM(stream_cg, "stream_cg");
    NUM(stream_consumer, "stream_consumer");
    NUM(stream_nack, "stream_nack");
    NUM(stream_lp_alloc, "stream_lp_alloc");
    if ((s = STR("stream_rax")) == NULL)
        goto fail;
    self->stream_rax_estimate = strcmp(s, "estimate") == 0;
    if ((s = STR("accounting")) == NULL)
        goto fail;
    self->accounting = strcmp(s, "alloc") == 0 ? ACC_ALLOC : strcmp(s, "tracked") == 0 ? ACC_TRACKED
        : ACC_REQUESTED;
    if ((th = PyObject_GetAttrString(prof, "thresholds")) == NULL)
        goto fail;
    if (!PyDict_Check(th)) {
        PyErr_SetString(PyExc_TypeError, "thresholds must be a dict");
        goto fail;
    }
    TH(hash_entries, "hash-max-listpack-entries");
    TH(hash_value, "hash-max-listpack-value");
    TH(intset_entries, "set-max-intset-entries");
    TH(set_entries, "set-max-listpack-entries");
    TH(set_value, "set-max-listpack-value");
    TH(zset_entries, "zset-max-listpack-entries");
    TH(zset_value, "zset-max-listpack-value");
    TH(list_fill, "list-max-listpack-size");
#undef STR
#undef NUM
#undef TH
    Py_DECREF(th);
    return 0;
fail:
    Py_XDECREF(th);
    return -1;
}

static PyMethodDef Estimator_methods[] = {
    {"estimate_raw", (PyCFunction)Estimator_estimate_raw, METH_O,
     "estimate_raw(entry) -> KeyMemory, or None when the reader must decode the value first.\n"
     "``entry.value`` is a RawValue (read with raw_types): its bytes are walked as the reader's\n"
     "full decode would, and anything it would not accept as is gives None."},
    {"estimate", (PyCFunction)(void (*)(void))Estimator_estimate, METH_FASTCALL,
     "estimate(entry, buf, base) -> KeyMemory, or None when the Python estimator must answer.\n"
     "``buf`` is the reader's buffer and ``base`` its file offset (the record bytes are read\n"
     "from there when the whole record is in it)."},
    {NULL}};

static void
Estimator_dealloc(Estimator *self)
{
    PyMem_Free(self->es.a);
    PyMem_Free(self->qn.a);
    PyMem_Free(self->scratch);
    if (self->items.a != NULL)
        items_free(&self->items);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyTypeObject EstimatorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rdbtools.analysis._estimate.Estimator",
    .tp_basicsize = sizeof(Estimator),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Estimator(profile, node_mean): MemoryEstimator's common cases for one ServerProfile.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Estimator_init,
    .tp_dealloc = (destructor)Estimator_dealloc,
    .tp_methods = Estimator_methods,
};
