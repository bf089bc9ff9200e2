"""``ClusterState``: everything one run fetched, indexed for the checks.

A check is a pure function of this object.  It holds the objects as the API server sent them
(plain dicts, Secrets already stripped of their values), the moment they describe (``now``:
the fetch time, or a snapshot's time), the scope, and the kinds that could not be listed.
Indexes are built once here, so that no check scans the whole cluster per object.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Container, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from logos_doctor.cluster.kinds import KINDS
from logos_doctor.event_index import EventIndex
from logos_doctor.events import Event
from logos_doctor.objects import Obj, ObjectRef, controller_of, meta

T = TypeVar("T")


@dataclass(frozen=True)
class ClusterInfo:
    """Which cluster the state came from."""

    context: str | None = None
    server: str | None = None
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``cluster`` object of the JSON contract (without namespaces)."""
        return {"context": self.context, "server": self.server, "version": self.version}


@dataclass(frozen=True)
class Scope:
    """The namespaces a run looks at; ``None`` means all of them."""

    namespaces: tuple[str, ...] | None
    # Namespaces listed for one kind beyond ``namespaces``, as (plural, namespaces) pairs: the
    # ServiceMonitors in the monitoring namespace that a ``-n logos`` run must still see.
    also: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Prometheus's HTTP API, read in the fetch phase when the config names one (live only).
    prometheus: str | None = None

    def includes(self, ns: str | None) -> bool:
        """Whether an object in namespace ``ns`` (None: cluster-scoped) is in scope."""
        return ns is None or self.namespaces is None or ns in self.namespaces

    def also_for(self, plural: str) -> tuple[str, ...]:
        """The namespaces listed for ``plural`` beyond the scope's own."""
        return next((names for kind, names in self.also if kind == plural), ())

    def lists(self, plural: str, ns: str | None) -> bool:
        """Whether objects of ``plural`` in namespace ``ns`` were listed (in scope or beyond)."""
        return self.includes(ns) or ns in self.also_for(plural)

    def without(self, missed: Iterable[tuple[str, str]]) -> Scope:
        """This scope less the (plural, namespace) pairs beyond it that could not be listed."""
        drop = set(missed)
        if not drop:
            return self
        also = tuple(
            (kind, kept)
            for kind, names in self.also
            if (kept := tuple(n for n in names if (kind, n) not in drop))
        )
        return Scope(self.namespaces, also, self.prometheus)

    def describe(self) -> str:
        """``namespace logos`` or ``all namespaces``."""
        if self.namespaces is None:
            return "all namespaces"
        return "namespace " + ", ".join(self.namespaces)


