/* The decoder's per-line loop in C: "Interpreting an event stream" for the lines of one chunk.
 *
 * `sse_cli.protocol.decoder.scan_lines` is the same loop in Python, and the reference: this file follows
 * it statement by statement, and the test suite runs every decoder test against both. The
 * lines are read in place in the chunk's text, so a string is made only for what an event
 * keeps (its data, id and type). The rare lines (other spellings of the fields, `retry:`,
 * unknown fields) go to the Python callback `field`, so only the common ones are written twice.
 *
 *     bind(Event, Comment)    the record types it makes, once, before any scan
 *     scan(text, end, data, event_type, id_buffer, last_id, retry, blocks, data_size, checked,
 *          max_line, max_size, field, block)
 *     -> (items, event_type, id_buffer, last_id, retry, blocks, data_size, trip, ids_seen)
 *
 * The lines are text[:end], each ended by "\n". `data` (the data buffer, a list of str) is
 * changed in place; `trip` is None, or what grew past the size bound ("a line", "an event's
 * data"), at which point the loop stopped. `block` is None, or the tuple type of the record
 * that a blank line after a block without data gives when the block changed the last event
 * ID or set `retry`.
 *
 * Beside it, the load tester's per-chunk question, twin of `sse_cli.loadtest.audit.ascending`:
 *
 *     ascending(items, Event, at) -> (first, last) | None
 *
 * whether every item is an Event whose id (item[at]) is a decimal integer of at most
 * MAX_DIGITS digits above the one before; if so, the first and last of those integers.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>

/* Longer digit strings are not audited as integers (sse_cli.loadtest.audit.MAX_DIGITS). */
#define MAX_DIGITS 18

/* Strings made once, at import. */
static PyObject *message_str;  /* "message", the default event type */
static PyObject *empty_str;
static PyObject *newline_str;
static PyObject *trip_line;
static PyObject *trip_data;
/* The record types, from bind(). */
static PyTypeObject *event_cls;
static PyTypeObject *comment_cls;

#define SET_REF(target, value)       \
    do {                             \
        PyObject *old_ = (target);   \
        (target) = (value);          \
        Py_XDECREF(old_);            \
    } while (0)

/* Whether text[at:at + length] starts with the ASCII string `prefix` of length `n`. */
static int
starts_with(int kind, const void *text, Py_ssize_t at, Py_ssize_t length, const char *prefix,
            Py_ssize_t n)
{
    if (length < n) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_READ(kind, text, at + i) != (Py_UCS4)(unsigned char)prefix[i]) {
            return 0;
        }
    }
    return 1;
}

/* An instance of a tuple subclass (Event, Comment) holding `items`, whose references it
 * takes; NULL with an exception set when it cannot be made. */
static PyObject *
new_record(PyTypeObject *type, PyObject **items, Py_ssize_t n)
{
#if PY_VERSION_HEX < 0x030E0000
    /* What tuple.__new__(type, items) does in these versions, without the tuple between. */
    PyObject *record = type->tp_alloc(type, n);
    if (record != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyTuple_SET_ITEM(record, i, items[i]);
        }
        return record;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(items[i]);
    }
    return NULL;
#else
    /* Later versions may keep more in a tuple than its items: through tuple.__new__. */
    PyObject *tuple = PyTuple_New(n);
    if (tuple == NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_DECREF(items[i]);
        }
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(tuple, i, items[i]);
    }
    PyObject *args = PyTuple_Pack(1, tuple);
    Py_DECREF(tuple);
    if (args == NULL) {
        return NULL;
    }
    PyObject *record = PyTuple_Type.tp_new(type, args, NULL);
    Py_DECREF(args);
    return record;
#endif
}

