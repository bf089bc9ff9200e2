"""Before a fix's first write: the plan held against the live cluster, and backups taken.

A plan is confirmed by a person, possibly minutes after it was made.  So before anything is
written, every object the plan deletes is re-read and compared with what was planned (uid,
generation, the safety rules); any difference aborts with nothing written.  Then the objects
to be deleted and the manifests to be created are saved in the fix directory, so that a fix
killed at its first write can still be finished, or undone by hand, from those files.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from logos_doctor.fix.plan import Action, FixPlan, Step
from logos_doctor.fix.writer import Refused, Writer, claim_deletable, pod_deletable
from logos_doctor.objects import Obj, meta, name, uid

_DELETED_KIND = {
    Action.DELETE_STATEFULSET: "StatefulSet",
    Action.DELETE_POD: "Pod",
    Action.DELETE_CLAIM: "PersistentVolumeClaim",
    Action.DELETE_STORAGECLASS: "StorageClass",
}


def preflight(plan: FixPlan, writer: Writer) -> None:
    """Compare every object the plan deletes with what was planned; write nothing."""
    pods = volumes = None
    for step in plan.steps:
        params = step.params
        if step.action is Action.DELETE_STATEFULSET:
            cur = writer.expect("StatefulSet", params)
            if meta(cur).get("generation") != params.get("generation"):
                raise Refused(
                    f"StatefulSet {params['name']} changed since the plan (generation "
                    f"{params.get('generation')} -> {meta(cur).get('generation')}); "
                    "nothing was changed"
                )
        elif step.action is Action.DELETE_POD:
            cur = writer.expect("Pod", params)
            pod_deletable(cur)
        elif step.action is Action.DELETE_CLAIM:
            cur = writer.expect("PersistentVolumeClaim", params)
            pods = pods if pods is not None else writer.kube.pods()
            volumes = volumes if volumes is not None else writer.kube.volumes()
            claim_deletable(cur, pods, volumes)
        elif step.action is Action.DELETE_STORAGECLASS:
            writer.expect("StorageClass", params)


def save_backups(
    plan: FixPlan, writer: Writer, done: Collection[str], body: Callable[[Step], Obj]
) -> list[str]:
    """Back up what the steps not yet done will delete, and write every planned manifest.

    ``body`` makes a create step's StatefulSet (from the backup just saved).  Returns the
    backup files written now; a backup that already exists is never replaced.
    """
    record = writer.record
    if record is None:
        return []
    saved = []
    for step in plan.steps:
        kind = _DELETED_KIND.get(step.action)
        if kind is None or step.id in done:
            continue
        cur = writer.kube.read(kind, str(step.params["name"]))
        if (
            cur is not None
            and uid(cur) == step.params.get("uid")
            and record.save_backup(kind, name(cur), cur)
        ):
            saved.append(str(record.backup_path(kind, name(cur)).name))
    for step in plan.steps:
        if step.action is Action.CREATE_STATEFULSET:
            record.save_manifest("StatefulSet", step.params["name"], body(step))
        elif step.action is Action.CREATE_STORAGECLASS:
            record.save_manifest("StorageClass", step.params["name"], step.params["manifest"])
    return saved
