/* rdbtools/rdb/csrc/resp_parse.c: parse_commands() of rdbtools.rdb._speedups, the batch parser
 * of the RESP commands of an AOF (rdbtools/aof/reader.py takes it through rdbtools.rdb._accel).
 *
 * Mirrors parse_commands() of rdbtools/format/resp.py: up to `limit` consecutive complete,
 * well-formed commands from `pos`, as its _one_command() accepts them, with the offset after
 * each; it stops, without consuming it, at the first record that is anything else (an
 * annotation, a record the buffer ends inside, damaged bytes), which the caller hands to
 * parse_record() to parse or report exactly as it always does.
 */
#include "speedups.h"

/* ASCII digits [p, end) as a number; -1 when empty, not all digits, or above `cap` (a count
 * that large cannot fit in the rest of the buffer anyway) */
static long long
resp_number(const unsigned char *p, const unsigned char *end, long long cap)
{
    long long v = 0;
    if (p >= end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > cap)
            return -1;
    }
    return v;
}

/* One complete, well-formed command at pos (as _one_command() accepts it): its arguments as
 * a new list and the offset after it; NULL without an error when there is none. */
static PyObject *
resp_command(const unsigned char *buf, Py_ssize_t n, Py_ssize_t pos, Py_ssize_t *after)
{
    const unsigned char *end, *stop = buf + n;
    if (pos >= n || buf[pos] != '*')
        return NULL;
    end = memchr(buf + pos, '\r', (size_t)(n - pos));
    /* the first CRLF: a lone CR inside the digits makes them invalid anyway */
    if (end == NULL || end + 1 >= stop || end[1] != '\n')
        return NULL;
    long long argc = resp_number(buf + pos + 1, end, n);
    if (argc < 1)
        return NULL;
    PyObject *args = PyList_New((Py_ssize_t)argc);
    if (args == NULL)
        return NULL;
    const unsigned char *p = end + 2;
    Py_ssize_t i;
    for (i = 0; i < (Py_ssize_t)argc; i++) {
        if (p >= stop || *p != '$')
            goto none;
        end = memchr(p, '\r', (size_t)(stop - p));
        if (end == NULL || end + 1 >= stop || end[1] != '\n')
            goto none;
        long long len = resp_number(p + 1, end, n);
        if (len < 0 || (end + 2 - buf) + len + 2 > n)
            goto none;
        const unsigned char *data = end + 2;
        if (data[len] != '\r' || data[len + 1] != '\n')
            goto none;
        PyObject *a = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
        if (a == NULL) {
            Py_DECREF(args);
            return NULL;
        }
        PyList_SET_ITEM(args, i, a);
        p = data + len + 2;
    }
    *after = p - buf;
    return args;
none:
    Py_DECREF(args);
    return NULL;
}

/* parse_commands(buf, pos, limit) -> (commands, ends, pos) */
PyObject *
sp_parse_commands(PyObject *self, PyObject *const *argv, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_Check(argv[0])) {
        PyErr_SetString(PyExc_TypeError, "parse_commands(buf: bytes, pos, limit)");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(argv[1]), limit = PyLong_AsSsize_t(argv[2]);
    if ((pos == -1 || limit == -1) && PyErr_Occurred())
        return NULL;
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(argv[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(argv[0]);
    PyObject *cmds = PyList_New(0), *ends = PyList_New(0);
    if (cmds == NULL || ends == NULL)
        goto error;
    if (pos < 0)
        pos = n; /* as the Python loop: nothing parsed */
    while (limit > 0 && pos < n) {
        Py_ssize_t after;
        PyObject *args = resp_command(buf, n, pos, &after);
        if (args == NULL) {
            if (PyErr_Occurred())
                goto error;
            break;
        }
        PyObject *end = PyLong_FromSsize_t(after);
        int rc = end == NULL ? -1 : PyList_Append(cmds, args);
        Py_DECREF(args);
        if (rc == 0)
            rc = PyList_Append(ends, end);
        Py_XDECREF(end);
        if (rc < 0)
            goto error;
        pos = after;
        limit--;
    }
    return Py_BuildValue("(NNn)", cmds, ends, pos);
error:
    Py_XDECREF(cmds);
    Py_XDECREF(ends);
    return NULL;
}
