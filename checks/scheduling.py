"""scheduling: pods the scheduler cannot place, and why, checked against the nodes.

The scheduler says why in the pod's ``PodScheduled=False`` (reason ``Unschedulable``)
condition and in its ``FailedScheduling`` events: ``0/7 nodes are available: 3 Insufficient
cpu, 4 node(s) had untolerated taint(s). preemption: ...``.  That verdict counts each node
under the *first* filter it failed and names no node (since 1.33 not even the taint), so the
check reads it as counts (``logos_doctor.scheduling.parse_verdict``, which lists the
phrasings and their sources) and then re-evaluates the nodes in the state, in the scheduler's
filter order: which nodes the pod selects, which of those taint it away, which are cordoned
or not ready, and only then what stops it on the nodes it could use (resources,
anti-affinity, host ports, volumes, spread).  The finding names the resource, taint, label,
claim or volume.

Ownership, so that a pod has one cause: pods requesting the configured GPU resource belong
to ``gpu-nodes`` (unless it finds a GPU free for them: then what blocks them is not GPUs);
a pod whose only reason is an unbound *immediate* claim belongs to ``pvc-pending`` (the
claim's finding lists the pod).  A claim waiting for its first consumer waits for *this*
pod: it is listed in ``affected``, so pvc-pending's
``consumer-unschedulable`` hangs under this finding.  Pods of one controller with one cause
are one finding (resource the controller, parent the workload, the pods ``affected``), which
the workloads check's ``unavailable-replicas`` links to.  A pod the scheduler has not reported
on yet, or one waiting for preemption victims to leave (``nominatedNodeName``), is quiet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.events import Event, evidence, latest
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import (
    Obj,
    ObjectRef,
    controller_of,
    labels_of,
    mapping,
    mappings,
    name,
    namespace,
    parse_quantity,
    uid,
)
from logos_doctor.pods import condition, is_ready, is_terminating, phase
from logos_doctor.registry import Check
from logos_doctor.scheduling import (
    Verdict,
    node_problems,
    node_selected,
    parse_verdict,
    place,
    placement_key,
    pod_request,
    reason_kind,
    untolerated,
)
from logos_doctor.selectors import label_selector_matches
from logos_doctor.state import ClusterState

from .gpu_nodes import owned_pods

CAUSES = Causes(
    "scheduling",
    Cause(
        "insufficient-resources",
        Severity.CRITICAL,
        "No node the pod may use has room for its resource requests",
        remediation="{advice}",
    ),
    Cause(
        "untolerated-taint",
        Severity.CRITICAL,
        "Every node the pod selects has a taint it does not tolerate",
        remediation=(
            "If {workload} belongs on {nodes}, add to its pod template the toleration "
            "{toleration}; if the taint was put there by mistake, remove it with "
            "kubectl taint node {node} {taint_off}"
        ),
    ),
    Cause(
        "node-selector-mismatch",
        Severity.CRITICAL,
        "No node carries the labels the pod's nodeSelector asks for",
        remediation=(
            "Correct the nodeSelector of {workload}{nearest}, or label the nodes meant for it: "
            "kubectl label node NODE {selector}"
        ),
    ),
    Cause(
        "node-affinity-mismatch",
        Severity.CRITICAL,
        "No node matches the pod's required node affinity",
        remediation=(
            "Label the nodes meant for {workload} to match {affinity}, or correct the "
            "required node affinity of its pod template."
        ),
    ),
    Cause(
        "pod-affinity-unsatisfiable",
        Severity.CRITICAL,
        "The pod's required pod affinity finds no pod to be placed with",
        remediation=(
            "Start the pods it must run beside ({selector}, same {topology}), or make the "
            "affinity preferred instead of required."
        ),
    ),
    Cause(
        "pod-anti-affinity-unsatisfiable",
        Severity.CRITICAL,
        "Required pod anti-affinity leaves no node for the pod",
        remediation=(
            "Required anti-affinity on {topology} allows one such pod per {topology}: run "
            "at most {domains} replica(s), add nodes (each a new {topology}), or make the "
            "anti-affinity preferredDuringSchedulingIgnoredDuringExecution."
        ),
    ),
    Cause(
        "volume-node-affinity-conflict",
        Severity.CRITICAL,
        "The pod's volume is pinned to a node or zone the pod cannot run on",
        remediation="{advice}",
    ),
    Cause(
        "claim-not-found",
        Severity.CRITICAL,
        "The pod mounts a PersistentVolumeClaim that does not exist",
        remediation=(
            "Create PersistentVolumeClaim {claim} in {namespace}, or correct the claimName "
            "in {workload}'s pod template; the scheduler retries by itself."
        ),
    ),
    Cause(
        "host-port-conflict",
        Severity.CRITICAL,
        "No node the pod may use has its host port free",
        remediation=(
            "Only one pod per node can bind host port {ports}: {workload} needs a node per "
            "replica. Drop hostPort (expose the port through a Service), run fewer replicas, "
            "or add nodes."
        ),
    ),
    Cause(
        "topology-spread",
        Severity.CRITICAL,
        "The pod's topology spread constraints leave no node for it",
        remediation=(
            "Add nodes in the {topology} domains that are short, raise maxSkew, or set "
            "whenUnsatisfiable: ScheduleAnyway on {workload}'s constraint."
        ),
    ),
    Cause(
        "unschedulable-node",
        Severity.CRITICAL,
        "The only nodes the pod may use are cordoned or not ready",
        remediation=(
            "If the maintenance on {nodes} is over: 'kubectl uncordon {node}'. A node that is "
            "not ready needs its kubelet (or the instance) looked at."
        ),
    ),
    Cause(
        "unknown",
        Severity.WARNING,
        "The scheduler cannot place the pod, for a reason not recognised",
        remediation=(
            "Read the scheduler's message quoted in the evidence ('kubectl describe pod "
            "{pod} -n {namespace}') and the kube-scheduler log."
        ),
    ),
)

# Filters that only say which nodes are not for this pod; what stops it is found on the rest.
_EXCLUDING = {"node-affinity", "node-name", "taint", "unschedulable"}
# Which reason speaks for the pod when the nodes it may use fail for several (ties only).
_ORDER = (
    "claim-not-found",
    "volume-node-affinity",
    "volume-bind",
    "insufficient",
    "too-many-pods",
    "pod-anti-affinity",
    "existing-anti-affinity",
    "pod-affinity",
    "host-port",
    "topology-spread",
    "claim-unbound",
    "unknown",
)
_BINARY = ("memory", "ephemeral-storage", "hugepages-")
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


@dataclass(frozen=True)
class Diagnosis:
    """Why one pod is not placed: the cause, its message and the facts for the templates."""

    cause: str
    message: str
    evidence: tuple[str, ...] = ()
    depends_on: tuple[ObjectRef, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)


def scheduling(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per controller and cause over the pods the scheduler cannot place."""
    nodes = state.list_of("nodes")
    gpu = owned_pods(state, config)
    groups: dict[tuple[str, str | None, str, str], list[tuple[Obj, Diagnosis, str]]] = {}
    # Pods of one controller share a spec: one diagnosis per controller and verdict, not one
    # pass over the nodes per pending pod.
    seen: dict[tuple[str, str | None, str, str], Diagnosis | None] = {}
    # And controllers whose pods place alike (same selector, affinity, tolerations) share one
    # pass over the nodes: N controllers x M nodes grew with the square of the cluster.
    placements: dict[str, _Placement] = {}
    for pod in state.in_scope("pods"):
        if uid(pod) in gpu:
            continue  # gpu-nodes explains it (a GPU pod whose cause is not GPUs stays here)
        said = _verdict(state, pod)
        if said is None:
            continue
        owner = _controller(state, pod)
        known = (owner.kind, owner.namespace, owner.name, said)
        if known not in seen or owner.kind == "Pod":
            seen[known] = _diagnose(state, pod, parse_verdict(said), said, nodes, placements)
        found = seen[known]
        if found is not None:
            key = (owner.kind, owner.namespace, owner.name, found.cause)
            groups.setdefault(key, []).append((pod, found, said))
    serving = {state.workload_of(p) for p in state.in_scope("pods") if groups and is_ready(p)}
    for members in groups.values():
        yield _finding(state, members, serving)


