/* rdbtools.rdb._speedups: the compiled read path and the writer's encoders (docs/architecture.md,
 * "The accelerator").
 *
 * Mirrors, line for line, the pure-Python code it replaces:
 *   - rdbtools/lzf.py      lzf_decompress              (Redis lzf_d.c)
 *                          lzf_compress                (our greedy variant of lzf_c.c)
 *   - rdbtools/blobs.py    decode_listpack/_ziplist/_intset/_zipmap
 *                          (listpack.c, ziplist.c, intset.c, zipmap.c)
 *   - rdbtools/reader.py   the key-record part of RdbReader.iter_records and its value
 *                          decoders for the common types (Redis rdb.c rdbLoadObject)
 *   - rdbtools/format/primitives.py  encode_rdb_string  (rdb.c rdbSaveRawString)
 *   - rdbtools/rdb/encoders.py  encode_listpack/_ziplist/_intset, compact, stream_nodes
 *                          (listpack.c, ziplist.c, intset.c, t_stream.c streamAppendItem)
 *
 * The walkers and LZF raise rdbtools.errors.FormatError with the same offset and reason text as
 * the Python functions.  read_records() never raises for bad input: it stops at the start of the
 * record it cannot read, and the Python loop reads that record itself (and reports its error).
 * Anything that is not plain `bytes` (or an argument out of the C ranges) is handed to the pure
 * Python function, so results are the same for every input.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <stdarg.h>

/* ---------------------------------------------------------------------------------------- */
/* module state (set once at import)                                                         */

static PyObject *FormatError;          /* rdbtools.errors.FormatError */
static PyObject *py_blobs;             /* rdbtools.rdb.blobs (fallbacks) */
static PyObject *py_lzf;               /* rdbtools.format.lzf (fallback) */
static PyObject *type_names[22];       /* rdb type code -> model type name */

/* The model classes are slots dataclasses whose __init__ only stores its arguments: objects are
 * made by filling the slots directly when every field is a plain object slot (checked at import),
 * else by calling the class. */
typedef struct {
    const char *name;
    int nfields;
    const char *fields[12];
    PyTypeObject *type;
    int direct;
    Py_ssize_t offsets[12];
} slotclass_t;

static slotclass_t C_Entry = {"Entry", 12, {"db", "key", "type", "value", "expire_at_ms",
    "rdb_type", "idle_s", "freq", "field_expire_at_ms", "length", "offset", "size"}};
static slotclass_t C_Stream = {"Stream", 7, {"entries", "length", "last_id", "first_id",
    "max_deleted_id", "entries_added", "groups"}};
static slotclass_t C_StreamEntry = {"StreamEntry", 2, {"id", "fields"}};
static slotclass_t C_StreamGroup = {"StreamGroup", 5, {"name", "last_id", "entries_read",
    "pending", "consumers"}};
static slotclass_t C_StreamPending = {"StreamPendingEntry", 4, {"id", "consumer",
    "delivery_time_ms", "delivery_count"}};
static slotclass_t C_StreamConsumer = {"StreamConsumer", 4, {"name", "seen_time_ms",
    "active_time_ms", "pending"}};
static slotclass_t C_RawValue = {"RawValue", 1, {"data"}};
static slotclass_t *slotclasses[] = {&C_Entry, &C_Stream, &C_StreamEntry, &C_StreamGroup,
                                     &C_StreamPending, &C_StreamConsumer, &C_RawValue};
#define ENTRY_NFIELDS 12

/* the byte-level walkers, shared with rdbtools/analysis/_estimate.c */
#include "_walkers.h"

static void
raise_format_error(const err_t *e)
{
    PyObject *exc = PyObject_CallFunction(FormatError, "sL", e->msg, e->offset);
    if (exc != NULL) {
        PyErr_SetObject(FormatError, exc);
        Py_DECREF(exc);
    }
}

/* b"%d" % v */
static int
fmt_int(char *out, long long v)
{
    char tmp[24];
    int n = 0, k = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + (u % 10));
        u /= 10;
    } while (u);
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    return k;
}

static PyObject *
int_text(long long v)
{
    char buf[24];
    int n;
    if (v >= 0 && v < 10) {
        buf[0] = (char)('0' + v);
        return PyBytes_FromStringAndSize(buf, 1); /* cached by CPython */
    }
    n = fmt_int(buf, v);
    return PyBytes_FromStringAndSize(buf, n);
}

/* A tuple of bytes/int/float items can never be part of a reference cycle: CPython's collector
 * untracks such tuples itself the first time it meets them (_PyTuple_MaybeUntrack).  Doing it at
 * once spares every young-generation collection the pairs of a large batch of records. */
#define ATOMIC_TUPLE(t) PyObject_GC_UnTrack(t)

/* ---------------------------------------------------------------------------------------- */
/* LZF, Python-facing                                                                       */

static PyObject *
call_fallback(PyObject *module, const char *name, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *fn = PyObject_GetAttrString(module, name);
    PyObject *res;
    if (fn == NULL)
        return NULL;
    res = PyObject_Vectorcall(fn, args, nargs, NULL);
    Py_DECREF(fn);
    return res;
}

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

static PyObject *
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
        return call_fallback(py_lzf, "lzf_decompress", vals, 3);

    n = PyBytes_GET_SIZE(vals[0]);
    cap = expected;
    if (cap > lzf_max_output(n))
        cap = lzf_max_output(n);
    if (limit >= 0 && limit < cap - 264)
        cap = limit + 264;
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (out == NULL)
        return NULL;
    if (lzf_walk((const uint8_t *)PyBytes_AS_STRING(vals[0]), n, (uint8_t *)PyBytes_AS_STRING(out),
                 expected, limit, &outlen, &e) != OK) {
        Py_DECREF(out);
        raise_format_error(&e);
        return NULL;
    }
    if (outlen != (Py_ssize_t)cap && _PyBytes_Resize(&out, outlen) < 0)
        return NULL;
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* zipmap (blobs.decode_zipmap)                                                              */

static int
zm_len(const uint8_t *d, Py_ssize_t n, Py_ssize_t *pos, long long *len, err_t *e)
{
    unsigned b = d[*pos];
    if (b < 254) {
        *len = b;
        *pos += 1;
        return OK;
    }
    if (b == 254) {
        if (*pos + 5 > n)
            return fail(e, *pos, "zipmap length runs past the end");
        *len = rd32le(d + *pos + 1);
        *pos += 5;
        return OK;
    }
    return fail(e, *pos, "unexpected zipmap end marker");
}

