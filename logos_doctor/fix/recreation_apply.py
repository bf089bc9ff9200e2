"""Executing the orphan-cascade recreation: the StatefulSet, its Pending pods and claims.

Each step states its goal, not its action: "StatefulSet X with uid U is gone", "a
StatefulSet X exists, made from the backup", "claim C with uid U is gone".  So a fix killed
anywhere (even between a write and its journal line) and resumed ends where an uninterrupted
one ends: the resumed step re-reads the cluster and finds its goal reached.

The StatefulSet is created again from the backup read right before its delete (the plan's
copy only when there is none), with the planned template corrections; when the server would
reject the corrected object, the old one is never deleted, and when it rejects it after the
delete, the original is put back unchanged before the fix stops.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from logos_doctor.fix.guards import template_mismatches
from logos_doctor.fix.kube import Conflict, Invalid
from logos_doctor.fix.plan import Action, FixPlan, Outcome, Step
from logos_doctor.fix.templates import recreated_statefulset
from logos_doctor.fix.waits import Waiter
from logos_doctor.fix.writer import Refused, Writer, claim_deletable, pod_deletable
from logos_doctor.objects import Obj, controller_of, meta, uid


@dataclass(frozen=True)
class RecreationSteps:
    """The handlers of one plan's recreation steps."""

    writer: Writer
    plan: FixPlan
    waiter: Waiter
    say: Callable[[str], None]

    def delete_statefulset(self, step: Step) -> Outcome:
        """Delete it with ``--cascade=orphan``, after the server validated its replacement."""
        w = self.writer
        sts_name = str(step.params["name"])
        cur = w.kube.read("StatefulSet", sts_name)
        if cur is None:
            return Outcome("already deleted")
        if uid(cur) != step.params.get("uid"):
            raise Refused(
                f"StatefulSet {sts_name} was replaced since the plan (new uid); not deleting it"
            )
        if not meta(cur).get("deletionTimestamp"):
            if meta(cur).get("generation") != step.params.get("generation"):
                raise Refused(
                    f"StatefulSet {sts_name} changed since the plan (generation "
                    f"{step.params.get('generation')} -> {meta(cur).get('generation')})"
                )
            if controller_of(cur):
                raise Refused(f"StatefulSet {sts_name} is now managed by another controller")
            w.backup("StatefulSet", sts_name, cur)
            self._validate_recreation(sts_name)
            w.delete(step, "StatefulSet", cur, orphan=True)
        if w.dry_run:
            return Outcome("server accepted it (dry run); its pods would keep running")
        self.waiter.gone("StatefulSet", sts_name, uid(cur))
        return Outcome("deleted; its pods keep running, now without an owner")

    def _validate_recreation(self, sts_name: str) -> None:
        """Have the server validate the corrected StatefulSet before deleting the old one.

        A dry-run create of an object that exists passes admission and validation first and
        only then fails with AlreadyExists, so a 409 here means "valid".
        """
        step = self._create_step(sts_name)
        if step is None or step.params.get("helm"):
            return
        try:
            self.writer.kube.create("StatefulSet", self.body(step), dry_run=True)
        except Conflict:
            return
        except Invalid as exc:
            raise Refused(
                f"the server would reject the corrected StatefulSet {sts_name}: {exc}; "
                "nothing was changed"
            ) from None

    def delete_pod(self, step: Step) -> Outcome:
        """Delete a Pending pod that mounts a doomed claim (never one that is not Pending)."""
        w = self.writer
        pod_name = str(step.params["name"])
        cur = w.kube.read("Pod", pod_name)
        if cur is None or uid(cur) != step.params.get("uid"):
            return Outcome("already gone")
        if not meta(cur).get("deletionTimestamp"):
            pod_deletable(cur)
            w.delete(step, "Pod", cur)
        if w.dry_run:
            return Outcome("server accepted it (dry run)")
        self.waiter.gone("Pod", pod_name, uid(cur))
        return Outcome("deleted")

    def delete_claim(self, step: Step) -> Outcome:
        """Delete a Pending claim (never one that is Bound, has a volume, or is in use)."""
        w = self.writer
        claim = str(step.params["name"])
        cur = w.kube.read("PersistentVolumeClaim", claim)
        if cur is None or uid(cur) != step.params.get("uid"):
            return Outcome("already gone")
        if not meta(cur).get("deletionTimestamp"):
            claim_deletable(cur, w.kube.pods(), w.kube.volumes())
            w.delete(step, "PersistentVolumeClaim", cur)
        if w.dry_run:
            return Outcome("server accepted it (dry run)")
        self.waiter.gone("PersistentVolumeClaim", claim, uid(cur))
        return Outcome("deleted")

    def create_statefulset(self, step: Step, *, restoring: bool = False) -> Outcome:
        """Create it again (helm when configured, unless ``restoring`` after a failure)."""
        w = self.writer
        sts_name = str(step.params["name"])
        cur = w.kube.read("StatefulSet", sts_name)
        if cur is not None and meta(cur).get("deletionTimestamp") and not w.dry_run:
            self.waiter.gone("StatefulSet", sts_name, uid(cur))
            cur = None
        if cur is not None and not w.dry_run:
            if uid(cur) == step.params.get("uid"):
                return Outcome("the original was never deleted; nothing to create")
            wrong = template_mismatches(cur, step.params.get("corrections") or {})
            if wrong:
                return Outcome("already recreated, but " + "; ".join(wrong), False)
            return Outcome("already recreated")
        helm = step.params.get("helm")
        if helm and not w.dry_run and not restoring:
            note = _run_helm(list(helm))
            cur = w.kube.read("StatefulSet", sts_name)
            if cur is not None:
                wrong = template_mismatches(cur, step.params.get("corrections") or {})
                if wrong:
                    return Outcome(f"{note}; but " + "; ".join(wrong), False)
                return Outcome(note)
            self.say(f"      {note}, but it did not create the StatefulSet: creating it")
        body = self.body(step)
        w.hook(step.id, "before-write")
        try:
            made = w.kube.create("StatefulSet", body, dry_run=w.dry_run)
        except Conflict:
            if w.dry_run:
                return Outcome("the server validated it (dry run; the original still exists)")
            return Outcome("already recreated (by someone else meanwhile)")
        except Invalid as exc:
            if w.dry_run:
                raise Refused(f"the server would reject StatefulSet {sts_name}: {exc}") from None
            self._create_unchanged(step)
            raise Refused(
                f"the server rejected the corrected StatefulSet {sts_name} ({exc}); "
                "it was recreated unchanged instead"
            ) from None
        w.hook(step.id, "after-write")
        if w.dry_run:
            return Outcome("the server accepted it (dry run)")
        return Outcome(f"created (uid {uid(made)})")

    def _create_unchanged(self, step: Step) -> None:
        original = recreated_statefulset(self._saved(step), {})
        try:
            self.writer.kube.create("StatefulSet", original, dry_run=False)
        except Conflict:
            return

    def _create_step(self, sts_name: str) -> Step | None:
        for step in self.plan.steps:
            if step.action is Action.CREATE_STATEFULSET and step.params.get("name") == sts_name:
                return step
        return None

    def _saved(self, step: Step) -> Obj:
        record = self.writer.record
        saved = record.load_backup("StatefulSet", str(step.params["name"])) if record else None
        return saved or dict(step.params.get("saved") or {})

    def body(self, step: Step) -> Obj:
        """The StatefulSet a create step makes: the saved object with the corrections."""
        return recreated_statefulset(self._saved(step), step.params.get("corrections") or {})


def _run_helm(command: Sequence[str]) -> str:
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'{command[0]}' could not run ({exc})"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        return f"'{command[0]}' failed with status {done.returncode}: {tail[0][:200]}"
    return f"'{command[0]}' succeeded"
