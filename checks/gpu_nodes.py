"""gpu-nodes: the completion service's GPU pods have somewhere to run, and if not, why.

GPU nodes are the nodes carrying one of the configured labels (``nvidia.com/gpu=true`` or
``nvidia.com/gpu.present=true`` by default).  Node-level causes are read from the nodes: no
such node, no allocatable GPU (the device plugin is not running), NotReady, cordoned or under
pressure.  A GPU pod the scheduler could not place gets its own finding (resource the Pod,
parent its workload, ``depends_on`` the GPU nodes involved), so that the Deployment's and the
Service's symptoms chain to it, and it to the node's finding.  Its cause is read from the
scheduler's ``0/N nodes are available: ...`` verdict and confirmed against the GPU nodes'
labels, taints and free GPUs, since the verdict counts every node and names none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from logos_doctor.config import Config
from logos_doctor.events import evidence, latest
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import Obj, ObjectRef, labels_of, mapping, mappings, name, parse_quantity
from logos_doctor.registry import Check
from logos_doctor.scheduling import (
    fit_reasons,
    node_problems,
    node_selected,
    pod_request,
    untolerated,
)
from logos_doctor.state import ClusterState
from logos_doctor.workloads import is_ready, is_terminating, phase

ID = "gpu-nodes"


def gpu_nodes(state: ClusterState, config: Config) -> Iterator[Finding]:
    """Node-level findings for the GPU pool, then one finding per unschedulable GPU pod."""
    res, wanted = config.gpu.resource, config.gpu.labels
    label_text = " or ".join(f"{k}={v}" for k, v in wanted)
    nodes = [n for n in state.list_of("nodes") if any(labels_of(n).get(k) == v for k, v in wanted)]
    gpu_pods = [p for p in state.in_scope("pods") if pod_request(p.get("spec"), res) > 0]
    pending = [p for p in gpu_pods if _unschedulable(state, p)]
    needs = bool(gpu_pods) or any(
        pod_request(mapping(mapping(w.get("spec")).get("template")).get("spec"), res) > 0
        and mapping(w.get("spec")).get("replicas", 1) != 0
        for plural in ("deployments", "statefulsets")
        for w in state.in_scope(plural)
    )
    usable = [n for n in nodes if not node_problems(n) and _alloc(n, res) > 0]
    for node in nodes:
        yield from _node(node, res, needs, bool(usable))
    pool = _Pool(
        nodes,
        res,
        label_text,
        pending,
        # Workloads still serving: their pending pods are lost capacity, not an outage.
        {state.workload_of(p) for p in state.in_scope("pods") if pending and is_ready(p)},
        {name(n): _alloc(n, res) - _used(state, n, res) for n in nodes},
    )
    for pod in pending:
        found = _pod(state, pod, pool)
        if found is not None:
            yield found
    if not nodes and needs and not pending:
        yield from _workloads_without_nodes(state, res, label_text)


def _alloc(node: Obj, res: str) -> Decimal:
    value = parse_quantity(mapping(mapping(node.get("status")).get("allocatable")).get(res))
    return value if value is not None and value.is_finite() else Decimal(0)


def _node(node: Obj, res: str, needs: bool, any_usable: bool) -> Iterator[Finding]:
    ref = ObjectRef.of("Node", node)
    if _alloc(node, res) <= 0:
        yield Finding(
            ID,
            "gpu-not-allocatable",
            Severity.CRITICAL if needs and not any_usable else Severity.WARNING,
            ref,
            f"GPU node {name(node)} advertises no allocatable {res}: the device plugin is not "
            "running on it (or found no GPU), so no GPU pod can be placed there",
            remediation="Check the NVIDIA device plugin / GPU operator DaemonSet pod on this "
            "node and its log (driver not loaded, plugin crash-looping).",
        )
    problems = node_problems(node)
    if problems:
        yield Finding(
            ID,
            "gpu-node-not-ready",
            Severity.CRITICAL if needs and not any_usable else Severity.WARNING,
            ref,
            f"GPU node {name(node)} cannot take new pods: {', '.join(problems)}",
            evidence=tuple(_condition_lines(node)),
            remediation="Uncordon the node if the maintenance is over; otherwise read the "
            "node's conditions and kubelet log, or replace the node.",
        )


def _unschedulable(state: ClusterState, pod: Obj) -> bool:
    if phase(pod) != "Pending" or is_terminating(pod) or mapping(pod.get("spec")).get("nodeName"):
        return False
    cond = _scheduled(pod)
    if cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
        return True
    return latest(state.events_for("Pod", pod), "FailedScheduling") is not None


def _verdict(state: ClusterState, pod: Obj) -> str:
    """The scheduler's last word: the PodScheduled condition, else the newest event."""
    cond = _scheduled(pod)
    ev = latest(state.events_for("Pod", pod), "FailedScheduling")
    return str(cond.get("message") or (ev.message if ev else ""))