static int
zm_walk(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e)
{
    Py_ssize_t pos = 1;
    if (n < 2)
        return fail(e, 0, "zipmap shorter than 2 bytes");
    for (;;) {
        Py_ssize_t start, key;
        long long key_len = 0, value_len = 0, p;
        unsigned free_;
        if (pos >= n)
            return fail(e, n, "zipmap has no end marker");
        if (d[pos] == 255) {
            pos += 1;
            break;
        }
        start = pos;
        if (zm_len(d, n, &pos, &key_len, e) != OK)
            return BAD;
        key = pos;
        p = (long long)pos + key_len;
        if (p >= n)
            return fail(e, start, "zipmap entry runs past the end");
        pos = (Py_ssize_t)p;
        if (zm_len(d, n, &pos, &value_len, e) != OK)
            return BAD;
        if (pos >= n)
            return fail(e, start, "zipmap entry runs past the end");
        free_ = d[pos];
        pos += 1;
        p = (long long)pos + value_len + free_;
        if (p > n)
            return fail(e, start, "zipmap entry runs past the end");
        if (it != NULL) {
            PUSH_STR(it, d + key, (Py_ssize_t)key_len);
            PUSH_STR(it, d + pos, (Py_ssize_t)value_len);
        }
        pos = (Py_ssize_t)p;
    }
    if (pos != n)
        return fail(e, pos, "bytes after the zipmap end marker");
    return OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Python-facing walkers                                                                     */

typedef int (*walker_t)(const uint8_t *, Py_ssize_t, items_t *, err_t *);

static PyObject *
item_raw(const item_t *x)
{
    if (x->s != NULL)
        return PyBytes_FromStringAndSize((const char *)x->s, x->len);
    return PyLong_FromLongLong(x->v);
}

static PyObject *
item_text(const item_t *x)
{
    if (x->s != NULL)
        return PyBytes_FromStringAndSize((const char *)x->s, x->len);
    return int_text(x->v);
}

static PyObject *
walk_to_list(PyObject *data, walker_t walk, const char *fallback)
{
    items_t it;
    err_t e;
    PyObject *list;
    Py_ssize_t k;
    int rc;
    if (!PyBytes_CheckExact(data))
        return call_fallback(py_blobs, fallback, &data, 1);
    items_init(&it);
    rc = walk((const uint8_t *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), &it, &e);
    if (rc != OK) {
        items_free(&it);
        if (rc == BAD)
            raise_format_error(&e);
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

static PyObject *sp_decode_listpack(PyObject *self, PyObject *data) { return walk_to_list(data, lp_walk, "decode_listpack"); }
static PyObject *sp_decode_ziplist(PyObject *self, PyObject *data) { return walk_to_list(data, zl_walk, "decode_ziplist"); }
static PyObject *sp_decode_intset(PyObject *self, PyObject *data) { return walk_to_list(data, is_walk, "decode_intset"); }
static PyObject *sp_decode_zipmap(PyObject *self, PyObject *data) { return walk_to_list(data, zm_walk, "decode_zipmap"); }

/* ---------------------------------------------------------------------------------------- */
/* the record loop (reader.RdbReader.iter_records, key records only)                         */

/* STOP: the record cannot be read here (bytes missing, damage, or something left to Python) */
enum { GO = 0, STOP = 1, FAIL = -1 };

typedef struct {
    const uint8_t *buf;
    Py_ssize_t len;
    Py_ssize_t pos;
    int starved; /* a read ran past the end of buf: more bytes might let it through */
} cur_t;

/* n more bytes available at pos? */
static inline int
have(cur_t *c, uint64_t n)
{
    if (n <= (uint64_t)(c->len - c->pos))
        return 1;
    c->starved = 1;
    return 0;
}

/* RdbReader._read_len */
static inline int
c_len(cur_t *c, uint64_t *out)
{
    unsigned b;
    if (!have(c, 1))
        return STOP;
    b = c->buf[c->pos];
    switch (b >> 6) {
    case 0:
        *out = b;
        c->pos += 1;
        return GO;
    case 1:
        if (!have(c, 2))
            return STOP;
        *out = ((uint64_t)(b & 0x3F) << 8) | c->buf[c->pos + 1];
        c->pos += 2;
        return GO;
    default:
        if (b == 0x80) {
            if (!have(c, 5))
                return STOP;
            *out = rd32be(c->buf + c->pos + 1);
            c->pos += 5;
            return GO;
        }
        if (b == 0x81) {
            if (!have(c, 9))
                return STOP;
            *out = rd64be(c->buf + c->pos + 1);
            c->pos += 9;
            return GO;
        }
        return STOP;
    }
}


/* The raw bytes of a string (RdbReader._read_string without building an object).  LZF strings
 * are expanded into *heap (PyMem), which the caller frees.  Integer encodings: *is_int set. */
typedef struct {
    const uint8_t *p;
    Py_ssize_t n;
    int is_int;
    long long v;
    uint8_t *heap;
} sref_t;

static int
c_string_ref(cur_t *c, sref_t *s)
{
    unsigned b;
    s->heap = NULL;
    s->is_int = 0;
    if (!have(c, 1))
        return STOP;
    b = c->buf[c->pos];
    if (b < 0x40) {
        if (!have(c, 1 + (uint64_t)b))
            return STOP;
        s->p = c->buf + c->pos + 1;
        s->n = b;
        c->pos += 1 + b;
        return GO;
    }
    if (b < 0xC0) {
        uint64_t n;
        if (c_len(c, &n) != GO || !have(c, n))
            return STOP;
        s->p = c->buf + c->pos;
        s->n = (Py_ssize_t)n;
        c->pos += (Py_ssize_t)n;
        return GO;
    }
    switch (b & 0x3F) {
    case 0:
        if (!have(c, 2))
            return STOP;
        s->is_int = 1;
        s->v = (int8_t)c->buf[c->pos + 1];
        c->pos += 2;
        return GO;
    case 1:
        if (!have(c, 3))
            return STOP;
        s->is_int = 1;
        s->v = (int16_t)rd16le(c->buf + c->pos + 1);
        c->pos += 3;
        return GO;
    case 2:
        if (!have(c, 5))
            return STOP;
        s->is_int = 1;
        s->v = (int32_t)rd32le(c->buf + c->pos + 1);
        c->pos += 5;
        return GO;
    case 3: {
        uint64_t clen, ulen;
        Py_ssize_t outlen;
        err_t e;
        c->pos += 1;
        if (c_len(c, &clen) != GO || c_len(c, &ulen) != GO || !have(c, clen))
            return STOP;
        if (ulen > (uint64_t)lzf_max_output((Py_ssize_t)clen))
            return STOP; /* cannot expand that far: an error */
        s->heap = PyMem_Malloc(ulen ? (size_t)ulen : 1);
        if (s->heap == NULL) {
            PyErr_NoMemory();
            return FAIL;
        }
        if (lzf_walk(c->buf + c->pos, (Py_ssize_t)clen, s->heap, (long long)ulen, -1, &outlen,
                     &e) != OK) {
            PyMem_Free(s->heap);
            s->heap = NULL;
            return STOP;
        }
        s->p = s->heap;
        s->n = outlen;
        c->pos += (Py_ssize_t)clen;
        return GO;
    }
    default:
        return STOP;
    }
}

/* RdbReader._read_string */
static int
c_string(cur_t *c, PyObject **out)
{
    unsigned b;
    if (!have(c, 1))
        return STOP;
    b = c->buf[c->pos];
    if (b < 0x40) { /* the common case, inline */
        if (!have(c, 1 + (uint64_t)b))
            return STOP;
        *out = PyBytes_FromStringAndSize((const char *)c->buf + c->pos + 1, b);
        if (*out == NULL)
            return FAIL;
        c->pos += 1 + b;
        return GO;
    }
    if (b == 0xC3) { /* LZF: expand straight into the bytes object */
        uint64_t clen, ulen;
        Py_ssize_t outlen, save = c->pos;
        err_t e;
        c->pos += 1;
        if (c_len(c, &clen) != GO || c_len(c, &ulen) != GO || !have(c, clen)
            || ulen > (uint64_t)lzf_max_output((Py_ssize_t)clen)) {
            c->pos = save;
            return STOP;
        }
        *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)ulen);
        if (*out == NULL)
            return FAIL;
        if (lzf_walk(c->buf + c->pos, (Py_ssize_t)clen, (uint8_t *)PyBytes_AS_STRING(*out),
                     (long long)ulen, -1, &outlen, &e) != OK) {
            Py_CLEAR(*out);
            c->pos = save;
            return STOP;
        }
        c->pos += (Py_ssize_t)clen;
        return GO;
    }
    {
        sref_t s;
        int rc = c_string_ref(c, &s);
        if (rc != GO)
            return rc;
        *out = s.is_int ? int_text(s.v) : PyBytes_FromStringAndSize((const char *)s.p, s.n);
        return *out == NULL ? FAIL : GO;
    }
}

/* RdbReader._skip_string: the decoded length */
static int
c_skip_string(cur_t *c, uint64_t *len)
{
    unsigned b;
    if (!have(c, 1))
        return STOP;
    b = c->buf[c->pos];
    if (b < 0xC0) {
        uint64_t n;
        if (c_len(c, &n) != GO || !have(c, n))
            return STOP;
        c->pos += (Py_ssize_t)n;
        *len = n;
        return GO;
    }
    if ((b & 0x3F) == 3) {
        uint64_t clen, ulen;
        c->pos += 1;
        if (c_len(c, &clen) != GO || c_len(c, &ulen) != GO || !have(c, clen))
            return STOP;
        c->pos += (Py_ssize_t)clen;
        *len = ulen;
        return GO;
    }
    {
        sref_t s;
        char tmp[24];
        int rc = c_string_ref(c, &s);
        if (rc != GO)
            return rc;
        *len = (uint64_t)fmt_int(tmp, s.v); /* only integer encodings get here */
        return GO;
    }
}

/* scores: RdbReader._read_binary_double / _read_ascii_double, reader._score */
static int
c_score(cur_t *c, int binary, PyObject **out)
{
    if (binary) {
        double d;
        if (!have(c, 8))
            return STOP;
        memcpy(&d, c->buf + c->pos, 8);
        c->pos += 8;
        *out = PyFloat_FromDouble(d);
        return *out == NULL ? FAIL : GO;
    }
    else {
        unsigned n;
        PyObject *text;
        if (!have(c, 1))
            return STOP;
        n = c->buf[c->pos];
        if (n >= 253) {
            c->pos += 1;
            *out = PyFloat_FromDouble(n == 253 ? Py_NAN : n == 254 ? Py_HUGE_VAL : -Py_HUGE_VAL);
            return *out == NULL ? FAIL : GO;
        }
        if (!have(c, 1 + n))
            return STOP;
        text = PyBytes_FromStringAndSize((const char *)c->buf + c->pos + 1, n);
        if (text == NULL)
            return FAIL;
        *out = PyFloat_FromString(text);
        Py_DECREF(text);
        if (*out == NULL) {
            PyErr_Clear(); /* Python reports it */
            return STOP;
        }
        c->pos += 1 + n;
        return GO;
    }
}

static PyObject *
item_score(const item_t *x)
{
    PyObject *text, *f;
    if (x->s == NULL)
        return PyFloat_FromDouble((double)x->v);
    text = PyBytes_FromStringAndSize((const char *)x->s, x->len);
    if (text == NULL)
        return NULL;
    f = PyFloat_FromString(text);
    Py_DECREF(text);
    return f;
}

/* A blob string (RdbReader._read_blob): its bytes, owned by *heap when LZF-expanded.  Integer
 * encodings are left to Python (they never hold a valid blob). */
static int
c_blob(cur_t *c, const uint8_t **p, Py_ssize_t *n, uint8_t **heap)
{
    sref_t s;
    int rc = c_string_ref(c, &s);
    if (rc != GO)
        return rc;
    if (s.is_int)
        return STOP;
    *p = s.p;
    *n = s.n;
    *heap = s.heap;
    return GO;
}

enum { K_LISTPACK, K_ZIPLIST, K_INTSET, K_ZIPMAP };
static const walker_t walkers[] = {lp_walk, zl_walk, is_walk, zm_walk};
static const int head_sizes[] = {6, 10, 8, 0};

/* RdbReader._sized_blob: the element count from the blob header, expanding LZF blobs only as
 * far as the header, walking the blob only when the header does not know (65535). */
static int
c_sized_blob(cur_t *c, int kind, uint64_t *count)
{
    int head_size = head_sizes[kind];
    items_t it;
    err_t e;
    const uint8_t *p;
    Py_ssize_t n;
    uint8_t *heap = NULL;
    uint8_t head[8 + 264 + 8];
    int rc;
    long long cnt = -1;

    if (!have(c, 1))
        return STOP;
    if (c->buf[c->pos] == 0xC3) {
        uint64_t clen, ulen;
        Py_ssize_t outlen;
        c->pos += 1;
        if (c_len(c, &clen) != GO || c_len(c, &ulen) != GO || !have(c, clen))
            return STOP;
        if (ulen < (uint64_t)head_size || ulen > (uint64_t)lzf_max_output((Py_ssize_t)clen))
            return STOP; /* certainly an error (too short to hold a header, or cannot expand) */
        if (lzf_walk(c->buf + c->pos, (Py_ssize_t)clen, head, (long long)ulen, head_size, &outlen,
                     &e) != OK || outlen < head_size)
            return STOP;
        cnt = kind == K_LISTPACK ? (long long)rd16le(head + 4)
            : kind == K_ZIPLIST ? (long long)rd16le(head + 8) : (long long)rd32le(head + 4);
        if (kind != K_INTSET && cnt == 65535) {
            heap = PyMem_Malloc(ulen ? (size_t)ulen : 1);
            if (heap == NULL) {
                PyErr_NoMemory();
                return FAIL;
            }
            if (lzf_walk(c->buf + c->pos, (Py_ssize_t)clen, heap, (long long)ulen, -1, &outlen,
                         &e) != OK) {
                PyMem_Free(heap);
                return STOP;
            }
            p = heap;
            n = outlen;
            cnt = -1;
        }
        c->pos += (Py_ssize_t)clen;
        if (cnt >= 0) {
            *count = (uint64_t)cnt;
            return GO;
        }
    }
    else {
        rc = c_blob(c, &p, &n, &heap);
        if (rc != GO)
            return rc;
        if (n < head_size)
            return STOP; /* the walk would fail */
        cnt = kind == K_LISTPACK ? (long long)rd16le(p + 4)
            : kind == K_ZIPLIST ? (long long)rd16le(p + 8) : (long long)rd32le(p + 4);
        if (kind == K_INTSET || cnt != 65535) {
            *count = (uint64_t)cnt;
            return GO;
        }
    }
    /* walk it (heap is set only for LZF blobs) */
    items_init(&it);
    rc = walkers[kind](p, n, &it, &e);
    if (heap != NULL)
        PyMem_Free(heap);
    *count = (uint64_t)it.n;
    items_free(&it);
    if (rc == NOMEM)
        return FAIL;
    return rc == OK ? GO : STOP;
}

/* A blob's elements into `it` (the pointers may point into *heap, which the caller frees). */
static int
c_blob_items(cur_t *c, int kind, items_t *it, uint8_t **heap)
{
    const uint8_t *p;
    Py_ssize_t n;
    err_t e;
    int rc = c_blob(c, &p, &n, heap);
    if (rc != GO)
        return rc;
    it->n = 0;
    rc = walkers[kind](p, n, it, &e);
    if (rc == NOMEM)
        return FAIL;
    return rc == OK ? GO : STOP;
}

/* append the elements as text (reader._texts) */
static int
extend_texts(PyObject *list, const items_t *it)
{
    Py_ssize_t k;
    for (k = 0; k < it->n; k++) {
        PyObject *o = item_text(&it->a[k]);
        int r;
        if (o == NULL)
            return FAIL;
        r = PyList_Append(list, o);
        Py_DECREF(o);
        if (r < 0)
            return FAIL;
    }
    return GO;
}

static PyObject *
texts_list(const items_t *it)
{
    PyObject *list = PyList_New(it->n);
    Py_ssize_t k;
    if (list == NULL)
        return NULL;
    for (k = 0; k < it->n; k++) {
        PyObject *o = item_text(&it->a[k]);
        if (o == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, k, o);
    }
    return list;
}

/* RdbReader._pairs: (text, text) or (text, score); odd counts and bad scores: STOP */
static int
pairs_list(const items_t *it, int zset, PyObject **out)
{
    Py_ssize_t k, m;
    PyObject *list;
    if (it->n % 2)
        return STOP;
    m = it->n / 2;
    list = PyList_New(m);
    if (list == NULL)
        return FAIL;
    for (k = 0; k < m; k++) {
        PyObject *a, *b, *t;
        a = item_text(&it->a[2 * k]);
        if (a == NULL)
            goto fail;
        b = zset ? item_score(&it->a[2 * k + 1]) : item_text(&it->a[2 * k + 1]);
        if (b == NULL) {
            Py_DECREF(a);
            if (zset && PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyErr_Clear();
                Py_DECREF(list);
                return STOP;
            }
            goto fail;
        }
        t = PyTuple_New(2);
        if (t == NULL) {
            Py_DECREF(a);
            Py_DECREF(b);
            goto fail;
        }
        PyTuple_SET_ITEM(t, 0, a);
        PyTuple_SET_ITEM(t, 1, b);
        ATOMIC_TUPLE(t);
        PyList_SET_ITEM(list, k, t);
    }
    *out = list;
    return GO;
fail:
    Py_DECREF(list);
    return FAIL;
}

static int c_stream(cur_t *c, unsigned t, int decode, PyObject **out, uint64_t *length);

static int
type_handled(unsigned t)
{
    switch (t) {
    case 0: case 1: case 2: case 3: case 4: case 5:
    case 9: case 10: case 11: case 12: case 13: case 14:
    case 15: case 16: case 17: case 18: case 19: case 20: case 21:
        return 1;
    default:
        return 0;
    }
}

/* The value of a key record in full mode: *value and *length, or STOP/FAIL. */
static int
c_full_value(cur_t *c, unsigned t, PyObject **value, uint64_t *length)
{
    items_t it;
    uint8_t *heap = NULL;
    PyObject *list = NULL;
    uint64_t n, k;
    int rc = GO;

    switch (t) {
    case 0:
        rc = c_string(c, value);
        if (rc == GO)
            *length = (uint64_t)PyBytes_GET_SIZE(*value);
        return rc;
    case 15: case 19: case 21:
        return c_stream(c, t, 1, value, length);
    case 1: case 2: /* N strings */
    case 4:         /* N (field, value) */
    case 3: case 5: /* N (member, score) */
        if ((rc = c_len(c, &n)) != GO)
            return rc;
        if (!have(c, n))
            return STOP; /* every element takes at least one byte */
        list = PyList_New((Py_ssize_t)n);
        if (list == NULL)
            return FAIL;
        for (k = 0; k < n; k++) {
            PyObject *a, *b, *tup;
            if ((rc = c_string(c, &a)) != GO)
                goto out;
            if (t == 1 || t == 2) {
                PyList_SET_ITEM(list, (Py_ssize_t)k, a);
                continue;
            }
            rc = t == 4 ? c_string(c, &b) : c_score(c, t == 5, &b);
            if (rc != GO) {
                Py_DECREF(a);
                goto out;
            }
            tup = PyTuple_New(2);
            if (tup == NULL) {
                Py_DECREF(a);
                Py_DECREF(b);
                rc = FAIL;
                goto out;
            }
            PyTuple_SET_ITEM(tup, 0, a);
            PyTuple_SET_ITEM(tup, 1, b);
            ATOMIC_TUPLE(tup);
            PyList_SET_ITEM(list, (Py_ssize_t)k, tup);
        }
        *value = list;
        *length = n;
        return GO;
    default:
        break;
    }

    items_init(&it);
    switch (t) {
    case 9: { /* zipmap: list(zip(elements[::2], elements[1::2])) */
        Py_ssize_t m, j;
        if ((rc = c_blob_items(c, K_ZIPMAP, &it, &heap)) != GO)
            break;
        m = it.n / 2;
        list = PyList_New(m);
        if (list == NULL) {
            rc = FAIL;
            break;
        }
        for (j = 0; j < m; j++) {
            PyObject *tup = Py_BuildValue("(y#y#)", it.a[2 * j].s, it.a[2 * j].len,
                                          it.a[2 * j + 1].s, it.a[2 * j + 1].len);
            if (tup == NULL) {
                rc = FAIL;
                break;
            }
            ATOMIC_TUPLE(tup);
            PyList_SET_ITEM(list, j, tup);
        }
        break;
    }
    case 10: case 11: case 20: /* ziplist list, intset, listpack set: texts */
        rc = c_blob_items(c, t == 10 ? K_ZIPLIST : t == 11 ? K_INTSET : K_LISTPACK, &it, &heap);
        if (rc == GO && (list = texts_list(&it)) == NULL)
            rc = FAIL;
        break;
    case 12: case 13: case 16: case 17: /* pairs */
        rc = c_blob_items(c, t <= 13 ? K_ZIPLIST : K_LISTPACK, &it, &heap);
        if (rc == GO)
            rc = pairs_list(&it, t == 12 || t == 17, &list);
        break;
    case 14: case 18: { /* quicklist v1 (ziplist nodes), v2 (listpack or plain nodes) */
        uint64_t nodes;
        if ((rc = c_len(c, &nodes)) != GO)
            break;
        if (!have(c, nodes)) {
            rc = STOP;
            break;
        }
        list = PyList_New(0);
        if (list == NULL) {
            rc = FAIL;
            break;
        }
        for (k = 0; k < nodes; k++) {
            if (t == 18) {
                uint64_t container;
                if ((rc = c_len(c, &container)) != GO)
                    break;
                if (container == 1) {
                    PyObject *s;
                    if ((rc = c_string(c, &s)) != GO)
                        break;
                    if (PyList_Append(list, s) < 0)
                        rc = FAIL;
                    Py_DECREF(s);
                    if (rc != GO)
                        break;
                    continue;
                }
                if (container != 2) {
                    rc = STOP;
                    break;
                }
            }
            if (k == 0 && nodes == 1) {
                /* one node: build the list at its final size */
                rc = c_blob_items(c, t == 18 ? K_LISTPACK : K_ZIPLIST, &it, &heap);
                if (rc == GO) {
                    Py_DECREF(list);
                    if ((list = texts_list(&it)) == NULL)
                        rc = FAIL;
                }
            }
            else {
                rc = c_blob_items(c, t == 18 ? K_LISTPACK : K_ZIPLIST, &it, &heap);
                if (rc == GO)
                    rc = extend_texts(list, &it);
            }
            if (heap != NULL) {
                PyMem_Free(heap);
                heap = NULL;
            }
            if (rc != GO)
                break;
        }
        break;
    }
    default:
        rc = STOP;
    }
    if (heap != NULL)
        PyMem_Free(heap);
    items_free(&it);
    if (rc == GO) {
        *value = list;
        *length = (uint64_t)PyList_GET_SIZE(list);
        return GO;
    }
out:
    Py_XDECREF(list);
    return rc;
}

/* The element count of a key record in sizes mode (the reader's read_size decoders). */
static int
c_size_value(cur_t *c, unsigned t, uint64_t *length)
{
    uint64_t n, k, len, count;
    int rc;
    switch (t) {
    case 0:
        return c_skip_string(c, length);
    case 15: case 19: case 21: {
        PyObject *stream;
        rc = c_stream(c, t, 0, &stream, length);
        if (rc == GO)
            Py_DECREF(stream);
        return rc;
    }
    case 1: case 2: case 4:
        if ((rc = c_len(c, &n)) != GO)
            return rc;
        if (!have(c, n))
            return STOP;
        for (k = 0; k < (t == 4 ? 2 * n : n); k++)
            if ((rc = c_skip_string(c, &len)) != GO)
                return rc;
        *length = n;
        return GO;
    case 3: case 5: /* members and scores are read (and checked) as in full mode */
        if ((rc = c_len(c, &n)) != GO)
            return rc;
        if (!have(c, n))
            return STOP;
        for (k = 0; k < n; k++) {
            PyObject *a, *b;
            if ((rc = c_string(c, &a)) != GO)
                return rc;
            Py_DECREF(a);
            if ((rc = c_score(c, t == 5, &b)) != GO)
                return rc;
            Py_DECREF(b);
        }
        *length = n;
        return GO;
    case 9: {
        items_t it;
        uint8_t *heap = NULL;
        items_init(&it);
        rc = c_blob_items(c, K_ZIPMAP, &it, &heap);
        *length = (uint64_t)(it.n / 2);
        if (heap != NULL)
            PyMem_Free(heap);
        items_free(&it);
        return rc;
    }
    case 10:
        return c_sized_blob(c, K_ZIPLIST, length);
    case 11:
        return c_sized_blob(c, K_INTSET, length);
    case 20:
        return c_sized_blob(c, K_LISTPACK, length);
    case 12: case 13: case 16: case 17:
        rc = c_sized_blob(c, t <= 13 ? K_ZIPLIST : K_LISTPACK, &count);
        *length = count / 2;
        return rc;
    case 14: case 18:
        if ((rc = c_len(c, &n)) != GO)
            return rc;
        if (!have(c, n))
            return STOP;
        *length = 0;
        for (k = 0; k < n; k++) {
            if (t == 18) {
                uint64_t container;
                if ((rc = c_len(c, &container)) != GO)
                    return rc;
                if (container == 1) {
                    if ((rc = c_skip_string(c, &len)) != GO)
                        return rc;
                    *length += 1;
                    continue;
                }
                if (container != 2)
                    return STOP;
            }
            if ((rc = c_sized_blob(c, t == 18 ? K_LISTPACK : K_ZIPLIST, &count)) != GO)
                return rc;
            *length += count;
        }
        return GO;
    default:
        return STOP;
    }
}

/* a model object from its fields in order (new references, stolen; NULLs allowed, then the
 * others are released and NULL is returned) */
static PyObject *
make(slotclass_t *cls, PyObject **fields)
{
    PyObject *o = NULL;
    int k;
    for (k = 0; k < cls->nfields; k++)
        if (fields[k] == NULL)
            goto done;
    if (cls->direct) {
        o = cls->type->tp_alloc(cls->type, 0);
        if (o != NULL) {
            for (k = 0; k < cls->nfields; k++)
                *(PyObject **)((char *)o + cls->offsets[k]) = fields[k];
            return o;
        }
    }
    else {
        o = PyObject_Vectorcall((PyObject *)cls->type, fields, cls->nfields, NULL);
    }
done:
    for (k = 0; k < cls->nfields; k++)
        Py_XDECREF(fields[k]);
    return o;
}

/* obj.<field k> = value (new reference, stolen) */
static int
make_set(slotclass_t *cls, PyObject *obj, int k, PyObject *value)
{
    int r;
    if (cls->direct) {
        PyObject **slot = (PyObject **)((char *)obj + cls->offsets[k]);
        PyObject *old = *slot;
        *slot = value;
        Py_XDECREF(old);
        return 0;
    }
    r = PyObject_SetAttrString(obj, cls->fields[k], value);
    Py_DECREF(value);
    return r;
}

/* -- streams (RdbReader._read_stream, _read_stream_group, reader._stream_node_entries) ---- */

static PyObject *
id_tuple(uint64_t ms, uint64_t seq)
{
    PyObject *a = PyLong_FromUnsignedLongLong(ms), *b, *t;
    if (a == NULL)
        return NULL;
    b = PyLong_FromUnsignedLongLong(seq);
    if (b == NULL) {
        Py_DECREF(a);
        return NULL;
    }
    t = PyTuple_New(2);
    if (t == NULL) {
        Py_DECREF(a);
        Py_DECREF(b);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, a);
    PyTuple_SET_ITEM(t, 1, b);
    ATOMIC_TUPLE(t);
    return t;
}

static int
c_id_lens(cur_t *c, PyObject **out)
{
    uint64_t ms, seq;
    int rc;
    if ((rc = c_len(c, &ms)) != GO || (rc = c_len(c, &seq)) != GO)
        return rc;
    *out = id_tuple(ms, seq);
    return *out == NULL ? FAIL : GO;
}

static int
c_i64(cur_t *c, long long *v)
{
    if (!have(c, 8))
        return STOP;
    *v = (long long)rd64le(c->buf + c->pos);
    c->pos += 8;
    return GO;
}

static int
c_raw_id(cur_t *c, PyObject **out)
{
    if (!have(c, 16))
        return STOP;
    *out = id_tuple(rd64be(c->buf + c->pos), rd64be(c->buf + c->pos + 8));
    c->pos += 16;
    return *out == NULL ? FAIL : GO;
}

/* The live entries of one node listpack, appended to `out`.  Anything the Python code would
 * reject (or read in an odd way: negative counts) is STOP. */
static int
node_entries(const items_t *it, uint64_t master_ms, uint64_t master_seq, PyObject *out)
{
    Py_ssize_t n = it->n, i, j;
    long long nmf;
    PyObject *master_fields = NULL;
    int rc = GO;
    if (n < 4 || it->a[2].s != NULL)
        return STOP;
    nmf = it->a[2].v;
    if (nmf < 0 || nmf > n - 4)
        return STOP;
    if (it->a[3 + nmf].s != NULL || it->a[3 + nmf].v != 0)
        return STOP;
    master_fields = PyList_New((Py_ssize_t)nmf);
    if (master_fields == NULL)
        return FAIL;
    for (j = 0; j < nmf; j++) {
        PyObject *o = item_text(&it->a[3 + j]);
        if (o == NULL) {
            Py_DECREF(master_fields);
            return FAIL;
        }
        PyList_SET_ITEM(master_fields, j, o);
    }
    i = 4 + (Py_ssize_t)nmf;
    while (i < n) {
        long long flags;
        uint64_t ms, seq;
        Py_ssize_t count, fi, vi, step; /* fields at fi, values at vi, every `step` items */
        PyObject *pairs, *fields[2];
        if (i + 2 >= n || it->a[i].s || it->a[i + 1].s || it->a[i + 2].s) {
            rc = STOP;
            break;
        }
        flags = it->a[i].v;
        ms = master_ms + (uint64_t)it->a[i + 1].v;
        seq = master_seq + (uint64_t)it->a[i + 2].v;
        i += 3;
        if (flags & 2) { /* STREAM_ITEM_FLAG_SAMEFIELDS */
            if (i + nmf + 1 > n) {
                rc = STOP;
                break;
            }
            count = (Py_ssize_t)nmf;
            fi = -1;
            vi = i;
            step = 1;
            i += (Py_ssize_t)nmf;
        }
        else {
            if (i >= n || it->a[i].s != NULL || it->a[i].v < 0 || it->a[i].v > n) {
                rc = STOP;
                break;
            }
            count = (Py_ssize_t)it->a[i].v;
            i += 1;
            if (i + 2 * count + 1 > n) {
                rc = STOP;
                break;
            }
            fi = i;
            vi = i + 1;
            step = 2;
            i += 2 * count;
        }
        i += 1; /* lp-count */
        if (flags & 1) /* STREAM_ITEM_FLAG_DELETED */
            continue;
        pairs = PyList_New(count);
        if (pairs == NULL) {
            rc = FAIL;
            break;
        }
        for (j = 0; j < count; j++) {
            PyObject *f, *v, *t;
            if (fi < 0) {
                f = PyList_GET_ITEM(master_fields, j);
                Py_INCREF(f);
            }
            else if ((f = item_text(&it->a[fi + step * j])) == NULL) {
                rc = FAIL;
                break;
            }
            v = item_text(&it->a[vi + step * j]);
            t = v == NULL ? NULL : PyTuple_New(2);
            if (t == NULL) {
                Py_DECREF(f);
                Py_XDECREF(v);
                rc = FAIL;
                break;
            }
            PyTuple_SET_ITEM(t, 0, f);
            PyTuple_SET_ITEM(t, 1, v);
            ATOMIC_TUPLE(t);
            PyList_SET_ITEM(pairs, j, t);
        }
        if (rc != GO) {
            Py_DECREF(pairs);
            break;
        }
        fields[0] = id_tuple(ms, seq);
        fields[1] = pairs;
        {
            PyObject *entry = make(&C_StreamEntry, fields);
            if (entry == NULL || PyList_Append(out, entry) < 0) {
                Py_XDECREF(entry);
                rc = FAIL;
                break;
            }
            Py_DECREF(entry);
        }
    }
    Py_DECREF(master_fields);
    return rc;
}

static int
c_stream_group(cur_t *c, unsigned t, PyObject **out)
{
    PyObject *name = NULL, *last_id = NULL, *entries_read = NULL, *pending = NULL;
    PyObject *consumers = NULL, *fields[5];
    uint64_t n, k, m, j, u;
    int rc;
    if ((rc = c_string(c, &name)) != GO || (rc = c_id_lens(c, &last_id)) != GO)
        goto bad;
    if (t >= 19) {
        if ((rc = c_len(c, &u)) != GO)
            goto bad;
        entries_read = u == UINT64_MAX ? Py_NewRef(Py_None) : PyLong_FromUnsignedLongLong(u);
    }
    else {
        entries_read = Py_NewRef(Py_None);
    }
    if (entries_read == NULL || (pending = PyDict_New()) == NULL
        || (consumers = PyList_New(0)) == NULL) {
        rc = FAIL;
        goto bad;
    }
    if ((rc = c_len(c, &n)) != GO)
        goto bad;
    if (!have(c, n)) {
        rc = STOP;
        goto bad;
    }
    for (k = 0; k < n; k++) {
        PyObject *pid, *pe, *pf[4];
        long long delivery;
        uint64_t count;
        if ((rc = c_raw_id(c, &pid)) != GO)
            goto bad;
        if ((rc = c_i64(c, &delivery)) != GO || (rc = c_len(c, &count)) != GO) {
            Py_DECREF(pid);
            goto bad;
        }
        pf[0] = Py_NewRef(pid);
        pf[1] = Py_NewRef(Py_None);
        pf[2] = PyLong_FromLongLong(delivery);
        pf[3] = PyLong_FromUnsignedLongLong(count);
        pe = make(&C_StreamPending, pf);
        if (pe == NULL || PyDict_SetItem(pending, pid, pe) < 0) {
            Py_DECREF(pid);
            Py_XDECREF(pe);
            rc = FAIL;
            goto bad;
        }
        Py_DECREF(pid);
        Py_DECREF(pe);
    }
    if ((rc = c_len(c, &m)) != GO)
        goto bad;
    if (!have(c, m)) {
        rc = STOP;
        goto bad;
    }
    for (k = 0; k < m; k++) {
        PyObject *cname, *ids, *consumer, *cf[4];
        long long seen, active = 0;
        if ((rc = c_string(c, &cname)) != GO)
            goto bad;
        if ((rc = c_i64(c, &seen)) != GO || (t >= 21 && (rc = c_i64(c, &active)) != GO)
            || (rc = c_len(c, &n)) != GO) {
            Py_DECREF(cname);
            goto bad;
        }
        ids = NULL;
        if (!have(c, n))
            rc = STOP;
        else if ((ids = PyList_New(0)) == NULL)
            rc = FAIL;
        if (rc != GO) {
            Py_DECREF(cname);
            goto bad;
        }
        for (j = 0; j < n; j++) {
            PyObject *pid, *nack;
            if ((rc = c_raw_id(c, &pid)) != GO)
                break;
            nack = PyDict_GetItemWithError(pending, pid); /* borrowed */
            if (nack == NULL) {
                Py_DECREF(pid);
                rc = PyErr_Occurred() ? FAIL : STOP; /* not in the PEL: Python reports it */
                break;
            }
            if (make_set(&C_StreamPending, nack, 1, Py_NewRef(cname)) < 0
                || PyList_Append(ids, pid) < 0) {
                Py_DECREF(pid);
                rc = FAIL;
                break;
            }
            Py_DECREF(pid);
        }
        if (rc != GO) {
            Py_DECREF(cname);
            Py_DECREF(ids);
            goto bad;
        }
        cf[0] = cname;
        cf[1] = PyLong_FromLongLong(seen);
        cf[2] = t >= 21 ? PyLong_FromLongLong(active) : Py_NewRef(Py_None);
        cf[3] = ids;
        consumer = make(&C_StreamConsumer, cf);
        if (consumer == NULL || PyList_Append(consumers, consumer) < 0) {
            Py_XDECREF(consumer);
            rc = FAIL;
            goto bad;
        }
        Py_DECREF(consumer);
    }
    fields[0] = name;
    fields[1] = last_id;
    fields[2] = entries_read;
    fields[3] = PyDict_Values(pending);
    fields[4] = consumers;
    Py_DECREF(pending);
    *out = make(&C_StreamGroup, fields);
    return *out == NULL ? FAIL : GO;
bad:
    Py_XDECREF(name);
    Py_XDECREF(last_id);
    Py_XDECREF(entries_read);
    Py_XDECREF(pending);
    Py_XDECREF(consumers);
    return rc;
}

/* types 15, 19, 21; with decode == 0 (sizes) the node listpacks are skipped unread */
static int
c_stream(cur_t *c, unsigned t, int decode, PyObject **out, uint64_t *length)
{
    PyObject *entries, *f[7] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    uint64_t nodes, k, u, ngroups;
    items_t it;
    int rc = GO;
    items_init(&it);
    if ((entries = PyList_New(0)) == NULL)
        return FAIL;
    if ((rc = c_len(c, &nodes)) != GO)
        goto bad;
    if (!have(c, nodes)) {
        rc = STOP;
        goto bad;
    }
    for (k = 0; k < nodes; k++) {
        sref_t key;
        uint64_t master_ms, master_seq, skipped;
        uint8_t *heap = NULL;
        if ((rc = c_string_ref(c, &key)) != GO)
            goto bad;
        if (key.is_int || key.n != 16) {
            if (key.heap != NULL)
                PyMem_Free(key.heap);
            rc = STOP;
            goto bad;
        }
        master_ms = rd64be(key.p);
        master_seq = rd64be(key.p + 8);
        if (key.heap != NULL)
            PyMem_Free(key.heap);
        if (!decode) {
            if ((rc = c_skip_string(c, &skipped)) != GO)
                goto bad;
            continue;
        }
        rc = c_blob_items(c, K_LISTPACK, &it, &heap);
        if (rc == GO)
            rc = node_entries(&it, master_ms, master_seq, entries);
        if (heap != NULL)
            PyMem_Free(heap);
        if (rc != GO)
            goto bad;
    }
    if ((rc = c_len(c, length)) != GO || (rc = c_id_lens(c, &f[2])) != GO)
        goto bad;
    f[1] = PyLong_FromUnsignedLongLong(*length);
    if (t >= 19) {
        if ((rc = c_id_lens(c, &f[3])) != GO || (rc = c_id_lens(c, &f[4])) != GO
            || (rc = c_len(c, &u)) != GO)
            goto bad;
        f[5] = PyLong_FromUnsignedLongLong(u);
    }
    else {
        /* RDB stream v1: derived as Redis 7 does on load */
        if (PyList_GET_SIZE(entries)) {
            PyObject *first = PyList_GET_ITEM(entries, 0);
            f[3] = C_StreamEntry.direct ? Py_NewRef(*(PyObject **)((char *)first + C_StreamEntry.offsets[0]))
                                        : PyObject_GetAttrString(first, "id");
        }
        else {
            f[3] = id_tuple(0, 0);
        }
        f[4] = id_tuple(0, 0);
        f[5] = PyLong_FromUnsignedLongLong(*length);
    }
    if (!f[1] || !f[3] || !f[4] || !f[5] || (f[6] = PyList_New(0)) == NULL) {
        rc = FAIL;
        goto bad;
    }
    if ((rc = c_len(c, &ngroups)) != GO)
        goto bad;
    if (!have(c, ngroups)) {
        rc = STOP;
        goto bad;
    }
    for (k = 0; k < ngroups; k++) {
        PyObject *g;
        if ((rc = c_stream_group(c, t, &g)) != GO)
            goto bad;
        if (PyList_Append(f[6], g) < 0) {
            Py_DECREF(g);
            rc = FAIL;
            goto bad;
        }
        Py_DECREF(g);
    }
    items_free(&it);
    f[0] = entries;
    *out = make(&C_Stream, f);
    return *out == NULL ? FAIL : GO;
bad:
    items_free(&it);
    Py_DECREF(entries);
    for (k = 1; k < 7; k++)
        Py_XDECREF(f[k]);
    return rc;
}

#ifndef NO_GC_IN_BATCH
#define NO_GC_IN_BATCH 1
#endif
#ifndef MAX_BATCH
#define MAX_BATCH 64
#endif

/* raw_types (an iterable of type codes, or None) as a 256-entry mask: 0 ok, -1 error */
static int
raw_mask(PyObject *raw_types, unsigned char *mask)
{
    PyObject *it, *item;
    memset(mask, 0, 256);
    if (raw_types == Py_None)
        return 0;
    it = PyObject_GetIter(raw_types);
    if (it == NULL)
        return -1;
    while ((item = PyIter_Next(it)) != NULL) {
        long code = PyLong_AsLong(item);
        Py_DECREF(item);
        if (code == -1 && PyErr_Occurred())
            break;
        if (code >= 0 && code < 256)
            mask[code] = 1;
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* read_records(buf, pos, base, db, sizes, expire, idle, freq, record_start[, raw_types])
 *   -> (entries, pos, expire, idle, freq, record_start, starved)
 *
 * Reads the key records (with their EXPIRETIME/EXPIRETIME_MS/IDLE/FREQ opcodes) that lie
 * completely in buf[pos:], at most MAX_BATCH of them, stopping at the first opcode of anything
 * else (or a record it cannot read) with the pending per-key state as the Python loop keeps it.
 * `starved`: it stopped because the record at pos runs past the end of buf (a larger buffer may
 * let it through).  Values of the type codes in `raw_types` are read as in sizes mode and kept
 * as RawValue(the bytes after the key), as the Python loop's raw_types does. */
static PyObject *
sp_read_records(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *bufobj, *entries, *res;
    Py_ssize_t pos;
    long long base, rs = 0, expire = 0;
    uint64_t idle = 0;
    unsigned freq = 0;
    int sizes, has_rs, has_expire, has_idle, has_freq, rc = GO, gc_was_on;
    PyObject *dbobj;
    cur_t c;
    unsigned char raw[256];

    if (nargs != 9 && nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "read_records() takes 9 or 10 arguments");
        return NULL;
    }
    if (raw_mask(nargs == 10 ? args[9] : Py_None, raw) < 0)
        return NULL;
    bufobj = args[0];
    if (!PyBytes_CheckExact(bufobj)) {
        PyErr_SetString(PyExc_TypeError, "read_records() needs a bytes buffer");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    base = PyLong_AsLongLong(args[2]);
    sizes = PyObject_IsTrue(args[4]);
    if (PyErr_Occurred())
        return NULL;
    dbobj = args[3]; /* any int: SELECTDB takes a 64-bit length */
    has_expire = args[5] != Py_None;
    has_idle = args[6] != Py_None;
    has_freq = args[7] != Py_None;
    has_rs = args[8] != Py_None;
    if (has_expire)
        expire = PyLong_AsLongLong(args[5]);
    if (has_idle)
        idle = PyLong_AsUnsignedLongLong(args[6]);
    if (has_freq)
        freq = (unsigned)PyLong_AsUnsignedLong(args[7]);
    if (has_rs)
        rs = PyLong_AsLongLong(args[8]);
    if (PyErr_Occurred())
        return NULL;

    c.buf = (const uint8_t *)PyBytes_AS_STRING(bufobj);
    c.len = PyBytes_GET_SIZE(bufobj);
    if (pos < 0 || pos > c.len) {
        PyErr_SetString(PyExc_ValueError, "read_records(): position outside the buffer");
        return NULL;
    }
    entries = PyList_New(0);
    if (entries == NULL)
        return NULL;

    gc_was_on = NO_GC_IN_BATCH ? PyGC_Disable() : 0;
    c.starved = 0;
    for (;;) {
        unsigned op;
        long long start;
        if (pos >= c.len) {
            c.starved = 1;
            break;
        }
        if (PyList_GET_SIZE(entries) >= MAX_BATCH) {
            c.starved = 0;
            break;
        }
        op = c.buf[pos];
        start = has_rs ? rs : base + pos;
        c.pos = pos + 1;
        c.starved = 0;
        if (op < 0xF0) {
            PyObject *key, *value = Py_None, *fields[ENTRY_NFIELDS], *entry;
            uint64_t length = 0;
            if (!type_handled(op))
                break;
            if ((rc = c_string(&c, &key)) != GO)
                break;
            if (raw[op]) {
                Py_ssize_t value_start = c.pos;
                rc = c_size_value(&c, op, &length);
                if (rc == GO) {
                    PyObject *data = PyBytes_FromStringAndSize(
                        (const char *)c.buf + value_start, c.pos - value_start);
                    value = make(&C_RawValue, &data);
                    if (value == NULL)
                        rc = FAIL;
                }
            }
            else if (sizes) {
                rc = c_size_value(&c, op, &length);
                Py_INCREF(Py_None);
            }
            else {
                rc = c_full_value(&c, op, &value, &length);
            }
            if (rc != GO) {
                Py_DECREF(key);
                if (sizes && !raw[op])
                    Py_DECREF(Py_None);
                break;
            }
            Py_INCREF(dbobj);
            Py_INCREF(type_names[op]);
            fields[0] = dbobj;
            fields[1] = key;
            fields[2] = type_names[op];
            fields[3] = value;
            fields[4] = has_expire ? PyLong_FromLongLong(expire) : Py_NewRef(Py_None);
            fields[5] = PyLong_FromLong((long)op);
            fields[6] = has_idle ? PyLong_FromUnsignedLongLong(idle) : Py_NewRef(Py_None);
            fields[7] = has_freq ? PyLong_FromLong((long)freq) : Py_NewRef(Py_None);
            fields[8] = Py_NewRef(Py_None);
            fields[9] = PyLong_FromUnsignedLongLong(length);
            fields[10] = PyLong_FromLongLong(start);
            fields[11] = PyLong_FromLongLong(base + c.pos - start);
            entry = make(&C_Entry, fields);
            if (entry == NULL) {
                rc = FAIL;
                break;
            }
            if (PyList_Append(entries, entry) < 0) {
                Py_DECREF(entry);
                rc = FAIL;
                break;
            }
            Py_DECREF(entry);
            has_expire = has_idle = has_freq = has_rs = 0;
            pos = c.pos;
            continue;
        }
        if (op == 0xFC) { /* EXPIRETIME_MS */
            if (!have(&c, 8))
                break;
            expire = (long long)rd64le(c.buf + c.pos);
            c.pos += 8;
            has_expire = 1;
        }
        else if (op == 0xFD) { /* EXPIRETIME (seconds) */
            if (!have(&c, 4))
                break;
            expire = (long long)(int32_t)rd32le(c.buf + c.pos) * 1000;
            c.pos += 4;
            has_expire = 1;
        }
        else if (op == 0xF8) { /* IDLE */
            if (c_len(&c, &idle) != GO)
                break;
            has_idle = 1;
        }
        else if (op == 0xF9) { /* FREQ */
            if (!have(&c, 1))
                break;
            freq = c.buf[c.pos];
            c.pos += 1;
            has_freq = 1;
        }
        else {
            break;
        }
        rs = start;
        has_rs = 1;
        pos = c.pos;
    }
    if (gc_was_on)
        PyGC_Enable();
    if (rc == FAIL) {
        Py_DECREF(entries);
        return NULL;
    }
    res = PyTuple_New(7);
    if (res == NULL) {
        Py_DECREF(entries);
        return NULL;
    }
    PyTuple_SET_ITEM(res, 0, entries);
    PyTuple_SET_ITEM(res, 1, PyLong_FromSsize_t(pos));
    PyTuple_SET_ITEM(res, 2, has_expire ? PyLong_FromLongLong(expire) : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(res, 3, has_idle ? PyLong_FromUnsignedLongLong(idle) : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(res, 4, has_freq ? PyLong_FromLong((long)freq) : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(res, 5, has_rs ? PyLong_FromLongLong(rs) : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(res, 6, PyBool_FromLong(c.starved));
    for (int k = 1; k < 7; k++) {
        if (PyTuple_GET_ITEM(res, k) == NULL) {
            Py_DECREF(res);
            return NULL;
        }
    }
    return res;
}

/* ---------------------------------------------------------------------------------------- */
/* RESP output of one key: the same bytes as rdbtools.output.commands (entry_to_commands + encode_resp)
 * for strings, lists, sets, sorted sets and hashes.  Returns None for anything else (streams,
 * modules, lazily read values, NaN scores, unexpected Python types): the caller then takes the
 * Python path, which also raises the errors.                                                  */

typedef struct {
    char *data;
    size_t len, cap;
} rbuf_t;

static int
rb_reserve(rbuf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *d = PyMem_Realloc(b->data, cap);
    if (d == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

/* decimal digits of v at o; returns the number written */
static int
put_u64(char *o, unsigned long long v)
{
    char tmp[20];
    int n = 0, i;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        o[i] = tmp[n - 1 - i];
    return n;
}

static int
rb_header(rbuf_t *b, char kind, Py_ssize_t n)
{
    if (rb_reserve(b, 32) < 0)
        return -1;
    char *o = b->data + b->len;
    *o++ = kind;
    o += put_u64(o, (unsigned long long)n);
    *o++ = '\r';
    *o++ = '\n';
    b->len = (size_t)(o - b->data);
    return 0;
}

/* The renderers (RESP and JSON) return 0, -1 with a Python error set, or RENDER_FALLBACK when
 * the value is outside what they check for: the Python path then renders it. */
#define RENDER_FALLBACK 1

/* Run STEP; leave the function with its result unless it was 0 (OK). */
#define TRY(step)               \
    do {                        \
        int rc_ = (step);       \
        if (rc_ != 0)           \
            return rc_;         \
    } while (0)

/* the slots of a model object, when it is exactly that class and a plain slots dataclass */
static PyObject **
model_slots(PyObject *o, slotclass_t *cls, PyObject **out)
{
    int k;
    if (Py_TYPE(o) != cls->type || !cls->direct)
        return NULL;
    for (k = 0; k < cls->nfields; k++) {
        out[k] = *(PyObject **)((char *)o + cls->offsets[k]);
        if (out[k] == NULL) /* unset slot */
            return NULL;
    }
    return out;
}


static int
rb_bulk(rbuf_t *b, const char *data, Py_ssize_t n)
{
    if (rb_header(b, '$', n) < 0 || rb_reserve(b, (size_t)n + 2) < 0)
        return -1;
    memcpy(b->data + b->len, data, (size_t)n);
    b->len += (size_t)n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
    return 0;
}

static int
rb_bulk_obj(rbuf_t *b, PyObject *o)
{
    return rb_bulk(b, PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o));
}

/* decimal text of a signed 64-bit integer at o; returns the number of bytes written */
static int
put_ll(char *o, long long v)
{
    if (v >= 0)
        return put_u64(o, (unsigned long long)v);
    *o = '-';
    return 1 + put_u64(o + 1, 0ULL - (unsigned long long)v);
}

static int
rb_bulk_ll(rbuf_t *b, long long v)
{
    char tmp[24];
    return rb_bulk(b, tmp, put_ll(tmp, v));
}

/* a Python int that fits 64 bits (signed or unsigned) as a bulk string */
static int
rb_bulk_int(rbuf_t *b, PyObject *o)
{
    char tmp[24];
    int overflow = 0;
    if (!PyLong_CheckExact(o))
        return RENDER_FALLBACK;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(o);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            return RENDER_FALLBACK;
        }
        return rb_bulk(b, tmp, put_u64(tmp, u));
    }
    if (overflow < 0)
        return RENDER_FALLBACK;
    if (v == -1 && PyErr_Occurred())
        return -1;
    return rb_bulk_ll(b, v);
}

/* a stream ID "<ms>-<seq>" (both unsigned 64-bit) into tmp; -1 when it is not one */
static int
put_stream_id(char *tmp, PyObject *id)
{
    if (!PyTuple_CheckExact(id) || PyTuple_GET_SIZE(id) != 2
        || !PyLong_CheckExact(PyTuple_GET_ITEM(id, 0)) || !PyLong_CheckExact(PyTuple_GET_ITEM(id, 1)))
        return -1;
    unsigned long long ms = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(id, 0));
    unsigned long long seq = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(id, 1));
    if (PyErr_Occurred()) { /* negative or beyond 64 bits: the Python path formats it */
        PyErr_Clear();
        return -1;
    }
    int n = put_u64(tmp, ms);
    tmp[n++] = '-';
    return n + put_u64(tmp + n, seq);
}

static int
rb_bulk_id(rbuf_t *b, PyObject *id)
{
    char tmp[48];
    int n = put_stream_id(tmp, id);
    return n < 0 ? RENDER_FALLBACK : rb_bulk(b, tmp, n);
}

/* command name and key of one command */
static int
rb_command(rbuf_t *b, Py_ssize_t argc, const char *name, PyObject *key)
{
    if (rb_header(b, '*', argc) < 0 || rb_bulk(b, name, (Py_ssize_t)strlen(name)) < 0)
        return -1;
    return key == NULL ? 0 : rb_bulk_obj(b, key); /* NULL: a subcommand comes next */
}

/* 1 when every item is bytes (or, with pairs, a 2-tuple as the model holds them) */
static int
items_ok(PyObject *list, int pairs, int second_is_float)
{
    Py_ssize_t i, n = PyList_GET_SIZE(list);
    for (i = 0; i < n; i++) {
        PyObject *it = PyList_GET_ITEM(list, i);
        if (!pairs) {
            if (!PyBytes_CheckExact(it))
                return 0;
            continue;
        }
        if (!PyTuple_CheckExact(it) || PyTuple_GET_SIZE(it) != 2
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(it, 0)))
            return 0;
        PyObject *second = PyTuple_GET_ITEM(it, 1);
        if (second_is_float ? !PyFloat_CheckExact(second) || isnan(PyFloat_AS_DOUBLE(second))
                            : !PyBytes_CheckExact(second))
            return 0;
    }
    return 1;
}

/* score_text(): shortest round-trip digits, integral values without ".0", inf/-inf */
static int
rb_score(rbuf_t *b, double score)
{
    if (isinf(score))
        return score > 0 ? rb_bulk(b, "inf", 3) : rb_bulk(b, "-inf", 4);
    char *text = PyOS_double_to_string(score, 'r', 0, 0, NULL);
    if (text == NULL)
        return -1;
    int rc = rb_bulk(b, text, (Py_ssize_t)strlen(text));
    PyMem_Free(text);
    return rc;
}

#define ITEMS_PER_CMD 64 /* AOF_REWRITE_ITEMS_PER_CMD */

static int
rb_batches(rbuf_t *b, const char *name, PyObject *key, PyObject *list, int kind)
{
    /* kind 0: single items; 1: (field, value) pairs; 2: (member, score) -> score member */
    Py_ssize_t i, j, n = PyList_GET_SIZE(list);
    for (i = 0; i < n; i += ITEMS_PER_CMD) {
        Py_ssize_t m = n - i < ITEMS_PER_CMD ? n - i : ITEMS_PER_CMD;
        if (rb_command(b, 2 + (kind ? 2 : 1) * m, name, key) < 0)
            return -1;
        for (j = i; j < i + m; j++) {
            PyObject *it = PyList_GET_ITEM(list, j);
            int rc;
            if (kind == 0)
                rc = rb_bulk_obj(b, it);
            else if (kind == 1)
                rc = rb_bulk_obj(b, PyTuple_GET_ITEM(it, 0)) < 0
                         ? -1 : rb_bulk_obj(b, PyTuple_GET_ITEM(it, 1));
            else
                rc = rb_score(b, PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(it, 1))) < 0
                         ? -1 : rb_bulk_obj(b, PyTuple_GET_ITEM(it, 0));
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

/* encode_resp(): one command as a RESP array of bulk strings */
static PyObject *
sp_encode_resp(PyObject *self, PyObject *args)
{
    rbuf_t b = {NULL, 0, 0};
    PyObject *seq = PySequence_Fast(args, "encode_resp() takes a list of bytes");
    if (seq == NULL)
        return NULL;
    Py_ssize_t i, n = PySequence_Fast_GET_SIZE(seq);
    int rc = rb_header(&b, '*', n);
    for (i = 0; rc == 0 && i < n; i++) {
        PyObject *a = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(a)) {
            PyErr_Format(PyExc_TypeError, "RESP arguments must be bytes, not %.80s",
                         Py_TYPE(a)->tp_name);
            rc = -1;
            break;
        }
        rc = rb_bulk_obj(&b, a);
    }
    Py_DECREF(seq);
    if (rc < 0) {
        PyMem_Free(b.data);
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    PyMem_Free(b.data);
    return out;
}

/* the XCLAIM of one pending entry: when and how often it was delivered */
static int
rb_xclaim(rbuf_t *b, PyObject *key, PyObject *group, PyObject *consumer, PyObject *id,
          PyObject *when, PyObject *count)
{
    TRY(rb_command(b, 12, "XCLAIM", key));
    TRY(rb_bulk_obj(b, group));
    TRY(rb_bulk_obj(b, consumer));
    TRY(rb_bulk(b, "0", 1));
    TRY(rb_bulk_id(b, id));
    TRY(rb_bulk(b, "TIME", 4));
    TRY(rb_bulk_int(b, when));
    TRY(rb_bulk(b, "RETRYCOUNT", 10));
    TRY(count == NULL ? rb_bulk(b, "1", 1) : rb_bulk_int(b, count));
    TRY(rb_bulk(b, "JUSTID", 6));
    return rb_bulk(b, "FORCE", 5);
}

/* One consumer group: XGROUP CREATE, then per consumer XGROUP CREATECONSUMER or one XCLAIM per
 * pending entry (the delivery time and count come from the group's PEL; an ID missing there
 * is claimed at the consumer's seen time, once). */
static int
rb_stream_group(rbuf_t *b, PyObject *key, PyObject *group, int v2)
{
    PyObject *g[5], *c[4], *p[4];
    Py_ssize_t i, j;
    if (!model_slots(group, &C_StreamGroup, g) || !PyBytes_CheckExact(g[0])
        || !PyList_CheckExact(g[3]) || !PyList_CheckExact(g[4]))
        return RENDER_FALLBACK;
    TRY(rb_command(b, v2 ? 7 : 5, "XGROUP", NULL));
    TRY(rb_bulk(b, "CREATE", 6));
    TRY(rb_bulk_obj(b, key));
    TRY(rb_bulk_obj(b, g[0]));
    TRY(rb_bulk_id(b, g[1]));
    if (v2) {
        TRY(rb_bulk(b, "ENTRIESREAD", 11));
        TRY(g[2] == Py_None ? rb_bulk(b, "-1", 2) : rb_bulk_int(b, g[2]));
    }
    PyObject *pel = NULL; /* id -> pending entry, built when a consumer has pending entries */
    int rc = 0;
    for (i = 0; rc == 0 && i < PyList_GET_SIZE(g[4]); i++) {
        if (!model_slots(PyList_GET_ITEM(g[4], i), &C_StreamConsumer, c) || !PyBytes_CheckExact(c[0])
            || !PyList_CheckExact(c[3])) {
            rc = RENDER_FALLBACK;
            break;
        }
        if (PyList_GET_SIZE(c[3]) == 0) {
            rc = rb_command(b, 5, "XGROUP", NULL);
            if (rc == 0)
                rc = rb_bulk(b, "CREATECONSUMER", 14);
            if (rc == 0)
                rc = rb_bulk_obj(b, key);
            if (rc == 0)
                rc = rb_bulk_obj(b, g[0]);
            if (rc == 0)
                rc = rb_bulk_obj(b, c[0]);
            continue;
        }
        if (pel == NULL) {
            pel = PyDict_New();
            for (j = 0; pel != NULL && j < PyList_GET_SIZE(g[3]); j++) {
                PyObject *nack = PyList_GET_ITEM(g[3], j);
                if (!model_slots(nack, &C_StreamPending, p)) {
                    rc = RENDER_FALLBACK;
                    break;
                }
                if (PyDict_SetItem(pel, p[0], nack) < 0) {
                    PyErr_Clear(); /* an unhashable ID: the Python path decides */
                    rc = RENDER_FALLBACK;
                    break;
                }
            }
            if (pel == NULL)
                rc = -1;
        }
        for (j = 0; rc == 0 && j < PyList_GET_SIZE(c[3]); j++) {
            PyObject *pid = PyList_GET_ITEM(c[3], j);
            PyObject *nack = PyDict_GetItemWithError(pel, pid);
            if (nack == NULL && PyErr_Occurred()) {
                PyErr_Clear();
                rc = RENDER_FALLBACK;
            }
            else if (nack != NULL) {
                model_slots(nack, &C_StreamPending, p);
                rc = rb_xclaim(b, key, g[0], c[0], pid, p[2], p[3]);
            }
            else
                rc = rb_xclaim(b, key, g[0], c[0], pid, c[1], NULL);
        }
    }
    Py_XDECREF(pel);
    return rc;
}

/* _stream_commands() in rdbtools/commands.py (rewriteStreamObject() in aof.c) */
static int
rb_stream(rbuf_t *b, PyObject *key, PyObject *stream, int v2)
{
    PyObject *f[7], *e[2];
    Py_ssize_t i, j;
    if (!model_slots(stream, &C_Stream, f) || !PyList_CheckExact(f[0]) || !PyList_CheckExact(f[6]))
        return RENDER_FALLBACK;
    Py_ssize_t n = PyList_GET_SIZE(f[0]);
    for (i = 0; i < n; i++) {
        if (!model_slots(PyList_GET_ITEM(f[0], i), &C_StreamEntry, e) || !PyList_CheckExact(e[1]))
            return RENDER_FALLBACK;
        Py_ssize_t nf = PyList_GET_SIZE(e[1]);
        if (!items_ok(e[1], 1, 0))
            return RENDER_FALLBACK;
        TRY(rb_command(b, 3 + 2 * nf, "XADD", key));
        TRY(rb_bulk_id(b, e[0]));
        for (j = 0; j < nf; j++) {
            PyObject *pair = PyList_GET_ITEM(e[1], j);
            TRY(rb_bulk_obj(b, PyTuple_GET_ITEM(pair, 0)));
            TRY(rb_bulk_obj(b, PyTuple_GET_ITEM(pair, 1)));
        }
    }
    if (n == 0) { /* the XADD MAXLEN 0 trick creates an empty stream */
        TRY(rb_command(b, 7, "XADD", key));
        TRY(rb_bulk(b, "MAXLEN", 6));
        TRY(rb_bulk(b, "0", 1));
        TRY(rb_bulk(b, "0-1", 3));
        TRY(rb_bulk(b, "x", 1));
        TRY(rb_bulk(b, "y", 1));
    }
    TRY(rb_command(b, v2 ? 7 : 3, "XSETID", key));
    TRY(rb_bulk_id(b, f[2]));
    if (v2) {
        TRY(rb_bulk(b, "ENTRIESADDED", 12));
        TRY(rb_bulk_int(b, f[5]));
        TRY(rb_bulk(b, "MAXDELETEDID", 12));
        TRY(rb_bulk_id(b, f[4]));
    }
    for (i = 0; i < PyList_GET_SIZE(f[6]); i++)
        TRY(rb_stream_group(b, key, PyList_GET_ITEM(f[6], i), v2));
    return 0;
}


static PyObject *
sp_resp_entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "resp_entry(type, key, value, expire_at_ms, field_ttls, streams_v2)");
        return NULL;
    }
    PyObject *type = args[0], *key = args[1], *value = args[2], *expire = args[3],
             *ttls = args[4];
    int streams_v2 = PyObject_IsTrue(args[5]);
    if (streams_v2 < 0)
        return NULL;
    const char *t = PyUnicode_Check(type) ? PyUnicode_AsUTF8(type) : NULL;
    long long expire_ms = 0;
    rbuf_t b = {NULL, 0, 0};
    int rc = 0;
    if (t == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (!PyBytes_CheckExact(key))
        Py_RETURN_NONE;
    if (expire != Py_None) {
        int overflow = 0;
        if (!PyLong_CheckExact(expire))
            Py_RETURN_NONE;
        expire_ms = PyLong_AsLongLongAndOverflow(expire, &overflow);
        if (overflow || (expire_ms == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
    }
    if (strcmp(t, "string") == 0) {
        if (!PyBytes_CheckExact(value))
            Py_RETURN_NONE;
        rc = rb_command(&b, 3, "SET", key) < 0 ? -1 : rb_bulk_obj(&b, value);
    }
    else if (strcmp(t, "list") == 0 || strcmp(t, "set") == 0) {
        if (!PyList_CheckExact(value) || !items_ok(value, 0, 0))
            Py_RETURN_NONE;
        rc = rb_batches(&b, t[0] == 'l' ? "RPUSH" : "SADD", key, value, 0);
    }
    else if (strcmp(t, "zset") == 0) {
        if (!PyList_CheckExact(value) || !items_ok(value, 1, 1))
            Py_RETURN_NONE;
        rc = rb_batches(&b, "ZADD", key, value, 2);
    }
    else if (strcmp(t, "hash") == 0) {
        if (!PyList_CheckExact(value) || !items_ok(value, 1, 0))
            Py_RETURN_NONE;
        if (ttls != Py_None && !PyDict_CheckExact(ttls))
            Py_RETURN_NONE;
        if (ttls != Py_None) {
            Py_ssize_t pos = 0;
            PyObject *f, *ms;
            while (PyDict_Next(ttls, &pos, &f, &ms))
                if (!PyBytes_CheckExact(f) || !PyLong_CheckExact(ms))
                    Py_RETURN_NONE;
        }
        rc = rb_batches(&b, "HSET", key, value, 1);
        if (rc == 0 && ttls != Py_None) {
            Py_ssize_t pos = 0;
            PyObject *f, *ms;
            while (rc == 0 && PyDict_Next(ttls, &pos, &f, &ms)) {
                long long v = PyLong_AsLongLong(ms);
                if (v == -1 && PyErr_Occurred()) {
                    PyErr_Clear();
                    PyMem_Free(b.data);
                    Py_RETURN_NONE;
                }
                rc = rb_command(&b, 6, "HPEXPIREAT", key);
                if (rc == 0)
                    rc = rb_bulk_ll(&b, v);
                if (rc == 0)
                    rc = rb_bulk(&b, "FIELDS", 6);
                if (rc == 0)
                    rc = rb_bulk(&b, "1", 1);
                if (rc == 0)
                    rc = rb_bulk_obj(&b, f);
            }
        }
    }
    else if (strcmp(t, "stream") == 0)
        rc = rb_stream(&b, key, value, streams_v2);
    else
        Py_RETURN_NONE;
    if (rc == RENDER_FALLBACK) {
        PyMem_Free(b.data);
        Py_RETURN_NONE;
    }
    if (rc == 0 && expire != Py_None) {
        rc = rb_command(&b, 3, "PEXPIREAT", key);
        if (rc == 0)
            rc = rb_bulk_ll(&b, expire_ms);
    }
    if (rc < 0) {
        PyMem_Free(b.data);
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(b.data ? b.data : "", (Py_ssize_t)b.len);
    PyMem_Free(b.data);
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON rendering of one key: json_entry() mirrors rdbtools.output.dump.dumps_entry()               */
/*                                                                                           */
/* The output is byte-for-byte what the stdlib json module makes of entry_to_dict(entry) with  */
/* ensure_ascii=False and compact separators: strings that are valid UTF-8 as JSON strings,    */
/* anything else as {"b64": ...}; floats as repr(); keys in entry_to_dict's order.  (orjson,    */
/* the Python path's writer, gives the same JSON values.)  Whatever falls outside what this     */
/* code checks for (a lazily read value, a subclass, an integer beyond 64 bits, a model class   */
/* that is not a plain slots dataclass) makes json_entry() return None, and the caller uses the */
/* Python path.                                                                               */

static int
jb_raw(rbuf_t *b, const char *s, size_t n)
{
    if (rb_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

#define JB_LIT(b, s) jb_raw((b), (s), sizeof(s) - 1)

static int
jb_ll(rbuf_t *b, long long v)
{
    if (rb_reserve(b, 24) < 0)
        return -1;
    b->len += (size_t)put_ll(b->data + b->len, v);
    return 0;
}

/* a Python int that fits 64 bits, or None as null (when allowed) */
static int
jb_int(rbuf_t *b, PyObject *o, int nullable)
{
    if (o == Py_None && nullable)
        return JB_LIT(b, "null");
    if (!PyLong_CheckExact(o))
        return RENDER_FALLBACK;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow > 0) { /* up to 2**64 - 1 here; beyond, the Python path */
        unsigned long long u = PyLong_AsUnsignedLongLong(o);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            /* beyond 64 bits (orjson refuses those): the Python path writes it with json */
            PyErr_Clear();
            return RENDER_FALLBACK;
        }
        if (rb_reserve(b, 24) < 0)
            return -1;
        b->len += (size_t)put_u64(b->data + b->len, u);
        return 0;
    }
    if (overflow < 0)
        return RENDER_FALLBACK;
    if (v == -1 && PyErr_Occurred())
        return -1;
    return jb_ll(b, v);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
jb_b64(rbuf_t *b, const unsigned char *s, size_t n)
{
    if (rb_reserve(b, 4 * ((n + 2) / 3) + 12) < 0)
        return -1;
    char *o = b->data + b->len;
    memcpy(o, "{\"b64\":\"", 8);
    o += 8;
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o++ = '"';
    *o++ = '}';
    b->len = (size_t)(o - b->data);
    return 0;
}

/* Length of the UTF-8 sequence at s[0..n) that Python's strict decoder accepts, 0 if invalid
 * (overlong forms, surrogates U+D800..DFFF and code points above U+10FFFF are refused). */
static int
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
#define CONT(k) ((k) < n && (s[k] & 0xC0) == 0x80)
    if (c >= 0xC2 && c <= 0xDF)
        return CONT(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || !CONT(2))
            return 0;
        unsigned c1 = s[1];
        if (c == 0xE0 ? c1 < 0xA0 || c1 > 0xBF : c == 0xED ? c1 < 0x80 || c1 > 0x9F : !CONT(1))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || !CONT(2) || !CONT(3))
            return 0;
        unsigned c1 = s[1];
        if (c == 0xF0 ? c1 < 0x90 || c1 > 0xBF : c == 0xF4 ? c1 < 0x80 || c1 > 0x8F : !CONT(1))
            return 0;
        return 4;
    }
#undef CONT
    return 0;
}

/* encode_bytes(): a JSON string when the bytes are valid UTF-8, else {"b64": ...} */
static int
jb_str(rbuf_t *b, const char *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)data;
    size_t start = b->len, i = 0;
    /* worst case 6 output bytes per input byte (\u00XX) */
    if (rb_reserve(b, 6 * n + 2) < 0)
        return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x80) {
            int k = utf8_seq(s + i, n - i);
            if (k == 0) {
                b->len = start;
                return jb_b64(b, s, n);
            }
            memcpy(o, s + i, (size_t)k);
            o += k;
            i += (size_t)k;
            continue;
        }
        i++;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u'; *o++ = '0'; *o++ = '0';
            *o++ = hex[c >> 4]; *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

static int
jb_bytes(rbuf_t *b, PyObject *o)
{
    if (!PyBytes_CheckExact(o))
        return RENDER_FALLBACK;
    return jb_str(b, PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
}

/* A finite double as the stdlib json module writes it: repr(), the shortest round-trip digits
 * ("1e+16", "100.0", "1e-05").  orjson spells some of them differently, and differently across
 * its versions ("1e16" before 3.10); the JSON values are the same. */
static int
jb_double(rbuf_t *b, double x)
{
    char *text = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL)
        return -1;
    int rc = jb_raw(b, text, strlen(text));
    PyMem_Free(text);
    return rc;
}

/* _encode_score(): finite scores as numbers, inf/-inf/nan as strings */
static int
jb_score(rbuf_t *b, PyObject *o)
{
    if (!PyFloat_CheckExact(o))
        return RENDER_FALLBACK;
    double x = PyFloat_AS_DOUBLE(o);
    if (isnan(x))
        return JB_LIT(b, "\"nan\"");
    if (isinf(x))
        return x > 0 ? JB_LIT(b, "\"inf\"") : JB_LIT(b, "\"-inf\"");
    return jb_double(b, x);
}

/* _encode_id(): "<ms>-<seq>" */
static int
jb_stream_id(rbuf_t *b, PyObject *id)
{
    char tmp[48];
    int n = put_stream_id(tmp + 1, id);
    if (n < 0)
        return RENDER_FALLBACK;
    tmp[0] = '"';
    tmp[n + 1] = '"';
    return jb_raw(b, tmp, (size_t)n + 2);
}


/* items: bytes (kind 0), (bytes, bytes) pairs (kind 1), (bytes, float) pairs (kind 2) */
static int
jb_items(rbuf_t *b, PyObject *list, int kind)
{
    if (!PyList_CheckExact(list))
        return RENDER_FALLBACK;
    Py_ssize_t i, n = PyList_GET_SIZE(list);
    TRY(JB_LIT(b, "["));
    for (i = 0; i < n; i++) {
        PyObject *it = PyList_GET_ITEM(list, i);
        if (i)
            TRY(JB_LIT(b, ","));
        if (kind == 0) {
            TRY(jb_bytes(b, it));
            continue;
        }
        if (!PyTuple_CheckExact(it) || PyTuple_GET_SIZE(it) != 2)
            return RENDER_FALLBACK;
        TRY(JB_LIT(b, "["));
        TRY(jb_bytes(b, PyTuple_GET_ITEM(it, 0)));
        TRY(JB_LIT(b, ","));
        TRY(kind == 1 ? jb_bytes(b, PyTuple_GET_ITEM(it, 1)) : jb_score(b, PyTuple_GET_ITEM(it, 1)));
        TRY(JB_LIT(b, "]"));
    }
    return JB_LIT(b, "]");
}

/* a list rendered element by element with FN */
static int
jb_list(rbuf_t *b, PyObject *list, int (*fn)(rbuf_t *, PyObject *))
{
    if (!PyList_CheckExact(list))
        return RENDER_FALLBACK;
    Py_ssize_t i, n = PyList_GET_SIZE(list);
    TRY(JB_LIT(b, "["));
    for (i = 0; i < n; i++) {
        if (i)
            TRY(JB_LIT(b, ","));
        TRY(fn(b, PyList_GET_ITEM(list, i)));
    }
    return JB_LIT(b, "]");
}

static int
jb_stream_entry(rbuf_t *b, PyObject *o)
{
    PyObject *f[2];
    if (!model_slots(o, &C_StreamEntry, f) || !PyList_CheckExact(f[1]))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "["));
    TRY(jb_stream_id(b, f[0]));
    TRY(JB_LIT(b, ",["));
    Py_ssize_t i, n = PyList_GET_SIZE(f[1]);
    for (i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(f[1], i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2)
            return RENDER_FALLBACK;
        if (i)
            TRY(JB_LIT(b, ","));
        TRY(jb_bytes(b, PyTuple_GET_ITEM(pair, 0)));
        TRY(JB_LIT(b, ","));
        TRY(jb_bytes(b, PyTuple_GET_ITEM(pair, 1)));
    }
    return JB_LIT(b, "]]");
}

static int
jb_pending(rbuf_t *b, PyObject *o)
{
    PyObject *f[4];
    if (!model_slots(o, &C_StreamPending, f))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"id\":"));
    TRY(jb_stream_id(b, f[0]));
    TRY(JB_LIT(b, ",\"consumer\":"));
    TRY(f[1] == Py_None ? JB_LIT(b, "null") : jb_bytes(b, f[1]));
    TRY(JB_LIT(b, ",\"delivery_time_ms\":"));
    TRY(jb_int(b, f[2], 0));
    TRY(JB_LIT(b, ",\"delivery_count\":"));
    TRY(jb_int(b, f[3], 0));
    return JB_LIT(b, "}");
}