def _verdict(state: ClusterState, pod: Obj) -> str | None:
    """The scheduler's last word on a pod it could not place; None when it has none yet."""
    spec = mapping(pod.get("spec"))
    if phase(pod) != "Pending" or is_terminating(pod) or spec.get("nodeName"):
        return None
    if mapping(pod.get("status")).get("nominatedNodeName"):
        return None  # preemption is making room for it on a node: it has a place
    cond = condition(pod, "PodScheduled") or {}
    if cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
        return str(cond.get("message") or "") or None
    if cond:
        return None  # SchedulerError (a PreBind failure, pvc-pending's) or scheduled
    scheduler = str(spec.get("schedulerName") or "default-scheduler")
    ev = latest(e for e in _failed(state, pod) if e.source in ("", scheduler))
    return ev.message if ev is not None else None


def _failed(state: ClusterState, pod: Obj) -> list[Event]:
    return [e for e in state.events_for("Pod", pod) if e.reason == "FailedScheduling"]


def _controller(state: ClusterState, pod: Obj) -> ObjectRef:
    """The pod's own controller (ReplicaSet, StatefulSet, Job...), or the pod itself."""
    ref = controller_of(pod)
    if not ref:
        return ObjectRef.of("Pod", pod)
    found = state.owner(pod, ref)
    if found is not None:
        return ObjectRef.of(found[0], found[1])
    return ObjectRef(str(ref.get("kind", "?")), namespace(pod), str(ref.get("name", "?")))


