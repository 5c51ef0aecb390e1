/* rdbtools/rdb/csrc/walkers.h: the byte-level walkers of RDB blobs (definitions in walkers.c),
 * shared by the compiled reader (rdbtools.rdb._speedups, rdbtools/rdb/csrc/) and the compiled
 * memory estimator (rdbtools.analysis._estimate, rdbtools/analysis/csrc/): both extensions
 * compile walkers.c, so that the estimator accepts exactly what the reader accepts.
 *
 * Mirrors rdbtools/format/lzf.py (lzf_decompress) and rdbtools/rdb/blobs.py (decode_listpack,
 * _ziplist, _intset, _zipmap): the same offsets and reasons in errors.  Include it after
 * <Python.h> (speedups.h and estimate.h do).
 *
 * Everything a unit may share is declared here: the element list the walkers fill, their error
 * record, the little-endian/big-endian readers (static inline: the record loop and the
 * estimator's raw walk call them per byte field), and the walkers themselves, whose names start
 * with walk_.  RDB_INTERNAL keeps the shared names out of the extensions' dynamic symbol tables
 * (only PyInit_* is exported) and lets calls and global accesses between the units of one
 * extension bind directly, without PLT/GOT indirection.
 */

#ifndef RDBTOOLS_WALKERS_H
#define RDBTOOLS_WALKERS_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(_WIN32) && !defined(__CYGWIN__)
#define RDB_INTERNAL __attribute__((visibility("hidden")))
#else
#define RDB_INTERNAL
#endif

/* ---------------------------------------------------------------------------------------- */
/* errors of the walkers                                                                     */

typedef struct {
    long long offset;
    char msg[200];
} err_t;

enum { OK = 0, BAD = -1, NOMEM = -2 };

/* ---------------------------------------------------------------------------------------- */
/* little helpers                                                                            */

static inline uint32_t rd16le(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static inline uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint32_t rd32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint64_t rd64le(const uint8_t *p)
{
    return (uint64_t)rd32le(p) | ((uint64_t)rd32le(p + 4) << 32);
}
static inline uint64_t rd64be(const uint8_t *p)
{
    return ((uint64_t)rd32be(p) << 32) | (uint64_t)rd32be(p + 4);
}

/* ---------------------------------------------------------------------------------------- */
/* element lists of the walkers: an element is a string (s != NULL) or an integer            */

typedef struct {
    const uint8_t *s;
    Py_ssize_t len;
    long long v;
} item_t;

#define ITEMS_STACK 128
typedef struct {
    item_t *a;
    Py_ssize_t n, cap;
    item_t stack[ITEMS_STACK];
} items_t;

static inline void items_init(items_t *it) { it->a = it->stack; it->n = 0; it->cap = ITEMS_STACK; }
static inline void items_free(items_t *it)
{
    if (it->a != it->stack)
        PyMem_Free(it->a);
    it->a = it->stack;
    it->n = 0;
    it->cap = ITEMS_STACK;
}

/* ---------------------------------------------------------------------------------------- */
/* LZF (rdbtools/format/lzf.py)                                                              */

/* Decompress into out[0..cap).  cap must be >= min(expected, limit + 264 or unlimited, the
 * most `n` bytes can expand to), so that it is never the reason to stop.  limit < 0: none.
 * out == NULL only checks the data (the same verdict, nothing written). */
RDB_INTERNAL int walk_lzf(const uint8_t *d, Py_ssize_t n, uint8_t *out, long long expected,
                          long long limit, Py_ssize_t *outlen, err_t *e);

/* the most n compressed bytes can produce: a 3-byte back-reference yields 264 bytes */
static inline long long lzf_max_output(Py_ssize_t n) { return (long long)n * 88; }

/* ---------------------------------------------------------------------------------------- */
/* the blob walkers (rdbtools/rdb/blobs.py): OK with the elements appended to `it` (it == NULL:  */
/* only checked), BAD with `e` filled, or NOMEM with a MemoryError set                         */

RDB_INTERNAL int walk_listpack(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e);
RDB_INTERNAL int walk_ziplist(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e);
RDB_INTERNAL int walk_intset(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e);
RDB_INTERNAL int walk_zipmap(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e);

/* the size of a listpack entry's back-length (lpEncodeBacklen() in listpack.c), for an entry of
 * `size` bytes: the walker checks it, the writer's encoders and the estimator compute it */
static inline int
backlen_size(long long size)
{
    if (size <= 127) return 1;
    if (size < 16383) return 2;
    if (size < 2097151) return 3;
    if (size < 268435455) return 4;
    return 5;
}

#endif /* RDBTOOLS_WALKERS_H */