static int
jb_consumer(rbuf_t *b, PyObject *o)
{
    PyObject *f[4];
    if (!model_slots(o, &C_StreamConsumer, f))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"name\":"));
    TRY(jb_bytes(b, f[0]));
    TRY(JB_LIT(b, ",\"seen_time_ms\":"));
    TRY(jb_int(b, f[1], 0));
    TRY(JB_LIT(b, ",\"active_time_ms\":"));
    TRY(jb_int(b, f[2], 1));
    TRY(JB_LIT(b, ",\"pending\":"));
    TRY(jb_list(b, f[3], jb_stream_id));
    return JB_LIT(b, "}");
}

static int
jb_group(rbuf_t *b, PyObject *o)
{
    PyObject *f[5];
    if (!model_slots(o, &C_StreamGroup, f))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"name\":"));
    TRY(jb_bytes(b, f[0]));
    TRY(JB_LIT(b, ",\"last_id\":"));
    TRY(jb_stream_id(b, f[1]));
    TRY(JB_LIT(b, ",\"entries_read\":"));
    TRY(jb_int(b, f[2], 1));
    TRY(JB_LIT(b, ",\"pending\":"));
    TRY(jb_list(b, f[3], jb_pending));
    TRY(JB_LIT(b, ",\"consumers\":"));
    TRY(jb_list(b, f[4], jb_consumer));
    return JB_LIT(b, "}");
}

