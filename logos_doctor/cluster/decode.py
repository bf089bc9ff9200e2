"""Decoding a LIST page: each item as ``json`` would give it, without ``managedFields``.

``json.loads`` builds every dict and list of a page, and ``managedFields`` is the largest
part of a live object that nothing reads: 44% of a pod's bytes on the benchmark cluster, and
many small dicts.  Here a page of a built-in kind is decoded by msgspec into one struct per
item whose fields are the kind's top-level fields, with ``metadata`` a struct of every
``ObjectMeta`` field; ``managedFields`` is skipped by the parser (never built), everything
else is decoded to plain dicts, lists and strings, and each item is turned back into the dict
``json`` would have made, keys in the order the API server writes them.

Exactness rather than a guess at what the checks read: the structs refuse a field they do not
name (a newer API server's top-level field, an odd object), and then the page is decoded
with ``json`` as before, as is a page msgspec cannot read at all (``NaN``, a lone surrogate, an
integer beyond 64 bits) and every custom resource.  So the objects are always equal to those of
``json.loads`` less ``managedFields``; tests/unit/test_decode.py holds it on every recorded
snapshot and on pages that take each way.

``spec`` and ``status`` are read as raw text per key, and a fetch (``Before``) takes a key's
value from the item before when its text is the same: siblings in a LIST repeat most of
theirs, and the sharing walk would only have compared the new value with that one and
kept the old.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec

from logos_doctor.cluster.kinds import Kind
from logos_doctor.objects import Obj

# ObjectMeta's fields in the order the API server writes them (its Go struct's order).
META_FIELDS = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
)

_HEAD = ("kind", "apiVersion", "metadata")
_SPEC_STATUS = (*_HEAD, "spec", "status")
_SPEC = (*_HEAD, "spec")
_WEBHOOKS = (*_HEAD, "webhooks")

# Each built-in kind's top-level fields, in the API server's order.  The sets are those of
# the client's models (tests/unit/test_decode.py compares them with schema_table.json).
TOP_FIELDS: dict[str, tuple[str, ...]] = {
    "pods": _SPEC_STATUS,
    "persistentvolumeclaims": _SPEC_STATUS,
    "persistentvolumes": _SPEC_STATUS,
    "services": _SPEC_STATUS,
    "nodes": _SPEC_STATUS,
    "namespaces": _SPEC_STATUS,
    "deployments": _SPEC_STATUS,
    "statefulsets": _SPEC_STATUS,
    "replicasets": _SPEC_STATUS,
    "daemonsets": _SPEC_STATUS,
    "jobs": _SPEC_STATUS,
    "horizontalpodautoscalers": _SPEC_STATUS,
    "ingresses": _SPEC_STATUS,
    "apiservices": _SPEC_STATUS,
    "resourcequotas": _SPEC_STATUS,
    "volumeattachments": _SPEC_STATUS,
    "limitranges": _SPEC,
    "ingressclasses": _SPEC,
    "validatingwebhookconfigurations": _WEBHOOKS,
    "mutatingwebhookconfigurations": _WEBHOOKS,
    "configmaps": (*_HEAD, "immutable", "data", "binaryData"),
    "secrets": (*_HEAD, "immutable", "data", "stringData", "type"),
    "serviceaccounts": (*_HEAD, "secrets", "imagePullSecrets", "automountServiceAccountToken"),
    "endpointslices": (*_HEAD, "addressType", "endpoints", "ports"),
    "storageclasses": (
        *_HEAD,
        "provisioner",
        "parameters",
        "reclaimPolicy",
        "mountOptions",
        "allowVolumeExpansion",
        "volumeBindingMode",
        "allowedTopologies",
    ),
    "events": (
        *_HEAD,
        "involvedObject",
        "reason",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "type",
        "eventTime",
        "series",
        "action",
        "related",
        "reportingComponent",
        "reportingInstance",
    ),
}

_UNSET: Any = msgspec.UNSET

# managedFields is declared (so that it is not an unknown field) as Raw: the parser only
# finds where it ends and builds nothing of it.
_Meta = msgspec.defstruct(
    "Meta",
    [*((f, Any, _UNSET) for f in META_FIELDS), ("managedFields", msgspec.Raw, _UNSET)],
    forbid_unknown_fields=True,
)
_ListMeta = msgspec.defstruct("ListMeta", [("cont", Any, None)], rename={"cont": "continue"})


# Fields kept as raw text per key while a page is decoded: each key's value is built only
# when its text differs from the item before's (see ``Before``).
BY_KEY = ("spec", "status")
_Keyed = dict[str, msgspec.Raw] | None


def _decoder(fields: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    item = msgspec.defstruct(
        "Item",
        [
            (f, (_Meta | None) if f == "metadata" else _Keyed if f in BY_KEY else Any, _UNSET)
            for f in fields
        ],
        forbid_unknown_fields=True,
    )
    page = msgspec.defstruct(
        "Page",
        [("metadata", _ListMeta | None, None), ("items", list[item] | None, None)],  # type: ignore[valid-type]
    )
    return msgspec.json.Decoder(page)


_DECODERS = {plural: _decoder(fields) for plural, fields in TOP_FIELDS.items()}

# A list's head: its metadata, the items skipped (scanned, never built).
_Head = msgspec.defstruct("Head", [("metadata", Any, None)])
_HEAD_DECODER = msgspec.json.Decoder(_Head)

Clean = Callable[[Kind, Obj], Obj]
_ANY = msgspec.json.Decoder()


class Before:
    """The item kept last in one LIST, and the raw text of its ``BY_KEY`` fields.

    A LIST of a built-in kind is sorted by namespace and name, so neighbours are siblings
    (the pods of one ReplicaSet) and most of their ``spec`` and ``status`` is the same text:
    volumes, containers, tolerations, an image list.  The fetch shares each item's values
    like the item before's (``cluster/share.py``), and a value equal to its counterpart there
    becomes that counterpart.  The API server writes a value of its own types one way
    (struct fields in order, map keys sorted), so equal text is an equal value: a value whose
    text is the counterpart's is taken as it is, and neither built nor compared.  What comes
    out is the object the walk would have made of it.  Only for a caller that shares like
    the item before (``Fetcher._keeper``): elsewhere neighbours must not share values.
    """

    __slots__ = ("kept", "raws")

    def __init__(self) -> None:
        self.kept: Obj | None = None
        self.raws: dict[str, dict[str, msgspec.Raw]] = {}


class NotAList(Exception):
    """A page that is JSON but not a list of objects."""


def decode_page(
    kind: Kind, body: bytes, clean: Clean, before: Before | None = None
) -> tuple[list[Obj], str | None]:
    """The items of one LIST page, each passed through ``clean``, and its continue token.
    With ``before`` (one per LIST, kept across its pages), values whose text equals the item
    before's are taken from it (see ``Before``).

    ``ValueError`` when the body is not JSON (as ``json.loads`` raises it), ``NotAList`` when
    it is JSON but not a list.  Items that are not objects are left out, as before.
    """
    decoder = _DECODERS.get(kind.plural)
    if decoder is not None:
        try:
            page = decoder.decode(body)
        except msgspec.DecodeError:  # not for the structs: json decides, as before
            pass
        else:
            if page.items is not None:
                fields = TOP_FIELDS[kind.plural]
                token = page.metadata.cont if page.metadata is not None else None
                items = []
                try:
                    for item in page.items:
                        obj, raws = _as_dict(item, fields, before)
                        kept = clean(kind, obj)
                        if before is not None:
                            before.kept, before.raws = kept, raws
                        items.append(kept)
                except msgspec.DecodeError:  # a value's text the scan let through: json's
                    if before is not None:
                        before.kept, before.raws = None, {}
                else:
                    return items, token or None
    return _decode_json(kind, body, clean)


def list_head(body: bytes) -> tuple[str | None, str]:
    """A LIST page's ``continue`` token and ``resourceVersion``, its items not built.

    The fetch asks for the next page with the token before decoding this one; the exporter's
    watches start from the version.  msgspec scans the whole text (so a body cut short fails
    here, where the request can still be retried) and builds only the list's metadata: about
    1 ms per MiB.  A body msgspec cannot read goes to ``json``, which raises ``ValueError``
    for one that is not JSON, as ``decode_page`` would; a body that is JSON but not a list
    has neither, and ``decode_page`` refuses it.  The scan does not check the text of strings
    it skips (bytes that are not UTF-8 inside an item): ``decode_page`` still raises
    ``ValueError`` for those.
    """
    try:
        head: Any = getattr(_HEAD_DECODER.decode(body), "metadata", None)
    except msgspec.DecodeError:
        data = json.loads(body)
        head = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(head, dict):
        return None, ""
    token = head.get("continue")
    return (token if isinstance(token, str) and token else None), str(
        head.get("resourceVersion") or ""
    )


def _decode_json(kind: Kind, body: bytes, clean: Clean) -> tuple[list[Obj], str | None]:
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise NotAList()
    items = [clean(kind, obj) for obj in data["items"] if isinstance(obj, dict)]
    return items, (data.get("metadata") or {}).get("continue") or None


def _as_dict(
    item: Any, fields: tuple[str, ...], before: Before | None
) -> tuple[Obj, dict[str, dict[str, msgspec.Raw]]]:
    """The item as ``json`` would give it, and the raw text of its ``BY_KEY`` fields."""
    out: Obj = {}
    raws: dict[str, dict[str, msgspec.Raw]] = {}
    for name in fields:
        value = getattr(item, name)
        if value is _UNSET:
            continue
        if name in BY_KEY and value is not None:  # raw text per key
            raws[name] = value
            value = _built(value, name, before)
        out[name] = value
    meta = out.get("metadata")
    if meta is not None:
        md: Obj = {}
        for name in META_FIELDS:
            value = getattr(meta, name)
            if value is not _UNSET:
                md[name] = value
        out["metadata"] = md
    return out, raws


def _built(text: dict[str, msgspec.Raw], field: str, before: Before | None) -> Obj:
    """A ``BY_KEY`` field's value: each key's taken from the item before when its text is
    the same, else built."""
    old = before.kept.get(field) if before is not None and before.kept is not None else None
    if type(old) is not dict:
        return {key: _ANY.decode(raw) for key, raw in text.items()}
    assert before is not None
    old_text = before.raws.get(field, {})
    out: Obj = {}
    for key, raw in text.items():
        if key in old and old_text.get(key) == raw:
            out[key] = old[key]
        else:
            out[key] = _ANY.decode(raw)
    return out
