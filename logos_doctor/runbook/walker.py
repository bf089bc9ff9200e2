"""The step walker: shows every step filled in, asks before it runs, runs, records.

Diagnose steps run after one confirmation (or ``--yes``); each change step is asked for on
its own (y / n / s / q) unless ``--yes-changes``.  A diagnose step that fails is recorded and
the run goes on (what it could not find is often the diagnosis); a failing change step stops
the run.  The transcript is saved after every step.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from logos_doctor.runbook.document import Runbook
from logos_doctor.runbook.shell import execute, execute_on_terminal
from logos_doctor.runbook.step import Step
from logos_doctor.runbook.transcript import StepRecord, Transcript


class Walker:
    """Shows, confirms, runs and records the steps of one run."""

    def __init__(
        self,
        book: Runbook,
        record: Transcript,
        path: Path,
        env: Mapping[str, str],
        timeout: float,
        *,
        yes: bool,
        yes_changes: bool,
    ) -> None:
        self.book = book
        self.record = record
        self.path = path
        self.env = env
        self.timeout = timeout
        self.yes = yes
        self.yes_changes = yes_changes

    def save(self) -> None:
        """Write the transcript as it stands."""
        self.record.save(self.path)

    def finish(self, outcome: str) -> None:
        """Record how the run ended."""
        self.record.outcome = outcome
        self.record.finished = datetime.now(UTC)
        self.save()

    def walk(
        self,
        steps: Sequence[Step],
        values: Mapping[str, str],
        *,
        dry_run: bool,
        missing: Sequence[str] = (),
    ) -> int:
        """Run (or, dry, only show) the steps; the exit status of the run."""
        book, rec = self.book, self.record
        for number, step in enumerate(steps, 1):
            rec.steps.append(
                StepRecord(number, step.id, step.kind, step.section, step.show(values))
            )
        self.save()
        cause = f", cause {rec.cause}" if rec.cause else ""
        click.secho(f"Runbook {book.id}{cause}: {book.title}", bold=True)
        click.echo(f"Cluster context: {rec.context}" + (f" ({rec.server})" if rec.server else ""))
        for name, value in rec.params.items():
            click.echo(f"  {name} = {value}  ({rec.param_sources[name]})")
        for name in missing:
            click.echo(f"  {name} = {{{{{name}}}}}  (not known: {book.params[name].description})")
        if not steps:
            click.echo("This runbook section has no steps to run.")
            self.finish("nothing to run")
            return 0
        click.echo("")
        for item, step in zip(rec.steps, steps, strict=True):
            click.echo(f"{item.number}. {item.step_id} [{_kind_label(step)}]")
            for line in item.command.splitlines():
                click.echo(f"     {line}")
        if dry_run:
            for item in rec.steps:
                item.status = "dry-run"
            self.finish("dry run: no step was executed")
            if missing:
                flags = " ".join(f"--param {n}=VALUE" for n in missing)
                click.echo(f"\nTo run it, also give: {flags}")
            click.echo("\nDry run: nothing was executed.")
            return 0
        diagnose = sum(1 for s in steps if s.kind == "diagnose")
        changes = len(steps) - diagnose
        if diagnose and not self.yes:
            question = f"\nRun the {diagnose} diagnose step(s)" + (
                f" ({changes} change step(s) will each ask first)?" if changes else "?"
            )
            if not _confirm(question):
                for item in rec.steps:
                    item.status = "not run"
                self.finish("stopped by the operator before the first step")
                click.echo("Nothing was run.")
                return 0
        return self._steps(steps, values)

    def _steps(self, steps: Sequence[Step], values: Mapping[str, str]) -> int:
        rec = self.record
        total = len(rec.steps)
        failed: list[str] = []
        for pos, (item, step) in enumerate(zip(rec.steps, steps, strict=True)):
            click.echo("")
            click.secho(
                f"── step {item.number}/{total}: {item.step_id} [{_kind_label(step)}] ──",
                bold=True,
            )
            for n, line in enumerate(item.command.splitlines()):
                click.echo(f"{'$' if n == 0 else ' '} {line}")
            if item.kind == "change" and not self.yes_changes:
                answer = _ask_change()
                if answer == "skip":
                    item.status = "skipped"
                    self.save()
                    click.echo("skipped")
                    continue
                if answer in ("no", "quit"):
                    item.status = "refused" if answer == "no" else "quit"
                    for later in rec.steps[pos + 1 :]:
                        later.status = "not run"
                    verb = "refused" if answer == "no" else "quit at"
                    failures = f"; diagnose step(s) failed: {', '.join(failed)}" if failed else ""
                    self.finish(
                        f"stopped: the operator {verb} change step {item.step_id}{failures}"
                    )
                    click.echo(f"Stopped: change step {item.step_id} was not run.")
                    return 1 if failed else 0
            item.status = "running"
            self.save()
            env = {**self.env, **step.env(values)}
            attached = step.needs_terminal and sys.stdin.isatty() and sys.stdout.isatty()
            if not attached:
                # no terminal for the step: an editor (kubectl edit) fails at once, not hangs
                env.update(KUBE_EDITOR="false", EDITOR="false")
            try:
                if attached:
                    result = execute_on_terminal(step.script(values), env, self.timeout)
                else:
                    result = execute(
                        step.script(values), env, self.timeout, lambda ln: click.echo(f"  {ln}")
                    )
            except KeyboardInterrupt:
                item.status = "interrupted"
                self.finish(f"interrupted during step {item.step_id}")
                raise
            item.exit_code, item.output, item.seconds = (
                result.exit_code,
                result.lines,
                result.seconds,
            )
            code = result.exit_code
            if not result.timed_out and step.accepts(code):
                item.status = "ok" if code in step.expect else "failed (allowed to)"
                self.save()
                click.secho(f"exit {code} ({result.seconds:.1f}s)", fg="green")
                continue
            why = f"timed out after {self.timeout:.0f}s" if result.timed_out else "failed"
            item.status = "timed-out" if result.timed_out else "failed"
            if step.kind == "diagnose":
                failed.append(item.step_id)
                self.save()
                click.secho(
                    f"Diagnose step {item.step_id} {why} (exit {code}); recorded, going on.",
                    fg="yellow",
                )
                continue
            for later in rec.steps[pos + 1 :]:
                later.status = "not run"
            self.finish(f"stopped: change step {item.step_id} {why} (exit {code})")
            click.secho(
                f"Change step {item.step_id} {why} (exit {code}); the run stops here.",
                fg="red",
                bold=True,
            )
            return 1
        if failed:
            self.finish(f"completed; diagnose step(s) failed: {', '.join(failed)}")
            click.secho(f"\nAll steps done; failed diagnose step(s): {', '.join(failed)}.")
            return 1
        self.finish("completed: every step ran")
        click.secho("\nAll steps done.", bold=True)
        return 0


def _kind_label(step: Step) -> str:
    if step.may_fail:
        return f"{step.kind}, may fail"
    if step.expect != frozenset({0}):
        return f"{step.kind}, expects exit {','.join(map(str, sorted(step.expect)))}"
    return step.kind


def _confirm(question: str) -> bool:
    try:
        return bool(click.confirm(question, default=True))
    except click.exceptions.Abort:
        return False


_CHANGE_ANSWERS = {
    "y": "yes",
    "yes": "yes",
    "n": "no",
    "no": "no",
    "s": "skip",
    "skip": "skip",
    "q": "quit",
    "quit": "quit",
}


def _ask_change() -> str:
    """y / n / s / q, asked until one is given; end of input means quit."""
    while True:
        try:
            raw = click.prompt(
                "Run this change? y(es) / n(o, stop here) / s(kip it, go on) / q(uit)",
                default="",
                show_default=False,
            )
        except click.exceptions.Abort:
            return "quit"
        answer = _CHANGE_ANSWERS.get(str(raw).strip().lower())
        if answer:
            return answer
        click.echo("Please answer y, n, s or q.")