/* _stream_to_dict() */
static int
jb_stream(rbuf_t *b, PyObject *o)
{
    PyObject *f[7];
    if (!model_slots(o, &C_Stream, f))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"entries\":"));
    TRY(jb_list(b, f[0], jb_stream_entry));
    TRY(JB_LIT(b, ",\"length\":"));
    TRY(jb_int(b, f[1], 0));
    TRY(JB_LIT(b, ",\"last_id\":"));
    TRY(jb_stream_id(b, f[2]));
    TRY(JB_LIT(b, ",\"first_id\":"));
    TRY(jb_stream_id(b, f[3]));
    TRY(JB_LIT(b, ",\"max_deleted_id\":"));
    TRY(jb_stream_id(b, f[4]));
    TRY(JB_LIT(b, ",\"entries_added\":"));
    TRY(jb_int(b, f[5], 0));
    TRY(JB_LIT(b, ",\"groups\":"));
    TRY(jb_list(b, f[6], jb_group));
    return JB_LIT(b, "}");
}

/* _value_to_json() for the types the reader produces as plain containers */
static int
jb_value(rbuf_t *b, const char *type, PyObject *value)
{
    if (value == Py_None)
        return JB_LIT(b, "null");
    if (strcmp(type, "string") == 0)
        return jb_bytes(b, value);
    if (strcmp(type, "list") == 0 || strcmp(type, "set") == 0)
        return jb_items(b, value, 0);
    if (strcmp(type, "hash") == 0)
        return jb_items(b, value, 1);
    if (strcmp(type, "zset") == 0)
        return jb_items(b, value, 2);
    if (strcmp(type, "stream") == 0)
        return jb_stream(b, value);
    return RENDER_FALLBACK; /* modules and anything else */
}

