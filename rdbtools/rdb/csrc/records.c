/* rdbtools/rdb/csrc/records.c: read_records() of rdbtools.rdb._speedups, the key-record loop
 * of the compiled read path, and its value decoders (docs/architecture.md, "The accelerator").
 *
 * Mirrors, line for line, the key-record part of RdbReader.iter_records in
 * rdbtools/rdb/reader.py (EXPIRETIME/EXPIRETIME_MS/IDLE/FREQ, the type byte, the key, the
 * value) and the reader's value decoders for every type but modules and hash-field-TTL hashes
 * (_read_len, _read_string, _skip_string, _read_blob, _sized_blob, _pairs, _read_stream,
 * _read_stream_group, _stream_node_entries, the read_size decoders of values="sizes"; Redis
 * rdb.c rdbLoadObject), building the same model objects (rdbtools/model.py).  The blobs are
 * walked by walkers.c.  The Redis 8.6-8.10 records (RDB 13-15) are read too: module key
 * metadata before the type byte (opcode 243, Redis magic only), streams with IDMP state and
 * NACK zones (types 26, 27), arrays (28), template hashes (29-32, against the file's opcode
 * 242 templates, which the Python loop reads and hands in) and GCRA values (33).
 *
 * It never raises for bad input: it stops at the start of the record it cannot read completely
 * (another opcode, a type it leaves to Python, bytes missing, anything malformed), and the
 * Python loop reads that record with the pure code, which reports the error.
 */
#include "speedups.h"

/* ---------------------------------------------------------------------------------------- */
/* elements as model values                                                                  */

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

/* a walker element as text (reader._texts): bytes, integers as their decimal text */
static PyObject *
item_text(const item_t *x)
{
    if (x->s != NULL)
        return PyBytes_FromStringAndSize((const char *)x->s, x->len);
    return int_text(x->v);
}

/* A tuple of bytes/int/float items can never be part of a reference cycle: CPython's collector
 * untracks such tuples itself the first time it meets them (_PyTuple_MaybeUntrack).  Doing it at
 * once spares every young-generation collection the pairs of a large batch of records. */
#define ATOMIC_TUPLE(t) PyObject_GC_UnTrack(t)

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