def _finding(
    state: ClusterState,
    members: list[tuple[Obj, Diagnosis, str]],
    serving: set[ObjectRef | None],
) -> Finding:
    pods = [p for p, _, _ in members]
    first, found, said = members[0]
    owner, workload = _controller(state, first), state.workload_of(first)
    top = workload or owner
    who = (
        f"pod {name(first)}"
        if owner.kind == "Pod"
        else f"{len(pods)} pod(s) of {top.kind} {top.name}"
    )
    events = [e for p in pods for e in _failed(state, p)]
    waiting = {c for p in pods for c in _waiting_claims(state, p)}
    return CAUSES[found.cause].finding(
        resource=owner,
        parent=workload if workload is not None and workload != owner else None,
        # The cause first: it is what a clipped first screen must still show.
        message=f"{found.message}; {who} cannot be scheduled",
        evidence=(f"scheduler: {said}", *evidence(events, state.now, limit=2), *found.evidence),
        affected=(*(ObjectRef.of("Pod", p) for p in pods), *sorted(waiting)),
        depends_on=found.depends_on,
        # A workload still serving from its other replicas has lost capacity, not the service.
        severity=Severity.WARNING if workload is not None and workload in serving else None,
        **{
            "workload": f"{top.kind}/{top.name}",
            "namespace": namespace(first) or "",
            "pod": name(first),
            **found.facts,
        },
    )


def _waiting_claims(state: ClusterState, pod: Obj) -> list[ObjectRef]:
    """The pod's claims that are not bound yet: they wait for this pod to be placed."""
    out = []
    for claim in _claims(pod):
        pvc = state.get("PersistentVolumeClaim", namespace(pod), claim)
        if pvc is not None and mapping(pvc.get("status")).get("phase") != "Bound":
            out.append(ObjectRef.of("PersistentVolumeClaim", pvc))
    return out


