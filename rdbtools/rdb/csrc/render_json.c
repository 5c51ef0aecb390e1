/* rdbtools/rdb/csrc/render_json.c: json_entry() of rdbtools.rdb._speedups, the JSON rendering
 * of one key for `rdbtool dump -f jsonl/json`: mirrors dumps_entry() of rdbtools/output/dump.py
 * (entry_to_dict, encode_bytes, _encode_score, _encode_id, _stream_to_dict, _value_to_json).
 *
 * The output is byte-for-byte what the stdlib json module makes of entry_to_dict(entry) with
 * ensure_ascii=False and compact separators: strings that are valid UTF-8 as JSON strings,
 * anything else as {"b64": ...}; floats as repr(); keys in entry_to_dict's order.  (orjson,
 * the Python path's writer, gives the same JSON values.)  Whatever falls outside what this
 * code checks for (a lazily read value, a subclass, an integer beyond 64 bits, a model class
 * that is not a plain slots dataclass) makes json_entry() return None, and the caller uses the
 * Python path.
 */
#include "speedups.h"

static int
jb_raw(rbuf_t *b, const char *s, size_t n)
{
    if (rb_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

#define JB_LIT(b, s) jb_raw((b), (s), sizeof(s) - 1)

static int
jb_ll(rbuf_t *b, long long v)
{
    if (rb_reserve(b, 24) < 0)
        return -1;
    b->len += (size_t)put_ll(b->data + b->len, v);
    return 0;
}

/* a Python int that fits 64 bits, or None as null (when allowed) */
static int
jb_int(rbuf_t *b, PyObject *o, int nullable)
{
    if (o == Py_None && nullable)
        return JB_LIT(b, "null");
    if (!PyLong_CheckExact(o))
        return RENDER_FALLBACK;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow > 0) { /* up to 2**64 - 1 here; beyond, the Python path */
        unsigned long long u = PyLong_AsUnsignedLongLong(o);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            /* beyond 64 bits (orjson refuses those): the Python path writes it with json */
            PyErr_Clear();
            return RENDER_FALLBACK;
        }
        if (rb_reserve(b, 24) < 0)
            return -1;
        b->len += (size_t)put_u64(b->data + b->len, u);
        return 0;
    }
    if (overflow < 0)
        return RENDER_FALLBACK;
    if (v == -1 && PyErr_Occurred())
        return -1;
    return jb_ll(b, v);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
jb_b64(rbuf_t *b, const unsigned char *s, size_t n)
{
    if (rb_reserve(b, 4 * ((n + 2) / 3) + 12) < 0)
        return -1;
    char *o = b->data + b->len;
    memcpy(o, "{\"b64\":\"", 8);
    o += 8;
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o++ = '"';
    *o++ = '}';
    b->len = (size_t)(o - b->data);
    return 0;
}

/* Length of the UTF-8 sequence at s[0..n) that Python's strict decoder accepts, 0 if invalid
 * (overlong forms, surrogates U+D800..DFFF and code points above U+10FFFF are refused). */
static int
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
#define CONT(k) ((k) < n && (s[k] & 0xC0) == 0x80)
    if (c >= 0xC2 && c <= 0xDF)
        return CONT(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || !CONT(2))
            return 0;
        unsigned c1 = s[1];
        if (c == 0xE0 ? c1 < 0xA0 || c1 > 0xBF : c == 0xED ? c1 < 0x80 || c1 > 0x9F : !CONT(1))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || !CONT(2) || !CONT(3))
            return 0;
        unsigned c1 = s[1];
        if (c == 0xF0 ? c1 < 0x90 || c1 > 0xBF : c == 0xF4 ? c1 < 0x80 || c1 > 0x8F : !CONT(1))
            return 0;
        return 4;
    }
#undef CONT
    return 0;
}

/* encode_bytes(): a JSON string when the bytes are valid UTF-8, else {"b64": ...} */
static int
jb_str(rbuf_t *b, const char *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)data;
    size_t start = b->len, i = 0;
    /* worst case 6 output bytes per input byte (\u00XX) */
    if (rb_reserve(b, 6 * n + 2) < 0)
        return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x80) {
            int k = utf8_seq(s + i, n - i);
            if (k == 0) {
                b->len = start;
                return jb_b64(b, s, n);
            }
            memcpy(o, s + i, (size_t)k);
            o += k;
            i += (size_t)k;
            continue;
        }
        i++;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u'; *o++ = '0'; *o++ = '0';
            *o++ = hex[c >> 4]; *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

