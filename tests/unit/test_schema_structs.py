"""The table's Structs (``schema_structs``) give ``schema.normalise``'s answer or none.

A snapshot item the Structs accept must be exactly the object ``normalise`` makes of it;
an item ``normalise`` refuses must not be accepted.  Held on every item of every recorded
snapshot, and on each of them changed one value at a time into each shape a damaged or
foreign file can hold there (null, another type, a field no schema knows, a repeated key).
The recordings are also held to being read mostly the fast way, since refusing everything
would be correct and worthless.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from logos_doctor.cluster.kinds import KINDS
from logos_doctor.cluster.redact import REDACT
from logos_doctor.cluster.schema import SchemaMismatch, normalise
from logos_doctor.cluster.schema_structs import checked, decoder
from tests.recorded import SNAPSHOTS

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))
# What a file can hold where an API server would put something else.
SHAPES: list[Any] = [None, True, False, 0, -3, 2**70, 1.5, "", "x", {}, [], [None], {"k": None}]


def items(name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    with gzip.open(SNAPSHOTS / f"{name}.json.gz") as fh:
        doc = json.load(fh)
    for plural, objs in doc["objects"].items():
        if plural in KINDS and decoder(plural) is not None:
            for obj in objs:
                yield plural, obj


def verdict(plural: str, text: bytes) -> tuple[str, Any]:
    """normalise's answer for the item in ``text``: ("ok", object) or ("refused", why)."""
    try:
        return "ok", normalise(plural, json.loads(text))
    except SchemaMismatch as exc:
        return "refused", str(exc)


def fast(plural: str, text: bytes) -> dict[str, Any] | None:
    decode = decoder(plural)
    assert decode is not None
    return checked(decode, msgspec.Raw(text))


def agrees(plural: str, text: bytes) -> bool:
    got = fast(plural, text)
    kind, expected = verdict(plural, text)
    if got is None:
        return True  # left to normalise, which gives its own answer
    return kind == "ok" and got == expected and _no_null(got)


def _no_null(value: Any) -> bool:
    if isinstance(value, dict):
        return all(v is not None and _no_null(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_null(v) for v in value)
    return True


@pytest.mark.parametrize("name", NAMES)
def test_every_recorded_item_is_normalises_object(name: str) -> None:
    accepted = total = 0
    for plural, obj in items(name):
        text = json.dumps(obj).encode()
        got = fast(plural, text)
        if plural not in REDACT:  # read from dicts by the loader (stripped of their values)
            total += 1
            accepted += got is not None
        if got is not None:
            assert got == normalise(plural, obj), (plural, obj.get("metadata", {}).get("name"))
    # The API server's own objects are read the fast way (what is not: a newer server's field).
    assert accepted >= 0.9 * total, (accepted, total)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    out = list(value)
    out[head] = _replaced(value[head], rest, new)
    return out


def _samples() -> list[tuple[str, dict[str, Any]]]:
    """One item of each kind with a model, from the richest recordings."""
    found: dict[str, dict[str, Any]] = {}
    for name in (
        "edge_healthy",
        "storage_class_missing",
        "gpu_label_missing",
        "hpa_target_missing",
    ):
        for plural, obj in items(name):  # a recording gone is an error, not a smaller sample
            found.setdefault(plural, obj)
    return sorted(found.items())


@pytest.mark.parametrize(
    ("plural", "obj"), _samples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_value_damaged_is_refused_or_read_alike(plural: str, obj: dict[str, Any]) -> None:
    changed = 0
    for path in _paths(obj):
        here = _at(obj, path)
        extra = [{**here, "zz": 1}, {**here, "zz": None}] if isinstance(here, dict) else []
        for shape in [*SHAPES, *extra]:
            text = json.dumps(_replaced(obj, path, shape)).encode()
            assert agrees(plural, text), (plural, path, shape)
            changed += 1
    assert changed > 50


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@pytest.mark.parametrize(
    ("plural", "obj"), _samples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_unknown_fields_and_repeated_keys(plural: str, obj: dict[str, Any]) -> None:
    body = json.dumps(obj)
    assert body.startswith("{")
    for extra in ('"unknownField": 1, ', '"unknownField": null, ', '"metadata": null, '):
        assert agrees(plural, ("{" + extra + body[1:]).encode())
    # A repeated key: the last one counts, as in a dict; a null last one drops the field.
    assert agrees(plural, (body[:-1] + ', "metadata": {"name": "again"}}').encode())
    assert agrees(plural, (body[:-1] + ', "spec": null}').encode())
    assert fast(plural, b'{"metadata": null}') is None  # loader refuses it: not accepted here
    assert fast(plural, b"[]") is None and fast(plural, b"{") is None
