/* rdbtools/analysis/csrc/estimate.h: what the translation units of rdbtools.analysis._estimate
 * share (docs/memory.md, Speed).  Every unit includes it first.
 *
 *   module.c     PyInit__estimate: imports, the model class checks, the interned names below
 *   estimator.c  the Estimator type (one ServerProfile): estimate() and estimate_raw(), per key
 *                (MemoryEstimator.estimate in rdbtools/analysis/memory.py)
 *   sizing.c     the per-type estimates of a decoded value (MemoryEstimator._string, _list,
 *                _set, _zset, _hash, _stream; rdbtools/analysis/encoded.py)
 *   raw.c        the raw path: a value's record bytes walked as the compiled reader decodes them
 *   rows.c       render_rows(): KeyMemory rows as CSV / JSON Lines (rdbtools/analysis/export.py)
 *   ../../rdb/csrc/walkers.c   the reader's blob walkers and LZF, compiled in here too
 *
 * Names shared between units start with est_ (functions) or are the module state below; all
 * are RDB_INTERNAL (hidden: the extension exports only PyInit__estimate).  Everything else is
 * static to its unit.  The arithmetic every estimate calls per element (alloc, sds, the element
 * lists) is static inline here, so that splitting the module into units costs no inlining.
 */
#ifndef RDBTOOLS_ESTIMATE_H
#define RDBTOOLS_ESTIMATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The blob walkers and LZF of the compiled reader: they decide what the reader's full decode
 * accepts, and the raw path (raw.c) must accept no more than that (anything else goes back to
 * the reader). */
#include "../../rdb/csrc/walkers.h"

/* ---------------------------------------------------------------------------------------- */
/* model classes, read and filled through their slots (checked at import by module.c, as the */
/* reader's rdbtools/rdb/csrc/module.c does)                                                 */

typedef struct {
    const char *name;
    int nfields;
    const char *fields[14];
    PyTypeObject *type;
    Py_ssize_t offsets[14];
} slotclass_t;

enum { E_DB, E_KEY, E_TYPE, E_VALUE, E_EXPIRE, E_RDB_TYPE, E_IDLE, E_FREQ, E_FIELD_TTLS,
       E_LENGTH, E_OFFSET, E_SIZE, E_ARRAY_NEXT, E_KEY_META };
RDB_INTERNAL extern slotclass_t C_Entry, C_KeyMemory, C_RawValue;

#define SLOT(cls, obj, k) (*(PyObject **)((char *)(obj) + (cls).offsets[k]))

/* RDB type codes (rdbtools/format/constants.py) */
enum { RDB_TYPE_HASH = 4,
       RDB_TYPE_HASH_ZIPMAP = 9, RDB_TYPE_LIST_ZIPLIST = 10, RDB_TYPE_SET_INTSET = 11, RDB_TYPE_ZSET_ZIPLIST = 12,
       RDB_TYPE_HASH_ZIPLIST = 13, RDB_TYPE_LIST_QUICKLIST = 14, RDB_TYPE_HASH_LISTPACK = 16,
       RDB_TYPE_ZSET_LISTPACK = 17, RDB_TYPE_LIST_QUICKLIST_2 = 18, RDB_TYPE_SET_LISTPACK = 20,
       RDB_TYPE_HASH_METADATA = 24, RDB_TYPE_HASH_LISTPACK_EX = 25, RDB_OPCODE_KEY_META = 243 };

/* module state (set once at import, in module.c) */
RDB_INTERNAL extern PyObject *S_string, *S_list, *S_set, *S_zset, *S_hash, *S_stream;  /* model type names */
RDB_INTERNAL extern PyObject *S_entries, *S_groups, *S_fields, *S_pending, *S_consumers, *S_name,
    *S_id, *S_length;                                                     /* stream attributes */
RDB_INTERNAL extern PyTypeObject *StreamType;
RDB_INTERNAL extern PyObject *S_int, *S_embstr, *S_raw, *S_listpack, *S_ziplist, *S_quicklist,
    *S_intset, *S_hashtable, *S_skiplist, *S_stream_enc;                  /* encodings */

/* ---------------------------------------------------------------------------------------- */
/* rdbtools/analysis/encoded.py                                                              */

static inline int
bit_length(long long v)
{
    unsigned long long u = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
    return u ? 64 - __builtin_clzll(u) : 0;
}

static inline long long
next_pow2(long long n)   /* memory._next_pow2: 1 << max(0, (n - 1).bit_length()) */
{
    return 1LL << bit_length(n - 1);
}

static inline long long
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
static inline int
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

/* ---------------------------------------------------------------------------------------- */
/* Elements as the estimates see them: the length of their text and, when the text spells an */
/* int64 (encoded.string_to_int), that integer.  Built from the decoded model (Python lists, */
/* sizing.c) or straight from the record bytes (the raw path, raw.c).                        */

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

/* *a (of *cap items of `size` bytes, PyMem) grown to hold at least `need`: 0, or -1 with a
 * MemoryError set (sizing.c) */
RDB_INTERNAL int est_grow_array(void **a, Py_ssize_t *cap, Py_ssize_t need, size_t size);

