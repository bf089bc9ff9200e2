"""How the scheduler sees a pod and a node, for checks that explain why a pod is not placed.

The scheduler's ``FailedScheduling`` verdict (``0/N nodes are available: ...``) counts nodes
but names none, so a check that wants to say *which* nodes refuse a pod, and why, has to
re-evaluate the scheduler's filter plugins over the nodes in the state: the resource request
(NodeResourcesFit), nodeSelector and required node affinity (NodeAffinity), taints and
tolerations (TaintToleration), and the node conditions that stop new pods.  These are the
plugins' rules as documented for Kubernetes 1.37, not a scheduler: no scoring, no
preemption, no inter-pod affinity.

The verdict's phrasings, from kubernetes/kubernetes pkg/scheduler (1.30 to 1.37), are read
by ``parse_verdict`` and sorted into kinds by ``reason_kind``:

- schedule_one.go ``FitError.Error``: ``0/<N> nodes are available: <reasons>.`` where
  <reasons> is either one PreFilter message (``pod has unbound immediate
  PersistentVolumeClaims``, ``persistentvolumeclaim "x" not found``) or the filter
  histogram ``<count> <reason>`` sorted as strings and joined by ``, ``; then the PostFilter
  messages (``preemption: 0/<N> nodes are available: 7 Preemption is not helpful for
  scheduling.``, DRA's ``no new claims to deallocate,``), which say nothing about the nodes.
- framework/plugins/noderesources/fit.go: ``Insufficient <resource>``, ``Too many pods``.
- tainttoleration/taint_toleration.go: ``node(s) had untolerated taint {<key>: <value>}``
  (1.25 to 1.32), ``node(s) had untolerated taint(s)`` (1.33 on, the taint is no longer
  named), ``node(s) had taint {<key>: <value>}, that the pod didn't tolerate`` (before 1.25).
- nodeaffinity/node_affinity.go: ``node(s) didn't match Pod's node affinity/selector``;
  nodename: ``node(s) didn't match the requested node name``;
  nodeunschedulable: ``node(s) were unschedulable``.
- interpodaffinity/filtering.go: ``node(s) didn't match pod affinity rules``, ``node(s)
  didn't match pod anti-affinity rules``, ``node(s) didn't satisfy existing pods
  anti-affinity rules`` (and ``node(s) didn't match pod affinity/anti-affinity`` of old).
- volumebinding/binder.go: ``node(s) had volume node affinity conflict`` (to 1.30),
  ``node(s) didn't match PersistentVolume's node affinity`` (later),
  ``node(s) didn't find available persistent volumes to bind``, ``node(s) did not have
  enough free storage``, ``node(s) unavailable due to one or more pvc(s) bound to
  non-existent pv(s)``; volumezone: ``node(s) had no available volume zone``.
- nodeports/node_ports.go: ``node(s) didn't have free ports for the requested pod ports``.
- podtopologyspread/filtering.go: ``node(s) didn't match pod topology spread constraints``
  (and ``... (missing required label)``).
- nodevolumelimits: ``node(s) exceed max volume count``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from logos_doctor.objects import Obj, labels_of, mapping, mappings, name, parse_quantity
from logos_doctor.selectors import requirement_matches

_FIT = re.compile(r"^0/(\d+) nodes are available: (.*)$", re.S)
_COUNTED = re.compile(r"^(\d+) (.+)$")
_NEXT_COUNT = re.compile(r", (?=\d+ )")
LIFECYCLE_TAINTS = "node.kubernetes.io/"


@dataclass(frozen=True)
class Verdict:
    """The scheduler's FitError, read: how many nodes, and why each was refused.

    ``reasons`` maps each filter reason to the number of nodes it refused; a PreFilter
    rejection (one reason for the whole pod) is ``prefilter`` and counts every node.
    ``post`` is what the PostFilter plugins said (preemption), kept only as text.
    """

    total: int | None
    reasons: dict[str, int] = field(default_factory=dict)
    prefilter: str | None = None
    post: str = ""

    def said(self) -> str:
        """The reasons as the scheduler counted them: ``3 Insufficient cpu, 4 node(s) ...``."""
        if self.prefilter is not None:
            return self.prefilter
        return ", ".join(f"{n} {r}" for r, n in self.reasons.items())


def parse_verdict(message: str) -> Verdict:
    """Parse ``0/N nodes are available: <reasons>. <postfilter>``; Verdict(None) otherwise.

    The reasons end at the first ``". "`` (or the final ``"."``): no reason contains one,
    since resource names, taint keys and claim names cannot hold a space.
    """
    match = _FIT.match(message.strip())
    if not match:
        return Verdict(None)
    total = int(match.group(1))
    rest = match.group(2)
    cut = rest.find(". ")
    first, post = (rest, "") if cut < 0 else (rest[:cut], rest[cut + 2 :])
    first = first.strip().rstrip(".")
    reasons: dict[str, int] = {}
    # Split only before a count: the oldest taint phrasing has a ", " of its own.
    parts = [p.strip() for p in _NEXT_COUNT.split(first) if p.strip()]
    counted = [_COUNTED.match(p) for p in parts]
    if parts and all(counted):
        for m in counted:
            assert m is not None
            reasons[m.group(2)] = reasons.get(m.group(2), 0) + int(m.group(1))
        return Verdict(total, reasons, None, post.strip())
    # A PreFilter message: one reason for every node.
    return Verdict(total, {first: total} if first else {}, first or None, post.strip())


def fit_reasons(message: str) -> tuple[int | None, dict[str, int]]:
    """Parse the scheduler's FitError: ``0/N nodes are available: 2 Insufficient x, 5 ....``

    Its first sentence is either the PreFilter message (one reason for every node) or the
    sorted filter histogram ``<count> <reason>`` joined by ``, ``; the preemption sentence after
    it is not about the nodes' fit and is dropped.
    """
    verdict = parse_verdict(message)
    return verdict.total, dict(verdict.reasons)


# Each filter reason's kind, with what it names (a resource, a taint, a claim).  Sources in
# the module docstring.
_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Insufficient (?P<what>\S+)$"), "insufficient"),
    (re.compile(r"^Too many pods$"), "too-many-pods"),
    (re.compile(r"^node\(s\) had untolerated taint \{(?P<what>[^:{}]*: ?[^{}]*)\}$"), "taint"),
    (re.compile(r"^node\(s\) had untolerated taint\(s\)$"), "taint"),
    (
        re.compile(
            r"^node\(s\) had taint \{(?P<what>[^:{}]*: ?[^{}]*)\}, that the pod didn't tolerate$"
        ),
        "taint",
    ),
    (re.compile(r"^node\(s\) didn't match Pod's node affinity/selector$"), "node-affinity"),
    (re.compile(r"^node\(s\) didn't match Pod's node affinity$"), "node-affinity"),
    (re.compile(r"^node\(s\) didn't match the requested node name$"), "node-name"),
    (re.compile(r"^node\(s\) were unschedulable$"), "unschedulable"),
    (re.compile(r"^node\(s\) didn't match pod affinity rules$"), "pod-affinity"),
    (re.compile(r"^node\(s\) didn't match pod affinity/anti-affinity$"), "pod-affinity"),
    (re.compile(r"^node\(s\) didn't match pod anti-affinity rules$"), "pod-anti-affinity"),
    (
        re.compile(r"^node\(s\) didn't satisfy existing pods anti-affinity rules$"),
        "existing-anti-affinity",
    ),
    (re.compile(r"^node\(s\) had volume node affinity conflict$"), "volume-node-affinity"),
    (
        re.compile(r"^node\(s\) didn't match PersistentVolume's node affinity$"),
        "volume-node-affinity",
    ),
    (re.compile(r"^node\(s\) had no available volume zone$"), "volume-node-affinity"),
    (re.compile(r"^node\(s\) didn't find available persistent volumes to bind$"), "volume-bind"),
    (re.compile(r"^pod has unbound immediate PersistentVolumeClaims$"), "claim-unbound"),
    (re.compile(r'^persistentvolumeclaim "(?P<what>[^"]+)" not found$'), "claim-not-found"),
    (
        re.compile(r"^node\(s\) didn't have free ports for the requested pod ports$"),
        "host-port",
    ),
    (
        re.compile(r"^node\(s\) didn't match pod topology spread constraints( \(.*\))?$"),
        "topology-spread",
    ),
)


def reason_kind(reason: str) -> tuple[str, str | None]:
    """The kind of one filter reason and what it names, or ``("unknown", None)``."""
    for pattern, kind in _KINDS:
        match = pattern.match(reason.strip())
        if match:
            return kind, match.groupdict().get("what")
    return "unknown", None


def pod_request(spec: Obj | None, res: str) -> Decimal:
    """What the scheduler reserves for a pod: max(app containers + sidecars, any init one)."""
    spec = mapping(spec)
    if not _asks(spec, res):
        return Decimal(0)  # most pods, for most resources: no quantity to add up
    inits = mappings(spec.get("initContainers"))
    containers = mappings(spec.get("containers"))

    def one(c: Obj) -> Decimal:
        r = mapping(c.get("resources"))
        value = parse_quantity(
            mapping(r.get("requests")).get(res, mapping(r.get("limits")).get(res))
        )
        return value if value is not None and value.is_finite() else Decimal(0)

    sidecars = [c for c in inits if c.get("restartPolicy") == "Always"]
    app = sum((one(c) for c in [*containers, *sidecars]), Decimal(0))
    return max([app, *(one(c) for c in inits if c not in sidecars)])


def _asks(spec: Obj, res: str) -> bool:
    """Whether any container of a pod spec requests or limits ``res`` at all (the GPU check
    asks it of every pod in the cluster)."""
    for key in ("containers", "initContainers"):
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        for c in items:
            r = c.get("resources") if isinstance(c, dict) else None
            if not isinstance(r, dict):
                continue
            requests, limits = r.get("requests"), r.get("limits")
            if (isinstance(requests, dict) and res in requests) or (
                isinstance(limits, dict) and res in limits
            ):
                return True
    return False


def node_problems(node: Obj) -> list[str]:
    """Why a node takes no new pods: NotReady, cordoned, pressure conditions."""
    conds = {str(c.get("type")): c for c in mappings(mapping(node.get("status")).get("conditions"))}
    out = []
    ready = conds.get("Ready")
    if ready is None or ready.get("status") != "True":
        out.append(
            f"Ready={ready.get('status')} ({ready.get('reason')})"
            if ready
            else "no Ready condition"
        )
    if mapping(node.get("spec")).get("unschedulable") is True:
        out.append("cordoned (unschedulable)")
    for kind in ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"):
        if mapping(conds.get(kind)).get("status") == "True":
            out.append(kind)
    return out


def node_selected(node: Obj, spec: Obj) -> bool:
    """Whether the pod's nodeSelector and required node affinity accept the node."""
    labels = labels_of(node)
    if any(labels.get(k) != v for k, v in mapping(spec.get("nodeSelector")).items()):
        return False
    affinity = mapping(
        mapping(mapping(spec.get("affinity")).get("nodeAffinity")).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
    )
    terms = mappings(affinity.get("nodeSelectorTerms"))
    fields = {"metadata.name": name(node)}
    return not terms or any(
        (t.get("matchExpressions") or t.get("matchFields"))
        and all(requirement_matches(r, labels) for r in mappings(t.get("matchExpressions")))
        and all(requirement_matches(r, fields) for r in mappings(t.get("matchFields")))
        for t in terms
    )


