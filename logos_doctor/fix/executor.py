"""Applying a ``FixPlan``: re-read, check, back up, write, journal; one step at a time.

Every step is idempotent and states its goal, not its action: "StatefulSet X with uid U is
gone", "a StatefulSet X exists, made from the backup", "claim C with uid U is gone".  So a
fix killed anywhere (even between a write and its journal line) and resumed ends where an
uninterrupted one ends: the resumed step re-reads the cluster and finds its goal reached.

Safety rules, enforced here against the live cluster rather than the plan:

- before the first write, every object the plan touches is re-read and compared with what
  was planned (uid, generation, phase); any difference aborts with nothing written;
- each write is preceded by a fresh read, and deletes carry uid + resourceVersion
  preconditions, so a change made in between makes the server refuse the delete;
- a claim that is Bound or has a volume bound to it, and a pod that is not Pending, are never
  deleted: the step refuses and says why;
- once a StatefulSet has been deleted, any refusal or failure first creates it again (from
  the backup) before stopping, so the database never stays without its StatefulSet.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from logos_doctor.cluster.connection import Connection
from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.config import Config
from logos_doctor.errors import DoctorError, FixError
from logos_doctor.fix.guards import (
    claim_blocker,
    class_differences,
    pod_blocker,
    template_mismatches,
)
from logos_doctor.fix.hook import CrashHook
from logos_doctor.fix.journal import FixRecord
from logos_doctor.fix.kube import Conflict, Invalid, Kube
from logos_doctor.fix.lock import FixLock
from logos_doctor.fix.observe import verify
from logos_doctor.fix.plan import Action, FixPlan, Outcome, Step
from logos_doctor.fix.templates import recreated_statefulset
from logos_doctor.fix.waits import Waiter
from logos_doctor.objects import Obj, controller_of, meta, name, uid
from logos_doctor.runner import Report


class Refused(FixError):
    """The cluster is no longer as planned, or a safety rule forbids the write."""


@dataclass
class RunResult:
    """What an execution did, step by step, and the checks' verdict afterwards."""

    outcomes: list[tuple[Step, Outcome]] = field(default_factory=list)
    after: Report | None = None

    @property
    def complete(self) -> bool:
        """Whether every step reached its goal."""
        return all(o.complete for _, o in self.outcomes)


Say = Callable[[str], None]


