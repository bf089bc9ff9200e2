"""nodes: the nodes Logos pods run on are up, reporting, and taking pods.

A node is in scope when a pod in scope is bound to it (or every node, with all namespaces).
What is wrong is read from what the kubelet and the node-lifecycle controller wrote on the
Node: the ``Ready`` condition (``False`` from the kubelet itself; ``Unknown`` from the
controller once the kubelet stopped posting status for ``node-monitor-grace-period``), the
pressure conditions the kubelet's eviction manager sets, ``spec.unschedulable`` (cordon), and
the ``node.kubernetes.io/*`` taints the controller adds.  One finding per node, for its worst
problem; its ``affected`` are the pods stuck there and their owners, so that "Service has no
ready endpoint" and "Deployment unavailable" hang from the node, not from a readiness probe.

Quiet for healthy nodes, and for a node whose kubelet reported NotReady less than the
controller's grace period ago (a kubelet restart): that is info only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import (
    Obj,
    ObjectRef,
    age,
    controller_of,
    labels_of,
    mapping,
    mappings,
    meta,
    name,
    parse_time,
)
from logos_doctor.pods import is_ready, is_terminating, phase
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

# kube-controller-manager --node-monitor-grace-period: 50s by default since 1.32
# (k8s.io/kubernetes pkg/controller/nodelifecycle/config/v1alpha1/defaults.go, v1.37.2).
GRACE = timedelta(seconds=50)
# Taints the node-lifecycle controller keeps in step with the Ready condition
# (pkg/controller/nodelifecycle/node_lifecycle_controller.go: TaintNodeNotReady,
# TaintNodeUnreachable) and the kubelet's pressure taints the controller adds with
# TaintNodesByCondition.
LIFECYCLE = "node.kubernetes.io/"
# Pressure conditions the kubelet's eviction manager sets, and the cause of each
# (pkg/kubelet/eviction/helpers.go signalToNodeCondition).
PRESSURE = {
    "MemoryPressure": "memory-pressure",
    "DiskPressure": "disk-pressure",
    "PIDPressure": "pid-pressure",
}
DESCRIBE = "kubectl describe node {node}"

CAUSES = Causes(
    "nodes",
    Cause(
        "unknown",
        Severity.CRITICAL,
        "The node stopped reporting: Ready is Unknown",
        remediation=(
            "The kubelet on {node} stopped reporting (last status {since} ago; "
            "'kubectl describe node {node}'): check the machine (is it up, is the kubelet "
            "running, can it reach the API server). Pods there are not ready and are evicted "
            "after their tolerationSeconds (300s by default); StatefulSet pods stay "
            "Terminating until the node comes back, or until it is deleted once the machine "
            "is confirmed off."
        ),
    ),
    Cause(
        "not-ready",
        Severity.CRITICAL,
        "The kubelet reports the node NotReady",
        remediation=(
            "Read the Ready condition's message (container runtime, network plugin, PLEG; "
            "'kubectl describe node {node}') and the kubelet's log on the node; fix the "
            "runtime or network plugin, or drain and replace the node."
        ),
    ),
    Cause(
        "memory-pressure",
        Severity.WARNING,
        "The node is under memory pressure: the kubelet evicts pods",
        remediation=(
            "The kubelet evicts pods from {node} until memory is above its eviction "
            "threshold and the scheduler places no new pods there: find the pods using "
            "the most ('kubectl top pod -A --sort-by=memory'), set memory limits, or add "
            "capacity."
        ),
    ),
    Cause(
        "disk-pressure",
        Severity.WARNING,
        "The node is under disk pressure: the kubelet evicts pods",
        remediation=(
            "Free disk on {node} (unused images are garbage-collected first; then logs and "
            "emptyDir volumes of pods) or grow its root/image filesystem; the kubelet "
            "evicts pods until the threshold is met."
        ),
    ),
    Cause(
        "pid-pressure",
        Severity.WARNING,
        "The node is running out of process ids",
        remediation=(
            "A pod on {node} is forking without bound: find it (the eviction message names "
            "it) and set a pod pids limit; the kubelet evicts pods meanwhile."
        ),
    ),
    Cause(
        "cordoned",
        Severity.WARNING,
        "The node is cordoned: no new pods are scheduled on it",
        remediation=(
            "If the maintenance is over, 'kubectl uncordon {node}'; otherwise drain it "
            "('kubectl drain {node} --ignore-daemonsets') so its pods move now rather than "
            "when it goes away."
        ),
    ),
)


def nodes(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per node in scope that is down, under pressure or cordoned."""
    hosting: dict[str, list[Obj]] = {}
    for pod in state.in_scope("pods"):
        node = mapping(pod.get("spec")).get("nodeName")
        # A pod the kubelet evicted (phase Failed) still says where it ran, and why it left.
        if node and phase(pod) != "Succeeded":
            hosting.setdefault(str(node), []).append(pod)
    everything = state.scope.namespaces is None
    serving = serving_workloads(state) if hosting else frozenset()
    for node in state.list_of("nodes"):
        if everything or name(node) in hosting:
            gpu = any(labels_of(node).get(k) == v for k, v in config.gpu.labels)
            found = _node(state, node, hosting.get(name(node), []), gpu, serving)
            if found is not None:
                yield found


