"""After the run: an ignore file's silencing, then the comparison with a baseline.

``known.py`` (what an ignore file says and which findings it silences) and ``baseline.py``
(what a previous run had and how findings compare with it) are pure over findings and know
nothing of a ``Report``; this module is where their results are put on each report, in that
order, so that a finding silenced now is neither new nor gone.  Keeping the two steps here
keeps ``runner.py`` (which defines ``Report``) and those two modules free of each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from logos_doctor.baseline import Baseline, Previous, compare, ident, load_baseline
from logos_doctor.finding import Finding, Severity
from logos_doctor.known import IgnoreFile, Known, silence, unknown_patterns
from logos_doctor.outcome import Outcome
from logos_doctor.registry import default_registry
from logos_doctor.runner import Report


def apply_known(
    report: Report,
    ignore: IgnoreFile,
    today: date,
    catalog: Mapping[str, Iterable[str]] | None = None,
) -> Report:
    """``report`` with the ignore file's silenced findings taken out and recorded;
    ``catalog`` (check id -> cause ids, every installed check) names the entries that
    match no check or cause."""
    kept, silenced, expired = silence(report.findings, ignore.entries, today)
    unknown = tuple(unknown_patterns(ignore, catalog)) if catalog is not None else ()
    known = Known(ignore.path, tuple(silenced), tuple(expired), unknown)
    return replace(report, findings=tuple(kept), known=known)


def installed_causes() -> dict[str, list[str]]:
    """Every installed check id and its cause ids."""
    return {c.id: list(c.cause_table) for c in default_registry()}


def apply_baseline(report: Report, baseline: Baseline) -> Report:
    """``report`` with its comparison to ``baseline``."""
    quiet = [ident(s.finding) for s in report.known.silenced] if report.known else []
    return replace(report, baseline=compare(report.findings, baseline, quiet))


def of_report(report: Report, source: str = "last refresh") -> Baseline:
    """A report as the baseline of the next one (``--watch``)."""
    quiet = (
        frozenset(ident(s.finding) for s in report.known.silenced) if report.known else frozenset()
    )
    return Baseline(source, tuple(Previous.of(f) for f in report.findings), quiet)


def new_findings(report: Report) -> list[Finding]:
    """The findings of warning or worse that the baseline did not have."""
    comp = report.baseline
    if comp is None:
        return []
    return [f for f in report.findings if f.severity >= Severity.WARNING and ident(f) in comp.new]


def annotate(
    outcomes: Sequence[Outcome],
    ignore: IgnoreFile | None,
    baseline_path: str | None,
    today: date,
) -> list[Outcome]:
    """Each cluster's report with the ignore file applied, then compared with the baseline
    (a multi-cluster baseline file gives each cluster its own entry)."""
    catalog = installed_causes() if ignore is not None else None
    out = []
    for o in outcomes:
        report = o.report
        if report is not None and ignore is not None:
            report = apply_known(report, ignore, today, catalog)
        if report is not None and baseline_path:
            previous = load_baseline(Path(baseline_path), report.state.cluster.context)
            report = apply_baseline(report, previous)
        out.append(replace(o, report=report))
    return out
