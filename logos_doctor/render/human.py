"""Human output: a rich tree per broken component in a terminal, plain text when piped.

The first screen must show the root cause.  Findings are grouped by the component they hang
from (their parent workload, else the object itself), worst first; a finding explained by
another one says "because: ..." and points at it instead of standing as a separate mystery.
Piped output (or ``NO_COLOR``) is a plain ``tabulate`` table that greps well.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from tabulate import tabulate

from logos_doctor.finding import Finding, FindingKey, Severity
from logos_doctor.objects import ObjectRef
from logos_doctor.render.text import clean
from logos_doctor.runner import Report, finding_order, root_causes

STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _component(f: Finding) -> ObjectRef:
    return f.parent or f.resource


def groups(findings: Iterable[Finding]) -> list[tuple[ObjectRef, list[Finding]]]:
    """Findings grouped by component, worst component first, root causes first within."""
    by: defaultdict[ObjectRef, list[Finding]] = defaultdict(list)
    for f in findings:
        comp = _component(f)
        by[ObjectRef(comp.kind, comp.namespace, comp.name)].append(f)
    ordered = []
    for comp, items in by.items():
        items.sort(key=lambda f: (bool(f.caused_by), finding_order(f)))
        ordered.append((comp, items))
    ordered.sort(key=lambda g: (-max(f.severity for f in g[1]), str(g[0])))
    return ordered


def _header(report: Report) -> str:
    state = report.state
    where = state.cluster.context or state.cluster.server or "snapshot"
    parts = [f"cluster {where}"]
    if state.cluster.version:
        parts.append(state.cluster.version)
    parts.append(state.scope.describe())
    parts.append(state.now.strftime("%Y-%m-%d %H:%M:%SZ"))
    return " · ".join(clean(p, 120) for p in parts)


def _summary_line(report: Report) -> str:
    counts = report.counts()
    skipped = [r for r in report.results if r.status == "skipped"]
    errors = [r for r in report.results if r.status == "error"]
    text = (
        f"{counts['critical']} critical, {counts['warning']} warning, {counts['info']} info "
        f"from {len(report.results)} checks"
    )
    if skipped:
        text += f"; {len(skipped)} skipped"
    if errors:
        text += f"; {len(errors)} failed"
    return text


def render_rich(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Print the report as rich trees to ``console``."""
    console.print(Text(_header(report), style="dim"))
    shown = [f for f in report.findings if verbose or f.severity > Severity.INFO]
    hidden = len(report.findings) - len(shown)
    if not shown:
        console.print(Text("No problems found.", style="bold green"))
    roots = grouped_roots(shown)
    if roots:
        console.print(Text("Root causes, fix these first:", style="bold"))
        for root in roots[:ROOTS_SHOWN]:
            console.print(_root_text(report, root))
        if len(roots) > ROOTS_SHOWN:
            console.print(Text(f"  … and {len(roots) - ROOTS_SHOWN} more below", style="dim"))
        console.print(Text("Details by component:", style="bold"))
    for comp, items in groups(shown):
        worst = max(f.severity for f in items)
        tree = Tree(Text.assemble((f"{worst.label.upper():9}", STYLE[worst]), clean(comp)))
        for f in items:
            branch = tree.add(_finding_text(f))
            for key in f.caused_by:
                branch.add(
                    Text(
                        f"because: {key.check}/{key.cause} on {clean(key.resource)}",
                        style="magenta",
                    )
                )
            for line in f.evidence[: 4 if verbose else 2]:
                branch.add(Text(clean(line), style="dim"))
            tail = Text()
            if f.remediation:
                tail.append(clean(f.remediation, 300))
            if f.fix:
                tail.append(f"  fix: {f.fix}", style="green")
            tail.append(f"  runbook: {_runbook(report, f)}", style="blue")
            branch.add(tail)
        console.print(tree)
    bad = [r for r in report.results if r.status in ("skipped", "error")]
    if bad:
        table = Table(show_header=False, box=None, pad_edge=False)
        for r in bad:
            table.add_row(Text(r.status, style="yellow"), Text(r.id), Text(clean(r.detail)))
        console.print(Group(Text("Checks that did not run fully:", style="yellow"), table))
    note = f" ({hidden} info finding(s) hidden; -v shows them)" if hidden else ""
    console.print(Text(_summary_line(report) + note, style="bold"))


