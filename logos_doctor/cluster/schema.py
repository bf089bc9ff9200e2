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

One module on purpose (~350 lines): the table, the compiled normalisers and the null-dropping
pass are one walk over one schema; split, each would need the others' private closures.
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


def model_name(plural: str) -> str | None:
    """The client's model of kind ``plural`` (``V1Pod``), if the table has one."""
    name = _table()["kinds"].get(plural)
    return name if isinstance(name, str) else None


def model_fields(model: str) -> dict[str, str] | None:
    """Each field of ``model`` and its type name (``List[V1Container]``), if described."""
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
    model = model_name(plural) if plural in KINDS else None
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
    if model_fields(type_name) is None:
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


# Every normaliser returns its argument itself when nothing in it changes (no ``null`` to
# drop anywhere below), and a copy only of the containers that do change.  A snapshot read
# from JSON rarely holds a ``null``, so loading allocates almost nothing here: copying every
# mapping and list cost 60% of the schema pass and doubled the memory while it ran.


def _list(inner_name: str) -> Normaliser:
    inner: Normaliser | None = None
    scalar = _SCALARS.get(inner_name)
    numeric = inner_name in ("int", "float")

    def check(value: Any) -> Any:
        nonlocal inner
        if not isinstance(value, list):
            raise SchemaMismatch("must be a list")
        if scalar is not None:  # List[str] and the like: no call per item
            for i, item in enumerate(value):
                if not isinstance(item, scalar) or (numeric and isinstance(item, bool)):
                    if item is None:
                        raise SchemaMismatch("must not be null").at(f"[{i}]")
                    raise SchemaMismatch(f"must be {_NAMES[inner_name]}").at(f"[{i}]")
            return value
        if inner is None:
            inner = _compiled(inner_name)
        out: list[Any] | None = None
        for i, item in enumerate(value):
            if item is None:
                raise SchemaMismatch("must not be null").at(f"[{i}]")
            try:
                new = inner(item)
            except SchemaMismatch as exc:
                raise exc.at(f"[{i}]") from None
            if new is not item:
                if out is None:
                    out = list(value)
                out[i] = new
        return value if out is None else out

    return check


def _dict(inner_name: str) -> Normaliser:
    inner: Normaliser | None = None
    scalar = _SCALARS.get(inner_name)
    numeric = inner_name in ("int", "float")

    def check(value: Any) -> Any:
        nonlocal inner
        if not isinstance(value, dict):
            raise SchemaMismatch("must be a mapping")
        if scalar is not None:  # Dict[str, str] (labels, annotations): no call per value
            for key, item in value.items():
                if not isinstance(item, scalar) or (numeric and isinstance(item, bool)):
                    if item is None:
                        raise SchemaMismatch("must not be null").at(f"[{key!r}]")
                    raise SchemaMismatch(f"must be {_NAMES[inner_name]}").at(f"[{key!r}]")
            return value
        if inner is None:
            inner = _compiled(inner_name)
        out: dict[Any, Any] | None = None
        for key, item in value.items():
            if item is None:
                raise SchemaMismatch("must not be null").at(f"[{key!r}]")
            try:
                new = inner(item)
            except SchemaMismatch as exc:
                raise exc.at(f"[{key!r}]") from None
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out

    return check


def _model(model: str) -> Normaliser:
    # Scalar fields (most of them) are checked inline, without a call per field; only
    # nested models, lists and maps get one.
    scalars: dict[str, tuple[type, ...]] | None = None
    numeric: frozenset[str] = frozenset()
    problems: dict[str, str] = {}
    fields: dict[str, Normaliser] = {}

    def check(value: Any) -> Any:
        nonlocal scalars, numeric
        if not isinstance(value, dict):
            raise SchemaMismatch("must be an object")
        if scalars is None:  # compiled on first use: models refer to each other
            types = model_fields(model) or {}
            fields.update((key, _compiled(t)) for key, t in types.items() if t not in _SCALARS)
            problems.update((k, f"must be {_NAMES[t]}") for k, t in types.items() if t in _SCALARS)
            numeric = frozenset(k for k, t in types.items() if t in ("int", "float"))
            scalars = {k: _SCALARS[t] for k, t in types.items() if t in _SCALARS}
        out: dict[Any, Any] | None = None
        for key, item in value.items():
            if item is None:
                if out is None:
                    out = dict(value)
                del out[key]
                continue
            expected = scalars.get(key)
            if expected is not None:
                if not isinstance(item, expected) or (item.__class__ is bool and key in numeric):
                    raise SchemaMismatch(problems[key]).at(key)
                continue
            field = fields.get(key)
            if field is None:  # a field the schema does not know
                if not isinstance(item, (dict, list)):
                    continue
                new = without_nulls(item)
            else:
                try:
                    new = field(item)
                except SchemaMismatch as exc:
                    raise exc.at(key) from None
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out

    return check


def without_nulls(value: Any) -> Any:
    """``value`` with every ``null`` field removed, recursively (``value`` itself if none).

    In the API, a ``null`` field and an absent one mean the same (unset), but to a check
    ``spec.get("template", {})`` they do not: the default applies only to the absent one.  A
    snapshot, which anyone may have edited, is normalised to the absent form once, here.
    """
    if isinstance(value, dict):
        out: dict[Any, Any] | None = None
        for k, v in value.items():
            if v is None:
                if out is None:
                    out = dict(value)
                del out[k]
            elif isinstance(v, (dict, list)):
                new = without_nulls(v)
                if new is not v:
                    if out is None:
                        out = dict(value)
                    out[k] = new
        return value if out is None else out
    if isinstance(value, list):
        items: list[Any] | None = None
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)):
                new = without_nulls(v)
                if new is not v:
                    if items is None:
                        items = list(value)
                    items[i] = new
        return value if items is None else items
    return value


if __name__ == "__main__":
    out = Path(__file__).with_name(TABLE_FILE)
    out.write_text(json.dumps(build_table(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