def node_down(node: Obj | None) -> bool:
    """Whether a node's kubelet is not reporting Ready (False or Unknown, past the grace)."""
    if node is None:
        return False
    ready = _conditions(node).get("Ready")
    return ready is not None and ready.get("status") in ("False", "Unknown")


def owner_chain(state: ClusterState, obj: Obj, kind: str = "Pod") -> tuple[ObjectRef, ...]:
    """The controllers above an object, nearest first (ReplicaSet, then Deployment)."""
    out: list[ObjectRef] = []
    current = obj
    for _ in range(4):
        ref = controller_of(current)
        if not ref:
            break
        out.append(
            ObjectRef(ref.get("kind", "?"), meta(obj).get("namespace"), ref.get("name", "?"))
        )
        found = state.owner(current, ref)
        if found is None:
            break
        current = found[1]
    return tuple(out)


def serving_workloads(state: ClusterState) -> frozenset[ObjectRef]:
    """The workloads in scope with at least one ready pod (of any revision).

    Once per state: the containers and nodes checks both ask, and it reads every pod.
    """
    return state.memo(
        "nodes.serving_workloads",
        lambda: frozenset(
            w
            for p in state.in_scope("pods")
            if is_ready(p) and not is_terminating(p) and (w := state.workload_of(p)) is not None
        ),
    )


def _conditions(node: Obj) -> dict[str, Obj]:
    return {str(c.get("type")): c for c in mappings(mapping(node.get("status")).get("conditions"))}


