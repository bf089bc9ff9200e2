"""workloads: Deployments and StatefulSets short of ready replicas, and crashing containers.

A workload finding is the symptom the other checks' root causes hang from: its ``affected``
pods are the not-ready ones, so the runner links it to the image-pull, crash or scheduling
finding about those pods, and its ``depends_on`` claims link it to pvc-pending.  A crash is
a root cause of its own and is reported on the Pod (the workload is its parent), because a
crash is a property of one pod's container, not of the controller.

Quiet by design: a rollout within its progress deadline whose missing replicas stay within
``maxUnavailable`` and whose new pods are merely starting, and pods younger than a short grace
period, are how a healthy cluster looks most of the time.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta

from logos_doctor.config import Config
from logos_doctor.events import evidence
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, age, meta, name, parse_time
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState
from logos_doctor.workloads import condition, container_states, is_ready, is_terminating, phase

# Container waiting reasons that do not fix themselves (anything but ContainerCreating and
# PodInitializing, the two normal stations on the way to Running).
STARTING = frozenset({"ContainerCreating", "PodInitializing"})
# A not-ready pod younger than this is starting, not failing, unless it already shows a failure.
GRACE = timedelta(minutes=2)
# An OOM kill this recent is worth a warning even when the container runs again.
RECENT_OOM = timedelta(hours=1)


def workloads(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per unhealthy workload, then one per pod and cause of container crashes."""
    for kind, plural in (("Deployment", "deployments"), ("StatefulSet", "statefulsets")):
        for wl in state.in_scope(plural):
            found = _workload(state, kind, wl)
            if found is not None:
                yield found
    for pod in state.in_scope("pods"):
        if not is_terminating(pod):
            yield from _crashes(state, pod)


def blocked(state: ClusterState, pod: Obj) -> str | None:
    """Why a pod cannot become ready by itself, or None when it is merely on its way."""
    sched = condition(pod, "PodScheduled")
    if sched and sched.get("status") == "False":
        return f"unschedulable: {sched.get('message') or sched.get('reason')}"
    for cs in container_states(pod):
        if cs.waiting_reason and cs.waiting_reason not in STARTING:
            return f"container {cs.name} {cs.waiting_reason}"
    born = parse_time(meta(pod).get("creationTimestamp"))
    if born and state.now - born > GRACE and phase(pod) == "Pending":
        return f"Pending for {age(born, state.now)}"
    ready = condition(pod, "Ready") or {}
    since = parse_time(ready.get("lastTransitionTime"))
    if phase(pod) == "Running" and since and state.now - since > GRACE and not is_ready(pod):
        return f"running but not ready for {age(since, state.now)}"
    return None


def _pods(state: ClusterState, kind: str, wl: Obj) -> list[Obj]:
    owners = state.children(wl, "ReplicaSet") if kind == "Deployment" else [wl]
    pods = [p for o in owners for p in state.children(o, "Pod")]
    return [p for p in pods if not is_terminating(p) and phase(p) not in ("Succeeded", "Failed")]


