/* rdbtools/rdb/csrc/lzf.c: LZF in rdbtools.rdb._speedups, both directions, Python-facing.
 *
 * Mirrors rdbtools/format/lzf.py line for line:
 *   lzf_decompress(data, expected_len, limit=None)   Redis lzf_d.c; the walking is walk_lzf
 *                                                    (walkers.c, shared with the record loop
 *                                                    and the memory estimator)
 *   lzf_compress(data)                               our greedy variant of lzf_c.c; its core,
 *                                                    sp_lzf_pack_bytes, also serves
 *                                                    encode_rdb_string (encoders.c)
 * The same bytes, and FormatError with the same offset and reason; arguments the C code does not
 * take (not exactly bytes, out-of-range integers) go to the Python functions.
 */
#include "speedups.h"

/* ---------------------------------------------------------------------------------------- */
/* lzf_decompress                                                                            */

static int
as_nonneg_ll(PyObject *o, long long *out)
{
    long long v;
    if (!PyLong_CheckExact(o) && !PyBool_Check(o))
        return 0;
    v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (v < 0)
        return 0;
    *out = v;
    return 1;
}

PyObject *
sp_lzf_decompress(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *names[] = {"data", "expected_len", "limit"};
    PyObject *vals[3] = {NULL, NULL, Py_None};
    long long expected, limit = -1, cap;
    Py_ssize_t n, outlen = 0, k;
    PyObject *out;
    err_t e;

    if (nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "lzf_decompress() takes at most 3 arguments");
        return NULL;
    }
    for (k = 0; k < nargs; k++)
        vals[k] = args[k];
    if (kwnames != NULL) {
        for (k = 0; k < PyTuple_GET_SIZE(kwnames); k++) {
            PyObject *kw = PyTuple_GET_ITEM(kwnames, k);
            int j, found = 0;
            for (j = 0; j < 3; j++) {
                if (PyUnicode_CompareWithASCIIString(kw, names[j]) == 0) {
                    if (j < nargs) {
                        PyErr_Format(PyExc_TypeError, "lzf_decompress() got multiple values for "
                                     "argument '%s'", names[j]);
                        return NULL;
                    }
                    vals[j] = args[nargs + k];
                    found = 1;
                }
            }
            if (!found) {
                PyErr_Format(PyExc_TypeError, "lzf_decompress() got an unexpected keyword "
                             "argument '%U'", kw);
                return NULL;
            }
        }
    }
    if (vals[0] == NULL || vals[1] == NULL) {
        PyErr_SetString(PyExc_TypeError, "lzf_decompress() missing required arguments");
        return NULL;
    }
    if (!PyBytes_CheckExact(vals[0]) || !as_nonneg_ll(vals[1], &expected)
        || (vals[2] != Py_None && !as_nonneg_ll(vals[2], &limit)))
        return sp_call_fallback(py_lzf, "lzf_decompress", vals, 3);

    n = PyBytes_GET_SIZE(vals[0]);
    cap = expected;
    if (cap > lzf_max_output(n))
        cap = lzf_max_output(n);
    if (limit >= 0 && limit < cap - 264)
        cap = limit + 264;
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (out == NULL)
        return NULL;
    if (walk_lzf((const uint8_t *)PyBytes_AS_STRING(vals[0]), n, (uint8_t *)PyBytes_AS_STRING(out),
                 expected, limit, &outlen, &e) != OK) {
        Py_DECREF(out);
        sp_raise_format_error(&e);
        return NULL;
    }
    if (outlen != (Py_ssize_t)cap && _PyBytes_Resize(&out, outlen) < 0)
        return NULL;
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* lzf_compress                                                                              */

/* format/lzf.py lzf_compress: greedy, matching each position against the most recent earlier position
 * (of those not skipped inside a match) that starts with the same 3 bytes, if it lies within
 * lzf_c.c's 8 KB window; matches of up to 264 bytes.  lzf.py finds that position in an exact
 * dict; here a hash chain does: head[hash] and, per position, the previous position with the
 * same hash, kept in a ring larger than the window (a link is overwritten only once its
 * position has left the window).  The walk stops at the first position with the same 3 bytes,
 * the most recent one, or at the first one outside the window, where lzf.py refuses the match
 * too.  Output goes to out[0..maxout]; returns its length, or -1 once it would exceed maxout
 * (the output only grows, so that is the final answer), -2 without memory.  n < 2^32. */
#define LZF_WINDOW 8192
#define LZF_RING 16384
#define LZF_MAX_MATCH 264