/* entry_to_dict() + json.dumps() */
static int
jb_entry(rbuf_t *b, PyObject *entry)
{
    /* Entry slots: db key type value expire_at_ms rdb_type idle_s freq field_expire_at_ms
     * length offset size */
    PyObject *f[ENTRY_NFIELDS];
    if (!model_slots(entry, &C_Entry, f) || !PyUnicode_CheckExact(f[2]))
        return RENDER_FALLBACK;
    const char *type = PyUnicode_AsUTF8(f[2]);
    if (type == NULL)
        return -1;
    TRY(JB_LIT(b, "{\"db\":"));
    TRY(jb_int(b, f[0], 0));
    TRY(JB_LIT(b, ",\"key\":"));
    TRY(jb_bytes(b, f[1]));
    TRY(JB_LIT(b, ",\"type\":"));
    TRY(jb_str(b, type, strlen(type)));
    TRY(JB_LIT(b, ",\"expire_at_ms\":"));
    TRY(jb_int(b, f[4], 1));
    TRY(JB_LIT(b, ",\"rdb_type\":"));
    TRY(jb_int(b, f[5], 0));
    TRY(JB_LIT(b, ",\"value\":"));
    TRY(jb_value(b, type, f[3]));
    if (f[3] == Py_None) {
        TRY(JB_LIT(b, ",\"length\":"));
        TRY(jb_int(b, f[9], 0));
    }
    PyObject *ttls = f[8];
    if (ttls != Py_None) {
        if (!PyDict_CheckExact(ttls))
            return RENDER_FALLBACK;
        if (PyDict_GET_SIZE(ttls)) {
            Py_ssize_t pos = 0, i = 0;
            PyObject *field, *ms;
            TRY(JB_LIT(b, ",\"field_expire_at_ms\":["));
            while (PyDict_Next(ttls, &pos, &field, &ms)) {
                TRY(i++ ? JB_LIT(b, ",[") : JB_LIT(b, "["));
                TRY(jb_bytes(b, field));
                TRY(JB_LIT(b, ","));
                TRY(jb_int(b, ms, 0));
                TRY(JB_LIT(b, "]"));
            }
            TRY(JB_LIT(b, "]"));
        }
    }
    if (f[6] != Py_None) {
        TRY(JB_LIT(b, ",\"idle_s\":"));
        TRY(jb_int(b, f[6], 0));
    }
    if (f[7] != Py_None) {
        TRY(JB_LIT(b, ",\"freq\":"));
        TRY(jb_int(b, f[7], 0));
    }
    return JB_LIT(b, "}");
}


