"""workloads: Deployments and StatefulSets short of ready replicas, and crashing containers.

A workload finding is the symptom the other checks' root causes hang from: its ``depends_on``
names its not-ready pods, their claims and its active ReplicaSets, so the runner links it to
the image-pull, crash, scheduling, Secret or admission finding about those.  A crash is a
root cause of its own and is reported on the Pod (the workload is its parent), because a
crash is a property of one pod's container, not of the controller.

What counts as a crash is read from the kubelet's own fields and events, in every shape it
writes them (sources: kubernetes pkg/kubelet/kuberuntime/kuberuntime_manager.go ``doBackOff``,
pkg/kubelet/container/sync_result.go ``ErrCrashLoopBackOff``):

- ``state.waiting.reason: CrashLoopBackOff`` with the message ``back-off 40s restarting
  failed container=NAME pod=POD_NS(UID)``, on containers and on init containers (kubectl
  shows the latter as ``Init:CrashLoopBackOff``);
- a container ``running`` again between two back-offs, whose ``lastState.terminated``
  finished within the kubelet's back-off reset window and whose restarts keep coming: the
  kubelet's ``BackOff`` events ``Back-off restarting failed container NAME in pod
  POD_NS(UID)`` (kubelets before 1.26 wrote ``Back-off restarting failed container``,
  without the names), or, once events have expired, a restart count that keeps growing
  with short runs;
- ``lastState.terminated.reason: OOMKilled`` (exit code 137), looping or recovered.

A definitive failure signal is reported at once, without the grace period an ambiguous
state gets: a ReplicaSet (or StatefulSet) whose pods are refused creation (condition
``ReplicaFailure=True`` reason ``FailedCreate``, from pkg/controller/replicaset/replica_set.go,
copied onto the Deployment by pkg/controller/deployment/progress.go; event ``FailedCreate``
``Error creating: ...`` from pkg/controller/controller_utils.go, or on a StatefulSet
``create Pod NAME in StatefulSet NAME failed error: ...`` from
pkg/controller/statefulset/stateful_pod_control.go), and ``Progressing=False`` reason
``ProgressDeadlineExceeded`` (pkg/controller/deployment/util/deployment_util.go).

Quiet by design: a rollout within its progress deadline whose missing replicas stay within
``maxUnavailable`` and whose new pods are merely starting, pods younger than a short grace
period, workloads scaled to zero, pods of completed Jobs, and containers that restarted long
ago and have run since.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.events import Event, evidence
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import (
    Obj,
    ObjectRef,
    age,
    annotations_of,
    mapping,
    mappings,
    meta,
    name,
    parse_time,
)
from logos_doctor.pods import (
    ContainerState,
    condition,
    containers_of,
    exit_code_meaning,
    is_live,
    is_ready,
    live_pods,
    phase,
)
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

CAUSES = Causes(
    "workloads",
    Cause(
        "unavailable-replicas",
        Severity.CRITICAL,
        "A Deployment or StatefulSet has fewer available replicas than it asks for",
        remediation=(
            "Read the findings it links to (image pull, crash, scheduling, claims, Secrets, "
            "admission) for why the pods are not ready or not created; the workload recovers "
            "once they are."
        ),
        symptom=True,
    ),
    Cause(
        "rollout-stuck",
        Severity.WARNING,
        "A rollout does not advance: its new pods fail or are not created",
        remediation=(
            "The new revision's pods do not become ready: fix the cause it links to and the "
            "rollout continues, or roll back with 'kubectl rollout undo'."
        ),
        symptom=True,
    ),
    Cause(
        "crash-loop",
        Severity.CRITICAL,
        "A container keeps exiting and the kubelet restarts it with back-off",
        remediation=(
            "Read the previous run's log ('kubectl logs {pod} -c {container} --previous'); "
            "the exit code and the last lines usually name a missing setting, secret or "
            "dependency."
        ),
    ),
    Cause(
        "oom-killed",
        Severity.CRITICAL,
        "A container is killed by the kernel for exceeding its memory limit",
        remediation=(
            "The container exceeded its memory limit{limit}: raise the limit (and request) or "
            "find what makes it grow; restarting alone will not help."
        ),
    ),
)

# Container waiting reasons that do not fix themselves (anything but ContainerCreating and
# PodInitializing, the two normal stations on the way to Running).
STARTING = frozenset({"ContainerCreating", "PodInitializing"})
# A not-ready pod younger than this is starting, not failing, unless it already shows a failure.
GRACE = timedelta(minutes=2)
# An OOM kill this recent is worth a warning even when the container runs again.
RECENT_OOM = timedelta(hours=1)
# The kubelet's crash back-off grows from 10 s to 5 min (MaxContainerBackOff, pkg/kubelet/
# kubelet.go; a node may set another maximum since KEP-4603, crashLoopBackOff.
# maxContainerRestartPeriod) and is forgotten once a container has run 2 x 5 min without
# exiting (client-go util/flowcontrol/backoff.go): a restart within this window is part of
# a loop.
CRASH_WINDOW = timedelta(minutes=10)
# Without back-off events (expired after the API server's --event-ttl, 1 h by default), this
# many restarts with short runs, the last one within CRASH_WINDOW, is a loop.
LOOP_RESTARTS = 3
# A FailedCreate event this recent, on a controller still short of pods, is current.
RECENT_FAILED_CREATE = timedelta(minutes=20)

# pkg/kubelet/kuberuntime/kuberuntime_manager.go doBackOff:
#   "Back-off restarting failed container %s in pod %s" (container name, format.Pod(pod));
# kubelets before 1.26 wrote the sentence alone.
_PROBE_KILL = re.compile(r"^(?:liveness|startup) probe, will be restarted$")
_BACKOFF = re.compile(r"^Back-off restarting failed container(?: (?P<container>\S+) in pod \S+)?")


def workloads(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per unhealthy workload, then one per pod and cause of container crashes."""
    for kind, plural in (("Deployment", "deployments"), ("StatefulSet", "statefulsets")):
        for wl in state.in_scope(plural):
            found = _workload(state, kind, wl)
            if found is not None:
                yield found
    for pod in live_pods(state):
        yield from _crashes(state, pod)


