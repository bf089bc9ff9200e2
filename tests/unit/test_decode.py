"""The live decoder (cluster/decode.py) keeps exactly what json.loads + the fetch's clean kept.

Every recorded snapshot's objects are cut into LIST pages as an API server sends them (each
item given a managedFields entry and no kind/apiVersion), and each page decoded both ways:
the old way (json.loads, then fetch._clean on each item) and decode_page.  The results must
be equal, and the fast way must have been taken for every built-in kind whose items are
live-shaped.  Snapshots keep their keys sorted, so key order is held separately, on objects
written in the order an API server writes them.  Then pages that must fall back to json (a
field the structs do not name, NaN, a lone surrogate, a huge integer) and pages that are not
lists.
"""

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from logos_doctor.cluster import decode
from logos_doctor.cluster.decode import (
    META_FIELDS,
    TOP_FIELDS,
    NotAList,
    decode_page,
    list_head,
)
from logos_doctor.cluster.fetch import Fetcher, FetchOptions, _clean
from logos_doctor.cluster.kinds import KINDS, PAGE_SIZE, Kind
from logos_doctor.cluster.redact import REDACT

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = [*sorted((REPO / "tests/fixtures/snapshots").glob("*.json.gz")),
             REPO / "examples/broken-logos.json.gz"]
MANAGED = [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
            "time": "2026-12-04T10:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]


def old_way(kind: Kind, body: bytes) -> tuple[list[Any], Any]:
    page = json.loads(body)
    items = [_clean(kind, obj, {}) for obj in page["items"] if isinstance(obj, dict)]
    return items, (page.get("metadata") or {}).get("continue") or None


def new_way(kind: Kind, body: bytes) -> tuple[list[Any], Any]:
    strings: dict[str, str] = {}
    return decode_page(kind, body, lambda k, obj: _clean(k, obj, strings))


def shape(value: Any) -> Any:
    """The value with every mapping's key order made visible to ``==``."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [shape(v) for v in value]
    return value


def live_item(obj: dict[str, Any]) -> dict[str, Any]:
    """A recorded object as a LIST sends it: no kind/apiVersion, with managedFields."""
    out = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    md = out.get("metadata")
    if isinstance(md, dict):
        out["metadata"] = {**md, "managedFields": MANAGED}
    return out


def pages(plural: str, items: list[Any]) -> list[bytes]:
    out = []
    for start in range(0, max(1, len(items)), PAGE_SIZE):
        more = start + PAGE_SIZE < len(items)
        doc = {"kind": KINDS[plural].kind + "List", "apiVersion": KINDS[plural].api_version,
               "metadata": {"resourceVersion": "42", **({"continue": "t"} if more else {})},
               "items": items[start:start + PAGE_SIZE]}
        out.append(json.dumps(doc).encode())
    return out


@pytest.fixture
def fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kinds whose pages took the json way."""
    seen: list[str] = []
    real = decode._decode_json

    def spy(kind: Kind, body: bytes, clean: Any) -> Any:
        seen.append(kind.plural)
        return real(kind, body, clean)

    monkeypatch.setattr(decode, "_decode_json", spy)
    return seen


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.name.split(".")[0])
def test_every_recorded_object_decodes_as_json_did(path: Path, fallbacks: list[str]) -> None:
    doc = json.loads(gzip.decompress(path.read_bytes()))
    compared = 0
    for plural, objects in doc["objects"].items():
        if plural not in KINDS:
            continue
        kind = KINDS[plural]
        for body in pages(plural, [live_item(o) for o in objects]):
            new, old = new_way(kind, body), old_way(kind, body)
            assert new == old, plural
            assert list_head(body)[0] == new[1], plural
            assert all("managedFields" not in (o.get("metadata") or {}) for o in new[0])
            compared += len(new[0])
    assert compared > 0
    # Secrets and ConfigMaps recorded in a snapshot are stripped already (dataKeys): those,
    # and custom resources, take the json way; every other built-in kind the fast one.
    assert not set(fallbacks) - {"secrets", "configmaps"} - (set(KINDS) - set(TOP_FIELDS))


def test_fields_are_the_client_models() -> None:
    table = json.loads((REPO / "logos_doctor/cluster/schema_table.json").read_text())
    assert set(table["kinds"]) == set(TOP_FIELDS)
    for plural, model in table["kinds"].items():
        assert sorted(TOP_FIELDS[plural]) == sorted(table["models"][model]), plural
        assert len(set(TOP_FIELDS[plural])) == len(TOP_FIELDS[plural])
    assert sorted([*META_FIELDS, "managedFields"]) == sorted(table["models"]["V1ObjectMeta"])


