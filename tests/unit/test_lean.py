"""A diagnosis's fetch drops what no check reads; everything else stays as the API sent it.

``FetchOptions.lean`` drops an event's own name, uid and resourceVersion
(``events.UNREAD_METADATA``) as each page is decoded.  Two things must hold: every check
finds exactly the same without them, on every recorded snapshot, and the fetch drops those
three and nothing else (a snapshot's fetch, not lean, drops none).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.events import UNREAD_METADATA
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState, Scope
from tests.recorded import SNAPSHOTS, recorded

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))
CHECKS = list(default_registry())


def _without_unread(state: ClusterState) -> ClusterState:
    objects = {plural: list(items) for plural, items in state.objects.items()}
    events = copy.deepcopy(list(objects.get("events", ())))
    for event in events:
        for key in UNREAD_METADATA:
            event["metadata"].pop(key, None)
    objects["events"] = events
    lean = ClusterState.build(
        objects,
        now=state.now,
        scope=state.scope,
        cluster=state.cluster,
        unavailable=state.unavailable,
        prometheus=state.prometheus,
    )
    return lean


@pytest.mark.parametrize("name", NAMES)
def test_checks_find_the_same_without_what_a_lean_fetch_drops(name: str) -> None:
    state, config = recorded(name)
    lean = _without_unread(state)
    expected = run_checks(state, CHECKS, config)
    found = run_checks(lean, CHECKS, config)
    assert [repr(f) for f in found.findings] == [repr(f) for f in expected.findings]
    assert [(r.id, r.status, r.detail) for r in found.results] == [
        (r.id, r.status, r.detail) for r in expected.results
    ]


def test_the_recordings_hold_events_with_the_fields_dropped() -> None:
    # Else the test above would compare nothing.
    with_all = 0
    for name in NAMES:
        state, _ = recorded(name)
        with_all += sum(
            1 for e in state.list_of("events") if set(UNREAD_METADATA) <= e["metadata"].keys()
        )
    assert with_all > 100


EVENT: dict[str, Any] = {
    "metadata": {
        "name": "web-1.18",
        "namespace": "n",
        "uid": "u-ev",
        "resourceVersion": "9001",
        "creationTimestamp": "2026-12-05T06:00:00Z",
        "labels": {"a": "b"},
    },
    "involvedObject": {"kind": "Pod", "namespace": "n", "name": "web-1", "uid": "u-pod"},
    "reason": "BackOff",
    "message": "Back-off restarting failed container",
    "type": "Warning",
    "count": 3,
}
POD: dict[str, Any] = {
    "metadata": {"name": "web-1", "namespace": "n", "uid": "u-pod", "resourceVersion": "7"}
}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.data = body

    def shutdown(self) -> None:
        pass

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class _Response:
    status, reason = 200, "OK"

    def __init__(self, body: bytes) -> None:
        self.response = _Raw(body)

    def getheader(self, name: str) -> str | None:
        return None


class _Server:
    """One page per kind: the event for events, the pod for pods."""

    context, server = "test", "https://lean.invalid"

    def send(self, method: str, path: str, query: Any = (), **_: Any) -> _Response:
        if path == "/version":
            return _Response(b'{"gitVersion": "v1.37.0"}')
        item = EVENT if path.endswith("/events") else POD
        return _Response(json.dumps({"metadata": {}, "items": [item]}).encode())


def _fetch(lean: bool) -> ClusterState:
    options = FetchOptions(attempts=1, deadline=10, lean=lean)
    return Fetcher(_Server(), options).fetch(["events", "pods"], Scope(None))  # type: ignore[arg-type]


def test_a_lean_fetch_drops_an_events_own_identity_and_nothing_else() -> None:
    state = _fetch(lean=True)
    (event,) = state.list_of("events")
    expected = copy.deepcopy(EVENT)
    for key in UNREAD_METADATA:
        del expected["metadata"][key]
    assert event == expected
    assert state.list_of("pods") == [POD]  # other kinds keep their identity
    (read,) = state.events_for("Pod", POD)
    assert (read.reason, read.count) == ("BackOff", 3)


def test_a_fetch_that_is_not_lean_keeps_every_field() -> None:
    state = _fetch(lean=False)
    assert state.list_of("events") == [EVENT]
    assert state.list_of("pods") == [POD]