ROOTS_SHOWN = 8


def _explains(n: int) -> str:
    return f" (explains {n} other finding{'s' if n != 1 else ''})" if n else ""


@dataclass(frozen=True)
class RootCause:
    """Root-cause findings of one kind on one component: the same image missing on three
    pods of logos-chat is one problem to fix, said once."""

    first: Finding
    count: int
    explains: int

    def where(self) -> str:
        """The resource, or ``N Pods of Deployment/...`` when several share the cause."""
        f = self.first
        if self.count > 1 and f.parent is not None:
            return f"{self.count} {f.resource.kind}s of {clean(f.parent)}"
        return clean(f.resource)


def grouped_roots(findings: Iterable[Finding]) -> list[RootCause]:
    """``root_causes`` merged by (check, cause, parent), most explaining first."""
    merged: dict[tuple[str, str, ObjectRef], list[tuple[Finding, frozenset[FindingKey]]]] = {}
    for f, keys in root_causes(list(findings)):
        merged.setdefault((f.check, f.cause, f.parent or f.resource), []).append((f, keys))
    out = [
        RootCause(items[0][0], len(items), len(frozenset().union(*(k for _, k in items))))
        for items in merged.values()
    ]
    out.sort(key=lambda r: (-r.first.severity, -r.explains, finding_order(r.first)))
    return out


def _root_text(report: Report, root: RootCause) -> Text:
    f = root.first
    text = Text("  ")
    text.append(f"{f.severity.label.upper():9}", STYLE[f.severity])
    text.append(f"{f.check}/{f.cause} ", STYLE[f.severity])
    text.append(root.where(), "bold")
    text.append(_explains(root.explains), "magenta")
    text.append("\n           " + clean(f.message, 300))
    if f.fix:
        text.append(f"\n           fix: {f.fix}", "green")
    text.append(f"\n           runbook: {_runbook(report, f)}", "blue")
    return text


def _finding_text(f: Finding) -> Text:
    text = Text.assemble(
        (f"{f.check}/{f.cause}", STYLE[f.severity]),
        " ",
        (clean(f.resource), "bold"),
    )
    text.append("\n" + clean(f.message, 500))
    return text


def _runbook(report: Report, f: Finding) -> str:
    check = report.check(f.check)
    return f"{check.runbook if check else f.check}#{f.cause}"


def render_plain(report: Report, *, verbose: bool = False) -> str:
    """The report as plain text: a header, one table row per finding, a summary."""
    rows = []
    for f in report.findings:
        if f.severity == Severity.INFO and not verbose:
            continue
        because = "; ".join(f"{k.check}/{k.cause} {k.resource}" for k in f.caused_by)
        rows.append(
            [
                f.severity.label.upper(),
                f"{f.check}/{f.cause}",
                clean(f.resource, 120),
                clean(f.parent, 120) if f.parent else "-",
                clean(f.message, 300),
                clean(because, 200) or "-",
                _runbook(report, f),
            ]
        )
    out = [_header(report)]
    roots = grouped_roots(f for f in report.findings if verbose or f.severity > Severity.INFO)
    if roots:
        out.append("ROOT CAUSES (fix these first):")
        for root in roots:
            f = root.first
            fix = f"; fix: {f.fix}" if f.fix else ""
            out.append(
                f"  {f.severity.label.upper()} {f.check}/{f.cause} {root.where()}"
                f"{_explains(root.explains)}{fix}; runbook: {_runbook(report, f)}"
            )
        out.append("")
    if rows:
        out.append(
            tabulate(
                rows,
                headers=[
                    "SEVERITY",
                    "CHECK/CAUSE",
                    "RESOURCE",
                    "PARENT",
                    "MESSAGE",
                    "BECAUSE",
                    "RUNBOOK",
                ],
                tablefmt="plain",
            )
        )
    else:
        out.append("No problems found.")
    for r in report.results:
        if r.status in ("skipped", "error"):
            out.append(f"{r.status}: {r.id}: {clean(r.detail)}")
    out.append(_summary_line(report))
    return "\n".join(out)
