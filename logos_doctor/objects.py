"""Reading Kubernetes objects kept as plain JSON dicts.

Objects stay the dicts the API server sent (parsing them into the client's model classes is
far too slow for thousands of objects), so these helpers give typed access to the few fields
every check reads: references, times and quantities.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

Obj = dict[str, Any]
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, order=True, init=False)
class ObjectRef:
    """Names one object: what a finding is about, its parent, or what it affects."""

    kind: str
    namespace: str | None
    name: str
    uid: str | None = None

    def __init__(self, kind: str, namespace: str | None, name: str, uid: str | None = None):
        # The dataclass's own __init__, without its object.__setattr__ per field (a frozen
        # dataclass's way past its own __setattr__): 1.6 -> 0.7 us, and the checks and the
        # report make hundreds of thousands of references at 90,000 objects.
        fields = self.__dict__
        fields["kind"] = kind
        fields["namespace"] = namespace
        fields["name"] = name
        fields["uid"] = uid

    @classmethod
    def of(cls, kind: str, obj: Obj) -> ObjectRef:
        """Reference ``obj``, whose kind the caller knows (list items carry none)."""
        meta = obj.get("metadata") or {}
        return cls(kind, meta.get("namespace"), meta.get("name", ""), meta.get("uid"))

    def same_object(self, other: ObjectRef) -> bool:
        """Compare by uid when both have one, else by kind, namespace and name."""
        if self.uid and other.uid:
            return self.uid == other.uid
        return (self.kind, self.namespace, self.name) == (other.kind, other.namespace, other.name)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"

    def to_json(self) -> dict[str, str | None]:
        """The ``{"kind", "namespace", "name"}`` object of the JSON contract."""
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


def per_object(memo: dict[int, tuple[K, V]], obj: K, make: Callable[[K], V]) -> V:
    """``make(obj)``, made once per object ``memo`` has seen, told apart by identity.

    For answers read again and again from one object (a pod's container statuses, the
    references many findings share): dicts and lists are not hashable, and equal objects need
    not be the same one.  The object is kept beside its answer, so that its address cannot
    pass to another object while ``memo`` lives.
    """
    hit = memo.get(id(obj))
    if hit is None or hit[0] is not obj:
        hit = memo[id(obj)] = (obj, make(obj))
    return hit[1]


def meta(obj: Obj) -> dict[str, Any]:
    """The object's metadata, never None."""
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    """The object's name."""
    return str(meta(obj).get("name", ""))


def namespace(obj: Obj) -> str | None:
    """The object's namespace (None for cluster-scoped objects)."""
    ns = meta(obj).get("namespace")
    return str(ns) if ns else None


def uid(obj: Obj) -> str | None:
    """The object's uid, if the server gave one."""
    value = meta(obj).get("uid")
    return str(value) if value else None


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (absent, null or another type)."""
    return value if isinstance(value, dict) else {}


def mappings(value: Any) -> list[dict[str, Any]]:
    """The JSON objects in ``value`` if it is a list, else none."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def labels_of(obj: Obj) -> dict[str, str]:
    """The object's labels, values as strings whatever the object held."""
    return {str(k): str(v) for k, v in mapping(mapping(obj.get("metadata")).get("labels")).items()}


def annotations_of(obj: Obj) -> dict[str, str]:
    """The object's annotations."""
    return dict(meta(obj).get("annotations") or {})


def controller_of(obj: Obj) -> dict[str, Any] | None:
    """The ownerReference marked ``controller: true``, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp as the API server writes it; None when absent or bad."""
    if not value or not isinstance(value, str):
        return None
    return _parse_time(value)


@functools.lru_cache(maxsize=8192)
def _parse_time(value: str) -> datetime | None:
    # Cached: timestamps have one-second resolution, so a cluster's tens of thousands of
    # events and objects carry far fewer distinct ones.
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # most timestamps have none; events are parsed by the ten thousand
        # MicroTime has microseconds; Python accepts at most 6 fractional digits.
        text = _FRACTION.sub(r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clear_caches() -> None:
    """Drop the parsed-time cache (a long-running process calls this between runs).

    The cache's entries are made while a run parses tens of thousands of objects, so they
    sit scattered among that run's memory and keep the allocator's blocks in use after the
    run's objects are freed.
    """
    _parse_time.cache_clear()


_SUFFIXES: dict[str, Decimal] = {
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse_quantity(value: Any) -> Decimal | None:
    """Parse a Kubernetes quantity ("200Gi", "500m", "8") into a number; None when malformed."""
    if value is None:
        return None
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    number, suffix = match.groups()
    if suffix and suffix not in _SUFFIXES:
        return None
    try:
        return Decimal(number) * _SUFFIXES.get(suffix, Decimal(1))
    except InvalidOperation:
        return None


def age(since: datetime | None, now: datetime) -> str:
    """A short human duration such as ``3m`` or ``2h5m`` between ``since`` and ``now``."""
    if since is None:
        return "?"
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{hours // 24}d"
