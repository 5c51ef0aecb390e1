/* rdbtools/rdb/csrc/encoders.c: the write path of rdbtools.rdb._speedups, the encoders the RDB
 * writer (rdbtools/rdb/writer.py) takes through rdbtools.rdb._accel.
 *
 * Mirrors, line for line:
 *   encode_rdb_string             rdbtools/format/primitives.py (rdb.c rdbSaveRawString); its
 *                                 LZF compression is lzf.c's
 *   encode_listpack, encode_ziplist, encode_intset, compact, stream_nodes
 *                                 rdbtools/rdb/encoders.py (listpack.c, ziplist.c, intset.c,
 *                                 t_stream.c streamAppendItem)
 * They give the same bytes as the Python functions; any argument outside what they handle
 * natively (not exactly bytes/int/list/tuple, integers outside int64, sizes outside 32 bits) is
 * handed to the Python function, which then gives the result or raises its error.
 */
#include "speedups.h"

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

/* primitives.encode_rdb_string (rdbSaveRawString() in rdb.c): canonical decimal text within
 * int32 as an integer (rdbTryIntegerEncoding), else, with compression, LZF when it saves at
 * least 4 bytes (rdbSaveLzfStringObject's output buffer is len-4 bytes), else raw. */
PyObject *
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
    if (compress && n > 20 && sp_lzf_pack_bytes(data, n - 4, &packed) < 0)
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
PyObject *
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
PyObject *
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
PyObject *
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
PyObject *
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
PyObject *
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