def _scheduled(pod: Obj) -> dict[str, Any]:
    conds = mappings(mapping(pod.get("status")).get("conditions"))
    return next((c for c in conds if c.get("type") == "PodScheduled"), {})


@dataclass(frozen=True)
class _Pool:
    """The GPU nodes and what is asked of them, computed once per run."""

    nodes: list[Obj]
    res: str
    labels: str
    pending: list[Obj]
    serving: set[ObjectRef | None]
    free: dict[str, Decimal]


def _pod(state: ClusterState, pod: Obj, pool: _Pool) -> Finding | None:
    """Why the scheduler could not place a GPU pod, or None when it is not about GPUs."""
    nodes, res, labels, pending = pool.nodes, pool.res, pool.labels, pool.pending
    spec = mapping(pod.get("spec"))
    need = pod_request(spec, res)
    verdict = _verdict(state, pod)
    _, reasons = fit_reasons(verdict)
    said = ", ".join(f"{n} {r}" for r, n in reasons.items())
    parent = state.workload_of(pod)
    impact = Severity.WARNING if parent and parent in pool.serving else Severity.CRITICAL
    ev = evidence(state.events_for("Pod", pod), state.now, limit=2)

    def finding(cause: str, message: str, remediation: str, on: list[Obj]) -> Finding:
        return Finding(
            ID,
            cause,
            impact,
            ObjectRef.of("Pod", pod),
            f"pod {name(pod)} needs {need} {res} and cannot be scheduled: {message}",
            parent=parent,
            evidence=(*([f"scheduler: {verdict}"] if verdict else []), *ev, *_node_lines(on)),
            remediation=remediation,
            depends_on=tuple(ObjectRef.of("Node", n) for n in on),
        )

    if not nodes:
        return finding(
            "no-gpu-nodes",
            f"no node carries the GPU label {labels}",
            "Add a GPU node group (or scale it up), labelled as configured; check the cluster "
            "autoscaler if it should have done so.",
            [],
        )
    selected = [n for n in nodes if node_selected(n, spec)]
    if not selected:
        return finding(
            "selector-mismatch",
            f"its node selector/affinity ({_wants(spec)}) matches none of the {len(nodes)} GPU "
            f"node(s)" + (f"; scheduler: {said}" if said else ""),
            "Make the pod's nodeSelector/affinity match the GPU nodes' labels (or label the "
            "nodes as the chart expects).",
            nodes,
        )
    blocked = {name(n): untolerated(n, spec, lifecycle=False) for n in selected}
    tolerated = [n for n in selected if not blocked[name(n)]]
    if not tolerated:
        taints = sorted({t for ts in blocked.values() for t in ts})
        return finding(
            "taint-not-tolerated",
            f"the GPU nodes it selects have taints it does not tolerate: {', '.join(taints)}"
            + (f"; scheduler: {said}" if said else ""),
            "Add the matching toleration to the pod template (the chart's tolerations value), "
            "or remove the taint if it was put there by mistake.",
            selected,
        )
    ready = [
        n for n in tolerated if not node_problems(n) and not untolerated(n, spec, lifecycle=True)
    ]
    if not ready:
        return finding(
            "gpu-node-not-ready",
            "every GPU node it could use is NotReady, cordoned or under pressure",
            "Bring a GPU node back (uncordon, fix the kubelet) or add one.",
            tolerated,
        )
    with_gpus = [n for n in ready if _alloc(n, res) > 0]
    if not with_gpus:
        return finding(
            "gpu-not-allocatable",
            f"the GPU nodes it could use advertise no allocatable {res}",
            "Fix the device plugin on those nodes.",
            ready,
        )
    free = {name(n): pool.free[name(n)] for n in with_gpus}
    if f"Insufficient {res}" not in reasons and any(f >= need for f in free.values()):
        return None  # a GPU node has room: what blocks the pod is not about GPUs
    demand = sum((pod_request(p.get("spec"), res) for p in pending), Decimal(0))
    alloc = sum((_alloc(n, res) for n in with_gpus), Decimal(0))
    scope = "" if state.scope.namespaces is None else " (counting only pods in scope)"
    return finding(
        "insufficient-gpu",
        f"{len(pending)} pending GPU pod(s) need {demand} {res}; the {len(with_gpus)} ready GPU "
        f"node(s) have {sum(free.values())} free of {alloc} allocatable{scope}"
        + (f"; scheduler: {said}" if said else ""),
        "Add GPU nodes (or let the cluster autoscaler do it), or lower the replica count; "
        "GPUs are not shared between pods.",
        with_gpus,
    )


