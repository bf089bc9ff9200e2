"""Shared values (cluster/share.py): equal to what they replace, and never changed by a check.

A live fetch keeps one object for equal strings, dicts and lists across the whole state, so
a check that changed an object it was given would change every other object sharing that
part.  Each recorded snapshot is loaded twice; the second copy's values are shared as a
fetch shares them; every check runs on both.  The findings must be the same, and no object
may have changed while the checks ran.
"""

import copy
import json
from typing import Any

import pytest

from logos_doctor.cluster.fetch import _clean
from logos_doctor.cluster.kinds import KINDS
from logos_doctor.cluster.share import share_values
from logos_doctor.fix.templates import recreated_statefulset
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from tests.recorded import SNAPSHOTS, recorded

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))
CHECKS = list(default_registry())


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


@pytest.mark.parametrize("name", NAMES)
def test_checks_find_the_same_and_change_nothing(name: str) -> None:
    plain, config = recorded(name)
    state, _ = recorded(name)
    table: dict[Any, Any] = {}
    for plural, items in state.objects.items():
        for obj in items:
            if plural in KINDS:
                _clean(KINDS[plural], obj, table, containers=True)
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


def test_equal_containers_become_one_and_types_stay_apart() -> None:
    table: dict[Any, Any] = {}
    a = {"metadata": {"name": "a", "labels": {"app": "x"}},
         "spec": {"ports": [{"port": 80, "ready": True}], "w": [1.0], "z": [-0.0], "t": [1]}}
    b = {"metadata": {"name": "b", "labels": {"app": "x"}},
         "spec": {"ports": [{"port": 80, "ready": True}], "w": [1], "z": [0.0], "t": [True]}}
    c = {"metadata": {"name": "c", "labels": {"app": "x"}},
         "spec": {"ports": [{"ready": True, "port": 80}]}}
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
    values = [{"a": None}, {"a": "None"}, {"a": "b"}, {"b": "a"}, ["a", "b"], ["a", None],
              {"a": "b", "c": "d"}, {"c": "d", "a": "b"}, {}, [], {"a": 1}, {"a": True}]
    objs = [{"metadata": {"name": str(i)}, "v": copy.deepcopy(v)} for i, v in enumerate(values)]
    again = [{"metadata": {"name": "x"}, "v": copy.deepcopy(v)} for v in values]
    for obj in objs + again:
        share_values(obj, table)
    assert [o["v"] for o in objs] == values and exact([o["v"] for o in again]) == exact(values)
    assert len({id(o["v"]) for o in objs}) == len(values)
    assert all(a["v"] is b["v"] for a, b in zip(objs, again, strict=True))


def test_correcting_one_of_two_equal_claim_templates_leaves_the_other() -> None:
    template = {"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp2",
                         "resources": {"requests": {"storage": "10Gi"}}}}
    sts = {"metadata": {"name": "db", "namespace": "n"},
           "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, **template},
                                             {"metadata": {"name": "logs"}, **template}]}}
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
