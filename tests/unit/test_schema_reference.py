"""The compiled snapshot validator behaves as the schema says, field by field.

``logos_doctor.cluster.schema`` compiles each type once into a closure with fast paths
(scalar fields checked inline, containers copied only where a ``null`` is dropped).  Here a
plain interpreter of the same shipped table, written for clarity and not speed, is the
reference: on every recorded object, and on recorded objects with one field replaced by a
``null``, a wrong type or a container holding ``null``, both must accept the same objects
with the same result and refuse the same ones with the same message.
"""

from __future__ import annotations

import copy
import gzip
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logos_doctor.cluster import schema
from logos_doctor.cluster.kinds import KINDS

REPO = Path(__file__).resolve().parents[2]
SCALARS = {
    "str": ((str,), "a string"),
    "datetime": ((str,), "a time string"),
    "date": ((str,), "a date string"),
    "bytes": ((str,), "a base64 string"),
    "int": ((int,), "an integer"),
    "float": ((int, float), "a number"),
    "bool": ((bool,), "true or false"),
}


class Refused(Exception):
    def __init__(self, path: list[str], problem: str) -> None:
        text = ""
        for step in path:
            text += step if step.startswith("[") or not text else f".{step}"
        super().__init__(f"{text or 'the item'} {problem}")


@cache
def table() -> dict[str, Any]:
    text = resources.files("logos_doctor.cluster").joinpath(schema.TABLE_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def reference(type_name: str, value: Any, path: list[str]) -> Any:
    """The normalised non-null ``value`` of ``type_name``, or Refused."""
    if type_name in SCALARS:
        types, what = SCALARS[type_name]
        numeric = type_name in ("int", "float")
        if not isinstance(value, types) or (numeric and isinstance(value, bool)):
            raise Refused(path, f"must be {what}")
        return value
    if type_name.startswith("List["):
        if not isinstance(value, list):
            raise Refused(path, "must be a list")
        out = []
        for i, item in enumerate(value):
            if item is None:
                raise Refused([*path, f"[{i}]"], "must not be null")
            out.append(reference(type_name[5:-1], item, [*path, f"[{i}]"]))
        return out
    if type_name.startswith("Dict["):
        if not isinstance(value, dict):
            raise Refused(path, "must be a mapping")
        inner = type_name[type_name.index(",") + 1 : -1].strip()
        mapped = {}
        for key, item in value.items():
            if item is None:
                raise Refused([*path, f"[{key!r}]"], "must not be null")
            mapped[key] = reference(inner, item, [*path, f"[{key!r}]"])
        return mapped
    fields = table()["models"].get(type_name)
    if type_name == "object" or fields is None:
        return strip(value)
    if not isinstance(value, dict):
        raise Refused(path, "must be an object")
    result = {}
    for key, item in value.items():
        if item is None:
            continue
        if key in fields:
            result[key] = reference(fields[key], item, [*path, key])
        else:
            result[key] = strip(item)
    return result


def verdict_of_reference(plural: str, obj: Any) -> tuple[str, Any]:
    if not isinstance(obj, dict):
        return "refused", "the item must be an object"
    model = table()["kinds"].get(plural)
    try:
        return "ok", reference(model, obj, []) if model else strip(obj)
    except Refused as exc:
        return "refused", str(exc)


def verdict_of_schema(plural: str, obj: Any) -> tuple[str, Any]:
    try:
        return "ok", schema.normalise(plural, obj)
    except schema.SchemaMismatch as exc:
        return "refused", str(exc)


@cache
def recorded() -> list[tuple[str, dict[str, Any]]]:
    """A few objects of every kind from the recorded snapshots and the example."""
    files = sorted((REPO / "tests/fixtures/snapshots").glob("*.json.gz"))
    files.append(REPO / "examples/broken-logos.json.gz")
    found: dict[str, list[dict[str, Any]]] = {}
    for path in files:
        with gzip.open(path) as fh:
            doc = json.load(fh)
        for plural, items in doc["objects"].items():
            if plural in KINDS:
                found.setdefault(plural, []).extend(items[:3])
    return [(plural, obj) for plural, items in sorted(found.items()) for obj in items[:40]]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


REPLACEMENTS = [
    None,
    0,
    7,
    True,
    False,
    1.5,
    "",
    "x",
    [],
    {},
    [None],
    {"k": None},
    ["s"],
    {"k": "v"},
    {"k": 1},
    [1],
    [{"a": None, "b": "c"}],
    {"a": {"b": None}},
]


def test_every_recorded_object_gets_the_same_verdict() -> None:
    objects = recorded()
    assert len({plural for plural, _ in objects}) >= 15
    for plural, obj in objects:
        before = copy.deepcopy(obj)
        assert verdict_of_schema(plural, obj) == verdict_of_reference(plural, obj), plural
        assert obj == before  # the input is never changed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_damaged_object_gets_the_same_verdict(data: st.DataObject) -> None:
    plural, original = data.draw(st.sampled_from(recorded()))
    obj = copy.deepcopy(original)
    for _ in range(data.draw(st.integers(1, 3))):
        where = paths(obj)
        if not where:
            break
        path = data.draw(st.sampled_from(where))
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(REPLACEMENTS)))
    before = copy.deepcopy(obj)
    assert verdict_of_schema(plural, obj) == verdict_of_reference(plural, obj)
    assert obj == before


def test_not_an_object_and_unknown_kinds() -> None:
    for value in (None, [], "pod", 3):
        assert verdict_of_schema("pods", value) == verdict_of_reference("pods", value)
    odd = {"metadata": {"name": "x", "labels": None}, "spec": [None, {"a": None}]}
    assert verdict_of_schema("no-such-kind", odd) == ("ok", strip(odd))


def test_every_field_of_one_object_per_kind_damaged_in_turn() -> None:
    firsts: dict[str, dict[str, Any]] = {}
    for plural, obj in recorded():
        firsts.setdefault(plural, obj)
    checked = 0
    for plural, original in firsts.items():
        for path in paths(original):
            for value in (None, True, 1, "x", [None], {"k": None}):
                obj = copy.deepcopy(original)
                parent = obj
                for step in path[:-1]:
                    parent = parent[step]
                parent[path[-1]] = copy.deepcopy(value)
                assert verdict_of_schema(plural, obj) == verdict_of_reference(plural, obj)
                checked += 1
    assert checked > 1000