/* The event the data buffer holds, appended to `out`; the buffer is emptied. */
static int
dispatch(PyObject *out, PyObject *data, PyObject *event_type, PyObject *id_buffer,
         PyObject *retry, PyTypeObject *event_cls)
{
    Py_ssize_t lines = PyList_GET_SIZE(data);
    PyObject *joined;
    if (lines == 1) {
        joined = PyList_GET_ITEM(data, 0);
        Py_INCREF(joined);
    }
    else {
        joined = PyUnicode_Join(newline_str, data);
        if (joined == NULL) {
            return -1;
        }
    }
    PyObject *name = PyUnicode_GET_LENGTH(event_type) ? event_type : message_str;
    PyObject *id = PyUnicode_GET_LENGTH(id_buffer) ? id_buffer : Py_None;
    Py_INCREF(name);
    Py_INCREF(id);
    Py_INCREF(retry);
    PyObject *items[4] = {name, joined, id, retry};
    PyObject *event = new_record(event_cls, items, 4);
    if (event == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, event);
    Py_DECREF(event);
    if (failed) {
        return -1;
    }
    return PyList_SetSlice(data, 0, lines, NULL);
}

/* After a block without data: a `block` record (id, retry) when the block changed the last
 * event ID (id is then the new one, else None) or set retry. */
static int
empty_block(PyObject *out, PyObject *block, PyObject *id_buffer, PyObject *last_id,
            PyObject *retry)
{
    int same = PyUnicode_Compare(id_buffer, last_id);
    if (same == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (same == 0 && retry == Py_None) {
        return 0;
    }
    PyObject *id = same == 0 ? Py_None : id_buffer;
    Py_INCREF(id);
    Py_INCREF(retry);
    PyObject *items[2] = {id, retry};
    PyObject *record = new_record((PyTypeObject *)block, items, 2);
    if (record == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, record);
    Py_DECREF(record);
    return failed;
}

/* A line in the general form, through the Python callback; it returns the event type, id
 * and retry buffers it leaves, and by how much it grew the data. */
static int
general_field(PyObject *field, PyObject *line, PyObject *out, PyObject **append,
              PyObject **event_type, PyObject **id_buffer, PyObject **retry,
              Py_ssize_t *data_size)
{
    if (*append == NULL) {
        *append = PyObject_GetAttrString(out, "append");
        if (*append == NULL) {
            return -1;
        }
    }
    PyObject *result = PyObject_CallFunctionObjArgs(
        field, line, *append, *event_type, *id_buffer, *retry, NULL);
    if (result == NULL) {
        return -1;
    }
    if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 4) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_TypeError, "field() must return a 4-tuple");
        return -1;
    }
    Py_ssize_t grown = PyLong_AsSsize_t(PyTuple_GET_ITEM(result, 3));
    if (grown == -1 && PyErr_Occurred()) {
        Py_DECREF(result);
        return -1;
    }
    SET_REF(*event_type, Py_NewRef(PyTuple_GET_ITEM(result, 0)));
    SET_REF(*id_buffer, Py_NewRef(PyTuple_GET_ITEM(result, 1)));
    SET_REF(*retry, Py_NewRef(PyTuple_GET_ITEM(result, 2)));
    *data_size += grown;
    Py_DECREF(result);
    return 0;
}