/* json_entry(entry) -> bytes, or None when the Python path must render it */
static PyObject *
sp_json_entry(PyObject *self, PyObject *entry)
{
    rbuf_t b = {NULL, 0, 0};
    int rc = jb_entry(&b, entry);
    PyObject *out = NULL;
    if (rc == 0)
        out = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    else if (rc == RENDER_FALLBACK)
        out = Py_NewRef(Py_None);
    PyMem_Free(b.data);
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* RESP commands of an AOF: parse_commands() mirrors rdbtools.format.resp.parse_commands()   */

/* ASCII digits [p, end) as a number; -1 when empty, not all digits, or above `cap` (a count
 * that large cannot fit in the rest of the buffer anyway) */
static long long
resp_number(const unsigned char *p, const unsigned char *end, long long cap)
{
    long long v = 0;
    if (p >= end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > cap)
            return -1;
    }
    return v;
}

/* One complete, well-formed command at pos (as _one_command() accepts it): its arguments as
 * a new list and the offset after it; NULL without an error when there is none. */
static PyObject *
resp_command(const unsigned char *buf, Py_ssize_t n, Py_ssize_t pos, Py_ssize_t *after)
{
    const unsigned char *end, *stop = buf + n;
    if (pos >= n || buf[pos] != '*')
        return NULL;
    end = memchr(buf + pos, '\r', (size_t)(n - pos));
    /* the first CRLF: a lone CR inside the digits makes them invalid anyway */
    if (end == NULL || end + 1 >= stop || end[1] != '\n')
        return NULL;
    long long argc = resp_number(buf + pos + 1, end, n);
    if (argc < 1)
        return NULL;
    PyObject *args = PyList_New((Py_ssize_t)argc);
    if (args == NULL)
        return NULL;
    const unsigned char *p = end + 2;
    Py_ssize_t i;
    for (i = 0; i < (Py_ssize_t)argc; i++) {
        if (p >= stop || *p != '$')
            goto none;
        end = memchr(p, '\r', (size_t)(stop - p));
        if (end == NULL || end + 1 >= stop || end[1] != '\n')
            goto none;
        long long len = resp_number(p + 1, end, n);
        if (len < 0 || (end + 2 - buf) + len + 2 > n)
            goto none;
        const unsigned char *data = end + 2;
        if (data[len] != '\r' || data[len + 1] != '\n')
            goto none;
        PyObject *a = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
        if (a == NULL) {
            Py_DECREF(args);
            return NULL;
        }
        PyList_SET_ITEM(args, i, a);
        p = data + len + 2;
    }
    *after = p - buf;
    return args;
none:
    Py_DECREF(args);
    return NULL;
}

