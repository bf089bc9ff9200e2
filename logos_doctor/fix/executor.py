"""Applying a ``FixPlan``: one step at a time, journaled, resumable, stopped safely.

This is the run itself: which steps are left (``--resume`` skips what the journal says is
done), the journal line before and after each step, the test hook's ``start`` and ``end``
moments, and what happens when a step is refused or fails.  What each step does lives with
its target (``storageclass_apply``, ``recreation_apply``), all writing through ``writer``.

Safety rules, enforced against the live cluster rather than the plan:

- before the first write, every object the plan touches is re-read and compared with what
  was planned (uid, generation, phase); any difference aborts with nothing written
  (``preflight``);
- each write is preceded by a fresh read, and deletes carry uid + resourceVersion
  preconditions, so a change made in between makes the server refuse the delete;
- a claim that is Bound or has a volume bound to it, and a pod that is not Pending, are never
  deleted: the step refuses and says why;
- once a StatefulSet has been deleted, any refusal or failure first creates it again (from
  the backup) before stopping, so the database never stays without its StatefulSet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from logos_doctor.cluster.connection import Connection
from logos_doctor.cluster.fetch import Fetcher, FetchOptions
from logos_doctor.config import Config
from logos_doctor.errors import DoctorError, FixError
from logos_doctor.fix.hook import CrashHook
from logos_doctor.fix.journal import FixRecord
from logos_doctor.fix.kube import Kube
from logos_doctor.fix.lock import FixLock
from logos_doctor.fix.observe import verify
from logos_doctor.fix.plan import Action, FixPlan, Outcome, Step
from logos_doctor.fix.preflight import preflight, save_backups
from logos_doctor.fix.recreation_apply import RecreationSteps
from logos_doctor.fix.storageclass_apply import create_storageclass, delete_storageclass
from logos_doctor.fix.waits import Waiter
from logos_doctor.fix.writer import Refused, Writer
from logos_doctor.runner import Report


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
        self.writer = Writer(self.kube, self.hook, record, dry_run)
        self.recreation = RecreationSteps(self.writer, plan, self.waiter, say)
        self.done: set[str] = set()

    # -- the run -------------------------------------------------------------------------------

    def run(self, *, resumed: bool = False) -> RunResult:
        """Apply every step not yet done; raise ``FixError`` when stopped for safety."""
        result = RunResult()
        if self.record is not None and resumed:
            self.done = self.record.done_steps()
        if not resumed:
            try:
                preflight(self.plan, self.writer)
            except Refused as exc:
                self._journal("aborted", detail=exc.message)
                raise
        if not self.dry_run:
            saved = save_backups(self.plan, self.writer, self.done, self.recreation.body)
            if saved:
                self._journal("backup", files=saved)
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
            Action.CREATE_STORAGECLASS: partial(create_storageclass, self.writer),
            Action.DELETE_STORAGECLASS: partial(delete_storageclass, self.writer),
            Action.WAIT_CLAIMS: self._wait_claims,
            Action.DELETE_STATEFULSET: self.recreation.delete_statefulset,
            Action.DELETE_POD: self.recreation.delete_pod,
            Action.DELETE_CLAIM: self.recreation.delete_claim,
            Action.CREATE_STATEFULSET: self.recreation.create_statefulset,
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
                outcome = self.recreation.create_statefulset(step, restoring=True)
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
