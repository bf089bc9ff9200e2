"""warnings: nothing real is silent.

Every other check knows a family of causes.  An incident outside all of them (a CNI that
cannot set up the pod network, a CSI driver's new error, an admission plugin nobody listed)
would show up, at best, as "Deployment X: 1/3 replicas available" with no cause, or not at
all.  This pass runs after the other checks and reports each unhealthy object whose Warning
events or failing conditions no check has explained, quoting the component, reason and
message, so the on-call engineer reads the cluster's own words on the first screen.

It stays quiet on healthy objects (a Warning on a pod that is Ready now is history), on
objects younger than a short grace period (a pod still starting), on events older than the
object's last change to unhealthy, and on objects another finding already explains.  A
finding that only says *what* is wrong (a symptom: a Deployment short of replicas) does not
count as an explanation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.events import Event
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, mappings, meta, name, parse_time
from logos_doctor.pods import condition_said
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

CAUSES = Causes(
    "warnings",
    Cause(
        "unrecognised",
        Severity.WARNING,
        "An unhealthy object has warnings no check recognises",
        remediation=(
            "Read the quoted message of {source}: it is the component's own account of the "
            "failure. 'kubectl describe {kind_lower} {name} -n {namespace}' shows it in context."
        ),
    ),
)

# A state younger than this may still be on its way to healthy (a pod pulling, a claim
# provisioning): a single warning then is ambiguous and waits; a repeated one, or a stuck
# container or a telling condition in the status, does not.
GRACE = timedelta(seconds=60)
# Events live an hour by default (--event-ttl); older ones in a snapshot are history.
RECENT = timedelta(hours=1)

# The conditions that carry a cause in their reason and message, per kind.  Others (a
# Deployment's Available=False "does not have minimum availability", a pod's Ready=False
# "containers with unready status") only restate that the object is unhealthy.
_TELLING: dict[str, dict[str, str]] = {
    "Pod": {"PodScheduled": "False"},
    "ReplicaSet": {"ReplicaFailure": "True"},
    "Deployment": {"ReplicaFailure": "True"},
    "StatefulSet": {"ReplicaFailure": "True"},
    "Job": {"Failed": "True"},
    "Node": {
        "Ready": "False",
        "MemoryPressure": "True",
        "DiskPressure": "True",
        "PIDPressure": "True",
        "NetworkUnavailable": "True",
    },
    "HorizontalPodAutoscaler": {"ScalingActive": "False", "AbleToScale": "False"},
}
# Waiting reasons that mean "on its way", not "stuck".
_ON_ITS_WAY = frozenset({"ContainerCreating", "PodInitializing"})


@dataclass(frozen=True)
class _Subject:
    """An object the pass looks at: its kind, and since when it has been unhealthy."""

    kind: str
    obj: Obj
    since: datetime | None
    young: bool = False


def warnings(state: ClusterState, config: Config, found: Sequence[Finding]) -> Iterator[Finding]:
    """Report unhealthy objects whose warnings no other finding explains.

    Pods of one controller that say the same thing are one finding (the first pod, the others
    as ``affected``); a controller whose pods or ReplicaSet were already reported is not
    reported again for the same trouble.
    """
    explained = _explained(found)
    groups: dict[tuple[object, ...], list[tuple[_Subject, list[_Line], ObjectRef]]] = {}
    for subject in _unhealthy(state):
        if _named(subject.kind, subject.obj) in explained:  # most are: no ObjectRef made
            continue
        ref = ObjectRef.of(subject.kind, subject.obj)
        top = _top(state, subject)
        # Nearest first, and each only when the one before is not explained: most subjects
        # of a faulty cluster are, and their owners and descendants cost the most to read.
        if _ident(top) in explained or any(r in explained for r in _related(state, subject)):
            continue
        said = _warnings(state, subject)
        shown = _conditions(subject)
        lines = said + shown
        if not lines:
            continue
        if subject.young and not shown and all(count < 2 for count in _counts(state, subject)):
            continue  # one warning on an object still starting may be a hiccup: wait
        if subject.kind == "Pod" and top.kind != "Pod":
            # Grouped by what the first warning says, not by its count or age: pods whose
            # events are 3 and 4 minutes old are the same trouble, and a grouping by the
            # evidence line regrouped them as the minutes passed (findings came and went
            # on a cluster nobody touched, and serve's series flapped).
            key: tuple[object, ...] = ("pods-of", _ident(top), lines[0][2])
        else:
            key = ("object", _ident(ref))
        groups.setdefault(key, []).append((subject, lines, top))
    reported: set[tuple[str, str | None, str]] = set()
    for members in groups.values():
        subject, lines, top = members[0]
        ref = ObjectRef.of(subject.kind, subject.obj)
        if _ident(ref) in reported:
            continue
        owners = _owners(state, subject)
        others = tuple(ObjectRef.of(s.kind, s.obj) for s, _, _ in members[1:])
        reported.update(_ident(r) for r in (ref, *owners, *others))
        source, first, _ = lines[0]
        more = f" (and {len(others)} more pods of {top.kind} {top.name})" if others else ""
        yield CAUSES["unrecognised"].finding(
            resource=ref,
            parent=None if top == ref else top,
            message=f"{subject.kind} {name(subject.obj)}{more} is unhealthy and no check "
            f"recognises why: {first}",
            evidence=tuple(text for _, text, _ in lines[:6]),
            affected=(*others, *owners),
            source=source,
            kind_lower=subject.kind.lower(),
            name=name(subject.obj),
            namespace=meta(subject.obj).get("namespace") or "default",
        )


def _top(state: ClusterState, subject: _Subject) -> ObjectRef:
    """The controller at the top of the subject's owners, or the subject itself; a pod's
    through ``workload_of``, which the other checks have already read for every pod."""
    found = state.workload_of(subject.obj) if subject.kind == "Pod" else None
    return found if found is not None else state.top_owner(subject.kind, subject.obj)


def _ident(ref: ObjectRef) -> tuple[str, str | None, str]:
    return (ref.kind, ref.namespace, ref.name)


def _explained(found: Sequence[Finding]) -> set[tuple[str, str | None, str]]:
    """Objects a non-symptom finding is about, or lists as blocked by it."""
    out: set[tuple[str, str | None, str]] = set()
    for f in found:
        if f.symptom:
            continue
        out.add(_ident(f.resource))
        out.update(_ident(r) for r in f.affected)
    return out


def _owners(state: ClusterState, subject: _Subject) -> tuple[ObjectRef, ...]:
    """The controllers above an object (ReplicaSet, Deployment), which this finding explains."""
    return tuple(ObjectRef.of(kind, obj) for kind, obj in _above(state, subject))


def _above(state: ClusterState, subject: _Subject) -> Iterator[tuple[str, Obj]]:
    """Each controller above an object, nearest first, up to four."""
    obj = subject.obj
    for _ in range(4):
        ref = next(
            (r for r in mappings(meta(obj).get("ownerReferences")) if r.get("controller")), None
        )
        if ref is None:
            return
        hit = state.owner(obj, ref)
        if hit is None:
            return
        yield hit
        obj = hit[1]


def _related(state: ClusterState, subject: _Subject) -> Iterator[tuple[str, str | None, str]]:
    """The objects a finding explains the subject through, as ``_ident`` names them: the
    controllers above it, then a controller's ReplicaSets and pods (explaining one of them
    explains the controller).  Named without an ``ObjectRef`` each, and one at a time, so
    that the first one explained ends the walk: a subject's relatives number in the tens,
    and tens of thousands of subjects are asked about on a large faulty cluster."""
    for kind, obj in _above(state, subject):
        yield _named(kind, obj)
    todo = [subject.obj]
    for _ in range(2):
        nxt = []
        for obj in todo:
            for child in state.children(obj):
                hit = state.by_uid(str(meta(child).get("uid") or ""))
                if hit is not None:
                    yield _named(hit[0], child)
                    nxt.append(child)
        todo = nxt


def _named(kind: str, obj: Obj) -> tuple[str, str | None, str]:
    """``_ident(ObjectRef.of(kind, obj))``, without making the reference."""
    md = obj.get("metadata") or {}
    return (kind, md.get("namespace"), md.get("name", ""))


def _unhealthy(state: ClusterState) -> Iterator[_Subject]:
    now = state.now
    for pod in _listed(state, "pods"):
        status = pod.get("status") or {}
        if status.get("phase") == "Succeeded" or meta(pod).get("deletionTimestamp"):
            continue
        ready = _condition(pod, "Ready")
        if ready and ready.get("status") == "True":
            continue
        since = parse_time((ready or {}).get("lastTransitionTime")) or _created(pod)
        yield _Subject("Pod", pod, since, young=since is not None and now - since < GRACE)
    # ReplicaSets before their Deployments: the ReplicaSet holds the controller's own words
    # (FailedCreate); the Deployment above it is then not reported a second time.
    for plural, kind in (
        ("replicasets", "ReplicaSet"),
        ("deployments", "Deployment"),
        ("statefulsets", "StatefulSet"),
        ("daemonsets", "DaemonSet"),
    ):
        for wl in _listed(state, plural):
            if _short(kind, wl):
                yield _Subject(kind, wl, None, young=_young(wl, now))
    for job in _listed(state, "jobs"):
        failed = _condition(job, "Failed")
        if failed and failed.get("status") == "True":
            yield _Subject("Job", job, parse_time(failed.get("lastTransitionTime")))
    for pvc in _listed(state, "persistentvolumeclaims"):
        if (pvc.get("status") or {}).get("phase") != "Bound":
            yield _Subject("PersistentVolumeClaim", pvc, None, young=_young(pvc, now))
    for node in _listed(state, "nodes"):
        ready = _condition(node, "Ready")
        if ready is not None and ready.get("status") != "True":
            yield _Subject("Node", node, parse_time(ready.get("lastTransitionTime")))
    for hpa in _listed(state, "horizontalpodautoscalers"):
        conditions = mappings((hpa.get("status") or {}).get("conditions"))
        if any(_telling("HorizontalPodAutoscaler", c) for c in conditions):
            yield _Subject("HorizontalPodAutoscaler", hpa, None)


def _listed(state: ClusterState, plural: str) -> list[Obj]:
    return list(state.in_scope(plural)) if state.has(plural) else []


def _short(kind: str, wl: Obj) -> bool:
    spec, status = wl.get("spec") or {}, wl.get("status") or {}
    if kind == "DaemonSet":
        return int(status.get("numberUnavailable") or 0) > 0
    desired = int(spec.get("replicas", 1) or 0)
    if desired == 0:
        return False
    have = status.get("availableReplicas") if kind != "StatefulSet" else status.get("readyReplicas")
    failed = _condition(wl, "ReplicaFailure")
    return int(have or 0) < desired or bool(failed and failed.get("status") == "True")


def _created(obj: Obj) -> datetime | None:
    return parse_time(meta(obj).get("creationTimestamp"))


def _young(obj: Obj, now: datetime) -> bool:
    created = _created(obj)
    return created is not None and now - created < GRACE


def _condition(obj: Obj, kind: str) -> Obj | None:
    return next(
        (c for c in mappings((obj.get("status") or {}).get("conditions")) if c.get("type") == kind),
        None,
    )


def _telling(kind: str, cond: Obj) -> bool:
    return _TELLING.get(kind, {}).get(str(cond.get("type"))) == cond.get("status")


# (who says it, the evidence line, what it says: the line without count and age)
_Line = tuple[str, str, str]


def _warnings(state: ClusterState, subject: _Subject) -> list[_Line]:
    """Each recent Warning as a line, most repeated first."""
    now = state.now
    passed = subject.kind == "Pod" and _all_containers_ready(subject.obj)
    events = [
        e
        for e in state.events_for(subject.kind, subject.obj, "Warning")
        if e.last is not None
        and now - e.last <= RECENT
        and (subject.since is None or e.last >= subject.since - timedelta(seconds=5))
        # A container is ready only after its readiness probe passed: a failure before
        # that (a server not listening yet) is history.  What keeps such a pod unready is
        # not a probe (a readiness gate: the containers check's).
        and not (passed and e.reason == "Unhealthy" and e.message.startswith(_READINESS))
    ]
    merged: dict[tuple[str, str], Event] = {}
    for e in events:
        seen = merged.get((e.reason, e.message))
        if seen is None or (e.last and seen.last and e.last > seen.last):
            total = e.count + (seen.count if seen else 0)
            merged[(e.reason, e.message)] = Event(
                e.reason, e.message, e.type, total, e.first, e.last, e.source
            )
        else:
            merged[(e.reason, e.message)] = Event(
                seen.reason,
                seen.message,
                seen.type,
                seen.count + e.count,
                seen.first,
                seen.last,
                seen.source,
            )
    ranked = sorted(merged.values(), key=lambda e: (e.count, e.last or now), reverse=True)
    return [
        (
            e.source or "the cluster",
            f"{e.source or '?'}: {e.describe(now)}",
            f"{e.source or '?'}: {e.reason}: {e.message}",
        )
        for e in ranked
    ]


# pkg/kubelet/prober/prober.go: "%s probe failed: %s" / "%s probe errored...", with
# probeType.String() "Readiness" (prober_manager.go).
_READINESS = "Readiness probe "


def _all_containers_ready(pod: Obj) -> bool:
    """The kubelet's ContainersReady=True (pkg/kubelet/status/generate.go: every container
    and every sidecar, a restartable init container, ready), and each container says so."""
    ready = _condition(pod, "ContainersReady")
    statuses = mappings((pod.get("status") or {}).get("containerStatuses"))
    return (
        ready is not None
        and ready.get("status") == "True"
        and bool(statuses)
        and all(cs.get("ready") is True for cs in statuses)
    )


def _counts(state: ClusterState, subject: _Subject) -> list[int]:
    return [e.count for e in state.events_for(subject.kind, subject.obj, "Warning")]


def _conditions(subject: _Subject) -> list[_Line]:
    """Lines from the status itself: telling conditions, and a pod's stuck containers.

    The status outlives the events (an hour by default), so an old incident still has its
    words here.
    """
    out: list[_Line] = []
    status = subject.obj.get("status") or {}
    for cond in mappings(status.get("conditions")):
        if _telling(subject.kind, cond) and (cond.get("reason") or cond.get("message")):
            text = f"condition {cond.get('type')}={cond.get('status')}{condition_said(cond)}"
            out.append((f"the {cond.get('type')} condition", text, text))
    if subject.kind != "Pod":
        return out
    for field in ("initContainerStatuses", "containerStatuses"):
        for cs in mappings(status.get(field)):
            state = cs.get("state") or {}
            waiting = state.get("waiting") or {}
            reason = str(waiting.get("reason") or "")
            if reason and reason not in _ON_ITS_WAY:
                text = f"container {cs.get('name')} waiting: {reason}"
                if waiting.get("message"):
                    text += f": {str(waiting.get('message')).strip()}"
                line = f"kubelet (container status): {text}"
                out.append(("the kubelet", line, line))
            done = state.get("terminated") or {}
            if done and done.get("exitCode") not in (0, None):
                text = (
                    f"container {cs.get('name')} terminated: {done.get('reason') or 'Error'}"
                    f" (exit code {done.get('exitCode')})"
                )
                if done.get("message"):
                    text += f": {str(done.get('message')).strip()}"
                line = f"kubelet (container status): {text}"
                out.append(("the kubelet", line, line))
    return out


def _unused(state: ClusterState, config: Config) -> Iterator[Finding]:
    return iter(())  # the work is done in ``review``, after the other checks


CHECK = Check(
    id="warnings",
    title="Unhealthy objects whose warnings no other check explains",
    severity=Severity.WARNING,
    kinds=("events",),
    optional_kinds=(
        "pods",
        "deployments",
        "statefulsets",
        "replicasets",
        "daemonsets",
        "jobs",
        "persistentvolumeclaims",
        "nodes",
        "horizontalpodautoscalers",
    ),
    causes=CAUSES,
    run=_unused,
    review=warnings,
)
