"""One view of a report, computed once, that every human-facing renderer only lays out.

Root causes grouped by cause, the details ordered by the root-cause list, identical findings
on pods of one workload collapsed into one entry, counts, and the evidence cuts: deciding
these in each renderer is how the tree once showed 2 of 4 pods, the markdown 3 and the JSON 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from logos_doctor.finding import Finding, FindingKey, Severity
from logos_doctor.objects import ObjectRef, age
from logos_doctor.render.text import clean
from logos_doctor.runner import Report, finding_order, root_causes

EVIDENCE_SHOWN = 2  # evidence lines per entry without -v
OBJECTS_SHOWN = 3  # objects named per root-cause group without -v


@dataclass(frozen=True)
class Entry:
    """A finding, or the same finding on several pods of one workload, said once."""

    first: Finding
    resources: tuple[ObjectRef, ...]

    @property
    def count(self) -> int:
        """How many objects this entry stands for."""
        return len(self.resources)

    def where(self) -> str:
        """``Pod/ns/name``, or ``3 Pods of Deployment/ns/name``."""
        f = self.first
        if self.count > 1 and f.parent is not None:
            return f"{self.count} {f.resource.kind}s of {clean(f.parent)}"
        if self.count > 1:
            return f"{self.count} {f.resource.kind}s"
        return clean(f.resource)

    def names(self) -> str:
        """The collapsed objects' names on one line (empty for a single object)."""
        return ", ".join(clean(r.name, 80) for r in self.resources) if self.count > 1 else ""


@dataclass(frozen=True)
class RootGroup:
    """Every root-cause entry of one check/cause: one line of the first screen."""

    entries: tuple[Entry, ...]
    explains: int

    @property
    def first(self) -> Finding:
        """The worst, most explaining finding of the group."""
        return self.entries[0].first

    @property
    def objects(self) -> int:
        """How many objects have this cause."""
        return sum(e.count for e in self.entries)


@dataclass(frozen=True)
class ReportView:
    """What a person is shown of a report."""

    roots: tuple[RootGroup, ...]
    components: tuple[tuple[ObjectRef, tuple[Entry, ...]], ...]
    counts: dict[str, int]
    hidden: int
    verbose: bool
    taken: datetime | None = field(default=None)

    @property
    def root_count(self) -> int:
        """Root-cause findings (objects), across groups."""
        return sum(g.objects for g in self.roots)


def build_view(report: Report, *, verbose: bool = False, offline: bool = False) -> ReportView:
    """The view of ``report``: info findings only with ``verbose``."""
    shown = [f for f in report.findings if verbose or f.severity > Severity.INFO]
    roots = root_causes(shown)
    rank: dict[FindingKey, int] = {}
    grouped: dict[tuple[str, str], list[tuple[Finding, frozenset[FindingKey]]]] = {}
    for f, reach in roots:
        grouped.setdefault((f.check, f.cause), []).append((f, reach))
    groups = []
    for items in grouped.values():
        entries = collapse([f for f, _ in items])
        explains = len(frozenset().union(*(reach for _, reach in items)))
        groups.append(RootGroup(tuple(entries), explains))
    groups.sort(key=lambda g: (-g.first.severity, -g.explains, finding_order(g.first)))
    for index, group in enumerate(groups):
        for f, reach in grouped[(group.first.check, group.first.cause)]:
            for key in (f.key, *reach):
                rank.setdefault(key, index)
    by_component: dict[ObjectRef, list[Finding]] = {}
    for f in shown:
        comp = f.parent or f.resource
        by_component.setdefault(ObjectRef(comp.kind, comp.namespace, comp.name), []).append(f)
    components = []
    for comp, members in by_component.items():
        members.sort(key=lambda f: (bool(f.caused_by), finding_order(f)))
        components.append((comp, tuple(collapse(members))))
    far = len(groups)
    components.sort(
        key=lambda c: (
            min(rank.get(e.first.key, far) for e in c[1]),
            -max(e.first.severity for e in c[1]),
            str(c[0]),
        )
    )
    counts = report.counts()
    return ReportView(
        roots=tuple(groups),
        components=tuple(components),
        counts=counts,
        hidden=len(report.findings) - len(shown),
        verbose=verbose,
        taken=report.state.now if offline else None,
    )


