/* The sharing walk of cluster/share.py, in C: the same objects, shared the same way.
 *
 * share.py's docstring says what is shared and why, and its walk (_top, _shared,
 * share_values) is the definition; this is that walk step for step, without the
 * interpreter's loop over every value, which was most of a fetch's own CPU
 * (docs/performance.md, "Live: the sharing walk in C").  Each container is filed under the
 * hash of the very tuple share.py hashes, so the table holds what share.py would have put in
 * it: tests/unit/test_share_native.py requires the same objects, shared alike, and the same
 * table, on every recorded snapshot and on generated JSON.  Built when the install can
 * compile it (pyproject.toml marks it optional); share.py uses its own walk otherwise.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The interface share.py calls; bumped with it (share.py's NATIVE_VERSION).  A module built
 * before this file last changed is ignored too (share.py compares the two files' times). */
#define SHARE_VERSION 2

static PyObject *shared(PyObject *node, PyObject *table, PyObject *like);

/* Made once at import, not once per object: the key "metadata", and the ``own`` of an
 * object's top level (none of its strings is its own). */
static PyObject *METADATA, *NO_KEYS;

/* table.setdefault(key, value), a new reference (a dict subclass's own setdefault, if it
 * has one: tests count the lookups). */
static PyObject *
setdefault(PyObject *table, PyObject *key, PyObject *value)
{
    if (!PyDict_CheckExact(table))
        return PyObject_CallMethod(table, "setdefault", "OO", key, value);
    PyObject *got = PyDict_SetDefault(table, key, value);
    Py_XINCREF(got);
    return got;
}

/* ``like`` if it is of exactly ``kind``, else NULL (borrowed). */
static PyObject *
same_kind(PyObject *like, PyTypeObject *kind)
{
    return (like != NULL && Py_IS_TYPE(like, kind)) ? like : NULL;
}

/* node[key] = new in place of ``old`` (a dict's key, or a list's index); the caller holds a
 * reference to ``old`` of its own. */
static int
replace(PyObject *node, PyObject *key, Py_ssize_t index, int is_dict, PyObject *old,
        PyObject *new)
{
    if (new == old)
        return 0;
    if (is_dict)
        return PyDict_SetItem(node, key, new);
    Py_INCREF(new);
    PyList_SET_ITEM(node, index, new);
    Py_DECREF(old); /* the list's reference to it */
    return 0;
}

/* One child of a container, shared: strings filed, containers walked (``other``: the
 * child's counterpart in the item before, or NULL).  Clears *plain for anything but a string
 * or None.  Returns -1 on an error. */
static int
share_child(PyObject *node, PyObject *key, Py_ssize_t index, PyObject *value, int is_dict,
            PyObject *table, PyObject *other, int *plain)
{
    PyTypeObject *kind = Py_TYPE(value);
    PyObject *kept;
    if (kind == &PyUnicode_Type) {
        kept = setdefault(table, value, value);
    } else if (value == Py_None) {
        return 0;
    } else {
        *plain = 0;
        if (kind != &PyDict_Type && kind != &PyList_Type)
            return 0;
        kept = shared(value, table, same_kind(other, kind));
    }
    if (kept == NULL)
        return -1;
    int rc = replace(node, key, index, is_dict, value, kept);
    Py_DECREF(kept);
    return rc;
}

/* share_child for an entry of a dict met by PyDict_Next: its key, value and counterpart are
 * borrowed, so they are held while the value is replaced. */
static int
share_entry(PyObject *node, PyObject *key, PyObject *value, PyObject *table, PyObject *other,
            int *plain)
{
    Py_INCREF(key);
    Py_INCREF(value);
    Py_XINCREF(other);
    int rc = share_child(node, key, 0, value, 1, table, other, plain);
    Py_XDECREF(other);
    Py_DECREF(value);
    Py_DECREF(key);
    return rc;
}

