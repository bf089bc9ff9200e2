"""Shared values compared exactly: the helpers of test_share.py and test_share_native.py."""

import json
from typing import Any

from logos_doctor.cluster.decode import TOP_FIELDS
from logos_doctor.cluster.fetch import _clean
from logos_doctor.cluster.kinds import KINDS


def exact(value: Any) -> str:
    """A text that tells every difference apart: types, key order, -0.0."""
    return json.dumps(value, default=repr, allow_nan=True) + repr(
        [type(v).__name__ for v in _scalars(value)]
    )


def _scalars(value: Any) -> list[Any]:
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        else:
            out.append(v)
    return out


def share_as_a_fetch(objects: dict[str, list[Any]], table: dict[Any, Any]) -> None:
    """Every object shared as a fetch shares it: each built-in kind's like the item before."""
    for plural, items in objects.items():
        before = None
        for obj in items:
            if plural in KINDS:
                _clean(KINDS[plural], obj, table, containers=True, like=before)
                before = obj if plural in TOP_FIELDS else None


def identities(value: Any) -> list[int]:
    """Which containers are one object: each container's place, numbered by first sight."""
    seen: dict[int, int] = {}
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict | list):
            out.append(seen.setdefault(id(v), len(seen)))
            stack.extend(v.values() if isinstance(v, dict) else v)
    return out