/* One line, text[at:at + length], that is not blank: its field applied to the buffers. */
static int
line_field(PyObject *text, Py_ssize_t at, Py_ssize_t length, PyObject *data, PyObject *out,
           PyObject *field, PyTypeObject *comment_cls, PyObject **append,
           PyObject **event_type, PyObject **id_buffer, PyObject **retry,
           Py_ssize_t *data_size, int checked, Py_ssize_t max_size, int *ids_seen,
           PyObject **trip)
{
    int kind = PyUnicode_KIND(text);
    const void *chars = PyUnicode_DATA(text);
    Py_ssize_t stop = at + length;
    if (starts_with(kind, chars, at, length, "data:", 5)) {
        Py_ssize_t start = at + (length > 5 && PyUnicode_READ(kind, chars, at + 5) == ' ' ? 6 : 5);
        if (checked) {
            /* The bound is on the joined data: a newline between lines counts. */
            *data_size += stop - start + (PyList_GET_SIZE(data) ? 1 : 0);
            if (*data_size > max_size) {
                *trip = trip_data;
                return 0;
            }
        }
        PyObject *value = PyUnicode_Substring(text, start, stop);
        if (value == NULL) {
            return -1;
        }
        int failed = PyList_Append(data, value);
        Py_DECREF(value);
        return failed;
    }
    if (starts_with(kind, chars, at, length, "id: ", 4)
        && PyUnicode_FindChar(text, 0, at, stop, 1) == -1) {
        PyObject *value = PyUnicode_Substring(text, at + 4, stop);
        if (value == NULL) {
            return -1;
        }
        SET_REF(*id_buffer, value);
        *ids_seen = 1;
        return 0;
    }
    if (starts_with(kind, chars, at, length, "event: ", 7)) {
        PyObject *value = PyUnicode_Substring(text, at + 7, stop);
        if (value == NULL) {
            return -1;
        }
        SET_REF(*event_type, value);
        return 0;
    }
    if (PyUnicode_READ(kind, chars, at) == ':') {
        PyObject *items[1] = {PyUnicode_Substring(text, at + 1, stop)};
        if (items[0] == NULL) {
            return -1;
        }
        PyObject *comment = new_record(comment_cls, items, 1);
        if (comment == NULL) {
            return -1;
        }
        int failed = PyList_Append(out, comment);
        Py_DECREF(comment);
        return failed;
    }
    PyObject *line = PyUnicode_Substring(text, at, stop);
    if (line == NULL) {
        return -1;
    }
    int failed = general_field(field, line, out, append, event_type, id_buffer, retry, data_size);
    Py_DECREF(line);
    return failed;
}

static int
is_tuple_type(PyObject *type)
{
    return PyType_Check(type) && PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type);
}

static PyObject *
bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !is_tuple_type(args[0]) || !is_tuple_type(args[1])) {
        PyErr_SetString(PyExc_TypeError, "bind() takes the Event and Comment tuple types");
        return NULL;
    }
    Py_INCREF(args[0]);
    Py_INCREF(args[1]);
    Py_XSETREF(event_cls, (PyTypeObject *)args[0]);
    Py_XSETREF(comment_cls, (PyTypeObject *)args[1]);
    Py_RETURN_NONE;
}

