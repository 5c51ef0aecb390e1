/* rdbtools/rdb/csrc/render_resp.c: RESP output in rdbtools.rdb._speedups.
 *
 *   resp_entry(type, key, value, expire_at_ms, field_ttls, streams_v2[, array_next_insert_index])
 *       the RESP commands that rebuild one key: the same bytes as entry_resp() in
 *       rdbtools/output/commands.py (entry_to_commands + encode_resp; Redis aof.c
 *       rewriteAppendOnlyFileRio) for strings, lists, sets, sorted sets, hashes (with their
 *       field TTLs), streams without Redis 8.6+ state (IDMP, NACK zones) and arrays (Redis 8.8,
 *       given their insert cursor).  Returns None for anything else (modules, GCRA, lazily read
 *       values, NaN scores, unexpected Python types): the caller then takes the Python path,
 *       which also raises the errors.
 *   encode_resp(args)
 *       one command as a RESP array of bulk strings, encode_resp() of rdbtools/format/resp.py.
 */
#include "speedups.h"

/* ---------------------------------------------------------------------------------------- */
/* RESP framing into an rbuf_t (speedups.h)                                                  */

/* inline: it frames every bulk string (the single-file build inlined it; this unit alone, gcc
 * would not, and entry_resp was ~4% slower) */
static inline int
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
    /* kind 0: single items; 1: (field, value) pairs; 2: (member, score) -> score member;
     * 3: array (index, value) pairs, half as many per command (aof.c aofEmitArrayElement) */
    Py_ssize_t i, j, n = PyList_GET_SIZE(list);
    Py_ssize_t per = kind == 3 ? ITEMS_PER_CMD / 2 : ITEMS_PER_CMD;
    for (i = 0; i < n; i += per) {
        Py_ssize_t m = n - i < per ? n - i : per;
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
            else if (kind == 2)
                rc = rb_score(b, PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(it, 1))) < 0
                         ? -1 : rb_bulk_obj(b, PyTuple_GET_ITEM(it, 0));
            else
                rc = rb_bulk_int(b, PyTuple_GET_ITEM(it, 0)) != 0
                         ? -1 : rb_bulk_obj(b, PyTuple_GET_ITEM(it, 1));
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

/* 1 when every item is an (index, bytes) pair with an index of 0 .. 2**64 - 1 */
static int
array_items_ok(PyObject *list)
{
    Py_ssize_t i, n = PyList_GET_SIZE(list);
    for (i = 0; i < n; i++) {
        PyObject *it = PyList_GET_ITEM(list, i);
        if (!PyTuple_CheckExact(it) || PyTuple_GET_SIZE(it) != 2
            || !PyLong_CheckExact(PyTuple_GET_ITEM(it, 0))
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(it, 1)))
            return 0;
        PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(it, 0));
        if (PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

/* encode_resp() (rdbtools/format/resp.py): one command as a RESP array of bulk strings */
PyObject *
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
    PyObject *g[6], *c[4], *p[4];
    Py_ssize_t i, j;
    if (!model_slots(group, &C_StreamGroup, g) || !PyBytes_CheckExact(g[0])
        || (g[5] != Py_None && (!PyList_CheckExact(g[5]) || PyList_GET_SIZE(g[5]) != 0))
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

/* 1 for IDMP state the rewrite writes nothing for: none, or the default XCFGSET settings
 * (stream-idmp-duration and -maxsize, 100 and 100) without producers */
static int
idmp_is_blank(PyObject *idmp)
{
    PyObject *f[5];
    if (idmp == Py_None)
        return 1;
    if (!model_slots(idmp, &C_StreamIdmp, f) || !PyList_CheckExact(f[2]) || PyList_GET_SIZE(f[2])
        || !PyLong_CheckExact(f[0]) || !PyLong_CheckExact(f[1]))
        return 0;
    return PyLong_AsLong(f[0]) == 100 && PyLong_AsLong(f[1]) == 100 && !PyErr_Occurred();
}

/* _stream_commands() in rdbtools/output/commands.py (rewriteStreamObject() in aof.c), for
 * streams without Redis 8.6+ state to write (IDMP producers or settings, NACK zones) */
static int
rb_stream(rbuf_t *b, PyObject *key, PyObject *stream, int v2)
{
    PyObject *f[8], *e[2];
    Py_ssize_t i, j;
    if (!model_slots(stream, &C_Stream, f) || !PyList_CheckExact(f[0]) || !PyList_CheckExact(f[6]))
        return RENDER_FALLBACK;
    if (!idmp_is_blank(f[7])) {
        PyErr_Clear();
        return RENDER_FALLBACK;
    }
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


PyObject *
sp_resp_entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 && nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "resp_entry(type, key, value, expire_at_ms, field_ttls, "
                        "streams_v2[, array_next_insert_index])");
        return NULL;
    }
    PyObject *type = args[0], *key = args[1], *value = args[2], *expire = args[3],
             *ttls = args[4], *next_insert = nargs == 7 ? args[6] : NULL;
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
    else if (strcmp(t, "array") == 0) {
        /* rewriteArrayObject(): ARMSET batches, then ARSEEK to the insert cursor, if any */
        if (next_insert == NULL || !PyList_CheckExact(value) || !array_items_ok(value)
            || (next_insert != Py_None && !PyLong_CheckExact(next_insert)))
            Py_RETURN_NONE;
        rc = rb_batches(&b, "ARMSET", key, value, 3);
        if (rc == 0 && next_insert != Py_None) {
            rc = rb_command(&b, 3, "ARSEEK", key);
            if (rc == 0)
                rc = rb_bulk_int(&b, next_insert);
        }
    }
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