# As the API server writes them (kube-apiserver v1.37, seeded benchmark cluster).
POD = {"metadata": {"name": "db-0", "generateName": "db-", "namespace": "n", "uid": "u",
                    "resourceVersion": "22", "generation": 1,
                    "creationTimestamp": "2026-12-04T13:58:47Z", "labels": {"app": "a"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                         "name": "db", "uid": "s", "controller": True}],
                    "managedFields": MANAGED},
       "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "n1"},
       "status": {"phase": "Running", "podIP": "10.0.0.1"}}
EVENT = {"metadata": {"name": "e", "namespace": "n", "uid": "u", "resourceVersion": "2",
                      "creationTimestamp": "2026-12-04T13:58:47Z", "managedFields": MANAGED},
         "involvedObject": {"kind": "PersistentVolumeClaim", "namespace": "n", "name": "c"},
         "reason": "WaitForFirstConsumer", "message": "waiting",
         "source": {"component": "persistentvolume-controller"},
         "firstTimestamp": "2026-12-04T13:58:46Z", "lastTimestamp": "2026-12-04T13:58:46Z",
         "count": 1, "type": "Normal", "eventTime": None,
         "reportingComponent": "persistentvolume-controller", "reportingInstance": ""}


@pytest.mark.parametrize(("plural", "obj"), [("pods", POD), ("events", EVENT)])
def test_keys_keep_the_api_servers_order(plural: str, obj: Any, fallbacks: list[str]) -> None:
    body = json.dumps({"metadata": {}, "items": [obj, obj]}).encode()
    new, old = new_way(KINDS[plural], body), old_way(KINDS[plural], body)
    assert shape(new) == shape(old) and not fallbacks


@pytest.mark.parametrize("odd", [
    {"newTopLevelField": {"x": 1}},
    {"metadata": {**POD["metadata"], "newMetadataField": "x"}},
    {"spec": {"containers": [], "weight": float("nan")}},
    {"spec": {"containers": [], "big": 2**70}},
    {"status": {"phase": "\ud800"}},
    {"metadata": None},
    {"metadata": {"name": None, "managedFields": None}},
], ids=["top-field", "meta-field", "nan", "bigint", "surrogate", "null-meta", "null-fields"])
def test_anything_the_structs_do_not_hold_is_decoded_by_json(odd: dict[str, Any]) -> None:
    body = json.dumps({"metadata": {"continue": "c"},
                       "items": [POD, {**POD, **odd}, "not an object"]}).encode()
    new, old = new_way(KINDS["pods"], body), old_way(KINDS["pods"], body)
    assert shape(new) == shape(old) and new[1] == "c" == list_head(body)[0]


def test_fast_way_drops_managed_fields_and_reads_the_token(fallbacks: list[str]) -> None:
    body = json.dumps({"metadata": {"continue": "next", "remainingItemCount": 3},
                       "items": [POD]}).encode()
    items, token = new_way(KINDS["pods"], body)
    assert token == "next" and not fallbacks
    md = {k: v for k, v in POD["metadata"].items() if k != "managedFields"}
    assert items == [{"metadata": md, "spec": POD["spec"], "status": POD["status"]}]
    assert new_way(KINDS["pods"], b'{"metadata": {"continue": ""}, "items": []}') == ([], None)


def test_secret_values_are_stripped_on_the_fast_way(fallbacks: list[str]) -> None:
    secret = {"metadata": {"name": "s", "namespace": "n", "managedFields": MANAGED},
              "type": "Opaque", "data": {"password": "Y2FuYXJ5LXZhbHVl"}}
    items, _ = new_way(KINDS["secrets"], json.dumps({"items": [secret]}).encode())
    assert not fallbacks and REDACT["secrets"] is not None
    assert items == [{"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": "s", "namespace": "n"},
                      "type": "Opaque", "dataKeys": ["password"]}]
    assert "Y2FuYXJ5LXZhbHVl" not in repr(items)


@pytest.mark.parametrize("body", [b'{"items": [', b"not json", b'{"items": [1] "x"}',
                                  b'{"items": ["\xff"]}'])
def test_invalid_json_is_a_value_error_both_ways(body: bytes) -> None:
    with pytest.raises(ValueError):
        old_way(KINDS["pods"], body)
    with pytest.raises(ValueError):
        new_way(KINDS["pods"], body)
    if b"\xff" not in body:  # the fetch reads the token first: it refuses what it parses
        with pytest.raises(ValueError):
            list_head(body)[0]
    else:  # bytes inside items are not read for the token; decode_page refuses them
        assert list_head(body)[0] is None


@pytest.mark.parametrize("body", [b"[]", b'{"items": null}', b'{"items": {}}', b"3"])
def test_json_that_is_not_a_list_is_not_a_list(body: bytes) -> None:
    for plural in ("pods", "certificates"):
        with pytest.raises(NotAList):
            new_way(KINDS[plural], body)
    assert list_head(body)[0] is None


