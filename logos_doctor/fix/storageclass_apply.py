"""Executing the StorageClass steps: create the expected class, delete a drifted one.

Each states its goal, not its action ("class X exists", "class X with uid U is gone"), so a
step re-run after a kill finds its goal reached and says so instead of failing.
"""

from __future__ import annotations

from logos_doctor.fix.guards import class_differences
from logos_doctor.fix.kube import Conflict, Invalid
from logos_doctor.fix.plan import Outcome, Step
from logos_doctor.fix.writer import Refused, Writer
from logos_doctor.objects import uid


def create_storageclass(writer: Writer, step: Step) -> Outcome:
    """Create the class from the plan's manifest, unless one of that name exists."""
    cls, manifest = str(step.params["name"]), dict(step.params["manifest"])
    cur = writer.kube.read("StorageClass", cls)
    if cur is not None:
        differs = class_differences(manifest, cur)
        if differs:
            return Outcome(f"already exists, but differs: {'; '.join(differs)}", False)
        return Outcome("already exists")
    writer.hook(step.id, "before-write")
    try:
        writer.kube.create("StorageClass", manifest, dry_run=writer.dry_run)
    except Conflict:
        return Outcome("already exists (created meanwhile by someone else)")
    except Invalid as exc:
        raise Refused(f"the server rejected StorageClass {cls}: {exc}") from None
    writer.hook(step.id, "after-write")
    return Outcome("server accepted it (dry run)" if writer.dry_run else "created")


def delete_storageclass(writer: Writer, step: Step) -> Outcome:
    """Delete the drifted class the plan was made against (``--recreate``), backed up first."""
    cls = str(step.params["name"])
    cur = writer.kube.read("StorageClass", cls)
    if cur is None:
        return Outcome("already deleted")
    if uid(cur) != step.params.get("uid"):
        raise Refused(f"StorageClass {cls} was replaced since the plan; not deleting it")
    writer.backup("StorageClass", cls, cur)
    writer.delete(step, "StorageClass", cur)
    return Outcome("server accepted it (dry run)" if writer.dry_run else "deleted")