def _node(
    state: ClusterState, node: Obj, pods: list[Obj], gpu: bool, serving: frozenset[ObjectRef]
) -> Finding | None:
    conds, node_name = _conditions(node), name(node)
    ready = conds.get("Ready") or {}
    status = ready.get("status")
    since = parse_time(ready.get("lastTransitionTime"))
    beat = parse_time(ready.get("lastHeartbeatTime"))
    pressure = [c for c in PRESSURE if mapping(conds.get(c)).get("status") == "True"]
    cordoned = mapping(node.get("spec")).get("unschedulable") is True
    severity = None
    if status == "Unknown" or (not ready and _older(state, node, GRACE)):
        cause = "unknown"
        what = (
            f"stopped reporting: Ready=Unknown for {age(since, state.now)} "
            f"({ready.get('message') or ready.get('reason')}; "
            f"last status posted {age(beat, state.now)} ago)"
            if ready
            else "never reported a Ready condition"
        )
    elif status == "False":
        cause = "not-ready"
        detail = ready.get("message") or ready.get("reason")
        what = f"is NotReady for {age(since, state.now)}: {detail}"
        if since is not None and state.now - since < GRACE:
            severity = Severity.INFO  # a kubelet restart looks like this; not yet an outage
    elif pressure:
        cause = PRESSURE[pressure[0]]
        cond = mapping(conds.get(pressure[0]))
        what = f"has {pressure[0]} for {age(parse_time(cond.get('lastTransitionTime')), state.now)}"
        what += f" ({cond.get('message') or cond.get('reason')})"
    elif cordoned:
        cause, what = "cordoned", "is cordoned (spec.unschedulable): no new pod is placed on it"
    else:
        return None
    live = [p for p in pods if phase(p) != "Failed"]
    stuck = [p for p in live if cause in ("unknown", "not-ready") or not is_ready(p)]
    evicted = [p for p in pods if mapping(p.get("status")).get("reason") == "Evicted"]
    if cause in PRESSURE.values() and any(
        (w := state.workload_of(p)) is None or w not in serving for p in evicted
    ):
        severity = Severity.CRITICAL  # its evictions left a workload with nothing serving
    if cause == "cordoned" and not stuck:
        severity = Severity.INFO  # its pods run; only new ones go elsewhere
    affected: dict[ObjectRef, None] = {}
    for pod in stuck:
        affected[ObjectRef.of("Pod", pod)] = None
        affected.update(dict.fromkeys(owner_chain(state, pod)))
    lines = [_condition_line(c) for t, c in sorted(conds.items()) if _abnormal(t, c)]
    lines += [_taint_line(state, t) for t in mappings(mapping(node.get("spec")).get("taints"))]
    if cordoned and cause != "cordoned":
        lines.append("also cordoned (spec.unschedulable)")
    if evicted:
        lines.append(
            f"{len(evicted)} pod(s) in scope evicted from it: "
            + ", ".join(name(p) for p in evicted[:6])
        )
    if stuck:
        shown = ", ".join(
            name(p) + (" (terminating)" if is_terminating(p) else "") for p in stuck[:6]
        )
        lines.append(f"{len(stuck)} pod(s) in scope on it: {shown}")
    message = f"node {node_name} {what}"
    if stuck:
        message += f"; {len(stuck)} pod(s) in scope there"
    ref = ObjectRef.of("Node", node)
    return CAUSES[cause].finding(
        resource=ref,
        message=message,
        evidence=tuple(lines),
        affected=tuple(affected),
        # gpu-nodes reports the same node of the GPU pool: one root cause for it, with this
        # finding (and the pods it lists) hanging under that one.
        depends_on=(ref,) if gpu else (),
        severity=severity,
        node=node_name,
        since=age(beat, state.now),
    )


def _older(state: ClusterState, obj: Obj, than: timedelta) -> bool:
    born = parse_time(meta(obj).get("creationTimestamp"))
    return born is not None and state.now - born > than


def _abnormal(kind: str, cond: Obj) -> bool:
    return (kind == "Ready") != (cond.get("status") == "True")


def _condition_line(cond: Obj) -> str:
    text = f"{cond.get('type')}={cond.get('status')} ({cond.get('reason', '')})"
    return f"{text}: {cond.get('message', '')}"[:240]


def _taint_line(state: ClusterState, taint: Obj) -> str:
    key, effect = taint.get("key", ""), taint.get("effect", "")
    text = f"taint {key}" + (f"={taint['value']}" if taint.get("value") else "") + f":{effect}"
    added = parse_time(taint.get("timeAdded"))
    if added is not None:
        text += f" (added {age(added, state.now)} ago)"
    if str(key).startswith(LIFECYCLE) and effect == "NoExecute":
        text += "; pods without a toleration for it are evicted after tolerationSeconds"
    return text


CHECK = Check(
    id="nodes",
    title="Nodes hosting Logos pods are Ready, without pressure, not cordoned",
    severity=Severity.CRITICAL,
    kinds=("nodes", "pods"),
    optional_kinds=("replicasets", "deployments", "statefulsets"),
    causes=CAUSES,
    run=nodes,
)