static PyObject *
sp_parse_commands(PyObject *self, PyObject *const *argv, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_Check(argv[0])) {
        PyErr_SetString(PyExc_TypeError, "parse_commands(buf: bytes, pos, limit)");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(argv[1]), limit = PyLong_AsSsize_t(argv[2]);
    if ((pos == -1 || limit == -1) && PyErr_Occurred())
        return NULL;
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(argv[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(argv[0]);
    PyObject *cmds = PyList_New(0), *ends = PyList_New(0);
    if (cmds == NULL || ends == NULL)
        goto error;
    if (pos < 0)
        pos = n; /* as the Python loop: nothing parsed */
    while (limit > 0 && pos < n) {
        Py_ssize_t after;
        PyObject *args = resp_command(buf, n, pos, &after);
        if (args == NULL) {
            if (PyErr_Occurred())
                goto error;
            break;
        }
        PyObject *end = PyLong_FromSsize_t(after);
        int rc = end == NULL ? -1 : PyList_Append(cmds, args);
        Py_DECREF(args);
        if (rc == 0)
            rc = PyList_Append(ends, end);
        Py_XDECREF(end);
        if (rc < 0)
            goto error;
        pos = after;
        limit--;
    }
    return Py_BuildValue("(NNn)", cmds, ends, pos);
error:
    Py_XDECREF(cmds);
    Py_XDECREF(ends);
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* module                                                                                    */

/* ---------------------------------------------------------------------------------------- */
/* The write path: LZF compression (lzf.py lzf_compress), rdbSaveRawString (format/primitives.py
 * encode_rdb_string), the writer's blob encoders (encoders.py encode_listpack / encode_ziplist /
 * encode_intset / compact) and its stream node cutting (encoders.py stream_nodes).  They give the
 * same bytes as the Python functions; any argument outside what they handle natively (not
 * exactly bytes/int/list/tuple, integers outside int64, sizes outside 32 bits) is handed to the
 * Python function, which then gives the result or raises its error.                          */

#define WRITE_FALLBACK 1

static PyObject *
fallback_in(const char *module, const char *name, PyObject *const *args, Py_ssize_t nargs,
            PyObject *kwnames)
{
    PyObject *m = PyImport_ImportModule(module), *fn, *res;
    if (m == NULL)
        return NULL;
    fn = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    if (fn == NULL)
        return NULL;
    res = PyObject_Vectorcall(fn, args, nargs, kwnames);
    Py_DECREF(fn);
    return res;
}

static inline uint8_t *
wb_room(rbuf_t *b, size_t n)
{
    return rb_reserve(b, n) < 0 ? NULL : (uint8_t *)b->data + b->len;
}

static inline void wr16le(uint8_t *o, uint32_t v) { o[0] = (uint8_t)v; o[1] = (uint8_t)(v >> 8); }
static inline void wr24le(uint8_t *o, uint32_t v) { wr16le(o, v); o[2] = (uint8_t)(v >> 16); }
static inline void wr32le(uint8_t *o, uint32_t v) { wr16le(o, v); wr16le(o + 2, v >> 16); }
static inline void wr64le(uint8_t *o, uint64_t v) { wr32le(o, (uint32_t)v); wr32le(o + 4, (uint32_t)(v >> 32)); }
static inline void wr32be(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)(v >> 24); o[1] = (uint8_t)(v >> 16); o[2] = (uint8_t)(v >> 8); o[3] = (uint8_t)v;
}

/* encoders.canonical_int (string2ll() in Redis util.c, lpStringToInt64() in listpack.c): the
 * int64 that s spells with no sign but '-', no leading zeros, no "-0", at most 20 characters */
static int
canon_ll(const uint8_t *s, Py_ssize_t n, long long *out)
{
    Py_ssize_t i = 0;
    unsigned long long u = 0, lim = 9223372036854775807ULL;
    if (n <= 0 || n > 20)
        return 0;
    if (s[0] == '-') {
        if (n == 1)
            return 0;
        i = 1;
        lim++;
    }
    if (s[i] == '0') {
        if (n != 1)
            return 0; /* "-0", "01" */
        *out = 0;
        return 1;
    }
    for (; i < n; i++) {
        unsigned d = (unsigned)s[i] - '0';
        if (d > 9 || u > (lim - d) / 10)
            return 0;
        u = u * 10 + d;
    }
    *out = s[0] == '-' ? (long long)(0ULL - u) : (long long)u;
    return 1;
}

/* an exact int within int64, or 0 */
static int
as_ll(PyObject *o, long long *out)
{
    int overflow;
    if (!PyLong_CheckExact(o))
        return 0;
    *out = PyLong_AsLongLongAndOverflow(o, &overflow);
    return !overflow;
}

/* primitives.encode_rdb_length (rdbSaveLen() in rdb.c): at o, which has 9 bytes of room */
static int
put_rdb_len(uint8_t *o, uint64_t v)
{
    if (v < 64) {
        o[0] = (uint8_t)v;
        return 1;
    }
    if (v < 16384) {
        o[0] = (uint8_t)(0x40 | (v >> 8));
        o[1] = (uint8_t)v;
        return 2;
    }
    if (v <= 0xFFFFFFFFULL) {
        o[0] = 0x80;
        wr32be(o + 1, (uint32_t)v);
        return 5;
    }
    o[0] = 0x81;
    wr32be(o + 1, (uint32_t)(v >> 32));
    wr32be(o + 5, (uint32_t)v);
    return 9;
}

/* -- LZF --------------------------------------------------------------------------------- */

/* lzf.py lzf_compress: greedy, matching each position against the most recent earlier position
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
 * the data does not compress that far */
static int
lzf_pack_bytes(PyObject *data, Py_ssize_t maxout, PyObject **out)
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

static PyObject *
sp_lzf_compress(PyObject *self, PyObject *data)
{
    PyObject *out;
    if (!PyBytes_CheckExact(data) || PyBytes_GET_SIZE(data) > 0xFFFFFFF0)
        return call_fallback(py_lzf, "lzf_compress", &data, 1);
    if (PyBytes_GET_SIZE(data) < 4)
        Py_RETURN_NONE;
    if (lzf_pack_bytes(data, PyBytes_GET_SIZE(data) - 1, &out) < 0)
        return NULL;
    return out == NULL ? Py_NewRef(Py_None) : out;
}

/* primitives.encode_rdb_string (rdbSaveRawString() in rdb.c): canonical decimal text within
 * int32 as an integer (rdbTryIntegerEncoding), else, with compression, LZF when it saves at
 * least 4 bytes (rdbSaveLzfStringObject's output buffer is len-4 bytes), else raw. */
static PyObject *
sp_encode_rdb_string(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *data, *packed = NULL, *res;
    const uint8_t *s;
    Py_ssize_t n;
    long long v;
    uint8_t head[19], *o;
    int compress = 1, hn;
    if (kwnames != NULL || nargs < 1 || nargs > 2 || !PyBytes_CheckExact(args[0])
        || PyBytes_GET_SIZE(args[0]) > 0xFFFFFFF0)
        return fallback_in("rdbtools.format.primitives", "encode_rdb_string", args, nargs,
                           kwnames);
    data = args[0];
    if (nargs == 2 && (compress = PyObject_IsTrue(args[1])) < 0)
        return NULL;
    s = (const uint8_t *)PyBytes_AS_STRING(data);
    n = PyBytes_GET_SIZE(data);
    if (n <= 11 && canon_ll(s, n, &v) && v >= INT32_MIN && v <= INT32_MAX) {
        if (v >= -128 && v <= 127) {
            head[0] = 0xC0;
            head[1] = (uint8_t)v;
            hn = 2;
        } else if (v >= -32768 && v <= 32767) {
            head[0] = 0xC1;
            wr16le(head + 1, (uint32_t)v);
            hn = 3;
        } else {
            head[0] = 0xC2;
            wr32le(head + 1, (uint32_t)v);
            hn = 5;
        }
        return PyBytes_FromStringAndSize((const char *)head, hn);
    }
    if (compress && n > 20 && lzf_pack_bytes(data, n - 4, &packed) < 0)
        return NULL;
    if (packed != NULL) {
        head[0] = 0xC3;
        hn = 1 + put_rdb_len(head + 1, (uint64_t)PyBytes_GET_SIZE(packed));
        hn += put_rdb_len(head + hn, (uint64_t)n);
        data = packed;
    } else {
        hn = put_rdb_len(head, (uint64_t)n);
    }
    res = PyBytes_FromStringAndSize(NULL, hn + PyBytes_GET_SIZE(data));
    if (res != NULL) {
        o = (uint8_t *)PyBytes_AS_STRING(res);
        memcpy(o, head, (size_t)hn);
        memcpy(o + hn, PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data));
    }
    Py_XDECREF(packed);
    return res;
}

/* -- listpack and ziplist entries ---------------------------------------------------------- */

/* encoders.listpack_element of an integer: the smallest of listpack.c's integer encodings (Redis 5.0),
 * then the backlen (entry size < 128: one byte) */
static int
lp_put_int(rbuf_t *b, long long v)
{
    uint8_t *o = wb_room(b, 10);
    int n;
    if (o == NULL)
        return -1;
    if (v >= 0 && v <= 127) {
        o[0] = (uint8_t)v;
        n = 1;
    } else if (v >= -4096 && v <= 4095) {
        uint32_t u = (uint32_t)v & 0x1FFF;
        o[0] = (uint8_t)(0xC0 | (u >> 8));
        o[1] = (uint8_t)u;
        n = 2;
    } else if (v >= -32768 && v <= 32767) {
        o[0] = 0xF1;
        wr16le(o + 1, (uint32_t)v);
        n = 3;
    } else if (v >= -(1LL << 23) && v < (1LL << 23)) {
        o[0] = 0xF2;
        wr24le(o + 1, (uint32_t)v);
        n = 4;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        o[0] = 0xF3;
        wr32le(o + 1, (uint32_t)v);
        n = 5;
    } else {
        o[0] = 0xF4;
        wr64le(o + 1, (uint64_t)v);
        n = 9;
    }
    o[n] = (uint8_t)n;
    b->len += (size_t)n + 1;
    return 0;
}

/* encoders.listpack_element of a string: 6/12/32-bit length encoding, the bytes, the backlen
 * (format/listpack.py encode_backlen: the most significant 7-bit group first, every byte but
 * that one with bit 0x80) */
static int
lp_put_str(rbuf_t *b, const uint8_t *s, Py_ssize_t n)
{
    uint8_t *o;
    int hn, bn, k;
    long long size;
    if (n > 0xFFFFFFFFLL)
        return WRITE_FALLBACK;
    if ((o = wb_room(b, (size_t)n + 10)) == NULL)
        return -1;
    if (n < 64) {
        o[0] = (uint8_t)(0x80 | n);
        hn = 1;
    } else if (n < 4096) {
        o[0] = (uint8_t)(0xE0 | (n >> 8));
        o[1] = (uint8_t)n;
        hn = 2;
    } else {
        o[0] = 0xF0;
        wr32le(o + 1, (uint32_t)n);
        hn = 5;
    }
    memcpy(o + hn, s, (size_t)n);
    o += hn + n;
    size = hn + n;
    bn = backlen_size(size);
    for (k = bn - 1; k >= 0; k--)
        *o++ = (uint8_t)(((size >> (7 * k)) & 127) | (k != bn - 1 ? 0x80 : 0));
    b->len += (size_t)(size + bn);
    return 0;
}

/* a string as a listpack stores it (encoders.compact_one): canonical decimal text as an integer */
static int
lp_put_compact(rbuf_t *b, PyObject *s)
{
    long long v;
    const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(s);
    if (canon_ll(p, PyBytes_GET_SIZE(s), &v))
        return lp_put_int(b, v);
    return lp_put_str(b, p, PyBytes_GET_SIZE(s));
}

/* an element of encode_listpack(): exactly bytes or an int within int64 */
static int
lp_put_obj(rbuf_t *b, PyObject *x)
{
    long long v;
    if (PyBytes_CheckExact(x))
        return lp_put_str(b, (const uint8_t *)PyBytes_AS_STRING(x), PyBytes_GET_SIZE(x));
    if (as_ll(x, &v))
        return lp_put_int(b, v);
    return WRITE_FALLBACK;
}

/* encoders.ziplist_encoding: a ziplist entry's encoding and data (zipTryEncoding() /
 * zipStoreEntryEncoding() in ziplist.c; the 4-bit immediates are Redis 2.6's) */
static int
zl_put_obj(rbuf_t *b, PyObject *x)
{
    uint8_t *o;
    long long v;
    int n;
    if (PyBytes_CheckExact(x)) {
        Py_ssize_t len = PyBytes_GET_SIZE(x);
        if (len > 0xFFFFFFFFLL)
            return WRITE_FALLBACK;
        if ((o = wb_room(b, (size_t)len + 5)) == NULL)
            return -1;
        if (len <= 0x3F) {
            o[0] = (uint8_t)len;
            n = 1;
        } else if (len <= 0x3FFF) {
            o[0] = (uint8_t)(0x40 | (len >> 8)); /* 14-bit length, big-endian */
            o[1] = (uint8_t)len;
            n = 2;
        } else {
            o[0] = 0x80;
            wr32be(o + 1, (uint32_t)len);
            n = 5;
        }
        memcpy(o + n, PyBytes_AS_STRING(x), (size_t)len);
        b->len += (size_t)(n + len);
        return 0;
    }
    if (!as_ll(x, &v))
        return WRITE_FALLBACK;
    if ((o = wb_room(b, 9)) == NULL)
        return -1;
    if (v >= 0 && v <= 12) {
        o[0] = (uint8_t)(0xF1 + v);
        n = 1;
    } else if (v >= -128 && v <= 127) {
        o[0] = 0xFE;
        o[1] = (uint8_t)v;
        n = 2;
    } else if (v >= -32768 && v <= 32767) {
        o[0] = 0xC0;
        wr16le(o + 1, (uint32_t)v);
        n = 3;
    } else if (v >= -(1LL << 23) && v < (1LL << 23)) {
        o[0] = 0xF0;
        wr24le(o + 1, (uint32_t)v);
        n = 4;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        o[0] = 0xD0;
        wr32le(o + 1, (uint32_t)v);
        n = 5;
    } else {
        o[0] = 0xE0;
        wr64le(o + 1, (uint64_t)v);
        n = 9;
    }
    b->len += (size_t)n;
    return 0;
}

/* A listpack around the entries in body (lpNew() header: total bytes u32 LE, element count u16
 * LE saturating at 65535; 0xFF terminator), as a new bytes object, or WRITE_FALLBACK when the
 * total does not fit 32 bits. */
static int
lp_finish(const rbuf_t *head, const rbuf_t *body, Py_ssize_t count, PyObject **out)
{
    size_t total = 7 + head->len + body->len;
    uint8_t *o;
    if (total > 0xFFFFFFFFULL)
        return WRITE_FALLBACK;
    if ((*out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total)) == NULL)
        return -1;
    o = (uint8_t *)PyBytes_AS_STRING(*out);
    wr32le(o, (uint32_t)total);
    wr16le(o + 4, (uint32_t)(count < 65535 ? count : 65535));
    if (head->len)
        memcpy(o + 6, head->data, head->len);
    if (body->len)
        memcpy(o + 6 + head->len, body->data, body->len);
    o[total - 1] = 0xFF;
    return 0;
}

