/* rdbtools: analysis/_estimate.c
 *
 * Compiled twin of the per-key estimator in rdbtools/analysis/memory.py (MemoryEstimator) and of
 * the row rendering in rdbtools/analysis/export.py.  Optional (setup.py builds it with
 * optional=True); RDBTOOLS_PUREPYTHON=1 or a failed build leaves the pure-Python code in charge.
 *
 * Every function is a transcription of its Python twin, with the same arithmetic in the same
 * order (floating-point sums included), so the numbers are identical; tests/test_estimate_compiled.py
 * proves it on the corpus and on hypothesis-generated keys.  Two ways in:
 *
 *   Estimator.estimate(entry, buf, base)  a decoded entry (values="full"); blob lengths, quicklist
 *                                         nodes and stream node keys come from the record bytes in
 *                                         the reader's buffer.
 *   Estimator.estimate_raw(entry)         an entry read with raw_types (RawValue: the value's bytes,
 *                                         not decoded).  The value is walked as the compiled
 *                                         reader's full decode (_speedups.c c_full_value) walks it,
 *                                         with copies of its blob walkers and LZF checks, accepting
 *                                         no more than it does; the estimates need only lengths and
 *                                         integer-ness, so no element object is made.
 *
 * Whatever is not covered (module values, hash field TTLs, Valkey open-addressing tables and rax
 * allocation sizes, re-encoding a value for a target with another compact format, records not in
 * the reader's buffer, anything the walk does not accept) is *declined*: None, and Python answers
 * (for a raw entry after the reader has decoded it; damage is then reported by the reader).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* model classes, read and filled through their slots (checked at import, as _speedups.c does) */

typedef struct {
    const char *name;
    int nfields;
    const char *fields[12];
    PyTypeObject *type;
    Py_ssize_t offsets[12];
} slotclass_t;

enum { E_DB, E_KEY, E_TYPE, E_VALUE, E_EXPIRE, E_RDB_TYPE, E_IDLE, E_FREQ, E_FIELD_TTLS,
       E_LENGTH, E_OFFSET, E_SIZE };
static slotclass_t C_Entry = {"Entry", 12, {"db", "key", "type", "value", "expire_at_ms",
    "rdb_type", "idle_s", "freq", "field_expire_at_ms", "length", "offset", "size"}};
static slotclass_t C_KeyMemory = {"KeyMemory", 12, {"db", "key", "type", "encoding", "elements",
    "memory_usage", "largest_element", "expire_at_ms", "idle_s", "freq", "key_bytes", "rdb_type"}};

static slotclass_t C_RawValue = {"RawValue", 1, {"data"}};

#define SLOT(cls, obj, k) (*(PyObject **)((char *)(obj) + (cls).offsets[k]))

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

/* RDB type codes (rdbtools/constants.py) */
enum { RDB_TYPE_HASH = 4,
       RDB_TYPE_HASH_ZIPMAP = 9, RDB_TYPE_LIST_ZIPLIST = 10, RDB_TYPE_SET_INTSET = 11, RDB_TYPE_ZSET_ZIPLIST = 12,
       RDB_TYPE_HASH_ZIPLIST = 13, RDB_TYPE_LIST_QUICKLIST = 14, RDB_TYPE_HASH_LISTPACK = 16,
       RDB_TYPE_ZSET_LISTPACK = 17, RDB_TYPE_LIST_QUICKLIST_2 = 18, RDB_TYPE_SET_LISTPACK = 20,
       RDB_TYPE_HASH_LISTPACK_EX = 25 };

static PyObject *S_string, *S_list, *S_set, *S_zset, *S_hash, *S_stream;  /* model type names */
static PyObject *S_entries, *S_groups, *S_fields, *S_pending, *S_consumers, *S_name, *S_id,
    *S_length;                                                            /* stream attributes */
static PyTypeObject *StreamType;
static PyObject *S_int, *S_embstr, *S_raw, *S_listpack, *S_ziplist, *S_quicklist, *S_intset,
    *S_hashtable, *S_skiplist, *S_stream_enc;                             /* encodings */

/* ---------------------------------------------------------------------------------------- */
/* encoded.py                                                                                */

static int
bit_length(long long v)
{
    unsigned long long u = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
    return u ? 64 - __builtin_clzll(u) : 0;
}

static long long
next_pow2(long long n)   /* memory._next_pow2: 1 << max(0, (n - 1).bit_length()) */
{
    return 1LL << bit_length(n - 1);
}

static long long
sds_header(long long n, int type5)
{
    if (n < 32 && type5 && n)
        return 1;
    if (n < 256)
        return 3;
    if (n < 65536)
        return 5;
    if (n < (1LL << 32))
        return 9;
    return 17;
}