static Py_ssize_t
lzf_pack(const uint8_t *d, Py_ssize_t n, uint8_t *out, Py_ssize_t maxout)
{
    int hbits = 8;
    while (hbits < 16 && ((Py_ssize_t)1 << hbits) < n)
        hbits++;
    uint32_t *head = PyMem_Calloc((size_t)1 << hbits, sizeof(uint32_t));
    uint32_t *prev = PyMem_Malloc((size_t)(n < LZF_RING ? n : LZF_RING) * sizeof(uint32_t));
    Py_ssize_t i = 0, lit = 0, o = 0;
    if (head == NULL || prev == NULL) {
        PyMem_Free(head);
        PyMem_Free(prev);
        return -2;
    }
#define LZF_LITERALS(end)                                          \
    while (lit < (end)) {                                          \
        Py_ssize_t run_ = (end) - lit < 32 ? (end) - lit : 32;     \
        if (o + 1 + run_ > maxout)                                 \
            goto over;                                             \
        out[o++] = (uint8_t)(run_ - 1);                            \
        memcpy(out + o, d + lit, (size_t)run_);                    \
        o += run_;                                                 \
        lit += run_;                                               \
    }
    while (i + 2 < n) {
        uint32_t v = ((uint32_t)d[i] << 16) | ((uint32_t)d[i + 1] << 8) | d[i + 2];
        uint32_t h = (v * 2654435761U) >> (32 - hbits);
        uint32_t c = head[h];
        Py_ssize_t ref = -1;
        while (c != 0) {
            Py_ssize_t p = (Py_ssize_t)c - 1;
            if (i - p - 1 >= LZF_WINDOW)
                break;
            if (d[p] == d[i] && d[p + 1] == d[i + 1] && d[p + 2] == d[i + 2]) {
                ref = p;
                break;
            }
            c = prev[p & (LZF_RING - 1)];
        }
        prev[i & (LZF_RING - 1)] = head[h];
        head[h] = (uint32_t)i + 1;
        if (ref < 0) {
            i++;
            continue;
        }
        Py_ssize_t len = 3, max = n - i < LZF_MAX_MATCH ? n - i : LZF_MAX_MATCH;
        while (len < max && d[ref + len] == d[i + len])
            len++;
        LZF_LITERALS(i);
        Py_ssize_t distance = i - ref - 1, code = len - 2;
        if (o + (code < 7 ? 2 : 3) > maxout)
            goto over;
        if (code < 7) {
            out[o++] = (uint8_t)((code << 5) | (distance >> 8));
        } else {
            out[o++] = (uint8_t)((7 << 5) | (distance >> 8));
            out[o++] = (uint8_t)(code - 7);
        }
        out[o++] = (uint8_t)distance;
        i += len;
        lit = i;
    }
    LZF_LITERALS(n);
#undef LZF_LITERALS
    PyMem_Free(head);
    PyMem_Free(prev);
    return o;
over:
    PyMem_Free(head);
    PyMem_Free(prev);
    return -1;
}

/* lzf_pack of a bytes object into a new bytes object of at most maxout bytes: *out is NULL when
 * the data does not compress that far (speedups.h; encoders.c's encode_rdb_string uses it) */
int
sp_lzf_pack_bytes(PyObject *data, Py_ssize_t maxout, PyObject **out)
{
    Py_ssize_t len;
    *out = PyBytes_FromStringAndSize(NULL, maxout);
    if (*out == NULL)
        return -1;
    len = lzf_pack((const uint8_t *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                   (uint8_t *)PyBytes_AS_STRING(*out), maxout);
    if (len == -2) {
        Py_CLEAR(*out);
        PyErr_NoMemory();
        return -1;
    }
    if (len < 0)
        Py_CLEAR(*out);
    else if (len < maxout && _PyBytes_Resize(out, len) < 0)
        return -1;
    return 0;
}

PyObject *
sp_lzf_compress(PyObject *self, PyObject *data)
{
    PyObject *out;
    if (!PyBytes_CheckExact(data) || PyBytes_GET_SIZE(data) > 0xFFFFFFF0)
        return sp_call_fallback(py_lzf, "lzf_compress", &data, 1);
    if (PyBytes_GET_SIZE(data) < 4)
        Py_RETURN_NONE;
    if (sp_lzf_pack_bytes(data, PyBytes_GET_SIZE(data) - 1, &out) < 0)
        return NULL;
    return out == NULL ? Py_NewRef(Py_None) : out;
}
