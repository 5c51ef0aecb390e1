/* rdbtools/analysis/csrc/rows.c: render_rows() of rdbtools.analysis._estimate, the rendering of
 * KeyMemory rows for `rdbtool memory -f csv/jsonl`.
 *
 * Mirrors write_memory() of rdbtools/analysis/export.py byte for byte: CSV lines as csv.writer
 * writes them (QUOTE_MINIMAL, "\r\n"), JSON Lines as json.dumps(ensure_ascii=False) writes them,
 * UTF-8 encoded; keys as export._key makes them text.
 */
#include "estimate.h"

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

/* render_rows(rows, csv) -> bytes */
PyObject *
est_render_rows(PyObject *module, PyObject *args)
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