@pytest.mark.parametrize(("body", "token"), [
    (b'{"items": [], "metadata": {"continue": "after-items"}}', "after-items"),
    (b'{"metadata": {"continue": "\\u0041b"}, "items": []}', "Ab"),
    (b'{"metadata": {"continue": 5}, "items": []}', None),
    (b'{"metadata": [], "items": []}', None),
    (b'{"metadata": {"continue": "x"}, "items": [NaN]}', "x"),
], ids=["items-first", "escaped", "not-a-string", "odd-metadata", "nan"])
def test_the_token_is_read_wherever_and_however_the_list_writes_it(body: bytes, token: Any) -> None:
    assert list_head(body)[0] == token


@pytest.mark.parametrize(("body", "head"), [
    (b'{"metadata": {"resourceVersion": "123", "continue": "t"}, "items": []}', ("t", "123")),
    (b'{"items": [], "metadata": {"resourceVersion": "9"}}', (None, "9")),
    (b'{"metadata": {"resourceVersion": 5}, "items": [NaN]}', (None, "5")),
    (b'{"items": []}', (None, "")),
    (b"[]", (None, "")),
])
def test_the_version_is_read_with_the_token(body: bytes, head: Any) -> None:
    assert list_head(body) == head


# -- values taken from the item before (decode.Before) ---------------------------------------


def _kept_as_a_fetch(kind: Kind, bodies: list[bytes], *, before: bool) -> list[Any]:
    """The items of one LIST as a fetch keeps them: shared like the item before, and with
    ``before``, values of equal text taken from it."""
    fetcher = Fetcher(None, FetchOptions(lean=True))  # type: ignore[arg-type]  # no requests
    fetcher._strings = {}
    keep, prior = fetcher._keeper(kind), decode.Before() if before else None
    return [obj for body in bodies for obj in decode_page(kind, body, keep, prior)[0]]


def _places(value: Any) -> list[int]:
    """Which strings and containers are one object: each one's place, numbered by first sight."""
    seen: dict[int, int] = {}
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict | list | str):
            out.append(seen.setdefault(id(v), len(seen)))
        if isinstance(v, dict | list):
            stack.extend(v.values() if isinstance(v, dict) else v)
    return out


def test_values_taken_from_the_item_before_are_those_the_walk_would_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []
    real = decode._ANY

    class Counting:
        def decode(self, raw: Any) -> Any:
            built.append(1)
            return real.decode(raw)

    monkeypatch.setattr(decode, "_ANY", Counting())
    taken = by_key = 0
    for path in SNAPSHOTS:
        doc = json.loads(gzip.decompress(path.read_bytes()))
        for plural, objects in doc["objects"].items():
            if plural not in TOP_FIELDS or not objects:
                continue
            kind = KINDS[plural]
            bodies = pages(plural, [live_item(o) for o in objects])
            built.clear()
            plain = _kept_as_a_fetch(kind, bodies, before=False)
            walked = len(built)
            built.clear()
            fast = _kept_as_a_fetch(kind, bodies, before=True)
            assert shape(fast) == shape(plain), (path.name, plural)
            assert _places(fast) == _places(plain), (path.name, plural)
            taken += walked - len(built)
            by_key += walked
    # Most recordings hold a Deployment's or StatefulSet's pods side by side.
    assert by_key > 0 and taken > by_key // 4, (taken, by_key)


def test_a_value_whose_text_differs_is_built_anew() -> None:
    pods = [json.loads(json.dumps(POD)) for _ in range(3)]
    pods[1]["spec"]["nodeName"] = "n2"
    (body,) = pages("pods", pods)
    first, second, third = _kept_as_a_fetch(KINDS["pods"], [body], before=True)
    assert second["spec"]["containers"] is first["spec"]["containers"]
    assert (second["spec"]["nodeName"], third["spec"]["nodeName"]) == ("n2", "n1")
    assert third["spec"]["nodeName"] is first["spec"]["nodeName"]  # the table's one
    assert third == first and third is not first and third["metadata"] is not first["metadata"]


def test_a_value_only_json_reads_sends_the_page_to_json_with_the_item_before() -> None:
    # 1e400 passes msgspec's scan of the raw text but not its decoding (out of range);
    # json reads it as inf.  The page goes to json as any page msgspec cannot read does.
    odd = json.dumps({**POD, "spec": {**POD["spec"], "weight": 12345}}).replace(
        "12345", "1e400"
    )
    body = '{"metadata": {}, "items": [' + ", ".join([json.dumps(POD), odd, json.dumps(POD)]) + "]}"
    kept = _kept_as_a_fetch(KINDS["pods"], [body.encode(), pages("pods", [POD])[0]], before=True)
    assert [o["spec"].get("weight") for o in kept] == [None, float("inf"), None, None]
    assert shape(kept[3]) == shape(kept[0])
