/* rdbtools/rdb/csrc/blobs.c: the Python-facing blob walkers of rdbtools.rdb._speedups:
 * decode_listpack, decode_ziplist, decode_intset and decode_zipmap, drop-in versions of the
 * functions of rdbtools/rdb/blobs.py (the walking itself is walkers.c, shared with the record
 * loop and the memory estimator).  The same elements (bytes and ints), and FormatError with the
 * same offset and reason; an argument that is not exactly bytes goes to the Python function.
 */
#include "speedups.h"

/* an element as blobs.py returns it: bytes, or an int */
static PyObject *
item_raw(const item_t *x)
{
    if (x->s != NULL)
        return PyBytes_FromStringAndSize((const char *)x->s, x->len);
    return PyLong_FromLongLong(x->v);
}

static PyObject *
blob_list(PyObject *data, walker_t walk, const char *fallback)
{
    items_t it;
    err_t e;
    PyObject *list;
    Py_ssize_t k;
    int rc;
    if (!PyBytes_CheckExact(data))
        return sp_call_fallback(py_blobs, fallback, &data, 1);
    items_init(&it);
    rc = walk((const uint8_t *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), &it, &e);
    if (rc != OK) {
        items_free(&it);
        if (rc == BAD)
            sp_raise_format_error(&e);
        return NULL;
    }
    list = PyList_New(it.n);
    if (list != NULL) {
        for (k = 0; k < it.n; k++) {
            PyObject *o = item_raw(&it.a[k]);
            if (o == NULL) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, k, o);
        }
    }
    items_free(&it);
    return list;
}

PyObject *sp_decode_listpack(PyObject *self, PyObject *data) { return blob_list(data, walk_listpack, "decode_listpack"); }
PyObject *sp_decode_ziplist(PyObject *self, PyObject *data) { return blob_list(data, walk_ziplist, "decode_ziplist"); }
PyObject *sp_decode_intset(PyObject *self, PyObject *data) { return blob_list(data, walk_intset, "decode_intset"); }
PyObject *sp_decode_zipmap(PyObject *self, PyObject *data) { return blob_list(data, walk_zipmap, "decode_zipmap"); }
