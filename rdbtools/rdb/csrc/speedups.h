/* rdbtools/rdb/csrc/speedups.h: what the translation units of rdbtools.rdb._speedups share
 * (docs/architecture.md, "The accelerator").  Every unit includes it first.
 *
 *   module.c       the method table, PyInit__speedups, the model class checks, the imports
 *                  (rdbtools.errors, rdbtools.rdb.blobs, rdbtools.format.lzf, rdbtools.model);
 *                  defines the module state declared below
 *   walkers.c      the blob walkers and LZF decompression (walkers.h), also compiled into
 *                  rdbtools.analysis._estimate
 *   blobs.c        decode_listpack/_ziplist/_intset/_zipmap     (rdbtools/rdb/blobs.py)
 *   lzf.c          lzf_decompress, lzf_compress                 (rdbtools/format/lzf.py)
 *   records.c      read_records and the value decoders           (rdbtools/rdb/reader.py)
 *   render_json.c  json_entry                                    (rdbtools/output/dump.py)
 *   render_resp.c  resp_entry, encode_resp                       (rdbtools/output/commands.py,
 *                                                                 rdbtools/format/resp.py)
 *   resp_parse.c   parse_commands                                (rdbtools/format/resp.py)
 *   encoders.c     encode_rdb_string, encode_listpack/_ziplist/_intset, compact, stream_nodes
 *                  (rdbtools/format/primitives.py, rdbtools/rdb/encoders.py)
 *
 * Names shared between units start with sp_ (functions) or are the module state below; all are
 * RDB_INTERNAL (hidden: the extension exports only PyInit__speedups).  Everything else is
 * static to its unit.  The small helpers several units call in their hot loops (the output
 * buffer, decimal digits, model slots) are static inline here, so that splitting the module
 * into units costs no inlining (put_ll and put_stream_id excepted: see SP_OUTLINE).
 */
#ifndef RDBTOOLS_SPEEDUPS_H
#define RDBTOOLS_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

/* the byte-level walkers, shared with rdbtools/analysis/csrc/ */
#include "walkers.h"

/* ---------------------------------------------------------------------------------------- */
/* module state (set once at import, in module.c)                                            */

RDB_INTERNAL extern PyObject *FormatError;      /* rdbtools.errors.FormatError */
RDB_INTERNAL extern PyObject *py_blobs;         /* rdbtools.rdb.blobs (fallbacks) */
RDB_INTERNAL extern PyObject *py_lzf;           /* rdbtools.format.lzf (fallback) */
#define RDB_TYPE_CODES 34                        /* 0 .. 33 (GCRA, Redis 8.10 source) */
RDB_INTERNAL extern PyObject *type_names[RDB_TYPE_CODES]; /* rdb type code -> model type name */

/* The model classes are slots dataclasses whose __init__ only stores its arguments: objects are
 * made by filling the slots directly when every field is a plain object slot (checked at import),
 * else by calling the class. */
typedef struct {
    const char *name;
    int nfields;
    const char *fields[16];
    PyTypeObject *type;
    int direct;
    Py_ssize_t offsets[16];
} slotclass_t;

RDB_INTERNAL extern slotclass_t C_Entry, C_Stream, C_StreamEntry, C_StreamGroup, C_StreamPending,
    C_StreamConsumer, C_RawValue, C_StreamIdmp, C_StreamIdmpProducer, C_KeyMeta;
#define ENTRY_NFIELDS 14

/* ---------------------------------------------------------------------------------------- */
/* shared helpers                                                                            */

/* FormatError(e->msg, e->offset), raised (module.c) */
RDB_INTERNAL void sp_raise_format_error(const err_t *e);
/* module.<name>(*args): the pure-Python function, for arguments the C code does not take */
RDB_INTERNAL PyObject *sp_call_fallback(PyObject *module, const char *name, PyObject *const *args,
                                        Py_ssize_t nargs);
/* LZF-compress a bytes object into at most maxout bytes: 0 and *out (NULL when it does not
 * compress that far), or -1 with an error set (lzf.c; encode_rdb_string uses it) */
RDB_INTERNAL int sp_lzf_pack_bytes(PyObject *data, Py_ssize_t maxout, PyObject **out);

/* a blob walker, as the Python-facing walkers (blobs.c) and the record loop (records.c) take it */
typedef int (*walker_t)(const uint8_t *, Py_ssize_t, items_t *, err_t *);

/* ---------------------------------------------------------------------------------------- */
/* the output buffer of the renderers and encoders                                           */

typedef struct {
    char *data;
    size_t len, cap;
} rbuf_t;

static inline int
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
static inline int
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

/* ---------------------------------------------------------------------------------------- */
/* the renderers (render_resp.c, render_json.c) and the stream node encoder (encoders.c)     */

/* Out of line, one copy per unit that uses it, as the single-file build compiled them:
 * inlining them into the JSON renderer made json_entry ~3% slower, and so did calling one copy
 * in another unit (gcc 12 -O3, measured on the 200k-key benchmark file). */
#if defined(__GNUC__)
#define SP_OUTLINE static __attribute__((noinline, unused))
#else
#define SP_OUTLINE static
#endif

/* decimal text of a signed 64-bit integer at o; returns the number of bytes written */
SP_OUTLINE int
put_ll(char *o, long long v)
{
    if (v >= 0)
        return put_u64(o, (unsigned long long)v);
    *o = '-';
    return 1 + put_u64(o + 1, 0ULL - (unsigned long long)v);
}

/* a stream ID "<ms>-<seq>" (both unsigned 64-bit) into tmp; -1 when it is not one */
SP_OUTLINE int
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
static inline PyObject **
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

/* ---------------------------------------------------------------------------------------- */
/* the functions of the method table (module.c), by unit                                     */

/* blobs.c */
RDB_INTERNAL PyObject *sp_decode_listpack(PyObject *self, PyObject *data);
RDB_INTERNAL PyObject *sp_decode_ziplist(PyObject *self, PyObject *data);
RDB_INTERNAL PyObject *sp_decode_intset(PyObject *self, PyObject *data);
RDB_INTERNAL PyObject *sp_decode_zipmap(PyObject *self, PyObject *data);
/* lzf.c */
RDB_INTERNAL PyObject *sp_lzf_decompress(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                         PyObject *kwnames);
RDB_INTERNAL PyObject *sp_lzf_compress(PyObject *self, PyObject *data);
/* records.c */
RDB_INTERNAL PyObject *sp_read_records(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
/* render_json.c */
RDB_INTERNAL PyObject *sp_json_entry(PyObject *self, PyObject *entry);
/* render_resp.c */
RDB_INTERNAL PyObject *sp_resp_entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
RDB_INTERNAL PyObject *sp_encode_resp(PyObject *self, PyObject *args);
/* resp_parse.c */
RDB_INTERNAL PyObject *sp_parse_commands(PyObject *self, PyObject *const *argv, Py_ssize_t nargs);
/* encoders.c */
RDB_INTERNAL PyObject *sp_encode_rdb_string(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                            PyObject *kwnames);
RDB_INTERNAL PyObject *sp_encode_listpack(PyObject *self, PyObject *elements);
RDB_INTERNAL PyObject *sp_encode_ziplist(PyObject *self, PyObject *elements);
RDB_INTERNAL PyObject *sp_encode_intset(PyObject *self, PyObject *members);
RDB_INTERNAL PyObject *sp_compact(PyObject *self, PyObject *strings);
RDB_INTERNAL PyObject *sp_stream_nodes(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

#endif /* RDBTOOLS_SPEEDUPS_H */