static inline int
elem_push(elems_t *es, long long len, int is_int, long long v)
{
    elem_t *e;
    if (es->n == es->cap && est_grow_array((void **)&es->a, &es->cap, es->n + 1, sizeof(elem_t)) < 0)
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
    if (qn->n == qn->cap && est_grow_array((void **)&qn->a, &qn->cap, qn->n + 1, sizeof(qnode_t)) < 0)
        return -1;
    qn->a[qn->n].container = container;
    qn->a[qn->n].nbytes = nbytes;
    qn->n++;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* the estimator: one ServerProfile                                                          */

enum { ALLOC_JEMALLOC, ALLOC_LIBC };
enum { KS_DICTENTRY, KS_EMBEDDED };
/* ServerProfile.accounting: every allocation by its allocator size (objectComputeSize, up to
 * 8.2); Redis 8.6 kvobjAllocSize's tracked counters; 8.10's, with the kvobj by its requested size */
enum { ACC_ALLOC, ACC_TRACKED, ACC_REQUESTED };

typedef struct {
    PyObject_HEAD
    int allocator;       /* ALLOC_* */
    long long quantum;   /* jemalloc quantum */
    int keyspace;        /* KS_* */
    int ziplist, exact_blobs, list_listpack, set_listpack, set_dict, hash_mstr;
    long long dict_struct, dict_entry, quicklist, quicklist_node, embstr_limit, embed_limit,
        embstr_robj, zset_dict_entry;
    int embed_counts_expire, stream_rax_estimate, stream_lp_alloc;
    int accounting;      /* ACC_* */
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

RDB_INTERNAL extern PyTypeObject EstimatorType;   /* estimator.c */

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

/* ---------------------------------------------------------------------------------------- */
/* per type (sizing.c, raw.c); each returns 1 (done), 0 (declined) or -1 (error)             */

typedef struct {
    PyObject *enc;       /* borrowed */
    long long size, n, largest;
    long long blob;      /* an intset / listpack value's exact bytes (lpBytes), else -1 */
} result_t;

typedef struct {
    const unsigned char *buf;   /* the record's bytes, or NULL */
    Py_ssize_t len;
} record_t;

static inline long long
embedded(const Estimator *p, PyObject *entry, long long robj, int expire)  /* _embedded */
{
    Py_ssize_t n = PyBytes_GET_SIZE(SLOT(C_Entry, entry, E_KEY));
    return robj + (expire && SLOT(C_Entry, entry, E_EXPIRE) != Py_None ? 8 : 0) + 1
        + sds_header(n, n < 32) + n + 1;
}

/* sizing.c: once the elements are known (``es``; ``blob``: the decoded length of the record's
 * blob, -1 when it has none, -2 when its framing is not the plain one) */
RDB_INTERNAL int est_string_e(const Estimator *p, PyObject *entry, long long n, int is_int, result_t *r);
RDB_INTERNAL int est_list_e(const Estimator *p, const elems_t *es, const qnodes_t *qn, result_t *r);
RDB_INTERNAL int est_set_e(const Estimator *p, int rdb_type, int have_rec, long long blob,
                           const elems_t *es, result_t *r);
RDB_INTERNAL int est_zset_e(const Estimator *p, int rdb_type, int have_rec, long long blob,
                            const elems_t *es, result_t *r);
RDB_INTERNAL int est_hash_e(const Estimator *p, int rdb_type, int have_rec, long long blob,
                            const elems_t *es, result_t *r);
/* sizing.c: of a decoded entry (``rec``: its record bytes, when in the reader's buffer) */
RDB_INTERNAL int est_string(const Estimator *p, PyObject *entry, result_t *r);
RDB_INTERNAL int est_list(Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r);
RDB_INTERNAL int est_set(Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r);
RDB_INTERNAL int est_zset(Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r);
RDB_INTERNAL int est_hash(Estimator *p, PyObject *entry, int rdb_type, const record_t *rec, result_t *r);
RDB_INTERNAL int est_stream(const Estimator *p, PyObject *entry, int rdb_type, const record_t *rec,
                            result_t *r);

/* sizing.c: the whole key on a profile with 8.6+'s tracked accounting (kvobjAllocSize), once
 * an est_* function has answered ``r`` and left the elements in p->es / p->qn */
RDB_INTERNAL long long est_tracked(const Estimator *p, PyObject *entry, const result_t *r);

/* a byte string in a record or a scratch store: stream node keys, PEL ids (rax keys) */
typedef struct {
    const unsigned char *p;
    Py_ssize_t n;
} span_t;

/* sizing.c: the order of spans (qsort/bsearch), sort + dedupe in place (the new count), and
 * streamRadixTreeMemoryUsage() of n keys (sorted in place; -1 with MemoryError) */
RDB_INTERNAL int est_span_cmp(const void *x, const void *y);
RDB_INTERNAL Py_ssize_t est_unique_spans(span_t *s, Py_ssize_t n);
RDB_INTERNAL long long est_rax(span_t *keys, Py_ssize_t n);

/* raw.c: the raw path (Estimator.estimate_raw) */
RDB_INTERNAL int est_walk_raw(Estimator *p, int t, const unsigned char *d, Py_ssize_t len,
                              long long *blob, long long *slen, int *sint);
RDB_INTERNAL int est_stream_raw(Estimator *p, int t, const unsigned char *d, Py_ssize_t len,
                                result_t *r);

/* rows.c */
RDB_INTERNAL PyObject *est_render_rows(PyObject *module, PyObject *args);

#endif /* RDBTOOLS_ESTIMATE_H */
