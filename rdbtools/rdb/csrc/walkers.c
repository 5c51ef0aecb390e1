/* rdbtools/rdb/csrc/walkers.c: the byte-level walkers of RDB blobs and LZF decompression,
 * compiled into both extensions: the reader (rdbtools.rdb._speedups) and the memory estimator
 * (rdbtools.analysis._estimate), so that the estimator accepts exactly what the reader accepts.
 * Declarations, the element list and the byte readers: walkers.h.
 *
 * Mirrors, line for line, rdbtools/format/lzf.py (lzf_decompress: walk_lzf) and
 * rdbtools/rdb/blobs.py (decode_listpack, decode_ziplist, decode_intset, decode_zipmap:
 * walk_listpack, walk_ziplist, walk_intset, walk_zipmap; listpack.c, ziplist.c, intset.c,
 * zipmap.c): the same elements, and errors with the same offsets and reasons.  The Python-facing
 * versions (bytes in, lists out, FormatError raised) are in blobs.c and lzf.c.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "walkers.h"

/* ---------------------------------------------------------------------------------------- */
/* errors of the walkers                                                                     */

static int
fail(err_t *e, long long offset, const char *fmt, ...)
{
    va_list ap;
    e->offset = offset;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return BAD;
}

/* ---------------------------------------------------------------------------------------- */
/* element lists of the walkers (items_t in walkers.h)                                       */

static int
items_grow(items_t *it)
{
    Py_ssize_t cap = it->cap * 2;
    item_t *a;
    if (it->a == it->stack) {
        a = PyMem_Malloc(cap * sizeof(item_t));
        if (a != NULL)
            memcpy(a, it->stack, it->n * sizeof(item_t));
    }
    else {
        a = PyMem_Realloc(it->a, cap * sizeof(item_t));
    }
    if (a == NULL) {
        PyErr_NoMemory();
        return NOMEM;
    }
    it->a = a;
    it->cap = cap;
    return OK;
}

#define PUSH_STR(it, ptr, size_)                                                                    \
    do {                                                                                        \
        if ((it)->n == (it)->cap && items_grow(it) != OK)                                       \
            return NOMEM;                                                                       \
        (it)->a[(it)->n].s = (ptr);                                                             \
        (it)->a[(it)->n].len = (size_);                                                             \
        (it)->n++;                                                                              \
    } while (0)
#define PUSH_INT(it, val)                                                                       \
    do {                                                                                        \
        if ((it)->n == (it)->cap && items_grow(it) != OK)                                       \
            return NOMEM;                                                                       \
        (it)->a[(it)->n].s = NULL;                                                              \
        (it)->a[(it)->n].v = (val);                                                             \
        (it)->n++;                                                                              \
    } while (0)

/* ---------------------------------------------------------------------------------------- */
/* LZF (format/lzf.py lzf_decompress)                                                        */

/* lzf_decompress (Redis lzf_d.c); see walkers.h */
int
walk_lzf(const uint8_t *d, Py_ssize_t n, uint8_t *out, long long expected, long long limit,
         Py_ssize_t *outlen, err_t *e)
{
    Py_ssize_t i = 0, o = 0;
    while (i < n) {
        unsigned ctrl = d[i++];
        Py_ssize_t run;
        if (ctrl < 32) {
            run = ctrl + 1;
            if (i + run > n)
                return fail(e, i - 1, "LZF literal run past the end of the compressed data");
            i += run;
            if (o + run > expected)
                return fail(e, i - 1, "LZF data expands past the declared %lld bytes", expected);
            if (out != NULL)
                memcpy(out + o, d + i - run, run);
            o += run;
        }
        else {
            Py_ssize_t distance, start, k;
            run = ctrl >> 5;
            if (run == 7) {
                if (i >= n)
                    return fail(e, i - 1, "LZF back-reference cut short");
                run += d[i++];
            }
            if (i >= n)
                return fail(e, i - 1, "LZF back-reference cut short");
            distance = ((Py_ssize_t)(ctrl & 0x1F) << 8) + d[i] + 1;
            i++;
            start = o - distance;
            if (start < 0)
                return fail(e, i - 2, "LZF back-reference before the start of the output");
            run += 2;
            if (o + run > expected)
                return fail(e, i - 1, "LZF data expands past the declared %lld bytes", expected);
            if (out == NULL) {
                /* only checking */
            }
            else if (distance >= run) {
                memcpy(out + o, out + start, run);
            }
            else {
                for (k = 0; k < run; k++)
                    out[o + k] = out[start + k];
            }
            o += run;
        }
        if (limit >= 0 && o >= limit) {
            *outlen = o;
            return OK;
        }
    }
    if (o != expected)
        return fail(e, n, "LZF data expands to %zd bytes, the string declares %lld", o, expected);
    *outlen = o;
    return OK;
}


