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
"""

from __future__ import annotations

from functools import cache
from typing import Any

from kubernetes import client as k8s

from logos_doctor.kinds import KINDS

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


@cache
def _model_name(plural: str) -> str | None:
    kind = KINDS[plural]
    version = kind.version.capitalize()
    # The core Event is CoreV1Event in the client (EventsV1Event is events.k8s.io's).
    for candidate in (f"Core{version}{kind.kind}", f"{version}{kind.kind}"):
        if hasattr(k8s, candidate):
            return candidate
    return None


@cache
def _fields(model: str) -> dict[str, str] | None:
    cls = getattr(k8s, model, None)
    types = getattr(cls, "openapi_types", None)
    names = getattr(cls, "attribute_map", None)
    if not isinstance(types, dict) or not isinstance(names, dict):
        return None
    return {names[attr]: t for attr, t in types.items() if attr in names}


def mismatch(plural: str, obj: Any) -> str | None:
    """The first field of ``obj`` (an item of kind ``plural``) whose type is wrong, or None."""
    model = _model_name(plural) if plural in KINDS else None
    if model is None:
        return None if isinstance(obj, dict) else "the item must be an object"
    return _check(obj, model, "", nullable=False)


def _check(value: Any, type_name: str, path: str, *, nullable: bool) -> str | None:
    where = path or "the item"
    if value is None:
        return None if nullable else f"{where} must not be null"
    if type_name == "object":
        return None
    scalar = _SCALARS.get(type_name)
    if scalar is not None:
        ok = isinstance(value, scalar) and not (
            isinstance(value, bool) and type_name in ("int", "float")
        )
        return None if ok else f"{where} must be {_NAMES[type_name]}"
    if type_name.startswith("List["):
        if not isinstance(value, list):
            return f"{where} must be a list"
        inner = type_name[5:-1]
        for i, item in enumerate(value):
            found = _check(item, inner, f"{path}[{i}]", nullable=False)
            if found:
                return found
        return None
    if type_name.startswith("Dict["):
        if not isinstance(value, dict):
            return f"{where} must be a mapping"
        inner = type_name[type_name.index(",") + 1 : -1].strip()
        for key, item in value.items():
            found = _check(item, inner, f"{path}[{key!r}]", nullable=False)
            if found:
                return found
        return None
    fields = _fields(type_name)
    if fields is None:
        return None  # a type the client does not describe: nothing to hold it against
    if not isinstance(value, dict):
        return f"{where} must be an object"
    for key, item in value.items():
        field_type = fields.get(key)
        if field_type is not None:
            found = _check(item, field_type, f"{path}.{key}" if path else key, nullable=True)
            if found:
                return found
    return None


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
