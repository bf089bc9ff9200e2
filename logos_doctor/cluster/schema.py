"""Whether an object has the shape the Kubernetes API gives it, before any check reads it.

Objects fetched live are what the API server serialised from typed Go structs, so checks can
rely on ``spec`` being a mapping and ``containers`` a list of mappings.  A snapshot file is
different: anyone can edit it, another tool can write it, a disk can corrupt it.  Rather than
make every check defend every field, a snapshot's objects are held against the schema the
official client is generated from (each model's ``openapi_types`` and ``attribute_map``), and a
file that no API server could have produced is refused with the path of the first bad field.

The rules are the API server's own: a field is absent, ``null`` (pointer and time fields are
serialised that way), or of its declared type; list items and map values are never ``null``;
fields the schema does not know (newer API versions, our ``dataKeys``) are left alone, and
``IntOrString``-like fields (``object``) accept anything.

The same pass drops ``null`` fields (see ``without_nulls``).  Each type name is compiled once
into a closure, and the path of a bad field is assembled only when there is one, because a
large snapshot holds tens of thousands of objects: walking the schema by name for each field
cost 17 s of a 20 s load at 12,000 objects.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from logos_doctor.cluster.kinds import KINDS

Normaliser = Callable[[Any], Any]

_SCALARS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "datetime": (str,),
    "date": (str,),
    "bytes": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}
_NAMES = {
    "str": "a string",
    "datetime": "a time string",
    "date": "a date string",
    "bytes": "a base64 string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
}


class SchemaMismatch(Exception):
    """A field no API server would send; its path (``steps``) is added while it unwinds."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.steps: list[str] = []  # innermost first

    def at(self, step: str) -> SchemaMismatch:
        """Add the enclosing path step (a field name or ``[index]``) and return self."""
        self.steps.append(step)
        return self

    def __str__(self) -> str:
        path = ""
        for step in reversed(self.steps):
            path += step if step.startswith("[") or not path else f".{step}"
        return f"{path or 'the item'} {self.problem}"


# The schema, extracted from the official client's generated models by ``build_table`` and
# shipped with the package.  Reading it from the models at run time would import some 170
# pydantic model classes, 0.7 s of every snapshot load; tests/unit/test_schema_table.py holds
# the shipped table against the installed client.  Regenerate: python -m logos_doctor.cluster.schema
TABLE_FILE = "schema_table.json"


@cache
def _table() -> dict[str, dict[str, Any]]:
    text = resources.files("logos_doctor.cluster").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    table: dict[str, dict[str, Any]] = json.loads(text)
    return table


def _model_name(plural: str) -> str | None:
    name = _table()["kinds"].get(plural)
    return name if isinstance(name, str) else None


def _fields(model: str) -> dict[str, str] | None:
    fields = _table()["models"].get(model)
    return fields if isinstance(fields, dict) else None


def build_table() -> dict[str, dict[str, Any]]:
    """The schema of every kind in ``KINDS``, read from the installed client's models."""
    from kubernetes import client as k8s

    def model_name(plural: str) -> str | None:
        kind = KINDS[plural]
        version = kind.version.capitalize()
        # The core Event is CoreV1Event in the client (EventsV1Event is events.k8s.io's).
        for candidate in (f"Core{version}{kind.kind}", f"{version}{kind.kind}"):
            if hasattr(k8s, candidate):
                return candidate
        return None

    models: dict[str, dict[str, str]] = {}

    def walk(type_name: str) -> None:
        if type_name.startswith("List["):
            return walk(type_name[5:-1])
        if type_name.startswith("Dict["):
            return walk(type_name[type_name.index(",") + 1 : -1].strip())
        if type_name in _SCALARS or type_name == "object" or type_name in models:
            return
        cls = getattr(k8s, type_name, None)
        types = getattr(cls, "openapi_types", None)
        names = getattr(cls, "attribute_map", None)
        if not isinstance(types, dict) or not isinstance(names, dict):
            return
        models[type_name] = {names[a]: t for a, t in sorted(types.items()) if a in names}
        for field_type in models[type_name].values():
            walk(field_type)

    kinds = {plural: name for plural in sorted(KINDS) if (name := model_name(plural))}
    for name in kinds.values():
        walk(name)
    return {"kinds": kinds, "models": dict(sorted(models.items()))}