@dataclass(frozen=True)
class ClusterState:
    """The fetched objects of one run, with indexes.  Build with ``ClusterState.build``."""

    objects: Mapping[str, Sequence[Obj]]
    now: datetime
    scope: Scope
    cluster: ClusterInfo = field(default_factory=ClusterInfo)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    # What Prometheus's own API said (logos_doctor.cluster.prometheus), when the config names
    # one: read in the fetch phase like the objects, so that checks stay pure.
    prometheus: Mapping[str, Any] | None = None
    _by_name: dict[tuple[str, str | None, str], Obj] = field(default_factory=dict, repr=False)
    _by_uid: dict[str, tuple[str, Obj]] = field(default_factory=dict, repr=False)
    _children: dict[str, list[tuple[str, Obj]]] = field(default_factory=dict, repr=False)
    _events: EventIndex = field(default_factory=EventIndex, repr=False, compare=False)
    _pods_by_node: dict[str, list[Obj]] = field(default_factory=dict, repr=False)
    _pods_by_claim: dict[tuple[str | None, str], list[Obj]] = field(
        default_factory=dict, repr=False
    )
    # Built on first use, per kind: a check that looks up per namespace or per selector, for
    # each of N objects, must not scan the whole cluster each time (N x cluster size).
    _by_namespace: dict[str, dict[str | None, list[Obj]]] = field(default_factory=dict, repr=False)
    _by_label: dict[tuple[str, str | None], dict[tuple[str, str], list[Obj]]] = field(
        default_factory=dict, repr=False
    )
    _workloads: dict[str | tuple[str], ObjectRef | None] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # The shared readers' per-run answers (``memo``).  Not an __init__ argument, so that a
    # ``replace(state, scope=...)`` starts with none: the answers may depend on the scope.
    _memo: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        objects: Mapping[str, Sequence[Obj]],
        *,
        now: datetime,
        scope: Scope,
        cluster: ClusterInfo | None = None,
        unavailable: Mapping[str, str] | None = None,
        prometheus: Mapping[str, Any] | None = None,
    ) -> ClusterState:
        """Index ``objects`` (plural kind -> items) into a state."""
        state = cls(
            objects={k: list(v) for k, v in objects.items()},
            now=now,
            scope=scope,
            cluster=cluster or ClusterInfo(),
            unavailable=dict(unavailable or {}),
            prometheus=prometheus,
        )
        state._index()
        return state

    def _index(self) -> None:
        by_name, by_uid = self._by_name, self._by_uid
        children: defaultdict[str, list[tuple[str, Obj]]] = defaultdict(list)
        for plural, items in self.objects.items():
            kind = KINDS[plural].kind if plural in KINDS else plural
            if plural == "events":
                continue
            for obj in items:
                md = meta(obj)
                by_name[(kind, md.get("namespace"), md.get("name", ""))] = obj
                if md.get("uid"):
                    by_uid[md["uid"]] = (kind, obj)
                for owner in md.get("ownerReferences") or []:
                    if owner.get("uid"):
                        children[owner["uid"]].append((kind, obj))
        self._children.update(children)

        object.__setattr__(self, "_events", EventIndex(self.objects.get("events", ())))

        by_node: defaultdict[str, list[Obj]] = defaultdict(list)
        by_claim: defaultdict[tuple[str | None, str], list[Obj]] = defaultdict(list)
        for pod in self.objects.get("pods", ()):
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                by_node[node].append(pod)
            for vol in (pod.get("spec") or {}).get("volumes") or []:
                claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    by_claim[(meta(pod).get("namespace"), claim)].append(pod)
        self._pods_by_node.update(by_node)
        self._pods_by_claim.update(by_claim)

    # -- lookups -------------------------------------------------------------------------

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, computed once per state for ``key`` (a shared reader's name).

        For answers several checks ask of the same objects (a pod's container statuses, the
        pods another check explains): at 90,000 objects each repeat costs tenths of a second.
        The answer must depend on this state alone, and its readers must not change it.
        """
        try:
            return cast(T, self._memo[key])
        except KeyError:
            return cast(T, self._memo.setdefault(key, make()))

    def has(self, plural: str) -> bool:
        """Whether this kind was fetched (listed successfully, possibly empty)."""
        return plural in self.objects and plural not in self.unavailable

    def list_of(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """All fetched objects of a kind, optionally in one namespace."""
        if namespace is None:
            return list(self.objects.get(plural, ()))
        return list(self._namespaced(plural).get(namespace, ()))

    def matching(
        self, plural: str, namespace: str | None, selector: Mapping[str, str]
    ) -> list[Obj]:
        """Objects of a kind in one namespace whose labels include every ``key: value`` of an
        equality selector (a Service's selector, a LabelSelector's matchLabels), in fetch
        order; an empty selector matches every object there, as in the API."""
        if not selector:
            return self.list_of(plural, namespace)
        index = self._labelled(plural, namespace)
        wanted = {k: str(v) for k, v in selector.items()}
        # Candidates: the objects carrying the rarest of the selector's pairs.
        shortest = min((index.get(pair, []) for pair in wanted.items()), key=len)
        return [o for o in shortest if _has_labels(o, wanted)]

    def _namespaced(self, plural: str) -> dict[str | None, list[Obj]]:
        index = self._by_namespace.get(plural)
        if index is None:
            with self._lock:
                built: defaultdict[str | None, list[Obj]] = defaultdict(list)
                for obj in self.objects.get(plural, ()):
                    built[meta(obj).get("namespace")].append(obj)
                index = self._by_namespace.setdefault(plural, dict(built))
        return index

    def _labelled(self, plural: str, namespace: str | None) -> dict[tuple[str, str], list[Obj]]:
        index = self._by_label.get((plural, namespace))
        if index is None:
            built: defaultdict[tuple[str, str], list[Obj]] = defaultdict(list)
            for obj in self._namespaced(plural).get(namespace, ()):
                for k, v in (meta(obj).get("labels") or {}).items():
                    built[(k, str(v))].append(obj)
            with self._lock:
                index = self._by_label.setdefault((plural, namespace), dict(built))
        return index

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """One object by kind (``"Pod"``), namespace and name."""
        return self._by_name.get((kind, namespace, name))

    def by_uid(self, uid: str) -> tuple[str, Obj] | None:
        """``(kind, object)`` for a uid."""
        return self._by_uid.get(uid)

    def owner(self, dependent: Obj, ref: Mapping[str, Any]) -> tuple[str, Obj] | None:
        """``(kind, object)`` that ``ref``, one of ``dependent``'s ownerReferences, names.

        Resolved as the garbage collector resolves it: by uid, and a namespaced owner only
        in the dependent's own namespace.  One elsewhere is no owner: since 1.20 the
        collector treats it as absent and reports ``OwnerRefInvalidNamespace``
        (kubernetes.io/docs/concepts/architecture/garbage-collection/).  An API server
        cannot hold such a pair from a real controller; an edited snapshot can.
        """
        found = self._by_uid.get(str(ref.get("uid") or ""))
        if found is None:
            return None
        home = meta(found[1]).get("namespace")
        return found if not home or home == meta(dependent).get("namespace") else None

    def children(self, owner: Obj, kind: str | None = None) -> list[Obj]:
        """Objects whose ownerReferences name ``owner``, optionally of one kind."""
        owner_uid = meta(owner).get("uid")
        found = self._children.get(owner_uid, []) if owner_uid else []
        return [o for k, o in found if kind is None or k == kind]

    def top_owner(self, kind: str, obj: Obj) -> ObjectRef:
        """Follow controller ownerReferences up (Pod -> ReplicaSet -> Deployment)."""
        current_kind, current = kind, obj
        for _ in range(8):
            ref = controller_of(current)
            if not ref:
                break
            found = self.owner(current, ref)
            if found is None:
                # The owner was not fetched (or is gone): name it from the reference.
                return ObjectRef(
                    ref.get("kind", "?"),
                    meta(current).get("namespace"),
                    ref.get("name", "?"),
                    ref.get("uid"),
                )
            current_kind, current = found
        return ObjectRef.of(current_kind, current)

    def workload_of(self, pod: Obj) -> ObjectRef | None:
        """The Deployment/StatefulSet/... that controls a pod, or None for a bare pod."""
        uid = meta(pod).get("uid")
        if uid and uid in self._workloads:  # several checks ask, for every pod
            return self._workloads[uid]
        ref = controller_of(pod) or {}
        # And once per controller: its reference (and namespace, if not fetched) decides.
        owner = (meta(pod).get("namespace"), ref.get("kind"), ref.get("name"), ref.get("uid"))
        if (key := (repr(owner),)) not in self._workloads:  # repr: junk values hash too
            top = self.top_owner("Pod", pod)
            self._workloads[key] = None if top.kind == "Pod" else top
        found = self._workloads[key]
        if uid:
            self._workloads[uid] = found
        return found

    def events_read(self, reasons: Container[str] | None = None) -> Iterator[tuple[Obj, Event]]:
        """Each event object with its ``Event`` (only those of ``reasons``, when given)."""
        return self._events.read(reasons)

    def events_for(self, kind: str, obj: Obj, of_type: str | None = None) -> list[Event]:
        """Events about ``obj``: by uid, plus name-matched events that carry no uid; with
        ``of_type`` (``"Warning"``), only those of that type, the others never read.

        Matching by name alone would blame an object for events of a deleted namesake (a
        recreated claim of the same name is the classic case), so uid wins whenever present.
        """
        return self._events.about(kind, obj, of_type)

    def pods_on_node(self, node: str) -> list[Obj]:
        """Pods bound to a node."""
        return list(self._pods_by_node.get(node, ()))

    def pods_using_claim(self, namespace: str | None, claim: str) -> list[Obj]:
        """Pods that mount a PersistentVolumeClaim."""
        return list(self._pods_by_claim.get((namespace, claim), ()))

    def in_scope(self, plural: str) -> Iterable[Obj]:
        """Objects of a kind inside the run's namespace scope."""
        if self.scope.namespaces is None:  # all namespaces (-A): no test per object
            return iter(self.objects.get(plural, ()))
        return (
            o for o in self.objects.get(plural, ()) if self.scope.includes(meta(o).get("namespace"))
        )


def _has_labels(obj: Obj, wanted: Mapping[str, str]) -> bool:
    labels = meta(obj).get("labels") or {}
    return all(k in labels and str(labels[k]) == v for k, v in wanted.items())