/* ---------------------------------------------------------------------------------------- */
/* listpack (blobs.decode_listpack)                                                          */

static long long
read_backlen(const uint8_t *d, Py_ssize_t last, int nbytes)
{
    long long value = 0;
    int k;
    for (k = 0; k < nbytes; k++) {
        unsigned b = d[last - k];
        if (((b & 128) != 0) != (k < nbytes - 1))
            return -1;
        value |= (long long)(b & 127) << (7 * k);
    }
    return value;
}

#define LP_PAST(pos) fail(e, (pos), "listpack entry runs past the end")

int
walk_listpack(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e)
{
    uint32_t total, count;
    Py_ssize_t end, pos = 6, nitems = 0;
    if (n < 7)
        return fail(e, 0, "listpack of %zd bytes is shorter than its 7-byte minimum", n);
    total = rd32le(d);
    count = rd16le(d + 4);
    if ((long long)total != (long long)n)
        return fail(e, 0, "listpack header says %u bytes but the blob has %zd", total, n);
    end = n - 1;
    if (d[end] != 0xFF)
        return fail(e, end, "listpack does not end with 0xFF");
    while (pos < end) {
        unsigned b = d[pos];
        long long size, v = 0;
        Py_ssize_t str = -1, nxt;
        int backlen;
        if (b < 0x80) {
            v = b;
            size = 1;
        }
        else if (b < 0xC0) {
            size = 1 + (b & 0x3F);
            str = pos + 1;
        }
        else if (b < 0xE0) {
            size = 2;
            if (pos + 2 > end)
                return LP_PAST(pos);
            v = ((b & 0x1F) << 8) | d[pos + 1];
            if (v >= 4096)
                v -= 8192;
        }
        else if (b < 0xF0) {
            if (pos + 2 > end)
                return LP_PAST(pos);
            size = 2 + (((b & 0x0F) << 8) | d[pos + 1]);
            str = pos + 2;
        }
        else if (b == 0xF0) {
            if (pos + 5 > end)
                return LP_PAST(pos);
            size = 5 + (long long)rd32le(d + pos + 1);
            str = pos + 5;
        }
        else if (b == 0xF1) {
            size = 3;
            if (pos + size > end)
                return LP_PAST(pos);
            v = (int16_t)rd16le(d + pos + 1);
        }
        else if (b == 0xF2) {
            uint32_t u;
            size = 4;
            if (pos + size > end)
                return LP_PAST(pos);
            u = (uint32_t)d[pos + 1] | ((uint32_t)d[pos + 2] << 8) | ((uint32_t)d[pos + 3] << 16);
            v = (u & 0x800000) ? (long long)u - 0x1000000 : (long long)u;
        }
        else if (b == 0xF3) {
            size = 5;
            if (pos + size > end)
                return LP_PAST(pos);
            v = (int32_t)rd32le(d + pos + 1);
        }
        else if (b == 0xF4) {
            size = 9;
            if (pos + size > end)
                return LP_PAST(pos);
            v = (long long)rd64le(d + pos + 1);
        }
        else {
            return fail(e, pos, "invalid listpack entry encoding 0x%02x", b);
        }
        backlen = size <= 127 ? 1 : backlen_size(size);
        if ((long long)pos + size + backlen > (long long)end)
            return LP_PAST(pos);
        nxt = (Py_ssize_t)(pos + size + backlen);
        if (size <= 127) {
            if (d[nxt - 1] != size)
                return fail(e, nxt - 1, "listpack entry back-length %u != %lld", d[nxt - 1], size);
        }
        else if (read_backlen(d, nxt - 1, backlen) != size) {
            return fail(e, nxt - backlen, "listpack entry back-length does not match its size");
        }
        if (it != NULL) {
            if (str >= 0)
                PUSH_STR(it, d + str, (Py_ssize_t)(size - (str - pos)));
            else
                PUSH_INT(it, v);
        }
        nitems++;
        pos = nxt;
    }
    if (count != 65535 && (Py_ssize_t)count != nitems)
        return fail(e, 4, "listpack header counts %u entries but holds %zd", count, nitems);
    return OK;
}

/* ---------------------------------------------------------------------------------------- */
/* ziplist (blobs.decode_ziplist)                                                            */

#define ZL_PAST(pos) fail(e, (pos), "ziplist entry runs past the end")

