"""A state's events, indexed as the API server sent them, each read into an ``Event`` when a
check first asks for it.

A run's checks read a few percent of a cluster's events: on the benchmark cluster at scale 1,
1,344 of 30,867 (the events of the objects in trouble, and the containers check's six
reasons).  Reading every one when the state was built cost 0.09 s of each run there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterator, Sequence

from logos_doctor.events import Event
from logos_doctor.objects import Obj, meta

Named = tuple[str, str | None, str]  # kind, namespace, name


class EventIndex:
    """Event objects by the uid of the object they are about, else by its kind and name.

    Each is read once (``event``), remembered by its id: the objects live as long as the
    state that holds them, so an id cannot pass to another while the index is used.
    """

    __slots__ = ("_all", "_by_name", "_by_uid", "_read")

    def __init__(self, events: Sequence[Obj] = ()) -> None:
        by_uid: defaultdict[str, list[Obj]] = defaultdict(list)
        by_name: defaultdict[Named, list[Obj]] = defaultdict(list)
        for raw in events:
            involved = raw.get("involvedObject") or raw.get("regarding") or {}
            if involved.get("uid"):
                by_uid[involved["uid"]].append(raw)
            else:
                key = (
                    involved.get("kind", ""),
                    involved.get("namespace"),
                    involved.get("name", ""),
                )
                by_name[key].append(raw)
        self._all = events
        self._by_uid = dict(by_uid)
        self._by_name = dict(by_name)
        self._read: dict[int, Event] = {}

    def event(self, raw: Obj) -> Event:
        """``Event.from_obj(raw)`` of one of the indexed event objects, read once."""
        found = self._read.get(id(raw))
        if found is None:
            found = self._read[id(raw)] = Event.from_obj(raw)
        return found

    def about(self, kind: str, obj: Obj, of_type: str | None = None) -> list[Event]:
        """Events about ``obj``: by uid, plus name-matched events that carry no uid; with
        ``of_type``, only those of that type, told as ``Event.from_obj`` reads it, before
        the rest is read."""
        md = meta(obj)
        raws = self._by_uid.get(md.get("uid", ""), [])
        named = self._by_name.get((kind, md.get("namespace"), md.get("name", "")))
        found = raws + named if named else raws
        if of_type is not None:
            return [self.event(raw) for raw in found if str(raw.get("type") or "Normal") == of_type]
        return [self.event(raw) for raw in found]

    def read(self, reasons: Container[str] | None = None) -> Iterator[tuple[Obj, Event]]:
        """Each event object with its ``Event``; with ``reasons``, only the events of those,
        told by the reason's text as ``Event.from_obj`` reads it, before the rest is read."""
        for raw in self._all:
            if reasons is None or str(raw.get("reason") or "") in reasons:
                yield raw, self.event(raw)
