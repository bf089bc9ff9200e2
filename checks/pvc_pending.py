"""pvc-pending: every claim that is not Bound, classified by why, with what it blocks.

The cause comes from the PV controller's and the external provisioner's own events on the claim
(matched by uid), the claim's class and its binding mode, not from the claim's phase alone:
"Pending" is normal for a WaitForFirstConsumer claim with no pod yet, and fatal when its class
does not exist.  The pods blocked on the claim are listed on the claim's finding instead of
being reported again as unschedulable pods.  Claims of one class that fail to provision with
the same provisioner message share one cause (usually the class's parameters) and get one
finding, on the class, with the claims as ``affected``.

Strings read here, and who writes them:

* ``ProvisioningFailed`` ``storageclass.storage.k8s.io "X" not found``: kube-controller-manager's
  PV controller (pkg/controller/volume/persistentvolume/pv_controller.go, provisionClaim), the
  apiserver's NotFound for the class.
* ``ProvisioningFailed`` ``node "X" not found`` (``nodes "X" not found`` when read without the
  node lister): sig-storage-lib-external-provisioner controller.go, provisionClaimOperation ->
  provisionVolumeErrorHandling(ProvisioningReschedule), which also removes the
  ``volume.kubernetes.io/selected-node`` annotation so that the scheduler picks again.
* ``ProvisioningFailed`` ``failed to provision volume with StorageClass "X": rpc error: code =
  ... desc = Could not create volume "pvc-...": invalid AWS VolumeType "gp9"``: the same lib
  (``failed to provision volume with StorageClass %q: %v``) around aws-ebs-csi-driver
  pkg/driver/controller.go CreateVolume (``Could not create volume %q: %v``) and
  pkg/cloud/cloud.go CreateDisk (``invalid AWS VolumeType %q``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from logos_doctor.cause import Cause, Causes
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
from logos_doctor.pods import claim_statefulset, phase
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

from .storage_class import NO_DEFAULT, claim_class, is_default

SELECTED_NODE = "volume.kubernetes.io/selected-node"
FIX = "logos-doctor fix pvc -n {namespace}"
# How long the external provisioner may take to drop a vanished selected node before the
# claim counts as stuck: the lib retries a failed reschedule with its back-off (seconds).
RESCHEDULE_GRACE_SECONDS = 120

CAUSES = Causes(
    "pvc-pending",
    Cause(
        "storage-class-missing",
        Severity.CRITICAL,
        "The claim names a StorageClass that does not exist",
        remediation="{hint}",
        fix=FIX,
    ),
    Cause(
        "no-storage-class",
        Severity.WARNING,
        "The claim names no usable StorageClass and no PersistentVolume matches it",
        remediation=(
            "Set storageClassName (production uses {expected}) or create a matching "
            "PersistentVolume."
        ),
    ),
    Cause(
        "provisioning-failed",
        Severity.WARNING,
        "The provisioner reports that it cannot create the volume",
        remediation=(
            "Read the provisioner's message; fix its cause (quota, zone, parameters, IAM) "
            "and the provisioner retries on its own."
        ),
    ),
    Cause(
        "waiting-for-provisioner",
        Severity.WARNING,
        "The claim waits for an external provisioner that has not answered",
        remediation=(
            "Check that the {provisioner} controller is running and read its logs; nothing "
            "else provisions this claim."
        ),
    ),
    Cause(
        "waiting-for-consumer",
        Severity.INFO,
        "The claim waits for its first pod (WaitForFirstConsumer): expected",
        remediation="Nothing to do: the volume is created when a pod using the claim is scheduled.",
    ),
    Cause(
        "consumer-unschedulable",
        Severity.WARNING,
        "The claim waits for its pod, and the scheduler cannot place the pod",
        remediation=(
            "The volume is created only once the pod is scheduled: fix why the pod does not "
            "fit (see the pod's FailedScheduling event)."
        ),
    ),
    Cause(
        "selected-node-gone",
        Severity.WARNING,
        "The node chosen for the claim's volume is gone; the provisioner hands the claim back "
        "to the scheduler (self-healing)",
        remediation=(
            "Nothing to recreate: the external provisioner answers a vanished node with "
            "'node \"{node}\" not found', removes the selected-node annotation, and the "
            "scheduler picks another node.{extra}"
        ),
    ),
    Cause(
        "selected-node-stuck",
        Severity.CRITICAL,
        "The claim still names a vanished node after the provisioner gave it back",
        remediation=(
            "The provisioner reported node {node} gone {since} ago, yet the claim still names "
            "it: the annotation could not be removed (check the provisioner's permission to "
            "update claims). Remove volume.kubernetes.io/selected-node from the claim, or "
            "recreate the claim ('logos-doctor fix pvc')."
        ),
        fix=FIX,
    ),
    Cause(
        "lost",
        Severity.CRITICAL,
        "The claim's PersistentVolume no longer exists",
        remediation=(
            "Restore the data from backup into a new claim; read the runbook before deleting "
            "anything."
        ),
    ),
    Cause(
        "unknown",
        Severity.WARNING,
        "The claim is not Bound and no event explains it",
        remediation=(
            "Describe the claim and read the PV controller's log in kube-controller-manager."
        ),
    ),
)

_CLASS_NOT_FOUND = re.compile(r'storageclass\.storage\.k8s\.io "([^"]+)" not found')
# The lib's NotFound for the selected node, through the node lister ("node") or the API ("nodes").
_NODE_NOT_FOUND = re.compile(r'^nodes? "([^"]+)" not found$')
# aws-ebs-csi-driver pkg/cloud/cloud.go CreateDisk.
_BAD_VOLUME_TYPE = re.compile(r'invalid AWS VolumeType "([^"]*)"')
# The volume name the driver is asked for: "pvc-" + the claim's uid (lib, getProvisionedVolumeName).
_VOLUME_NAME = re.compile(r"pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class _Claim:
    pvc: Obj
    ref: ObjectRef
    phase: str
    events: list[Event]
    blocked: list[Obj]
    parent: ObjectRef | None
    facts: dict[str, Any] = field(default_factory=dict)


def pvc_pending(state: ClusterState, config: Config) -> Iterator[Finding]:
    """One finding per claim that is not Bound; one per class for a shared provisioning failure."""
    classes = {name(sc): sc for sc in state.list_of("storageclasses")}
    failures: dict[tuple[str, str], list[tuple[_Claim, Event]]] = {}
    waiting: dict[str, list[tuple[_Claim, Finding]]] = {}
    for pvc in state.in_scope("persistentvolumeclaims"):
        claim_phase = (pvc.get("status") or {}).get("phase") or "Pending"
        if claim_phase == "Bound":
            continue
        ns = namespace(pvc)
        c = _Claim(
            pvc,
            ObjectRef.of("PersistentVolumeClaim", pvc),
            claim_phase,
            state.events_for("PersistentVolumeClaim", pvc),
            [p for p in state.pods_using_claim(ns, name(pvc)) if phase(p) == "Pending"],
            claim_statefulset(state, pvc)[0],
        )
        failed = _provisioning_failure(state, c, classes)
        if failed is not None:
            key = (claim_class(pvc) or "", _VOLUME_NAME.sub("pvc-<uid>", failed.message))
            failures.setdefault(key, []).append((c, failed))
            continue
        for f in _diagnose(state, config, c, classes):
            if f.cause == "waiting-for-provisioner" and f.severity > Severity.INFO:
                waiting.setdefault(claim_class(pvc) or "", []).append((c, f))
            else:
                yield f
    for (cls, _), group in sorted(failures.items()):
        yield from _failed(state, cls, group)
    for cls, late in sorted(waiting.items()):
        yield from _unanswered(state, cls, late, classes)


def _unanswered(
    state: ClusterState, cls: str, late: list[tuple[_Claim, Finding]], classes: dict[str, Obj]
) -> Iterator[Finding]:
    """Claims of one class that its provisioner has not answered: one cause, one finding."""
    if len(late) == 1 or not cls:
        yield from (f for _, f in late)
        return
    claims = [c for c, _ in late]
    pods = [p for c in claims for p in c.blocked]
    names = [c.ref.name for c in claims]
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
    provisioner = (classes.get(cls) or {}).get("provisioner", "the CSI driver")
    firsts = [e.first for c in claims for e in c.events if e.reason == "ExternalProvisioning"]
    since = min((t for t in firsts if t is not None), default=None)
    sc = classes.get(cls)
    yield CAUSES["waiting-for-provisioner"].finding(
        resource=ObjectRef.of("StorageClass", sc) if sc else ObjectRef("StorageClass", None, cls),
        message=(
            f"provisioner {provisioner} has not answered {len(claims)} claim(s) of "
            f"StorageClass {cls} for up to {age(since, state.now)} ({shown})"
            + (f"; blocks {len(pods)} pod(s)" if pods else "")
        ),
        evidence=(*late[0][1].evidence[:3],),
        affected=(*(c.ref for c in claims), *(ObjectRef.of("Pod", p) for p in pods)),
        severity=max(f.severity for _, f in late),
        provisioner=provisioner,
    )


def _finding(state: ClusterState, c: _Claim, cause: str, message: str, **kw: Any) -> Finding:
    blocks = f"; blocks {len(c.blocked)} pod(s)" if c.blocked else ""
    severity = kw.pop("severity", None)
    if severity is None and CAUSES[cause].severity == Severity.WARNING and c.blocked:
        severity = Severity.CRITICAL  # a claim that holds pods back is an outage
    pods = tuple(ObjectRef.of("Pod", p) for p in c.blocked)
    # A claim waiting for its first consumer waits for the pod, not the other way round: the
    # scheduling check's finding on the pod (which lists this claim as affected) explains it.
    waits = cause == "consumer-unschedulable"
    if waits:
        kw["depends_on"] = (*kw.get("depends_on", ()), *pods)
    return CAUSES[cause].finding(
        resource=c.ref,
        parent=c.parent,
        message=message + blocks,
        evidence=(*evidence(c.events, state.now), *_pod_evidence(state, c.blocked)),
        affected=() if waits else pods,
        namespace=c.ref.namespace,
        severity=severity,
        **kw,
    )


def _diagnose(
    state: ClusterState, config: Config, c: _Claim, classes: dict[str, Obj]
) -> Iterator[Finding]:
    claim, pvc = c.ref.name, c.pvc
    cls = claim_class(pvc)
    sc_ref = (ObjectRef("StorageClass", None, cls),) if cls else ()
    waiting = age(parse_time(meta(pvc).get("creationTimestamp")), state.now)

    if c.phase == "Lost":
        volume = (pvc.get("spec") or {}).get("volumeName") or "its volume"
        yield _finding(
            state,
            c,
            "lost",
            f"claim {claim} is Lost: {volume} no longer exists; data on it is gone",
        )
        return

    if cls and cls not in classes:
        expected = config.storage_class.name
        hint = (
            f"Create StorageClass {cls} ('logos-doctor fix storageclass')."
            if cls == expected
            else f"The claim names {cls}, but production uses {expected}: the claim (or its "
            "StatefulSet template) must be recreated with the right class."
        )
        yield _finding(
            state,
            c,
            "storage-class-missing",
            f"claim {claim} is Pending for {waiting}: StorageClass {cls} does not exist",
            depends_on=sc_ref,
            hint=hint,
        )
        return

    selected = annotations_of(pvc).get(SELECTED_NODE)
    if selected and state.has("nodes") and state.get("Node", None, selected) is None:
        yield _selected_node_gone(state, config, c, selected, classes)
        return

    # "" asks for no dynamic provisioning at all; an unset class gets the default, if any.
    if cls == "" or (cls is None and not any(is_default(sc) for sc in classes.values())):
        why = "asks for no StorageClass" if cls == "" else "names no StorageClass, none is default,"
        # A claim without a class is explained by the cluster having no default class.
        no_default = (NO_DEFAULT,) if cls is None else ()
        yield _finding(
            state,
            c,
            "no-storage-class",
            f"claim {claim} {why} and no PersistentVolume matches it",
            depends_on=no_default,
            expected=config.storage_class.name,
        )
        return

    external = [e for e in c.events if e.reason == "ExternalProvisioning"]
    scheduling = latest(c.events, "WaitForFirstConsumer", "WaitForPodScheduled")
    handed_back = scheduling is not None and _after(scheduling, latest(external) or scheduling)
    if external and not handed_back:
        # (A claim handed back to the scheduler, e.g. after its selected node vanished,
        # waits for its pod again: the PV controller's newer WaitFor* event says so.)
        first = min((e.first for e in external if e.first), default=None)
        seconds = (state.now - first).total_seconds() if first else 0.0
        provisioner = (classes.get(cls or "") or {}).get("provisioner", "the CSI driver")
        late = seconds >= config.provisioner_wait_seconds
        yield _finding(
            state,
            c,
            "waiting-for-provisioner",
            f"claim {claim} has waited {age(first, state.now)} for provisioner {provisioner}"
            + ("" if late else " (within the expected time)"),
            severity=None if late else Severity.INFO,
            depends_on=sc_ref,
            provisioner=provisioner,
        )
        return

    binding_mode = (classes.get(cls or "") or {}).get("volumeBindingMode")
    if scheduling is not None or binding_mode == "WaitForFirstConsumer":
        consumers = state.pods_using_claim(namespace(pvc), claim)
        if not consumers:
            yield _finding(
                state,
                c,
                "waiting-for-consumer",
                f"claim {claim} waits for a first pod to use it (WaitForFirstConsumer); "
                "this is expected",
            )
            return
        # The scheduler's verdicts from before the class existed are history, not a cause.
        since = parse_time(meta(classes[cls]).get("creationTimestamp")) if cls in classes else None
        if not [p for p in consumers if _rejected_since(state, p, since)]:
            # The scheduler has not reported on the pod yet: a claim seconds old, not a fault.
            yield _finding(
                state,
                c,
                "waiting-for-consumer",
                f"claim {claim} waits for its pod to be scheduled (the scheduler has not "
                "reported on it yet)",
                severity=Severity.INFO,
                remediation="Nothing to do yet; look again if the pod stays Pending.",
            )
            return
        yield _finding(
            state,
            c,
            "consumer-unschedulable",
            f"claim {claim} waits for its pod to be scheduled, and the scheduler cannot place it",
        )
        return

    yield _finding(
        state,
        c,
        "unknown",
        f"claim {claim} is {c.phase} for {waiting} with no event that explains it",
    )


def _selected_node_gone(
    state: ClusterState, config: Config, c: _Claim, node: str, classes: dict[str, Obj]
) -> Finding:
    """A claim that still names a node that is gone: self-healing, unless the hand-back failed."""
    told = [e for e in c.events if e.reason == "ProvisioningFailed" and _gone_node(e) == node]
    first = min((t for e in told if (t := e.first or e.last) is not None), default=None)
    if first is not None and (state.now - first).total_seconds() >= RESCHEDULE_GRACE_SECONDS:
        return _finding(
            state,
            c,
            "selected-node-stuck",
            f"claim {c.ref.name} still names node {node}, which is gone, {age(first, state.now)} "
            "after the provisioner reported it and should have removed it",
            node=node,
            since=age(first, state.now),
        )
    provisioner = (classes.get(claim_class(c.pvc) or "") or {}).get("provisioner", "")
    external = [e for e in c.events if e.reason == "ExternalProvisioning"]
    waited = min((e.first for e in external if e.first), default=None)
    late = waited is not None and (
        (state.now - waited).total_seconds() >= config.provisioner_wait_seconds
    )
    extra = (
        f" But provisioner {provisioner} has not acted on the claim for "
        f"{age(waited, state.now)}: check that its controller runs."
        if late and not told
        else ""
    )
    return _finding(
        state,
        c,
        "selected-node-gone",
        f"claim {c.ref.name} waits for a volume on node {node}, which no longer exists; "
        + (
            "the provisioner has handed it back to the scheduler"
            if told
            else "the provisioner hands it back to the scheduler on its next attempt"
        ),
        # Self-healing: no outage of its own, whatever it blocks for the moment.
        severity=Severity.WARNING,
        node=node,
        extra=extra,
    )


def _gone_node(event: Event) -> str | None:
    match = _NODE_NOT_FOUND.match(event.message)
    return match.group(1) if match else None


def _provisioning_failure(state: ClusterState, c: _Claim, classes: dict[str, Obj]) -> Event | None:
    """The provisioner's latest failure that is still the claim's problem, if any.

    History is skipped: a "class not found" from before the class existed, and a vanished
    selected node that the claim no longer names (the provisioner handed the claim back).
    A claim whose class is missing, or that names a gone node, is diagnosed by that instead.
    """
    cls = claim_class(c.pvc)
    if c.phase == "Lost" or (cls and cls not in classes):
        return None
    selected = annotations_of(c.pvc).get(SELECTED_NODE)
    if selected and state.has("nodes") and state.get("Node", None, selected) is None:
        return None
    current = [
        e
        for e in c.events
        if e.reason in ("ProvisioningFailed", "ProvisioningSucceeded")
        and not _stale_class_failure(e, classes)
        and _gone_node(e) is None
    ]
    failed = latest(current, "ProvisioningFailed")
    succeeded = latest(current, "ProvisioningSucceeded")
    if failed is None or (succeeded is not None and _after(succeeded, failed)):
        return None
    return failed


def _failed(state: ClusterState, cls: str, group: list[tuple[_Claim, Event]]) -> Iterator[Finding]:
    """``provisioning-failed``: per claim, or once on the class when claims share the failure."""
    message = group[0][1].message
    bad_type = _BAD_VOLUME_TYPE.search(message)
    remediation = (
        f"StorageClass {cls} asks for volume type {bad_type.group(1)!r}, which the EBS CSI "
        "driver does not know (gp2, gp3, io1, io2, sc1, st1, standard); class parameters are "
        "immutable: recreate the class with a valid type, then the provisioner's next retry "
        "creates the volumes."
        if bad_type and cls
        else None
    )
    sc_ref = (ObjectRef("StorageClass", None, cls),) if cls else ()
    if len(group) == 1 or not cls:
        for c, failed in group:
            yield _finding(
                state,
                c,
                "provisioning-failed",
                f"provisioning for claim {c.ref.name} failed: {failed.message}",
                depends_on=sc_ref,
                remediation=remediation,
            )
        return
    claims = [c for c, _ in group]
    pods = [p for c in claims for p in c.blocked]
    names = [c.ref.name for c in claims]
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
    sc = state.get("StorageClass", None, cls)
    yield CAUSES["provisioning-failed"].finding(
        resource=ObjectRef.of("StorageClass", sc) if sc else ObjectRef("StorageClass", None, cls),
        message=(
            f"provisioning fails for {len(claims)} claim(s) of StorageClass {cls} ({shown}): "
            f"{_VOLUME_NAME.sub('pvc-...', message)}"
            + (f"; blocks {len(pods)} pod(s)" if pods else "")
        ),
        evidence=(*evidence(claims[0].events, state.now), *_pod_evidence(state, pods)),
        affected=(*(c.ref for c in claims), *(ObjectRef.of("Pod", p) for p in pods)),
        severity=Severity.CRITICAL if pods else None,
        remediation=remediation,
    )


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
    causes=CAUSES,
    run=pvc_pending,
    fix="pvc",
)