static int
jb_bytes(rbuf_t *b, PyObject *o)
{
    if (!PyBytes_CheckExact(o))
        return RENDER_FALLBACK;
    return jb_str(b, PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
}

/* A finite double as the stdlib json module writes it: repr(), the shortest round-trip digits
 * ("1e+16", "100.0", "1e-05").  orjson spells some of them differently, and differently across
 * its versions ("1e16" before 3.10); the JSON values are the same. */
static int
jb_double(rbuf_t *b, double x)
{
    char *text = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL)
        return -1;
    int rc = jb_raw(b, text, strlen(text));
    PyMem_Free(text);
    return rc;
}

/* _encode_score(): finite scores as numbers, inf/-inf/nan as strings */
static int
jb_score(rbuf_t *b, PyObject *o)
{
    if (!PyFloat_CheckExact(o))
        return RENDER_FALLBACK;
    double x = PyFloat_AS_DOUBLE(o);
    if (isnan(x))
        return JB_LIT(b, "\"nan\"");
    if (isinf(x))
        return x > 0 ? JB_LIT(b, "\"inf\"") : JB_LIT(b, "\"-inf\"");
    return jb_double(b, x);
}

/* _encode_id(): "<ms>-<seq>" */
static int
jb_stream_id(rbuf_t *b, PyObject *id)
{
    char tmp[48];
    int n = put_stream_id(tmp + 1, id);
    if (n < 0)
        return RENDER_FALLBACK;
    tmp[0] = '"';
    tmp[n + 1] = '"';
    return jb_raw(b, tmp, (size_t)n + 2);
}


/* items: bytes (kind 0), (bytes, bytes) pairs (kind 1), (bytes, float) pairs (kind 2) */
static int
jb_items(rbuf_t *b, PyObject *list, int kind)
{
    if (!PyList_CheckExact(list))
        return RENDER_FALLBACK;
    Py_ssize_t i, n = PyList_GET_SIZE(list);
    TRY(JB_LIT(b, "["));
    for (i = 0; i < n; i++) {
        PyObject *it = PyList_GET_ITEM(list, i);
        if (i)
            TRY(JB_LIT(b, ","));
        if (kind == 0) {
            TRY(jb_bytes(b, it));
            continue;
        }
        if (!PyTuple_CheckExact(it) || PyTuple_GET_SIZE(it) != 2)
            return RENDER_FALLBACK;
        TRY(JB_LIT(b, "["));
        TRY(jb_bytes(b, PyTuple_GET_ITEM(it, 0)));
        TRY(JB_LIT(b, ","));
        TRY(kind == 1 ? jb_bytes(b, PyTuple_GET_ITEM(it, 1)) : jb_score(b, PyTuple_GET_ITEM(it, 1)));
        TRY(JB_LIT(b, "]"));
    }
    return JB_LIT(b, "]");
}

/* a list rendered element by element with FN */
static int
jb_list(rbuf_t *b, PyObject *list, int (*fn)(rbuf_t *, PyObject *))
{
    if (!PyList_CheckExact(list))
        return RENDER_FALLBACK;
    Py_ssize_t i, n = PyList_GET_SIZE(list);
    TRY(JB_LIT(b, "["));
    for (i = 0; i < n; i++) {
        if (i)
            TRY(JB_LIT(b, ","));
        TRY(fn(b, PyList_GET_ITEM(list, i)));
    }
    return JB_LIT(b, "]");
}

static int
jb_stream_entry(rbuf_t *b, PyObject *o)
{
    PyObject *f[2];
    if (!model_slots(o, &C_StreamEntry, f) || !PyList_CheckExact(f[1]))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "["));
    TRY(jb_stream_id(b, f[0]));
    TRY(JB_LIT(b, ",["));
    Py_ssize_t i, n = PyList_GET_SIZE(f[1]);
    for (i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(f[1], i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2)
            return RENDER_FALLBACK;
        if (i)
            TRY(JB_LIT(b, ","));
        TRY(jb_bytes(b, PyTuple_GET_ITEM(pair, 0)));
        TRY(JB_LIT(b, ","));
        TRY(jb_bytes(b, PyTuple_GET_ITEM(pair, 1)));
    }
    return JB_LIT(b, "]]");
}