def blocked(state: ClusterState, pod: Obj) -> str | None:
    """Why a pod cannot become ready by itself, or None when it is merely on its way."""
    sched = condition(pod, "PodScheduled")
    if sched and sched.get("status") == "False":
        return f"unschedulable: {sched.get('message') or sched.get('reason')}"
    states = list(containers_of(state, pod))
    for cs in states:
        if cs.waiting_reason and cs.waiting_reason not in STARTING:
            what = f"{_label(cs)} {cs.waiting_reason}"
            if cs.waiting_message and cs.waiting_reason != "CrashLoopBackOff":
                what += f": {_short(cs.waiting_message)}"
            return what
    # Between two back-offs the kubelet writes a crashing container running again (its last
    # run in lastState.terminated), then terminated, and only then waiting CrashLoopBackOff
    # (pkg/kubelet/kuberuntime).  A recent failed exit is the answer in all three.
    for cs in states:
        if cs.ready:
            continue
        if cs.terminated_exit_code:
            return f"{_label(cs)} exited {cs.terminated_exit_code} ({cs.terminated_reason})"
        if cs.last_exit_code and _restarted_recently(state, cs):
            return (
                f"{_label(cs)} restarted after exit {cs.last_exit_code} "
                f"({cs.last_terminated_reason})"
            )
    if any(cs.waiting_reason == "ContainerCreating" for cs in states):
        # The kubelet's own verdict on a volume (pkg/kubelet/volumemanager, event FailedMount
        # "MountVolume.SetUp failed for volume ..."; the attach/detach controller's
        # FailedAttachVolume): a failure now, not a pod on its way.
        mount = [
            e
            for e in state.events_for("Pod", pod)
            if e.reason in ("FailedMount", "FailedAttachVolume")
            and e.last is not None
            and state.now - e.last <= CRASH_WINDOW
        ]
        if mount:
            return f"ContainerCreating: {evidence(mount, state.now, limit=1)[0]}"
    born = parse_time(meta(pod).get("creationTimestamp"))
    if born and state.now - born > GRACE and phase(pod) == "Pending":
        return f"Pending for {age(born, state.now)}"
    ready = condition(pod, "Ready") or {}
    since = parse_time(ready.get("lastTransitionTime"))
    if phase(pod) == "Running" and since and state.now - since > GRACE and not is_ready(pod):
        return f"running but not ready for {age(since, state.now)}"
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _owners(state: ClusterState, kind: str, wl: Obj) -> list[Obj]:
    return state.children(wl, "ReplicaSet") if kind == "Deployment" else [wl]