def _used(state: ClusterState, node: Obj, res: str) -> Decimal:
    return sum(
        (
            pod_request(p.get("spec"), res)
            for p in state.pods_on_node(name(node))
            if phase(p) not in ("Succeeded", "Failed")
        ),
        Decimal(0),
    )


def _wants(spec: Obj) -> str:
    sel = ", ".join(f"{k}={v}" for k, v in sorted(mapping(spec.get("nodeSelector")).items()))
    aff = mapping(mapping(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return (sel or "no nodeSelector") + ("; plus required node affinity" if aff else "")


def _node_lines(nodes: list[Obj]) -> list[str]:
    lines = []
    for n in nodes[:4]:
        taints = ", ".join(
            f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}"
            for t in mappings(mapping(n.get("spec")).get("taints"))
        )
        gpu_labels = ", ".join(f"{k}={v}" for k, v in sorted(labels_of(n).items()) if "gpu" in k)
        lines.append(f"node {name(n)}: labels {gpu_labels or '-'}; taints {taints or '-'}")
    return lines


def _condition_lines(node: Obj) -> list[str]:
    return [
        f"{c.get('type')}={c.get('status')} ({c.get('reason', '')}): {c.get('message', '')}"[:200]
        for c in mappings(mapping(node.get("status")).get("conditions"))
        if (c.get("type") == "Ready") != (c.get("status") == "True")
    ]


def _workloads_without_nodes(state: ClusterState, res: str, labels: str) -> Iterator[Finding]:
    """No GPU node and no pod yet: name the workloads that will need one."""
    for plural, kind in (("deployments", "Deployment"), ("statefulsets", "StatefulSet")):
        for wl in state.in_scope(plural):
            spec = mapping(wl.get("spec"))
            need = pod_request(mapping(spec.get("template")).get("spec"), res)
            if need > 0 and spec.get("replicas", 1) != 0:
                yield Finding(
                    ID,
                    "no-gpu-nodes",
                    Severity.CRITICAL,
                    ObjectRef.of(kind, wl),
                    f"{kind} {name(wl)} requests {need} {res} per pod and no node carries the "
                    f"GPU label {labels}",
                    remediation="Add a GPU node group labelled as configured.",
                )


CHECK = Check(
    id=ID,
    title="GPU nodes for the completion service: present, allocatable, ready, enough",
    severity=Severity.CRITICAL,
    kinds=("nodes", "pods"),
    optional_kinds=("events", "deployments", "statefulsets", "replicasets"),
    causes=(
        "no-gpu-nodes",
        "gpu-not-allocatable",
        "gpu-node-not-ready",
        "insufficient-gpu",
        "selector-mismatch",
        "taint-not-tolerated",
    ),
    run=gpu_nodes,
)