def _claims(pod: Obj) -> list[str]:
    vols = mappings(mapping(pod.get("spec")).get("volumes"))
    return [
        str(mapping(v.get("persistentVolumeClaim")).get("claimName"))
        for v in vols
        if mapping(v.get("persistentVolumeClaim")).get("claimName")
    ]


# -- the diagnosis, in the scheduler's filter order ---------------------------------------


_Placement = tuple[list[Obj], dict[str, list[str]], list[Obj], list[Obj]]


def _placement(spec: Obj, nodes: list[Obj], placements: dict[str, _Placement]) -> _Placement:
    """The nodes a pod with ``spec`` selects, their untolerated taints, the tolerated ones,
    and those not down; once per ``placement_key`` (all these read)."""
    key = placement_key(spec)
    found = placements.get(key)
    if found is None:
        p = place(spec, nodes)
        usable = [n for n in p.tolerated if not _down(n, spec)]
        found = placements[key] = (p.selected, p.taints, p.tolerated, usable)
    return found


def _diagnose(
    state: ClusterState,
    pod: Obj,
    verdict: Verdict,
    said: str,
    nodes: list[Obj],
    placements: dict[str, _Placement],
) -> Diagnosis | None:
    spec = mapping(pod.get("spec"))
    if verdict.total is None:
        return Diagnosis("unknown", f"the scheduler says: {said}")
    kinds: Counter[str] = Counter()
    named: dict[str, list[str]] = {}
    for reason, count in verdict.reasons.items():
        kind, what = reason_kind(reason)
        kinds[kind] += count
        if what:
            named.setdefault(kind, []).append(what)
    if not kinds or set(kinds) == {"claim-unbound"}:
        return None  # nothing about the nodes (preemption alone), or pvc-pending's claim
    if "claim-not-found" in kinds:
        return _claim_not_found(state, pod, named.get("claim-not-found", []))
    selected, taints, tolerated, usable = _placement(spec, nodes, placements)
    if not selected:
        return _selector(spec, nodes)
    if not tolerated:
        return _taint(selected, taints)
    if not usable:
        return _unschedulable(tolerated, spec)
    rest = {k: c for k, c in kinds.items() if k not in _EXCLUDING}
    if not rest:
        # The verdict blames only node selection, yet nodes in the state would take the pod:
        # the nodes changed since the scheduler's last try.  Say so, quoting it.
        return Diagnosis(
            "unknown",
            f"the scheduler says: {verdict.said()}; yet {len(usable)} node(s) would take the "
            "pod now: the nodes changed since its last try",
        )
    kind = max(rest, key=lambda k: (rest[k], -_ORDER.index(k) if k in _ORDER else -99))
    on = f" (on the nodes it may use: {_histogram(rest, verdict)})"
    if kind in ("insufficient", "too-many-pods"):
        wanted = named.get("insufficient", []) + (["pods"] if "too-many-pods" in rest else [])
        return _insufficient(state, spec, usable, wanted, on)
    if kind in ("volume-node-affinity", "volume-bind"):
        return _volume(state, pod, usable, on)
    if kind in ("pod-anti-affinity", "existing-anti-affinity"):
        return _anti_affinity(state, pod, usable, kind, on)
    if kind == "pod-affinity":
        return _affinity(state, pod, usable, on)
    if kind == "host-port":
        return _host_port(state, spec, usable, on)
    if kind == "topology-spread":
        return _spread(state, pod, selected, usable, on)
    return Diagnosis("unknown", f"the scheduler says: {verdict.said()}")


def _histogram(rest: dict[str, int], verdict: Verdict) -> str:
    return ", ".join(f"{n} {r}" for r, n in verdict.reasons.items() if reason_kind(r)[0] in rest)


