"""The event index reads each event when it is first asked for, and answers as if it had read
them all when the state was built: on every recorded snapshot, and on reasons that are not
strings."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from logos_doctor.cluster.kinds import KINDS
from logos_doctor.event_index import EventIndex
from logos_doctor.events import Event
from logos_doctor.objects import Obj
from recorded import SNAPSHOTS, recorded

NAMES = sorted(p.name.removesuffix(".json.gz") for p in SNAPSHOTS.glob("*.json.gz"))


def _about_by_reading_all(events: list[Obj], kind: str, obj: Obj) -> list[Event]:
    """``events_for`` as the state answered it when every event was read at build time."""
    md = obj.get("metadata") or {}
    by_uid, by_name = [], []
    for raw in events:
        involved = raw.get("involvedObject") or raw.get("regarding") or {}
        if involved.get("uid"):
            if involved["uid"] == md.get("uid", ""):
                by_uid.append(Event.from_obj(raw))
        elif (involved.get("kind", ""), involved.get("namespace"), involved.get("name", "")) == (
            kind,
            md.get("namespace"),
            md.get("name", ""),
        ):
            by_name.append(Event.from_obj(raw))
    return by_uid + by_name


@pytest.mark.parametrize("scenario", NAMES)
def test_every_recorded_event_is_answered_as_if_all_were_read_first(scenario: str) -> None:
    state, _ = recorded(scenario)
    events = list(state.objects.get("events", ()))
    index = EventIndex(events)
    assert [e for _, e in index.read()] == [Event.from_obj(raw) for raw in events]
    common = {reason for reason, _ in Counter(str(r.get("reason")) for r in events).most_common(2)}
    wanted = common | {"Failed", "Unhealthy", "no such reason"}
    assert [(r, e) for r, e in index.read(wanted)] == [
        (r, e) for r, e in index.read() if e.reason in wanted
    ]
    for plural, items in state.objects.items():
        kind = KINDS[plural].kind if plural in KINDS else plural
        for obj in items:
            everything = _about_by_reading_all(events, kind, obj)
            assert index.about(kind, obj) == everything
            assert index.about(kind, obj, "Warning") == [
                e for e in everything if e.type == "Warning"
            ]


@pytest.mark.parametrize("kind", ["Warning", "Normal", None, "", 5])
def test_events_of_a_type_are_told_as_read_and_the_others_not_read(kind: Any) -> None:
    raws: list[Obj] = [
        {"reason": "R", "type": kind, "involvedObject": {"kind": "Pod", "uid": "u"}},
        {"reason": "S", "type": "Warning", "involvedObject": {"kind": "Pod", "uid": "u"}},
    ]
    pod: Obj = {"metadata": {"uid": "u"}}
    index = EventIndex(raws)
    warnings = index.about("Pod", pod, "Warning")
    assert [e.reason for e in warnings] == (["R", "S"] if kind == "Warning" else ["S"])
    assert len(index._read) == len(warnings)  # the Normal one was never read
    assert [e.type for e in index.about("Pod", pod)] == [Event.from_obj(raws[0]).type, "Warning"]


def test_an_event_is_read_once_and_the_same_object_is_handed_to_every_reader() -> None:
    state, _ = recorded("real_readiness_failing")
    events = list(state.objects["events"])
    index = EventIndex(events)
    (pod,) = state.objects["pods"]
    about = index.about("Pod", pod)
    raws = _raws_of(events, pod)
    assert about and all(a is index.event(raw) for a, raw in zip(about, raws, strict=True))
    assert [e for _, e in index.read()] == [index.event(raw) for raw in events]
    assert all(e is index.event(raw) for raw, e in index.read())


def _raws_of(events: list[Obj], pod: Obj) -> list[Obj]:
    uid = pod["metadata"]["uid"]
    return [r for r in events if (r.get("involvedObject") or {}).get("uid") == uid]


@pytest.mark.parametrize("reason", [5, None, "", ["Failed"], {"Failed": 1}, True])
def test_a_reason_that_is_not_a_string_is_told_by_its_text(reason: Any) -> None:
    raw: Obj = {"reason": reason, "message": "m", "involvedObject": {"kind": "Pod", "uid": "u"}}
    index = EventIndex([raw])
    text = Event.from_obj(raw).reason
    assert [e.reason for _, e in index.read({text})] == [text]
    assert list(index.read({"Failed"})) == ([] if text != "Failed" else [(raw, index.event(raw))])
