"""Incident and machine formats: markdown (tickets), JUnit (CI), Prometheus text, multi-JSON.

All of them are views of the same ``Finding`` objects as the table and JSON outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from logos_doctor.config import Config
from logos_doctor.finding import Finding
from logos_doctor.render.json_out import VERSION, report_json
from logos_doctor.render.text import clean
from logos_doctor.render.view import build_view, evidence_lines, objects_line
from logos_doctor.runbook_links import runbook_url
from logos_doctor.runner import Report

if TYPE_CHECKING:
    from logos_doctor.outcome import Outcome


def multi_json(outcomes: Sequence[Outcome], config: Config) -> dict[str, Any]:
    """Several clusters: ``{"version", "clusters": [...], "summary"}``, each entry the single
    cluster object (with ``error`` set where the cluster could not be checked)."""
    clusters = []
    summary = {"critical": 0, "warning": 0, "info": 0}
    for out in outcomes:
        if out.report:
            doc = report_json(out.report, config)
            doc["error"] = None
            for key, n in doc["summary"].items():
                summary[key] += n
        else:
            doc = {
                "cluster": {"context": out.target.context},
                "error": str(out.error),
                "checks": [],
                "findings": [],
            }
        clusters.append(doc)
    return {"version": VERSION, "clusters": clusters, "summary": summary}


def render_other(
    fmt: str, outcomes: Sequence[Outcome], config: Config, *, verbose: bool = False
) -> str:
    """markdown, junit or prometheus text for one or more clusters."""
    reports = [o.report for o in outcomes if o.report]
    if fmt == "markdown":
        return "\n\n".join(markdown(r, config, verbose=verbose) for r in reports)
    if fmt == "junit":
        return junit(reports)
    return prometheus(reports)


def _md(text: object) -> str:
    return clean(text, 500).replace("|", "\\|").replace("<", "&lt;").replace("`", "'")


def markdown(report: Report, config: Config, *, verbose: bool = False) -> str:
    """An incident-ticket summary: counts, the root causes, then the details by component."""
    view = build_view(report, verbose=verbose)
    state = report.state
    counts = view.counts

    def url(f: Finding) -> str:
        check = report.check(f.check)
        return runbook_url(check.runbook if check else f.check, f.cause, config.runbook_base_url)

    lines = [
        f"## logos-doctor report: {_md(state.cluster.context or state.cluster.server or '-')}",
        "",
        f"- Time: {state.now.isoformat()}",
        f"- Scope: {state.scope.describe()}",
        f"- Summary: **{counts['critical']} critical**, {counts['warning']} warning, "
        f"{counts['info']} info; {len(view.roots)} root cause(s)",
        "",
    ]
    if view.roots:
        lines += ["### Root causes (fix these first)", ""]
        for group in view.roots:
            f = group.first
            lines.append(
                f"1. **{f.severity.label.upper()}** `{f.check}/{f.cause}` on "
                f"{_md(objects_line(group, verbose))}: {_md(f.message)} ([runbook]({url(f)}))"
            )
            if f.fix:
                lines.append(f"   - fix: `{f.fix}`")
        lines.append("")
    for comp, entries in view.components:
        lines.append(f"### {_md(comp)}")
        lines.append("")
        for entry in entries:
            f = entry.first
            lines.append(
                f"- **{f.severity.label.upper()}** `{f.check}/{f.cause}` on {_md(entry.where())}: "
                f"{_md(f.message)} ([runbook]({url(f)}))"
            )
            if entry.names():
                lines.append(f"  - objects: {_md(entry.names())}")
            for key in f.caused_by:
                lines.append(f"  - because: `{key.check}/{key.cause}` on {_md(key.resource)}")
            for ev in evidence_lines(entry, verbose):
                lines.append(f"  - evidence: {_md(ev)}")
            if f.fix:
                lines.append(f"  - fix: `{f.fix}`")
        lines.append("")
    skipped = [r for r in report.results if r.status in ("skipped", "error")]
    if skipped:
        lines.append("### Checks that did not run fully")
        lines.extend(f"- {r.id}: {r.status}: {_md(r.detail)}" for r in skipped)
    return "\n".join(lines).rstrip() + "\n"


def junit(reports: Sequence[Report]) -> str:
    """Each check a test case; its findings at warning or above are the failure."""
    suites = []
    for report in reports:
        name = report.state.cluster.context or "cluster"
        cases = []
        failures = errors = skipped = 0
        for result in report.results:
            bad = [
                f for f in report.findings if f.check == result.id and f.severity.label != "info"
            ]
            body = ""
            if result.status == "error":
                errors += 1
                body = f"<error message={quoteattr(clean(result.detail))}/>"
            elif result.status == "skipped":
                skipped += 1
                body = f"<skipped message={quoteattr(clean(result.detail))}/>"
            elif bad:
                failures += 1
                text = "\n".join(
                    f"{f.severity.label} {f.cause} {clean(f.resource)}: {clean(f.message)}"
                    for f in bad
                )
                first = f"{bad[0].cause}: {clean(bad[0].message, 200)}"
                body = f"<failure message={quoteattr(first)}>{escape(text)}</failure>"
            cases.append(
                f"    <testcase classname={quoteattr('logos-doctor.' + name)} "
                f'name={quoteattr(result.id)} time="{result.seconds:.4f}">{body}</testcase>'
            )
        suites.append(
            f'  <testsuite name={quoteattr("logos-doctor " + name)} tests="{len(cases)}" '
            f'failures="{failures}" errors="{errors}" skipped="{skipped}">\n'
            + "\n".join(cases)
            + "\n  </testsuite>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n'
        + "\n".join(suites)
        + "\n</testsuites>"
    )


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus(reports: Sequence[Report]) -> str:
    """Text exposition for the node-exporter textfile collector."""
    lines = [
        "# HELP logos_doctor_findings Findings by check, cause, severity and namespace.",
        "# TYPE logos_doctor_findings gauge",
    ]
    for report in reports:
        cluster = _label(report.state.cluster.context or "")
        counts: dict[tuple[str, str, str, str], int] = {}
        for f in report.findings:
            key = (f.check, f.cause, f.severity.label, f.resource.namespace or "")
            counts[key] = counts.get(key, 0) + 1
        for (check, cause, sev, ns), n in sorted(counts.items()):
            lines.append(
                f'logos_doctor_findings{{cluster="{cluster}",check="{_label(check)}",'
                f'cause="{_label(cause)}",severity="{sev}",namespace="{_label(ns)}"}} {n}'
            )
    lines += [
        "# HELP logos_doctor_check_up Whether the check ran (1) or was skipped/failed (0).",
        "# TYPE logos_doctor_check_up gauge",
    ]
    for report in reports:
        cluster = _label(report.state.cluster.context or "")
        for r in report.results:
            up = 1 if r.status in ("ok", "findings") else 0
            lines.append(f'logos_doctor_check_up{{cluster="{cluster}",check="{r.id}"}} {up}')
    lines += [
        "# HELP logos_doctor_last_run_timestamp_seconds When the state was taken.",
        "# TYPE logos_doctor_last_run_timestamp_seconds gauge",
    ]
    for report in reports:
        cluster = _label(report.state.cluster.context or "")
        lines.append(
            f'logos_doctor_last_run_timestamp_seconds{{cluster="{cluster}"}} '
            f"{report.state.now.timestamp():.0f}"
        )
    return "\n".join(lines) + "\n"