def _down(node: Obj, spec: Obj) -> bool:
    """Cordoned, or carrying a node-condition taint the pod does not tolerate."""
    return mapping(node.get("spec")).get("unschedulable") is True or bool(
        untolerated(node, spec, lifecycle=True)
    )


def _claim_not_found(state: ClusterState, pod: Obj, said: list[str]) -> Diagnosis:
    ns = namespace(pod)
    missing = said or [c for c in _claims(pod) if state.get("PersistentVolumeClaim", ns, c) is None]
    claim = missing[0] if missing else "?"
    return Diagnosis(
        "claim-not-found",
        f'the pod mounts PersistentVolumeClaim "{claim}", which does not exist in {ns}',
        depends_on=tuple(ObjectRef("PersistentVolumeClaim", ns, c) for c in missing),
        facts={"claim": claim},
    )


def _selector(spec: Obj, nodes: list[Obj]) -> Diagnosis:
    selector = {str(k): str(v) for k, v in mapping(spec.get("nodeSelector")).items()}
    by_selector = [n for n in nodes if all(labels_of(n).get(k) == v for k, v in selector.items())]
    if selector and not by_selector:
        text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        near = []
        for key, want in sorted(selector.items()):
            have = Counter(labels_of(n)[key] for n in nodes if key in labels_of(n))
            if have:
                values = ", ".join(f"{v} ({c})" for v, c in sorted(have.items()))
                near.append(f"nodes have {key}={values}, not {want}")
        nearest = f" ({'; '.join(near)})" if near else ""
        missing = "; ".join(near) or f"no node has the label {' or '.join(sorted(selector))}"
        return Diagnosis(
            "node-selector-mismatch",
            f"nodeSelector {text} matches none of the {len(nodes)} node(s): {missing}",
            facts={"selector": text, "nearest": nearest},
        )
    terms = mappings(
        mapping(
            mapping(mapping(spec.get("affinity")).get("nodeAffinity")).get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
        ).get("nodeSelectorTerms")
    )
    affinity = " or ".join(_term_text(t) for t in terms) or "its node affinity"
    return Diagnosis(
        "node-affinity-mismatch",
        f"required node affinity ({affinity}) matches none of the {len(nodes)} node(s)"
        + (f" its nodeSelector allows ({len(by_selector)})" if selector else ""),
        facts={"affinity": affinity},
    )


def _term_text(term: Obj) -> str:
    parts = []
    for req in (*mappings(term.get("matchExpressions")), *mappings(term.get("matchFields"))):
        values = req.get("values")
        shown = f" [{', '.join(map(str, values))}]" if isinstance(values, list) and values else ""
        parts.append(f"{req.get('key')} {req.get('operator')}{shown}")
    return " and ".join(parts) or "(empty term)"


def _taint(selected: list[Obj], taints: dict[str, list[str]]) -> Diagnosis:
    every = sorted({t for ts in taints.values() for t in ts})
    first = every[0]
    head, effect = first.rsplit(":", 1)
    key, _, value = head.partition("=")
    toleration = (
        f"{{key: {key}, operator: Equal, value: {value}, effect: {effect}}}"
        if value
        else f"{{key: {key}, operator: Exists, effect: {effect}}}"
    )
    names = sorted(taints)
    on = [n for n in names if first in taints[n]]
    return Diagnosis(
        "untolerated-taint",
        f"untolerated taint {', '.join(every)} on the {len(selected)} node(s) it selects "
        f"({_names(names)})",
        evidence=tuple(f"node {n}: untolerated {', '.join(taints[n])}" for n in names[:4]),
        depends_on=tuple(ObjectRef("Node", None, n) for n in names),
        facts={
            "nodes": _names(names),
            "node": on[0],
            "taint_off": f"{first}-",
            "toleration": toleration,
        },
    )


