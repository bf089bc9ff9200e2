"""The safety rules of a fix, as pure functions of objects: what must never be deleted.

The planner applies them to the state it planned from, the executor to what it has just
re-read; both use these same functions, so a plan never proposes what the executor would
refuse, and the executor still refuses when the cluster changed in between.

- a claim that is Bound, or has a volume bound to it, is never deleted (its data lives there);
- a claim mounted by a pod that is not Pending is never deleted (it is in use);
- a pod that is not Pending is never deleted (it is serving, or finishing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from logos_doctor.objects import Obj, meta, name, uid
from logos_doctor.pods import phase


def mounts(pod: Obj) -> set[str]:
    """The claims a pod mounts."""
    return {
        str((v.get("persistentVolumeClaim") or {}).get("claimName"))
        for v in (pod.get("spec") or {}).get("volumes") or []
        if v.get("persistentVolumeClaim")
    }


def pod_blocker(pod: Obj) -> str | None:
    """Why this pod must not be deleted, or None."""
    if phase(pod) != "Pending":
        return (
            f"pod {name(pod)} is {phase(pod)}; logos-doctor never deletes a pod that is not Pending"
        )
    return None


def claim_blocker(pvc: Obj, pods: Iterable[Obj], volumes: Iterable[Obj]) -> str | None:
    """Why this claim must not be deleted, or None.

    ``pods`` are the pods of its namespace (only those mounting it matter) and ``volumes``
    the PersistentVolumes (one whose claimRef names this claim's uid is bound to it, even
    while the claim itself does not say so yet).
    """
    claim = name(pvc)
    if ((pvc.get("status") or {}).get("phase") or "Pending") == "Bound":
        return f"claim {claim} is Bound; logos-doctor never deletes a bound claim"
    volume = (pvc.get("spec") or {}).get("volumeName")
    for pv in volumes:
        if ((pv.get("spec") or {}).get("claimRef") or {}).get("uid") == uid(pvc):
            volume = volume or name(pv)
    if volume:
        return (
            f"claim {claim} has volume {volume} bound to it; logos-doctor never deletes such "
            "a claim"
        )
    for pod in pods:
        if (
            claim in mounts(pod)
            and phase(pod) != "Pending"
            and not meta(pod).get("deletionTimestamp")
        ):
            return (
                f"claim {claim} is mounted by pod {name(pod)}, which is {phase(pod)}; "
                "logos-doctor never deletes a claim in use"
            )
    return None


def template_mismatches(sts: Obj, corrections: Mapping[str, Mapping[str, str]]) -> list[str]:
    """How a (re)created StatefulSet's claim templates still differ from the corrections."""
    out = []
    templates = {
        meta(t).get("name"): t.get("spec") or {}
        for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    }
    for tname, fix in corrections.items():
        tspec = templates.get(tname) or {}
        want = fix.get("storageClassName")
        if want and tspec.get("storageClassName") != want:
            out.append(f"template {tname} still uses class {tspec.get('storageClassName')}")
        size = fix.get("storage")
        found = (tspec.get("resources") or {}).get("requests", {}).get("storage")
        if size and found != size:
            out.append(f"template {tname} still asks for {found}")
    return out


def class_differences(manifest: Mapping[str, Any], sc: Obj) -> list[str]:
    """How an existing StorageClass differs from the manifest a fix would have created."""
    out = []
    for key in ("provisioner", "volumeBindingMode", "reclaimPolicy"):
        if manifest.get(key) and sc.get(key) != manifest.get(key):
            out.append(f"{key} is {sc.get(key)}, expected {manifest.get(key)}")
    params = sc.get("parameters") or {}
    for key, value in (manifest.get("parameters") or {}).items():
        if params.get(key) != value:
            out.append(f"parameters.{key} is {params.get(key)!r}, expected {value!r}")
    return out
