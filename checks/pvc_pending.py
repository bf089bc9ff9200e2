"""pvc-pending: every claim that is not Bound, classified by why, with what it blocks.

The cause comes from the PV controller's own events on the claim (matched by uid), the claim's
class and its binding mode, not from the claim's phase alone: "Pending" is normal for a
WaitForFirstConsumer claim with no pod yet, and fatal when its class does not exist.  The pods
blocked on the claim are listed on the claim's finding instead of being reported again as
unschedulable pods.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from logos_doctor.config import Config
from logos_doctor.events import Event, evidence, latest
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import (
    Obj,
    ObjectRef,
    age,
    annotations_of,
    meta,
    name,
    namespace,
    parse_time,
)
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState
from logos_doctor.workloads import claim_statefulset, phase

from .storage_class import claim_class, is_default

SELECTED_NODE = "volume.kubernetes.io/selected-node"
FIX = "logos-doctor fix pvc"


@dataclass(frozen=True)
class _Diagnosis:
    cause: str
    severity: Severity
    message: str
    remediation: str
    fixable: bool = False
    depends_on: tuple[ObjectRef, ...] = ()


def pvc_pending(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per claim that is not Bound."""
    classes = {name(sc): sc for sc in state.list_of("storageclasses")}
    for pvc in state.in_scope("persistentvolumeclaims"):
        claim_phase = (pvc.get("status") or {}).get("phase") or "Pending"
        if claim_phase == "Bound":
            continue
        events = state.events_for("PersistentVolumeClaim", pvc)
        parent, _ = claim_statefulset(state, pvc)
        ns = namespace(pvc)
        blocked = [p for p in state.pods_using_claim(ns, name(pvc)) if phase(p) == "Pending"]
        found = _diagnose(state, config, pvc, claim_phase, events, classes, blocked)
        yield Finding(
            check="pvc-pending",
            cause=found.cause,
            severity=found.severity,
            resource=ObjectRef.of("PersistentVolumeClaim", pvc),
            parent=parent,
            message=found.message,
            evidence=(*evidence(events, state.now), *_pod_evidence(state, blocked)),
            remediation=found.remediation,
            fix=f"{FIX} -n {ns}" if found.fixable and ns else None,
            affected=tuple(ObjectRef.of("Pod", p) for p in blocked),
            depends_on=found.depends_on,
        )


