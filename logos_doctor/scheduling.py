"""How the scheduler sees a pod and a node, for checks that explain why a pod is not placed.

The scheduler's ``FailedScheduling`` verdict (``0/N nodes are available: ...``) counts nodes
but names none, so a check that wants to say *which* nodes refuse a pod, and why, has to
re-evaluate the scheduler's filter plugins over the nodes in the state: the resource request
(NodeResourcesFit), nodeSelector and required node affinity (NodeAffinity), taints and
tolerations (TaintToleration), and the node conditions that stop new pods.  These are the
plugins' rules as documented for Kubernetes 1.37, not a scheduler: no scoring, no
preemption, no inter-pod affinity.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from logos_doctor.objects import Obj, labels_of, mapping, mappings, name, parse_quantity

_FIT = re.compile(r"^0/(\d+) nodes are available: (.*)$", re.S)
_COUNTED = re.compile(r"^(\d+) (.+)$")
LIFECYCLE_TAINTS = "node.kubernetes.io/"


def fit_reasons(message: str) -> tuple[int | None, dict[str, int]]:
    """Parse the scheduler's FitError: ``0/N nodes are available: 2 Insufficient x, 5 ....``

    Its first sentence is either the PreFilter message (one reason for every node) or the
    sorted filter histogram ``<count> <reason>`` joined by ``, ``; the preemption sentence after
    it is not about the nodes' fit and is dropped.
    """
    match = _FIT.match(message.strip())
    if not match:
        return None, {}
    total = int(match.group(1))
    first = match.group(2).split(". ")[0].rstrip(".")
    reasons: dict[str, int] = {}
    for part in first.split(", "):
        counted = _COUNTED.match(part.strip())
        if counted:
            reasons[counted.group(2)] = reasons.get(counted.group(2), 0) + int(counted.group(1))
        elif part.strip():
            reasons[part.strip()] = total
    return total, reasons


def pod_request(spec: Obj | None, res: str) -> Decimal:
    """What the scheduler reserves for a pod: max(app containers + sidecars, any init one)."""
    spec = mapping(spec)

    def one(c: Obj) -> Decimal:
        r = mapping(c.get("resources"))
        value = parse_quantity(
            mapping(r.get("requests")).get(res, mapping(r.get("limits")).get(res))
        )
        return value if value is not None and value.is_finite() else Decimal(0)

    inits = mappings(spec.get("initContainers"))
    sidecars = [c for c in inits if c.get("restartPolicy") == "Always"]
    app = sum((one(c) for c in [*mappings(spec.get("containers")), *sidecars]), Decimal(0))
    return max([app, *(one(c) for c in inits if c not in sidecars)])


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
        and all(_requirement(r, labels) for r in mappings(t.get("matchExpressions")))
        and all(_requirement(r, fields) for r in mappings(t.get("matchFields")))
        for t in terms
    )


def _requirement(req: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op = str(req.get("key", "")), req.get("operator")
    raw = req.get("values")
    values: list[str] = [str(v) for v in raw] if isinstance(raw, list) else []
    if op in ("Gt", "Lt"):
        try:
            have, limit = int(labels[key]), int(values[0])
        except (KeyError, IndexError, TypeError, ValueError):
            return False
        return have > limit if op == "Gt" else have < limit
    return {
        "In": key in labels and labels[key] in values,
        "NotIn": key not in labels or labels[key] not in values,
        "Exists": key in labels,
        "DoesNotExist": key not in labels,
    }.get(str(op), False)


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