/* The key share.py files a container under: its hash, as a Python int. */
static PyObject *
filed_key(PyObject *node, int is_dict, int plain)
{
    Py_ssize_t n = is_dict ? PyDict_GET_SIZE(node) : PyList_GET_SIZE(node);
    PyObject *parts;
    if (plain) { /* (dict, *keys, *values) or (list, *items) */
        parts = PyTuple_New(1 + (is_dict ? 2 * n : n));
        if (parts == NULL)
            return NULL;
        PyObject *head = (PyObject *)(is_dict ? &PyDict_Type : &PyList_Type);
        Py_INCREF(head);
        PyTuple_SET_ITEM(parts, 0, head);
        if (is_dict) {
            Py_ssize_t pos = 0, i = 0;
            PyObject *k, *v;
            while (PyDict_Next(node, &pos, &k, &v)) {
                Py_INCREF(k);
                PyTuple_SET_ITEM(parts, 1 + i, k);
                Py_INCREF(v);
                PyTuple_SET_ITEM(parts, 1 + n + i, v);
                i++;
            }
        } else {
            for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *v = PyList_GET_ITEM(node, i);
                Py_INCREF(v);
                PyTuple_SET_ITEM(parts, 1 + i, v);
            }
        }
    } else { /* a flat list of the items, each with its type or identity */
        PyObject *flat = PyList_New(0);
        if (flat == NULL)
            return NULL;
        if (is_dict && PyList_Append(flat, (PyObject *)&PyDict_Type) < 0)
            goto fail;
        Py_ssize_t pos = 0, i = 0;
        PyObject *k = NULL, *v = NULL;
        for (;;) {
            if (is_dict) {
                if (!PyDict_Next(node, &pos, &k, &v))
                    break;
            } else {
                if (i >= PyList_GET_SIZE(node))
                    break;
                v = PyList_GET_ITEM(node, i);
            }
            i++;
            PyTypeObject *kind = Py_TYPE(v);
            PyObject *value = v, *ident = NULL;
            if (kind == &PyDict_Type || kind == &PyList_Type) {
                value = ident = PyLong_FromVoidPtr(v); /* already the shared one */
            } else if (kind != &PyUnicode_Type) {
                if (PyList_Append(flat, (PyObject *)kind) < 0)
                    goto fail;
                if (kind == &PyFloat_Type)
                    value = ident = PyLong_FromVoidPtr(v);
            }
            if (value == NULL)
                goto fail;
            int rc = (is_dict ? PyList_Append(flat, k) : 0);
            if (rc == 0)
                rc = PyList_Append(flat, value);
            Py_XDECREF(ident);
            if (rc < 0)
                goto fail;
        }
        parts = PyList_AsTuple(flat);
        Py_DECREF(flat);
        if (parts == NULL)
            return NULL;
        goto hashed;
    fail:
        Py_DECREF(flat);
        return NULL;
    }
hashed:;
    Py_hash_t h = PyObject_Hash(parts);
    Py_DECREF(parts);
    if (h == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromSsize_t(h);
}

/* share.py's _shared: ``node`` with its values shared, or the equal one filed before; a new
 * reference. */
static PyObject *
shared(PyObject *node, PyObject *table, PyObject *like)
{
    if (like != NULL) {
        int eq = PyObject_RichCompareBool(node, like, Py_EQ);
        if (eq < 0)
            return NULL;
        if (eq) { /* the same part of the item before: shared already */
            Py_INCREF(like);
            return like;
        }
    }
    if (Py_EnterRecursiveCall(" while sharing values"))
        return NULL;
    int is_dict = Py_IS_TYPE(node, &PyDict_Type);
    int plain = 1;
    if (is_dict) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(node, &pos, &k, &v)) {
            /* Setting a key's value keeps the dict's layout: iteration goes on. */
            PyObject *other = NULL;
            if (like != NULL && (PyDict_CheckExact(v) || PyList_CheckExact(v))) {
                other = PyDict_GetItemWithError(like, k);
                if (other == NULL && PyErr_Occurred())
                    goto fail;
            }
            if (share_entry(node, k, v, table, other, &plain) < 0)
                goto fail;
        }
    } else {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(node); i++) {
            PyObject *v = PyList_GET_ITEM(node, i);
            PyObject *other = NULL;
            if (like != NULL && i < PyList_GET_SIZE(like) &&
                (PyDict_CheckExact(v) || PyList_CheckExact(v)))
                other = PyList_GET_ITEM(like, i);
            Py_INCREF(v);
            Py_XINCREF(other);
            int rc = share_child(node, NULL, i, v, 0, table, other, &plain);
            Py_XDECREF(other);
            Py_DECREF(v);
            if (rc < 0)
                goto fail;
        }
    }
    Py_LeaveRecursiveCall();
    PyObject *filed = filed_key(node, is_dict, plain);
    if (filed == NULL)
        return NULL;
    PyObject *first = setdefault(table, filed, node);
    Py_DECREF(filed);
    if (first == NULL)
        return NULL;
    if (first != node) {
        int eq = PyObject_RichCompareBool(first, node, Py_EQ);
        if (eq <= 0) { /* an unequal one holds the hash: this one is kept apart */
            Py_DECREF(first);
            if (eq < 0)
                return NULL;
            Py_INCREF(node);
            return node;
        }
    }
    return first;
