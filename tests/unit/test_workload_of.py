"""``ClusterState.workload_of``: the controller above a pod, found once per controller.

Several checks ask it of every pod, so the chain (Pod -> ReplicaSet -> Deployment) is followed
once for each controller reference and the pods of one ReplicaSet share the answer.  What
decides it is the reference itself and, when the owner was not fetched, the pod's namespace:
the memo must tell apart whatever those tell apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from logos_doctor.objects import ObjectRef
from logos_doctor.state import ClusterState, Scope


def _pod(name: str, ns: str, owner: dict[str, Any] | None) -> dict[str, Any]:
    refs = [{"controller": True, **owner}] if owner else []
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"u-{ns}-{name}",
            "ownerReferences": refs,
        }
    }


def _state(**objects: list[dict[str, Any]]) -> ClusterState:
    return ClusterState.build(objects, now=datetime.now(UTC), scope=Scope(None))


RS = {"kind": "ReplicaSet", "name": "web-5d9", "uid": "u-rs"}


def test_the_pods_of_one_replicaset_name_its_deployment() -> None:
    rs = {
        "metadata": {
            "name": "web-5d9",
            "namespace": "a",
            "uid": "u-rs",
            "ownerReferences": [
                {"controller": True, "kind": "Deployment", "name": "web", "uid": "u-dep"}
            ],
        }
    }
    dep = {"metadata": {"name": "web", "namespace": "a", "uid": "u-dep"}}
    pods = [_pod("web-5d9-x", "a", RS), _pod("web-5d9-y", "a", RS), _pod("bare", "a", None)]
    state = _state(pods=pods, replicasets=[rs], deployments=[dep])
    x, y, bare = (state.workload_of(p) for p in pods)
    assert x == y == ObjectRef("Deployment", "a", "web", "u-dep")
    assert bare is None


def test_an_owner_not_fetched_is_named_in_each_pods_own_namespace() -> None:
    # The same reference in two namespaces (nothing fetched to follow it to): each pod's
    # answer carries its own namespace, however the first one was remembered.
    pods = [_pod("p", "a", RS), _pod("p", "b", RS)]
    state = _state(pods=pods)
    assert [state.workload_of(p) for p in pods] == [
        ObjectRef("ReplicaSet", "a", "web-5d9", "u-rs"),
        ObjectRef("ReplicaSet", "b", "web-5d9", "u-rs"),
    ]


def test_references_that_differ_in_any_part_are_not_taken_for_one() -> None:
    owners: list[dict[str, Any]] = [
        {"kind": "ReplicaSet", "name": "None", "uid": "u"},
        {"kind": "ReplicaSet", "name": None, "uid": "u"},
        {"kind": "StatefulSet", "name": "None", "uid": "u"},
        {"kind": "ReplicaSet", "name": "None", "uid": "v"},
        {"kind": "ReplicaSet", "name": {"odd": 1}, "uid": "u"},  # junk is still answered
    ]
    pods = [_pod(f"p{i}", "a", o) for i, o in enumerate(owners)]
    state = _state(pods=pods)
    found = [state.workload_of(p) for p in pods]
    assert [(r.kind, r.name, r.uid) for r in found if r] == [
        (o["kind"], o["name"], o["uid"]) for o in owners
    ]


def test_an_owner_is_found_only_where_the_garbage_collector_finds_it() -> None:
    # A namespaced owner resolves in its dependent's own namespace only; a cluster-scoped
    # one from anywhere (the collector's rule, OwnerRefInvalidNamespace since 1.20).  Only
    # an edited snapshot holds the other pairs; the fuzz tests made one, where a ReplicaSet
    # moved to another namespace was reported as its pods' controller.
    rs = {"metadata": {"name": "web-5d9", "namespace": "b", "uid": "u-rs"}}
    node = {"metadata": {"name": "n1", "uid": "u-node"}}
    here, there = _pod("web-5d9-x", "a", RS), _pod("web-5d9-y", "b", RS)
    state = _state(pods=[here, there], replicasets=[rs], nodes=[node])
    assert state.owner(there, RS) == ("ReplicaSet", rs)
    assert state.owner(here, RS) is None
    assert state.owner(here, {"kind": "Node", "name": "n1", "uid": "u-node"}) == ("Node", node)
    assert state.workload_of(there) == ObjectRef("ReplicaSet", "b", "web-5d9", "u-rs")
    # Not followed: named from the reference, in the pod's own namespace, as if not fetched.
    assert state.workload_of(here) == ObjectRef("ReplicaSet", "a", "web-5d9", "u-rs")