static PyObject *
scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 14) {
        PyErr_Format(PyExc_TypeError, "scan() takes 14 arguments (%zd given)", nargs);
        return NULL;
    }
    if (event_cls == NULL || comment_cls == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scan() before bind()");
        return NULL;
    }
    PyObject *text = args[0], *data = args[2], *field = args[12], *block = args[13];
    if (!PyUnicode_Check(text) || !PyList_CheckExact(data)) {
        PyErr_SetString(PyExc_TypeError, "scan() takes a str and a list of data");
        return NULL;
    }
    if (block != Py_None && !is_tuple_type(block)) {
        PyErr_SetString(PyExc_TypeError, "scan()'s block is None or a tuple type");
        return NULL;
    }
    for (int i = 3; i < 6; i++) {
        if (!PyUnicode_Check(args[i])) {
            PyErr_SetString(PyExc_TypeError, "scan()'s buffers are str");
            return NULL;
        }
    }
    Py_ssize_t end = PyLong_AsSsize_t(args[1]);
    Py_ssize_t blocks = PyLong_AsSsize_t(args[7]);
    Py_ssize_t data_size = PyLong_AsSsize_t(args[8]);
    int checked = PyObject_IsTrue(args[9]);
    Py_ssize_t max_line = PyLong_AsSsize_t(args[10]);
    Py_ssize_t max_size = PyLong_AsSsize_t(args[11]);
    if (PyErr_Occurred() || checked < 0) {
        return NULL;
    }
    if (end < 0 || end > PyUnicode_GET_LENGTH(text)) {
        PyErr_SetString(PyExc_ValueError, "scan()'s end is outside the text");
        return NULL;
    }

    PyObject *event_type = Py_NewRef(args[3]);
    PyObject *id_buffer = Py_NewRef(args[4]);
    PyObject *last_id = Py_NewRef(args[5]);
    PyObject *retry = Py_NewRef(args[6]);
    PyObject *append = NULL;
    PyObject *trip = Py_None;
    int ids_seen = 0;
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        goto error;
    }
    Py_ssize_t at = 0;
    while (at < end) {
        Py_ssize_t stop = PyUnicode_FindChar(text, '\n', at, end, 1);
        if (stop == -2) {
            goto error;
        }
        if (stop == -1) {  /* text[:end] ends with a newline; this cannot happen */
            stop = end;
        }
        Py_ssize_t length = stop - at;
        if (length == 0) {
            /* Blank line: dispatch the event. Step 1 sets the last event ID string even
             * when the data buffer is empty and nothing is dispatched. */
            if (block != Py_None && PyList_GET_SIZE(data) == 0
                && empty_block(out, block, id_buffer, last_id, retry) < 0) {
                goto error;
            }
            SET_REF(last_id, Py_NewRef(id_buffer));
            if (PyList_GET_SIZE(data)) {
                if (dispatch(out, data, event_type, id_buffer, retry, event_cls) < 0) {
                    goto error;
                }
                blocks = data_size = 0;
            }
            SET_REF(event_type, Py_NewRef(empty_str));
            SET_REF(retry, Py_NewRef(Py_None));
        }
        else if (checked && length > max_line) {
            trip = trip_line;
        }
        else if (line_field(text, at, length, data, out, field, comment_cls, &append,
                            &event_type, &id_buffer, &retry, &data_size, checked, max_size,
                            &ids_seen, &trip) < 0) {
            goto error;
        }
        if (trip != Py_None) {
            break;
        }
        at = stop + 1;
    }
    Py_XDECREF(append);
    /* Each N takes the reference this function holds. */
    return Py_BuildValue("(NNNNNnnON)", out, event_type, id_buffer, last_id, retry, blocks,
                         data_size, trip, PyBool_FromLong(ids_seen));

error:
    Py_XDECREF(append);
    Py_XDECREF(out);
    Py_DECREF(event_type);
    Py_DECREF(id_buffer);
    Py_DECREF(last_id);
    Py_DECREF(retry);
    return NULL;
}

/* The value of an id of 1 to MAX_DIGITS ASCII digits, else -1. */
static long long
id_number(PyObject *id)
{
    if (!PyUnicode_Check(id) || !PyUnicode_IS_ASCII(id)) {
        return -1;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(id);
    if (length == 0 || length > MAX_DIGITS) {
        return -1;
    }
    const Py_UCS1 *digits = PyUnicode_1BYTE_DATA(id);
    long long value = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            return -1;
        }
        value = value * 10 + (digits[i] - '0');
    }
    return value;
}

static PyObject *
ascending(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "ascending() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *items = args[0];
    if (!PyList_CheckExact(items) || !is_tuple_type(args[1])) {
        PyErr_SetString(PyExc_TypeError, "ascending() takes a list and a tuple type");
        return NULL;
    }
    PyTypeObject *event_cls = (PyTypeObject *)args[1];
    Py_ssize_t at = PyLong_AsSsize_t(args[2]);
    if (at == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(items);
    long long first = -1, last = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (Py_TYPE(item) != event_cls || at < 0 || at >= PyTuple_GET_SIZE(item)) {
            Py_RETURN_NONE;
        }
        long long value = id_number(PyTuple_GET_ITEM(item, at));
        if (value < 0 || (i > 0 && value <= last)) {
            Py_RETURN_NONE;
        }
        if (i == 0) {
            first = value;
        }
        last = value;
    }
    if (count == 0) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(LL)", first, last);
}

