"""One object for each value a fetch sees many times: equal strings, and equal dicts and lists.

A decoded page holds a new object for every value, and most of a cluster repeats: the pods
of one ReplicaSet carry equal labels, owner references, tolerations, resources, probes,
environment and ports, and every pod the same projected service-account volume.  Keeping
each of those once, the first seen in this fetch, halved the state of the benchmark cluster
(docs/performance.md, "Live decode").

Containers are matched bottom-up: a dict or list is keyed by its items, with each string by
value, each other scalar by its type and value, and each container below it by the identity
of its shared copy (already settled, and kept alive by the table).  So two containers share
only when they are equal with equal types (``True`` is not ``1``, ``1.0`` is not ``1``), and
a float is keyed by its identity (``-0.0 == 0.0``), which keeps float-holding containers
apart.  The object itself and its ``metadata`` are never shared (an object is one object;
its metadata is unique), only what lies below them.

This is safe because nothing downstream changes an object after the fetch: checks are pure
functions over the state (tests/unit/test_share.py runs every check on every recorded
snapshot with shared values and compares the findings and the objects before and after).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logos_doctor.objects import Obj

Table = dict[Any, Any]


def share_values(obj: Obj, table: Table) -> None:
    """Replace each string and container below ``obj`` by the first equal one in ``table``."""
    share = table.setdefault
    md = obj.get("metadata")
    try:
        for node in (obj, md) if type(md) is dict else (obj,):
            for key, value in node.items():
                kind = type(value)
                if kind is str:
                    node[key] = share(value, value)
                elif (kind is dict or kind is list) and value is not md:
                    same = _shared(value, share)
                    if same is not value:
                        node[key] = same
    except RecursionError:  # nested deeper than any API object: left as it is
        return


def _shared(node: Any, share: Callable[[Any, Any], Any]) -> Any:
    parts: list[Any] = []
    add = parts.append
    if type(node) is dict:
        add(dict)  # no list's key starts with the dict type
        for key, value in node.items():
            kind = type(value)
            if kind is str:
                value = node[key] = share(value, value)
            elif kind is dict or kind is list:
                same = _shared(value, share)
                if same is not value:
                    node[key] = same
                value = id(same)
            elif kind is float:
                add(kind)
                value = id(value)
            else:
                add(kind)
            add(key)
            add(value)
    else:
        for i, value in enumerate(node):
            kind = type(value)
            if kind is str:
                value = node[i] = share(value, value)
            elif kind is dict or kind is list:
                same = _shared(value, share)
                if same is not value:
                    node[i] = same
                value = id(same)
            elif kind is float:
                add(kind)
                value = id(value)
            else:
                add(kind)
            add(value)
    return share(tuple(parts), node)