/* the items of a list or tuple argument, or NULL (the Python function then takes it) */
static PyObject **
seq_items(PyObject *seq, Py_ssize_t *n)
{
    if (PyList_CheckExact(seq)) {
        *n = PyList_GET_SIZE(seq);
        return ((PyListObject *)seq)->ob_item;
    }
    if (PyTuple_CheckExact(seq)) {
        *n = PyTuple_GET_SIZE(seq);
        return ((PyTupleObject *)seq)->ob_item;
    }
    return NULL;
}

/* encoders.encode_listpack */
static PyObject *
sp_encode_listpack(PyObject *self, PyObject *elements)
{
    rbuf_t head = {NULL, 0, 0}, body = {NULL, 0, 0};
    Py_ssize_t i, n;
    PyObject **items = seq_items(elements, &n), *out = NULL;
    int rc = items == NULL ? WRITE_FALLBACK : 0;
    for (i = 0; rc == 0 && i < n; i++)
        rc = lp_put_obj(&body, items[i]);
    if (rc == 0)
        rc = lp_finish(&head, &body, n, &out);
    PyMem_Free(body.data);
    if (rc == WRITE_FALLBACK)
        return fallback_in("rdbtools.rdb.encoders", "encode_listpack", &elements, 1, NULL);
    return out;
}

/* encoders.encode_ziplist (ziplist.c: zlbytes u32, zltail u32, zllen u16 saturating; each entry
 * prevlen (1 byte, or 0xFE + u32 from 254) + encoding; 0xFF terminator) */
static PyObject *
sp_encode_ziplist(PyObject *self, PyObject *elements)
{
    rbuf_t b = {NULL, 0, 0};
    Py_ssize_t i, n;
    size_t prev = 0, last = 10;
    PyObject **items = seq_items(elements, &n), *out = NULL;
    int rc = items == NULL ? WRITE_FALLBACK : 0;
    uint8_t *o;
    if (rc == 0 && (o = wb_room(&b, 10)) == NULL)
        rc = -1;
    if (rc == 0)
        b.len = 10;
    for (i = 0; rc == 0 && i < n; i++) {
        size_t start = b.len;
        if (prev > 0xFFFFFFFFULL) {
            rc = WRITE_FALLBACK;
        } else if ((o = wb_room(&b, 5)) == NULL) {
            rc = -1;
        } else if (prev < 254) {
            o[0] = (uint8_t)prev;
            b.len += 1;
        } else {
            o[0] = 0xFE;
            wr32le(o + 1, (uint32_t)prev);
            b.len += 5;
        }
        if (rc == 0)
            rc = zl_put_obj(&b, items[i]);
        last = start;
        prev = b.len - start;
    }
    if (rc == 0 && b.len + 1 > 0xFFFFFFFFULL)
        rc = WRITE_FALLBACK;
    if (rc == 0 && (o = wb_room(&b, 1)) == NULL)
        rc = -1;
    if (rc == 0) {
        b.data[b.len++] = (char)0xFF;
        o = (uint8_t *)b.data;
        wr32le(o, (uint32_t)b.len);
        wr32le(o + 4, (uint32_t)last);
        wr16le(o + 8, (uint32_t)(n < 65535 ? n : 65535));
        out = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    }
    PyMem_Free(b.data);
    if (rc == WRITE_FALLBACK)
        return fallback_in("rdbtools.rdb.encoders", "encode_ziplist", &elements, 1, NULL);
    return out;
}

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* encoders.encode_intset (intset.c: encoding u32 LE = member width, length u32 LE, members sorted
 * and unique at the smallest width holding them all) */
static PyObject *
sp_encode_intset(PyObject *self, PyObject *members)
{
    Py_ssize_t i, j, n;
    PyObject **items = seq_items(members, &n), *out;
    long long *v;
    int width;
    uint8_t *o;
    if (items == NULL || n == 0)
        return fallback_in("rdbtools.rdb.encoders", "encode_intset", &members, 1, NULL);
    if ((v = PyMem_Malloc((size_t)n * sizeof(long long))) == NULL)
        return PyErr_NoMemory();
    for (i = 0; i < n; i++) {
        if (!as_ll(items[i], &v[i])) {
            PyMem_Free(v);
            return fallback_in("rdbtools.rdb.encoders", "encode_intset", &members, 1, NULL);
        }
    }
    qsort(v, (size_t)n, sizeof(long long), cmp_ll);
    for (i = j = 1; i < n; i++)
        if (v[i] != v[j - 1])
            v[j++] = v[i];
    n = j;
    width = v[0] >= -32768 && v[n - 1] <= 32767 ? 2
            : v[0] >= INT32_MIN && v[n - 1] <= INT32_MAX ? 4 : 8;
    out = PyBytes_FromStringAndSize(NULL, 8 + n * width);
    if (out != NULL) {
        o = (uint8_t *)PyBytes_AS_STRING(out);
        wr32le(o, (uint32_t)width);
        wr32le(o + 4, (uint32_t)n);
        for (i = 0, o += 8; i < n; i++, o += width) {
            if (width == 2)
                wr16le(o, (uint32_t)v[i]);
            else if (width == 4)
                wr32le(o, (uint32_t)v[i]);
            else
                wr64le(o, (uint64_t)v[i]);
        }
    }
    PyMem_Free(v);
    return out;
}

/* encoders.compact: canonical decimal text becomes an int */
static PyObject *
sp_compact(PyObject *self, PyObject *strings)
{
    Py_ssize_t i, n;
    PyObject **items = seq_items(strings, &n), *out;
    long long v;
    if (items == NULL)
        return fallback_in("rdbtools.rdb.encoders", "compact", &strings, 1, NULL);
    for (i = 0; i < n; i++)
        if (!PyBytes_CheckExact(items[i]))
            return fallback_in("rdbtools.rdb.encoders", "compact", &strings, 1, NULL);
    if ((out = PyList_New(n)) == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *x = items[i];
        PyObject *y = canon_ll((const uint8_t *)PyBytes_AS_STRING(x), PyBytes_GET_SIZE(x), &v)
                          ? PyLong_FromLongLong(v) : Py_NewRef(x);
        if (y == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, y);
    }
    return out;
}

/* -- stream nodes -------------------------------------------------------------------------- */

/* an ID (ms, seq): a tuple of two ints within uint64 */
static int
stream_id(PyObject *id, uint64_t *ms, uint64_t *seq)
{
    PyObject *a, *b;
    if (!PyTuple_CheckExact(id) || PyTuple_GET_SIZE(id) != 2)
        return 0;
    a = PyTuple_GET_ITEM(id, 0);
    b = PyTuple_GET_ITEM(id, 1);
    if (!PyLong_CheckExact(a) || !PyLong_CheckExact(b))
        return 0;
    *ms = PyLong_AsUnsignedLongLong(a);
    *seq = PyLong_AsUnsignedLongLong(b);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* the (field, value) pairs of an entry: tuples of two bytes objects, in a list or tuple */
static PyObject **
stream_fields(PyObject *fields, Py_ssize_t *n)
{
    Py_ssize_t i;
    PyObject **pairs = seq_items(fields, n);
    for (i = 0; pairs != NULL && i < *n; i++) {
        PyObject *p = pairs[i];
        if (!PyTuple_CheckExact(p) || PyTuple_GET_SIZE(p) != 2
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(p, 0))
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(p, 1)))
            return NULL;
    }
    return pairs;
}

typedef struct {
    PyObject *id;           /* the master ID (borrowed from the first entry) */
    uint64_t ms, seq;
    PyObject **fields;      /* the master fields: the first entry's pairs (borrowed) */
    Py_ssize_t nfields;
    rbuf_t head;            /* count, deleted, field count, fields, terminator */
    size_t head0;           /* head's size with the count written as 0 (what lp_bytes counts) */
    rbuf_t body;            /* the entries' elements */
    Py_ssize_t entries, elements;
} snode_t;

static int
snode_open(snode_t *nd, PyObject *id, uint64_t ms, uint64_t seq, PyObject **fields, Py_ssize_t nf)
{
    Py_ssize_t k;
    nd->id = id;
    nd->ms = ms;
    nd->seq = seq;
    nd->fields = fields;
    nd->nfields = nf;
    nd->head.len = nd->body.len = 0;
    nd->entries = nd->elements = 0;
    TRY(lp_put_int(&nd->head, 0));
    TRY(lp_put_int(&nd->head, 0));
    TRY(lp_put_int(&nd->head, nf));
    for (k = 0; k < nf; k++)
        TRY(lp_put_compact(&nd->head, PyTuple_GET_ITEM(fields[k], 0)));
    TRY(lp_put_int(&nd->head, 0));
    nd->head0 = nd->head.len;
    return 0;
}

/* format/stream.py encode_stream_entry with flags 0 */
static int
snode_add(snode_t *nd, uint64_t ms, uint64_t seq, PyObject **fields, Py_ssize_t nf)
{
    Py_ssize_t k;
    int same = nf == nd->nfields;
    for (k = 0; same && k < nf; k++) {
        PyObject *a = PyTuple_GET_ITEM(fields[k], 0), *b = PyTuple_GET_ITEM(nd->fields[k], 0);
        same = PyBytes_GET_SIZE(a) == PyBytes_GET_SIZE(b)
               && memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), PyBytes_GET_SIZE(a)) == 0;
    }
    /* t_stream.c STREAM_ITEM_FLAG_SAMEFIELDS */
    TRY(lp_put_int(&nd->body, same ? 2 : 0));
    TRY(lp_put_int(&nd->body, (long long)(ms - nd->ms)));
    TRY(lp_put_int(&nd->body, (long long)(seq - nd->seq)));
    if (same) {
        for (k = 0; k < nf; k++)
            TRY(lp_put_compact(&nd->body, PyTuple_GET_ITEM(fields[k], 1)));
        TRY(lp_put_int(&nd->body, 3 + nf));
        nd->elements += 4 + nf;
    } else {
        TRY(lp_put_int(&nd->body, nf));
        for (k = 0; k < nf; k++) {
            TRY(lp_put_compact(&nd->body, PyTuple_GET_ITEM(fields[k], 0)));
            TRY(lp_put_compact(&nd->body, PyTuple_GET_ITEM(fields[k], 1)));
        }
        TRY(lp_put_int(&nd->body, 4 + 2 * nf));
        nd->elements += 5 + 2 * nf;
    }
    nd->entries++;
    return 0;
}

/* the node's (master ID, listpack) pair, appended to nodes */
static int
snode_close(snode_t *nd, PyObject *nodes)
{
    PyObject *lp, *pair;
    int rc;
    nd->head.len = 0; /* the real count replaces the 0 */
    TRY(lp_put_int(&nd->head, nd->entries));
    TRY(lp_put_int(&nd->head, 0));
    TRY(lp_put_int(&nd->head, nd->nfields));
    for (Py_ssize_t k = 0; k < nd->nfields; k++)
        TRY(lp_put_compact(&nd->head, PyTuple_GET_ITEM(nd->fields[k], 0)));
    TRY(lp_put_int(&nd->head, 0));
    TRY(lp_finish(&nd->head, &nd->body, 4 + nd->nfields + nd->elements, &lp));
    pair = PyTuple_Pack(2, nd->id, lp);
    Py_DECREF(lp);
    if (pair == NULL)
        return -1;
    rc = PyList_Append(nodes, pair);
    Py_DECREF(pair);
    return rc;
}

/* encoders.stream_nodes(entries, max_bytes, max_entries) */
static PyObject *
sp_stream_nodes(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    snode_t nd = {0};
    PyObject **entries, *nodes;
    Py_ssize_t i, n, nf, k;
    long long max_bytes, max_entries;
    int rc = 0, open = 0;
    if (nargs != 3 || (entries = seq_items(args[0], &n)) == NULL || !as_ll(args[1], &max_bytes)
        || !as_ll(args[2], &max_entries))
        return fallback_in("rdbtools.rdb.encoders", "stream_nodes", args, nargs, NULL);
    if ((nodes = PyList_New(0)) == NULL)
        return NULL;
    for (i = 0; rc == 0 && i < n; i++) {
        PyObject *e[2], **fields;
        uint64_t ms, seq;
        if (!model_slots(entries[i], &C_StreamEntry, e) || !stream_id(e[0], &ms, &seq)
            || (fields = stream_fields(e[1], &nf)) == NULL) {
            rc = WRITE_FALLBACK;
            break;
        }
        if (open) {
            long long raw = 0;
            for (k = 0; k < nf; k++)
                raw += PyBytes_GET_SIZE(PyTuple_GET_ITEM(fields[k], 0))
                       + PyBytes_GET_SIZE(PyTuple_GET_ITEM(fields[k], 1));
            if ((long long)(7 + nd.head0 + nd.body.len) + raw >= max_bytes
                || (max_entries != 0 && nd.entries >= max_entries)) {
                rc = snode_close(&nd, nodes);
                open = 0;
            }
        }
        if (rc == 0 && !open) {
            rc = snode_open(&nd, e[0], ms, seq, fields, nf);
            open = 1;
        }
        if (rc == 0)
            rc = snode_add(&nd, ms, seq, fields, nf);
    }
    if (rc == 0 && open)
        rc = snode_close(&nd, nodes);
    PyMem_Free(nd.head.data);
    PyMem_Free(nd.body.data);
    if (rc != 0) {
        Py_DECREF(nodes);
        return rc == WRITE_FALLBACK
               ? fallback_in("rdbtools.rdb.encoders", "stream_nodes", args, nargs, NULL) : NULL;
    }
    return nodes;
}

static PyMethodDef methods[] = {
    {"lzf_decompress", (PyCFunction)(void (*)(void))sp_lzf_decompress,
     METH_FASTCALL | METH_KEYWORDS, "lzf_decompress(data, expected_len, limit=None): see rdbtools.format.lzf"},
    {"decode_listpack", sp_decode_listpack, METH_O, "see rdbtools.rdb.blobs.decode_listpack"},
    {"decode_ziplist", sp_decode_ziplist, METH_O, "see rdbtools.rdb.blobs.decode_ziplist"},
    {"decode_intset", sp_decode_intset, METH_O, "see rdbtools.rdb.blobs.decode_intset"},
    {"decode_zipmap", sp_decode_zipmap, METH_O, "see rdbtools.rdb.blobs.decode_zipmap"},
    {"encode_resp", sp_encode_resp, METH_O, "encode_resp(args): see rdbtools.output.commands.encode_resp"},
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
    static const char *type_attr[22] = {
        "TYPE_STRING", "TYPE_LIST", "TYPE_SET", "TYPE_ZSET", "TYPE_HASH", "TYPE_ZSET", NULL,
        NULL, NULL, "TYPE_HASH", "TYPE_LIST", "TYPE_SET", "TYPE_ZSET", "TYPE_HASH",
        "TYPE_LIST", "TYPE_STREAM", "TYPE_HASH", "TYPE_ZSET", "TYPE_LIST", "TYPE_STREAM",
        "TYPE_SET", "TYPE_STREAM"};
    if (model == NULL)
        return -1;
    for (k = 0; k < (int)(sizeof(slotclasses) / sizeof(slotclasses[0])); k++) {
        if (setup_class(model, slotclasses[k]) < 0) {
            Py_DECREF(model);
            return -1;
        }
    }
    for (k = 0; k < 22; k++) {
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