def _unschedulable(nodes: list[Obj], spec: Obj) -> Diagnosis:
    why = {
        name(n): ", ".join(node_problems(n) or untolerated(n, spec, lifecycle=True)) for n in nodes
    }
    names = sorted(why)
    cordoned = [n for n in names if "cordoned" in why[n]]
    return Diagnosis(
        "unschedulable-node",
        f"the {len(nodes)} node(s) it may use cannot take new pods: "
        + "; ".join(f"{n} {why[n]}" for n in names[:4]),
        depends_on=tuple(ObjectRef("Node", None, n) for n in names),
        facts={"nodes": _names(names), "node": (cordoned or names)[0]},
    )


def _insufficient(
    state: ClusterState, spec: Obj, usable: list[Obj], resources: list[str], on: str
) -> Diagnosis:
    res = resources[0] if resources else "cpu"
    want = Decimal(1) if res == "pods" else pod_request(spec, res)
    room = {name(n): (_alloc(n, res), _free(state, n, res)) for n in usable}
    best = max(room, key=lambda n: (room[n][1], room[n][0]))
    biggest = max(a for a, _ in room.values())
    alloc, free = room[best]
    what = "a pod slot" if res == "pods" else f"{_show(res, want)} {res}"
    scope = "" if state.scope.namespaces is None else ", counting the pods in scope"
    message = (
        f"the pod requests {what}; the most free on the {len(usable)} node(s) it may use is "
        f"{_show(res, free)} on {best} ({_show(res, alloc)} allocatable{scope}){on}"
    )
    if res != "pods" and want > biggest:
        advice = (
            f"No node the pod may use has {_show(res, want)} {res} allocatable at all (the "
            f"largest has {_show(res, biggest)}): lower its {res} request, or add larger nodes."
        )
    else:
        advice = (
            f"The nodes the pod may use are full: add nodes (or let the cluster autoscaler "
            f"do it), free capacity held by other pods, or lower its {res} request "
            f"({_show(res, want)})."
        )
    return Diagnosis(
        "insufficient-resources",
        message,
        facts={"advice": advice, "requested_resource": res},
    )


def _alloc(node: Obj, res: str) -> Decimal:
    value = parse_quantity(mapping(mapping(node.get("status")).get("allocatable")).get(res))
    return value if value is not None and value.is_finite() else Decimal(0)


def _free(state: ClusterState, node: Obj, res: str) -> Decimal:
    live = [p for p in state.pods_on_node(name(node)) if phase(p) not in ("Succeeded", "Failed")]
    if res == "pods":
        return _alloc(node, res) - len(live)
    return _alloc(node, res) - sum((pod_request(p.get("spec"), res) for p in live), Decimal(0))


def _show(res: str, value: Decimal) -> str:
    """A quantity as people write it: 512Gi, 1.5Gi, 250m, 4."""
    if res.startswith(_BINARY):
        for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if abs(value) >= size:
                return f"{(value / size).quantize(Decimal('0.1')).normalize():f}{unit}"
        return f"{value.normalize():f}"
    if res == "cpu" and value != value.to_integral_value():
        return f"{(value * 1000).to_integral_value():f}m"
    return f"{value.normalize():f}"


