"""gpu-nodes: the completion service's GPU pods have somewhere to run, and if not, why.

GPU nodes are the nodes carrying one of the configured labels (``nvidia.com/gpu=true`` or
``nvidia.com/gpu.present=true`` by default).  Node-level causes are read from the nodes: no
GPU node at all, nodes that have GPUs but lack the label, no allocatable GPU (the device
plugin is not running), NotReady, cordoned or under pressure.  A GPU pod the scheduler could
not place gets its own finding (resource the Pod, parent its workload, ``depends_on`` the GPU
nodes involved), so that the Deployment's and the Service's symptoms chain to it, and it to
the node's finding.  Its cause is read from the scheduler's ``0/N nodes are available: ...``
verdict and confirmed against the nodes' labels, taints and free GPUs, since the verdict
counts every node and names none.  Pods requesting the GPU resource are this check's alone:
the scheduling check leaves them here (one cause per pod).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.events import evidence, latest
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import (
    Obj,
    ObjectRef,
    labels_of,
    mapping,
    mappings,
    name,
    parse_quantity,
    per_object,
)
from logos_doctor.pods import is_ready, is_terminating, phase
from logos_doctor.registry import Check
from logos_doctor.scheduling import (
    fit_reasons,
    node_problems,
    place,
    placement_key,
    pod_request,
    untolerated,
)
from logos_doctor.state import ClusterState

ID = "gpu-nodes"

CAUSES = Causes(
    ID,
    Cause(
        "no-gpu-nodes",
        Severity.CRITICAL,
        "No node offers GPUs",
        remediation=(
            "No node has {res} allocatable or the label {label}: add a GPU node group (or "
            "scale it up from zero) labelled {label}, and check the cluster autoscaler if it "
            "should have done so."
        ),
    ),
    Cause(
        "gpu-label-missing",
        Severity.CRITICAL,
        "The GPU nodes exist but lack the GPU label the pods select",
        remediation=(
            "Label the GPU nodes so the pods can select them: 'kubectl label node {nodes} "
            "{label}' (only nodes with GPUs, or pods land where there are none); make the "
            "node group's template carry the label so new nodes get it too."
        ),
    ),
    Cause(
        "gpu-not-allocatable",
        Severity.CRITICAL,
        "A GPU node offers no allocatable GPU: its device plugin is not running",
        remediation=(
            "The NVIDIA device plugin is not running (or found no GPU) on {nodes}: check its "
            "pod there ('kubectl get pods -A -o wide --field-selector spec.nodeName={node}') "
            "and its log (driver not loaded, plugin crash-looping, DaemonSet not tolerating "
            "the node's taints); {res} appears as soon as it registers."
        ),
    ),
    Cause(
        "gpu-node-not-ready",
        Severity.CRITICAL,
        "A GPU node cannot take new pods (NotReady, cordoned, pressure)",
        remediation="{advice}",
    ),
    Cause(
        "insufficient-gpu",
        Severity.CRITICAL,
        "Every GPU the pods may use is taken",
        remediation=(
            "{short} more {res} needed: add GPU nodes (or let the cluster autoscaler do it), "
            "free GPUs held by other pods, or run {workload} with at most {fits} replica(s) for "
            "now; a GPU is not shared between pods."
        ),
    ),
    Cause(
        "selector-mismatch",
        Severity.CRITICAL,
        "The GPU pods' node selector matches none of the GPU nodes",
        remediation=(
            "The pods ask for {wants}; the GPU nodes carry {have}. Correct the nodeSelector of "
            "{workload} (the chart's value), or label the GPU nodes as the chart expects: "
            "kubectl label node {nodes} {wants} --overwrite"
        ),
    ),
    Cause(
        "taint-not-tolerated",
        Severity.CRITICAL,
        "The GPU nodes have a taint the GPU pods do not tolerate",
        remediation=(
            "Add to {workload}'s pod template (the chart's tolerations) the toleration "
            "{toleration}; or, if the taint was put on by mistake, remove it with kubectl "
            "taint node {node} {taint_off}"
        ),
    ),
)


def gpu_nodes(state: ClusterState, config: Config) -> Iterator[Finding]:
    """Node-level findings for the GPU pool, then one finding per unschedulable GPU pod.

    Computed once per state and config: the scheduling check asks for them too
    (``owned_pods``), and at 90,000 objects a second run cost a quarter of a second.
    """
    cached, found = state.memo(
        ("gpu-nodes", id(config)), lambda: (config, _findings(state, config))
    )
    if cached is not config:  # another config at a reused address
        found = _findings(state, config)
    return iter(found)


def _findings(state: ClusterState, config: Config) -> tuple[Finding, ...]:
    return tuple(_gpu_nodes(state, config))


def _gpu_nodes(state: ClusterState, config: Config) -> Iterator[Finding]:
    res, wanted = config.gpu.resource, config.gpu.labels
    label_text = " or ".join(f"{k}={v}" for k, v in wanted)
    nodes = [n for n in state.list_of("nodes") if any(labels_of(n).get(k) == v for k, v in wanted)]
    # Nodes with GPUs but none of the labels: the pool whose label was lost.
    labelled = {name(n) for n in nodes}
    unlabelled = [
        n for n in state.list_of("nodes") if _alloc(n, res) > 0 and name(n) not in labelled
    ]
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
        unlabelled,
        res,
        wanted,
        label_text,
        pending,
        # Workloads still serving: their pending pods are lost capacity, not an outage.
        {state.workload_of(p) for p in state.in_scope("pods") if pending and is_ready(p)},
        {name(n): _alloc(n, res) - _used(state, n, res) for n in nodes},
        state,
    )
    for pod in pending:
        found = _pod(state, pod, pool)
        if found is not None:
            yield found
    if not nodes and needs and not pending:
        yield from _workloads_without_nodes(state, pool)


def owned_pods(state: ClusterState, config: Config) -> set[str]:
    """The uids of the pods this check explains (the scheduling check leaves them alone)."""
    found = gpu_nodes(state, config)
    return {f.resource.uid for f in found if f.resource.kind == "Pod" and f.resource.uid}


def _alloc(node: Obj, res: str) -> Decimal:
    value = parse_quantity(mapping(mapping(node.get("status")).get("allocatable")).get(res))
    return value if value is not None and value.is_finite() else Decimal(0)


def _node(node: Obj, res: str, needs: bool, any_usable: bool) -> Iterator[Finding]:
    ref = ObjectRef.of("Node", node)
    # Only an outage when the pods need GPUs and no other GPU node can take them.
    impact = None if needs and not any_usable else Severity.WARNING
    if _alloc(node, res) <= 0:
        yield CAUSES["gpu-not-allocatable"].finding(
            resource=ref,
            message=f"GPU node {name(node)} advertises no allocatable {res}: the device plugin "
            "is not running on it (or found no GPU), so no GPU pod can be placed there",
            severity=impact,
            nodes=name(node),
            node=name(node),
            res=res,
        )
    problems = node_problems(node)
    if problems:
        yield CAUSES["gpu-node-not-ready"].finding(
            resource=ref,
            message=f"GPU node {name(node)} cannot take new pods: {', '.join(problems)}",
            evidence=tuple(_condition_lines(node)),
            severity=impact,
            advice=_not_ready_advice([node]),
        )


def _not_ready_advice(nodes: list[Obj]) -> str:
    cordoned = [name(n) for n in nodes if "cordoned (unschedulable)" in node_problems(n)]
    down = [
        f"{name(n)} ({', '.join(p for p in node_problems(n) if not p.startswith('cordoned'))})"
        for n in nodes
        if any(not p.startswith("cordoned") for p in node_problems(n))
    ]
    parts = []
    if cordoned:
        parts.append(
            f"{', '.join(cordoned)} is cordoned: if the maintenance is over, 'kubectl uncordon "
            f"{' '.join(cordoned)}'."
        )
    if down:
        parts.append(
            f"{'; '.join(down)}: read the node's conditions and kubelet log "
            "('kubectl describe node'), or replace the node."
        )
    return " ".join(parts)


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
class _Placement:
    selected: list[Obj]
    blocked: dict[str, list[str]]
    tolerated: list[Obj]
    ready: list[Obj]
    with_gpus: list[Obj]


@dataclass(frozen=True)
class _Pool:
    """The GPU nodes and what is asked of them, computed once per run."""

    nodes: list[Obj]
    unlabelled: list[Obj]
    res: str
    wanted: tuple[tuple[str, str], ...]
    labels: str
    pending: list[Obj]
    serving: set[ObjectRef | None]
    free: dict[str, Decimal]
    state: ClusterState = field(compare=False, repr=False)
    # Per run, so that N pending pods x M GPU nodes is not walked again for every pod (the
    # pods of one template place alike): placement by the pod spec's node selector,
    # affinity and tolerations (all node_selected and untolerated read).
    placements: dict[str, _Placement] = field(default_factory=dict, compare=False, repr=False)
    # The evidence lines and references of the nodes a finding names, per list of nodes:
    # every pending pod of one placement names the same ones.
    named: dict[int, tuple[list[Obj], tuple[tuple[str, ...], tuple[ObjectRef, ...]]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @functools.cached_property
    def demand(self) -> Decimal:
        """What all pending GPU pods ask for (the same for each of them): once per run."""
        return sum((pod_request(p.get("spec"), self.res) for p in self.pending), Decimal(0))

    @functools.cached_property
    def running(self) -> dict[ObjectRef, int]:
        """Running pods in scope per workload: once per run, not once per pending pod."""
        out: dict[ObjectRef, int] = {}
        for p in self.state.in_scope("pods"):
            if phase(p) == "Running" and (owner := self.state.workload_of(p)) is not None:
                out[owner] = out.get(owner, 0) + 1
        return out

    def placement(self, spec: Obj) -> _Placement:
        """Which GPU nodes a pod with ``spec`` selects, tolerates, and could run on now."""
        key = placement_key(spec)
        found = self.placements.get(key)
        if found is None:
            p = place(spec, self.nodes)
            ready = [
                n
                for n in p.tolerated
                if not node_problems(n) and not untolerated(n, spec, lifecycle=True)
            ]
            with_gpus = [n for n in ready if _alloc(n, self.res) > 0]
            found = _Placement(p.selected, p.taints, p.tolerated, ready, with_gpus)
            self.placements[key] = found
        return found

    @functools.cached_property
    def unlabelled_named(self) -> tuple[str, str, Decimal]:
        """The unlabelled GPU nodes' names, listed short and joined whole, and their GPUs:
        once per run, since every pending GPU pod names the same nodes (at 4,000 pending
        pods and 334 unlabelled nodes, sorting and summing them per pod took 3 of 4 s)."""
        names = sorted(name(n) for n in self.unlabelled)
        total = sum((_alloc(n, self.res) for n in self.unlabelled), Decimal(0))
        return _listed(names), " ".join(names), total

    def about(self, nodes: list[Obj]) -> tuple[tuple[str, ...], tuple[ObjectRef, ...]]:
        """``_node_lines`` of ``nodes`` and a reference to each, once per list of nodes.

        Told apart by the list's identity: the lists are the pool's and its placements',
        one per placement, and naming each list by its nodes' ids took 0.04 s at 4,000
        pending pods and 334 nodes."""
        return per_object(self.named, nodes, self._about)

    def _about(self, nodes: list[Obj]) -> tuple[tuple[str, ...], tuple[ObjectRef, ...]]:
        lines = tuple(_node_lines(nodes, self.res))
        return lines, tuple(ObjectRef.of("Node", n) for n in nodes)

    def label_for(self, spec: Obj) -> str:
        """The configured label the pod selects (its nodeSelector's), else the first one."""
        selector = mapping(spec.get("nodeSelector"))
        for key, _ in self.wanted:
            if key in selector:
                return f"{key}={selector[key]}"
        key, value = self.wanted[0] if self.wanted else ("nvidia.com/gpu", "true")
        return f"{key}={value}"


def _pod(state: ClusterState, pod: Obj, pool: _Pool) -> Finding | None:
    """Why the scheduler could not place a GPU pod, or None when it is not about GPUs."""
    nodes, res, pending = pool.nodes, pool.res, pool.pending
    spec = mapping(pod.get("spec"))
    need = pod_request(spec, res)
    verdict = _verdict(state, pod)
    reasons = _reasons(verdict)
    said = ", ".join(f"{n} {r}" for r, n in reasons.items())
    on_scheduler = f"; scheduler: {said}" if said else ""
    parent = state.workload_of(pod)
    workload = f"{parent.kind}/{parent.name}" if parent else f"pod {name(pod)}"
    impact = Severity.WARNING if parent and parent in pool.serving else None
    ev = evidence(state.events_for("Pod", pod), state.now, limit=2)

    def finding(cause: str, message: str, on: list[Obj], **facts: Any) -> Finding:
        lines, refs = pool.about(on)
        return CAUSES[cause].finding(
            resource=ObjectRef.of("Pod", pod),
            # The cause first: it is what a clipped first screen must still show.
            message=f"{message}; pod {name(pod)} needs {need} {res} and cannot be scheduled",
            parent=parent,
            evidence=(*([f"scheduler: {verdict}"] if verdict else []), *ev, *lines),
            depends_on=refs,
            severity=impact,
            workload=workload,
            res=res,
            **facts,
        )

    if not nodes:
        label = pool.label_for(spec)
        if pool.unlabelled:
            listed, joined, total = pool.unlabelled_named
            # The command is in the message only while it is short; the remediation always
            # has it whole (a fleet whose labeller died can leave hundreds of nodes to name).
            command = f": kubectl label node {joined} {label}" if len(pool.unlabelled) <= 4 else ""
            return finding(
                "gpu-label-missing",
                f"{listed} have {total} allocatable {res} but not the GPU label "
                f"({pool.labels}){command}",
                pool.unlabelled,
                nodes=joined,
                label=label,
            )
        return finding(
            "no-gpu-nodes",
            f"no node has {res} allocatable or carries the GPU label {pool.labels}",
            [],
            label=label,
        )
    place = pool.placement(spec)
    selected = place.selected
    if not selected:
        have = sorted(
            {f"{k}={v}" for n in nodes for k, v in labels_of(n).items() if (k, v) in pool.wanted}
        )
        return finding(
            "selector-mismatch",
            f"its node selector/affinity ({_wants(spec)}) matches none of the {len(nodes)} GPU "
            f"node(s), which carry {', '.join(have)}" + on_scheduler,
            nodes,
            wants=_selector_text(spec) or pool.label_for(spec),
            have=", ".join(have),
            nodes=" ".join(sorted(name(n) for n in nodes)),
        )
    blocked, tolerated = place.blocked, place.tolerated
    if not tolerated:
        taints = sorted({t for ts in blocked.values() for t in ts})
        head, effect = taints[0].rsplit(":", 1)
        key, _, value = head.partition("=")
        toleration = (
            f"{{key: {key}, operator: Equal, value: {value}, effect: {effect}}}"
            if value
            else f"{{key: {key}, operator: Exists, effect: {effect}}}"
        )
        return finding(
            "taint-not-tolerated",
            f"the GPU nodes it selects have taints it does not tolerate: {', '.join(taints)}"
            + on_scheduler,
            selected,
            toleration=toleration,
            node=sorted(n for n in blocked if taints[0] in blocked[n])[0],
            taint_off=f"{taints[0]}-",
        )
    ready = place.ready
    if not ready:
        return finding(
            "gpu-node-not-ready",
            "every GPU node it could use is NotReady, cordoned or under pressure: "
            + "; ".join(
                f"{name(n)} {', '.join(node_problems(n) or untolerated(n, spec, lifecycle=True))}"
                for n in tolerated[:4]
            ),
            tolerated,
            advice=_not_ready_advice(tolerated),
        )
    with_gpus = place.with_gpus
    if not with_gpus:
        names = sorted(name(n) for n in ready)
        return finding(
            "gpu-not-allocatable",
            f"the GPU nodes it could use advertise no allocatable {res} "
            f"({', '.join(names)}): the device plugin is not running there",
            ready,
            nodes=", ".join(names),
            node=names[0],
        )
    free = {name(n): pool.free[name(n)] for n in with_gpus}
    if f"Insufficient {res}" not in reasons and any(f >= need for f in free.values()):
        return None  # a GPU node has room: what blocks the pod is not about GPUs
    demand = pool.demand
    alloc = sum((_alloc(n, res) for n in with_gpus), Decimal(0))
    free_total = sum((max(f, Decimal(0)) for f in free.values()), Decimal(0))
    scope = "" if state.scope.namespaces is None else " (counting only pods in scope)"
    running = pool.running.get(parent, 0) if parent else 0
    fits = running + int(free_total // need) if need > 0 else running
    return finding(
        "insufficient-gpu",
        f"{len(pending)} pending GPU pod(s) need {demand} {res}; the {len(with_gpus)} ready GPU "
        f"node(s) have {free_total} free of {alloc} allocatable{scope}" + on_scheduler,
        with_gpus,
        short=f"{max(demand - free_total, Decimal(0))}",
        fits=fits,
    )


@functools.lru_cache(maxsize=1024)
def _reasons(verdict: str) -> dict[str, int]:
    """``fit_reasons``' counts, read once per text: the pending pods of one template, and of
    every copy of it, quote the scheduler's same words.  Only read, never changed."""
    return fit_reasons(verdict)[1]


def _listed(names: list[str]) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _used(state: ClusterState, node: Obj, res: str) -> Decimal:
    return sum(
        (
            pod_request(p.get("spec"), res)
            for p in state.pods_on_node(name(node))
            if phase(p) not in ("Succeeded", "Failed")
        ),
        Decimal(0),
    )


def _selector_text(spec: Obj) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(mapping(spec.get("nodeSelector")).items()))


def _wants(spec: Obj) -> str:
    sel = ", ".join(f"{k}={v}" for k, v in sorted(mapping(spec.get("nodeSelector")).items()))
    aff = mapping(mapping(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return (sel or "no nodeSelector") + ("; plus required node affinity" if aff else "")


def _node_lines(nodes: list[Obj], res: str) -> list[str]:
    lines = []
    for n in nodes[:4]:
        taints = ", ".join(
            f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}"
            for t in mappings(mapping(n.get("spec")).get("taints"))
        )
        gpu_labels = ", ".join(f"{k}={v}" for k, v in sorted(labels_of(n).items()) if "gpu" in k)
        lines.append(
            f"node {name(n)}: {_alloc(n, res)} {res} allocatable; labels {gpu_labels or '-'}; "
            f"taints {taints or '-'}"
        )
    return lines


def _condition_lines(node: Obj) -> list[str]:
    return [
        f"{c.get('type')}={c.get('status')} ({c.get('reason', '')}): {c.get('message', '')}"[:200]
        for c in mappings(mapping(node.get("status")).get("conditions"))
        if (c.get("type") == "Ready") != (c.get("status") == "True")
    ]


def _workloads_without_nodes(state: ClusterState, pool: _Pool) -> Iterator[Finding]:
    """No GPU node and no pod yet: name the workloads that will need one."""
    res = pool.res
    for plural, kind in (("deployments", "Deployment"), ("statefulsets", "StatefulSet")):
        for wl in state.in_scope(plural):
            spec = mapping(wl.get("spec"))
            template = mapping(mapping(spec.get("template")).get("spec"))
            need = pod_request(template, res)
            if need <= 0 or spec.get("replicas", 1) == 0:
                continue
            label = pool.label_for(template)
            if pool.unlabelled:
                listed, joined, _ = pool.unlabelled_named
                yield CAUSES["gpu-label-missing"].finding(
                    resource=ObjectRef.of(kind, wl),
                    message=f"{kind} {name(wl)} requests {need} {res} per pod; no node carries "
                    f"the GPU label {pool.labels}, but {listed} have {res} without it",
                    depends_on=pool.about(pool.unlabelled)[1],
                    nodes=joined,
                    label=label,
                )
            else:
                yield CAUSES["no-gpu-nodes"].finding(
                    resource=ObjectRef.of(kind, wl),
                    message=f"{kind} {name(wl)} requests {need} {res} per pod and no node has "
                    f"{res} or carries the GPU label {pool.labels}",
                    res=res,
                    label=label,
                )


CHECK = Check(
    id=ID,
    title="GPU nodes for the completion service: present, labelled, allocatable, ready, enough",
    severity=Severity.CRITICAL,
    kinds=("nodes", "pods"),
    optional_kinds=("events", "deployments", "statefulsets", "replicasets"),
    causes=CAUSES,
    run=gpu_nodes,
)
