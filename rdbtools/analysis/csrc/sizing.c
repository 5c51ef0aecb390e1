/* rdbtools/analysis/csrc/sizing.c: the per-type estimates of rdbtools.analysis._estimate.
 *
 * Mirrors, line for line and with the same arithmetic in the same order (floating-point sums
 * included), MemoryEstimator in rdbtools/analysis/memory.py (_string, _list, _set, _zset, _hash,
 * _stream, _table, _sampled, _rax) and the encoded sizes of rdbtools/analysis/encoded.py
 * (listpack_entry_size, rax_node_count; string_to_int, sds_header and the allocator are in
 * estimate.h), so the numbers are identical; tests/test_estimate_compiled.py proves it on the
 * corpus and on hypothesis-generated keys.
 *
 * est_string ... est_stream size a decoded entry (values="full"): blob lengths, quicklist nodes
 * and stream node keys come from the record bytes in the reader's buffer, read here as
 * rdbtools/analysis/records.py (record_shape) reads them.  The est_*_e functions, once the
 * elements are known, also serve the raw path (raw.c).  Whatever is not covered (module values,
 * hash field TTLs, Valkey open-addressing tables and rax allocation sizes, re-encoding a value
 * for a target with another compact format, records not in the reader's buffer) is declined
 * (0), and Python answers.  est_tracked gives the total of a key on a profile with Redis 8.6+'s
 * tracked accounting (MemoryEstimator._tracked_header and _tracked_value) once est_* has
 * answered.
 */
#include "estimate.h"

/* ---------------------------------------------------------------------------------------- */
/* working storage (estimate.h)                                                              */

int
est_grow_array(void **a, Py_ssize_t *cap, Py_ssize_t need, size_t size)
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

/* ---------------------------------------------------------------------------------------- */
/* element lists (estimate.h) from the decoded model                                         */

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
/* the estimator's arithmetic                                                                */

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

/* ---------------------------------------------------------------------------------------- */
/* the record bytes, walked as records.py's record_shape reads them                          */

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

/* skips module-typed values up to their EOF opcode (rdb.c rdbLoadCheckModuleValue;
 * records._skip_module_values) */
static void
w_module_values(walker_t *w)
{
    int special;
    unsigned long long op;
    while (!w->bad && (op = w_length(w, &special)) != 0) {  /* RDB_MODULE_OPCODE_EOF */
        if (op == 1 || op == 2)       /* SINT, UINT */
            w_length(w, &special);
        else if (op == 3)             /* FLOAT */
            w->pos += 4;
        else if (op == 4)             /* DOUBLE */
            w->pos += 8;
        else if (op == 5)             /* STRING */
            w_string(w);
        else
            w->bad = 1;
        if (w->pos > w->end)
            w->bad = 1;
    }
}