static int
jb_pending(rbuf_t *b, PyObject *o)
{
    PyObject *f[4];
    if (!model_slots(o, &C_StreamPending, f))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"id\":"));
    TRY(jb_stream_id(b, f[0]));
    TRY(JB_LIT(b, ",\"consumer\":"));
    TRY(f[1] == Py_None ? JB_LIT(b, "null") : jb_bytes(b, f[1]));
    TRY(JB_LIT(b, ",\"delivery_time_ms\":"));
    TRY(jb_int(b, f[2], 0));
    TRY(JB_LIT(b, ",\"delivery_count\":"));
    TRY(jb_int(b, f[3], 0));
    return JB_LIT(b, "}");
}

static int
jb_consumer(rbuf_t *b, PyObject *o)
{
    PyObject *f[4];
    if (!model_slots(o, &C_StreamConsumer, f))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"name\":"));
    TRY(jb_bytes(b, f[0]));
    TRY(JB_LIT(b, ",\"seen_time_ms\":"));
    TRY(jb_int(b, f[1], 0));
    TRY(JB_LIT(b, ",\"active_time_ms\":"));
    TRY(jb_int(b, f[2], 1));
    TRY(JB_LIT(b, ",\"pending\":"));
    TRY(jb_list(b, f[3], jb_stream_id));
    return JB_LIT(b, "}");
}

static int
jb_group(rbuf_t *b, PyObject *o)
{
    PyObject *f[6];
    if (!model_slots(o, &C_StreamGroup, f))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"name\":"));
    TRY(jb_bytes(b, f[0]));
    TRY(JB_LIT(b, ",\"last_id\":"));
    TRY(jb_stream_id(b, f[1]));
    TRY(JB_LIT(b, ",\"entries_read\":"));
    TRY(jb_int(b, f[2], 1));
    TRY(JB_LIT(b, ",\"pending\":"));
    TRY(jb_list(b, f[3], jb_pending));
    TRY(JB_LIT(b, ",\"consumers\":"));
    TRY(jb_list(b, f[4], jb_consumer));
    if (f[5] != Py_None) { /* the NACK zone, Redis 8.8 */
        TRY(JB_LIT(b, ",\"nacked\":"));
        TRY(jb_list(b, f[5], jb_stream_id));
    }
    return JB_LIT(b, "}");
}

static int
jb_idmp_producer(rbuf_t *b, PyObject *o)
{
    PyObject *f[2];
    Py_ssize_t i, n;
    if (!model_slots(o, &C_StreamIdmpProducer, f) || !PyList_CheckExact(f[1]))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"pid\":"));
    TRY(jb_bytes(b, f[0]));
    TRY(JB_LIT(b, ",\"iids\":["));
    n = PyList_GET_SIZE(f[1]);
    for (i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(f[1], i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2)
            return RENDER_FALLBACK;
        TRY(i ? JB_LIT(b, ",[") : JB_LIT(b, "["));
        TRY(jb_bytes(b, PyTuple_GET_ITEM(pair, 0)));
        TRY(JB_LIT(b, ","));
        TRY(jb_stream_id(b, PyTuple_GET_ITEM(pair, 1)));
        TRY(JB_LIT(b, "]"));
    }
    return JB_LIT(b, "]}");
}

/* a stream's IDMP state (Redis 8.6), with the counts XINFO STREAM shows */
static int
jb_idmp(rbuf_t *b, PyObject *o)
{
    PyObject *f[5];
    Py_ssize_t i, n, pids = 0, iids = 0;
    if (!model_slots(o, &C_StreamIdmp, f) || !PyList_CheckExact(f[2]))
        return RENDER_FALLBACK;
    n = PyList_GET_SIZE(f[2]);
    for (i = 0; i < n; i++) { /* producers without IIDs are not tracked after a load */
        PyObject *p[2];
        if (!model_slots(PyList_GET_ITEM(f[2], i), &C_StreamIdmpProducer, p)
            || !PyList_CheckExact(p[1]))
            return RENDER_FALLBACK;
        pids += PyList_GET_SIZE(p[1]) > 0;
        iids += PyList_GET_SIZE(p[1]);
    }
    TRY(JB_LIT(b, "{\"duration\":"));
    TRY(jb_int(b, f[0], 0));
    TRY(JB_LIT(b, ",\"max_size\":"));
    TRY(jb_int(b, f[1], 0));
    TRY(JB_LIT(b, ",\"pids_tracked\":"));
    TRY(jb_ll(b, (long long)pids));
    TRY(JB_LIT(b, ",\"iids_tracked\":"));
    TRY(jb_ll(b, (long long)iids));
    TRY(JB_LIT(b, ",\"iids_added\":"));
    TRY(jb_int(b, f[3], 0));
    TRY(JB_LIT(b, ",\"iids_duplicates\":"));
    TRY(jb_int(b, f[4], 0));
    TRY(JB_LIT(b, ",\"producers\":"));
    TRY(jb_list(b, f[2], jb_idmp_producer));
    return JB_LIT(b, "}");
}