/* Record each value of a list (clamped to 0..highest) into an HdrHistogram's counts: the C
   twin of sse_cli.loadtest.hdr.record_values. The index is hdrh's counts_index_for;
   a value whose index falls outside the counts is not recorded, as hdrh's record_value.
   Returns (recorded, lowest, highest) for the caller to update the histogram's totals. */
static PyObject *
record_values(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "record_values() takes 8 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *values = args[2];
    if (!PyList_CheckExact(values)) {
        PyErr_SetString(PyExc_TypeError, "record_values() takes a list of values");
        return NULL;
    }
    long long itemsize = PyLong_AsLongLong(args[1]);
    long long counts_len = PyLong_AsLongLong(args[3]);
    long long unit = PyLong_AsLongLong(args[4]);
    long long half_magnitude = PyLong_AsLongLong(args[5]);
    long long mask = PyLong_AsLongLong(args[6]);
    long long top = PyLong_AsLongLong(args[7]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if ((itemsize != 2 && itemsize != 4 && itemsize != 8) || unit < 0 || unit > 62
        || half_magnitude < 0 || half_magnitude > 62 || mask <= 0 || top < 0) {
        PyErr_SetString(PyExc_ValueError, "record_values(): not an HdrHistogram's layout");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE) < 0) {
        return NULL;
    }
    if (view.len / itemsize < counts_len) {
        counts_len = view.len / itemsize;
    }
    long long half_count = 1LL << half_magnitude;
    long long recorded = 0, lowest = LLONG_MAX, highest = 0;
    Py_ssize_t count = PyList_GET_SIZE(values);
    for (Py_ssize_t i = 0; i < count; i++) {
        long long value = PyLong_AsLongLong(PyList_GET_ITEM(values, i));
        if (value == -1 && PyErr_Occurred()) {
            PyBuffer_Release(&view);
            return NULL;
        }
        value = value < 0 ? 0 : (value > top ? top : value);
        /* hdrh: bucket = 64 - clz(value | mask) - unit - (half_magnitude + 1) */
        long long bucket = 64 - __builtin_clzll((unsigned long long)(value | mask)) - unit
                           - (half_magnitude + 1);
        long long sub_bucket = value >> (bucket + unit);
        long long index = ((bucket + 1) << half_magnitude) + sub_bucket - half_count;
        if (index < 0 || index >= counts_len) {
            continue;
        }
        char *at = (char *)view.buf + index * itemsize;
        if (itemsize == 8) {
            (*(int64_t *)at)++;
        } else if (itemsize == 4) {
            (*(int32_t *)at)++;
        } else {
            (*(int16_t *)at)++;
        }
        recorded++;
        if (value < lowest) {
            lowest = value;
        }
        if (value > highest) {
            highest = value;
        }
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(LLL)", recorded, lowest, highest);
}

static PyMethodDef methods[] = {
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "Name the Event and Comment types scan() makes."},
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "Interpret the lines of one chunk: the C twin of sse_cli.protocol.decoder.scan_lines."},
    {"ascending", (PyCFunction)(void (*)(void))ascending, METH_FASTCALL,
     "Whether a chunk's items are events with ascending integer ids: the C twin of "
     "sse_cli.loadtest.audit.ascending."},
    {"record_values", (PyCFunction)(void (*)(void))record_values, METH_FASTCALL,
     "Record a list of values into an HdrHistogram's counts: the C twin of "
     "sse_cli.loadtest.hdr.record_values."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_speedups",
    "Hot loops in C, each the twin of a Python function that is used when this is not built.",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    message_str = PyUnicode_InternFromString("message");
    empty_str = PyUnicode_FromStringAndSize("", 0);
    newline_str = PyUnicode_FromStringAndSize("\n", 1);
    trip_line = PyUnicode_FromString("a line");
    trip_data = PyUnicode_FromString("an event's data");
    if (!message_str || !empty_str || !newline_str || !trip_line || !trip_data) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