def _live(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if is_live(p)]


def _pods(state: ClusterState, kind: str, wl: Obj) -> list[Obj]:
    return _live([p for o in _owners(state, kind, wl) for p in state.children(o, "Pod")])


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


def _revision(rs: Obj) -> int:
    value = annotations_of(rs).get("deployment.kubernetes.io/revision", "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


def _active_sets(state: ClusterState, kind: str, wl: Obj) -> list[Obj]:
    """The ReplicaSets a Deployment runs now (any with replicas, and the newest)."""
    if kind != "Deployment":
        return []
    sets = state.children(wl, "ReplicaSet")
    newest = max(sets, key=_revision, default=None)
    return [
        rs for rs in sets if _count(mapping(rs.get("spec")).get("replicas")) > 0 or rs is newest
    ]


def _refused(state: ClusterState, kind: str, wl: Obj) -> tuple[list[ObjectRef], list[str]]:
    """Controllers whose pods the API server refuses to create now, with the evidence.

    Definitive: the controller has tried and been told why.  A ``ReplicaFailure=True``
    condition is removed by the ReplicaSet controller on its next successful sync, so it is
    current; a ``FailedCreate`` event lingers for an hour, so it counts only while recent
    and while the controller is still short of pods.
    """
    refs: list[ObjectRef] = []
    lines: list[str] = []
    controllers = [("ReplicaSet", rs) for rs in _active_sets(state, kind, wl)]
    if kind == "StatefulSet":
        controllers = [("StatefulSet", wl)]
    for ckind, obj in controllers:
        want = _count(mapping(obj.get("spec")).get("replicas", 1))
        have = len(_live(state.children(obj, "Pod")))
        failure = condition(obj, "ReplicaFailure") or {}
        found: list[str] = []
        if failure.get("status") == "True":
            found.append(
                f"{ckind} {name(obj)}: ReplicaFailure=True ({failure.get('reason')}): "
                f"{_short(str(failure.get('message') or ''), 300)}"
            )
        recent = [
            e
            for e in state.events_for(ckind, obj)
            if e.reason == "FailedCreate"
            and e.last is not None
            and state.now - e.last <= RECENT_FAILED_CREATE
        ]
        if recent and have < want:
            found += [
                f"{ckind} {name(obj)}: {line}" for line in evidence(recent, state.now, limit=2)
            ]
        if found:
            refs.append(ObjectRef.of(ckind, obj))
            lines += found
    own = condition(wl, "ReplicaFailure") or {}
    if kind == "Deployment" and own.get("status") == "True" and not lines:
        lines.append(
            f"ReplicaFailure=True ({own.get('reason')}): {_short(str(own.get('message')))}"
        )
        refs += [ObjectRef.of("ReplicaSet", rs) for rs in _active_sets(state, kind, wl)]
    return refs, lines


def _workload(state: ClusterState, kind: str, wl: Obj) -> Finding | None:
    spec, status = mapping(wl.get("spec")), mapping(wl.get("status"))
    desired = _count(spec.get("replicas", 1))
    if desired == 0:
        return None  # scaled to zero on purpose
    available = _count(status.get("availableReplicas", status.get("readyReplicas")))
    short = max(0, desired - available)
    progressing = condition(wl, "Progressing") or {}
    rolling = _rolling(kind, wl, desired)
    stuck = progressing.get("reason") == "ProgressDeadlineExceeded"
    if not (short or rolling or stuck):
        return None  # every cause below needs one of the three: most workloads are whole
    pods = _pods(state, kind, wl)
    not_ready = [p for p in pods if not is_ready(p)]
    why = {name(p): b for p in not_ready if (b := blocked(state, p))}
    within = short <= _max_unavailable(kind, wl, desired)
    refused, refusals = _refused(state, kind, wl) if short or rolling else ([], [])
    what, have = f"{kind} {name(wl)}", f"{available}/{desired} replicas available"
    if stuck:
        cause, message = "rollout-stuck", f"{what}: rollout exceeded its progress deadline; {have}"
    elif refusals and rolling and within:
        cause = "rollout-stuck"
        message = f"{what}: rollout blocked, the new pods are refused creation; {have}"
    elif refusals:
        cause, message = "unavailable-replicas", f"{what}: {have}; pods are refused creation"
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
    lines = [f"pod {p}: {b}" for p, b in sorted(why.items())[:4]]
    lines += refusals[:3]
    if progressing.get("message"):
        lines.append(f"Progressing={progressing.get('status')}: {progressing['message']}")
    ns = meta(wl).get("namespace")
    claims = {
        str(mapping(v.get("persistentVolumeClaim")).get("claimName"))
        for p in not_ready
        for v in mappings(mapping(p.get("spec")).get("volumes"))
        if mapping(v.get("persistentVolumeClaim")).get("claimName")
    }
    sets = [ObjectRef.of("ReplicaSet", rs) for rs in _active_sets(state, kind, wl)]
    return CAUSES[cause].finding(
        resource=ObjectRef.of(kind, wl),
        message=message,
        evidence=lines,
        severity=Severity.CRITICAL if available == 0 else Severity.WARNING,
        # What the workload needs: its not-ready pods, their claims, and the ReplicaSets that
        # make its pods (findings about those explain this one: a crash, a missing Secret, a
        # quota or webhook that refuses the pods).
        depends_on=_unique(
            [
                *(ObjectRef.of("Pod", p) for p in not_ready),
                *(ObjectRef("PersistentVolumeClaim", ns, c) for c in sorted(claims)),
                *(r for r in refused if r.kind != kind),
                *sets,
            ]
        ),
    )


def _unique(refs: list[ObjectRef]) -> tuple[ObjectRef, ...]:
    seen: set[tuple[str, str | None, str]] = set()
    out = []
    for ref in refs:
        key = (ref.kind, ref.namespace, ref.name)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return tuple(out)


def _old_enough(state: ClusterState, not_ready: list[Obj], status: Obj) -> bool:
    """Whether a shortfall with no visible failure has lasted past the grace period."""
    times = [parse_time(meta(p).get("creationTimestamp")) for p in not_ready]
    if not not_ready:  # fewer pods than desired and none to blame: quota, admission, ...
        times = [
            parse_time(c.get("lastTransitionTime")) for c in mappings(status.get("conditions"))
        ]
    return any(t is not None and state.now - t > GRACE for t in times) or not times


def _deadline_left(state: ClusterState, wl: Obj, progressing: Obj) -> str:
    seconds = _count((wl.get("spec") or {}).get("progressDeadlineSeconds"))
    since = parse_time(progressing.get("lastUpdateTime"))
    if not seconds or since is None or seconds > 10**8:
        return ""
    ends = since + timedelta(seconds=int(seconds))
    return f"; the controller declares it stuck in {age(state.now, ends)}"


def _backoffs(events: list[Event], cs: ContainerState, state: ClusterState) -> list[Event]:
    """The kubelet's recent BackOff events for this container (or naming none)."""
    out = []
    for e in events:
        match = _BACKOFF.match(e.message) if e.reason == "BackOff" else None
        if match is None or match.group("container") not in (None, cs.name):
            continue
        if e.last is not None and state.now - e.last <= CRASH_WINDOW:
            out.append(e)
    return out


def _probe_kills(events: list[Event], cs: ContainerState, state: ClusterState) -> bool:
    """Whether the kubelet recently restarted this container for failing a probe.

    pkg/kubelet/kuberuntime/kuberuntime_manager.go computePodActions: event ``Killing``
    ``Container NAME failed liveness probe, will be restarted`` (or ``startup probe``).
    """
    pattern = f"Container {cs.name} failed "
    return any(
        e.reason == "Killing"
        and e.message.startswith(pattern)
        and _PROBE_KILL.match(e.message[len(pattern) :])
        and e.last is not None
        and state.now - e.last <= CRASH_WINDOW
        for e in events
    )


def _looping(state: ClusterState, cs: ContainerState, backoffs: list[Event]) -> str | None:
    """How a container shows a crash loop, or None: waiting in back-off, or running again."""
    if cs.waiting_reason == "CrashLoopBackOff":
        return "waiting"
    if not _restarted_recently(state, cs):
        return None  # never restarted, or the last exit is old: the back-off has reset
    if backoffs:
        return "again"
    ran = cs.last_finished - cs.last_started if cs.last_finished and cs.last_started else None
    if cs.restarts >= LOOP_RESTARTS and ran is not None and ran < CRASH_WINDOW:
        return "again"
    return None


def _restarted_recently(state: ClusterState, cs: ContainerState) -> bool:
    """Restarted, its last run ended within ``CRASH_WINDOW`` (later the back-off has reset)."""
    finished = cs.last_finished
    return cs.restarts >= 1 and finished is not None and state.now - finished <= CRASH_WINDOW


def _crashes(state: ClusterState, pod: Obj) -> Iterator[Finding]:
    """crash-loop / oom-killed on one pod, one finding per cause, naming the containers."""
    states = containers_of(state, pod)
    if not any(
        cs.restarts or cs.waiting_reason == "CrashLoopBackOff" or cs.last_terminated_reason
        for cs in states
    ):
        # Each cause below needs a back-off, a restart or a last exit: most pods have none,
        # and their events and limits are then not read.
        return
    found: defaultdict[tuple[str, bool], list[ContainerState]] = defaultdict(list)
    lines: list[str] = []
    events = state.events_for("Pod", pod)
    limits = _memory_limits(pod)
    shown: list[Event] = []
    running_again = False
    for cs in states:
        oom = cs.last_terminated_reason == "OOMKilled"
        backoffs = _backoffs(events, cs, state)
        how = _looping(state, cs, backoffs)
        if how is not None and not oom and _probe_kills(events, cs, state):
            continue  # the kubelet kills it for a failing probe: not a crash (containers check)
        if how is not None:
            found[("oom-killed" if oom else "crash-loop", False)].append(cs)
            running_again = running_again or how == "again"
            shown += [e for e in backoffs if e not in shown]
        elif oom and cs.last_finished and state.now - cs.last_finished <= RECENT_OOM:
            found[("oom-killed", True)].append(cs)
        else:
            continue
        lines.append(_exit_line(state, cs, limits))
    if not found:
        return
    lines += evidence(shown, state.now)
    for (cause, recovered), containers in sorted(found.items()):
        names = ", ".join(_label(cs) for cs in containers)
        if recovered:
            doing = "was OOMKilled within the last hour and runs again"
        elif cause == "oom-killed":
            doing = "is OOMKilled and restarted in a back-off loop"
        elif all(cs.waiting_reason == "CrashLoopBackOff" for cs in containers):
            doing = "keeps exiting and is restarted in a back-off loop (CrashLoopBackOff)"
        else:
            doing = "keeps exiting and is restarted in a back-off loop (running again now)"
        if any(cs.init for cs in containers) and not recovered:
            doing += "; the pod's app containers cannot start (Init:CrashLoopBackOff)"
        first = containers[0]
        limit = limits.get(first.name)
        yield CAUSES[cause].finding(
            resource=ObjectRef.of("Pod", pod),
            parent=state.workload_of(pod),
            message=f"pod {name(pod)}: {names} {doing}",
            evidence=lines,
            severity=Severity.WARNING if recovered else None,
            pod=name(pod),
            container=first.name,
            limit=f" ({limit})" if limit else "",
        )


def _label(cs: ContainerState) -> str:
    return f"{'init ' if cs.init else ''}container {cs.name}"


def _exit_line(state: ClusterState, cs: ContainerState, limits: dict[str, str]) -> str:
    oom = cs.last_terminated_reason == "OOMKilled"
    limit = f", memory limit {limits[cs.name]}" if oom and cs.name in limits else ""
    when = f", {age(cs.last_finished, state.now)} ago" if cs.last_finished else ""
    now = "running again" if cs.running else (cs.waiting_reason or "not running")
    return (
        f"{_label(cs)}: restarted {cs.restarts} time(s), last exit code "
        f"{cs.last_exit_code} ({cs.last_terminated_reason}){limit}{when}: "
        f"{exit_code_meaning(cs.last_exit_code, cs.last_terminated_reason)}; now {now}"
    )


def _memory_limits(pod: Obj) -> dict[str, str]:
    spec = mapping(pod.get("spec"))
    out = {}
    for c in (*mappings(spec.get("initContainers")), *mappings(spec.get("containers"))):
        memory = mapping(mapping(c.get("resources")).get("limits")).get("memory")
        if memory:
            out[str(c.get("name"))] = str(memory)
    return out


CHECK = Check(
    id="workloads",
    title="Deployments and StatefulSets short of ready replicas; crashing containers",
    severity=Severity.CRITICAL,
    kinds=("deployments", "statefulsets", "replicasets", "pods"),
    optional_kinds=("events",),
    causes=CAUSES,
    run=workloads,
)
