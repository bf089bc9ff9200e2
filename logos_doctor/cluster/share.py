"""One object for each value a fetch sees many times: equal strings, and equal dicts and lists.

A decoded page holds a new object for every value, and most of a cluster repeats: the pods
of one ReplicaSet carry equal labels, owner references, tolerations, resources, probes,
environment and ports, and every pod the same projected service-account volume.  Keeping
each of those once, the first seen in this fetch, cut the peak memory of a fetch of the
benchmark cluster by a third (docs/performance.md, "Live decode").

Containers are matched bottom-up, by a key that two containers have in common only when they
are equal, with equal types and key order.  A dict or list of strings and nulls only (most
of them) is keyed by its type, then its keys, then its values, as they are (one tuple, built
in C).  Any other by a flat list of its items (a dict's led by its type): each string as it
is, each other scalar after its type (``True`` is not ``1``, ``1.0`` is not ``1``), a float
by its identity (``-0.0 == 0.0``, so float-holding containers stay apart), and each
container below by the identity of its shared copy (already settled, and kept alive by the
table).  The two forms cannot meet: the second always holds a type or an identity, the
first never does.  The object itself and its ``metadata`` are never shared (an object is
one object; its metadata is unique), only what lies below them.

The table keeps the key's hash, not the key: at scale 1 of the benchmark the 217,000 key
tuples were 24 MiB of a fetch's peak, and most were never matched again.  A container then
takes the one filed under its key's hash when the two are equal (``==``, in C: the shared
children compare by identity).  Equal with the same hash and yet not the same key would take
two containers that differ only in a scalar's type or in key order and whose keys' 64-bit
hashes collide; otherwise a container whose hash is taken by an unequal one is kept as it is.

Most of that walk finds what the object before it already had: the pods of one ReplicaSet
sit side by side in a LIST (it is sorted by namespace and name) and differ in a few
strings (name, uid, node, addresses, times) and in what holds them.  So a fetch passes the
previous item of the same LIST as ``like``: a container equal (``==``, in C) to its
counterpart there (the same key, or the same index) is that counterpart, already shared,
and is not walked; one that differs is walked as before, its children compared with their
counterparts in turn.  The same objects come out as from the walk, but where an unequal
container holds a hash: the walk then keeps each equal container apart, this takes the one
before.  ``==`` does not tell ``True`` from ``1``, ``1`` from ``1.0``, or key orders apart,
so ``like`` is only for the API server's own kinds: it writes each of them from a Go
struct, so a field has one JSON type wherever it appears, and map keys are written sorted.
A custom resource's fields are whatever its author wrote and are always walked.  Pods of
the benchmark cluster: 1.22 -> 0.87 s of CPU at scale 1 (docs/performance.md, "Live:
shared like the item before").

The walk runs in C where the install could build ``_share.c`` (``NATIVE``): the same
objects, shared alike (tests/unit/test_share_native.py holds it on every recorded snapshot
and on generated JSON), for about half the CPU, since in Python the loop over every value
was most of a fetch's own work (docs/performance.md, "Live: the sharing walk in C").
``LOGOS_DOCTOR_NO_NATIVE=1`` runs the Python walk instead (to compare).

This is safe because nothing downstream changes an object after the fetch: checks are pure
functions over the state (tests/unit/test_share.py runs every check on every recorded
snapshot with shared values and compares the findings and the objects before and after).
Code that changes a copy of an object must not make it with ``copy.deepcopy``, which keeps
the sharing inside the copy (fix/templates.py copies without it, and says why).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from logos_doctor.objects import Obj

Table = dict[Any, Any]


# An object's own strings that no other value equals, left out of the table (they are kept,
# just not filed): every object's resourceVersion, and an event's name and uid, since nothing
# refers to an event.  At scale 1 of the benchmark they were 119,000 of the table's 451,000
# entries, and none was ever matched; the rest keep a table half the size (docs/performance.md,
# "Live: large blocks mapped, a smaller table, and what no check reads").
OWN = ("resourceVersion",)
OWN_BY_KIND = {"events": ("name", "uid", "resourceVersion")}


def share_values(
    obj: Obj, table: Table, own: tuple[str, ...] = OWN, like: Obj | None = None
) -> None:
    """Replace each string and container below ``obj`` by the first equal one in ``table``;
    the strings of ``metadata`` named in ``own`` are left as they are, unfiled.  ``like``: an
    object of the same built-in kind shared before (see above), whose equal parts are taken
    without a walk.  The walk in C when it was built (``_share.c``), else in Python."""
    if NATIVE is None:
        walk(obj, table, own, like)
        return
    try:
        NATIVE(obj, table, own, like)
    except RecursionError:  # nested deeper than any API object: left as it is
        return


def walk(obj: Obj, table: Table, own: tuple[str, ...] = OWN, like: Obj | None = None) -> None:
    """``share_values`` in Python: what ``_share.c`` does, and what runs where it was not
    built (the install had no compiler)."""
    share = table.setdefault
    md = obj.get("metadata")
    like_md = like.get("metadata") if like is not None else None
    try:
        _top(obj, share, md, (), like)
        if type(md) is dict:
            _top(md, share, md, own, like_md if type(like_md) is dict else None)
    except RecursionError:  # nested deeper than any API object: left as it is
        return


def _top(
    node: Obj, share: Callable[[Any, Any], Any], md: Any, own: tuple[str, ...], like: Obj | None
) -> None:
    for key, value in node.items():
        kind = type(value)
        if kind is str:
            if key not in own:
                node[key] = share(value, value)
        elif (kind is dict or kind is list) and value is not md:
            other = like.get(key) if like is not None else None
            same = _shared(value, share, other if type(other) is kind else None)
            if same is not value:
                node[key] = same


def _shared(node: Any, share: Callable[[Any, Any], Any], like: Any = None) -> Any:
    if like is not None and node == like:
        return like  # the same part of the item before: shared already
    # Two passes: the first shares the strings and settles the containers below; a node of
    # strings (and nulls) only, the most common kind, is then keyed by its items as they
    # are, in C; any other by a flat list of its items with the types and identities added.
    # A dict's items are (key, value); a list's (index, value), and only a dict's keys count.
    is_dict = type(node) is dict
    plain = True
    for key, value in node.items() if is_dict else enumerate(node):
        kind = type(value)
        if kind is str:
            node[key] = share(value, value)
        elif value is not None:
            plain = False
            if kind is dict or kind is list:
                other = None
                if like is not None:
                    other = like.get(key) if is_dict else like[key] if key < len(like) else None
                    if type(other) is not kind:
                        other = None
                same = _shared(value, share, other)
                if same is not value:
                    node[key] = same
    if plain:  # type, keys, values: one flat tuple, no pair per item
        filed = hash((dict, *node, *node.values()) if is_dict else (list, *node))
    else:
        parts: list[Any] = [dict] if is_dict else []
        add = parts.append
        for key, value in node.items() if is_dict else enumerate(node):
            kind = type(value)
            if kind is dict or kind is list:
                value = id(value)  # already the shared one
            elif kind is not str:
                add(kind)
                if kind is float:
                    value = id(value)
            if is_dict:
                add(key)
            add(value)
        filed = hash(tuple(parts))
    # The container filed under this hash if it equals this one; else this one (filed now,
    # or kept apart when an unequal one holds the hash).
    first = share(filed, node)
    return first if first is node or first == node else node


def _native() -> Callable[[Obj, Table, tuple[str, ...], Obj | None], None] | None:
    """``_share.c``'s walk, if it was built, and built from the source beside it."""
    try:
        from logos_doctor.cluster import _share  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(_share, "VERSION", None) != NATIVE_VERSION:
        return None  # built for another share.py
    # In a source tree (an editable install), a _share.c changed since the build is not
    # what the built module does: an editable install rebuilds only when reinstalled.
    source = Path(__file__).with_name("_share.c")
    built = Path(str(_share.__file__))
    with contextlib.suppress(OSError):
        if source.stat().st_mtime > built.stat().st_mtime:
            return None
    return cast(Callable[[Obj, Table, tuple[str, ...], Obj | None], None], _share.share_values)


# The version of _share.c's interface this module calls (its SHARE_VERSION).
NATIVE_VERSION = 2
NATIVE = None if os.environ.get("LOGOS_DOCTOR_NO_NATIVE") else _native()
