"""How a step writes: the safety rules on a fresh read, the crash hook around the write.

Every step handler deletes through ``Writer.delete``, so every delete carries the uid and
resourceVersion it was decided on (the server refuses it when anything changed since) and
the test hook's ``before-write``/``after-write`` moments mean the same thing in every step.
``Refused`` is how a step (or the check before the first write) stops a fix for safety.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from logos_doctor.errors import FixError
from logos_doctor.fix.guards import claim_blocker, pod_blocker
from logos_doctor.fix.hook import CrashHook
from logos_doctor.fix.journal import FixRecord
from logos_doctor.fix.kube import Conflict, Kube
from logos_doctor.fix.plan import Step
from logos_doctor.objects import Obj, meta, name, uid


class Refused(FixError):
    """The cluster is no longer as planned, or a safety rule forbids the write."""


@dataclass(frozen=True)
class Writer:
    """Writes to one namespace for one fix; ``dry_run`` sends every write as a server dry run."""

    kube: Kube
    hook: CrashHook
    record: FixRecord | None
    dry_run: bool

    def backup(self, kind: str, obj_name: str, cur: Obj) -> None:
        """Save ``cur`` in the fix directory before it is deleted (once; never in a dry run)."""
        if self.record is not None and not self.dry_run:
            self.record.save_backup(kind, obj_name, cur)

    def delete(self, step: Step, kind: str, cur: Obj, *, orphan: bool = False) -> None:
        """Delete ``cur`` as read, or raise ``Refused`` when the server says it changed."""
        self.hook(step.id, "before-write")
        try:
            self.kube.delete(
                kind,
                name(cur),
                uid=uid(cur),
                resource_version=meta(cur).get("resourceVersion"),
                dry_run=self.dry_run,
                orphan=orphan,
            )
        except Conflict:
            now = self.kube.read(kind, name(cur))
            if now is not None and uid(now) == uid(cur) and meta(now).get("deletionTimestamp"):
                return  # our own earlier attempt got through
            why = self._why_changed(kind, now)
            raise Refused(
                f"{kind} {name(cur)} changed between our last read and the delete{why}; "
                "the server refused the delete"
            ) from None
        self.hook(step.id, "after-write")

    def expect(self, kind: str, params: Mapping[str, Any]) -> Obj:
        """The object a step was planned against, re-read; ``Refused`` if gone or replaced."""
        cur = self.kube.read(kind, str(params["name"]))
        if cur is None or uid(cur) != params.get("uid"):
            what = "no longer exists" if cur is None else "was replaced (its uid changed)"
            raise Refused(f"{kind} {params['name']} {what} since the plan; nothing was changed")
        return cur

    def _why_changed(self, kind: str, now: Obj | None) -> str:
        if now is None:
            return " (it is gone)"
        try:
            if kind == "Pod":
                pod_deletable(now)
            elif kind == "PersistentVolumeClaim":
                claim_deletable(now, self.kube.pods(), self.kube.volumes())
        except Refused as exc:
            return f": {exc.message}"
        return ""


def pod_deletable(pod: Obj) -> None:
    """``Refused`` unless the shared guards allow deleting this pod."""
    blocker = pod_blocker(pod)
    if blocker:
        raise Refused(blocker)


def claim_deletable(pvc: Obj, pods: Sequence[Obj], volumes: Sequence[Obj]) -> None:
    """``Refused`` unless the shared guards allow deleting this claim."""
    blocker = claim_blocker(pvc, pods, volumes)
    if blocker:
        raise Refused(blocker)