def normalise(plural: str, obj: Any) -> dict[str, Any]:
    """``obj`` (an item of kind ``plural``) without ``null`` fields; raises SchemaMismatch."""
    if not isinstance(obj, dict):
        raise SchemaMismatch("must be an object")
    model = _model_name(plural) if plural in KINDS else None
    result: dict[str, Any] = (_compiled(model) if model else without_nulls)(obj)
    return result


def mismatch(plural: str, obj: Any) -> str | None:
    """The first field of ``obj`` (an item of kind ``plural``) whose type is wrong, or None."""
    try:
        normalise(plural, obj)
    except SchemaMismatch as exc:
        return str(exc)
    return None


@cache
def _compiled(type_name: str) -> Normaliser:
    """The normaliser of a non-null value of ``type_name``; cached, so recursion ends."""
    if type_name == "object":
        return without_nulls
    scalar = _SCALARS.get(type_name)
    if scalar is not None:
        return _scalar(scalar, type_name)
    if type_name.startswith("List["):
        return _list(type_name[5:-1])
    if type_name.startswith("Dict["):
        return _dict(type_name[type_name.index(",") + 1 : -1].strip())
    if _fields(type_name) is None:
        return without_nulls  # a type the client does not describe: nothing to hold it against
    return _model(type_name)


def _scalar(types: tuple[type, ...], type_name: str) -> Normaliser:
    numeric = type_name in ("int", "float")
    problem = f"must be {_NAMES[type_name]}"

    def check(value: Any) -> Any:
        if not isinstance(value, types) or (numeric and isinstance(value, bool)):
            raise SchemaMismatch(problem)
        return value

    return check


def _list(inner_name: str) -> Normaliser:
    inner: Normaliser | None = None

    def check(value: Any) -> Any:
        nonlocal inner
        if not isinstance(value, list):
            raise SchemaMismatch("must be a list")
        if inner is None:
            inner = _compiled(inner_name)
        out = []
        for i, item in enumerate(value):
            if item is None:
                raise SchemaMismatch("must not be null").at(f"[{i}]")
            try:
                out.append(inner(item))
            except SchemaMismatch as exc:
                raise exc.at(f"[{i}]") from None
        return out

    return check


def _dict(inner_name: str) -> Normaliser:
    inner: Normaliser | None = None

    def check(value: Any) -> Any:
        nonlocal inner
        if not isinstance(value, dict):
            raise SchemaMismatch("must be a mapping")
        if inner is None:
            inner = _compiled(inner_name)
        out = {}
        for key, item in value.items():
            if item is None:
                raise SchemaMismatch("must not be null").at(f"[{key!r}]")
            try:
                out[key] = inner(item)
            except SchemaMismatch as exc:
                raise exc.at(f"[{key!r}]") from None
        return out

    return check


def _model(model: str) -> Normaliser:
    # Most fields are strings: those are checked inline, without a call per field.
    strings: frozenset[str] | None = None
    fields: dict[str, Normaliser] = {}

    def check(value: Any) -> Any:
        nonlocal strings
        if not isinstance(value, dict):
            raise SchemaMismatch("must be an object")
        if strings is None:  # compiled on first use: models refer to each other
            types = _fields(model) or {}
            fields.update((key, _compiled(t)) for key, t in types.items() if t != "str")
            strings = frozenset(key for key, t in types.items() if t == "str")
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            if key in strings:
                if not isinstance(item, str):
                    raise SchemaMismatch("must be a string").at(key)
                out[key] = item
                continue
            field = fields.get(key)
            if field is None:  # a field the schema does not know
                out[key] = without_nulls(item) if isinstance(item, (dict, list)) else item
                continue
            try:
                out[key] = field(item)
            except SchemaMismatch as exc:
                raise exc.at(key) from None
        return out

    return check


def without_nulls(value: Any) -> Any:
    """``value`` with every ``null`` field removed, recursively.

    In the API, a ``null`` field and an absent one mean the same (unset), but to a check
    ``spec.get("template", {})`` they do not: the default applies only to the absent one.  A
    snapshot, which anyone may have edited, is normalised to the absent form once, here.
    """
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


if __name__ == "__main__":
    out = Path(__file__).with_name(TABLE_FILE)
    out.write_text(json.dumps(build_table(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