def _volume(state: ClusterState, pod: Obj, usable: list[Obj], on: str) -> Diagnosis:
    ns = namespace(pod)
    for claim in _claims(pod):
        pvc = state.get("PersistentVolumeClaim", ns, claim)
        pv_name = mapping(pvc.get("spec")).get("volumeName") if pvc else None
        pv = state.get("PersistentVolume", None, str(pv_name)) if pv_name else None
        if pv is None:
            continue
        required = mapping(mapping(mapping(pv.get("spec")).get("nodeAffinity")).get("required"))
        terms = mappings(required.get("nodeSelectorTerms"))
        if not terms:
            continue
        as_spec = {
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}
            }
        }
        if any(node_selected(n, as_spec) for n in usable):
            continue
        pinned = " or ".join(_term_text(t) for t in terms)
        there = [n for n in state.list_of("nodes") if node_selected(n, as_spec)]
        if there:
            where = (
                f"the node(s) there ({_names([name(n) for n in there])}) are not ones the pod "
                "may use (selector, taint, cordoned or not ready)"
            )
        else:
            where = "no node in the cluster matches: that node or zone is gone or has no nodes"
        advice = (
            f"PersistentVolume {name(pv)} can only be used on nodes with {pinned}, and {where}. "
            "A volume does not move: bring a node back there (or add capacity in that zone), "
            "or restore the data onto a volume where the pod can run."
        )
        return Diagnosis(
            "volume-node-affinity-conflict",
            f"claim {claim} is bound to PersistentVolume {name(pv)}, pinned to {pinned}; "
            f"{where}{on}",
            evidence=(f"PersistentVolume {name(pv)}: nodeAffinity {pinned}",),
            depends_on=(
                ObjectRef.of("PersistentVolume", pv),
                *(ObjectRef.of("Node", n) for n in there),
            ),
            facts={"advice": advice, "pv": name(pv), "claim": claim},
        )
    waiting = [str(c) for c in _waiting_claims(state, pod)]
    advice = (
        "No PersistentVolume fits both the claim and a node the pod may use: create a "
        "matching PersistentVolume reachable from those nodes, or use a StorageClass that "
        "provisions one."
    )
    return Diagnosis(
        "volume-node-affinity-conflict",
        f"no PersistentVolume for its claim(s) {', '.join(waiting) or _claims(pod)} can be "
        f"used on the nodes it may use{on}",
        facts={"advice": advice, "pv": "", "claim": ", ".join(_claims(pod))},
    )


def _required_terms(spec: Obj, which: str) -> list[dict[str, Any]]:
    return mappings(
        mapping(mapping(spec.get("affinity")).get(which)).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
    )


def _anti_affinity(
    state: ClusterState, pod: Obj, usable: list[Obj], kind: str, on: str
) -> Diagnosis:
    spec = mapping(pod.get("spec"))
    terms = _required_terms(spec, "podAntiAffinity")
    key = str(terms[0].get("topologyKey")) if terms else "kubernetes.io/hostname"
    domains = sorted({labels_of(n)[key] for n in usable if key in labels_of(n)})
    replicas = _replicas(state, pod)
    if kind == "existing-anti-affinity" or not terms:
        message = (
            f"pods already running on the {len(usable)} node(s) it may use have required "
            f"anti-affinity against it{on}"
        )
    else:
        message = (
            f"required pod anti-affinity allows one matching pod per {key}; {replicas} "
            f"replica(s) want placing, and the {len(usable)} node(s) it may use offer "
            f"{len(domains)} {key} value(s){on}"
        )
    return Diagnosis(
        "pod-anti-affinity-unsatisfiable",
        message,
        facts={"topology": key, "domains": len(domains), "replicas": replicas},
    )


def _affinity(state: ClusterState, pod: Obj, usable: list[Obj], on: str) -> Diagnosis:
    spec = mapping(pod.get("spec"))
    terms = _required_terms(spec, "podAffinity")
    term = terms[0] if terms else {}
    key = str(term.get("topologyKey") or "kubernetes.io/hostname")
    selector = mapping(term.get("labelSelector"))
    text = ",".join(f"{k}={v}" for k, v in sorted(mapping(selector.get("matchLabels")).items()))
    text = text or "its label selector"
    ns = namespace(pod)
    peers = [
        p
        for p in state.list_of("pods", ns)
        if p is not pod and label_selector_matches(selector, labels_of(p))
    ]
    placed = [p for p in peers if mapping(p.get("spec")).get("nodeName")]
    return Diagnosis(
        "pod-affinity-unsatisfiable",
        f"required pod affinity wants a pod with {text} in the same {key}; {len(peers)} "
        f"such pod(s) in {ns}, {len(placed)} placed, none on the nodes it may use{on}",
        facts={"selector": text, "topology": key},
    )


