"""Text a person reads before and after a fix: the plan, before/after, past fixes.

The plan must be readable in ten seconds at 3 a.m.: what is wrong (one line per problem),
the numbered steps with the command one would type by hand, what is deliberately left alone
and why, and where the backups go.  Names come from the cluster, so they are passed through
``clean`` like every other renderer does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tabulate import tabulate

from logos_doctor.finding import Finding
from logos_doctor.fix.journal import FixSummary
from logos_doctor.fix.plan import Applicability, FixPlan
from logos_doctor.render.text import clean


def plan_text(plan: FixPlan, *, fix_dir: str, dry_run: bool = False) -> str:
    """The plan as shown before confirmation."""
    lines = []
    where = f"namespace {clean(plan.namespace, 80)}"
    if plan.problems:
        lines.append(f"Problems in {where}:")
        for p in plan.problems:
            lines.append(f"  ✗ {clean(p.message, 200)}  [{p.check}/{p.cause}]")
    else:
        lines.append(f"No problem for 'fix {plan.command}' in {where}.")
    if plan.steps:
        safety = (
            "safe to apply unattended"
            if plan.applicability is Applicability.SAFE
            else "UNSAFE: review it; --yes needs --unsafe"
        )
        mode = ", server-side dry run: nothing will change" if dry_run else ""
        lines.append("")
        lines.append(f"Plan ({len(plan.steps)} steps, {safety}{mode}):")
        for i, step in enumerate(plan.steps, 1):
            mark = "" if step.applicability is Applicability.SAFE else "  [unsafe]"
            lines.append(f"  {i}. {clean(step.description, 300)}{mark}")
            lines.append(f"       $ {clean(step.kubectl, 300)}")
    if plan.refusals:
        lines.append("")
        lines.append("Left alone:")
        for r in plan.refusals:
            lines.append(f"  - {r.resource.kind} {clean(r.resource.name, 120)}: {clean(r.reason)}")
    for note in plan.notes:
        lines.append(f"Note: {clean(note)}")
    if plan.steps and not dry_run:
        lines.append("")
        lines.append(f"Backups and journal: {fix_dir}/")
    return "\n".join(lines)


def before_after(plan: FixPlan, after: Sequence[Finding] | None) -> str:
    """The problems the plan started from, and what the checks say now."""
    lines = [f"Before: {_count(len(plan.problems))}"]
    lines += [f"  ✗ {clean(p.message, 200)}" for p in plan.problems]
    if after is None:
        lines.append("After:  not checked")
    elif not after:
        lines.append("After:  clean")
    else:
        lines.append(f"After:  {_count(len(after))}")
        lines += [f"  ✗ {clean(f.message, 200)}  [{f.check}/{f.cause}]" for f in after]
    return "\n".join(lines)


def _count(n: int) -> str:
    return "no problem" if n == 0 else f"{n} problem(s)"


def list_text(summaries: Iterable[FixSummary]) -> str:
    """``fix --list``: one row per past fix."""
    rows = [
        [
            s.id,
            clean(s.namespace, 63),
            s.command,
            s.state,
            f"{s.steps_done}/{s.steps_total}",
            clean(s.detail, 80),
        ]
        for s in summaries
    ]
    if not rows:
        return "no fixes recorded yet"
    headers = ["ID", "NAMESPACE", "COMMAND", "STATE", "STEPS", "DETAIL"]
    return tabulate(rows, headers=headers, tablefmt="plain")