def _max_unavailable(kind: str, wl: Obj, desired: int) -> int:
    """How many replicas a rollout may take down (all of them for Recreate and OnDelete)."""
    strategy = (wl.get("spec") or {}).get("strategy" if kind == "Deployment" else "updateStrategy")
    strategy = strategy if isinstance(strategy, dict) else {}
    if strategy.get("type") in ("Recreate", "OnDelete"):
        return desired
    default = desired // 4 if kind == "Deployment" else 1  # the API's defaults: 25% and 1
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable")
    if isinstance(value, str) and re.fullmatch(r"\d{1,3}%", value):
        return desired * int(value[:-1]) // 100
    if isinstance(value, str) and re.fullmatch(r"\d{1,9}", value):
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _count(value: object) -> int:
    """A replica count from status, where anything but a non-negative int reads as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _rolling(kind: str, wl: Obj, desired: int) -> bool:
    status, md = wl.get("status") or {}, meta(wl)
    if _count(status.get("observedGeneration")) < _count(md.get("generation")):
        return True
    if kind == "StatefulSet":
        return status.get("currentRevision") != status.get("updateRevision")
    updated = _count(status.get("updatedReplicas"))
    return updated < desired or _count(status.get("replicas")) > updated


def _workload(state: ClusterState, kind: str, wl: Obj) -> Finding | None:
    spec, status = wl.get("spec") or {}, wl.get("status") or {}
    desired = _count(spec.get("replicas", 1))
    if desired == 0:
        return None  # scaled to zero on purpose
    available = _count(status.get("availableReplicas", status.get("readyReplicas")))
    short = max(0, desired - available)
    pods = _pods(state, kind, wl)
    not_ready = [p for p in pods if not is_ready(p)]
    why = {name(p): b for p in not_ready if (b := blocked(state, p))}
    progressing = condition(wl, "Progressing") or {}
    rolling = _rolling(kind, wl, desired)
    within = short <= _max_unavailable(kind, wl, desired)
    what, have = f"{kind} {name(wl)}", f"{available}/{desired} replicas available"
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        cause, message = "rollout-stuck", f"{what}: rollout exceeded its progress deadline; {have}"
    elif rolling and within:
        if not why:
            return None  # a rollout on its way, within what the strategy allows
        cause = "rollout-stuck"
        message = f"{what}: rollout blocked, {len(why)} pod(s) failing; {have}"
        message += _deadline_left(state, wl, progressing)
    elif short and (why or _old_enough(state, not_ready, status)):
        cause, message = "unavailable-replicas", f"{what}: {have}"
    else:
        return None
    severity = Severity.CRITICAL if available == 0 else Severity.WARNING
    lines = [f"pod {p}: {b}" for p, b in sorted(why.items())[:4]]
    if progressing.get("message"):
        lines.append(f"Progressing={progressing.get('status')}: {progressing['message']}")
    ns = meta(wl).get("namespace")
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for p in not_ready
        for v in (p.get("spec") or {}).get("volumes") or []
        if (v.get("persistentVolumeClaim") or {}).get("claimName")
    }
    return Finding(
        check="workloads",
        cause=cause,
        severity=severity,
        resource=ObjectRef.of(kind, wl),
        message=message,
        evidence=tuple(lines),
        remediation=_REMEDY[cause],
        # What the workload needs: its not-ready pods and their claims (findings about those
        # explain this one).
        depends_on=(
            *(ObjectRef.of("Pod", p) for p in not_ready),
            *(ObjectRef("PersistentVolumeClaim", ns, c) for c in sorted(claims)),
        ),
    )


def _old_enough(state: ClusterState, not_ready: list[Obj], status: Obj) -> bool:
    """Whether a shortfall with no visible failure has lasted past the grace period."""
    times = [parse_time(meta(p).get("creationTimestamp")) for p in not_ready]
    if not not_ready:  # fewer pods than desired and none to blame: quota, admission, ...
        times = [parse_time(c.get("lastTransitionTime")) for c in status.get("conditions") or []]
    return any(t is not None and state.now - t > GRACE for t in times) or not times


def _deadline_left(state: ClusterState, wl: Obj, progressing: Obj) -> str:
    seconds = _count((wl.get("spec") or {}).get("progressDeadlineSeconds"))
    since = parse_time(progressing.get("lastUpdateTime"))
    if not seconds or since is None or seconds > 10**8:
        return ""
    ends = since + timedelta(seconds=int(seconds))
    return f"; the controller declares it stuck in {age(state.now, ends)}"


def _crashes(state: ClusterState, pod: Obj) -> Iterator[Finding]:
    """crash-loop / oom-killed on one pod, one finding per cause, naming the containers."""
    found: defaultdict[tuple[str, bool], list[str]] = defaultdict(list)
    lines: list[str] = []
    finished, limits = _last_finished(pod), _memory_limits(pod)
    for cs in container_states(pod):
        oom = cs.last_terminated_reason == "OOMKilled"
        if cs.waiting_reason == "CrashLoopBackOff":
            found[("oom-killed" if oom else "crash-loop", False)].append(cs.name)
        elif oom and (t := finished.get(cs.name)) and state.now - t <= RECENT_OOM:
            found[("oom-killed", True)].append(cs.name)
        else:
            continue
        limit = f", memory limit {limits[cs.name]}" if oom and cs.name in limits else ""
        lines.append(
            f"container {cs.name}: restarted {cs.restarts} time(s), last exit code "
            f"{cs.last_exit_code} ({cs.last_terminated_reason}){limit}"
        )
    if not found:
        return
    backoffs = [
        e
        for e in state.events_for("Pod", pod)
        if e.reason == "BackOff" and e.message.startswith("Back-off restarting")
    ]
    lines += evidence(backoffs, state.now)
    for (cause, recovered), containers in sorted(found.items()):
        if recovered:
            doing = "was OOMKilled within the last hour and runs again"
        elif cause == "oom-killed":
            doing = "is OOMKilled and restarted in a back-off loop"
        else:
            doing = "keeps exiting and is restarted in a back-off loop (CrashLoopBackOff)"
        yield Finding(
            check="workloads",
            cause=cause,
            severity=Severity.WARNING if recovered else Severity.CRITICAL,
            resource=ObjectRef.of("Pod", pod),
            parent=state.workload_of(pod),
            message=f"pod {name(pod)}: container {', '.join(containers)} {doing}",
            evidence=tuple(lines),
            remediation=_REMEDY[cause],
        )


def _last_finished(pod: Obj) -> dict[str, datetime | None]:
    status = pod.get("status") or {}
    out: dict[str, datetime | None] = {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            term = (cs.get("lastState") or {}).get("terminated") or {}
            out[str(cs.get("name"))] = parse_time(term.get("finishedAt"))
    return out


def _memory_limits(pod: Obj) -> dict[str, str]:
    spec = pod.get("spec") or {}
    return {
        str(c.get("name")): str(((c.get("resources") or {}).get("limits") or {})["memory"])
        for c in (*(spec.get("initContainers") or []), *(spec.get("containers") or []))
        if ((c.get("resources") or {}).get("limits") or {}).get("memory")
    }


_REMEDY = {
    "unavailable-replicas": "Read the findings it links to (image pull, crash, scheduling, "
    "claims) for why the pods are not ready; the workload recovers once they are.",
    "rollout-stuck": "The new revision's pods do not become ready: fix the cause it links to "
    "and the rollout continues, or roll back with 'kubectl rollout undo'.",
    "crash-loop": "Read the previous run's log ('kubectl logs --previous'); the exit code and "
    "the last lines usually name a missing setting, secret or dependency.",
    "oom-killed": "The container exceeded its memory limit: raise the limit (and request) or "
    "find what makes it grow; restarting alone will not help.",
}

CHECK = Check(
    id="workloads",
    title="Deployments and StatefulSets short of ready replicas; crashing containers",
    severity=Severity.CRITICAL,
    kinds=("deployments", "statefulsets", "replicasets", "pods"),
    optional_kinds=("events",),
    causes=("unavailable-replicas", "rollout-stuck", "crash-loop", "oom-killed"),
    run=workloads,
)