class Executor:
    """Runs (or resumes) one plan against one namespace."""

    def __init__(
        self,
        conn: Connection,
        plan: FixPlan,
        config: Config,
        *,
        record: FixRecord | None,
        lock: FixLock | None,
        dry_run: bool,
        timeout: float,
        say: Say,
        progress: Say,
        hook: CrashHook | None = None,
    ) -> None:
        self.conn = conn
        self.plan = plan
        self.config = config
        self.record = record
        self.lock = lock
        self.dry_run = dry_run
        self.timeout = timeout
        self.say = say
        self.progress = progress
        self.hook = hook or CrashHook.from_env()
        self.kube = Kube(conn, plan.namespace, timeout=timeout)
        self.fetcher = Fetcher(conn, FetchOptions(timeout=timeout, deadline=timeout * 4))
        self.waiter = Waiter(
            self.kube, self.fetcher, config, plan.namespace, plan.wait_seconds, progress
        )
        self.done: set[str] = set()

    # -- the run -------------------------------------------------------------------------------

    def run(self, *, resumed: bool = False) -> RunResult:
        """Apply every step not yet done; raise ``FixError`` when stopped for safety."""
        result = RunResult()
        if self.record is not None and resumed:
            self.done = self.record.done_steps()
        if not resumed:
            try:
                self._preflight()
            except Refused as exc:
                self._journal("aborted", detail=exc.message)
                raise
        if not self.dry_run:
            self._prepare()
        total = len(self.plan.steps)
        for index, step in enumerate(self.plan.steps, 1):
            label = f"[{index}/{total}] {step.description}"
            if step.id in self.done and step.action is not Action.VERIFY:
                self.say(f"{label}\n      done before (journal)")
                continue
            self.say(label)
            if self.lock is not None:
                self.lock.ensure_held()
            self._journal("step-started", step=step.id)
            self.hook(step.id, "start")
            try:
                outcome = self._dispatch(step, result)
            except KeyboardInterrupt:
                self._journal("step-failed", step=step.id, reason="interrupted")
                raise self._interrupted() from None
            except DoctorError as exc:
                self._journal("step-failed", step=step.id, reason=exc.message)
                self._stop_safely(exc)
                raise
            self.hook(step.id, "end")
            self.done.add(step.id)
            self._journal("step-done", step=step.id, outcome=outcome.text)
            result.outcomes.append((step, outcome))
            self.say(f"      {'✓' if outcome.complete else '!'} {outcome.text}")
        short = [o.text for _, o in result.outcomes if not o.complete]
        self._journal("finished", detail="; ".join(short)[:300] if short else "complete")
        return result

    def _dispatch(self, step: Step, result: RunResult) -> Outcome:
        handlers: dict[Action, Callable[[Step], Outcome]] = {
            Action.CREATE_STORAGECLASS: self._create_storageclass,
            Action.DELETE_STORAGECLASS: self._delete_storageclass,
            Action.WAIT_CLAIMS: self._wait_claims,
            Action.DELETE_STATEFULSET: self._delete_statefulset,
            Action.DELETE_POD: self._delete_pod,
            Action.DELETE_CLAIM: self._delete_claim,
            Action.CREATE_STATEFULSET: self._create_statefulset,
            Action.WAIT_STATEFULSET: self._wait_statefulset,
        }
        if step.action is Action.VERIFY:
            outcome, result.after = self._verify(step)
            return outcome
        return handlers[step.action](step)

    def _journal(self, event: str, **fields: Any) -> None:
        if self.record is not None and not self.dry_run:
            self.record.append(event, **fields)

    def _stop_safely(self, exc: DoctorError) -> None:
        """After a refusal or failure: put back any StatefulSet this fix deleted."""
        restored = []
        for step in self.plan.steps:
            if step.action is not Action.CREATE_STATEFULSET or step.id in self.done:
                continue
            deleted = f"delete-statefulset/{step.params['name']}" in self.done
            if not deleted or self.dry_run:
                continue
            self.say(f"      restoring StatefulSet {step.params['name']} before stopping")
            try:
                outcome = self._create_statefulset(step, restoring=True)
            except DoctorError as again:
                self._journal("step-failed", step=step.id, reason=again.message)
                exc.hint = (
                    f"StatefulSet {step.params['name']} is absent: run 'logos-doctor fix "
                    f"--resume {self._fix_id()}' as soon as the cluster answers"
                )
                return
            self.done.add(step.id)
            self._journal("step-done", step=step.id, outcome=outcome.text)
            restored.append(str(step.params["name"]))
        if isinstance(exc, Refused) or restored:
            detail = exc.message + (f" (restored {', '.join(restored)})" if restored else "")
            self._journal("aborted", detail=detail)
            if not exc.hint:
                exc.hint = f"run 'logos-doctor fix {self.plan.command}' again for a fresh plan"
        else:
            exc.hint = exc.hint or f"resume with 'logos-doctor fix --resume {self._fix_id()}'"

    def _interrupted(self) -> FixError:
        absent = [
            str(s.params["name"])
            for s in self.plan.steps
            if s.action is Action.DELETE_STATEFULSET
            and s.id in self.done
            and f"create-statefulset/{s.params['name']}" not in self.done
        ]
        where = f"; StatefulSet {', '.join(absent)} is absent until then" if absent else ""
        return FixError(
            f"interrupted{where}",
            f"finish it with 'logos-doctor fix --resume {self._fix_id()}'",
        )

    def _fix_id(self) -> str:
        return self.record.id if self.record is not None else "ID"

    # -- before the first write ----------------------------------------------------------------

    def _preflight(self) -> None:
        """Compare every object the plan deletes with what was planned; write nothing."""
        pods = volumes = None
        for step in self.plan.steps:
            params = step.params
            if step.action is Action.DELETE_STATEFULSET:
                cur = self._expect("StatefulSet", params)
                if meta(cur).get("generation") != params.get("generation"):
                    raise Refused(
                        f"StatefulSet {params['name']} changed since the plan (generation "
                        f"{params.get('generation')} -> {meta(cur).get('generation')}); "
                        "nothing was changed"
                    )
            elif step.action is Action.DELETE_POD:
                cur = self._expect("Pod", params)
                self._pod_deletable(cur)
            elif step.action is Action.DELETE_CLAIM:
                cur = self._expect("PersistentVolumeClaim", params)
                pods = pods if pods is not None else self.kube.pods()
                volumes = volumes if volumes is not None else self.kube.volumes()
                self._claim_deletable(cur, pods, volumes)
            elif step.action is Action.DELETE_STORAGECLASS:
                self._expect("StorageClass", params)

    def _expect(self, kind: str, params: Mapping[str, Any]) -> Obj:
        cur = self.kube.read(kind, str(params["name"]))
        if cur is None or uid(cur) != params.get("uid"):
            what = "no longer exists" if cur is None else "was replaced (its uid changed)"
            raise Refused(f"{kind} {params['name']} {what} since the plan; nothing was changed")
        return cur

    def _prepare(self) -> None:
        """Save backups of what will be deleted and the manifests that will be created."""
        if self.record is None:
            return
        saved = []
        kinds = {
            Action.DELETE_STATEFULSET: "StatefulSet",
            Action.DELETE_POD: "Pod",
            Action.DELETE_CLAIM: "PersistentVolumeClaim",
            Action.DELETE_STORAGECLASS: "StorageClass",
        }
        todo = [s for s in self.plan.steps if s.id not in self.done]
        for step in todo:
            kind = kinds.get(step.action)
            if kind is None:
                continue
            cur = self.kube.read(kind, str(step.params["name"]))
            if (
                cur is not None
                and uid(cur) == step.params.get("uid")
                and self.record.save_backup(kind, name(cur), cur)
            ):
                saved.append(str(self.record.backup_path(kind, name(cur)).name))
        for step in self.plan.steps:
            if step.action is Action.CREATE_STATEFULSET:
                self.record.save_manifest("StatefulSet", step.params["name"], self._body(step))
            elif step.action is Action.CREATE_STORAGECLASS:
                self.record.save_manifest(
                    "StorageClass", step.params["name"], step.params["manifest"]
                )
        if saved:
            self._journal("backup", files=saved)

    # -- StorageClass ----------------------------------------------------------------------------

    def _create_storageclass(self, step: Step) -> Outcome:
        cls, manifest = str(step.params["name"]), dict(step.params["manifest"])
        cur = self.kube.read("StorageClass", cls)
        if cur is not None:
            differs = class_differences(manifest, cur)
            if differs:
                return Outcome(f"already exists, but differs: {'; '.join(differs)}", False)
            return Outcome("already exists")
        self.hook(step.id, "before-write")
        try:
            self.kube.create("StorageClass", manifest, dry_run=self.dry_run)
        except Conflict:
            return Outcome("already exists (created meanwhile by someone else)")
        except Invalid as exc:
            raise Refused(f"the server rejected StorageClass {cls}: {exc}") from None
        self.hook(step.id, "after-write")
        return Outcome("server accepted it (dry run)" if self.dry_run else "created")

    def _delete_storageclass(self, step: Step) -> Outcome:
        cls = str(step.params["name"])
        cur = self.kube.read("StorageClass", cls)
        if cur is None:
            return Outcome("already deleted")
        if uid(cur) != step.params.get("uid"):
            raise Refused(f"StorageClass {cls} was replaced since the plan; not deleting it")
        if self.record is not None and not self.dry_run:
            self.record.save_backup("StorageClass", cls, cur)
        self._delete(step, "StorageClass", cur)
        return Outcome("server accepted it (dry run)" if self.dry_run else "deleted")

    # -- the orphan-cascade recreation -----------------------------------------------------------

    def _delete_statefulset(self, step: Step) -> Outcome:
        sts_name = str(step.params["name"])
        cur = self.kube.read("StatefulSet", sts_name)
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
            if self.record is not None and not self.dry_run:
                self.record.save_backup("StatefulSet", sts_name, cur)
            self._validate_recreation(sts_name)
            self._delete(step, "StatefulSet", cur, orphan=True)
        if self.dry_run:
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
            self.kube.create("StatefulSet", self._body(step), dry_run=True)
        except Conflict:
            return
        except Invalid as exc:
            raise Refused(
                f"the server would reject the corrected StatefulSet {sts_name}: {exc}; "
                "nothing was changed"
            ) from None

    def _delete_pod(self, step: Step) -> Outcome:
        pod_name = str(step.params["name"])
        cur = self.kube.read("Pod", pod_name)
        if cur is None or uid(cur) != step.params.get("uid"):
            return Outcome("already gone")
        if not meta(cur).get("deletionTimestamp"):
            self._pod_deletable(cur)
            self._delete(step, "Pod", cur)
        if self.dry_run:
            return Outcome("server accepted it (dry run)")
        self.waiter.gone("Pod", pod_name, uid(cur))
        return Outcome("deleted")

    def _delete_claim(self, step: Step) -> Outcome:
        claim = str(step.params["name"])
        cur = self.kube.read("PersistentVolumeClaim", claim)
        if cur is None or uid(cur) != step.params.get("uid"):
            return Outcome("already gone")
        if not meta(cur).get("deletionTimestamp"):
            self._claim_deletable(cur, self.kube.pods(), self.kube.volumes())
            self._delete(step, "PersistentVolumeClaim", cur)
        if self.dry_run:
            return Outcome("server accepted it (dry run)")
        self.waiter.gone("PersistentVolumeClaim", claim, uid(cur))
        return Outcome("deleted")

    def _create_statefulset(self, step: Step, *, restoring: bool = False) -> Outcome:
        sts_name = str(step.params["name"])
        cur = self.kube.read("StatefulSet", sts_name)
        if cur is not None and meta(cur).get("deletionTimestamp") and not self.dry_run:
            self.waiter.gone("StatefulSet", sts_name, uid(cur))
            cur = None
        if cur is not None and not self.dry_run:
            if uid(cur) == step.params.get("uid"):
                return Outcome("the original was never deleted; nothing to create")
            wrong = template_mismatches(cur, step.params.get("corrections") or {})
            if wrong:
                return Outcome("already recreated, but " + "; ".join(wrong), False)
            return Outcome("already recreated")
        helm = step.params.get("helm")
        if helm and not self.dry_run and not restoring:
            note = self._run_helm(list(helm))
            cur = self.kube.read("StatefulSet", sts_name)
            if cur is not None:
                wrong = template_mismatches(cur, step.params.get("corrections") or {})
                if wrong:
                    return Outcome(f"{note}; but " + "; ".join(wrong), False)
                return Outcome(note)
            self.say(f"      {note}, but it did not create the StatefulSet: creating it")
        body = self._body(step)
        self.hook(step.id, "before-write")
        try:
            made = self.kube.create("StatefulSet", body, dry_run=self.dry_run)
        except Conflict:
            if self.dry_run:
                return Outcome("the server validated it (dry run; the original still exists)")
            return Outcome("already recreated (by someone else meanwhile)")
        except Invalid as exc:
            if self.dry_run:
                raise Refused(f"the server would reject StatefulSet {sts_name}: {exc}") from None
            self._create_unchanged(step)
            raise Refused(
                f"the server rejected the corrected StatefulSet {sts_name} ({exc}); "
                "it was recreated unchanged instead"
            ) from None
        self.hook(step.id, "after-write")
        if self.dry_run:
            return Outcome("the server accepted it (dry run)")
        return Outcome(f"created (uid {uid(made)})")

    def _create_unchanged(self, step: Step) -> None:
        original = recreated_statefulset(self._saved(step), {})
        try:
            self.kube.create("StatefulSet", original, dry_run=False)
        except Conflict:
            return

    def _run_helm(self, command: Sequence[str]) -> str:
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

    # -- waits and verification ------------------------------------------------------------------

    def _wait_statefulset(self, step: Step) -> Outcome:
        return (
            Outcome("skipped (dry run)") if self.dry_run else self.waiter.statefulset(step.params)
        )

    def _wait_claims(self, step: Step) -> Outcome:
        return Outcome("skipped (dry run)") if self.dry_run else self.waiter.claims(step.params)

    def _verify(self, step: Step) -> tuple[Outcome, Report | None]:
        if self.dry_run:
            return Outcome("skipped (dry run)"), None
        report, left = verify(self.fetcher, self.config, self.plan, step.params.get("checks") or ())
        if not left:
            return Outcome("clean"), report
        return Outcome(f"{len(left)} problem(s) remain", False), report

    # -- shared pieces ---------------------------------------------------------------------------

    def _delete(self, step: Step, kind: str, cur: Obj, *, orphan: bool = False) -> None:
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

    def _why_changed(self, kind: str, now: Obj | None) -> str:
        if now is None:
            return " (it is gone)"
        try:
            if kind == "Pod":
                self._pod_deletable(now)
            elif kind == "PersistentVolumeClaim":
                self._claim_deletable(now, self.kube.pods(), self.kube.volumes())
        except Refused as exc:
            return f": {exc.message}"
        return ""

    def _pod_deletable(self, pod: Obj) -> None:
        blocker = pod_blocker(pod)
        if blocker:
            raise Refused(blocker)

    def _claim_deletable(self, pvc: Obj, pods: Sequence[Obj], volumes: Sequence[Obj]) -> None:
        blocker = claim_blocker(pvc, pods, volumes)
        if blocker:
            raise Refused(blocker)

    def _create_step(self, sts_name: str) -> Step | None:
        for step in self.plan.steps:
            if step.action is Action.CREATE_STATEFULSET and step.params.get("name") == sts_name:
                return step
        return None

    def _saved(self, step: Step) -> Obj:
        sts_name = str(step.params["name"])
        saved = self.record.load_backup("StatefulSet", sts_name) if self.record else None
        return saved or dict(step.params.get("saved") or {})

    def _body(self, step: Step) -> Obj:
        return recreated_statefulset(self._saved(step), step.params.get("corrections") or {})
