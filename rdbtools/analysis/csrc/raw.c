/* rdbtools/analysis/csrc/raw.c: the raw path of rdbtools.analysis._estimate
 * (Estimator.estimate_raw, estimator.c).
 *
 * Entries read with ``raw_types`` carry RawValue(the value's bytes) instead of decoded elements.
 * The walk here reads those bytes as the reader's compiled full decode (c_full_value, c_stream
 * and c_stream_group in rdbtools/rdb/csrc/records.c) does, with the same blob walkers and LZF
 * (walkers.c), accepting no more than it does, and collects only what the estimates need
 * (lengths and integer-ness: no element object is made); sizing.c's est_*_e functions then
 * size the value as MemoryEstimator (rdbtools/analysis/memory.py) does.  Whatever it does not
 * accept, or the estimates decline, goes back to Python (memory.FileEstimates), which has the
 * reader decode the value.
 */
#include "estimate.h"

/* ---------------------------------------------------------------------------------------- */
/* a cursor over the value's bytes, stopping where the reader's compiled path stops          */

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

/* walk_lzf's verdict without writing the output: a string whose bytes are not needed is only
 * checked */
static int
lzf_check(const uint8_t *d, Py_ssize_t n, long long expected)
{
    Py_ssize_t outlen;
    err_t e;
    return walk_lzf(d, n, NULL, expected, -1, &outlen, &e);
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
        if (est_grow_array((void **)&p->scratch, &p->scratch_cap, (Py_ssize_t)ulen + 1, 1) < 0)
            return -2;
        if (walk_lzf(c->buf + c->pos, (Py_ssize_t)clen, p->scratch, (long long)ulen, -1, &outlen, &e) != OK)
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
    rc = kind == K_LISTPACK ? walk_listpack(s, n, &p->items, &e)
        : kind == K_ZIPLIST ? walk_ziplist(s, n, &p->items, &e) : walk_intset(s, n, &p->items, &e);
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
int
est_walk_raw(Estimator *p, int t, const unsigned char *d, Py_ssize_t len, long long *blob,
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

/* node_entries (rdbtools/rdb/csrc/records.c) without building the entries: 1 and the largest field or value of
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
    return bsearch(key, sorted, n, sizeof(span_t), est_span_cmp) != NULL;
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
int
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
    if ((part = est_rax(keys, (Py_ssize_t)nodes)) < 0) {
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
        upel = est_unique_spans(pel, (Py_ssize_t)npel);  /* the PEL is a dict: one per id */
        if ((part = est_rax(pel, upel)) < 0) {
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
            if ((part = est_rax(cpel, (Py_ssize_t)nids)) < 0) {
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