fail:
    Py_LeaveRecursiveCall();
    return NULL;
}

/* share.py's _top: the values of an object or of its metadata, which are never shared
 * themselves; strings whose key is in ``own`` are left unfiled, and ``md`` is not walked.
 * Each child otherwise as share_child shares it (whether the node is "plain" is not asked:
 * an object or its metadata is never filed). */
static int
top(PyObject *node, PyObject *table, PyObject *md, PyObject *own, PyObject *like)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    int plain = 1;
    while (PyDict_Next(node, &pos, &k, &v)) {
        PyTypeObject *kind = Py_TYPE(v);
        PyObject *other = NULL;
        if (kind == &PyUnicode_Type) {
            int mine = PySequence_Contains(own, k);
            if (mine < 0)
                return -1;
            if (mine)
                continue;
        } else if ((kind == &PyDict_Type || kind == &PyList_Type) && v != md) {
            if (like != NULL) {
                other = PyDict_GetItemWithError(like, k);
                if (other == NULL && PyErr_Occurred())
                    return -1;
            }
        } else {
            continue;
        }
        if (share_entry(node, k, v, table, other, &plain) < 0)
            return -1;
    }
    return 0;
}

static PyObject *
share_values(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *obj, *table, *own, *like = Py_None;
    if (!PyArg_ParseTuple(args, "O!O!O|O:share_values", &PyDict_Type, &obj, &PyDict_Type,
                          &table, &own, &like))
        return NULL;
    if (like != Py_None && !PyDict_Check(like)) {
        PyErr_SetString(PyExc_TypeError, "like must be a dict or None");
        return NULL;
    }
    PyObject *like_dict = like == Py_None ? NULL : like;
    PyObject *key = METADATA, *empty = NO_KEYS;
    PyObject *md = PyDict_GetItemWithError(obj, key);
    PyObject *like_md = NULL;
    int rc = (md == NULL && PyErr_Occurred()) ? -1 : 0;
    Py_XINCREF(md);
    if (rc == 0 && like_dict != NULL) {
        like_md = PyDict_GetItemWithError(like_dict, key);
        if (like_md == NULL && PyErr_Occurred())
            rc = -1;
        like_md = same_kind(like_md, &PyDict_Type);
        Py_XINCREF(like_md);
    }
    if (rc == 0)
        rc = top(obj, table, md, empty, like_dict);
    if (rc == 0 && md != NULL && Py_IS_TYPE(md, &PyDict_Type))
        rc = top(md, table, md, own, like_md);
    Py_XDECREF(like_md);
    Py_XDECREF(md);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"share_values", share_values, METH_VARARGS,
     "share_values(obj, table, own, like=None): cluster/share.py's walk, in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_share", "cluster/share.py's sharing walk, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__share(void)
{
    if (METADATA == NULL && (METADATA = PyUnicode_InternFromString("metadata")) == NULL)
        return NULL;
    if (NO_KEYS == NULL && (NO_KEYS = PyTuple_New(0)) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", SHARE_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
