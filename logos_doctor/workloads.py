"""Reading pods and their controllers: readiness, waiting reasons, claim ownership.

Several checks ask the same questions of a pod (is it ready? why is it waiting? which
StatefulSet does this claim belong to?); the answers live here once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from logos_doctor.objects import Obj, ObjectRef, controller_of, meta, name, namespace
from logos_doctor.state import ClusterState


def phase(pod: Obj) -> str:
    """The pod's phase (``Pending``, ``Running`` ...)."""
    return str((pod.get("status") or {}).get("phase") or "Unknown")


def condition(obj: Obj, kind: str) -> Obj | None:
    """The status condition of a type, if present."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def is_ready(pod: Obj) -> bool:
    """Whether the pod's Ready condition is True."""
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def is_terminating(obj: Obj) -> bool:
    """Whether the object is being deleted."""
    return bool(meta(obj).get("deletionTimestamp"))


@dataclass(frozen=True)
class ContainerState:
    """One container's status as the kubelet reported it."""

    name: str
    image: str
    init: bool
    waiting_reason: str | None
    waiting_message: str
    restarts: int
    last_terminated_reason: str | None
    last_exit_code: int | None


def container_states(pod: Obj) -> Iterator[ContainerState]:
    """Every container status of a pod, init containers first."""
    status = pod.get("status") or {}
    spec_images = {
        c.get("name"): c.get("image", "")
        for key in ("initContainers", "containers")
        for c in (pod.get("spec") or {}).get(key) or []
    }
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for cs in status.get(key) or []:
            state = cs.get("state") or {}
            waiting = state.get("waiting") or {}
            last = (cs.get("lastState") or {}).get("terminated") or {}
            yield ContainerState(
                name=str(cs.get("name", "")),
                image=str(spec_images.get(cs.get("name")) or cs.get("image", "")),
                init=init,
                waiting_reason=waiting.get("reason"),
                waiting_message=str(waiting.get("message") or ""),
                restarts=int(cs.get("restartCount") or 0),
                last_terminated_reason=last.get("reason"),
                last_exit_code=last.get("exitCode"),
            )


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a plain equality selector (a Service's) matches a label set."""
    return all(labels.get(k) == v for k, v in selector.items())


def label_selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Whether a metav1.LabelSelector (matchLabels + matchExpressions) matches labels."""
    if not selector:
        return False
    if not selector_matches(selector.get("matchLabels") or {}, labels):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True


_ORDINAL = re.compile(r"^(?P<rest>.+)-(?P<ordinal>\d+)$")


def claim_statefulset(state: ClusterState, pvc: Obj) -> tuple[ObjectRef | None, str | None]:
    """The StatefulSet a claim belongs to and the template it came from, if any.

    The StatefulSet controller names claims ``<template>-<statefulset>-<ordinal>``; the claim
    itself carries no ownerReference unless a retention policy asks for one.  A StatefulSet
    that no longer exists (deleted with ``--cascade=orphan``) is still named, from a pod
    mounting the claim, so a finding can say what it belonged to.
    """
    ns, claim = namespace(pvc), name(pvc)
    owner = controller_of(pvc)
    if owner and owner.get("kind") == "StatefulSet":
        return ObjectRef("StatefulSet", ns, owner.get("name", ""), owner.get("uid")), None
    match = _ORDINAL.match(claim)
    if match:
        for sts in state.list_of("statefulsets", ns):
            sts_name = name(sts)
            for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
                tname = meta(tmpl).get("name", "")
                if match.group("rest") == f"{tname}-{sts_name}":
                    return ObjectRef.of("StatefulSet", sts), tname
    for pod in state.pods_using_claim(ns, claim):
        ref = controller_of(pod)
        if ref and ref.get("kind") == "StatefulSet":
            return ObjectRef("StatefulSet", ns, ref.get("name", ""), ref.get("uid")), None
    return None, None