/* _stream_to_dict() */
static int
jb_stream(rbuf_t *b, PyObject *o)
{
    PyObject *f[8];
    if (!model_slots(o, &C_Stream, f))
        return RENDER_FALLBACK;
    TRY(JB_LIT(b, "{\"entries\":"));
    TRY(jb_list(b, f[0], jb_stream_entry));
    TRY(JB_LIT(b, ",\"length\":"));
    TRY(jb_int(b, f[1], 0));
    TRY(JB_LIT(b, ",\"last_id\":"));
    TRY(jb_stream_id(b, f[2]));
    TRY(JB_LIT(b, ",\"first_id\":"));
    TRY(jb_stream_id(b, f[3]));
    TRY(JB_LIT(b, ",\"max_deleted_id\":"));
    TRY(jb_stream_id(b, f[4]));
    TRY(JB_LIT(b, ",\"entries_added\":"));
    TRY(jb_int(b, f[5], 0));
    TRY(JB_LIT(b, ",\"groups\":"));
    TRY(jb_list(b, f[6], jb_group));
    if (f[7] != Py_None) {
        TRY(JB_LIT(b, ",\"idmp\":"));
        TRY(jb_idmp(b, f[7]));
    }
    return JB_LIT(b, "}");
}

/* an array (Redis 8.8): [[index, B], ...] */
static int
jb_array(rbuf_t *b, PyObject *list)
{
    if (!PyList_CheckExact(list))
        return RENDER_FALLBACK;
    Py_ssize_t i, n = PyList_GET_SIZE(list);
    TRY(JB_LIT(b, "["));
    for (i = 0; i < n; i++) {
        PyObject *it = PyList_GET_ITEM(list, i);
        if (!PyTuple_CheckExact(it) || PyTuple_GET_SIZE(it) != 2)
            return RENDER_FALLBACK;
        TRY(i ? JB_LIT(b, ",[") : JB_LIT(b, "["));
        TRY(jb_int(b, PyTuple_GET_ITEM(it, 0), 0));
        TRY(JB_LIT(b, ","));
        TRY(jb_bytes(b, PyTuple_GET_ITEM(it, 1)));
        TRY(JB_LIT(b, "]"));
    }
    return JB_LIT(b, "]");
}

/* module key metadata (Redis 8.6): {"class", "version", "flags", "raw": {"b64"}} */
static int
jb_key_meta(rbuf_t *b, PyObject *o)
{
    PyObject *f[4];
    if (!model_slots(o, &C_KeyMeta, f) || !PyUnicode_CheckExact(f[0]) || !PyBytes_CheckExact(f[3]))
        return RENDER_FALLBACK;
    Py_ssize_t n;
    const char *name = PyUnicode_AsUTF8AndSize(f[0], &n);
    if (name == NULL)
        return -1;
    TRY(JB_LIT(b, "{\"class\":"));
    TRY(jb_str(b, name, (size_t)n));
    TRY(JB_LIT(b, ",\"version\":"));
    TRY(jb_int(b, f[1], 0));
    TRY(JB_LIT(b, ",\"flags\":"));
    TRY(jb_int(b, f[2], 0));
    TRY(JB_LIT(b, ",\"raw\":"));
    TRY(jb_b64(b, (const unsigned char *)PyBytes_AS_STRING(f[3]), (size_t)PyBytes_GET_SIZE(f[3])));
    return JB_LIT(b, "}");
}