def _diagnose(
    state: ClusterState,
    config: Config,
    pvc: Obj,
    claim_phase: str,
    events: list[Event],
    classes: dict[str, Obj],
    blocked: list[Obj],
) -> _Diagnosis:
    claim = name(pvc)
    cls = claim_class(pvc)
    sc_ref = (ObjectRef("StorageClass", None, cls),) if cls else ()
    waiting = age(parse_time((pvc.get("metadata") or {}).get("creationTimestamp")), state.now)
    impact = Severity.CRITICAL if blocked else Severity.WARNING
    blocks = f"; blocks {len(blocked)} pod(s)" if blocked else ""

    if claim_phase == "Lost":
        volume = (pvc.get("spec") or {}).get("volumeName") or "its volume"
        return _Diagnosis(
            "lost",
            Severity.CRITICAL,
            f"claim {claim} is Lost: {volume} no longer exists; data on it is gone",
            "Restore the data from backup into a new claim; read the runbook before deleting "
            "anything.",
        )

    if cls and cls not in classes:
        expected = config.storage_class.name
        hint = (
            f"Create StorageClass {cls} ('logos-doctor fix storageclass')."
            if cls == expected
            else f"The claim names {cls}, but production uses {expected}: the claim (or its "
            "StatefulSet template) must be recreated with the right class."
        )
        return _Diagnosis(
            "storage-class-missing",
            Severity.CRITICAL,
            f"claim {claim} is Pending for {waiting}: StorageClass {cls} does not exist{blocks}",
            hint,
            fixable=True,
            depends_on=sc_ref,
        )

    selected = annotations_of(pvc).get(SELECTED_NODE)
    if selected and state.has("nodes") and state.get("Node", None, selected) is None:
        return _Diagnosis(
            "selected-node-gone",
            Severity.CRITICAL,
            f"claim {claim} waits for a volume on node {selected}, which no longer exists{blocks}",
            "The scheduler chose a node that is gone; the claim must be recreated so that the "
            "next pod can choose again ('logos-doctor fix pvc').",
            fixable=True,
        )

    failed = latest(
        [e for e in events if not _stale_class_failure(e, classes)], "ProvisioningFailed"
    )
    succeeded = latest(events, "ProvisioningSucceeded")
    if failed and not (succeeded and _after(succeeded, failed)):
        return _Diagnosis(
            "provisioning-failed",
            impact,
            f"provisioning for claim {claim} failed: {failed.message}{blocks}",
            "Read the provisioner's message; fix its cause (quota, zone, parameters, IAM) "
            "and the provisioner retries on its own.",
            depends_on=sc_ref,
        )

    # "" asks for no dynamic provisioning at all; an unset class gets the default, if any.
    if cls == "" or (cls is None and not any(is_default(sc) for sc in classes.values())):
        why = "asks for no StorageClass" if cls == "" else "names no StorageClass, none is default,"
        return _Diagnosis(
            "no-storage-class",
            impact,
            f"claim {claim} {why} and no PersistentVolume matches it{blocks}",
            f"Set storageClassName (production uses {config.storage_class.name}) or create a "
            "matching PersistentVolume.",
        )

    external = [e for e in events if e.reason == "ExternalProvisioning"]
    if external:
        first = min((e.first for e in external if e.first), default=None)
        seconds = (state.now - first).total_seconds() if first else 0.0
        provisioner = (classes.get(cls or "") or {}).get("provisioner", "the CSI driver")
        late = seconds >= config.provisioner_wait_seconds
        return _Diagnosis(
            "waiting-for-provisioner",
            impact if late else Severity.INFO,
            f"claim {claim} has waited {age(first, state.now)} for provisioner {provisioner}"
            + ("" if late else " (within the expected time)")
            + blocks,
            f"Check that the {provisioner} controller is running and read its logs; nothing "
            "else provisions this claim.",
            depends_on=sc_ref,
        )

    binding_mode = (classes.get(cls or "") or {}).get("volumeBindingMode")
    scheduling = latest(events, "WaitForFirstConsumer", "WaitForPodScheduled")
    if scheduling is not None or binding_mode == "WaitForFirstConsumer":
        consumers = state.pods_using_claim(namespace(pvc), claim)
        if not consumers:
            return _Diagnosis(
                "waiting-for-consumer",
                Severity.INFO,
                f"claim {claim} waits for a first pod to use it (WaitForFirstConsumer); "
                "this is expected",
                "Nothing to do: the volume is created when a pod using the claim is scheduled.",
            )
        # The scheduler's verdicts from before the class existed are history, not a cause.
        since = parse_time(meta(classes[cls]).get("creationTimestamp")) if cls in classes else None
        rejected = [p for p in consumers if _rejected_since(state, p, since)]
        if not rejected:
            # The scheduler has not reported on the pod yet: a claim seconds old, not a fault.
            return _Diagnosis(
                "waiting-for-consumer",
                Severity.INFO,
                f"claim {claim} waits for its pod to be scheduled (the scheduler has not "
                "reported on it yet)",
                "Nothing to do yet; look again if the pod stays Pending.",
            )
        return _Diagnosis(
            "consumer-unschedulable",
            impact,
            f"claim {claim} waits for its pod to be scheduled, and the scheduler cannot place "
            f"it{blocks}",
            "The volume is created only once the pod is scheduled: fix why the pod does not "
            "fit (see the pod's FailedScheduling event).",
        )

    return _Diagnosis(
        "unknown",
        impact,
        f"claim {claim} is {claim_phase} for {waiting} with no event that explains it{blocks}",
        "Describe the claim and read the PV controller's log in kube-controller-manager.",
    )


_CLASS_NOT_FOUND = re.compile(r'storageclass\.storage\.k8s\.io "([^"]+)" not found')


def _stale_class_failure(event: Event, classes: dict[str, Obj]) -> bool:
    """A "class not found" failure from before the class was created: history, not a cause.

    The PV controller's events outlive the problem (an hour by default), so right after
    ``fix storageclass`` the claim still carries them while it waits for its consumer.
    """
    match = _CLASS_NOT_FOUND.search(event.message) if event.reason == "ProvisioningFailed" else None
    return bool(match and match.group(1) in classes)


def _rejected_since(state: ClusterState, pod: Obj, since: datetime | None) -> bool:
    ev = latest(state.events_for("Pod", pod), "FailedScheduling")
    return ev is not None and (since is None or ev.last is None or ev.last > since)


def _after(a: Event, b: Event) -> bool:
    return bool(a.last and b.last and a.last > b.last)


def _pod_evidence(state: ClusterState, pods: list[Obj]) -> list[str]:
    """The scheduler's word on the first blocked pods."""
    lines = []
    for pod in pods[:3]:
        ev = latest(state.events_for("Pod", pod), "FailedScheduling")
        if ev is not None:
            lines.append(f"pod {name(pod)}: {ev.describe(state.now)}")
    return lines


CHECK = Check(
    id="pvc-pending",
    title="PersistentVolumeClaims stuck unbound, by cause",
    severity=Severity.CRITICAL,
    kinds=("persistentvolumeclaims", "storageclasses", "pods", "events", "statefulsets", "nodes"),
    causes=(
        "storage-class-missing",
        "no-storage-class",
        "provisioning-failed",
        "waiting-for-provisioner",
        "waiting-for-consumer",
        "consumer-unschedulable",
        "selected-node-gone",
        "lost",
        "unknown",
    ),
    run=pvc_pending,
    fix="pvc",
)