/* walks the record up to its value: returns the type byte, or -1 */
static int
w_record_value(walker_t *w)
{
    int op, special;
    unsigned long long k, classes;
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
        else if (op == RDB_OPCODE_KEY_META) {  /* Redis 8.6+: class spec + module values, each */
            classes = w_length(w, &special);
            if (special)
                w->bad = 1;
            for (k = 0; k < classes && !w->bad && w->pos <= w->end; k++) {
                w->pos += 4;
                if (w->pos <= w->end)
                    w_module_values(w);
            }
        }
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
/* (the *_e ones once the elements are known, which the raw path, raw.c, calls too)          */

/* _string of a value of n bytes, is_int when they spell an int64 */
int
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

int
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
int
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

int
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
int
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
            r->blob = b;
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
        r->blob = b;
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

int
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
int
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
        r->blob = b;
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

int
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
int
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
        r->blob = b;
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

int
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

/* MemoryEstimator._sds_req: sdsAllocSize (sds.h @8.6.2) of an sds made by sdsnewlen */
static inline long long
sds_req(const Estimator *p, long long n)
{
    long long hdr = sds_header(n, 1);
    return hdr == 1 ? n + 2 : alloc(p, hdr + n + 1);
}

/* MemoryEstimator._tracked_node: a skiplist node with its member, by the expected allocator
 * size of its random level (P = 0.25, levels 1..12) */
static double
tracked_node(const Estimator *p, long long n)
{
    long long sz = sds_header(n, 1) + n + 1, lvl;
    double sum = 0.0, pr = 0.75;
    for (lvl = 1; lvl <= 12; lvl++, pr *= 0.25)
        sum += pr * (double)alloc(p, 16 + 16 * lvl + sz);
    return sum;
}

/* MemoryEstimator._tracked_entry of a field without a TTL (entryMemUsage, entry.c @8.6.2) */
static inline long long
tracked_entry(const Estimator *p, long long lf, long long lv)
{
    long long field = sds_header(lf, 1) + lf + 1;
    if (field + 3 + lv + 1 <= 128)
        return field + 3 + lv + 1;
    return sds_header(lf, 0) + lf + 1 + 8 + sds_req(p, lv);
}

/* MemoryEstimator._tracked_header + _tracked_value: Redis 8.6+ kvobjAllocSize, the kvobj (robj,
 * metadata slots, key) and the counters the value's type keeps.  The elements are those the
 * per-type estimate just read (self->es, self->qn); ``r`` is its result. */
long long
est_tracked(const Estimator *p, PyObject *entry, const result_t *r)
{
    PyObject *key = SLOT(C_Entry, entry, E_KEY), *type = SLOT(C_Entry, entry, E_TYPE),
        *meta = SLOT(C_Entry, entry, E_KEY_META);
    const elems_t *es = &p->es;
    long long nk = PyBytes_GET_SIZE(key), n = r->n, head, value, k;
    double nodes;
    head = 16 + 8 * ((SLOT(C_Entry, entry, E_EXPIRE) != Py_None) + (meta == Py_None ? 0 : PyList_GET_SIZE(meta)))
        + 1 + sds_header(nk, nk < 32) + nk + 1;
    if (r->enc == S_embstr)  /* the value's sds8 takes the allocation's slack as its alloc */
        return alloc(p, head + 3 + n + 1);
    if (p->accounting == ACC_TRACKED)
        head = alloc(p, head);
    if (type == S_string)
        return head + (r->enc == S_raw ? sds_req(p, n) : 0);
    if (type == S_list) {
        if (r->enc == S_listpack)
            return head + p->qn.a[0].nbytes;
        value = alloc(p, p->quicklist);
        for (k = 0; k < p->qn.n; k++)
            value += alloc(p, p->quicklist_node) + p->qn.a[k].nbytes;
        return head + value;
    }
    if (type != S_set && type != S_zset && type != S_hash)  /* streams: as sized */
        return head + r->size - 16;
    if (r->blob >= 0)   /* intset, listpack */
        return head + r->blob;
    if (type == S_set) {
        value = table(p, n, -1) + n * p->dict_entry;
        for (k = 0; k < n; k++)
            value += sds_req(p, es->a[k].len);
        return head + value;
    }
    if (type == S_zset) {
        nodes = 0.0;
        for (k = 0; k < n; k++)
            nodes += tracked_node(p, es->a[k].len);
        return head + (long long)((double)(16 + alloc(p, 32) + alloc(p, 16 + 32 * 16)) + nodes
                                  + (double)table(p, n, -1) + (double)(n * p->zset_dict_entry));
    }
    value = table(p, n, -1) + n * p->dict_entry;  /* hashes: 8.6+ sizes a converted table too */
    for (k = 0; k < n; k++)
        value += tracked_entry(p, es->a[2 * k].len, es->a[2 * k + 1].len);
    return head + value;
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
int
est_span_cmp(const void *x, const void *y)
{
    const span_t *a = x, *b = y;
    Py_ssize_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

Py_ssize_t
est_unique_spans(span_t *s, Py_ssize_t n)
{
    Py_ssize_t i, k = 0;
    if (n == 0)
        return 0;
    qsort(s, n, sizeof(span_t), est_span_cmp);
    for (i = 1; i < n; i++)
        if (est_span_cmp(&s[k], &s[i]) != 0)
            s[++k] = s[i];
    return k + 1;
}

static long long
rax_node_count(span_t *keys, Py_ssize_t n)  /* keys is sorted in place */
{
    span_t *c;
    Py_ssize_t i, m = 0, lcp, lim;
    long long count;
    n = est_unique_spans(keys, n);
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
    count = est_unique_spans(c, m);
    PyMem_Free(c);
    return count;
}

/* streamRadixTreeMemoryUsage() (memory._rax, "estimate" profiles) */
long long
est_rax(span_t *keys, Py_ssize_t n)
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
        size = est_rax(spans, n);
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

int
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
    if ((part = est_rax(keys, nodes)) < 0) {
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