@dataclass(frozen=True)
class Placement:
    """Where the scheduler's node filters let a pod spec go, before resources: the nodes its
    selector and required affinity accept, the operator taints each of those holds against
    it, and the selected nodes whose operator taints it tolerates."""

    selected: list[Obj]
    taints: dict[str, list[str]]
    tolerated: list[Obj]


def placement_key(spec: Obj) -> str:
    """What a ``Placement`` depends on (node selector, affinity, tolerations), as a key: the
    pods of one template, and often of many controllers, place alike, so a check that
    walks the nodes once per key instead of once per pod stops growing as pods x nodes."""
    return json.dumps(
        [spec.get("nodeSelector"), spec.get("affinity"), spec.get("tolerations")],
        sort_keys=True,
        default=str,
    )


def place(spec: Obj, nodes: list[Obj]) -> Placement:
    """The ``Placement`` of ``spec`` over ``nodes``."""
    selected = [n for n in nodes if node_selected(n, spec)]
    taints = {name(n): untolerated(n, spec, lifecycle=False) for n in selected}
    return Placement(selected, taints, [n for n in selected if not taints[name(n)]])


def untolerated(node: Obj, spec: Obj, *, lifecycle: bool) -> list[str]:
    """The node's NoSchedule/NoExecute taints the pod does not tolerate.

    ``lifecycle`` picks the taints the node controllers put on for a node's condition
    (``node.kubernetes.io/not-ready``, ``unschedulable``, ...), which are a node problem, not a
    missing toleration; the others are an operator's (``nvidia.com/gpu:NoSchedule``).
    """
    tolerations = mappings(spec.get("tolerations"))
    out = []
    for taint in mappings(mapping(node.get("spec")).get("taints")):
        key = str(taint.get("key", ""))
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if key.startswith(LIFECYCLE_TAINTS) != lifecycle:
            continue
        if not any(_tolerates(t, taint) for t in tolerations):
            value = f"={taint['value']}" if taint.get("value") else ""
            out.append(f"{key}{value}:{taint.get('effect')}")
    return out


def _tolerates(tol: dict[str, Any], taint: dict[str, Any]) -> bool:
    if tol.get("effect") and tol.get("effect") != taint.get("effect"):
        return False
    op = tol.get("operator") or "Equal"
    if not tol.get("key"):
        return op == "Exists"  # an empty key with Exists tolerates everything
    if tol.get("key") != taint.get("key"):
        return False
    return op == "Exists" or (tol.get("value") or "") == (taint.get("value") or "")