/* encoded.string_to_int: 1 and *out when s spells an int64 canonically, else 0 */
static int
string_to_int(const unsigned char *s, Py_ssize_t n, long long *out)
{
    Py_ssize_t i, start;
    unsigned long long v = 0;
    int neg = 0;
    if (n == 0 || n > 20)
        return 0;
    if (s[0] == '-') {
        if (n == 1 || s[1] == '0')
            return 0;
        neg = 1;
    }
    else if (s[0] == '0') {
        if (n != 1)
            return 0;
        *out = 0;
        return 1;
    }
    else if (s[0] < '1' || s[0] > '9')
        return 0;
    start = neg;
    for (i = start; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    if (n - start > 19)
        return 0;   /* 20 digits: >= 1e19, beyond int64 */
    for (i = start; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (neg) {
        if (v > (1ULL << 63))
            return 0;
        *out = (long long)(0 - v);
    }
    else {
        if (v > (unsigned long long)INT64_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

/* The blob walkers and LZF of the compiled reader: they decide what the reader's full decode
 * accepts, and the raw path below must accept no more than that (anything else goes back to
 * the reader). */
#include "../rdb/_walkers.h"

/* lzf_walk's verdict without writing the output: a string whose bytes are not needed is only
 * checked */
static int
lzf_check(const uint8_t *d, Py_ssize_t n, long long expected)
{
    Py_ssize_t outlen;
    err_t e;
    return lzf_walk(d, n, NULL, expected, -1, &outlen, &e);
}

/* ---------------------------------------------------------------------------------------- */
/* Elements as the estimates see them: the length of their text and, when the text spells an */
/* int64 (encoded.string_to_int), that integer.  Built from the decoded model (Python lists) */
/* or straight from the record bytes (the raw path below).                                   */

typedef struct {
    long long len, v;
    int is_int;
} elem_t;

typedef struct {
    elem_t *a;
    Py_ssize_t n, cap;
} elems_t;

typedef struct {          /* a quicklist node: container (1 plain, 2 packed), decoded bytes */
    long long container, nbytes;
} qnode_t;

typedef struct {
    qnode_t *a;
    Py_ssize_t n, cap;
} qnodes_t;

static int
grow_array(void **a, Py_ssize_t *cap, Py_ssize_t need, size_t size)
{
    Py_ssize_t c = *cap ? *cap : 64;
    void *np;
    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    np = PyMem_Realloc(*a, (size_t)c * size);
    if (np == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *a = np;
    *cap = c;
    return 0;
}

static inline int
elem_push(elems_t *es, long long len, int is_int, long long v)
{
    elem_t *e;
    if (es->n == es->cap && grow_array((void **)&es->a, &es->cap, es->n + 1, sizeof(elem_t)) < 0)
        return -1;
    e = &es->a[es->n++];
    e->len = len;
    e->is_int = is_int;
    e->v = v;
    return 0;
}

static inline int
elem_push_str(elems_t *es, const unsigned char *s, Py_ssize_t n)
{
    long long v = 0;
    int is_int = string_to_int(s, n, &v);
    return elem_push(es, n, is_int, v);
}

static inline int
int_text_len(long long v)  /* len(b"%d" % v) */
{
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int n = v < 0 ? 2 : 1;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

static inline int
elem_push_int(elems_t *es, long long v)
{
    return elem_push(es, int_text_len(v), 1, v);
}

static inline int
qnode_push(qnodes_t *qn, long long container, long long nbytes)
{
    if (qn->n == qn->cap && grow_array((void **)&qn->a, &qn->cap, qn->n + 1, sizeof(qnode_t)) < 0)
        return -1;
    qn->a[qn->n].container = container;
    qn->a[qn->n].nbytes = nbytes;
    qn->n++;
    return 0;
}

static long long
largest_len(const elems_t *es)
{
    Py_ssize_t i;
    long long m = 0;
    for (i = 0; i < es->n; i++)
        if (es->a[i].len > m)
            m = es->a[i].len;
    return m;
}

static long long
lp_entry_size(const elem_t *e)  /* encoded.listpack_entry_size */
{
    long long v = e->v, n = e->len, size;
    if (e->is_int) {
        if (0 <= v && v <= 127)
            return 2;
        if (-4096 <= v && v <= 4095)
            return 3;
        if (-32768 <= v && v <= 32767)
            return 4;
        if (-8388608 <= v && v <= 8388607)
            return 5;
        if (-2147483648LL <= v && v <= 2147483647LL)
            return 6;
        return 10;
    }
    size = n < 64 ? 1 + n : n < 4096 ? 2 + n : 5 + n;
    return size + backlen_size(size);
}

/* the items of a list of bytes as elements: 1, or 0 when an item is not bytes, -1 error */
static int
elems_from_list(elems_t *es, PyObject *items)
{
    Py_ssize_t i, n = PyList_GET_SIZE(items);
    es->n = 0;
    for (i = 0; i < n; i++) {
        PyObject *o = PyList_GET_ITEM(items, i);
        if (!PyBytes_CheckExact(o))
            return 0;
        if (elem_push_str(es, (const unsigned char *)PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o)) < 0)
            return -1;
    }
    return 1;
}

/* the first items of (bytes, x) pairs, and the second ones too when ``both`` (interleaved) */
static int
elems_from_pairs(elems_t *es, PyObject *pairs, int both)
{
    Py_ssize_t i, n = PyList_GET_SIZE(pairs);
    es->n = 0;
    for (i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(pairs, i), *a, *b;
        if (!PyTuple_CheckExact(t) || PyTuple_GET_SIZE(t) != 2)
            return 0;
        a = PyTuple_GET_ITEM(t, 0);
        b = PyTuple_GET_ITEM(t, 1);
        if (!PyBytes_CheckExact(a) || (both && !PyBytes_CheckExact(b)))
            return 0;
        if (elem_push_str(es, (const unsigned char *)PyBytes_AS_STRING(a), PyBytes_GET_SIZE(a)) < 0)
            return -1;
        if (both && elem_push_str(es, (const unsigned char *)PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b)) < 0)
            return -1;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* the estimator: one ServerProfile                                                          */

enum { ALLOC_JEMALLOC, ALLOC_LIBC };
enum { KS_DICTENTRY, KS_EMBEDDED };

typedef struct {
    PyObject_HEAD
    int allocator;       /* ALLOC_* */
    long long quantum;   /* jemalloc quantum */
    int keyspace;        /* KS_* */
    int ziplist, exact_blobs, list_listpack, set_listpack, set_dict, hash_mstr;
    long long dict_struct, dict_entry, quicklist, quicklist_node, embstr_limit, embed_limit,
        embstr_robj, zset_dict_entry;
    int embed_counts_expire, stream_rax_estimate, stream_lp_alloc;
    long long stream, stream_cg, stream_consumer, stream_nack;
    long long hash_entries, hash_value, intset_entries, set_entries, set_value, zset_entries,
        zset_value, list_fill;
    double node_mean;
    elems_t es;              /* working storage, reused from key to key */
    qnodes_t qn;
    items_t items;
    unsigned char *scratch;  /* LZF expansions of the raw path */
    Py_ssize_t scratch_cap;
} Estimator;

static inline long long
alloc(const Estimator *p, long long n)  /* ServerProfile.alloc */
{
    long long step;
    if (p->allocator == ALLOC_LIBC)
        return n <= 24 ? 24 : ((n + 8 + 15) & ~15LL) - 8;
    if (n <= 8)
        return 8;
    step = 1LL << (bit_length(n - 1) - 3);
    if (step < p->quantum)
        step = p->quantum;
    return (n + step - 1) / step * step;
}

static inline long long
sds(const Estimator *p, long long n, int type5)
{
    return alloc(p, sds_header(n, type5) + n + 1);
}

static long long
sampled(long long asize, long long elesize, long long n)  /* MemoryEstimator._sampled */
{
    if (!n)
        return asize;
    return (long long)((double)asize + (double)elesize / (double)n * (double)n);
}

static long long
table(const Estimator *p, long long n, long long converted_at)  /* MemoryEstimator._table */
{
    long long size, used, old, i, np;
    double left;
    if (converted_at < 0) {
        np = next_pow2(n);
        return p->dict_struct + 8 * (np > 4 ? np : 4);
    }
    np = next_pow2(converted_at);
    size = np > 4 ? np : 4;
    used = converted_at;
    old = 0;
    left = 0.0;
    for (i = 0; i < n - converted_at; i++) {
        if (old) {
            left -= 1;
            if (left <= 0)
                old = 0;
        }
        if (!old && used >= size) {
            old = size;
            size = next_pow2(used + 1);
            left = (double)old * (1 - exp((double)(-used) / (double)old));
        }
        used += 1;
    }
    return p->dict_struct + 8 * (size + old);
}

/* the in-memory blob length from the record bytes (records.record_shape), or -1 */
typedef struct {
    const unsigned char *buf;
    Py_ssize_t pos, end;
    int bad;
} walker_t;

static unsigned long long
w_length(walker_t *w, int *special)
{
    unsigned char b;
    unsigned long long v;
    int i;
    *special = 0;
    if (w->pos >= w->end) {
        w->bad = 1;
        return 0;
    }
    b = w->buf[w->pos++];
    switch (b >> 6) {
    case 0:
        return b & 0x3F;
    case 1:
        if (w->pos >= w->end) {
            w->bad = 1;
            return 0;
        }
        return ((unsigned long long)(b & 0x3F) << 8) | w->buf[w->pos++];
    case 3:
        *special = 1;
        return b & 0x3F;
    }
    if (b != 0x80 && b != 0x81) {
        w->bad = 1;
        return 0;
    }
    i = b == 0x80 ? 4 : 8;
    if (w->end - w->pos < i) {
        w->bad = 1;
        return 0;
    }
    for (v = 0; i > 0; i--)
        v = (v << 8) | w->buf[w->pos++];
    return v;
}

/* skips an RDB string, returns its decoded length; LZF blobs give it from their header.
 * Integer encodings (blobs never have them in files servers write) are declined. */
static long long
w_string(walker_t *w)
{
    int special;
    unsigned long long n = w_length(w, &special), clen, ulen;
    if (w->bad)
        return -1;
    if (!special) {
        if (n > (unsigned long long)(w->end - w->pos)) {
            w->bad = 1;
            return -1;
        }
        w->pos += n;
        return (long long)n;
    }
    if (n != 3) {  /* RDB_ENC_LZF */
        w->bad = 1;
        return -1;
    }
    clen = w_length(w, &special);
    ulen = w_length(w, &special);
    if (w->bad || clen > (unsigned long long)(w->end - w->pos) || ulen > (1ULL << 62)) {
        w->bad = 1;
        return -1;
    }
    w->pos += clen;
    return (long long)ulen;
}

/* walks the record up to its value: returns the type byte, or -1 */
static int
w_record_value(walker_t *w)
{
    int op, special;
    for (;;) {
        if (w->pos >= w->end)
            return -1;
        op = w->buf[w->pos++];
        if (op == 0xFC)          /* EXPIRETIME_MS */
            w->pos += 8;
        else if (op == 0xFD)     /* EXPIRETIME */
            w->pos += 4;
        else if (op == 0xF8)     /* IDLE */
            w_length(w, &special);
        else if (op == 0xF9)     /* FREQ */
            w->pos += 1;
        else
            break;
        if (w->bad || w->pos > w->end)
            return -1;
    }
    w_string(w);  /* the key */
    return w->bad ? -1 : op;
}

/* ---------------------------------------------------------------------------------------- */
/* per type; each returns 1 (done), 0 (declined) or -1 (error)                               */

typedef struct {
    PyObject *enc;       /* borrowed */
    long long size, n, largest;
} result_t;

typedef struct {
    const unsigned char *buf;   /* the record's bytes, or NULL */
    Py_ssize_t len;
} record_t;

static long long
embedded(const Estimator *p, PyObject *entry, long long robj, int expire)  /* _embedded */
{
    Py_ssize_t n = PyBytes_GET_SIZE(SLOT(C_Entry, entry, E_KEY));
    return robj + (expire && SLOT(C_Entry, entry, E_EXPIRE) != Py_None ? 8 : 0) + 1
        + sds_header(n, n < 32) + n + 1;
}

/* _string of a value of n bytes, is_int when they spell an int64 */
static int
est_string_e(const Estimator *p, PyObject *entry, long long n, int is_int, result_t *r)
{
    r->n = r->largest = n;
    if (p->keyspace != KS_DICTENTRY) {
        long long head = embedded(p, entry, 16, 1);
        if (is_int) {
            r->enc = S_int;
            r->size = alloc(p, head);
            return 1;
        }
        if (n <= p->embstr_limit
            && embedded(p, entry, p->embstr_robj, p->embed_counts_expire) + 4 + n <= p->embed_limit) {
            r->enc = S_embstr;
            r->size = alloc(p, embedded(p, entry, p->embstr_robj, 1) + 4 + n);
            return 1;
        }
        r->enc = S_raw;
        r->size = alloc(p, head) + sds(p, n, 1);
        return 1;
    }
    if (is_int) {
        r->enc = S_int;
        r->size = 16;
    }
    else if (n <= p->embstr_limit) {
        r->enc = S_embstr;
        r->size = p->exact_blobs ? 16 + n + 2 : alloc(p, 16 + 3 + n + 1);
    }
    else {
        r->enc = S_raw;
        r->size = 16 + sds(p, n, 0);
    }
    return 1;
}

static int
est_string(const Estimator *p, PyObject *entry, result_t *r)
{
    PyObject *value = SLOT(C_Entry, entry, E_VALUE);
    long long n, iv;
    if (!PyBytes_CheckExact(value))
        return 0;
    n = PyBytes_GET_SIZE(value);
    return est_string_e(p, entry, n,
                        n <= 20 && string_to_int((const unsigned char *)PyBytes_AS_STRING(value), n, &iv), r);
}

/* the decoded length of the record's blob when ``rdb_type`` is a blob type (records.py's
 * shape.blobs[0]), -1 when it is not or the record bytes are not here, -2 when the record's
 * framing is not the plain one (declined) */
static long long
record_blob(const record_t *rec, int rdb_type)
{
    walker_t w;
    long long len;
    if (rec->buf == NULL || !(rdb_type == RDB_TYPE_HASH_ZIPMAP || rdb_type == RDB_TYPE_LIST_ZIPLIST
                              || rdb_type == RDB_TYPE_SET_INTSET || rdb_type == RDB_TYPE_ZSET_ZIPLIST
                              || rdb_type == RDB_TYPE_HASH_ZIPLIST || rdb_type == RDB_TYPE_HASH_LISTPACK
                              || rdb_type == RDB_TYPE_ZSET_LISTPACK || rdb_type == RDB_TYPE_SET_LISTPACK
                              || rdb_type == RDB_TYPE_HASH_LISTPACK_EX))
        return -1;
    w.buf = rec->buf;
    w.pos = 0;
    w.end = rec->len;
    w.bad = 0;
    if (w_record_value(&w) != rdb_type)
        return -2;
    if (rdb_type == RDB_TYPE_HASH_LISTPACK_EX)
        w.pos += 8;
    len = w.pos <= w.end ? w_string(&w) : -1;
    return w.bad || len < 0 ? -2 : len;  /* framing records.py reads otherwise: declined */
}

/* _list once the elements and the target's quicklist nodes are known */
static int
est_list_e(const Estimator *p, const elems_t *es, const qnodes_t *qn, result_t *r)
{
    long long k, elesize = 0, limit, fill = p->list_fill;
    if (qn->n == 0)
        return 0;
    r->n = es->n;
    r->largest = largest_len(es);
    for (k = 0; k < qn->n; k++)
        elesize += p->quicklist_node
            + (p->exact_blobs && qn->a[k].container == 2 ? qn->a[k].nbytes : alloc(p, qn->a[k].nbytes));
    if (fill >= 0)
        limit = 8192;
    else
        limit = fill == -1 ? 4096 : fill == -2 ? 8192 : fill == -3 ? 16384 : fill == -4 ? 32768
            : fill == -5 ? 65536 : 8192;
    if (p->list_listpack && qn->n == 1 && qn->a[0].container == 2 && qn->a[0].nbytes <= limit
        && (fill < 0 || r->n <= (fill > 1 ? fill : 1))) {
        r->enc = S_listpack;
        r->size = 16 + alloc(p, qn->a[0].nbytes);
        return 1;
    }
    r->enc = S_quicklist;
    r->size = sampled(16 + p->quicklist, elesize, qn->n);
    return 1;
}

static int
est_list(Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r)
{
    PyObject *items = SLOT(C_Entry, entry, E_VALUE);
    walker_t w;
    long long nodes, k, container, nbytes;
    int special, rc;
    if (!PyList_CheckExact(items))
        return 0;
    if ((rc = elems_from_list(&p->es, items)) <= 0)
        return rc;
    /* _list_nodes: the file's quicklist nodes when the target keeps their format */
    if ((rdb_type != RDB_TYPE_LIST_QUICKLIST && rdb_type != RDB_TYPE_LIST_QUICKLIST_2) || rec->buf == NULL
        || (rdb_type == RDB_TYPE_LIST_QUICKLIST_2) == p->ziplist)
        return 0;
    w.buf = rec->buf;
    w.pos = 0;
    w.end = rec->len;
    w.bad = 0;
    if (w_record_value(&w) != rdb_type)
        return 0;
    nodes = (long long)w_length(&w, &special);
    if (w.bad || special || nodes == 0)
        return 0;
    p->qn.n = 0;
    for (k = 0; k < nodes; k++) {
        container = 2;
        if (rdb_type == RDB_TYPE_LIST_QUICKLIST_2) {
            container = (long long)w_length(&w, &special);
            if (special)
                return 0;
        }
        nbytes = w_string(&w);
        if (w.bad)
            return 0;
        if (qnode_push(&p->qn, container, nbytes) < 0)
            return -1;
    }
    return est_list_e(p, &p->es, &p->qn, r);
}

/* _set; ``blob``: record_blob() of the record */
static int
est_set_e(const Estimator *p, int rdb_type, int have_rec, long long blob, const elems_t *es, result_t *r)
{
    Py_ssize_t i, n = es->n;
    long long b, v, width, elesize;
    int all_ints;
    r->n = n;
    r->largest = largest_len(es);
    if (n <= p->intset_entries) {
        all_ints = 1;
        width = 2;
        for (i = 0; i < n; i++) {
            if (!es->a[i].is_int) {
                all_ints = 0;
                break;
            }
            v = es->a[i].v;
            if (width < 8 && !(-32768 <= v && v <= 32767))  /* intset_size */
                width = -2147483648LL <= v && v <= 2147483647LL && width < 8 ? 4 : 8;
        }
        if (all_ints) {
            b = rdb_type == RDB_TYPE_SET_INTSET ? blob : -1;
            if (b < -1)
                return 0;
            if (b <= 0)   /* ``_blob_len(...) or intset_size(ints)`` */
                b = 8 + width * n;
            r->enc = S_intset;
            r->size = 16 + (p->exact_blobs ? b : alloc(p, b));
            return 1;
        }
    }
    if (p->set_listpack && n <= p->set_entries
        && (r->largest <= p->set_value || (have_rec && rdb_type == RDB_TYPE_SET_LISTPACK))) {
        b = rdb_type == RDB_TYPE_SET_LISTPACK ? blob : -1;
        if (b < -1)
            return 0;
        if (b <= 0) {
            b = 7;
            for (i = 0; i < n; i++)
                b += lp_entry_size(&es->a[i]);
        }
        r->enc = S_listpack;
        r->size = 16 + alloc(p, b);
        return 1;
    }
    if (!p->set_dict)
        return 0;
    elesize = 0;
    for (i = 0; i < n; i++)
        elesize += p->dict_entry + sds(p, es->a[i].len, 1);
    r->enc = S_hashtable;
    r->size = sampled(16 + table(p, n, -1), elesize, n);
    return 1;
}

static int
est_set(Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r)
{
    PyObject *members = SLOT(C_Entry, entry, E_VALUE);
    int rc;
    if (!PyList_CheckExact(members))
        return 0;
    if ((rc = elems_from_list(&p->es, members)) <= 0)
        return rc;
    return est_set_e(p, rdb_type, rec->buf != NULL, record_blob(rec, rdb_type), &p->es, r);
}

/* _zset; ``es``: the members */
static int
est_zset_e(const Estimator *p, int rdb_type, int have_rec, long long blob, const elems_t *es, result_t *r)
{
    Py_ssize_t i, n = es->n;
    long long b, size, sum_sds;
    int blob_type = p->ziplist ? RDB_TYPE_ZSET_ZIPLIST : RDB_TYPE_ZSET_LISTPACK;
    int from_blob = have_rec && (rdb_type == RDB_TYPE_ZSET_ZIPLIST || rdb_type == RDB_TYPE_ZSET_LISTPACK);
    r->n = n;
    r->largest = largest_len(es);
    if (n <= p->zset_entries && (r->largest <= p->zset_value || from_blob)) {
        b = rdb_type == blob_type ? blob : -1;
        if (b < 0)
            return 0;  /* re-encoding the scores as text is left to Python */
        r->enc = p->ziplist ? S_ziplist : S_listpack;
        r->size = 16 + (p->exact_blobs ? b : alloc(p, b));
        return 1;
    }
    if (!p->set_dict)
        return 0;
    size = 16 + 16 + 32 + table(p, n, -1) + alloc(p, 24 + 32 * 16);
    sum_sds = 0;
    for (i = 0; i < n; i++)
        sum_sds += sds(p, es->a[i].len, 1);
    r->enc = S_skiplist;
    r->size = sampled(size, (long long)((double)sum_sds
                                        + (double)n * ((double)p->zset_dict_entry + p->node_mean)), n);
    return 1;
}

static int
est_zset(Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r)
{
    PyObject *pairs = SLOT(C_Entry, entry, E_VALUE);
    int rc;
    if (!PyList_CheckExact(pairs))
        return 0;
    if ((rc = elems_from_pairs(&p->es, pairs, 0)) <= 0)
        return rc;
    return est_zset_e(p, rdb_type, rec->buf != NULL, record_blob(rec, rdb_type), &p->es, r);
}

/* _hash without field TTLs; ``es``: fields and values interleaved */
static int
est_hash_e(const Estimator *p, int rdb_type, int have_rec, long long blob, const elems_t *es, result_t *r)
{
    Py_ssize_t i, n = es->n / 2;
    long long b, lf, lv, at, elesize;
    int from_blob = have_rec && (rdb_type == RDB_TYPE_HASH_ZIPLIST || rdb_type == RDB_TYPE_HASH_LISTPACK
                                 || rdb_type == RDB_TYPE_HASH_LISTPACK_EX || rdb_type == RDB_TYPE_HASH_ZIPMAP);
    r->n = n;
    r->largest = largest_len(es);
    if (n <= p->hash_entries && (r->largest <= p->hash_value || from_blob)) {
        if (p->ziplist)
            b = rdb_type == RDB_TYPE_HASH_ZIPLIST ? blob : -1;
        else
            b = rdb_type == RDB_TYPE_HASH_LISTPACK || rdb_type == RDB_TYPE_HASH_LISTPACK_EX ? blob : -1;
        if (b < -1)
            return 0;
        if (b == -1 || rdb_type == RDB_TYPE_HASH_LISTPACK_EX) {
            if (p->ziplist)
                return 0;
            b = 7;
            for (i = 0; i < 2 * n; i++)
                b += lp_entry_size(&es->a[i]);
        }
        r->enc = p->ziplist ? S_ziplist : S_listpack;
        r->size = 16 + (p->exact_blobs ? b : alloc(p, b));
        return 1;
    }
    if (!p->set_dict)
        return 0;
    at = -1;
    if (rdb_type == RDB_TYPE_HASH && n <= p->hash_entries) {
        for (i = 0; i < n; i++)
            if (es->a[2 * i].len > p->hash_value || es->a[2 * i + 1].len > p->hash_value) {
                at = i;
                break;
            }
    }
    elesize = 0;
    for (i = 0; i < n; i++) {
        lf = es->a[2 * i].len;
        lv = es->a[2 * i + 1].len;
        elesize += p->dict_entry;
        if (p->hash_mstr)
            elesize += alloc(p, (lf < 32 ? 1 : lf < 65536 ? 3 : 9) + lf + 1);
        else
            elesize += sds(p, lf, 1);
        elesize += sds(p, lv, 1);
    }
    r->enc = S_hashtable;
    r->size = sampled(16 + table(p, n, at), elesize, n);
    return 1;
}

static int
est_hash(Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r)
{
    PyObject *pairs = SLOT(C_Entry, entry, E_VALUE), *ttls = SLOT(C_Entry, entry, E_FIELD_TTLS);
    int rc;
    if (ttls != Py_None && (!PyDict_CheckExact(ttls) || PyDict_GET_SIZE(ttls)))
        return 0;
    if (!PyList_CheckExact(pairs))
        return 0;
    if ((rc = elems_from_pairs(&p->es, pairs, 1)) <= 0)
        return rc;
    return est_hash_e(p, rdb_type, rec->buf != NULL, record_blob(rec, rdb_type), &p->es, r);
}

/* (bytes, x) pairs: 1 when every item is such a tuple */
static int
check_pairs(PyObject *pairs, int second_bytes)
{
    Py_ssize_t i, n = PyList_GET_SIZE(pairs);
    for (i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(pairs, i);
        if (!PyTuple_CheckExact(t) || PyTuple_GET_SIZE(t) != 2
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(t, 0))
            || (second_bytes && !PyBytes_CheckExact(PyTuple_GET_ITEM(t, 1))))
            return 0;
    }
    return 1;
}

#define PAIR_FIRST(pairs, i) PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 0)
#define PAIR_SECOND(pairs, i) PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 1)

/* rax_node_count (encoded.py) over 16-byte-or-other keys: the distinct strings among the keys,
 * the common prefixes of sorted neighbours, one byte past those on both sides, and b"" */
typedef struct {
    const unsigned char *p;
    Py_ssize_t n;
} span_t;

static int
span_cmp(const void *x, const void *y)
{
    const span_t *a = x, *b = y;
    Py_ssize_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

static Py_ssize_t
unique_spans(span_t *s, Py_ssize_t n)
{
    Py_ssize_t i, k = 0;
    if (n == 0)
        return 0;
    qsort(s, n, sizeof(span_t), span_cmp);
    for (i = 1; i < n; i++)
        if (span_cmp(&s[k], &s[i]) != 0)
            s[++k] = s[i];
    return k + 1;
}

static long long
rax_node_count(span_t *keys, Py_ssize_t n)  /* keys is sorted in place */
{
    span_t *c;
    Py_ssize_t i, m = 0, lcp, lim;
    long long count;
    n = unique_spans(keys, n);
    if (n == 0)
        return 1;
    c = PyMem_Malloc(sizeof(span_t) * (4 * n + 1));
    if (c == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < n; i++)
        c[m++] = keys[i];
    for (i = 0; i + 1 < n; i++) {
        span_t a = keys[i], b = keys[i + 1];
        lim = a.n < b.n ? a.n : b.n;
        for (lcp = 0; lcp < lim && a.p[lcp] == b.p[lcp]; lcp++)
            ;
        c[m].p = a.p;
        c[m++].n = lcp;
        if (lcp < a.n) {
            c[m].p = a.p;
            c[m++].n = lcp + 1;
        }
        c[m].p = b.p;
        c[m++].n = lcp + 1;
    }
    c[m].p = keys[0].p;
    c[m++].n = 0;
    count = unique_spans(c, m);
    PyMem_Free(c);
    return count;
}

/* streamRadixTreeMemoryUsage() (memory._rax, "estimate" profiles) */
static long long
rax(span_t *keys, Py_ssize_t n)
{
    long long nodes = rax_node_count(keys, n);
    return nodes < 0 ? -1 : 16 * (long long)n + 244 * nodes;
}

/* PEL ids, (ms, seq) tuples, as 16-byte big-endian keys into ``store``; 0 when one is not a
 * pair of ints in uint64 range (Python's to_bytes would raise: declined) */
static int
id_keys(PyObject *ids, int pending_entries, unsigned char *store, span_t *out)
{
    Py_ssize_t i, n = PyList_GET_SIZE(ids);
    int k;
    for (i = 0; i < n; i++) {
        PyObject *id = PyList_GET_ITEM(ids, i);
        unsigned long long part[2];
        if (pending_entries)
            id = PyObject_GetAttr(id, S_id);
        else
            Py_INCREF(id);
        if (id == NULL)
            return -1;
        if (!PyTuple_CheckExact(id) || PyTuple_GET_SIZE(id) != 2) {
            Py_DECREF(id);
            return 0;
        }
        for (k = 0; k < 2; k++) {
            PyObject *v = PyTuple_GET_ITEM(id, k);
            part[k] = PyLong_CheckExact(v) ? PyLong_AsUnsignedLongLong(v) : (unsigned long long)-1;
            if (!PyLong_CheckExact(v) || PyErr_Occurred()) {
                PyErr_Clear();
                Py_DECREF(id);
                return 0;
            }
        }
        Py_DECREF(id);
        for (k = 0; k < 16; k++)
            store[16 * i + k] = (unsigned char)(part[k / 8] >> (8 * (7 - k % 8)));
        out[i].p = store + 16 * i;
        out[i].n = 16;
    }
    return 1;
}

/* size of the rax of one PEL (a list of ids), or -2 when declined */
static long long
pel_rax(PyObject *ids, int pending_entries)
{
    Py_ssize_t n;
    unsigned char *store;
    span_t *spans;
    long long size = -2;
    int ok;
    if (!PyList_CheckExact(ids))
        return -2;
    n = PyList_GET_SIZE(ids);
    store = PyMem_Malloc(16 * n + 1);
    spans = PyMem_Malloc(sizeof(span_t) * n + 1);
    if (store == NULL || spans == NULL) {
        PyErr_NoMemory();
        size = -1;
    }
    else if ((ok = id_keys(ids, pending_entries, store, spans)) < 0)
        size = -1;
    else if (ok)
        size = rax(spans, n);
    PyMem_Free(store);
    PyMem_Free(spans);
    return size;
}

static PyObject *
get_list(PyObject *o, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(o, name);
    if (v != NULL && !PyList_CheckExact(v)) {
        Py_DECREF(v);
        return Py_NewRef(Py_None);
    }
    return v;
}

static int
est_stream(const Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r)
{
    PyObject *s = SLOT(C_Entry, entry, E_VALUE), *entries = NULL, *groups = NULL, *v;
    walker_t w;
    span_t *keys = NULL;
    long long nodes, k, size, part, lp;
    Py_ssize_t i, j, ng;
    int special, done = 0;
    if (!p->stream_rax_estimate || rec->buf == NULL)
        return 0;
    /* the node keys and listpack lengths of the record (records.record_shape) */
    w.buf = rec->buf;
    w.pos = 0;
    w.end = rec->len;
    w.bad = 0;
    if (w_record_value(&w) != rdb_type)
        return 0;
    nodes = (long long)w_length(&w, &special);
    if (w.bad || special || nodes > w.end)
        return 0;
    keys = PyMem_Malloc(sizeof(span_t) * nodes + 1);
    if (keys == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size = 16 + p->stream;
    for (k = 0; k < nodes; k++) {
        unsigned long long n = w_length(&w, &special);
        if (w.bad || special || n > (unsigned long long)(w.end - w.pos))
            goto out;
        keys[k].p = w.buf + w.pos;
        keys[k].n = (Py_ssize_t)n;
        w.pos += n;
        lp = w_string(&w);
        if (w.bad)
            goto out;
        size += p->stream_lp_alloc ? alloc(p, lp) : lp;
    }
    if ((part = rax(keys, nodes)) < 0) {
        done = -1;
        goto out;
    }
    size += part;
    /* largest field or value of the entries, then groups, PELs and consumers */
    if ((entries = get_list(s, S_entries)) == NULL || (groups = get_list(s, S_groups)) == NULL) {
        done = -1;
        goto out;
    }
    if (entries == Py_None || groups == Py_None)
        goto out;
    r->largest = 0;
    for (i = 0; i < PyList_GET_SIZE(entries); i++) {
        PyObject *fields = get_list(PyList_GET_ITEM(entries, i), S_fields);
        int ok;
        if (fields == NULL) {
            done = -1;
            goto out;
        }
        ok = fields != Py_None && check_pairs(fields, 1);
        for (j = 0; ok && j < PyList_GET_SIZE(fields); j++) {
            long long lf = PyBytes_GET_SIZE(PAIR_FIRST(fields, j)), lv = PyBytes_GET_SIZE(PAIR_SECOND(fields, j));
            if (lf > r->largest)
                r->largest = lf;
            if (lv > r->largest)
                r->largest = lv;
        }
        Py_DECREF(fields);
        if (!ok)
            goto out;
    }
    ng = PyList_GET_SIZE(groups);
    for (i = 0; i < ng; i++) {
        PyObject *g = PyList_GET_ITEM(groups, i), *pending, *consumers;
        if ((pending = get_list(g, S_pending)) == NULL) {
            done = -1;
            goto out;
        }
        part = pending == Py_None ? -2 : pel_rax(pending, 1);
        if (part >= 0)
            size += p->stream_cg + part + p->stream_nack * PyList_GET_SIZE(pending);
        Py_DECREF(pending);
        if (part < 0) {
            done = part == -1 ? -1 : 0;
            goto out;
        }
        if ((consumers = get_list(g, S_consumers)) == NULL) {
            done = -1;
            goto out;
        }
        for (j = 0; consumers != Py_None && j < PyList_GET_SIZE(consumers); j++) {
            PyObject *c = PyList_GET_ITEM(consumers, j), *name;
            if ((name = PyObject_GetAttr(c, S_name)) == NULL || (pending = get_list(c, S_pending)) == NULL) {
                Py_XDECREF(name);
                part = -1;
                break;
            }
            part = pending == Py_None || !PyBytes_CheckExact(name) ? -2 : pel_rax(pending, 0);
            if (part >= 0)
                size += p->stream_consumer + PyBytes_GET_SIZE(name) + part;
            Py_DECREF(name);
            Py_DECREF(pending);
            if (part < 0)
                break;
        }
        if (consumers == Py_None)
            part = -2;
        Py_DECREF(consumers);
        if (part < 0) {
            done = part == -1 ? -1 : 0;
            goto out;
        }
    }
    if ((v = PyObject_GetAttr(s, S_length)) == NULL) {
        done = -1;
        goto out;
    }
    r->n = PyLong_CheckExact(v) ? PyLong_AsLongLong(v) : -1;
    Py_DECREF(v);
    if (r->n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        goto out;
    }
    if (r->n < 0)
        goto out;
    r->enc = S_stream_enc;
    r->size = size;
    done = 1;
out:
    Py_XDECREF(entries);
    Py_XDECREF(groups);
    PyMem_Free(keys);
    return done;
}

/* ---------------------------------------------------------------------------------------- */
/* The raw path: entries read with ``raw_types`` carry RawValue(the value's bytes) instead of */
/* decoded elements.  The walk below reads those bytes as the reader's compiled full decode   */
/* (c_full_value in _speedups.c) does, accepting no more than it does, and collects only what */
/* the estimates need.  Whatever it does not accept, or the estimates decline, goes back to   */
/* Python (memory.FileEstimates), which has the reader decode the value.                       */

typedef struct {
    const unsigned char *buf;
    Py_ssize_t len, pos;
} rcur_t;

static inline int
r_have(const rcur_t *c, unsigned long long n)
{
    return n <= (unsigned long long)(c->len - c->pos);
}

/* c_len: 0, or -1 where the reader's compiled path stops */
static int
r_len(rcur_t *c, unsigned long long *out)
{
    unsigned b;
    int i;
    if (!r_have(c, 1))
        return -1;
    b = c->buf[c->pos];
    if (b < 0x40) {
        *out = b;
        c->pos += 1;
        return 0;
    }
    if (b < 0x80) {
        if (!r_have(c, 2))
            return -1;
        *out = ((unsigned long long)(b & 0x3F) << 8) | c->buf[c->pos + 1];
        c->pos += 2;
        return 0;
    }
    if (b != 0x80 && b != 0x81)
        return -1;
    i = b == 0x80 ? 4 : 8;
    if (!r_have(c, 1 + i))
        return -1;
    c->pos += 1;
    for (*out = 0; i > 0; i--)
        *out = (*out << 8) | c->buf[c->pos++];
    return 0;
}

/* c_string_ref: a string's bytes (LZF ones expanded into the estimator's scratch buffer, valid
 * until the next call) or its integer (*is_int); 0, -1 where the reader's compiled path stops,
 * -2 error */
static int
r_string(Estimator *p, rcur_t *c, const unsigned char **s, Py_ssize_t *n, int *is_int, long long *v)
{
    unsigned b;
    *is_int = 0;
    if (!r_have(c, 1))
        return -1;
    b = c->buf[c->pos];
    if (b < 0xC0) {
        unsigned long long len;
        if (r_len(c, &len) < 0 || !r_have(c, len))
            return -1;
        *s = c->buf + c->pos;
        *n = (Py_ssize_t)len;
        c->pos += (Py_ssize_t)len;
        return 0;
    }
    switch (b & 0x3F) {
    case 0:
        if (!r_have(c, 2))
            return -1;
        *is_int = 1;
        *v = (int8_t)c->buf[c->pos + 1];
        c->pos += 2;
        return 0;
    case 1:
        if (!r_have(c, 3))
            return -1;
        *is_int = 1;
        *v = (int16_t)rd16le(c->buf + c->pos + 1);
        c->pos += 3;
        return 0;
    case 2:
        if (!r_have(c, 5))
            return -1;
        *is_int = 1;
        *v = (int32_t)rd32le(c->buf + c->pos + 1);
        c->pos += 5;
        return 0;
    case 3: {
        unsigned long long clen, ulen;
        Py_ssize_t outlen;
        err_t e;
        c->pos += 1;
        if (r_len(c, &clen) < 0 || r_len(c, &ulen) < 0 || !r_have(c, clen))
            return -1;
        if (ulen > (unsigned long long)lzf_max_output((Py_ssize_t)clen))
            return -1;
        if (grow_array((void **)&p->scratch, &p->scratch_cap, (Py_ssize_t)ulen + 1, 1) < 0)
            return -2;
        if (lzf_walk(c->buf + c->pos, (Py_ssize_t)clen, p->scratch, (long long)ulen, -1, &outlen, &e) != OK)
            return -1;
        *s = p->scratch;
        *n = outlen;
        c->pos += (Py_ssize_t)clen;
        return 0;
    }
    default:
        return -1;
    }
}

/* a string element: 1, 0 (the reader stops there), -1 error */
static int
r_elem(Estimator *p, rcur_t *c)
{
    const unsigned char *s = NULL;
    Py_ssize_t n = 0;
    int is_int, rc;
    long long v = 0;
    if ((rc = r_string(p, c, &s, &n, &is_int, &v)) < 0)
        return rc == -2 ? -1 : 0;
    if ((is_int ? elem_push_int(&p->es, v) : elem_push_str(&p->es, s, n)) < 0)
        return -1;
    return 1;
}

/* float(text) succeeds (reader._score, the compiled reader's PyFloat_FromString): 1, 0, -1 */
static int
float_ok(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0, digits = 0, frac = 1;
    PyObject *text, *f;
    if (i < n && s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        for (frac = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            frac++;
    }
    if (digits && frac && i == n)  /* -?digits(.digits)?: surely a float */
        return 1;
    if ((text = PyBytes_FromStringAndSize((const char *)s, n)) == NULL)
        return -1;
    f = PyFloat_FromString(text);
    Py_DECREF(text);
    if (f != NULL) {
        Py_DECREF(f);
        return 1;
    }
    if (PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

enum { K_LISTPACK, K_ZIPLIST, K_INTSET };

/* c_blob_items: the blob's items into p->items (pointing into the record or the scratch
 * buffer), its decoded length into *blob: 1, 0, -1 */
static int
r_blob_items(Estimator *p, rcur_t *c, int kind, long long *blob)
{
    const unsigned char *s = NULL;
    Py_ssize_t n = 0;
    int is_int, rc;
    long long v;
    err_t e;
    if ((rc = r_string(p, c, &s, &n, &is_int, &v)) < 0)
        return rc == -2 ? -1 : 0;
    if (is_int)
        return 0;
    *blob = n;
    p->items.n = 0;
    rc = kind == K_LISTPACK ? lp_walk(s, n, &p->items, &e)
        : kind == K_ZIPLIST ? zl_walk(s, n, &p->items, &e) : is_walk(s, n, &p->items, &e);
    if (rc == NOMEM)
        return -1;
    return rc == OK;
}

/* items [start::step] of p->items as elements (reader._texts) */
static int
items_to_elems(Estimator *p, Py_ssize_t start, Py_ssize_t step)
{
    Py_ssize_t k;
    for (k = start; k < p->items.n; k += step) {
        const item_t *x = &p->items.a[k];
        if ((x->s != NULL ? elem_push_str(&p->es, x->s, x->len) : elem_push_int(&p->es, x->v)) < 0)
            return -1;
    }
    return 0;
}

/* Walks a value of type ``t``: 1 (p->es, p->qn, *blob, and for strings *slen / *sint filled),
 * 0 (not accepted: the reader decodes it), -1 error. */
static int
walk_raw(Estimator *p, int t, const unsigned char *d, Py_ssize_t len, long long *blob,
         long long *slen, int *sint)
{
    rcur_t c = {d, len, 0};
    unsigned long long n, k;
    int rc;
    p->es.n = 0;
    p->qn.n = 0;
    *blob = -1;
    switch (t) {
    case 0: {
        const unsigned char *s = NULL;
        Py_ssize_t sn = 0;
        int is_int;
        long long v = 0;
        if (len > 0 && d[0] == 0xC3) {  /* LZF: only checked, unless short enough to be an int */
            unsigned long long clen, ulen;
            rcur_t h = {d, len, 1};
            if (r_len(&h, &clen) < 0 || r_len(&h, &ulen) < 0 || !r_have(&h, clen)
                || ulen > (unsigned long long)lzf_max_output((Py_ssize_t)clen))
                return 0;
            if (ulen > 20) {
                if (lzf_check(d + h.pos, (Py_ssize_t)clen, (long long)ulen) != OK)
                    return 0;
                *slen = (long long)ulen;
                *sint = 0;
                return h.pos + (Py_ssize_t)clen == len;
            }
        }
        if ((rc = r_string(p, &c, &s, &sn, &is_int, &v)) < 0)
            return rc == -2 ? -1 : 0;
        if (is_int) {
            *slen = int_text_len(v);
            *sint = 1;
        }
        else {
            *slen = sn;
            *sint = string_to_int(s, sn, &v);
        }
        break;
    }
    case 2: case 3: case 4: case 5:  /* N strings / (member, score) / (field, value) */
        if (r_len(&c, &n) < 0 || !r_have(&c, n))
            return 0;
        for (k = 0; k < n; k++) {
            if ((rc = r_elem(p, &c)) <= 0)
                return rc;
            if (t == 4 && (rc = r_elem(p, &c)) <= 0)
                return rc;
            if (t == 5) {
                if (!r_have(&c, 8))
                    return 0;
                c.pos += 8;
            }
            else if (t == 3) {  /* rdbLoadDoubleValue */
                unsigned b;
                if (!r_have(&c, 1))
                    return 0;
                b = c.buf[c.pos];
                if (b < 253) {
                    if (!r_have(&c, 1 + (unsigned long long)b))
                        return 0;
                    if ((rc = float_ok(c.buf + c.pos + 1, b)) <= 0)
                        return rc;
                    c.pos += b;
                }
                c.pos += 1;
            }
        }
        break;
    case 11: case 20:  /* intset, listpack set */
        if ((rc = r_blob_items(p, &c, t == 11 ? K_INTSET : K_LISTPACK, blob)) <= 0)
            return rc;
        if (items_to_elems(p, 0, 1) < 0)
            return -1;
        break;
    case 12: case 13: case 16: case 17:  /* pairs in a ziplist / listpack */
        if ((rc = r_blob_items(p, &c, t <= 13 ? K_ZIPLIST : K_LISTPACK, blob)) <= 0)
            return rc;
        if (p->items.n % 2)
            return 0;
        if (t == 12 || t == 17) {  /* scores must parse; the members are the elements */
            for (k = 1; k < (unsigned long long)p->items.n; k += 2) {
                const item_t *x = &p->items.a[k];
                if (x->s != NULL && (rc = float_ok(x->s, x->len)) <= 0)
                    return rc;
            }
            if (items_to_elems(p, 0, 2) < 0)
                return -1;
        }
        else if (items_to_elems(p, 0, 1) < 0)
            return -1;
        break;
    case 14: case 18:  /* quicklists */
        if (r_len(&c, &n) < 0 || !r_have(&c, n))
            return 0;
        for (k = 0; k < n; k++) {
            long long nbytes = 0;
            if (t == 18) {
                unsigned long long container;
                if (r_len(&c, &container) < 0)
                    return 0;
                if (container == 1) {
                    const unsigned char *s = NULL;
                    Py_ssize_t sn = 0;
                    int is_int;
                    long long v = 0;
                    if ((rc = r_string(p, &c, &s, &sn, &is_int, &v)) < 0)
                        return rc == -2 ? -1 : 0;
                    if (is_int)  /* records.py would size it by its text: left to Python */
                        return 0;
                    if (elem_push_str(&p->es, s, sn) < 0 || qnode_push(&p->qn, 1, sn) < 0)
                        return -1;
                    continue;
                }
                if (container != 2)
                    return 0;
            }
            if ((rc = r_blob_items(p, &c, t == 18 ? K_LISTPACK : K_ZIPLIST, &nbytes)) <= 0)
                return rc;
            if (items_to_elems(p, 0, 1) < 0 || qnode_push(&p->qn, 2, nbytes) < 0)
                return -1;
        }
        break;
    default:
        return 0;
    }
    return c.pos == c.len;
}


/* text length of a walker item (reader._texts) */
static inline long long
item_len(const item_t *x)
{
    return x->s != NULL ? (long long)x->len : int_text_len(x->v);
}

/* node_entries (_speedups.c) without building the entries: 1 and the largest field or value of
 * the live entries into *largest, 0 where it stops */
static int
node_scan(const items_t *it, long long *largest)
{
    Py_ssize_t n = it->n, i, j, count, fi, vi, step;
    long long nmf, flags, l;
    if (n < 4 || it->a[2].s != NULL)
        return 0;
    nmf = it->a[2].v;
    if (nmf < 0 || nmf > n - 4)
        return 0;
    if (it->a[3 + nmf].s != NULL || it->a[3 + nmf].v != 0)
        return 0;
    i = 4 + (Py_ssize_t)nmf;
    while (i < n) {
        if (i + 2 >= n || it->a[i].s || it->a[i + 1].s || it->a[i + 2].s)
            return 0;
        flags = it->a[i].v;
        i += 3;
        if (flags & 2) {  /* STREAM_ITEM_FLAG_SAMEFIELDS */
            if (i + nmf + 1 > n)
                return 0;
            count = (Py_ssize_t)nmf;
            fi = -1;
            vi = i;
            step = 1;
            i += (Py_ssize_t)nmf;
        }
        else {
            if (i >= n || it->a[i].s != NULL || it->a[i].v < 0 || it->a[i].v > n)
                return 0;
            count = (Py_ssize_t)it->a[i].v;
            i += 1;
            if (i + 2 * count + 1 > n)
                return 0;
            fi = i;
            vi = i + 1;
            step = 2;
            i += 2 * count;
        }
        i += 1;  /* lp-count */
        if (flags & 1)  /* STREAM_ITEM_FLAG_DELETED */
            continue;
        for (j = 0; j < count; j++) {
            l = item_len(&it->a[fi < 0 ? 3 + j : fi + step * j]);
            if (l > *largest)
                *largest = l;
            l = item_len(&it->a[vi + step * j]);
            if (l > *largest)
                *largest = l;
        }
    }
    return 1;
}

/* a string's decoded length (c_string): 1, 0, -1 */
static int
r_string_len(Estimator *p, rcur_t *c, long long *len)
{
    const unsigned char *s = NULL;
    Py_ssize_t n = 0;
    int is_int, rc;
    long long v = 0;
    if ((rc = r_string(p, c, &s, &n, &is_int, &v)) < 0)
        return rc == -2 ? -1 : 0;
    *len = is_int ? int_text_len(v) : n;
    return 1;
}

static int
span_find(const span_t *sorted, Py_ssize_t n, const span_t *key)
{
    return bsearch(key, sorted, n, sizeof(span_t), span_cmp) != NULL;
}

/* n 16-byte ids as spans into the record (PyMem; *out NULL when n == 0): 1, 0, -1 */
static int
r_ids(rcur_t *c, unsigned long long n, int with_nack, span_t **out)
{
    unsigned long long k, count;
    *out = NULL;
    if (!r_have(c, n))
        return 0;
    if (n == 0)
        return 1;
    if ((*out = PyMem_Malloc(sizeof(span_t) * n)) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (k = 0; k < n; k++) {
        if (!r_have(c, 16))
            return 0;
        (*out)[k].p = c->buf + c->pos;
        (*out)[k].n = 16;
        c->pos += 16;
        if (with_nack) {  /* delivery time, delivery count */
            if (!r_have(c, 8))
                return 0;
            c->pos += 8;
            if (r_len(c, &count) < 0)
                return 0;
        }
    }
    return 1;
}

/* _stream of a raw stream value (types 15, 19, 21), as c_stream + c_stream_group read it: 1,
 * 0 (declined, or where the reader's compiled path stops), -1 */
static int
est_stream_raw(Estimator *p, int t, const unsigned char *d, Py_ssize_t len, result_t *r)
{
    rcur_t c = {d, len, 0};
    unsigned long long nodes, k, j, u, ngroups, npel, ncons, nids, length;
    span_t *keys = NULL, *pel = NULL, *cpel = NULL;
    Py_ssize_t upel;
    long long size, part, largest = 0, lp, namelen;
    int rc = 0, done = 0;
    if (!p->stream_rax_estimate)
        return 0;
    if (r_len(&c, &nodes) < 0 || !r_have(&c, nodes))
        return 0;
    if ((keys = PyMem_Malloc(sizeof(span_t) * nodes + 1)) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size = 16 + p->stream;
    for (k = 0; k < nodes; k++) {
        const unsigned char *s = NULL;
        Py_ssize_t n = 0;
        int is_int;
        long long v;
        if (!r_have(&c, 1) || c.buf[c.pos] >= 0xC0)  /* records.py reads it as text: declined */
            goto out;
        if ((rc = r_string(p, &c, &s, &n, &is_int, &v)) < 0) {
            done = rc == -2 ? -1 : 0;
            goto out;
        }
        if (n != 16)
            goto out;
        keys[k].p = s;
        keys[k].n = 16;
        if ((rc = r_blob_items(p, &c, K_LISTPACK, &lp)) <= 0) {
            done = rc;
            goto out;
        }
        if (!node_scan(&p->items, &largest))
            goto out;
        size += p->stream_lp_alloc ? alloc(p, lp) : lp;
    }
    if ((part = rax(keys, (Py_ssize_t)nodes)) < 0) {
        done = -1;
        goto out;
    }
    size += part;
    if (r_len(&c, &length) < 0 || r_len(&c, &u) < 0 || r_len(&c, &u) < 0)
        goto out;
    if (t >= 19)
        for (k = 0; k < 5; k++)  /* first id, max deleted id, entries added */
            if (r_len(&c, &u) < 0)
                goto out;
    if (r_len(&c, &ngroups) < 0 || !r_have(&c, ngroups))
        goto out;
    for (k = 0; k < ngroups; k++) {
        if ((rc = r_string_len(p, &c, &namelen)) <= 0) {  /* group name */
            done = rc;
            goto out;
        }
        if (r_len(&c, &u) < 0 || r_len(&c, &u) < 0 || (t >= 19 && r_len(&c, &u) < 0))
            goto out;
        if (r_len(&c, &npel) < 0)
            goto out;
        PyMem_Free(pel);
        if ((rc = r_ids(&c, npel, 1, &pel)) <= 0) {
            done = rc;
            goto out;
        }
        upel = unique_spans(pel, (Py_ssize_t)npel);  /* the PEL is a dict: one per id */
        if ((part = rax(pel, upel)) < 0) {
            done = -1;
            goto out;
        }
        size += p->stream_cg + part + p->stream_nack * upel;
        if (r_len(&c, &ncons) < 0 || !r_have(&c, ncons))
            goto out;
        for (j = 0; j < ncons; j++) {
            Py_ssize_t i;
            if ((rc = r_string_len(p, &c, &namelen)) <= 0) {
                done = rc;
                goto out;
            }
            if (!r_have(&c, t >= 21 ? 16 : 8))  /* seen time, active time */
                goto out;
            c.pos += t >= 21 ? 16 : 8;
            if (r_len(&c, &nids) < 0)
                goto out;
            PyMem_Free(cpel);
            if ((rc = r_ids(&c, nids, 0, &cpel)) <= 0) {
                done = rc;
                goto out;
            }
            for (i = 0; i < (Py_ssize_t)nids; i++)
                if (!span_find(pel, upel, &cpel[i]))  /* not in the group PEL: the reader reports it */
                    goto out;
            if ((part = rax(cpel, (Py_ssize_t)nids)) < 0) {
                done = -1;
                goto out;
            }
            size += p->stream_consumer + namelen + part;
        }
    }
    if (c.pos != c.len || length > (unsigned long long)LLONG_MAX)
        goto out;
    r->n = (long long)length;
    r->largest = largest;
    r->enc = S_stream_enc;
    r->size = size;
    done = 1;
out:
    PyMem_Free(keys);
    PyMem_Free(pel);
    PyMem_Free(cpel);
    return done;
}

static PyObject *key_memory(Estimator *self, PyObject *entry, const result_t *r);

static PyObject *
Estimator_estimate(Estimator *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *entry, *buf, *rt, *type, *key;
    result_t r = {NULL, 0, 0, 0};
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
    if (!PyBytes_CheckExact(key) || !PyLong_CheckExact(rt))
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
    if (self->keyspace == KS_DICTENTRY)
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
    result_t r = {NULL, 0, 0, 0};
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
        || ttls != Py_None)
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
    else if ((done = walk_raw(self, (int)rdb_type, (const unsigned char *)PyBytes_AS_STRING(data),
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

static PyTypeObject EstimatorType = {
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

/* ---------------------------------------------------------------------------------------- */
/* rows (export.py)                                                                          */

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} out_t;

static int
out_grow(out_t *o, Py_ssize_t need)
{
    char *np;
    Py_ssize_t cap;
    if (o->len + need <= o->cap)
        return 0;
    cap = (o->cap + need) * 2;
    np = PyMem_Realloc(o->p, cap);
    if (np == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->p = np;
    o->cap = cap;
    return 0;
}

static int
out_add(out_t *o, const char *s, Py_ssize_t n)
{
    if (out_grow(o, n) < 0)
        return -1;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return 0;
}

static int
out_int(out_t *o, PyObject *v)  /* str(int) */
{
    char tmp[32];
    long long x;
    int overflow;
    PyObject *s;
    const char *u;
    Py_ssize_t n;
    x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (!overflow && !(x == -1 && PyErr_Occurred())) {
        char *e = tmp + sizeof tmp, *q = e;
        unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
        do {
            *--q = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (x < 0)
            *--q = '-';
        return out_add(o, q, e - q);
    }
    PyErr_Clear();
    if ((s = PyObject_Str(v)) == NULL)
        return -1;
    u = PyUnicode_AsUTF8AndSize(s, &n);
    n = u == NULL ? -1 : out_add(o, u, n);
    Py_DECREF(s);
    return (int)n;
}

/* export._key: the key as UTF-8 text, other bytes as backslash escapes */
static PyObject *
key_text(PyObject *key)
{
    return PyUnicode_DecodeUTF8(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), "backslashreplace");
}

static int
out_csv_field(out_t *o, const char *s, Py_ssize_t n)  /* csv.writer, QUOTE_MINIMAL */
{
    Py_ssize_t i;
    int quote = 0;
    for (i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') {
            quote = 1;
            break;
        }
    if (!quote)
        return out_add(o, s, n);
    if (out_add(o, "\"", 1) < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (out_add(o, s + i, 1) < 0 || (s[i] == '"' && out_add(o, "\"", 1) < 0))
            return -1;
    return out_add(o, "\"", 1);
}

static int
out_json_string(out_t *o, const char *s, Py_ssize_t n)  /* json.dumps(ensure_ascii=False) */
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t i;
    if (out_add(o, "\"", 1) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        if (c >= 0x20 && c != '"' && c != '\\') {  /* a run of bytes written as they are */
            Py_ssize_t j = i + 1;
            while (j < n && (unsigned char)s[j] >= 0x20 && s[j] != '"' && s[j] != '\\')
                j++;
            if (out_add(o, s + i, j - i) < 0)
                return -1;
            i = j - 1;
            continue;
        }
        esc[0] = '\\';
        switch (c) {
        case '"': case '\\': esc[1] = c; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            if (out_add(o, esc, 6) < 0)
                return -1;
            continue;
        }
        if (out_add(o, esc, 2) < 0)
            return -1;
    }
    return out_add(o, "\"", 1);
}

static int out_str(out_t *o, PyObject *s, int csv);

/* the key field: an ASCII key is its own text (export._key), others are decoded first */
static int
out_key(out_t *o, PyObject *key, int csv)
{
    const unsigned char *k = (const unsigned char *)PyBytes_AS_STRING(key);
    Py_ssize_t i, n = PyBytes_GET_SIZE(key);
    PyObject *text;
    int rc;
    for (i = 0; i < n && k[i] < 0x80; i++)
        ;
    if (i == n)
        return csv ? out_csv_field(o, (const char *)k, n) : out_json_string(o, (const char *)k, n);
    if ((text = key_text(key)) == NULL)
        return -1;
    rc = out_str(o, text, csv);
    Py_DECREF(text);
    return rc;
}

static int
out_str(out_t *o, PyObject *s, int csv)
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL)
        return -1;
    return csv ? out_csv_field(o, u, n) : out_json_string(o, u, n);
}

static PyObject *
render_rows(PyObject *module, PyObject *args)
{
    PyObject *rows, *seq, *result = NULL;
    int csv;
    Py_ssize_t i, n;
    out_t o = {NULL, 0, 0};
    if (!PyArg_ParseTuple(args, "Op", &rows, &csv))
        return NULL;
    if ((seq = PySequence_Fast(rows, "rows must be a sequence")) == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    for (i = 0; i < n; i++) {
        PyObject *km = PySequence_Fast_GET_ITEM(seq, i), *v;
        int k;
        if (!Py_IS_TYPE(km, C_KeyMemory.type)) {
            PyErr_SetString(PyExc_TypeError, "render_rows takes KeyMemory rows");
            goto done;
        }
        for (k = 0; k < 8; k++) {
            v = SLOT(C_KeyMemory, km, k);
            if (k == 1 && !PyBytes_CheckExact(v)) {
                PyErr_SetString(PyExc_TypeError, "KeyMemory.key must be bytes");
                goto done;
            }
            if (k != 1 && v != Py_None && !PyLong_CheckExact(v) && !PyUnicode_CheckExact(v)) {
                PyErr_SetString(PyExc_TypeError, "KeyMemory fields must be int, str or None");
                goto done;
            }
        }
        if (csv) {
            for (k = 0; k < 8; k++) {
                v = SLOT(C_KeyMemory, km, k);
                if (k && out_add(&o, ",", 1) < 0)
                    goto done;
                if (k == 1) {
                    if (out_key(&o, v, 1) < 0)
                        goto done;
                }
                else if (v == Py_None)
                    ;  /* expire_at_ms None -> "" */
                else if ((PyLong_CheckExact(v) ? out_int(&o, v) : out_str(&o, v, 1)) < 0)
                    goto done;
            }
            if (out_add(&o, "\r\n", 2) < 0)
                goto done;
            continue;
        }
        {
            static const char *keys[8] = {"{\"db\": ", ", \"key\": ", ", \"type\": ",
                ", \"encoding\": ", ", \"elements\": ", ", \"memory_usage\": ",
                ", \"largest_element\": ", ", \"expire_at_ms\": "};
            for (k = 0; k < 8; k++) {
                v = SLOT(C_KeyMemory, km, k);
                if (out_add(&o, keys[k], strlen(keys[k])) < 0)
                    goto done;
                if (k == 1) {
                    if (out_key(&o, v, 0) < 0)
                        goto done;
                }
                else if (v == Py_None) {
                    if (out_add(&o, "null", 4) < 0)
                        goto done;
                }
                else if ((PyLong_CheckExact(v) ? out_int(&o, v) : out_str(&o, v, 0)) < 0)
                    goto done;
            }
            if (out_add(&o, "}\n", 2) < 0)
                goto done;
        }
    }
    result = PyBytes_FromStringAndSize(o.p ? o.p : "", o.len);
done:
    PyMem_Free(o.p);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"render_rows", render_rows, METH_VARARGS,
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
