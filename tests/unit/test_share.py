"""Shared values (cluster/share.py): equal to what they replace, and never changed by a check.

A live fetch keeps one object for equal strings, dicts and lists across the whole state, so
a check that changed an object it was given would change every other object sharing that
part.  Each recorded snapshot is loaded twice; the second copy's values are shared as a
fetch shares them; every check runs on both.  The findings must be the same, and no object
may have changed while the checks ran.

Every test here runs on both walks: the one in C (``_share.c``, used when it was built) and
the one in Python (``share.walk``); test_share_native.py requires the two to make the same
objects.
"""

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from logos_doctor.cluster import share
from logos_doctor.cluster.fetch import Fetcher, FetchOptions, _clean
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.cluster.share import share_values
from logos_doctor.fix.templates import recreated_statefulset
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.state import Scope
from tests.pages import OnePagePerKind
from tests.recorded import SNAPSHOTS, recorded
from tests.shared_values import exact, identities, share_as_a_fetch

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))
CHECKS = list(default_registry())
NATIVE = share.NATIVE


@pytest.fixture(autouse=True, params=["c", "python"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test once with the walk in C, once with the walk in Python."""
    if request.param == "c":
        if NATIVE is None:
            pytest.skip("the walk in C was not built (see test_share_native.py)")
        monkeypatch.setattr(share, "NATIVE", NATIVE)
    else:
        monkeypatch.setattr(share, "NATIVE", None)
    yield request.param


@pytest.mark.parametrize("name", NAMES)
def test_checks_find_the_same_and_change_nothing(name: str) -> None:
    plain, config = recorded(name)
    state, _ = recorded(name)
    table: dict[Any, Any] = {}
    share_as_a_fetch(state.objects, table)  # type: ignore[arg-type]
    assert exact(dict(state.objects)) == exact(dict(plain.objects))
    if sum(map(len, state.objects.values())) > 20:
        assert any(isinstance(k, int) for k in table), "nothing was shared"
    before = exact(dict(state.objects))
    shared = run_checks(state, CHECKS, config)
    assert exact(dict(state.objects)) == before, "a check changed an object it was given"
    expected = run_checks(plain, CHECKS, config)
    assert [repr(f) for f in shared.findings] == [repr(f) for f in expected.findings]
    assert [(r.id, r.status, r.detail) for r in shared.results] == [
        (r.id, r.status, r.detail) for r in expected.results
    ]


@pytest.mark.parametrize("name", NAMES)
def test_sharing_like_the_item_before_makes_the_same_objects(name: str) -> None:
    # Taking a part equal to the item before's must end where the walk ends: the same values,
    # and the same containers made one (so the same memory).
    walked, _ = recorded(name)
    alike, _ = recorded(name)
    table: dict[Any, Any] = {}
    for plural, items in walked.objects.items():
        for obj in items:
            if plural in KINDS:
                _clean(KINDS[plural], obj, table, containers=True)
    share_as_a_fetch(alike.objects, {})  # type: ignore[arg-type]
    assert exact(dict(alike.objects)) == exact(dict(walked.objects))
    assert identities(dict(alike.objects)) == identities(dict(walked.objects))


class _Counted(dict[Any, Any]):
    """A sharing table that counts its lookups."""

    lookups = 0

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.lookups += 1
        return super().setdefault(key, default)


def test_a_part_equal_to_the_item_befores_is_taken_without_a_walk() -> None:
    pods = json.loads(  # fresh values, as a page gives them: siblings of one ReplicaSet
        '[{"metadata": {"name": "web-1", "labels": {"app": "web"}},'
        '  "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "web:1",'
        '   "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],'
        '   "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}},'
        ' {"metadata": {"name": "web-2", "labels": {"app": "web"}},'
        '  "spec": {"nodeName": "n2", "containers": [{"name": "web", "image": "web:1",'
        '   "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],'
        '   "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}]'
    )
    originals = copy.deepcopy(pods)
    walked, alike = _Counted(), _Counted()
    first, second = copy.deepcopy(pods)
    share_values(first, walked)
    share_values(second, walked)
    share_values(pods[0], alike)
    share_values(pods[1], alike, like=pods[0])
    assert pods == originals and exact(pods) == exact(originals)
    assert pods[1]["spec"]["containers"] is pods[0]["spec"]["containers"]
    assert pods[1]["metadata"]["labels"] is pods[0]["metadata"]["labels"]
    assert pods[1]["spec"] is not pods[0]["spec"]  # the node differs
    assert pods[1]["metadata"] is not pods[0]["metadata"]  # an object's own, never shared
    assert alike.lookups < walked.lookups - 10  # the containers' insides were not visited


def test_a_custom_resource_is_walked_and_its_types_stay_apart() -> None:
    # ``==`` takes True for 1: only the API server's own kinds (one JSON type per field)
    # are shared like the item before.  Two Certificates that differ in that alone stay
    # apart after a fetch, as two Pods that are equal become one.
    certs = [
        {"metadata": {"name": "a", "namespace": "n"}, "spec": {"x": {"v": 1}}},
        {"metadata": {"name": "b", "namespace": "n"}, "spec": {"x": {"v": True}}},
    ]
    pods = [
        {"metadata": {"name": "a", "namespace": "n"}, "spec": {"nodeName": "n1", "x": {"v": 1}}},
        {"metadata": {"name": "b", "namespace": "n"}, "spec": {"nodeName": "n2", "x": {"v": 1}}},
    ]
    server = OnePagePerKind({"certificates": certs, "pods": pods})
    fetcher = Fetcher(server, FetchOptions(attempts=1))  # type: ignore[arg-type]
    fetched = fetcher.fetch(["certificates", "pods"], Scope(None))
    a, b = fetched.list_of("certificates")
    assert exact([a, b]) == exact(certs)
    assert a["spec"]["x"] is not b["spec"]["x"]
    p, q = fetched.list_of("pods")
    assert p["spec"]["x"] is q["spec"]["x"]


def test_equal_containers_become_one_and_types_stay_apart() -> None:
    table: dict[Any, Any] = {}
    a = {
        "metadata": {"name": "a", "labels": {"app": "x"}},
        "spec": {"ports": [{"port": 80, "ready": True}], "w": [1.0], "z": [-0.0], "t": [1]},
    }
    b = {
        "metadata": {"name": "b", "labels": {"app": "x"}},
        "spec": {"ports": [{"port": 80, "ready": True}], "w": [1], "z": [0.0], "t": [True]},
    }
    c = {
        "metadata": {"name": "c", "labels": {"app": "x"}},
        "spec": {"ports": [{"ready": True, "port": 80}]},
    }
    originals = copy.deepcopy([a, b, c])
    for obj in (a, b, c):
        share_values(obj, table)
    assert [a, b, c] == originals
    assert exact([a, b, c]) == exact(originals)
    assert a["metadata"]["labels"] is b["metadata"]["labels"] is c["metadata"]["labels"]
    assert a["spec"]["ports"] is b["spec"]["ports"]
    assert c["spec"]["ports"] is not a["spec"]["ports"]  # other key order: kept apart
    assert a["metadata"] is not b["metadata"]
    for key in ("w", "z", "t"):
        assert a["spec"][key] is not b["spec"][key], key


def test_keys_of_strings_and_nulls_tell_containers_apart() -> None:
    table: dict[Any, Any] = {}
    values = [
        {"a": None},
        {"a": "None"},
        {"a": "b"},
        {"b": "a"},
        ["a", "b"],
        ["a", None],
        {"a": "b", "c": "d"},
        {"c": "d", "a": "b"},
        {},
        [],
        {"a": 1},
        {"a": True},
    ]
    objs = [{"metadata": {"name": str(i)}, "v": copy.deepcopy(v)} for i, v in enumerate(values)]
    again = [{"metadata": {"name": "x"}, "v": copy.deepcopy(v)} for v in values]
    for obj in objs + again:
        share_values(obj, table)
    assert [o["v"] for o in objs] == values and exact([o["v"] for o in again]) == exact(values)
    assert len({id(o["v"]) for o in objs}) == len(values)
    assert all(a["v"] is b["v"] for a, b in zip(objs, again, strict=True))


def test_correcting_one_of_two_equal_claim_templates_leaves_the_other() -> None:
    template = {
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "gp2",
            "resources": {"requests": {"storage": "10Gi"}},
        }
    }
    sts = {
        "metadata": {"name": "db", "namespace": "n"},
        "spec": {
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, **template},
                {"metadata": {"name": "logs"}, **template},
            ]
        },
    }
    sts = copy.deepcopy(sts)
    share_values(sts, {})
    data, logs = sts["spec"]["volumeClaimTemplates"]
    assert data["spec"] is logs["spec"]  # shared by the fetch
    body = recreated_statefulset(sts, {"data": {"storage": "20Gi", "storageClassName": "ssd"}})
    new_data, new_logs = body["spec"]["volumeClaimTemplates"]
    assert new_data["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert new_data["spec"]["storageClassName"] == "ssd"
    assert new_logs["spec"] == template["spec"]
    assert logs["spec"] == template["spec"] == data["spec"]


def test_an_object_nested_deeper_than_python_recurses_is_left_alone() -> None:
    deep: Any = "leaf"
    for _ in range(5000):
        deep = {"d": deep}
    obj = {"metadata": {"name": "x"}, "spec": deep}
    share_values(obj, {})
    assert obj["spec"] is deep


def test_a_hash_held_by_an_unequal_container_is_not_taken() -> None:
    # The table files containers under their key's hash; a hash held by another container
    # (a collision, forced here) must not hand that container out.
    node = {"a": "b"}
    table: dict[Any, Any] = {hash((dict, "a", "b")): {"c": "d"}}
    obj = {"metadata": {"name": "x"}, "v": node}
    share_values(obj, table)
    assert obj["v"] is node and node == {"a": "b"}
    assert table[hash((dict, "a", "b"))] == {"c": "d"}  # the holder keeps the hash


def test_an_objects_own_strings_stay_but_are_not_filed() -> None:
    # Nothing else holds an object's resourceVersion, or an event's name and uid: filing them
    # only grows the table.  Names and uids other objects refer to are still filed.
    table: dict[Any, Any] = {}
    pod, event = json.loads(  # fresh strings, as a page gives them
        '[{"metadata": {"name": "web-1", "uid": "u-pod", "resourceVersion": "7001"}},'
        ' {"metadata": {"name": "web-1.18", "uid": "u-ev", "resourceVersion": "9001"},'
        '  "involvedObject": {"kind": "Pod", "name": "web-1", "uid": "u-pod",'
        '                     "resourceVersion": "7001"}}]'
    )
    originals = copy.deepcopy([pod, event])
    _clean(KINDS["pods"], pod, table, containers=True)
    _clean(KINDS["events"], event, table, containers=True)
    assert [pod, event] == originals
    filed = {k for k in table if isinstance(k, str)}
    assert {"web-1", "u-pod", "Pod", "7001"} <= filed  # the reference's version, filed there
    assert not {"web-1.18", "u-ev", "9001"} & filed
    involved = event["involvedObject"]
    assert involved["uid"] is pod["metadata"]["uid"] and involved["name"] is pod["metadata"]["name"]
    assert involved["resourceVersion"] is not pod["metadata"]["resourceVersion"]