/* What a value decoder needs beyond the cursor, and what it reports besides the value. */
typedef struct {
    PyObject *templates;   /* the file's hash templates so far: tid -> field names, or NULL */
    PyObject *next_insert; /* out: an array's Entry.array_next_insert_index (new ref) or NULL */
} rec_t;

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
        if (walk_lzf(c->buf + c->pos, (Py_ssize_t)clen, s->heap, (long long)ulen, -1, &outlen,
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
        if (walk_lzf(c->buf + c->pos, (Py_ssize_t)clen, (uint8_t *)PyBytes_AS_STRING(*out),
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
        if (ulen > (uint64_t)lzf_max_output((Py_ssize_t)clen))
            return STOP; /* cannot expand that far: RdbReader._read_lzf_lengths refuses it */
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
static const walker_t walkers[] = {walk_listpack, walk_ziplist, walk_intset, walk_zipmap};
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
        if (walk_lzf(c->buf + c->pos, (Py_ssize_t)clen, head, (long long)ulen, head_size, &outlen,
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
            if (walk_lzf(c->buf + c->pos, (Py_ssize_t)clen, heap, (long long)ulen, -1, &outlen,
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
static int c_array(cur_t *c, rec_t *r, PyObject **out, uint64_t *length);
static int c_template_hash(cur_t *c, unsigned t, rec_t *r, PyObject **out, uint64_t *length);

/* the type codes this file reads (the Python loop may still know fewer in a given file) */
static int
type_handled(unsigned t)
{
    switch (t) {
    case 0: case 1: case 2: case 3: case 4: case 5:
    case 9: case 10: case 11: case 12: case 13: case 14:
    case 15: case 16: case 17: case 18: case 19: case 20: case 21:
    case 26: case 27: case 28: case 29: case 30: case 31: case 32: case 33:
        return 1;
    default:
        return 0;
    }
}

/* The value of a key record in full mode: *value and *length, or STOP/FAIL. */
static int
c_full_value(cur_t *c, unsigned t, rec_t *r, PyObject **value, uint64_t *length)
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
    case 15: case 19: case 21: case 26: case 27:
        return c_stream(c, t, 1, value, length);
    case 28:
        return c_array(c, r, value, length);
    case 29: case 30: case 31: case 32:
        return c_template_hash(c, t, r, value, length);
    case 33: /* GCRA: the theoretical arrival time, µs; Redis refuses more than LLONG_MAX */
        if ((rc = c_len(c, &n)) != GO)
            return rc;
        if (n > (uint64_t)LLONG_MAX)
            return STOP;
        *value = PyLong_FromUnsignedLongLong(n);
        *length = 1;
        return *value == NULL ? FAIL : GO;
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
c_size_value(cur_t *c, unsigned t, rec_t *r, uint64_t *length)
{
    uint64_t n, k, len, count;
    int rc;
    switch (t) {
    case 0:
        return c_skip_string(c, length);
    case 28: case 29: case 30: case 31: case 32: case 33: {
        /* read (and checked) as in full mode: their elements carry no count to skip by */
        PyObject *value;
        rc = c_full_value(c, t, r, &value, length);
        if (rc == GO)
            Py_DECREF(value);
        return rc;
    }
    case 15: case 19: case 21: case 26: case 27: {
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

/* the consumer of a pending entry (borrowed; NULL when the slot cannot be read directly) */
static PyObject *
pending_owner(PyObject *pe)
{
    PyObject *f[4];
    return model_slots(pe, &C_StreamPending, f) ? f[1] : NULL;
}

/* After the consumers of a group: type 27's NACK zone (Redis 8.8 XNACK: IDs of pending entries
 * that no consumer owns, in zone order) into *nacked, and for types 26 and 27 the check Redis
 * makes with deep sanitization, that every other pending entry has a consumer.  Anything
 * else (an ID outside the PEL, owned, listed twice, an unowned entry outside the zone) is
 * left to Python. */
static int
c_nack_zone(cur_t *c, unsigned t, PyObject *pending, PyObject **nacked)
{
    uint64_t n = 0, k;
    Py_ssize_t pos = 0;
    PyObject *zone = NULL, *pid, *pe;
    int rc = GO;
    if (t >= 27) {
        if ((rc = c_len(c, &n)) != GO)
            return rc;
        if (!have(c, n) || !have(c, 16 * n))
            return STOP;
        if ((*nacked = PyList_New(0)) == NULL || (zone = PySet_New(NULL)) == NULL) {
            Py_CLEAR(*nacked);
            return FAIL;
        }
        for (k = 0; k < n && rc == GO; k++) {
            if ((rc = c_raw_id(c, &pid)) != GO)
                break;
            pe = PyDict_GetItemWithError(pending, pid); /* borrowed */
            if (pe == NULL || pending_owner(pe) != Py_None) {
                rc = PyErr_Occurred() ? FAIL : STOP;
            }
            else {
                int seen = PySet_Contains(zone, pid);
                if (seen < 0 || (!seen && (PySet_Add(zone, pid) < 0
                                           || PyList_Append(*nacked, pid) < 0)))
                    rc = FAIL;
                else if (seen)
                    rc = STOP;
            }
            Py_DECREF(pid);
        }
    }
    while (rc == GO && PyDict_Next(pending, &pos, &pid, &pe)) {
        if (pending_owner(pe) == Py_None) {
            int in_zone = zone != NULL ? PySet_Contains(zone, pid) : 0;
            rc = in_zone < 0 ? FAIL : in_zone ? GO : STOP;
        }
    }
    Py_XDECREF(zone);
    if (rc != GO)
        Py_CLEAR(*nacked);
    return rc;
}

static int
c_stream_group(cur_t *c, unsigned t, PyObject **out)
{
    PyObject *name = NULL, *last_id = NULL, *entries_read = NULL, *pending = NULL;
    PyObject *consumers = NULL, *nacked = NULL, *fields[6];
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
            if (nack == NULL || pending_owner(nack) != Py_None) {
                Py_DECREF(pid);
                /* not in the PEL, or claimed twice: Python reports it */
                rc = PyErr_Occurred() ? FAIL : STOP;
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
    if (t >= 26 && (rc = c_nack_zone(c, t, pending, &nacked)) != GO)
        goto bad;
    fields[0] = name;
    fields[1] = last_id;
    fields[2] = entries_read;
    fields[3] = PyDict_Values(pending);
    fields[4] = consumers;
    fields[5] = nacked != NULL ? nacked : Py_NewRef(Py_None);
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

/* Type 26's IDMP state (Redis 8.6 idempotent XADD; rdbLoadStreamIdmpEntries): the XCFGSET
 * duration (1..86400 s) and max size (1..10000), the producers, each with its (iid, stream ID)
 * pairs, and the all-time counters.  A producer without IIDs (8.10 writes one when all of them
 * expired; Redis skips it on load) is kept as written. */
static int
c_stream_idmp(cur_t *c, PyObject **out)
{
    uint64_t duration, max_size, nprod, n, k, j, added, duplicates;
    PyObject *producers, *tracked, *pid = NULL, *iids = NULL, *f[5];
    int rc;
    if ((rc = c_len(c, &duration)) != GO || (rc = c_len(c, &max_size)) != GO)
        return rc;
    if (duration < 1 || duration > 86400 || max_size < 1 || max_size > 10000)
        return STOP; /* outside what Redis loads: Python reports it */
    if ((rc = c_len(c, &nprod)) != GO)
        return rc;
    if (!have(c, nprod))
        return STOP;
    if ((producers = PyList_New(0)) == NULL)
        return FAIL;
    if ((tracked = PySet_New(NULL)) == NULL) {
        Py_DECREF(producers);
        return FAIL;
    }
    for (k = 0; k < nprod; k++) {
        PyObject *pf[2], *producer;
        if ((rc = c_string(c, &pid)) != GO || (rc = c_len(c, &n)) != GO)
            goto bad;
        if (!have(c, n)) {
            rc = STOP;
            goto bad;
        }
        if ((iids = PyList_New(0)) == NULL) {
            rc = FAIL;
            goto bad;
        }
        for (j = 0; j < n; j++) {
            PyObject *iid, *id, *pair;
            if ((rc = c_string(c, &iid)) != GO)
                goto bad;
            if ((rc = c_id_lens(c, &id)) != GO) {
                Py_DECREF(iid);
                goto bad;
            }
            pair = PyTuple_Pack(2, iid, id);
            Py_DECREF(iid);
            Py_DECREF(id);
            if (pair == NULL || PyList_Append(iids, pair) < 0) {
                Py_XDECREF(pair);
                rc = FAIL;
                goto bad;
            }
            ATOMIC_TUPLE(pair);
            Py_DECREF(pair);
        }
        if (n > 0) { /* a producer twice: raxTryInsert fails, and so does the load */
            int seen = PySet_Contains(tracked, pid);
            if (seen != 0 || PySet_Add(tracked, pid) < 0) {
                rc = seen > 0 ? STOP : FAIL;
                goto bad;
            }
        }
        pf[0] = pid;
        pf[1] = iids;
        pid = iids = NULL;
        producer = make(&C_StreamIdmpProducer, pf);
        if (producer == NULL || PyList_Append(producers, producer) < 0) {
            Py_XDECREF(producer);
            rc = FAIL;
            goto bad;
        }
        Py_DECREF(producer);
    }
    if ((rc = c_len(c, &added)) != GO || (rc = c_len(c, &duplicates)) != GO)
        goto bad;
    Py_DECREF(tracked);
    f[0] = PyLong_FromUnsignedLongLong(duration);
    f[1] = PyLong_FromUnsignedLongLong(max_size);
    f[2] = producers;
    f[3] = PyLong_FromUnsignedLongLong(added);
    f[4] = PyLong_FromUnsignedLongLong(duplicates);
    *out = make(&C_StreamIdmp, f);
    return *out == NULL ? FAIL : GO;
bad:
    Py_XDECREF(pid);
    Py_XDECREF(iids);
    Py_DECREF(producers);
    Py_DECREF(tracked);
    return rc;
}

/* types 15, 19, 21, 26, 27; with decode == 0 (sizes) the node listpacks are skipped unread */
static int
c_stream(cur_t *c, unsigned t, int decode, PyObject **out, uint64_t *length)
{
    PyObject *entries, *f[8] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
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
    if (t >= 26) {
        if ((rc = c_stream_idmp(c, &f[7])) != GO)
            goto bad;
    }
    else {
        f[7] = Py_NewRef(Py_None);
    }
    items_free(&it);
    f[0] = entries;
    *out = make(&C_Stream, f);
    return *out == NULL ? FAIL : GO;
bad:
    items_free(&it);
    Py_DECREF(entries);
    for (k = 1; k < 8; k++)
        Py_XDECREF(f[k]);
    return rc;
}

/* -- arrays (type 28, Redis 8.8; rdb.c rdbLoadObject, sparsearray.c) ----------------------- */

/* An array FLOAT element as the server replies with it (sparsearray.c arFormatFloat: util.c
 * d2string, then ".0" for integer-looking finite values): "nan", "inf", "-inf", "0.0", "-0.0";
 * integral values within +-LLONG_MAX/2 in plain decimal; everything else as fpconv_dtoa writes
 * the shortest round-trip digits (emit_digits: plain up to 7 zeros past the digits, decimals
 * down to 1e-6, else d[.ddd]e+N / e-N with no exponent padding). */
static int
ar_format_float(double d, char *out)
{
    int n;
    long long ll;
    if (isnan(d))
        return (memcpy(out, "nan", 3), 3);
    if (isinf(d))
        return d > 0 ? (memcpy(out, "inf", 3), 3) : (memcpy(out, "-inf", 4), 4);
    if (d == 0) {
        n = signbit(d) ? (memcpy(out, "-0", 2), 2) : (out[0] = '0', 1);
    }
    else if (d >= (double)(-LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2)
             && (double)(ll = (long long)d) == d) { /* d2string's double2ll() */
        n = put_ll(out, ll);
    }
    else {
        /* the shortest round-trip digits (Python's repr, as Grisu gives them) and K, the
         * decimal exponent of their last digit */
        char *text = PyOS_double_to_string(fabs(d), 'r', 0, 0, NULL), digits[24], *p;
        int nd = 0, frac = 0, seen_dot = 0, K, e;
        if (text == NULL)
            return -1;
        for (p = text; *p && *p != 'e'; p++) {
            if (*p == '.') {
                seen_dot = 1;
                continue;
            }
            if (nd == 0 && *p == '0') { /* leading zeros of 0.000ddd */
                frac += seen_dot;
                continue;
            }
            if (nd < 20)
                digits[nd++] = *p;
            frac += seen_dot;
        }
        K = (*p == 'e' ? atoi(p + 1) : 0) - frac;
        PyMem_Free(text);
        while (nd > 1 && digits[nd - 1] == '0') {
            nd--;
            K++;
        }
        n = 0;
        if (d < 0)
            out[n++] = '-';
        e = K + nd - 1 < 0 ? -(K + nd - 1) : K + nd - 1;
        if (K >= 0 && e < nd + 7) { /* plain integer */
            memcpy(out + n, digits, (size_t)nd);
            memset(out + n + nd, '0', (size_t)K);
            n += nd + K;
        }
        else if (K < 0 && (K > -7 || e < 4)) { /* decimal without exponent */
            int offset = nd + K;
            if (offset <= 0) {
                out[n++] = '0';
                out[n++] = '.';
                memset(out + n, '0', (size_t)-offset);
                n += -offset;
                memcpy(out + n, digits, (size_t)nd);
                n += nd;
            }
            else {
                memcpy(out + n, digits, (size_t)offset);
                n += offset;
                out[n++] = '.';
                memcpy(out + n, digits + offset, (size_t)(nd - offset));
                n += nd - offset;
            }
        }
        else { /* scientific */
            out[n++] = digits[0];
            if (nd > 1) {
                out[n++] = '.';
                memcpy(out + n, digits + 1, (size_t)(nd - 1));
                n += nd - 1;
            }
            out[n++] = 'e';
            out[n++] = K + nd - 1 < 0 ? '-' : '+';
            if (e > 99) {
                out[n++] = (char)('0' + e / 100);
                e %= 100;
                out[n++] = (char)('0' + e / 10);
            }
            else if (e > 9) {
                out[n++] = (char)('0' + e / 10);
            }
            out[n++] = (char)('0' + e % 10);
        }
    }
    if (memchr(out, '.', (size_t)n) == NULL && memchr(out, 'e', (size_t)n) == NULL) {
        out[n++] = '.';
        out[n++] = '0';
    }
    return n;
}

/* count elements, each (len index, len tag, value) in ascending index order, after the insert
 * cursor (has_insert_idx 0/1, then insert_idx): Entry.value [(index, bytes)], the cursor + 1 in
 * r->next_insert.  INT elements come back as their decimal text, FLOAT ones as the server
 * prints them, SMALLSTR (at most 7 bytes) and SDS as stored. */
static int
c_array(cur_t *c, rec_t *r, PyObject **out, uint64_t *length)
{
    uint64_t count, has_cursor, cursor = 0, k, index, tag, prev = 0;
    PyObject *list;
    int rc;
    if ((rc = c_len(c, &count)) != GO || (rc = c_len(c, &has_cursor)) != GO)
        return rc;
    if (count == 0 || has_cursor > 1) /* "Empty array", a bad insert_idx flag */
        return STOP;
    if (has_cursor && ((rc = c_len(c, &cursor)) != GO || cursor == UINT64_MAX))
        return rc != GO ? rc : STOP;
    if (!have(c, count) || !have(c, 2 * count))
        return STOP; /* every element takes at least three bytes */
    if ((list = PyList_New((Py_ssize_t)count)) == NULL)
        return FAIL;
    for (k = 0; k < count; k++) {
        PyObject *value = NULL, *idx, *pair;
        if ((rc = c_len(c, &index)) != GO || (rc = c_len(c, &tag)) != GO)
            goto bad;
        if (index == UINT64_MAX || (k > 0 && index <= prev)) {
            rc = STOP; /* not an index, or out of order */
            goto bad;
        }
        prev = index;
        if (tag == 1 || tag == 2) { /* ARRAY_TAG_INT: int64 LE; ARRAY_TAG_FLOAT: double LE */
            char text[48];
            int n;
            if (!have(c, 8)) {
                rc = STOP;
                goto bad;
            }
            if (tag == 1) {
                n = put_ll(text, (long long)rd64le(c->buf + c->pos));
            }
            else {
                double dv;
                memcpy(&dv, c->buf + c->pos, 8);
                if ((n = ar_format_float(dv, text)) < 0) {
                    rc = FAIL;
                    goto bad;
                }
            }
            c->pos += 8;
            value = PyBytes_FromStringAndSize(text, n);
            if (value == NULL) {
                rc = FAIL;
                goto bad;
            }
        }
        else if (tag == 0 || tag == 3) { /* ARRAY_TAG_SDS, ARRAY_TAG_SMALLSTR (<= 7 bytes) */
            if ((rc = c_string(c, &value)) != GO)
                goto bad;
            if (tag == 3 && PyBytes_GET_SIZE(value) > 7) {
                Py_DECREF(value);
                rc = STOP;
                goto bad;
            }
        }
        else {
            rc = STOP;
            goto bad;
        }
        idx = PyLong_FromUnsignedLongLong(index);
        pair = idx == NULL ? NULL : PyTuple_New(2);
        if (pair == NULL) {
            Py_XDECREF(idx);
            Py_DECREF(value);
            rc = FAIL;
            goto bad;
        }
        PyTuple_SET_ITEM(pair, 0, idx);
        PyTuple_SET_ITEM(pair, 1, value);
        ATOMIC_TUPLE(pair);
        PyList_SET_ITEM(list, (Py_ssize_t)k, pair);
    }
    if (has_cursor && (r->next_insert = PyLong_FromUnsignedLongLong(cursor + 1)) == NULL) {
        rc = FAIL;
        goto bad;
    }
    *out = list;
    *length = count;
    return GO;
bad:
    Py_DECREF(list); /* unset items are NULL: list_dealloc skips them */
    return rc;
}

/* -- template hashes (types 29-32, Redis 8.10 "compact hashes"; rdb.c rdbLoadObject) ------- */

/* field names are strictly in template order: shorter first, then bytewise (sdscmplen) */
static int
tmpl_ordered(PyObject *a, PyObject *b)
{
    Py_ssize_t na = PyBytes_GET_SIZE(a), nb = PyBytes_GET_SIZE(b);
    return na != nb ? na < nb : memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), (size_t)na) < 0;
}

/* The field names of template `tid` from the file's opcode 242 records (a new reference to a
 * list of bytes), or NULL (STOP: no such template). */
static PyObject *
tmpl_lookup(rec_t *r, uint64_t tid)
{
    PyObject *key, *fields;
    if (r->templates == NULL)
        return NULL;
    if ((key = PyLong_FromUnsignedLongLong(tid)) == NULL)
        return NULL;
    fields = PyDict_GetItemWithError(r->templates, key); /* borrowed */
    Py_DECREF(key);
    if (fields == NULL)
        return NULL;
    fields = PyList_CheckExact(fields) ? Py_NewRef(fields) /* or a HashTemplate record */
                                       : PyObject_GetAttrString(fields, "fields");
    if (fields != NULL && !PyList_CheckExact(fields))
        Py_CLEAR(fields);
    return fields;
}

/* The self-contained field names of types 29 and 31 (DUMP payloads; rdbLoadTemplateFields):
 * fields_fmt 0 = one listpack of names, 1 = a count and that many strings. */
static int
c_inline_fields(cur_t *c, PyObject **out)
{
    uint64_t fmt, n, k;
    int rc;
    if ((rc = c_len(c, &fmt)) != GO)
        return rc;
    if (fmt == 0) {
        items_t it;
        uint8_t *heap = NULL;
        items_init(&it);
        rc = c_blob_items(c, K_LISTPACK, &it, &heap);
        if (rc == GO && (*out = texts_list(&it)) == NULL)
            rc = FAIL;
        if (heap != NULL)
            PyMem_Free(heap);
        items_free(&it);
        return rc;
    }
    if (fmt != 1)
        return STOP;
    if ((rc = c_len(c, &n)) != GO)
        return rc;
    if (!have(c, n))
        return STOP;
    if ((*out = PyList_New((Py_ssize_t)n)) == NULL)
        return FAIL;
    for (k = 0; k < n; k++) {
        PyObject *name;
        if ((rc = c_string(c, &name)) != GO) {
            Py_CLEAR(*out);
            return rc;
        }
        PyList_SET_ITEM(*out, (Py_ssize_t)k, name);
    }
    return GO;
}

/* Types 30 (listpack [tid][v0]..[vN-1]) and 32 (len tid, N strings) refer to an opcode 242
 * template; 29 (listpack [source tid][v0]..) and 31 (N strings) carry their field names first.
 * The value is an ordinary hash: (field, value) pairs in template order. */
static int
c_template_hash(cur_t *c, unsigned t, rec_t *r, PyObject **out, uint64_t *length)
{
    PyObject *fields = NULL, *list = NULL;
    items_t it;
    uint8_t *heap = NULL;
    Py_ssize_t n, k, first = 0;
    uint64_t tid;
    int rc = GO;
    items_init(&it);
    if (t == 29 || t == 31) {
        if ((rc = c_inline_fields(c, &fields)) != GO)
            return rc;
        n = PyList_GET_SIZE(fields);
        for (k = 1; k < n && rc == GO; k++)
            if (!tmpl_ordered(PyList_GET_ITEM(fields, k - 1), PyList_GET_ITEM(fields, k)))
                rc = STOP;
        if (n == 0)
            rc = STOP; /* "template with zero fields" */
        if (rc != GO)
            goto done;
    }
    if (t == 29 || t == 30) {
        if ((rc = c_blob_items(c, K_LISTPACK, &it, &heap)) != GO)
            goto done;
        if (it.n < 1 || it.a[0].s != NULL || it.a[0].v < 0) {
            rc = STOP; /* no integer template id first */
            goto done;
        }
        if (t == 30 && (fields = tmpl_lookup(r, (uint64_t)it.a[0].v)) == NULL) {
            rc = PyErr_Occurred() ? FAIL : STOP;
            goto done;
        }
        if (it.n - 1 != PyList_GET_SIZE(fields)) {
            rc = STOP;
            goto done;
        }
        first = 1;
    }
    else if (t == 32) {
        if ((rc = c_len(c, &tid)) != GO)
            goto done;
        if ((fields = tmpl_lookup(r, tid)) == NULL) {
            rc = PyErr_Occurred() ? FAIL : STOP;
            goto done;
        }
    }
    n = PyList_GET_SIZE(fields);
    if (first == 0 && !have(c, (uint64_t)n)) {
        rc = STOP;
        goto done;
    }
    if ((list = PyList_New(n)) == NULL) {
        rc = FAIL;
        goto done;
    }
    for (k = 0; k < n; k++) {
        PyObject *value, *pair;
        if (first) {
            value = item_text(&it.a[k + 1]);
        }
        else if ((rc = c_string(c, &value)) != GO) {
            goto done;
        }
        pair = value == NULL ? NULL : PyTuple_Pack(2, PyList_GET_ITEM(fields, k), value);
        Py_XDECREF(value);
        if (pair == NULL) {
            rc = FAIL;
            goto done;
        }
        ATOMIC_TUPLE(pair);
        PyList_SET_ITEM(list, k, pair);
    }
    *out = list;
    list = NULL;
    *length = (uint64_t)n;
done:
    if (heap != NULL)
        PyMem_Free(heap);
    items_free(&it);
    Py_XDECREF(fields);
    Py_XDECREF(list);
    return rc;
}

/* -- module key metadata (opcode 243 before the type byte, Redis 8.6; rdbLoadKeyMetadata) -- */

static const char keymeta_charset[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/* len num_classes (1..7), then per class its 4-byte class spec (u32 LE: 4 name characters of 6
 * bits, first in the top bits; version, 5 bits; flags, 3 bits) and module-typed values up to
 * their EOF: a list of KeyMeta, each with the bytes from its class spec through the EOF. */
static int
c_key_meta(cur_t *c, PyObject **out)
{
    uint64_t n, k, opcode, v;
    int rc = GO;
    if ((rc = c_len(c, &n)) != GO)
        return rc;
    if (n < 1 || n > 7) /* "Too many metadata classes"; none at all is not written */
        return STOP;
    if ((*out = PyList_New(0)) == NULL)
        return FAIL;
    for (k = 0; k < n && rc == GO; k++) {
        Py_ssize_t start = c->pos;
        uint32_t spec;
        char name[4];
        PyObject *f[4], *meta;
        int i;
        if (!have(c, 4)) {
            rc = STOP;
            break;
        }
        spec = rd32le(c->buf + c->pos);
        c->pos += 4;
        for (;;) { /* rdbLoadCheckModuleValue's opcodes */
            if ((rc = c_len(c, &opcode)) != GO)
                break;
            if (opcode == 0) /* RDB_MODULE_OPCODE_EOF */
                break;
            if (opcode == 1 || opcode == 2) /* SINT, UINT */
                rc = c_len(c, &v);
            else if (opcode == 3 || opcode == 4) { /* FLOAT, DOUBLE */
                if (have(c, opcode == 3 ? 4 : 8))
                    c->pos += opcode == 3 ? 4 : 8;
                else
                    rc = STOP;
            }
            else if (opcode == 5) /* STRING */
                rc = c_skip_string(c, &v);
            else
                rc = STOP;
            if (rc != GO)
                break;
        }
        if (rc != GO)
            break;
        for (i = 0; i < 4; i++)
            name[i] = keymeta_charset[(spec >> (26 - 6 * i)) & 63];
        f[0] = PyUnicode_FromStringAndSize(name, 4);
        f[1] = PyLong_FromLong((long)((spec >> 3) & 31));
        f[2] = PyLong_FromLong((long)(spec & 7));
        f[3] = PyBytes_FromStringAndSize((const char *)c->buf + start, c->pos - start);
        meta = make(&C_KeyMeta, f);
        if (meta == NULL || PyList_Append(*out, meta) < 0)
            rc = FAIL;
        Py_XDECREF(meta);
    }
    if (rc != GO)
        Py_CLEAR(*out);
    return rc;
}

#ifndef NO_GC_IN_BATCH
#define NO_GC_IN_BATCH 1
#endif
#ifndef MAX_BATCH
#define MAX_BATCH 64
#endif

/* codes (an iterable of type codes, or None) as a 256-entry mask: 0 ok, -1 error */
static int
code_mask(PyObject *codes, unsigned char *mask)
{
    PyObject *it, *item;
    memset(mask, 0, 256);
    if (codes == Py_None)
        return 0;
    it = PyObject_GetIter(codes);
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

/* The type codes read here: those this file handles that the Python loop also reads in this
 * file (`types`; None: the codes every RDB and VALKEY version shares, 0-21).  The loop passes
 * the same frozenset on every call, so the mask of the last one is kept. */
static int
known_mask(PyObject *types, unsigned char *mask)
{
    static PyObject *last = NULL;
    static unsigned char last_mask[256];
    unsigned t;
    if (types == Py_None) {
        for (t = 0; t < 256; t++)
            mask[t] = t <= 21 && type_handled(t);
        return 0;
    }
    if (types != last || !PyFrozenSet_CheckExact(types)) {
        if (code_mask(types, last_mask) < 0) {
            Py_CLEAR(last);
            return -1;
        }
        for (t = 0; t < 256; t++)
            last_mask[t] = last_mask[t] && type_handled(t);
        Py_XSETREF(last, Py_NewRef(types));
    }
    memcpy(mask, last_mask, 256);
    return 0;
}

/* read_records(buf, pos, base, db, sizes, expire, idle, freq, record_start[, raw_types
 *              [, types, templates, key_meta]])
 *   -> (entries, pos, expire, idle, freq, record_start, starved)
 *
 * Reads the key records (with their EXPIRETIME/EXPIRETIME_MS/IDLE/FREQ opcodes) that lie
 * completely in buf[pos:], at most MAX_BATCH of them, stopping at the first opcode of anything
 * else (or a record it cannot read) with the pending per-key state as the Python loop keeps it.
 * `starved`: it stopped because the record at pos runs past the end of buf (a larger buffer may
 * let it through).  Values of the type codes in `raw_types` are read as in sizes mode and kept
 * as RawValue(the bytes after the key), as the Python loop's raw_types does.
 *
 * The file's own context, for RDB 13-15: `types`, the type codes the Python loop reads in this
 * file (a frozenset; None: 0-21 only); `templates`, its hash templates so far (a dict tid ->
 * list of field names, filled by the loop from opcode 242), for types 30 and 32; `key_meta`,
 * whether opcode 243 is KEY_META (Redis magic; Valkey's 243 is SLOT_IMPORT).  A KEY_META
 * prefix is read as part of the key record that follows it: if that record stops here, so
 * does the prefix, and the Python loop reads both. */
PyObject *
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
    rec_t rec;
    unsigned char raw[256], known[256];
    int key_meta;

    if (nargs != 9 && nargs != 10 && nargs != 13) {
        PyErr_SetString(PyExc_TypeError, "read_records() takes 9, 10 or 13 arguments");
        return NULL;
    }
    if (code_mask(nargs >= 10 ? args[9] : Py_None, raw) < 0
        || known_mask(nargs == 13 ? args[10] : Py_None, known) < 0)
        return NULL;
    rec.templates = nargs == 13 && args[11] != Py_None ? args[11] : NULL;
    if (rec.templates != NULL && !PyDict_Check(rec.templates)) {
        PyErr_SetString(PyExc_TypeError, "read_records(): templates must be a dict or None");
        return NULL;
    }
    key_meta = nargs == 13 ? PyObject_IsTrue(args[12]) : 0;
    if (key_meta < 0)
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
        if (op < 0xF0 || (op == 0xF3 && key_meta)) {
            PyObject *key, *value = Py_None, *meta = NULL, *fields[ENTRY_NFIELDS], *entry;
            uint64_t length = 0;
            if (op == 0xF3) { /* KEY_META, then the key's real type byte */
                if ((rc = c_key_meta(&c, &meta)) != GO)
                    break;
                if (!have(&c, 1)) {
                    Py_DECREF(meta);
                    break;
                }
                op = c.buf[c.pos++];
            }
            if (!known[op] || (rc = c_string(&c, &key)) != GO) {
                Py_XDECREF(meta);
                break;
            }
            rec.next_insert = NULL;
            if (raw[op]) {
                Py_ssize_t value_start = c.pos;
                rc = c_size_value(&c, op, &rec, &length);
                if (rc == GO) {
                    PyObject *data = PyBytes_FromStringAndSize(
                        (const char *)c.buf + value_start, c.pos - value_start);
                    value = make(&C_RawValue, &data);
                    if (value == NULL)
                        rc = FAIL;
                }
            }
            else if (sizes) {
                rc = c_size_value(&c, op, &rec, &length);
                Py_INCREF(Py_None);
            }
            else {
                rc = c_full_value(&c, op, &rec, &value, &length);
            }
            if (rc != GO) {
                Py_DECREF(key);
                Py_XDECREF(meta);
                Py_XDECREF(rec.next_insert);
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
            fields[12] = rec.next_insert != NULL ? rec.next_insert : Py_NewRef(Py_None);
            fields[13] = meta != NULL ? meta : Py_NewRef(Py_None);
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