def _replicas(state: ClusterState, pod: Obj) -> int:
    workload = state.workload_of(pod)
    if workload is not None:
        obj = state.get(workload.kind, workload.namespace, workload.name)
        wanted = mapping(obj.get("spec") if obj else None).get("replicas")
        if isinstance(wanted, int) and not isinstance(wanted, bool):
            return wanted
    owner = controller_of(pod)
    return sum(1 for p in state.list_of("pods", namespace(pod)) if controller_of(p) == owner)


def _host_port(state: ClusterState, spec: Obj, usable: list[Obj], on: str) -> Diagnosis:
    ports = sorted(
        {
            (int(p["hostPort"]), str(p.get("protocol") or "TCP"))
            for c in (*mappings(spec.get("initContainers")), *mappings(spec.get("containers")))
            for p in mappings(c.get("ports"))
            if isinstance(p.get("hostPort"), int) and p["hostPort"] > 0
        }
    )
    holders = []
    for node in usable:
        for other in state.pods_on_node(name(node)):
            theirs = {
                (int(p["hostPort"]), str(p.get("protocol") or "TCP"))
                for c in mappings(mapping(other.get("spec")).get("containers"))
                for p in mappings(c.get("ports"))
                if isinstance(p.get("hostPort"), int)
            }
            if theirs & set(ports) and phase(other) not in ("Succeeded", "Failed"):
                holders.append(f"{namespace(other)}/{name(other)} on {name(node)}")
    text = ", ".join(f"{p}/{proto}" for p, proto in ports) or "(none found)"
    held = f"held by {', '.join(holders[:4])}" if holders else "held by pods outside the scope"
    return Diagnosis(
        "host-port-conflict",
        f"host port {text} is bound by each pod; on the {len(usable)} node(s) it may use the "
        f"port is {held}{on}",
        facts={"ports": text},
    )


def _spread(
    state: ClusterState, pod: Obj, selected: list[Obj], usable: list[Obj], on: str
) -> Diagnosis:
    spec = mapping(pod.get("spec"))
    hard = [
        c
        for c in mappings(spec.get("topologySpreadConstraints"))
        if c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
    ]
    parts = []
    for c in hard:
        key = str(c.get("topologyKey"))
        selector = mapping(c.get("labelSelector"))
        counts: Counter[str] = Counter()
        for node in selected:
            if key in labels_of(node):
                counts[labels_of(node)[key]] += sum(
                    1
                    for p in state.pods_on_node(name(node))
                    if namespace(p) == namespace(pod)
                    and label_selector_matches(selector, labels_of(p))
                )
        reachable = {labels_of(n)[key] for n in usable if key in labels_of(n)}
        blocked = sorted(v for v in counts if v not in reachable)
        unlabelled = sum(1 for n in usable if key not in labels_of(n))
        parts.append(
            f"maxSkew {c.get('maxSkew')} over {key}, matching pods per value: "
            + ", ".join(f"{v}={n}" for v, n in sorted(counts.items()))
            + (f"; no node it may use in {', '.join(blocked)}" if blocked else "")
            + (f"; {unlabelled} node(s) without the label" if unlabelled else "")
        )
    key = str(hard[0].get("topologyKey")) if hard else "topology"
    return Diagnosis(
        "topology-spread",
        f"topology spread constraint cannot be met ({'; '.join(parts) or 'none found'}){on}",
        facts={"topology": key},
    )


def _names(names: list[str]) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


CHECK = Check(
    id="scheduling",
    title="Pods the scheduler cannot place, with the cause checked against the nodes",
    severity=Severity.CRITICAL,
    kinds=("pods", "nodes"),
    optional_kinds=(
        "events",
        "replicasets",
        "deployments",
        "statefulsets",
        "persistentvolumeclaims",
        "persistentvolumes",
    ),
    causes=CAUSES,
    run=scheduling,
)
