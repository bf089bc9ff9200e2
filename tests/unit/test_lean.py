"""A diagnosis's fetch drops what no check reads; everything else stays as the API sent it.

``FetchOptions.lean`` drops the values ``logos_doctor/unread.py`` names as each page is
decoded.  Three things must hold: every check finds exactly the same without them, on every
recorded snapshot; no module that diagnoses names one of those fields (a check that starts
reading one must take it out of the list first); and the fetch drops those and nothing else,
while a fetch that is not lean (a snapshot's) drops none.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.registry import default_registry
from logos_doctor.runner import run_checks
from logos_doctor.state import ClusterState, Scope
from logos_doctor.unread import EVENT_INVOLVED, EVENT_METADATA, POD_STATUS, drop_unread
from tests.pages import OnePagePerKind
from tests.recorded import SNAPSHOTS, recorded

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))
CHECKS = list(default_registry())


def _without_unread(state: ClusterState) -> ClusterState:
    objects = {plural: copy.deepcopy(list(items)) for plural, items in state.objects.items()}
    for plural, items in objects.items():
        for obj in items:
            drop_unread(plural, obj)
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


def test_the_recordings_hold_the_fields_dropped() -> None:
    # Else the test above would compare nothing.
    events = pods = 0
    for name in NAMES:
        state, _ = recorded(name)
        events += sum(
            1
            for e in state.list_of("events")
            if set(EVENT_METADATA) <= e["metadata"].keys()
            and set(EVENT_INVOLVED) <= e["involvedObject"].keys()
        )
        pods += sum(1 for p in state.list_of("pods") if "podIPs" in p.get("status", {}))
    assert events > 100 and pods > 100


# The modules that diagnose: the checks, and the engine they read through.  Not the fetch,
# the snapshot, the fix or the exporter, which handle whole objects.
ROOT = Path(__file__).resolve().parents[2]
DIAGNOSING = [
    *sorted((ROOT / "checks").glob("*.py")),
    *(p for p in sorted((ROOT / "logos_doctor").glob("*.py")) if p.name != "unread.py"),
    *sorted((ROOT / "logos_doctor" / "render").rglob("*.py")),
]


@pytest.mark.parametrize("field", ["resourceVersion", *POD_STATUS])
def test_no_diagnosing_module_names_a_dropped_field(field: str) -> None:
    # Names and uids are read everywhere (of other kinds); these are named nowhere.
    naming = [p.name for p in DIAGNOSING if f'"{field}"' in p.read_text(encoding="utf-8")]
    assert len(DIAGNOSING) > 30
    assert naming == [], f"{naming} read {field}: take it out of logos_doctor/unread.py"


EVENT: dict[str, Any] = {
    "metadata": {
        "name": "web-1.18",
        "namespace": "n",
        "uid": "u-ev",
        "resourceVersion": "9001",
        "creationTimestamp": "2026-12-05T06:00:00Z",
        "labels": {"a": "b"},
    },
    "involvedObject": {
        "kind": "Pod",
        "namespace": "n",
        "name": "web-1",
        "uid": "u-pod",
        "resourceVersion": "7",
        "fieldPath": "spec.containers{web}",
    },
    "reason": "BackOff",
    "message": "Back-off restarting failed container",
    "type": "Warning",
    "count": 3,
}
POD: dict[str, Any] = {
    "metadata": {"name": "web-1", "namespace": "n", "uid": "u-pod", "resourceVersion": "7"},
    "status": {
        "phase": "Running",
        "hostIP": "10.0.0.1",
        "hostIPs": [{"ip": "10.0.0.1"}],
        "podIP": "10.1.0.5",
        "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}],
    },
}


def _fetch(lean: bool) -> ClusterState:
    options = FetchOptions(attempts=1, deadline=10, lean=lean)
    server = OnePagePerKind({"events": [EVENT], "pods": [POD]})
    return Fetcher(server, options).fetch(["events", "pods"], Scope(None))  # type: ignore[arg-type]


def test_a_lean_fetch_drops_what_unread_names_and_nothing_else() -> None:
    state = _fetch(lean=True)
    event, pod = copy.deepcopy(EVENT), copy.deepcopy(POD)
    for key in ("name", "uid", "resourceVersion"):
        del event["metadata"][key]
    del event["involvedObject"]["resourceVersion"]
    del pod["metadata"]["resourceVersion"]
    del pod["status"]["podIPs"], pod["status"]["hostIPs"]
    assert state.list_of("events") == [event]
    assert state.list_of("pods") == [pod]
    (read,) = state.events_for("Pod", pod)
    assert (read.reason, read.count) == ("BackOff", 3)


def test_a_fetch_that_is_not_lean_keeps_every_field() -> None:
    state = _fetch(lean=False)
    assert state.list_of("events") == [EVENT]
    assert state.list_of("pods") == [POD]