/* _value_to_json() for the types the reader produces as plain containers */
static int
jb_value(rbuf_t *b, const char *type, PyObject *value)
{
    if (value == Py_None)
        return JB_LIT(b, "null");
    if (strcmp(type, "string") == 0)
        return jb_bytes(b, value);
    if (strcmp(type, "list") == 0 || strcmp(type, "set") == 0)
        return jb_items(b, value, 0);
    if (strcmp(type, "hash") == 0)
        return jb_items(b, value, 1);
    if (strcmp(type, "zset") == 0)
        return jb_items(b, value, 2);
    if (strcmp(type, "stream") == 0)
        return jb_stream(b, value);
    if (strcmp(type, "array") == 0)
        return jb_array(b, value);
    if (strcmp(type, "gcra") == 0)
        return jb_int(b, value, 0);
    return RENDER_FALLBACK; /* modules and anything else */
}

/* entry_to_dict() + json.dumps() */
static int
jb_entry(rbuf_t *b, PyObject *entry)
{
    /* Entry slots: db key type value expire_at_ms rdb_type idle_s freq field_expire_at_ms
     * length offset size array_next_insert_index key_meta */
    PyObject *f[ENTRY_NFIELDS];
    if (!model_slots(entry, &C_Entry, f) || !PyUnicode_CheckExact(f[2]))
        return RENDER_FALLBACK;
    const char *type = PyUnicode_AsUTF8(f[2]);
    if (type == NULL)
        return -1;
    TRY(JB_LIT(b, "{\"db\":"));
    TRY(jb_int(b, f[0], 0));
    TRY(JB_LIT(b, ",\"key\":"));
    TRY(jb_bytes(b, f[1]));
    TRY(JB_LIT(b, ",\"type\":"));
    TRY(jb_str(b, type, strlen(type)));
    TRY(JB_LIT(b, ",\"expire_at_ms\":"));
    TRY(jb_int(b, f[4], 1));
    TRY(JB_LIT(b, ",\"rdb_type\":"));
    TRY(jb_int(b, f[5], 0));
    TRY(JB_LIT(b, ",\"value\":"));
    TRY(jb_value(b, type, f[3]));
    if (f[3] == Py_None) {
        TRY(JB_LIT(b, ",\"length\":"));
        TRY(jb_int(b, f[9], 0));
    }
    PyObject *ttls = f[8];
    if (ttls != Py_None) {
        if (!PyDict_CheckExact(ttls))
            return RENDER_FALLBACK;
        if (PyDict_GET_SIZE(ttls)) {
            Py_ssize_t pos = 0, i = 0;
            PyObject *field, *ms;
            TRY(JB_LIT(b, ",\"field_expire_at_ms\":["));
            while (PyDict_Next(ttls, &pos, &field, &ms)) {
                TRY(i++ ? JB_LIT(b, ",[") : JB_LIT(b, "["));
                TRY(jb_bytes(b, field));
                TRY(JB_LIT(b, ","));
                TRY(jb_int(b, ms, 0));
                TRY(JB_LIT(b, "]"));
            }
            TRY(JB_LIT(b, "]"));
        }
    }
    if (f[12] != Py_None) {
        TRY(JB_LIT(b, ",\"array_next_insert_index\":"));
        TRY(jb_int(b, f[12], 0));
    }
    if (f[13] != Py_None) {
        TRY(JB_LIT(b, ",\"key_meta\":"));
        TRY(jb_list(b, f[13], jb_key_meta));
    }
    if (f[6] != Py_None) {
        TRY(JB_LIT(b, ",\"idle_s\":"));
        TRY(jb_int(b, f[6], 0));
    }
    if (f[7] != Py_None) {
        TRY(JB_LIT(b, ",\"freq\":"));
        TRY(jb_int(b, f[7], 0));
    }
    return JB_LIT(b, "}");
}


/* json_entry(entry) -> bytes, or None when the Python path must render it */
PyObject *
sp_json_entry(PyObject *self, PyObject *entry)
{
    rbuf_t b = {NULL, 0, 0};
    int rc = jb_entry(&b, entry);
    PyObject *out = NULL;
    if (rc == 0)
        out = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    else if (rc == RENDER_FALLBACK)
        out = Py_NewRef(Py_None);
    PyMem_Free(b.data);
    return out;
}