def collapse(findings: Sequence[Finding]) -> list[Entry]:
    """Merge findings of one cause on pods of one workload, keeping the first's order."""
    merged: dict[tuple[object, ...], list[Finding]] = {}
    for f in findings:
        if f.resource.kind == "Pod" and f.parent is not None:
            key: tuple[object, ...] = (f.check, f.cause, f.parent, f.severity, f.caused_by)
        else:
            key = ("one", f.key)
        merged.setdefault(key, []).append(f)
    return [Entry(items[0], tuple(f.resource for f in items)) for items in merged.values()]


def evidence_lines(entry: Entry, verbose: bool, width: int = 300) -> list[str]:
    """The evidence to show, and a last line saying how much was left out."""
    lines = list(entry.first.evidence)
    keep = lines if verbose else lines[:EVIDENCE_SHOWN]
    out = [clip(line, width) for line in keep]
    if len(lines) > len(keep):
        out.append(f"+{len(lines) - len(keep)} more (-v)")
    return out


def objects_line(group: RootGroup, verbose: bool) -> str:
    """``Pod/a, Pod/b, Pod/c +4 more (-v)``: the objects of a root-cause group."""
    names = [clean(r) for e in group.entries for r in e.resources]
    keep = names if verbose else names[:OBJECTS_SHOWN]
    more = f" +{len(names) - len(keep)} more (-v)" if len(names) > len(keep) else ""
    return ", ".join(keep) + more


def clip(text: object, limit: int) -> str:
    """``clean`` text cut at a word boundary before ``limit``, marked with an ellipsis."""
    value = clean(text, 100_000)
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def snapshot_note(view: ReportView, now: datetime) -> str:
    """``offline: snapshot taken 3h ago`` for a report read from a file, else empty."""
    if view.taken is None:
        return ""
    return f"offline: snapshot taken {age(view.taken, now)} ago"


def summary_line(report: Report, view: ReportView) -> str:
    """Counts by severity, the root causes among them, and the checks that did not run."""
    counts = view.counts
    skipped = [r for r in report.results if r.status == "skipped"]
    errors = [r for r in report.results if r.status == "error"]
    roots = len(view.roots)
    text = (
        f"{counts['critical']} critical, {counts['warning']} warning, {counts['info']} info "
        f"from {len(report.results)} checks"
    )
    if roots:
        text += f"; {roots} root cause{'s' if roots != 1 else ''}"
    if skipped:
        text += f"; {len(skipped)} skipped"
    if errors:
        text += f"; {len(errors)} failed"
    if view.hidden:
        text += f" ({view.hidden} info finding(s) hidden; -v shows them)"
    if report.known is not None and report.known.silenced:
        n = len(report.known.silenced)
        text += f"; {n} silenced by {report.known.path.name}" + ("" if view.verbose else " (-v)")
    if report.baseline is not None:
        text += f"; {report.baseline.summary()}"
    return text


def mark(report: Report, finding: Finding) -> str:
    """``[new] `` or ``[still] `` against a baseline (``--baseline``), else empty."""
    return f"[{report.baseline.mark(finding)}] " if report.baseline is not None else ""


def known_lines(report: Report, verbose: bool) -> list[str]:
    """Before the summary: findings gone since the baseline, the silenced ones (``-v``), and a
    warning per expired ignore entry."""
    out = [g.line() for g in report.baseline.gone] if report.baseline is not None else []
    if report.known is not None:
        out += report.known.lines() if verbose else []
        out += report.known.warnings()
    return out