int
walk_ziplist(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e)
{
    uint32_t zlbytes, zltail, zllen;
    Py_ssize_t end, pos = 10, last_start = 10, nitems = 0;
    long long prev_size = 0;
    if (n < 11)
        return fail(e, 0, "ziplist of %zd bytes is shorter than its 11-byte minimum", n);
    zlbytes = rd32le(d);
    zltail = rd32le(d + 4);
    zllen = rd16le(d + 8);
    if ((long long)zlbytes != (long long)n)
        return fail(e, 0, "ziplist header says %u bytes but the blob has %zd", zlbytes, n);
    end = n - 1;
    if (d[end] != 0xFF)
        return fail(e, end, "ziplist does not end with 0xFF");
    while (pos < end) {
        Py_ssize_t start = pos;
        long long prevlen, nxt, v = 0;
        Py_ssize_t str = -1;
        unsigned b = d[pos], enc;
        if (b < 254) {
            prevlen = b;
            pos += 1;
        }
        else if (b == 254) {
            if (pos + 5 > end)
                return ZL_PAST(start);
            prevlen = rd32le(d + pos + 1);
            pos += 5;
        }
        else {
            return fail(e, start, "ziplist end marker 0xFF before the end of the blob");
        }
        if (prevlen != prev_size)
            return fail(e, start, "ziplist entry prevlen %lld != previous entry size %lld",
                        prevlen, prev_size);
        if (pos >= end)
            return ZL_PAST(start);
        enc = d[pos];
        switch (enc >> 6) {
        case 0:
            pos += 1;
            nxt = pos + (enc & 0x3F);
            str = pos;
            break;
        case 1:
            if (pos + 2 > end)
                return ZL_PAST(start);
            nxt = pos + 2 + (((enc & 0x3F) << 8) | d[pos + 1]);
            pos += 2;
            str = pos;
            break;
        case 2:
            if (enc != 0x80 || pos + 5 > end)
                return fail(e, pos, "invalid ziplist string encoding 0x%02x", enc);
            nxt = (long long)pos + 5 + rd32be(d + pos + 1);
            pos += 5;
            str = pos;
            break;
        default:
            pos += 1;
            if (enc == 0xC0) nxt = pos + 2;
            else if (enc == 0xD0) nxt = pos + 4;
            else if (enc == 0xE0) nxt = pos + 8;
            else if (enc == 0xF0) nxt = pos + 3;
            else if (enc == 0xFE) nxt = pos + 1;
            else if (enc >= 0xF1 && enc <= 0xFD) nxt = pos;
            else return fail(e, pos - 1, "invalid ziplist entry encoding 0x%02x", enc);
            if (nxt > end)
                return ZL_PAST(start);
            if (enc == 0xC0) v = (int16_t)rd16le(d + pos);
            else if (enc == 0xD0) v = (int32_t)rd32le(d + pos);
            else if (enc == 0xE0) v = (long long)rd64le(d + pos);
            else if (enc == 0xF0) {
                uint32_t u = (uint32_t)d[pos] | ((uint32_t)d[pos + 1] << 8) | ((uint32_t)d[pos + 2] << 16);
                v = (u & 0x800000) ? (long long)u - 0x1000000 : (long long)u;
            }
            else if (enc == 0xFE) v = (int8_t)d[pos];
            else v = (long long)(enc & 0x0F) - 1;
        }
        if (nxt > end)
            return ZL_PAST(start);
        if (it != NULL) {
            if (str >= 0)
                PUSH_STR(it, d + str, (Py_ssize_t)(nxt - str));
            else
                PUSH_INT(it, v);
        }
        nitems++;
        prev_size = nxt - start;
        last_start = start;
        pos = (Py_ssize_t)nxt;
    }
    if ((nitems && (long long)zltail != last_start) || (!nitems && zltail != 10))
        return fail(e, 4, "ziplist tail offset %u does not point at the last entry", zltail);
    if (zllen != 65535 && (Py_ssize_t)zllen != nitems)
        return fail(e, 8, "ziplist header counts %u entries but holds %zd", zllen, nitems);
    return OK;
}

/* ---------------------------------------------------------------------------------------- */
/* intset (blobs.decode_intset)                                                              */

int
walk_intset(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e)
{
    uint32_t width, length, k;
    if (n < 8)
        return fail(e, 0, "intset of %zd bytes is shorter than its 8-byte header", n);
    width = rd32le(d);
    length = rd32le(d + 4);
    if (width != 2 && width != 4 && width != 8)
        return fail(e, 0, "invalid intset encoding %u (must be 2, 4 or 8)", width);
    if ((unsigned long long)n != 8 + (unsigned long long)length * width)
        return fail(e, 4, "intset of %u members of %u bytes needs %llu bytes, the blob has %zd",
                    length, width, 8 + (unsigned long long)length * width, n);
    if (length == 0)
        return fail(e, 4, "empty intset");
    if (it == NULL)
        return OK;
    for (k = 0; k < length; k++) {
        const uint8_t *p = d + 8 + (Py_ssize_t)k * width;
        long long v = width == 2 ? (int16_t)rd16le(p) : width == 4 ? (int32_t)rd32le(p)
                                                                   : (long long)rd64le(p);
        PUSH_INT(it, v);
    }
    return OK;
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

int
walk_zipmap(const uint8_t *d, Py_ssize_t n, items_t *it, err_t *e)
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
