"""Reading pods and their controllers: readiness, waiting reasons, claim ownership.

Several checks ask the same questions of a pod (is it ready? why is it waiting? which
StatefulSet does this claim belong to?); the answers live here once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple, cast

from logos_doctor.objects import (
    Obj,
    ObjectRef,
    controller_of,
    mapping,
    mappings,
    meta,
    name,
    namespace,
    parse_time,
    per_object,
)
from logos_doctor.state import ClusterState


def phase(pod: Obj) -> str:
    """The pod's phase (``Pending``, ``Running`` ...)."""
    value = (pod.get("status") or {}).get("phase")
    # Every check asks it of every pod: no str() of what is already one.
    return value if type(value) is str and value else str(value or "Unknown")


def condition(obj: Obj, kind: str) -> Obj | None:
    """The status condition of a type, if present: the object's own, to read and not to
    change (objects are shared and never changed after the fetch: cluster/share.py)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cast(Obj, cond)
    return None


def condition_said(cond: Obj, limit: int | None = None) -> str:
    """What a condition says beyond its status: `` (reason): message``, each part only when
    it is there, the message stripped (and cut at ``limit``)."""
    text = f" ({cond.get('reason')})" if cond.get("reason") else ""
    if cond.get("message"):
        text += f": {str(cond.get('message')).strip()[:limit]}"
    return text


def is_ready(pod: Obj) -> bool:
    """Whether the pod's Ready condition is True."""
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_terminating(obj: Obj) -> bool:
    """Whether the object is being deleted."""
    return bool(meta(obj).get("deletionTimestamp"))


def is_live(pod: Obj) -> bool:
    """Whether a pod neither finished (Succeeded, Failed) nor is being deleted."""
    return not is_terminating(pod) and phase(pod) not in ("Succeeded", "Failed")


def live_pods(state: ClusterState) -> list[Obj]:
    """The live pods in scope (``is_live``), in fetch order: once per run, for the several
    checks that look only at those."""
    return state.memo("pods.live", lambda: [p for p in state.in_scope("pods") if is_live(p)])


class ContainerState(NamedTuple):
    """One container's status as the kubelet reported it.

    ``last_*`` describe ``lastState.terminated``: the previous run of the container, which
    the kubelet keeps after a restart (that is where a crash shows once the container runs
    again).  ``running`` says the container is in state ``running`` now, since
    ``running_since`` (``state.running.startedAt``).

    A named tuple, as ``events.Event``: a run reads every container of every pod, and a
    frozen dataclass sets each of these fifteen fields through ``object.__setattr__``
    (2.1 -> 1.1 us each, 18,000 of them at 12,000 pods).
    """

    name: str
    image: str
    init: bool
    waiting_reason: str | None
    waiting_message: str
    restarts: int
    last_terminated_reason: str | None
    last_exit_code: int | None
    ready: bool = False
    running: bool = False
    running_since: datetime | None = None
    last_started: datetime | None = None
    last_finished: datetime | None = None
    terminated_reason: str | None = None
    terminated_exit_code: int | None = None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def container_states(pod: Obj) -> Iterator[ContainerState]:
    """Every container status of a pod, init containers first."""
    status = mapping(pod.get("status"))
    spec = mapping(pod.get("spec"))
    spec_images = {
        c.get("name"): c.get("image", "")
        for key in ("initContainers", "containers")
        for c in mappings(spec.get(key))
    }
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for cs in mappings(status.get(key)):
            state = mapping(cs.get("state"))
            waiting = mapping(state.get("waiting"))
            running = mapping(state.get("running"))
            terminated = mapping(state.get("terminated"))
            last = mapping(mapping(cs.get("lastState")).get("terminated"))
            restarts = _int(cs.get("restartCount"))
            yield ContainerState(
                name=str(cs.get("name", "")),
                image=str(spec_images.get(cs.get("name")) or cs.get("image", "")),
                init=init,
                waiting_reason=_str(waiting.get("reason")),
                waiting_message=str(waiting.get("message") or ""),
                restarts=max(restarts or 0, 0),
                last_terminated_reason=_str(last.get("reason")),
                last_exit_code=_int(last.get("exitCode")),
                ready=cs.get("ready") is True,
                running=isinstance(state.get("running"), dict),
                running_since=parse_time(running.get("startedAt")),
                last_started=parse_time(last.get("startedAt")),
                last_finished=parse_time(last.get("finishedAt")),
                terminated_reason=_str(terminated.get("reason")),
                terminated_exit_code=_int(terminated.get("exitCode")),
            )


def containers_of(state: ClusterState, pod: Obj) -> tuple[ContainerState, ...]:
    """``container_states(pod)``, read once per run: five checks ask it of every pod."""
    cache: dict[int, tuple[Obj, tuple[ContainerState, ...]]] = state.memo(
        "pods.containers_of", dict
    )
    return per_object(cache, pod, lambda p: tuple(container_states(p)))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# What an exit code says, as the kubelet reports it in ``lastState.terminated.exitCode``: the
# container's own status, or 128 + the signal number when a signal ended it (the runtime's
# convention: containerd and CRI-O report WaitStatus the shell's way).  The ``reason`` next to
# it is the runtime's: ``OOMKilled`` (the kernel's OOM killer sent the SIGKILL), ``Error``
# (any other non-zero exit), ``Completed`` (exit 0), ``ContainerCannotRun``, ``StartError``.
_EXIT_CODES = {
    0: "exited successfully, yet is restarted: a long-running container must not exit",
    1: "the application exited with an error",
    2: "the application exited with an error (often bad arguments or configuration)",
    126: "the command is not executable",
    127: "the command was not found in the image",
    134: "SIGABRT: the process aborted",
    137: "SIGKILL: killed (128+9), by the OOM killer or after a grace period ran out",
    139: "SIGSEGV: the process crashed on a memory access (128+11)",
    143: "SIGTERM: asked to stop (128+15) and exited",
}


def exit_code_meaning(code: int | None, reason: str | None = None) -> str:
    """A short reading of a container's exit code (and the runtime's reason), for evidence."""
    if code is None:
        return "no exit code recorded"
    if code == 137 and reason == "OOMKilled":
        return "SIGKILL from the kernel's OOM killer: the container exceeded its memory limit"
    if code in _EXIT_CODES:
        return _EXIT_CODES[code]
    if 128 < code < 160:
        return f"ended by signal {code - 128}"
    return "the application exited with an error"


def controllers(state: ClusterState, obj: Obj, kind: str = "Pod") -> list[ObjectRef]:
    """The controller chain above an object, nearest first (Pod -> ReplicaSet, Deployment).

    An owner that was not fetched is still named, from the ownerReference.
    """
    out: list[ObjectRef] = []
    current = obj
    ns = namespace(obj)
    for _ in range(8):
        ref = controller_of(current)
        if not ref:
            break
        found = state.owner(current, ref)
        if found is None:
            out.append(ObjectRef(str(ref.get("kind", "?")), ns, str(ref.get("name", "?"))))
            break
        kind, current = found
        out.append(ObjectRef.of(kind, current))
    return out


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
